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
ROOT_TASKS_UNWALKED = 100  # see decode_json; --max-tasks-per-request is 10 by default
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")


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
    # A task array longer than ROOT_TASKS_UNWALKED is left to the task cap, which
    # refuses it in constant time with a better word (tooManyTasks) than a count.
    long_array = isinstance(value, list) and len(value) > ROOT_TASKS_UNWALKED
    if brackets > MAX_NESTING or (separators + brackets >= MAX_JSON_VALUES and not long_array):
        _check_shape(value, count_values=not long_array)
    return value


def _parse_strictly(raw: bytes | str) -> Any:
    """The standard library's parse: it decides anything orjson would not read as it
    does, and words the error."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        # orjson refuses a number that overflows a double (1e400); so does this path,
        # as it refuses the literals NaN and Infinity.
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
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


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("a number is too large for a 64-bit float")
    return number


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _check_shape(value: Any, *, count_values: bool = True) -> None:
    """Refuse ``value`` if it nests deeper than ``MAX_NESTING``, holds more than
    ``MAX_JSON_VALUES`` values; iterative (a
    recursive walk could overflow on hostile input), and it stops at the first limit
    passed, so it visits at most the budget."""
    count, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        count += 1
        # Everything on the stack will be counted: a container whose children would
        # pass the budget is refused before they are pushed (one of 250,000 items
        # would cost more to push than the whole budget to walk).
        if count_values and count + len(stack) + (
            len(node) if isinstance(node, dict | list) else 0
        ) > (MAX_JSON_VALUES):
            raise invalid_json(
                f"it holds more than {MAX_JSON_VALUES:,} JSON values (arrays, objects, "
                "strings, numbers, booleans, nulls); a task needs a few dozen"
            )
        if isinstance(node, dict | list):
            if level > MAX_NESTING:
                raise invalid_json(f"it nests deeper than {MAX_NESTING} levels")
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
