"""A guard that keeps a test process on this machine: no name lookup and no
connection beyond 127.0.0.1 / ::1 / ``localhost``, in any thread.

    with loopback_only() as guard:
        ...  # run the tests
    assert not guard.attempts

Each attempt is refused with ``NonLoopbackConnectionError`` (a
``ConnectionRefusedError``, so code that handles network errors, such as the
mock's delivery loop, goes on) and recorded. The pytest plugin's
``ltxmock_loopback_only`` option wraps a session in it and fails each test an
attempt happened in (docs/testing.md).

It patches ``socket.getaddrinfo``, ``socket.gethostbyname(_ex)`` and
``socket.socket.connect(_ex)`` in this process only: servers started as
subprocesses are outside it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, NoReturn

__all__ = [
    "MAX_KEPT",
    "Attempt",
    "LoopbackGuard",
    "NonLoopbackConnectionError",
    "is_loopback",
    "loopback_only",
]


# Attempts kept in the log (and in each ``expect()`` list): a client retrying for
# ever must not grow it without bound. Counting goes on beyond.
MAX_KEPT = 1000

# What the guard replaces while entered (and puts back on exit).
_PATCHED: tuple[tuple[object, str], ...] = (
    (socket, "getaddrinfo"),
    (socket, "gethostbyname"),
    (socket, "gethostbyname_ex"),
    (socket.socket, "connect"),
    (socket.socket, "connect_ex"),
)


class NonLoopbackConnectionError(ConnectionRefusedError):
    """A lookup of, or a connection to, a host other than this machine, refused."""


@dataclass(frozen=True)
class Attempt:
    """One refused attempt: what, to which host (and port), from which thread."""

    kind: Literal["lookup", "connect"]
    host: str
    port: int | None
    thread: str

    def __str__(self) -> str:
        where = self.host if self.port is None else f"{self.host}:{self.port}"
        what = "name lookup of" if self.kind == "lookup" else "connection to"
        return f"{what} {where} (thread {self.thread})"


def is_loopback(host: object) -> bool:
    """Whether ``host`` (a name or an address, str or bytes) is this machine."""
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:  # "fe80::1%eth0": the zone is no part of the address
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _port(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str | bytes) and value.isdigit():
        return int(value)
    return None


class LoopbackGuard:
    """Refuses and records non-loopback lookups and connections while entered.

    Thread-safe: the mock's delivery threads record into the same log as the test.
    Enter it once; nested guards restore what each one replaced.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: deque[Attempt] = deque(maxlen=MAX_KEPT)
        self._count = 0  # attempts recorded in the log, including those no longer kept
        self._expecting: list[list[Attempt]] = []
        self._lifted = 0
        self._saved: dict[tuple[object, str], Any] | None = None

    @property
    def attempts(self) -> list[Attempt]:
        """The attempts refused so far (the last ``MAX_KEPT``), except those
        ``expect()`` took."""
        with self._lock:
            return list(self._attempts)

    @property
    def count(self) -> int:
        """How many attempts ``attempts`` has had in all (a mark for ``since``)."""
        with self._lock:
            return self._count

    def since(self, mark: int) -> list[Attempt]:
        """The attempts recorded after ``mark`` (an earlier ``count``), those still kept."""
        with self._lock:
            first_kept = self._count - len(self._attempts)
            return list(self._attempts)[max(mark - first_kept, 0) :]

    @contextmanager
    def expect(self) -> Iterator[list[Attempt]]:
        """Attempts made while inside go to the yielded list, not to ``attempts``:
        for a test that provokes one on purpose to see it refused."""
        caught: list[Attempt] = []
        with self._lock:
            self._expecting.append(caught)
        try:
            yield caught
        finally:
            with self._lock:
                self._expecting.remove(caught)

    @contextmanager
    def lifted(self) -> Iterator[None]:
        """Real lookups and connections while inside (in every thread)."""
        with self._lock:
            self._lifted += 1
        try:
            yield
        finally:
            with self._lock:
                self._lifted -= 1

    def _refuse(self, kind: Literal["lookup", "connect"], host: str, port: int | None) -> NoReturn:
        attempt = Attempt(kind, host, port, threading.current_thread().name)
        with self._lock:
            if self._expecting:
                caught = self._expecting[-1]
                if len(caught) < MAX_KEPT:
                    caught.append(attempt)
            else:
                self._attempts.append(attempt)
                self._count += 1
        raise NonLoopbackConnectionError(f"{attempt}: not loopback (ltxmock loopback guard)")

    def _check_host(self, host: object, port: object) -> None:
        if host is None or is_loopback(host):
            return
        with self._lock:
            if self._lifted:
                return
        self._refuse("lookup", str(host), _port(port))

    def _check_address(self, address: object) -> None:
        # AF_UNIX addresses are paths (str/bytes): local by nature.
        if isinstance(address, tuple) and address and not is_loopback(address[0]):
            with self._lock:
                if self._lifted:
                    return
            port = address[1] if len(address) > 1 else None
            self._refuse("connect", str(address[0]), _port(port))

    def __enter__(self) -> LoopbackGuard:
        if self._saved is not None:
            raise RuntimeError("this LoopbackGuard is already entered")
        saved = {(owner, name): getattr(owner, name) for owner, name in _PATCHED}
        real_getaddrinfo = saved[socket, "getaddrinfo"]
        real_byname = saved[socket, "gethostbyname"]
        real_byname_ex = saved[socket, "gethostbyname_ex"]
        real_connect = saved[socket.socket, "connect"]
        real_connect_ex = saved[socket.socket, "connect_ex"]

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            self._check_host(host, port)
            return real_getaddrinfo(host, port, *args, **kwargs)

        def gethostbyname(host: str) -> Any:
            self._check_host(host, None)
            return real_byname(host)

        def gethostbyname_ex(host: str) -> Any:
            self._check_host(host, None)
            return real_byname_ex(host)

        def connect(sock: socket.socket, address: Any) -> Any:
            self._check_address(address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> Any:
            self._check_address(address)
            return real_connect_ex(sock, address)

        replacements: dict[tuple[object, str], Callable[..., Any]] = {
            (socket, "getaddrinfo"): getaddrinfo,
            (socket, "gethostbyname"): gethostbyname,
            (socket, "gethostbyname_ex"): gethostbyname_ex,
            (socket.socket, "connect"): connect,
            (socket.socket, "connect_ex"): connect_ex,
        }
        self._saved = saved
        for (owner, name), replacement in replacements.items():
            setattr(owner, name, replacement)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        saved, self._saved = self._saved, None
        for (owner, name), original in (saved or {}).items():
            setattr(owner, name, original)


def loopback_only() -> LoopbackGuard:
    """A new guard; enter it (``with loopback_only() as guard:``) to turn it on."""
    return LoopbackGuard()
