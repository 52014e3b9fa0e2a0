"""The explain budget (validators/budget.py): the detailed validator words the errors of
any task while visiting a bounded part of it, and still reports what the compiled
validator rejected."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ltxmock.validators import default_validator
from ltxmock.validators.budget import EXPLAIN_ITEMS, EXPLAIN_KEYS
from support.server import video_task


class CountingList(list[Any]):
    """A list that counts the items read by index (jsonschema's ``items`` reads so)."""

    reads = 0

    def __getitem__(self, index: Any) -> Any:
        CountingList.reads += 1
        return super().__getitem__(index)


@given(st.integers(min_value=2, max_value=50_000), st.booleans())
def test_an_overlong_array_is_reported_by_its_length_visiting_a_bounded_part(
    size: int, bad_items: bool
) -> None:
    item: Any = {"image": 5, "frame": "x"} if bad_items else "https://example.com/a.png"
    frames = CountingList([item] * size)
    CountingList.reads = 0
    errors = default_validator().validate([video_task(inputs={"frameImages": frames})])
    assert CountingList.reads <= EXPLAIN_ITEMS
    too_long = [e for e in errors if e.keyword == "maxItems"]
    assert len(too_long) == 1
    assert f"(got {size})" in too_long[0].message
    if bad_items:  # the first items' own errors are still explained
        assert any(e.pointer.startswith("/0/inputs/frameImages/0/") for e in errors)
    assert len(errors) <= 1 + 3 * EXPLAIN_ITEMS


@given(st.integers(min_value=1, max_value=20_000))
def test_unknown_keys_are_listed_up_to_the_budget_then_summed_up(count: int) -> None:
    task = video_task(**{f"extra{i}": i for i in range(count)})
    errors = default_validator().validate([task])
    assert {e.code for e in errors} == {"unsupportedParameter"}
    listed = [e for e in errors if e.pointer != "/0"]
    assert [e.parameter for e in listed] == [f"extra{i}" for i in range(min(count, EXPLAIN_KEYS))]
    summary = [e for e in errors if e.pointer == "/0"]
    assert len(summary) == (1 if count > EXPLAIN_KEYS else 0)
    if summary:
        assert f"than the {EXPLAIN_KEYS} listed" in summary[0].message


@given(st.sampled_from(["positivePrompt", "width", "model", "taskUUID"]))
def test_a_huge_value_of_the_wrong_type_is_quoted_briefly(key: str) -> None:
    errors = default_validator().validate([video_task(**{key: ["x"] * 200_000})])
    assert errors
    assert all(len(e.message) < 2_000 for e in errors)
