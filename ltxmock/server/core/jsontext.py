"""Compact JSON text for the server's hot paths: orjson, with the standard library's meaning.

Every request is parsed once and written two to four times (the reply, the
journal, the stored task); orjson does that faster than the ``json`` module.
Where the two differ, ``json``'s answer is the one kept: orjson turns integers
of 19+ digits into floats and refuses some texts (``1e400``, lone surrogates)
and values (integers beyond 64 bits) that ``json`` accepts, so those take the
standard library's path.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# A run of 19 digits, found as 19 zeros once every digit reads as zero: faster
# than the regular expression rb"\d{19}" on a typical body.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_INTEGER = b"0" * 19


def dumps(value: Any) -> str:
    """``value`` as compact UTF-8 JSON text (no spaces, non-ASCII kept)."""
    return dumps_bytes(value).decode("utf-8")


def dumps_bytes(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits, or a type orjson does not know
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def dumps_sorted(value: Any) -> str:
    """``dumps`` with every object's keys sorted: equal values give equal text."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def loads(text: str | bytes) -> Any:
    """Parse JSON text known to be valid (what ``dumps`` wrote)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    parsed, value = loads_fast(data)
    return value if parsed else json.loads(data)


def loads_fast(data: bytes) -> tuple[bool, Any]:
    """``(True, value)`` when orjson parses ``data`` to what ``json`` would; else ``(False, None)``.

    The caller then runs its own strict ``json`` parse, for the exact error (or value).
    """
    if _LONG_INTEGER in data.translate(_DIGITS_AS_ZERO):
        return False, None
    try:
        return True, orjson.loads(data)
    except orjson.JSONDecodeError:
        return False, None
