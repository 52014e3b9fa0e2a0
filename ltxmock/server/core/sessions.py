"""WebSocket sessions: who is connected, and what could not be delivered.

A session is named by the ``connectionSessionUUID`` the server hands out on
``authentication``. It outlives its socket: a frame that cannot be sent
because the socket is gone waits in the session's buffer, and a client that
re-authenticates with that UUID within the resume window gets it (the
documented resume behaviour of Runware's WebSocket API).

The store lives in memory, one per process: with several gunicorn workers a
reconnect that lands on another worker finds no buffer (the session UUID is
still echoed). The task state itself is in the shared task store, so only
frames that were in flight at the moment of the drop are affected.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from .auth import fingerprint

__all__ = ["Outlet", "Session", "SessionStore"]


class Outlet(Protocol):
    """One live socket, as far as sessions are concerned."""

    def send(self, frame: str) -> bool:
        """Send ``frame``; False when the socket is gone (the frame was not sent)."""
        ...


@dataclass
class Session:
    uuid: str
    owner: str  # keyed fingerprint of the API key that opened it: only that key resumes it
    outlet: Outlet | None = None
    # Frames that could not be sent, with the monotonic time they were parked.
    pending: deque[tuple[float, str]] = field(default_factory=deque)
    detached_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class SessionStore:
    """Every session of this process, keyed by ``connectionSessionUUID``."""

    def __init__(
        self,
        resume_window: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        secret: bytes | None = None,
    ) -> None:
        self.resume_window = resume_window
        self._clock = clock
        # Sessions never leave this process, so neither does the key of their
        # owners' fingerprints: a fresh random one unless given.
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_uuid: str) -> Session | None:
        with self._lock:
            return self._sessions.get(session_uuid)

    def attach(
        self, api_key: str, outlet: Outlet, requested: str | None = None
    ) -> tuple[Session, bool]:
        """The session for a successful ``authentication``, now fed by ``outlet``.

        ``requested`` is the ``connectionSessionUUID`` the client sent back. It is
        kept (the SDKs expect it echoed) unless it is not a UUID or belongs to
        another API key. Returns the session and whether a live one was resumed.
        Frames buffered for it are flushed by :meth:`flush`, after the caller
        has sent the authentication reply.
        """
        self.purge()
        owner = fingerprint(api_key, self._secret)
        wanted = _valid_uuid(requested)
        with self._lock:
            known = self._sessions.get(wanted) if wanted else None
            if known is not None and known.owner == owner:
                session, resumed = known, True
            else:
                if known is not None:
                    wanted = None  # another key's session: never hand over its frames
                session, resumed = Session(uuid=wanted or str(uuid.uuid4()), owner=owner), False
                self._sessions[session.uuid] = session
        with session.lock:
            session.outlet = outlet
            session.detached_at = None
        return session, resumed

    def flush(self, session: Session) -> None:
        """Send what is buffered for ``session`` on its current socket."""
        with session.lock:
            self._flush(session)

    def deliver(self, session: Session, frame: str, failed: Outlet | None = None) -> None:
        """Send ``frame`` to the socket that now serves ``session``, else buffer it.

        ``failed`` is a socket that could not take the frame (a reply whose
        socket died): it is not tried again.
        """
        with session.lock:
            outlet = session.outlet
            if outlet is not None and outlet is not failed:
                self._flush(session)
                if not session.pending and outlet.send(frame):
                    return
            self._expire(session)
            session.pending.append((self._clock(), frame))

    def detach(self, session: Session, outlet: Outlet) -> None:
        """``outlet`` closed; the session waits ``resume_window`` for a resume."""
        with session.lock:
            if session.outlet is outlet:
                session.outlet = None
                session.detached_at = self._clock()

    def purge(self) -> None:
        """Forget sessions detached for longer than the resume window."""
        now = self._clock()
        with self._lock:
            expired = [
                key
                for key, s in self._sessions.items()
                if s.detached_at is not None and now - s.detached_at > self.resume_window
            ]
            for key in expired:
                del self._sessions[key]

    def _flush(self, session: Session) -> None:
        self._expire(session)
        outlet = session.outlet
        while outlet is not None and session.pending:
            if not outlet.send(session.pending[0][1]):
                return
            session.pending.popleft()

    def _expire(self, session: Session) -> None:
        cutoff = self._clock() - self.resume_window
        while session.pending and session.pending[0][0] < cutoff:
            session.pending.popleft()


def _valid_uuid(value: str | None) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        return None
    return value
