"""decode_json: request bodies (REST bodies and WebSocket frames) decode alike on the fast
path (orjson, for bytes) and the standard library's (for text), and deep nesting is refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from support.json import exact, json_values

from ltxmock.server.core.decoding import (
    MAX_JSON_VALUES,
    MAX_NESTING,
    ROOT_TASKS_UNWALKED,
    decode_json,
)
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


def count_values(value: Any) -> int:
    if isinstance(value, list):
        return 1 + sum(count_values(v) for v in value)
    if isinstance(value, dict):
        return 1 + sum(count_values(v) for v in value.values())
    return 1


@given(
    st.integers(min_value=MAX_JSON_VALUES - 40, max_value=MAX_JSON_VALUES + 40),
    st.sampled_from(["array", "object", "nested"]),
)
def test_a_body_of_more_values_than_the_budget_is_refused_naming_it(size: int, shape: str) -> None:
    """The value budget counts containers and scalars (not object keys), whatever the
    shape, on both parse paths; at or under it the body reads as before."""
    # One task (the root array and its object: 2 values) holding the rest.
    if shape == "array":
        value: Any = [{"inputs": list(range(size - 3))}]
    elif shape == "object":
        value = [{f"k{i}": None for i in range(size - 2)}]
    else:  # frame lists: containers count too
        value = [{f"t{i}": ["a"] * 8 for i in range((size - 2) // 10)}]
        value[0]["rest"] = [0] * (size - count_values(value) - 1)
    assert count_values(value) == size
    text = json.dumps(value)
    for raw in (text, text.encode()):
        if size <= MAX_JSON_VALUES:
            assert outcome(raw) == ("value", exact(value))
        else:
            with pytest.raises(ApiError) as refused:
                decode_json(raw)
            assert refused.value.status == 400
            assert refused.value.errors[0]["code"] == "invalidJson"
            assert f"{MAX_JSON_VALUES:,} JSON values" in refused.value.errors[0]["message"]


def test_the_budget_walk_stops_early_on_a_huge_body() -> None:
    """250,000 values (within the 4 MiB body limit) are refused after a walk of at most
    the budget; the count is not fooled by separators inside strings either way."""
    huge = json.dumps([{"inputs": ["x"] * 250_000}]).encode()
    assert outcome(huge) == ("refused", (400, "invalidJson"))
    commas_in_strings = json.dumps(["," * MAX_JSON_VALUES, ":" * MAX_JSON_VALUES]).encode()
    assert outcome(commas_in_strings)[0] == "value"


@given(
    st.sampled_from(
        ["1e400", "-1E+0400", "1e309", "2e308", "9" * 400 + ".5", "-" + "9" * 320 + "e0"]
    ),
    st.sampled_from(["[{}]", '[{{"a": [1, {}]}}]', '{{"k": {}}}']),
)
def test_a_number_that_overflows_a_float_is_refused_like_infinity(number: str, shape: str) -> None:
    text = shape.format(number)
    assert outcome(text.encode()) == outcome(text) == ("refused", (400, "invalidJson"))


@given(st.sampled_from(["1e308", "-1.7976931348623157e308", "1e-400", "9" * 400, '"1e999"']))
def test_large_finite_numbers_and_lookalike_strings_still_read(number: str) -> None:
    text = f"[{number}]"
    assert outcome(text.encode()) == outcome(text) == ("value", exact(json.loads(text)))


@given(
    st.sampled_from(["\\ud800", "\\uDBFF", "\\udc00", "\\ude00\\ud83d", "x\\ud800y"]),
    st.booleans(),
)
def test_a_lone_surrogate_escape_is_refused_on_both_paths(escape: str, as_key: bool) -> None:
    """Python's parser would read it into a str no UTF-8 writer can write back (the
    journal failed with a traceback); a pair still reads as its character."""
    text = f'{{"{escape}": 1}}' if as_key else f'["{escape}"]'
    assert outcome(text.encode()) == outcome(text) == ("refused", (400, "invalidJson"))
    pair = '["\\ud83d\\ude00"]'
    assert outcome(pair.encode()) == outcome(pair) == ("value", exact(["\U0001f600"]))


@given(st.integers(min_value=ROOT_TASKS_UNWALKED + 1, max_value=3 * MAX_JSON_VALUES))
def test_a_long_task_array_is_left_to_the_task_cap(length: int) -> None:
    """Its length is counted in constant time by the service's cap (tooManyTasks), a
    better answer than a count of values."""
    text = json.dumps([{"taskType": "ping"}] * length)
    assert outcome(text.encode())[0] == outcome(text)[0] == "value"
