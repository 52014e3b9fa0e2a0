"""decode_json: request bodies (REST bodies and WebSocket frames) decode alike on the fast
path (orjson, for bytes) and the standard library's (for text), and deep nesting is refused."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st
from support.json import exact, json_values

from ltxmock.server.core.decoding import MAX_NESTING, decode_json
from ltxmock.server.core.errors import ApiError


def outcome(raw: str | bytes) -> tuple[str, Any]:
    try:
        return "value", exact(decode_json(raw))
    except ApiError as error:
        return "refused", (error.status, error.errors[0]["code"])


@given(json_values)
def test_a_body_parses_to_the_same_value_on_both_paths(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    # bytes take orjson first; str takes only the standard library
    assert outcome(text.encode("utf-8")) == outcome(text)


@given(st.binary(max_size=64) | st.text(max_size=64).map(lambda t: t.encode("utf-8", "replace")))
@example(b"[1e400]")
@example(b'["\\ud800"]')
@example(b"[NaN]")
@example(b"\xef\xbb\xbf[1]")
@example(b"[123456789012345678901234567890]")
def test_any_bytes_get_the_same_verdict_on_both_paths(raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        assert outcome(raw)[0] == "refused"
        return
    assert outcome(raw) == outcome(text)


def test_nesting_up_to_the_limit_is_read_and_deeper_is_refused() -> None:
    at_limit = "[" * MAX_NESTING + "]" * MAX_NESTING
    assert outcome(at_limit.encode()) == outcome(at_limit) == ("value", exact(json.loads(at_limit)))
    deeper = "[" + at_limit + "]"
    assert outcome(deeper.encode()) == outcome(deeper) == ("refused", (400, "invalidJson"))
    # Brackets inside strings do not count: only real nesting is refused.
    assert outcome(json.dumps(["[" * 500]).encode())[0] == "value"
