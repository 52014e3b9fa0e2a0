"""``--record-media``: the result video is kept beside the cassette and served by replay."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from support.proxy import proxy_to
from support.server import API_KEY, FakeClock, MockClient, get_response, new_uuid, video_task

from ltxmock.server import create_app
from ltxmock.testing import MockServer

pytestmark = pytest.mark.slow  # renders one 1080p video


def test_a_recorded_video_is_replayed_from_the_cassette(tmp_path: Path) -> None:
    task = video_task()
    with (
        MockServer(latency=0.2, api_keys=[API_KEY]) as upstream,
        proxy_to(upstream.url, record_dir=tmp_path, record_media=True) as proxy,
    ):
        assert proxy.post([task]).status_code == 200
        deadline = time.monotonic() + 30
        while True:
            (item,) = proxy.post([get_response(task["taskUUID"])]).json()["data"]
            if item["status"] == "success" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        proxy.app.checker.join(120)  # the download runs on the checker's thread
    video = item["videoUUID"]
    recorded = tmp_path / "media" / f"{video}.mp4"
    assert recorded.read_bytes()[4:8] == b"ftyp"  # an MP4
    lines = (tmp_path / f"{task['taskUUID']}.jsonl").read_text().splitlines()
    assert {"event": "media", "t": json.loads(lines[-1])["t"], "videoUUID": video,
            "file": f"media/{video}.mp4"} == json.loads(lines[-1])  # fmt: skip

    clock = FakeClock()
    client = MockClient(create_app(clock=clock, replay_dir=tmp_path, replay_strict=True))
    mine = {**task, "taskUUID": new_uuid()}
    assert client.submit(mine).status == 200
    clock.advance(60)
    (replayed,) = client.poll(mine["taskUUID"]).data
    assert replayed["videoURL"] == f"http://localhost/replay/media/{video}.mp4"
    download = client.app.test_client().get(f"/replay/media/{video}.mp4")
    assert download.data == recorded.read_bytes()
