"""The test kit's runtime: the same ASGI app as ``ltxmock serve``, on uvicorn in a thread.

One process, one event loop on a background thread, a socket bound before the
loop starts (so a free port is known at once). Only the runtime differs from
``ltxmock serve``: no gunicorn, no worker processes.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from ltxmock.server.core.channel import HARD_LIMIT_FACTOR

from .asgi import AsgiMock
from .guard import DEFAULT_LIMITS, GuardedProtocol, GuardLimits

START_TIMEOUT = 10.0


class ThreadedServer:
    """``start()`` serves ``app`` on ``host:port`` (0: a free port) until ``stop()``."""

    def __init__(
        self,
        app: AsgiMock,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: GuardLimits = DEFAULT_LIMITS,
    ) -> None:
        self.app = app
        self.host = host
        self._socket = socket.create_server((host, port), family=_family(host))
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            app,
            http=GuardedProtocol.with_limits(limits),
            lifespan="on",
            log_level="warning",
            access_log=False,
            # uvicorn's default installs its own colour handlers on its loggers;
            # without one, warnings reach the root logger (pytest captures them).
            log_config=None,
            ws_max_size=app.config.ws_max_message_bytes * HARD_LIMIT_FACTOR,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._socket]},
            name="ltxmock-server",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ltxmock server thread did not start")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._socket.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
