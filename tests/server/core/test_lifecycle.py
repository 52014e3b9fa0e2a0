"""A task's life: ack, processing with rising progress, success, expiry; on a fake clock."""

from __future__ import annotations

import re
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.server import (
    API_KEY,
    URL_SHAPE,
    FakeClock,
    MockClient,
    get_response,
    new_uuid,
    video_task,
)

from ltxmock.server import ApiRequest, MockConfig, MockService, create_app, create_service
from ltxmock.server.core.cost import PRICE_PER_SECOND, price_per_second, result_cost
from ltxmock.server.core.lifecycle import MAX_RESULTS, task_uuids_of_video, video_uuid

LATENCY = 3.0  # mock_config's


def test_a_task_is_processing_with_rising_progress_then_succeeds(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task()
    client.submit(task)
    seen = []
    for _ in range(6):
        answer = client.poll(task["taskUUID"])
        assert answer.status == 200
        (item,) = answer.data
        if item["status"] == "success":
            break
        assert item == {
            "taskType": "videoInference",
            "taskUUID": task["taskUUID"],
            "status": "processing",
            "progress": item["progress"],
        }
        seen.append(item["progress"])
        clock.advance(0.7)
    assert seen == sorted(seen)
    assert seen[0] == 0
    assert len(set(seen)) == len(seen)
    assert all(isinstance(p, int) and 0 <= p < 100 for p in seen)
    assert item["status"] == "success"
    assert set(item) == {"taskType", "taskUUID", "status", "videoUUID", "videoURL"}


@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_each_result_has_its_own_video_uuid_and_url(
    client: MockClient, clock: FakeClock, count: int
) -> None:
    task = video_task(numberResults=count)
    client.submit(task)
    processing = client.poll(task["taskUUID"])
    assert processing.statuses == ["processing"] * count
    clock.advance(LATENCY)
    done = client.poll(task["taskUUID"]).data
    assert [item["status"] for item in done] == ["success"] * count
    assert len({item["videoUUID"] for item in done}) == count
    assert len({item["videoURL"] for item in done}) == count
    for index, item in enumerate(done):
        assert item["videoUUID"] == video_uuid(task["taskUUID"], index)
        assert item["videoUUID"] != task["taskUUID"]
        assert re.match(URL_SHAPE, item["videoURL"]), item["videoURL"]
        assert item["videoURL"].endswith(f"/{item['videoUUID']}.mp4")


@pytest.mark.parametrize(("output_format", "extension"), [("WEBM", "webm"), ("MOV", "mov")])
def test_the_url_extension_follows_output_format(
    client: MockClient, clock: FakeClock, output_format: str, extension: str
) -> None:
    task = video_task(outputFormat=output_format)
    client.submit(task)
    clock.advance(LATENCY)
    assert client.poll(task["taskUUID"]).data[0]["videoURL"].endswith(f".{extension}")


def test_public_base_url_prefixes_video_urls(clock: FakeClock) -> None:
    client = MockClient(
        create_app(latency=0, clock=clock, public_base_url="https://cdn.test/", render_mode="lazy")
    )
    task = video_task()
    client.submit(task)
    assert client.poll(task["taskUUID"]).data[0]["videoURL"].startswith("https://cdn.test/video/")


def test_with_zero_latency_the_first_poll_succeeds(clock: FakeClock) -> None:
    client = MockClient(create_app(latency=0, clock=clock, render_mode="lazy"))
    task = video_task()
    client.submit(task)
    assert client.poll(task["taskUUID"]).statuses == ["success"]


@pytest.mark.parametrize(
    ("size", "fps", "duration", "cost"),
    [
        ((1920, 1080), 25, 6, 0.24),
        ((1920, 1080), 50, 8, 0.48),
        ((2560, 1440), 25, 10, 0.8),
        ((3840, 2160), 25, 10, 1.6),
        ((3840, 2160), 50, 6, 1.44),
    ],
)
def test_include_cost_reports_the_price_table_cost_on_every_result(
    client: MockClient,
    clock: FakeClock,
    size: tuple[int, int],
    fps: int,
    duration: int,
    cost: float,
) -> None:
    width, height = size
    task = video_task(
        width=width, height=height, fps=fps, duration=duration, includeCost=True, numberResults=2
    )
    client.submit(task)
    assert "cost" not in client.poll(task["taskUUID"]).data[0]
    clock.advance(LATENCY)
    assert [item["cost"] for item in client.poll(task["taskUUID"]).data] == [cost, cost]


@pytest.mark.parametrize("include_cost", [False, None])
def test_without_include_cost_there_is_no_cost(
    client: MockClient, clock: FakeClock, include_cost: bool | None
) -> None:
    task = video_task() if include_cost is None else video_task(includeCost=include_cost)
    client.submit(task)
    clock.advance(LATENCY)
    assert "cost" not in client.poll(task["taskUUID"]).data[0]


def test_the_price_table_matches_runwares_published_examples() -> None:
    assert result_cost({"width": 1920, "height": 1080, "duration": 6}) == 0.24
    assert result_cost({"width": 3840, "height": 2160, "duration": 10}) == 1.6
    assert len(PRICE_PER_SECOND) == 6
    assert price_per_second(1280, 720, 25) == pytest.approx(0.04 * 1280 * 720 / (1920 * 1080))


def test_no_seed_is_returned_because_ltx2_has_no_seed_support(
    client: MockClient, clock: FakeClock, service: MockService
) -> None:
    task = video_task()
    client.submit(task)
    clock.advance(LATENCY)
    assert "seed" not in client.poll(task["taskUUID"]).data[0]
    record = service.store.tasks.get(task["taskUUID"], now=clock())
    assert record is not None
    assert isinstance(record.seed, int)  # kept, for rendering media later


def test_a_finished_task_keeps_answering_the_same_until_its_ttl(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task(ttl=60)
    client.submit(task)
    clock.advance(LATENCY)
    first = client.poll(task["taskUUID"])
    clock.advance(59)
    assert client.poll(task["taskUUID"]).body == first.body
    clock.advance(1.5)
    gone = client.poll(task["taskUUID"])
    assert (gone.status, gone.codes) == (404, ["taskNotFound"])


def test_without_a_ttl_results_live_for_the_configured_result_ttl(clock: FakeClock) -> None:
    client = MockClient(create_app(latency=0, clock=clock, result_ttl=100, render_mode="lazy"))
    task = video_task()
    client.submit(task)
    clock.advance(99)
    assert client.poll(task["taskUUID"]).statuses == ["success"]
    clock.advance(2)
    assert client.poll(task["taskUUID"]).codes == ["taskNotFound"]


def test_resubmitting_the_same_task_is_an_idempotent_retry(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task()
    first = client.submit(task)
    clock.advance(2.0)
    again = client.submit(dict(reversed(list(task.items()))))  # key order is irrelevant
    assert (again.status, again.body) == (200, first.body)
    clock.advance(1.0)  # the retry did not restart the clock
    assert client.poll(task["taskUUID"]).statuses == ["success"]


def test_reusing_a_task_uuid_with_other_parameters_is_a_conflict(client: MockClient) -> None:
    task = video_task()
    client.submit(task)
    answer = client.submit({**task, "duration": 8})
    assert answer.status == 400
    assert answer.body == {
        "errors": [
            {
                "code": "conflictTaskUUID",
                "message": answer.errors[0]["message"],
                "parameter": "taskUUID",
                "type": "string",
                "documentation": "https://runware.ai/docs/en/video-inference/api-reference",
                "taskUUID": task["taskUUID"],
                "taskType": "videoInference",
            }
        ]
    }


def test_a_conflict_rolls_back_the_other_tasks_of_its_request(
    client: MockClient, clock: FakeClock
) -> None:
    known = video_task()
    client.submit(known)
    fresh = video_task()
    answer = client.submit(fresh, {**known, "fps": 50})
    assert [e["taskUUID"] for e in answer.errors] == [known["taskUUID"]]
    assert client.poll(fresh["taskUUID"]).codes == ["taskNotFound"]
    clock.advance(LATENCY)
    assert client.poll(known["taskUUID"]).statuses == ["success"]  # untouched


def test_a_task_uuid_differing_only_in_case_is_the_same_task(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task()
    client.submit(task)
    clock.advance(LATENCY)
    assert client.poll(task["taskUUID"].upper()).statuses == ["success"]


def test_an_unknown_task_is_404_task_not_found_scoped_to_it(client: MockClient) -> None:
    task_uuid = new_uuid()
    answer = client.poll(task_uuid)
    assert answer.status == 404
    (error,) = answer.errors
    assert error["code"] == "taskNotFound"
    assert error["taskUUID"] == task_uuid
    assert error["taskType"] == "getResponse"
    assert "data" not in answer.body


def test_task_not_found_status_is_configurable(clock: FakeClock) -> None:
    client = MockClient(create_app(latency=0, clock=clock, not_found_status=200))
    assert client.poll(new_uuid()).status == 200


def test_polling_known_and_unknown_tasks_together_answers_both(
    client: MockClient, clock: FakeClock
) -> None:
    task, unknown = video_task(), new_uuid()
    client.submit(task)
    answer = client.poll(task["taskUUID"], unknown)
    assert answer.status == 200
    assert answer.statuses == ["processing"]
    assert [(e["code"], e["taskUUID"]) for e in answer.errors] == [("taskNotFound", unknown)]


def test_tasks_are_private_to_the_key_that_submitted_them(
    client: MockClient, clock: FakeClock
) -> None:
    task = video_task()
    client.submit(task)
    clock.advance(LATENCY)
    assert client.poll(task["taskUUID"], key="someone-else").codes == ["taskNotFound"]
    assert client.submit(task, key="someone-else").codes == ["conflictTaskUUID"]
    assert client.poll(task["taskUUID"]).statuses == ["success"]


def test_submit_and_poll_in_one_request(client: MockClient) -> None:
    task = video_task()
    answer = client.post([task, get_response(task["taskUUID"])])
    assert answer.data == [
        {"taskType": "videoInference", "taskUUID": task["taskUUID"]},
        {
            "taskType": "videoInference",
            "taskUUID": task["taskUUID"],
            "status": "processing",
            "progress": 0,
        },
    ]


def test_handle_is_the_transport_neutral_entry_point(clock: FakeClock) -> None:
    service = create_service(MockConfig(latency=2, clock=clock, render_mode="lazy"))
    task = video_task()

    def request(body: list[dict[str, object]], now: float) -> ApiRequest:
        return ApiRequest(body, api_key=API_KEY, transport="ws", base_url="http://h:1", now=now)

    ack = service.handle(request([task], 100.0))
    assert (ack.status, ack.payload) == (
        200,
        {"data": [{"taskType": "videoInference", "taskUUID": task["taskUUID"]}]},
    )
    poll = [get_response(task["taskUUID"])]
    early = service.handle(request(poll, 101.0))
    assert early.data[0]["progress"] == 50
    late = service.handle(request(poll, 102.0))
    assert late.data[0]["videoURL"].startswith("http://h:1/video/os/")
    assert [e.transport for e in service.journal] == ["ws", "ws", "ws"]
    assert [e.at for e in service.journal] == [100.0, 101.0, 102.0]
    service.close()


@given(task=st.uuids(), index=st.integers(0, MAX_RESULTS - 1), upper=st.booleans())
def test_a_video_uuid_names_its_task_and_keeps_its_version(
    task: uuid.UUID, index: int, upper: bool
) -> None:
    # Downloads find the task from the URL alone: nothing is stored per result.
    task_uuid = str(task).upper() if upper else str(task)
    video = uuid.UUID(video_uuid(task_uuid, index))
    assert video != task
    assert (video.version, video.variant) == (task.version, task.variant)
    assert task_uuids_of_video(str(video))[str(task)] == index
