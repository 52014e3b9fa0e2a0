"""The cassette format: what is kept, what is redacted, what is read back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from support.server import video_task

from ltxmock.server.core.cassette import (
    CassetteWriter,
    load_cassettes,
    match_key,
    read_cassette,
    redact_value,
)

# "Zq" starts no word of the surrounding text: a generated secret cannot be found there by chance.
secrets = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=40).map(
    lambda text: f"Zq{text}"
)


@given(key=secrets, token=secrets)
def test_keys_and_signed_queries_never_reach_the_file(key: str, token: str) -> None:
    task = video_task(
        webhookURL=f"https://hooks.example/cb?token={token}",
        uploadEndpoint=f"https://bucket.example/up.mp4?X-Amz-Signature={token}&X-Amz-Credential=a",
        providerSettings={"nested": [{"apiKey": key}]},
    )
    text = json.dumps(redact_value([{"taskType": "authentication", "apiKey": key}, task]))
    assert key not in text
    assert token not in text
    assert "https://hooks.example/cb?[redacted]" in text


@given(first=st.uuids(version=4), second=st.uuids(version=4))
def test_tasks_match_on_their_parameters_taskuuid_aside(first: Any, second: Any) -> None:
    task = video_task(taskUUID=str(first), webhookURL="https://h.example/x?sig=1")
    same = {**task, "taskUUID": str(second), "webhookURL": "https://h.example/x?sig=2"}
    assert match_key(task) == match_key(same)
    assert match_key(task) != match_key({**task, "duration": 8})


def test_a_recorded_task_reads_back(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path)
    task = video_task()
    uuid = task["taskUUID"]
    assert writer.submit(task, at=100.0, transport="rest")
    writer.add(uuid, {"event": "ack", "status": 200, "item": {"taskUUID": uuid}}, at=100.01)
    processing = {"taskUUID": uuid, "status": "processing"}
    writer.add(uuid, {"event": "poll", "status": 200, "data": [processing], "errors": []}, at=101)
    with (tmp_path / f"{uuid}.jsonl").open("a") as f:
        f.write('{"event": "poll", "t": 2, "da')  # a line cut short by a crash
    cassette = read_cassette(tmp_path / f"{uuid}.jsonl")
    assert cassette is not None
    assert cassette.ack == {"taskUUID": uuid}
    assert [p["t"] for p in cassette.polls] == [1.0]
    assert cassette.task == task


def test_taskuuids_that_are_no_file_names_are_not_recorded(tmp_path: Path) -> None:
    writer = CassetteWriter(tmp_path)
    assert not writer.submit(video_task(taskUUID="../../etc/passwd"), at=0, transport="rest")
    assert list(tmp_path.iterdir()) == []


def test_media_outside_the_cassette_folder_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "secret.mp4").write_bytes(b"x")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "ok.mp4").write_bytes(b"video")
    task = video_task()
    uuid = task["taskUUID"]
    writer = CassetteWriter(tmp_path)
    writer.submit(task, at=0, transport="rest")
    writer.add(uuid, {"event": "ack", "status": 200, "item": {"taskUUID": uuid}}, at=0)
    for name in ("../secret.mp4", "media/../secret.mp4", "/etc/passwd", "media/ok.mp4"):
        writer.add(uuid, {"event": "media", "videoUUID": name, "file": name}, at=1)
    (cassette,) = load_cassettes(tmp_path)
    assert cassette.media == {"media/ok.mp4": (tmp_path / "media" / "ok.mp4").resolve()}


def test_files_that_are_not_cassettes_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"event": "submit"}\n')
    (tmp_path / "b.jsonl").write_text("not json\n")
    (tmp_path / "c.jsonl").write_bytes(b"\xff\xfe")
    assert load_cassettes(tmp_path) == []
