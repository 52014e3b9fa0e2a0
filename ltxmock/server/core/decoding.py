"""Request bodies as JSON: strict (UTF-8, no NaN/Infinity) and bounded in nesting.

Shared by every transport: a REST body and a WebSocket frame are read alike.
"""

from __future__ import annotations

import json
from typing import Any

from . import jsontext
from .errors import invalid_json

MAX_NESTING = 64  # real task bodies nest about 5 deep; deeper is an attack or a bug


def decode_json(raw: bytes | str) -> Any:
    """Parse a request body strictly; raises ``ApiError`` (400 ``invalidJson``)."""
    parsed, value = jsontext.loads_fast(raw) if isinstance(raw, bytes) else (False, None)
    if not parsed:
        value = _parse_strictly(raw)
    # Counting brackets bounds the depth from above, cheaply (strings may hold some).
    if isinstance(raw, bytes):
        brackets = raw.count(b"[") + raw.count(b"{")
    else:
        brackets = raw.count("[") + raw.count("{")
    if brackets > MAX_NESTING and _depth(value) > MAX_NESTING:
        raise invalid_json(f"it nests deeper than {MAX_NESTING} levels")
    return value


def _parse_strictly(raw: bytes | str) -> Any:
    """The standard library's parse: it decides anything orjson would not read as it
    does, and words the error."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise invalid_json(f"it is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise invalid_json(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:
        raise invalid_json(str(exc) or type(exc).__name__) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk could overflow on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level > MAX_NESTING:
                break
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest
