"""The server's fast JSON path (orjson) means exactly what the standard library means."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from ltxmock.server import jsontext
from ltxmock.server.errors import ApiError
from ltxmock.server.rest import decode_json

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # including integers far beyond 64 bits
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def exact(value: Any) -> str:
    # Tells 1 from 1.0 and 0.0 from -0.0, which == does not.
    return json.dumps(value, sort_keys=True)


def outcome(raw: str | bytes) -> tuple[str, Any]:
    try:
        return "value", exact(decode_json(raw))
    except ApiError as error:
        return "refused", (error.status, error.errors[0]["code"])


@given(json_values)
def test_written_text_reads_back_as_the_standard_library_reads_it(value: Any) -> None:
    text = jsontext.dumps(value)
    assert exact(jsontext.loads(text)) == exact(json.loads(text)) == exact(value)


def reordered(value: Any) -> Any:
    """The same value with every object's keys in reverse insertion order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


@given(json_values)
def test_sorted_text_ignores_key_order_and_reads_back_as_the_value(value: Any) -> None:
    # A task's parameters hash to this text: a retry with its keys in another
    # order must be recognised as the same task.
    text = jsontext.dumps_sorted(value)
    assert jsontext.dumps_sorted(reordered(value)) == text
    assert exact(json.loads(text)) == exact(value)


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
