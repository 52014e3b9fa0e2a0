"""A loopback HTTP receiver for webhooks and uploads: it records every request and
answers the statuses it is given, in turn (then 200). Listens on 127.0.0.1 only."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    target: str  # path and query exactly as sent
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server that records requests and answers ``statuses`` in turn (then 200)."""

    def __init__(self, statuses: list[int] | None = None, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.statuses = list(statuses or [])
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                with outer.lock:
                    outer.requests.append(
                        Received(self.command, self.path, dict(self.headers), body)
                    )
                    status = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, count: int, timeout: float = 60.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"{len(self.requests)}/{count} requests arrived"
            time.sleep(0.02)
        return list(self.requests)
