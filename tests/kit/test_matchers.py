"""Matchers and the assertions that explain: which field of the closest request differs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from support.json import json_values
from support.server import API_KEY, video_task

from ltxmock import matchers as m
from ltxmock.testing import MockAssertionError, MockServer

KEYS = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
OBJECTS = st.dictionaries(KEYS, json_values, min_size=1, max_size=6)


@given(task=OBJECTS, data=st.data())
def test_a_task_matches_any_subset_of_itself(task: dict[str, Any], data: st.DataObject) -> None:
    keys = data.draw(st.sets(st.sampled_from(sorted(task))))
    assert m.differences(task, {k: task[k] for k in keys}) == []


@given(task=OBJECTS, data=st.data(), other=json_values)
def test_one_changed_field_is_the_one_difference(
    task: dict[str, Any], data: st.DataObject, other: Any
) -> None:
    key = data.draw(st.sampled_from(sorted(task)))
    assume(not m.json_equal(task[key], other))
    assume(not isinstance(other, dict))  # an expected object matches any superset of it
    expected = {**task, key: other}
    diff = m.differences(task, expected)
    assert len(diff) == 1
    assert diff[0].startswith(f"{key}: expected ")
    best = m.closest([{}, {"zz": 1}, task], expected)  # ties go to the latest
    assert best is not None
    assert best[0] is task


@given(task=OBJECTS, missing=KEYS.map(lambda k: k + "_"))
def test_a_missing_field_says_so(task: dict[str, Any], missing: str) -> None:
    assert m.differences(task, {missing: 1}) == [f"{missing}: expected 1, but the field is missing"]


def test_json_equality_is_json_s() -> None:
    assert m.json_equal(6, 6.0)
    assert not m.json_equal(1, True)
    assert not m.json_equal("6", 6)
    assert m.json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not m.json_equal([1], [1, 1])


NESTED = {
    "providerSettings": {"lightricks": {"generateAudio": True}},
    "inputs": {"frameImages": [{"image": "https://a.example.com/x.png", "frame": "first"}]},
}


@pytest.mark.parametrize(
    ("expected", "diff"),
    [
        ({"providerSettings.lightricks.generateAudio": True}, []),
        ({"providerSettings": {"lightricks": {}}}, []),
        ({"inputs.frameImages.0.frame": "first"}, []),
        (
            {"inputs.frameImages.0.frame": "last"},
            ['inputs.frameImages.0.frame: expected "last", got "first"'],
        ),
        (
            {"providerSettings": {"lightricks": {"generateAudio": False}}},
            ["providerSettings.lightricks.generateAudio: expected false, got true"],
        ),
        (
            {"inputs.frameImages.1.image": m.present()},
            ["inputs.frameImages.1.image: missing"],
        ),
        ({"inputs.frameImages.0.image": m.matches(r"\.png$")}, []),
        ({"inputs.frameImages.0.image": m.contains("example.com")}, []),
        ({"seed": m.absent()}, []),
        ({"inputs": m.absent()}, ['inputs: expected no value, got {"frameImages": [{"frame"']),
        (
            {"providerSettings.lightricks.generateAudio": m.one_of(1, False)},
            ["providerSettings.lightricks.generateAudio: expected one of [1, false], got true"],
        ),
    ],
)
def test_nested_fields_and_matchers(expected: dict[str, Any], diff: list[str]) -> None:
    # Each line of ``diff`` is the start of the line expected (long values are cut).
    found = m.differences(NESTED, expected)
    assert len(found) == len(diff), found
    assert all(line.startswith(start) for line, start in zip(found, diff, strict=True)), found


def test_between_and_satisfies() -> None:
    assert m.differences({"d": 8}, {"d": m.between(6, 10)}) == []
    assert m.differences({"d": "8"}, {"d": m.between(6, 10)}) == [
        'd: expected a number in [6, 10], got "8"'
    ]
    odd = m.satisfies(lambda v: v % 2 == 1, "an odd number")
    assert m.differences({"d": 8}, {"d": odd}) == ["d: expected an odd number, got 8"]


# -- the assertions on a mock ----------------------------------------------------------
@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    server = MockServer(latency=0)  # in-process: its Flask test client, no socket
    yield server
    server.stop()


@pytest.fixture
def submit(mock: MockServer) -> Any:
    mock.reset()
    client = mock.app.test_client()

    def send(**fields: Any) -> int:
        reply = client.post(
            "/v1", json=[video_task(**fields)], headers={"Authorization": f"Bearer {API_KEY}"}
        )
        return reply.status_code

    return send


def test_the_closest_accepted_task_and_its_differing_field(submit: Any, mock: MockServer) -> None:
    assert submit(duration=6, positivePrompt="a cat") == 200
    assert submit(duration=8, positivePrompt="a red fox") == 200
    with pytest.raises(MockAssertionError) as failure:
        mock.assert_submitted(duration=10, positivePrompt=m.contains("fox"))
    text = str(failure.value)
    assert "Closest task received (accepted), differing in 1 field(s):" in text
    assert "  duration: expected 10, got 8" in text
    assert "Submitted tasks (2):" in text


def test_a_refused_task_is_shown_with_the_mock_s_answer(submit: Any, mock: MockServer) -> None:
    assert submit(duration=6) == 200
    assert submit(duration=7) == 400
    with pytest.raises(MockAssertionError) as failure:
        mock.assert_submitted(duration=7)
    text = str(failure.value)
    assert "Closest task received (refused with 400), differing in 0 field(s):" in text
    assert re.search(r"the mock answered: .*unsupportedDuration", text)


def test_nothing_received_says_so(submit: Any, mock: MockServer) -> None:
    with pytest.raises(MockAssertionError, match="No videoInference task reached the mock"):
        mock.assert_submitted()


def test_assert_not_submitted(submit: Any, mock: MockServer) -> None:
    mock.assert_not_submitted()
    assert submit(duration=8) == 200
    mock.assert_not_submitted(duration=10)
    mock.assert_not_submitted(**{"providerSettings.lightricks.generateAudio": True})
    with pytest.raises(
        MockAssertionError, match=r"expected no task submitted with \{\"duration\": 8\}"
    ):
        mock.assert_not_submitted(duration=8)
    with pytest.raises(MockAssertionError, match="found 1"):
        mock.assert_not_submitted()


def test_assert_submitted_counts_with_matchers(submit: Any, mock: MockServer) -> None:
    for duration in (6, 8, 10):
        assert submit(duration=duration) == 200
    assert len(mock.assert_submitted(times=2, duration=m.one_of(6, 10))) == 2
    with pytest.raises(MockAssertionError, match="expected 3 task"):
        mock.assert_submitted(times=3, duration=m.between(7, 11))


def test_rejected_lists_refusals_but_not_injected_faults(submit: Any, mock: MockServer) -> None:
    mock.respond_with(503)
    assert submit() == 503
    mock.assert_no_rejections()
    assert submit(width=1) == 400
    assert [e.status for e in mock.rejected()] == [400]
    with pytest.raises(MockAssertionError, match="rejected 1 request"):
        mock.assert_no_rejections()
