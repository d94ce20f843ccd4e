"""One HTTP(S) transfer into a partial file, resumed with a Range request when part of it is there.

requests does the HTTP (redirects to signed CDN addresses, proxies from the environment, TLS,
connection and timeout errors as types); this module adds what a big-file download needs on top:
Range + If-Range so a resume never mixes two versions of a file, a size check against what the
server announced, and one-line errors saying what to do. Nothing here looks at what the bytes are.
"""

from __future__ import annotations

import errno
import os
import re
import socket
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

import requests
import urllib3

from explorer.download.cache import Validators
from explorer.download.progress import OnProgress, RateMeter, format_bytes
from explorer.errors import DownloadError

CHUNK_BYTES = 256 * 1024
CONNECT_TIMEOUT_S = 15.0
READ_TIMEOUT_S = 60.0  # a server silent this long has stalled; the partial file stays for a resume
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _user_agent() -> str:
    from explorer import __version__
    return f"stylegan-explorer/{__version__} python-requests/{requests.__version__}"


def transfer(url: str, partial: Path, validators: Validators, on_progress: OnProgress | None = None,
             on_start: Callable[[Validators], None] | None = None) -> None:
    """Bring `partial` to the complete body of `url`.

    `validators` are those saved when `partial` was started (they guard the resume); `on_start`
    gets the server's, before the first byte is written, to be saved for the next resume. Raises
    DownloadError with one line; whatever arrived stays in `partial` for the next try.
    """
    have = partial.stat().st_size if partial.exists() else 0
    headers = {"User-Agent": _user_agent(), "Accept-Encoding": "identity"}
    if have > 0:
        headers["Range"] = f"bytes={have}-"
        if validators.if_range:
            headers["If-Range"] = validators.if_range
    try:
        response = requests.get(url, headers=headers, stream=True,
                                timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
    except requests.RequestException as e:
        raise DownloadError(_connect_error(url, e)) from e
    with response:
        start, total = _start_and_total(url, response, have, validators)
        if on_start is not None:
            on_start(Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"), total))
        if start != total:  # equal: the partial file already held every byte
            _write_body(url, response, partial, start, total, on_progress)


def _start_and_total(url: str, response: requests.Response, have: int,
                     validators: Validators) -> tuple[int, int | None]:
    """Where the body starts in the file (0: from scratch, `have`: a resume) and the file's size."""
    code = response.status_code
    if code == 206:
        m = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if m is None or int(m.group(1)) != have:
            raise DownloadError(f"{_host(url)} answered the resume request with a wrong range "
                                f"({response.headers.get('Content-Range')!r}); delete the partial download "
                                "and try again")
        return have, None if m.group(3) == "*" else int(m.group(3))
    if code == 416 and have > 0:
        m = re.fullmatch(r"bytes\s+\*/(\d+)", response.headers.get("Content-Range", "").strip())
        if m is not None and int(m.group(1)) == have and validators.total == have:
            return have, have  # nothing left to fetch
        raise DownloadError(f"{_host(url)} refused to resume the download (HTTP 416); delete the "
                            "partial download and try again")
    if code == 200:
        length = response.headers.get("Content-Length")
        return 0, int(length) if length and length.isdigit() else None
    reason = response.reason or ""
    hint = {401: "it needs a login", 403: "access is forbidden", 404: "check the address",
            410: "the file was removed", 429: "too many requests, try later"}.get(
        code, "the server failed, try later" if code >= 500 else "")
    raise DownloadError(f"{url} answered HTTP {code}{' ' + reason if reason else ''}"
                        + (f": {hint}" if hint else ""))


def _write_body(url: str, response: requests.Response, partial: Path, start: int,
                total: int | None, on_progress: OnProgress | None) -> None:
    done = start
    meter = RateMeter(start, total)
    try:
        with open(partial, "r+b" if start > 0 else "wb") as f:
            if start > 0:
                f.seek(start)
                f.truncate()
            for chunk in _chunks(response):
                f.write(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(meter.update(done))
            f.flush()
            os.fsync(f.fileno())
    except (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as e:
        raise DownloadError(_dropped(url, done, total)) from e  # before OSError: these are OSErrors too
    except OSError as e:
        if e.errno == errno.ENOSPC:
            need = f" ({format_bytes(total - done)} more needed)" if total else ""
            raise DownloadError(f"the disk is full while downloading to {partial.parent}{need}; "
                                "free some space and try again to resume") from e
        raise DownloadError(f"could not write {partial}: {e.strerror or e}") from e
    if total is not None and done != total:
        raise DownloadError(_dropped(url, done, total))


def _chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives: read1 returns whatever the socket has (up to CHUNK_BYTES), so a slow
    server still gives frequent progress reports, and with them prompt cancellation."""
    raw = response.raw
    read = getattr(raw, "read1", None) or (lambda n: raw.read(min(n, 64 * 1024)))  # urllib3 < 2.3: no read1
    while True:
        chunk = read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


def _dropped(url: str, done: int, total: int | None) -> str:
    of = f" of {format_bytes(total)}" if total else ""
    return (f"the connection to {_host(url)} dropped after {format_bytes(done)}{of}; "
            "try again to resume where it stopped")


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and everything it wraps (requests -> urllib3 -> socket errors), depth first."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for inner in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args):
            if isinstance(inner, BaseException):
                stack.append(inner)


def _connect_error(url: str, exc: requests.RequestException) -> str:
    host = _host(url)
    causes = list(_causes(exc))
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return f"not a download address: {url}"
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in causes):
        return (f"could not look up {urlsplit(url).hostname}: no network, or the name is wrong "
                "(models already downloaded still open offline)")
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"{host} refused the connection: is the address right, and the server up?"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"secure connection to {host} failed (certificate or TLS problem)"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"{host} did not answer within {CONNECT_TIMEOUT_S:.0f} s: no network, or the server is down"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"{url} redirects in a loop"
    root = causes[-1]
    detail = str(root).strip().splitlines()[0] if str(root).strip() else type(root).__name__
    return f"could not connect to {host}: {detail}"
