"""Request bodies as JSON: strict (UTF-8, no NaN/Infinity), bounded in nesting and in
the number of values.

Shared by every transport: a REST body and a WebSocket frame are read alike. The value
budget keeps what follows the parse (the compiled validator, the explainer, the
journal's excerpt) proportional to what a task can be, not to the 4 MiB body limit: a
task is a few dozen values, and 250,000 of them cost tens of ms per later walk.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from . import jsontext
from .errors import invalid_json

MAX_NESTING = 64  # real task bodies nest about 5 deep; deeper is an attack or a bug
# Arrays, objects, strings, numbers, booleans and nulls of one body: ten tasks of every
# parameter take under 500; walking this many to count them takes about a millisecond.
MAX_JSON_VALUES = 10_000
# A number that may overflow a float (1e400, or 309+ digits) parses to +-inf on both
# paths; like the literals NaN and Infinity it is refused. Strings may match too: the
# walk then finds nothing.
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")
_HUGE_NUMBER = re.compile(rb"[eE][+-]?0*[1-9][0-9]{2,}|[0-9]{300,}")


def decode_json(raw: bytes | str) -> Any:
    """Parse a request body strictly; raises ``ApiError`` (400 ``invalidJson``)."""
    parsed, value = jsontext.loads_fast(raw) if isinstance(raw, bytes) else (False, None)
    if not parsed:
        value = _parse_strictly(raw)
    # Cheap upper bounds first (strings may hold some of these bytes): a body with
    # few separators has few values, one with few brackets is shallow.
    if isinstance(raw, bytes):
        brackets = raw.count(b"[") + raw.count(b"{")
        separators = raw.count(b",") + raw.count(b":")
    else:
        brackets = raw.count("[") + raw.count("{")
        separators = raw.count(",") + raw.count(":")
    huge = _HUGE_NUMBER.search(raw.encode() if isinstance(raw, str) else raw)
    if brackets > MAX_NESTING or separators + brackets >= MAX_JSON_VALUES or huge:
        _check_shape(value)
    return value


def _parse_strictly(raw: bytes | str) -> Any:
    """The standard library's parse: it decides anything orjson would not read as it
    does, and words the error."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_reject_constant)
        if _SURROGATE_ESCAPE.search(text):
            # The standard library reads a lone "\ud800" into a str that no UTF-8
            # writer (orjson: replies, journal, store) can write back; orjson refuses it.
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        return value
    except UnicodeEncodeError as exc:
        raise invalid_json(
            "it holds a lone UTF-16 surrogate escape, which is no character"
        ) from exc
    except UnicodeDecodeError as exc:
        raise invalid_json(f"it is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:
        raise invalid_json(str(exc) or type(exc).__name__) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _check_shape(value: Any) -> None:
    """Refuse ``value`` if it nests deeper than ``MAX_NESTING``, holds more than
    ``MAX_JSON_VALUES`` values or a number that overflowed to infinity; iterative (a
    recursive walk could overflow on hostile input), and it stops at the first limit
    passed, so it visits at most the budget."""
    count, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        count += 1
        if count > MAX_JSON_VALUES:
            raise invalid_json(
                f"it holds more than {MAX_JSON_VALUES:,} JSON values (arrays, objects, "
                "strings, numbers, booleans, nulls); a task needs a few dozen"
            )
        if isinstance(node, float) and not math.isfinite(node):
            raise invalid_json("a number is too large for a 64-bit float")
        if isinstance(node, dict | list):
            if level > MAX_NESTING:
                raise invalid_json(f"it nests deeper than {MAX_NESTING} levels")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
