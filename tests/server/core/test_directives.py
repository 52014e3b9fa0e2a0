"""Prompt directives: ``[[ltxmock:NAME=VALUE]]`` in ``positivePrompt``.

Stripped before validation (they do not count against the prompt's length),
storage, hashing and anything echoed back; unreadable ones are a 400
``invalidDirective`` naming ``positivePrompt``.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.server import FakeClock, MockClient, video_task

from ltxmock.server.core import directives
from ltxmock.server.core.errors import ApiError

MAX_PROMPT = 10_000  # the document's maxLength
prompts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="[]"),
    min_size=2,
    max_size=200,
).filter(lambda text: len(text.strip()) >= 2)
directive_lists = st.lists(
    st.sampled_from(
        [
            "[[ltxmock:error=timeoutProvider]]",
            "[[ltxmock:latency=0.5]]",
            "[[ltxmock:transport=delay:0.1]]",
            "[[ltxmock:error=providerError]]",
        ]
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=100, deadline=None)
@given(prompt=prompts, marks=directive_lists, where=st.integers(0, 200))
def test_directives_are_stripped_wherever_they_sit(
    prompt: str, marks: list[str], where: int
) -> None:
    cut = min(where, len(prompt))
    text = prompt[:cut] + " ".join(marks) + prompt[cut:]
    task = video_task(positivePrompt=text)
    directed = directives.extract([task])
    cleaned = directed.body[0]["positivePrompt"]
    assert "[[ltxmock:" not in cleaned
    assert cleaned == (prompt[:cut] + prompt[cut:]).strip() or "ltxmock" not in cleaned
    assert task["positivePrompt"] == text  # the caller's body is not touched
    assert set(directed.tasks) == {0}


def test_a_body_without_directives_is_passed_through_as_is() -> None:
    body = [video_task()]
    assert directives.extract(body).body is body


@pytest.mark.parametrize(
    "mark",
    [
        "[[ltxmock:nope=1]]",
        "[[ltxmock:error=not a code]]",
        "[[ltxmock:latency=soon]]",
        "[[ltxmock:latency=-1]]",
        "[[ltxmock:latency=99999]]",
        "[[ltxmock:status=200]]",
        "[[ltxmock:status=task:providerError]]",
        "[[ltxmock:transport=503]]",
        "[[ltxmock:transport=explode]]",
        "[[ltxmock:error]]",
    ],
)
def test_an_unreadable_directive_is_a_400_naming_the_prompt(client: MockClient, mark: str) -> None:
    task = video_task(positivePrompt=f"a red fox {mark}")
    answer = client.submit(task)
    assert answer.status == 400
    (error,) = answer.errors
    assert (error["code"], error["parameter"], error["taskUUID"]) == (
        "invalidDirective",
        "positivePrompt",
        task["taskUUID"],
    )
    with pytest.raises(ApiError):
        directives.extract([task])


def test_directives_do_not_count_against_the_prompt_length(client: MockClient) -> None:
    full = "x" * MAX_PROMPT
    assert client.submit(video_task(positivePrompt=full)).status == 200
    directed = video_task(positivePrompt=full + " [[ltxmock:latency=0]]")
    assert client.submit(directed).status == 200
    too_long = video_task(positivePrompt=full + "y [[ltxmock:latency=0]]")
    assert client.submit(too_long).codes == ["invalidPositivePromptLength"]


def test_a_prompt_that_is_only_a_directive_is_still_validated(client: MockClient) -> None:
    answer = client.submit(video_task(positivePrompt="[[ltxmock:error=providerError]]"))
    assert (answer.status, answer.errors[0]["parameter"]) == (400, "positivePrompt")


def test_the_latency_directive_sets_the_task_latency(client: MockClient, clock: FakeClock) -> None:
    quick = video_task(positivePrompt="a fox [[ltxmock:latency=0.5]]")
    slow = video_task(positivePrompt="a fox [[ltxmock:latency=30]]")
    client.submit(quick, slow)
    clock.advance(1)
    assert client.poll(quick["taskUUID"], slow["taskUUID"]).statuses == ["success", "processing"]


def test_a_directive_never_reaches_what_is_stored_echoed_or_journaled_back(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task(positivePrompt="a red fox [[ltxmock:latency=0]]", includeCost=True)
    ack = client.submit(task)
    assert ack.body == {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]}
    stored = client.service.store.tasks.get(task["taskUUID"], now=clock.now)
    assert stored is not None
    assert stored.params["positivePrompt"] == "a red fox"
    assert "ltxmock" not in str(client.poll(task["taskUUID"]).body)
    # A retry with the same directive is the same task (SDKs resend).
    assert client.submit(task).body == ack.body


def test_the_status_directive_answers_the_whole_request(client: MockClient) -> None:
    calm = video_task()
    loud = video_task(positivePrompt="a fox [[ltxmock:status=503;retry-after=4]]")
    answer = client.submit(calm, loud)
    assert (answer.status, answer.codes) == (503, ["serviceUnavailable"] * 2)
    assert answer.headers["Retry-After"] == "4"
    assert client.poll(calm["taskUUID"]).codes == ["taskNotFound"]


def test_the_error_directive_fails_only_its_own_task(client: MockClient, clock: FakeClock) -> None:
    calm = video_task()
    doomed = video_task(positivePrompt="a fox [[ltxmock:error=contentPolicyViolation]]")
    client.submit(calm, doomed)
    clock.advance(3)
    answer = client.poll(calm["taskUUID"], doomed["taskUUID"])
    assert answer.statuses == ["success"]
    assert answer.codes == ["contentPolicyViolation"]
    assert answer.errors[0]["status"] == "error"


def test_directive_faults_are_named_in_the_journal(client: MockClient) -> None:
    client.submit(video_task(positivePrompt="a fox [[ltxmock:error=providerError]]"))
    assert client.service.journal.last().fault == "task:providerError"  # type: ignore[union-attr]
    client.submit(video_task(positivePrompt="a fox [[ltxmock:transport=delay:0]]"))
    assert client.service.journal.last().fault == "transport:delay"  # type: ignore[union-attr]
    client.submit(video_task(positivePrompt="a fox [[ltxmock:status=504]]"))
    assert client.service.journal.last().fault == "504:timeout"  # type: ignore[union-attr]
