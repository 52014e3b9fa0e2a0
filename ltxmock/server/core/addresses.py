"""Host and port text, as a ``Host`` header, an ``Origin``, a URL or a ``--callback-allow``
entry names them; which names mean this machine.

Shared by the admin guard (is a request addressed to the mock?) and the delivery
targets (is a webhook aimed at the mock?). Pure text: no DNS lookups.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
LOCALHOST = "localhost"
# A DNS name (letters, digits, '-', '_', dots) or an IP address; nothing else can be a host.
_NAME = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]{0,252}[a-z0-9_])?")


def normalize_host(host: str) -> str:
    """Lower case, no IPv6 brackets, no trailing dot (``LocalHost.`` is ``localhost``)."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.removesuffix(".")


def split_host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address, as
    (normalized host, port or None). ValueError for anything else."""
    text = text.strip()
    port_text: str | None = None
    if text.startswith("["):
        end = text.find("]")
        rest = text[end + 1 :] if end >= 0 else ""
        if end < 0 or (rest and not rest.startswith(":")):
            raise ValueError(f"not a host[:port]: {text[:80]!r}")
        host, port_text = text[1:end], (rest[1:] if rest else None)
        if ip_of(host) is None or ":" not in host:
            raise ValueError(f"not an IPv6 address in brackets: {text[:80]!r}")
    elif text.count(":") > 1:  # a bare IPv6 address cannot carry a port
        host = text
        if ip_of(host) is None:
            raise ValueError(f"not a host[:port]: {text[:80]!r}")
    else:
        host, sep, after = text.partition(":")
        port_text = after if sep else None
    port = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit() and 0 < int(port_text) <= 65535):
            raise ValueError(f"not a port 1-65535: {port_text[:20]!r}")
        port = int(port_text)
    host = normalize_host(host)
    if ip_of(host) is None and not _NAME.fullmatch(host):
        raise ValueError(f"not a host name or IP address: {host[:80]!r}")
    return host, port


def ip_of(host: str) -> IpAddress | None:
    """The address a host literal names (IPv4-mapped IPv6 as IPv4), or None for a name."""
    try:
        address = ipaddress.ip_address(normalize_host(host))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    host = normalize_host(host)
    address = ip_of(host)
    return host == LOCALHOST if address is None else address.is_loopback


def is_this_machine(host: str) -> bool:
    """A name a connection from here reaches this machine by, whatever DNS says:
    loopback, ``*.localhost`` (RFC 6761) and the unspecified addresses (0.0.0.0, ::)."""
    host = normalize_host(host)
    address = ip_of(host)
    if address is None:
        return host == LOCALHOST or host.endswith("." + LOCALHOST)
    return address.is_loopback or address.is_unspecified


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, normalized host, port) of an absolute http(s)/ws(s) URL, None if it is not one."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, normalize_host(parts.hostname), port or DEFAULT_PORTS[scheme]


def show(text: str, limit: int = 80) -> str:
    """A value a client sent, quoted and cut short, for an error message or a log line."""
    return repr(text if len(text) <= limit else text[:limit] + "…")
