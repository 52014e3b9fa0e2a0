"""Find where an RFC 6901 JSON pointer's value sits in JSON source text.

Only the path of the pointer is walked: every sibling on the way is skipped
with the C JSON scanner (``JSONDecoder.raw_decode``), so locating a value costs
about one ``json.loads`` of the text. It assumes ``text`` is valid JSON (the
caller has parsed it already); members with a repeated name resolve to the
last one, as ``json.loads`` keeps the last.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Location", "line_column", "locate", "pointer_tokens", "value_at"]

_DECODER = json.JSONDecoder()
_WS = re.compile(r"[ \t\n\r]*")
_INDEX = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Location:
    """Offsets (0-based, in characters) of a pointer's target in the text.

    ``value`` is the first character of the deepest value on the pointer's
    path; ``found`` says whether that is the target itself or, when the
    pointer names something absent, the closest existing ancestor. ``key`` is
    the opening quote of that value's member name when it is an object member.
    """

    value: int
    key: int | None
    found: bool


def pointer_tokens(pointer: str) -> list[str]:
    """The unescaped reference tokens of ``pointer`` (``""`` is the whole document)."""
    if not pointer:
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"a JSON pointer must be empty or start with '/': {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def locate(text: str, pointer: str, start: int = 0) -> Location:
    """Where the value at ``pointer`` starts in ``text`` (the JSON value at ``start``)."""
    pos = _skip_ws(text, start)
    key: int | None = None
    for token in pointer_tokens(pointer):
        opener = text[pos : pos + 1]
        if opener == "{":
            hit = _member(text, pos, token)
        elif opener == "[":
            hit = _item(text, pos, token)
        else:
            hit = None
        if hit is None:
            return Location(pos, key, found=False)
        key, pos = hit
    return Location(pos, key, found=True)


def _skip_ws(text: str, pos: int) -> int:
    match = _WS.match(text, pos)  # always matches, possibly empty
    return match.end() if match else pos


def _member(text: str, pos: int, name: str) -> tuple[int | None, int] | None:
    found: tuple[int | None, int] | None = None
    i = _skip_ws(text, pos + 1)
    if text[i] == "}":
        return None
    while True:
        key, colon = _DECODER.raw_decode(text, i)
        value = _skip_ws(text, _skip_ws(text, colon) + 1)
        if key == name:
            found = (i, value)  # keep going: a later duplicate wins, as in json.loads
        _, end = _DECODER.raw_decode(text, value)
        end = _skip_ws(text, end)
        if text[end] == "}":
            return found
        i = _skip_ws(text, end + 1)


def _item(text: str, pos: int, token: str) -> tuple[int | None, int] | None:
    if not _INDEX.fullmatch(token):
        return None  # "-" and non-numbers never name an existing element
    wanted = int(token)
    i = _skip_ws(text, pos + 1)
    if text[i] == "]":
        return None
    for _ in range(wanted):
        _, end = _DECODER.raw_decode(text, i)
        end = _skip_ws(text, end)
        if text[end] == "]":
            return None
        i = _skip_ws(text, end + 1)
    return None, i


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and character column of ``offset``; lines end at ``\\n`` as in json."""
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def value_at(text: str, offset: int) -> Any:
    """The JSON value that starts at ``offset`` (for checks and tests)."""
    return _DECODER.raw_decode(text, offset)[0]
