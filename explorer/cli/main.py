"""The `stylegan-explorer` command: the app by default, plus headless subcommands.

Each subcommand lives in its own module of `explorer.cli` with `add_parser(subparsers)` and
`run(args) -> int`; `COMMAND_MODULES` below is the one place that lists them.
User errors print one line and exit 1 (2 for usage errors); they never print a traceback.
Ctrl-C exits 130 and SIGTERM 143, after the atomic writes in flight have cleaned up.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import select
import stat
import sys
from pathlib import Path
from typing import Sequence

from explorer.errors import ExplorerError
from explorer.interrupts import EXIT_BROKEN_PIPE, EXIT_TERMINATED, Terminated, sigterm_raises

# subcommand -> the module that parses and runs it (imported only when needed). A new subcommand
# is a module with add_parser/run and one line here; the order here is the order in --help.
COMMAND_MODULES = {
    "info": "explorer.cli.info",
    "generate": "explorer.cli.generate",
    "directions": "explorer.cli.directions",
    "project": "explorer.cli.project",
    "train": "explorer.cli.train",
    "dataset": "explorer.cli.train",
    "export": "explorer.cli.export",
    "models": "explorer.cli.download",
    "download": "explorer.cli.download",
    "diagnose": "explorer.cli.diagnose",
    "video": "explorer.cli.video",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stylegan-explorer",
        description="Explore StyleGAN2/StyleGAN3 generators. Without a subcommand it opens the app; "
                    "`stylegan-explorer CKPT --help` lists the app's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in dict.fromkeys(COMMAND_MODULES.values()):
        importlib.import_module(module).add_parser(sub)
    return parser


def misspelled_command(word: str) -> str | None:
    """The command `word` looks like a typo of, unless it is a file, URL, option or model name."""
    if word.startswith("-") or any(c in word for c in "/.:") or Path(word).exists():
        return None
    close = difflib.get_close_matches(word, COMMAND_MODULES, n=1, cutoff=0.75)
    return close[0] if close else None


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reading end has closed (`| head` has read enough)."""
    try:
        fd = sys.stdout.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), or stdout is no file
        return False


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMAND_MODULES and argv[0] not in ("-h", "--help")):
        typo = misspelled_command(argv[0]) if argv else None
        if typo:
            print(f"stylegan-explorer: error: no command {argv[0]!r}; did you mean {typo!r}? (without a "
                  "command the app opens: `stylegan-explorer [CHECKPOINT]`)", file=sys.stderr)
            return 2
        from explorer.cli.app_launcher import run_app_command
        return run_app_command(argv)
    args = build_parser().parse_args(argv)
    try:
        with sigterm_raises():
            code = importlib.import_module(COMMAND_MODULES[args.command]).run(args)
            sys.stdout.flush()  # a reader that went away shows here, not as a traceback at exit
            return code
    except BrokenPipeError as e:
        if not stdout_reader_gone():  # a pipe to a worker process, say: a real failure
            print(f"error: {e}", file=sys.stderr)
            return 1
        # `stylegan-explorer info CKPT | head`: stop quietly, as other tools do (and keep the
        # interpreter's final flush from failing on the same pipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except ExplorerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED


if __name__ == "__main__":
    sys.exit(main())
