"""Strings: text of a length range, UUIDs and URIs, and their common near misses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ltxmock.validators.formats import is_uri

from .hosts import reserved_hosts


def repeat_to(seed: str, length: int) -> str:
    return (seed * (length // len(seed) + 1))[:length]


def texts(min_size: int, max_size: int | None) -> SearchStrategy[str]:
    """Text of ``min_size..max_size`` code points: mostly short, sometimes long.

    Long strings repeat a short drawn seed, so a 10 000 character prompt costs a
    handful of choices, not ten thousand.
    """
    short_max = min_size + 24 if max_size is None else min(max_size, min_size + 24)
    short = st.text(min_size=min_size, max_size=short_max)
    if max_size is None or max_size <= short_max:
        return short
    long = st.builds(
        repeat_to,
        st.text(min_size=1, max_size=8),
        st.integers(max(short_max + 1, max_size - 16), max_size),
    )
    return st.integers(0, 9).flatmap(lambda n: long if n == 9 else short)


def long_texts(min_size: int, max_size: int) -> SearchStrategy[str]:
    """Text of ``min_size..max_size`` code points, repeating a short drawn seed."""
    return st.builds(repeat_to, st.text(min_size=1, max_size=8), st.integers(min_size, max_size))


def _uuid_text(value: Any, upper: bool) -> str:
    text = str(value)
    return text.upper() if upper else text


def uuid_strings() -> SearchStrategy[str]:
    """Canonical 8-4-4-4-12 UUIDs, in either case."""
    return st.builds(_uuid_text, st.uuids(), st.sampled_from([False, True]))


_UUID_VARIANTS: tuple[Callable[[str], str], ...] = (
    lambda u: u,
    str.upper,
    lambda u: u.replace("-", ""),
    lambda u: "{" + u + "}",
    lambda u: "urn:uuid:" + u,
    lambda u: u + "\n",
    lambda u: u[:-1],
    lambda u: u + "0",
    lambda u: u[:-2] + "-" + u[-2:],  # a stray hyphen: uuid.UUID() accepts it
    lambda u: u + "}",  # a stray brace: uuid.UUID() accepts it
    lambda u: u[:9] + "g" + u[10:],
    lambda u: "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in u),  # fullwidth
    lambda u: " " + u,
    lambda u: u[:8] + u[9:13] + "-" + u[13:],
)


def uuid_near_misses() -> SearchStrategy[str]:
    """Strings that look like UUIDs: canonical ones and common near misses."""
    return st.builds(
        lambda u, i: _UUID_VARIANTS[i](str(u)),
        st.uuids(),
        st.integers(0, len(_UUID_VARIANTS) - 1),
    )


def uri_strings() -> SearchStrategy[str]:
    """Absolute http(s) URIs with a path and optional query, on a reserved host
    (``hosts.reserved_hosts``): a task carrying one is safe to submit."""
    host = reserved_hosts()
    segment = st.from_regex(r"[A-Za-z0-9._~-]{1,10}", fullmatch=True)
    query = st.none() | st.from_regex(r"[a-z]{1,5}=[A-Za-z0-9]{0,8}", fullmatch=True)
    return st.builds(
        lambda scheme, h, segments, q: (
            f"{scheme}://{h}/{'/'.join(segments)}" + (f"?{q}" if q else "")
        ),
        st.sampled_from(["https", "http"]),
        host,
        st.lists(segment, max_size=3),
        query,
    ).filter(is_uri)


_URI_VARIANTS: tuple[Callable[[str], str], ...] = (
    lambda u: u,
    lambda u: u + "\n",
    lambda u: u + "\r\n",
    lambda u: "\n" + u,
    lambda u: u + " ",
    lambda u: u.replace("//", "// ", 1),
    lambda u: u.split(":", 1)[1],  # a relative reference, no scheme
    lambda u: u + "%zz",
    lambda u: u + "é",
    lambda u: "1" + u,
    lambda u: u + "#a#b",
    lambda u: u.upper(),
    lambda u: u + "?q=a b",
)


def uri_near_misses() -> SearchStrategy[str]:
    """Strings that look like URIs: absolute URIs and common near misses."""
    return st.builds(
        lambda u, i: _URI_VARIANTS[i](u), uri_strings(), st.integers(0, len(_URI_VARIANTS) - 1)
    )


def pattern_variant(value: str, i: int) -> str:
    """``value`` (``i == 0``) or one of six edits a ``pattern`` may or may not allow."""
    return (value, value + "\n", "\n" + value, value + " ", value[:-1], value + "!", "")[i]
