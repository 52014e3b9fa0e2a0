"""Where an in-process request goes: the base URL's origin is the mock, its path ``/v1``."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

RUNWARE_URL = "https://api.runware.ai/v1"
API_PATH = "/v1"


@dataclass(frozen=True)
class Route:
    """``base_url``'s origin is routed to the mock; its path prefix becomes ``/v1``."""

    base_url: str
    origin: str = field(init=False)
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL with a host, not {self.base_url!r}")
        port = f":{parts.port}" if parts.port is not None else ""
        object.__setattr__(self, "origin", f"{parts.scheme}://{parts.hostname.lower()}{port}")
        object.__setattr__(self, "prefix", parts.path.rstrip("/"))

    def path_for(self, url: str) -> str | None:
        """The mock's path (and query) for ``url``, or None if it is not routed to it."""
        parts = urlsplit(url)
        if not parts.hostname:
            return None
        port = f":{parts.port}" if parts.port is not None else ""
        if f"{parts.scheme}://{parts.hostname.lower()}{port}" != self.origin:
            return None
        path = parts.path or "/"
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            path = API_PATH + path[len(self.prefix) :]
        return path + (f"?{parts.query}" if parts.query else "")
