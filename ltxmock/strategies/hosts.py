"""Hosts generated URLs may name: reserved names only, so nothing is ever sent.

A generated task is meant to be submitted; its ``webhookURL`` or
``uploadEndpoint`` must not name a host anybody answers for. Every URL the
strategies make names a host under a name reserved for examples and tests
(RFC 2606 and RFC 6761): ``example.com``/``.net``/``.org``, ``.example``,
``.invalid``, ``.test``. ``is_safe_host`` also accepts loopback (``localhost``,
``.localhost``, ``127.0.0.0/8``, ``::1``), which a user's own URLs may name.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

EXAMPLE_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "invalid", "test")
LOOPBACK_NAMES = ("localhost",)
# A URL anywhere in a string (a stray prefix or space too): scheme, then authority.
_URL = re.compile(r"(?i)(https?|wss?):/{1,2}\s*([^/?#\s]*)")


def reserved_hosts() -> SearchStrategy[str]:
    """``example.com``, ``a-1.example.net``, ``x.invalid``, ``k.test``, ..."""
    label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?", fullmatch=True)
    parent = st.sampled_from(EXAMPLE_DOMAINS + RESERVED_TLDS)
    return st.one_of(
        st.sampled_from(EXAMPLE_DOMAINS),
        st.builds("{}.{}".format, label, parent),
    )


def is_safe_host(host: str) -> bool:
    """A reserved name or loopback (``host`` without a port; any case; trailing dot ok)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    if name in EXAMPLE_DOMAINS or name in LOOPBACK_NAMES:
        return True
    suffixes = (*EXAMPLE_DOMAINS, *RESERVED_TLDS, *LOOPBACK_NAMES)
    return any(name.endswith("." + suffix) for suffix in suffixes)


def urls_in(value: Any) -> Iterator[tuple[str, str]]:
    """Every ``(url text, host)`` in the strings of a JSON value, at any depth."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, str):
            for match in _URL.finditer(node):
                authority = match.group(2).rsplit("@", 1)[-1]
                if authority.startswith("["):
                    host = authority[: authority.find("]") + 1] or authority
                else:
                    host = authority.split(":", 1)[0]
                yield match.group(0), host


def unsafe_urls(value: Any) -> list[str]:
    """The URLs in ``value`` naming a host that is neither reserved nor loopback."""
    return [url for url, host in urls_in(value) if host and not is_safe_host(host)]
