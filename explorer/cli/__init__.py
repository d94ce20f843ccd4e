"""Every way in: the `stylegan-explorer` command (`main`), its subcommands, and the app launcher.

The top layer (see ARCHITECTURE.md): it may import everything, and nothing imports it.
"""

from explorer.cli.main import main

__all__ = ["main"]
