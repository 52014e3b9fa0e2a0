"""``serve --replay``: recorded tasks answered from their cassettes, in recorded time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.server import API_KEY, FakeClock, MockClient, get_response, new_uuid, video_task

from ltxmock.server import create_app
from ltxmock.server.core.cassette import CassetteWriter


def record(directory: Path, task: dict[str, Any], *, media: bool = False) -> str:
    """A cassette of ``task``: acked at 0.01 s, processing at 1 s, success at 3 s."""
    uuid = task["taskUUID"]
    video = new_uuid()
    writer = CassetteWriter(directory)
    writer.submit(task, at=0, transport="rest")
    writer.add(
        uuid,
        {"event": "ack", "status": 200, "item": {"taskType": "videoInference", "taskUUID": uuid}},
        at=0.01,
    )
    processing = {"taskType": "videoInference", "taskUUID": uuid, "status": "processing"}
    writer.add(uuid, {"event": "poll", "status": 200, "data": [processing], "errors": []}, at=1)
    done = {
        **processing,
        "status": "success",
        "videoUUID": video,
        "videoURL": f"https://vm.example/{video}.mp4?sig=x",
    }
    writer.add(uuid, {"event": "poll", "status": 200, "data": [done], "errors": []}, at=3)
    if media:
        (directory / "media").mkdir(exist_ok=True)
        (directory / "media" / f"{video}.mp4").write_bytes(b"recorded video")
        writer.add(uuid, {"event": "media", "videoUUID": video, "file": f"media/{video}.mp4"}, at=3)
    return video


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def replaying(directory: Path, clock: FakeClock, **config: Any) -> MockClient:
    app = create_app(latency=0, clock=clock, replay_dir=directory, render_mode="lazy", **config)
    return MockClient(app)


def test_a_recorded_task_replays_with_its_timing_and_the_callers_uuid(
    tmp_path: Path, clock: FakeClock
) -> None:
    recorded = video_task(includeCost=True)
    video = record(tmp_path, recorded)
    client = replaying(tmp_path, clock, replay_speed=2)
    mine = {**recorded, "taskUUID": new_uuid()}
    assert client.post([mine]).body == {
        "data": [{"taskType": "videoInference", "taskUUID": mine["taskUUID"]}]
    }
    clock.advance(0.25)  # 0.5 s of the recording: before its first poll, still processing
    assert client.poll(mine["taskUUID"]).statuses == ["processing"]
    clock.advance(1.0)  # 2.5 s: the poll recorded at 1 s
    assert client.poll(mine["taskUUID"]).statuses == ["processing"]
    clock.advance(0.5)  # 3.5 s: success
    (item,) = client.poll(mine["taskUUID"]).data
    assert (item["taskUUID"], item["videoUUID"], item["status"]) == (
        mine["taskUUID"],
        video,
        "success",
    )


def test_long_prompts_that_differ_late_replay_their_own_recordings(
    tmp_path: Path, clock: FakeClock
) -> None:
    # Cassettes keep a shortened copy of strings over 2 KiB (the journal's rule);
    # matching must still read the whole prompt (the API allows 10,000 characters).
    preamble = "A slow dolly shot over a misty valley at dawn, " * 60  # 2,820 characters
    videos = {}
    for ending in ("red car", "tan car"):
        task = video_task(positivePrompt=f"{preamble}then a {ending}")
        videos[ending] = record(tmp_path, task)
    client = replaying(tmp_path, clock, replay_strict=True)
    for ending, video in videos.items():
        mine = video_task(positivePrompt=f"{preamble}then a {ending}")
        assert client.post([mine]).status == 200
        clock.advance(5)
        (item,) = client.poll(mine["taskUUID"]).data
        assert (item["status"], item["videoUUID"]) == ("success", video)
    unknown = video_task(positivePrompt=f"{preamble}then a van car")
    assert client.post([unknown]).status == 400  # strict: no cassette has that prompt


def test_a_cassette_written_before_match_digests_still_replays(
    tmp_path: Path, clock: FakeClock
) -> None:
    recorded = video_task()
    video = record(tmp_path, recorded)
    path = tmp_path / f"{recorded['taskUUID']}.jsonl"
    first, *rest = path.read_text(encoding="utf-8").splitlines()
    submit = json.loads(first)
    del submit["match"]  # as ltxmock wrote it before
    path.write_text("\n".join([json.dumps(submit), *rest]) + "\n", encoding="utf-8")
    client = replaying(tmp_path, clock, replay_strict=True)
    mine = {**recorded, "taskUUID": new_uuid()}
    assert client.post([mine]).status == 200
    clock.advance(5)
    assert client.poll(mine["taskUUID"]).data[0]["videoUUID"] == video


def test_recorded_media_is_served_from_the_cassette(tmp_path: Path, clock: FakeClock) -> None:
    recorded = video_task()
    record(tmp_path, recorded, media=True)
    client = replaying(tmp_path, clock)
    mine = {**recorded, "taskUUID": new_uuid()}
    client.post([mine])
    clock.advance(5)
    (item,) = client.poll(mine["taskUUID"]).data
    path = item["videoURL"].removeprefix("http://localhost")
    assert path.startswith("/replay/media/")
    download = client.app.test_client().get(path)
    assert (download.status_code, download.data) == (200, b"recorded video")
    assert client.app.test_client().get("/replay/media/..%2Fx.mp4").status_code == 404


def test_unmatched_tasks_fall_back_to_the_mock(tmp_path: Path, clock: FakeClock) -> None:
    record(tmp_path, video_task())
    client = replaying(tmp_path, clock)
    other = video_task(duration=8)
    assert client.post([other]).status == 200
    clock.advance(1)
    assert client.poll(other["taskUUID"]).statuses == ["success"]  # the mock's own, latency 0


def test_strict_replay_refuses_what_no_cassette_knows(tmp_path: Path, clock: FakeClock) -> None:
    record(tmp_path, video_task())
    client = replaying(tmp_path, clock, replay_strict=True)
    other = video_task(duration=8)
    answer = client.post([other])
    assert answer.status == 400
    assert answer.codes == ["replayNoMatch"]
    assert answer.errors[0]["taskUUID"] == other["taskUUID"]
    assert client.post([get_response(new_uuid())]).codes == ["replayNoMatch"]


def test_the_mock_still_checks_keys_and_bodies(tmp_path: Path, clock: FakeClock) -> None:
    recorded = video_task()
    record(tmp_path, recorded)
    client = replaying(tmp_path, clock, api_keys=[API_KEY], replay_strict=True)
    assert MockClient(client.app, key="wrong").post([recorded]).status == 401
    assert client.post([{**recorded, "duration": 7}]).codes == ["unsupportedDuration"]


def test_a_replay_dir_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="replay_dir"):
        create_app(replay_dir=tmp_path / "nothing")
