"""A real HTTP server on 127.0.0.1 for download tests: Range, If-Range, ETag, and ways to misbehave.

`FileServer` serves bytes from a dict (path -> body) on an ephemeral loopback port, answering
Range requests with 206 and honouring If-Range, and records every request it sees. Tests make
it fail on purpose: `cut_at[path] = n` closes the connection once the body reaches byte n (once),
`bytes_per_s[path]` trickles the body out, `content_type[path]` sets the type (e.g. text/html).
Nothing here ever talks to any address but 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAST_MODIFIED = "Mon, 04 Oct 2021 10:00:00 GMT"


@dataclass(frozen=True)
class SeenRequest:
    path: str
    range: str | None
    if_range: str | None


@dataclass
class FileServer:
    files: dict[str, bytes] = field(default_factory=dict)
    content_type: dict[str, str] = field(default_factory=dict)
    cut_at: dict[str, int] = field(default_factory=dict)
    bytes_per_s: dict[str, float] = field(default_factory=dict)
    seen: list[SeenRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="test-http", daemon=True)
        self._thread.start()

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def requests_for(self, path: str) -> list[SeenRequest]:
        return [r for r in self.seen if r.path == path]

    @staticmethod
    def etag(body: bytes) -> str:
        return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def _handler_for(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            path = self.path
            server.seen.append(SeenRequest(path, self.headers.get("Range"), self.headers.get("If-Range")))
            body = server.files.get(path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            tag = FileServer.etag(body)
            start, status = 0, 200
            wanted = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            if_range = self.headers.get("If-Range")
            if wanted is not None and (if_range is None or if_range in (tag, LAST_MODIFIED)):
                start = int(wanted.group(1))
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            self.send_response(status)
            self.send_header("Content-Type", server.content_type.get(path, "application/octet-stream"))
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("ETag", tag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            self._send_body(path, body, start)

        def _send_body(self, path: str, body: bytes, start: int) -> None:
            cut = server.cut_at.pop(path, None)
            end = len(body) if cut is None or cut <= start else cut
            rate = server.bytes_per_s.get(path)
            piece = max(int(rate / 20), 1) if rate else 64 * 1024
            try:
                for i in range(start, end, piece):
                    self.wfile.write(body[i:min(i + piece, end)])
                    self.wfile.flush()
                    if rate:
                        time.sleep(piece / rate)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client went away (a cancel)
            if end < len(body):  # drop the connection mid-file, as a flaky network does
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


def main() -> None:
    """`python -m tests.http_server FOLDER [--cut-at N] [--rate BYTES_PER_S]`: serve FOLDER's files
    on 127.0.0.1 to watch a download, a resume (--cut-at drops each file's first transfer at byte
    N) and a cache hit by hand. Ctrl+C stops it."""
    import argparse
    from pathlib import Path
    p = argparse.ArgumentParser(prog="python -m tests.http_server")
    p.add_argument("folder")
    p.add_argument("--cut-at", type=int)
    p.add_argument("--rate", type=float, help="trickle each file at this many bytes per second")
    args = p.parse_args()
    server = FileServer()
    for path in sorted(Path(args.folder).iterdir()):
        if path.is_file():
            key = "/" + path.name
            server.files[key] = path.read_bytes()
            if args.cut_at:
                server.cut_at[key] = args.cut_at
            if args.rate:
                server.bytes_per_s[key] = args.rate
            print(server.url(key), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    main()
