"""Where webhooks and uploads may go: HTTP(S) only, never the mock itself, only allowed hosts.

A delivery aimed at the mock's own address would let any submitted task drive
its admin API (a ``webhookURL`` of ``…/__ltxmock/reset`` resets the mock) or
feed requests back into it; a ``file://`` or ``gopher://`` URL can never
succeed. Such deliveries fail at once, without retries, with the reason as
their ``last_error``. ``MockConfig.callback_allow`` (``--callback-allow
HOST[:PORT]``), when set, limits targets to the listed hosts: a mock shared by
a team must not become a way to reach other machines of its network.

Two checks, both without following DNS twice:

* ``refusal``, on the URL before connecting: the scheme, the allow-list, and
  the mock's own address by name (a loopback name with one of the mock's
  ports, or a host:port the mock is known by);
* ``peer_refusal``, on the connected socket before a byte is sent: a name
  that resolved to this machine (a loopback address, or the socket's own
  local address) on one of the mock's ports.

Targets on reserved names (RFC 2606 and 6761: ``example.com``, ``example.net``,
``example.org`` and their subdomains, and every name under ``.example``,
``.invalid``, ``.test`` and ``.localhost``) are a **sink** (``is_sink``): never
sent, but kept whole as ``captured`` (``deliveries.py``). No one runs a
receiver there, so a test suite whose generated tasks carry such URLs makes no
network call. Plain ``localhost`` and loopback addresses are not in the sink:
a user who runs a receiver on their own machine gets the real delivery.

The mock's own address comes from the delivery's ``base_url`` (the mock as the
client reached it when submitting, or ``public_base_url``) and the configured
host and port (the port is 0 when a free one is chosen at bind: the base URL
then carries the real one).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from .addresses import (
    DEFAULT_PORTS,
    ip_of,
    is_this_machine,
    normalize_host,
    origin_of,
    split_host_port,
)
from .config import MockConfig

SCHEMES = ("http", "https")
AllowEntry = tuple[str, int | None]
SINK_DOMAINS = ("example.com", "example.net", "example.org")
SINK_SUFFIXES = ("example", "invalid", "test", "localhost")


class TargetRefusedError(Exception):
    """A delivery that must not be sent, ever: the reason is final (no retry)."""


@dataclass(frozen=True)
class OwnAddress:
    """How the mock is reached: (host, port) pairs it is known by, and its ports."""

    endpoints: frozenset[tuple[str, int]]
    ports: frozenset[int]

    @classmethod
    def of(cls, config: MockConfig, base_url: str) -> OwnAddress:
        endpoints: set[tuple[str, int]] = set()
        ports: set[int] = set()
        for url in (base_url, config.public_base_url):
            origin = origin_of(url) if url else None
            if origin is not None:
                endpoints.add(origin[1:])
                ports.add(origin[2])
        if config.port:
            ports.add(config.port)
            endpoints.add((normalize_host(config.host), config.port))
        return cls(frozenset(endpoints), frozenset(ports))


def parse_allow(entries: Iterable[str]) -> tuple[AllowEntry, ...]:
    """``--callback-allow`` entries as (host, port or None); ValueError for a bad one."""
    return tuple(split_host_port(entry) for entry in entries)


def refusal(url: str, *, own: OwnAddress, allow: tuple[AllowEntry, ...] = ()) -> str | None:
    """Why ``url`` must never be sent to, or None. Never quotes the URL (its query is secret)."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return "the URL contains spaces or control characters: it cannot be sent as given"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"invalid URL: {exc}"
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        shown = repr(scheme) if scheme else "none"
        return f"unsupported URL scheme {shown}: webhooks and uploads go to http(s):// URLs only"
    if not parts.hostname:
        return "the URL has no host"
    host, port = normalize_host(parts.hostname), port or DEFAULT_PORTS[scheme]
    target = _netloc(host, port)
    if (host, port) in own.endpoints or (is_this_machine(host) and port in own.ports):
        return (
            f"the target {target} is the mock itself: webhooks and uploads are never sent "
            "to the mock's own address (it would drive its own admin API)"
        )
    if allow and not any(host == h and p in (None, port) for h, p in allow):
        listed = ", ".join(_netloc(h, p) for h, p in allow[:5]) + (", …" if len(allow) > 5 else "")
        return f"the target {target} is not in --callback-allow ({listed})"
    return None


def is_sink(url: str) -> bool:
    """Whether ``url`` is an http(s) URL on a reserved name: captured, never sent."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme.lower() not in SCHEMES or not host:
        return False
    name = host.lower().rstrip(".")
    labels = name.split(".")
    if len(labels) >= 2 and labels[-1] in SINK_SUFFIXES:
        return True  # "localhost" alone (one label) is a real receiver
    return any(name == d or name.endswith("." + d) for d in SINK_DOMAINS)


def peer_refusal(sock: socket.socket, own: OwnAddress) -> str | None:
    """Why a connected socket must not be sent on: the name led to the mock itself."""
    try:
        peer_host, peer_port = sock.getpeername()[:2]
        local_host = sock.getsockname()[0]
    except OSError:
        return None  # not connected after all: the send fails and is retried as usual
    peer = ip_of(str(peer_host))
    this_machine = peer is not None and (
        peer.is_loopback or peer.is_unspecified or peer == ip_of(str(local_host))
    )
    if this_machine and peer_port in own.ports:
        return (
            f"the target resolved to {_netloc(str(peer_host), peer_port)}, the mock itself: "
            "webhooks and uploads are never sent to the mock's own address"
        )
    return None


def _netloc(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host else host
    return shown if port is None else f"{shown}:{port}"
