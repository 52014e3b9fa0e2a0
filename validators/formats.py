"""Format and pattern semantics shared by the detailed and the compiled validator.

Both validators must give the same verdict on every input, so the places where
Python's defaults differ from the JSON Schema (ECMA-262) meaning are settled here:

* ``uuid``: ``uuid.UUID()`` also takes braces, URNs and stray hyphens; the spec
  means the canonical 8-4-4-4-12 hex form, which is what jsonschema-rs checks.
* ``uri``: jsonschema only checks it when an RFC 3986 parser is installed; we
  pin that parser and hand the very same function to jsonschema-rs.
* ``pattern``: in Python ``$`` also matches before a trailing newline, in
  ECMA-262 (and jsonschema-rs) only at the end of the string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rfc3986_validator import validate_rfc3986

if TYPE_CHECKING:
    from jsonschema import FormatChecker
    from jsonschema import ValidationError as SchemaError

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_uuid(value: object) -> bool:
    return not isinstance(value, str) or _UUID.fullmatch(value) is not None


def is_uri(value: object) -> bool:
    # rfc3986-validator anchors its grammar with a Python ``$``, which also matches
    # before a trailing newline, so "https://x.example\n" passed; RFC 3986 allows
    # no LF anywhere in a URI (jsonschema-rs's own "uri" check rejects it too).
    if not isinstance(value, str):
        return True
    return not value.endswith("\n") and bool(validate_rfc3986(value, rule="URI"))


def format_checker() -> FormatChecker:
    # jsonschema is imported only when a failure needs explaining: it is most of start-up.
    from jsonschema import Draft202012Validator, FormatChecker

    checker = FormatChecker()
    checker.checkers.update(Draft202012Validator.FORMAT_CHECKER.checkers)
    checker.checkers["uuid"] = (is_uuid, ())
    checker.checkers["uri"] = (is_uri, ())
    return checker


@lru_cache(maxsize=256)
def ecma_regex(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` so that an unescaped ``$`` outside a class means end of input."""
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            ch = r"\Z"
        out.append(ch)
        i += 1
    return re.compile("".join(out))


def ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[SchemaError]:
    from jsonschema import ValidationError as SchemaError

    if isinstance(instance, str) and not ecma_regex(pattern).search(instance):
        yield SchemaError(f"{instance!r} does not match {pattern!r}")


# Formats jsonschema-rs must call back into Python for, to agree by construction.
RUST_FORMAT_OVERRIDES = {"uri": is_uri}
