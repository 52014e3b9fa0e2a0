"""Result files: rendered before success, served at their videoURL, expired after ttl.

Every test goes through the real server path: submit over POST /v1, poll to
success, download the videoURL over HTTP, probe the bytes with PyAV (and
ffprobe where installed).
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image
from support.server import (
    Answer,
    FakeClock,
    MockClient,
    assert_runware_shaped,
    get_response,
    video_task,
)

from ltxmock.media import probe
from ltxmock.server import MockConfig, MockService, create_app
from ltxmock.server.http.app import service_of

CONTAINERS = {"MP4": ("mov,mp4", "h264", "isom"), "MOV": ("mov,mp4", "h264", "qt  "),
              "WEBM": ("matroska,webm", "vp9", None)}  # fmt: skip
AUDIO = {"MP4": "aac", "MOV": "aac", "WEBM": "opus"}
TYPES = {"MP4": "video/mp4", "MOV": "video/quicktime", "WEBM": "video/webm"}


def wait_done(client: MockClient, task_uuid: str, timeout: float = 120.0) -> Answer:
    """Poll until no result is processing; every poll answered while rendering is checked."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.poll(task_uuid)
        assert_runware_shaped(answer.status, answer.body)
        processing = [i for i in answer.data if i["status"] == "processing"]
        for item in processing:
            assert not any(key.endswith("URL") for key in item), item
        if not processing:
            return answer
        assert time.monotonic() < deadline, f"still rendering after {timeout} s"
        time.sleep(0.05)


def download(client: MockClient, url: str, tmp: Path, **headers: str) -> tuple[Any, Path]:
    path = url.removeprefix("http://localhost")
    response = client.app.test_client().get(path, headers=headers)
    target = tmp / Path(path).name
    target.write_bytes(response.get_data())
    return response, target


# -- one shared eager server (the default process pool) for the probe tests --------
@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockClient]:
    app = create_app(MockConfig(latency=0, data_dir=tmp_path_factory.mktemp("data")))
    yield MockClient(app)
    service_of(app).close()


def check_file(path: Path, task: dict[str, Any], defaults: dict[str, Any]) -> None:
    wanted = {**defaults, **task}
    fmt = wanted["outputFormat"]
    audio = wanted.get("providerSettings", {}).get("lightricks", {}).get("generateAudio", False)
    got = probe(path)
    container, codec, brand = CONTAINERS[fmt]
    assert got.format_name.startswith(container)
    assert (got.video_codec, got.major_brand) == (codec, brand)
    assert (got.width, got.height) == (wanted["width"], wanted["height"])
    assert got.fps == Fraction(wanted["fps"])
    assert got.frame_count == wanted["duration"] * wanted["fps"]
    assert got.has_audio is audio
    assert got.audio_codec == (AUDIO[fmt] if audio else None)
    if shutil.which("ffprobe"):
        result = subprocess.run(
            ["ffprobe", "-v", "error", "-show_streams", "-count_frames", "-of", "json", str(path)],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        streams = json.loads(result.stdout)["streams"]
        video = next(s for s in streams if s["codec_type"] == "video")
        assert (video["width"], video["height"]) == (wanted["width"], wanted["height"])
        assert int(video["nb_read_frames"]) == wanted["duration"] * wanted["fps"]
        assert Fraction(video["avg_frame_rate"]) == wanted["fps"]
        assert any(s["codec_type"] == "audio" for s in streams) is audio


DEFAULTS = {"width": 1920, "height": 1080, "fps": 25, "duration": 6, "outputFormat": "MP4"}


def roundtrip(client: MockClient, tmp: Path, **params: Any) -> tuple[dict[str, Any], Path]:
    task = video_task(**params)
    for key in ("duration",):
        if key in params and params[key] is None:
            task.pop(key)  # None: leave it out, the document's default applies
    assert client.submit(task).status == 200
    done = wait_done(client, task["taskUUID"])
    assert done.statuses == ["success"], done.body
    response, path = download(client, done.data[0]["videoURL"], tmp)
    fmt = task.get("outputFormat", "MP4")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == TYPES[fmt]
    assert int(response.headers["Content-Length"]) == path.stat().st_size
    check_file(path, task, DEFAULTS)
    return task, path


SIZES = [(1920, 1080), (2560, 1440), (3840, 2160)]


@settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fmt=st.sampled_from(["MP4", "WEBM", "MOV"]),
    size=st.sampled_from(SIZES[:2]),
    fps=st.sampled_from([25, 50]),
    duration=st.sampled_from([6, 8]),
    audio=st.booleans(),
)
@example(fmt="MP4", size=(3840, 2160), fps=50, duration=10, audio=True)  # the heaviest request
@pytest.mark.slow
def test_any_request_downloads_as_exactly_that_video(
    shared: MockClient,
    tmp_path: Path,
    fmt: str,
    size: tuple[int, int],
    fps: int,
    duration: int,
    audio: bool,
) -> None:
    width, height = size
    roundtrip(
        shared,
        tmp_path,
        outputFormat=fmt,
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        providerSettings={"lightricks": {"generateAudio": audio}},
    )


def test_left_out_parameters_take_the_documents_defaults(
    shared: MockClient, tmp_path: Path
) -> None:
    _, path = roundtrip(shared, tmp_path, duration=None)  # and no fps, outputFormat
    assert path.suffix == ".mp4"
    assert probe(path).frame_count == 150  # 6 s x 25 fps, from the document's defaults


def test_a_result_is_processing_at_99_until_its_file_exists(tmp_path: Path) -> None:
    clock = FakeClock()
    app = create_app(
        MockConfig(latency=2, clock=clock, render_executor="thread", data_dir=tmp_path)
    )
    client = MockClient(app)
    try:
        task = video_task(numberResults=2)
        client.submit(task)
        clock.advance(2)
        first = client.poll(task["taskUUID"])
        # A 1080p render takes ~1 s: the first poll after the latency is still processing.
        assert first.data[0] == {
            "taskType": "videoInference",
            "taskUUID": task["taskUUID"],
            "status": "processing",
            "progress": 99,
        }
        done = wait_done(client, task["taskUUID"])
        assert done.statuses == ["success", "success"]
        urls = [item["videoURL"] for item in done.data]
        assert len(set(urls)) == 2  # one file per result: their cards show their own UUIDs
        for url in urls:
            assert download(client, url, tmp_path)[0].status_code == 200
    finally:
        service_of(app).close()


def test_the_first_frame_is_the_inline_image(shared: MockClient, tmp_path: Path) -> None:
    image = Image.new("RGB", (1920, 1080), (250, 20, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    data_uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    _, path = roundtrip(shared, tmp_path, inputs={"frameImages": [{"image": data_uri}]})
    import av

    with av.open(str(path)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    red, green, blue = (int(frame[..., c].mean()) for c in range(3))
    assert red > 200, (red, green, blue)
    assert max(green, blue) < 60, (red, green, blue)


def test_a_failed_render_ends_in_an_error_item(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, format="PNG")
    truncated = base64.b64encode(buffer.getvalue()[:60]).decode()  # a header, no pixels
    app = create_app(MockConfig(latency=0, render_executor="thread", data_dir=tmp_path))
    client = MockClient(app)
    try:
        task = video_task(inputs={"frameImages": [truncated]})
        client.submit(task)
        done = wait_done(client, task["taskUUID"], timeout=30)
        assert done.status == 200
        [error] = done.errors
        assert error["code"] == "processingFailed"
        assert error["status"] == "error"
        assert (error["taskUUID"], error["taskType"]) == (task["taskUUID"], "videoInference")
    finally:
        service_of(app).close()


# -- HTTP semantics --------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(shared: MockClient) -> str:
    task = video_task(ttl=60)
    shared.submit(task)
    done = wait_done(shared, task["taskUUID"])
    url: str = done.data[0]["videoURL"]
    return url.removeprefix("http://localhost")


def test_head_answers_the_headers_without_a_body(shared: MockClient, finished: str) -> None:
    http = shared.app.test_client()
    full = http.get(finished)
    head = http.head(finished)
    assert head.status_code == 200
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == str(len(full.get_data()))
    assert head.headers["Content-Type"] == "video/mp4"
    assert head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["ETag"] == full.headers["ETag"]
    # Saved under the URL's own name, never the cache file's.
    file_name = finished.rsplit("/", 1)[1]
    assert full.headers["Content-Disposition"] == f"inline; filename={file_name}"


def test_range_requests_get_206_with_content_range(shared: MockClient, finished: str) -> None:
    http = shared.app.test_client()
    whole = http.get(finished).get_data()
    part = http.get(finished, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert part.get_data() == whole[100:1100]
    tail = http.get(finished, headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.get_data()) == (206, whole[-10:])
    beyond = http.get(finished, headers={"Range": f"bytes={len(whole) + 5}-"})
    assert beyond.status_code == 416


def test_etag_if_none_match_gets_304(shared: MockClient, finished: str) -> None:
    http = shared.app.test_client()
    etag = http.get(finished).headers["ETag"]
    again = http.get(finished, headers={"If-None-Match": etag})
    assert (again.status_code, again.get_data()) == (304, b"")


@pytest.mark.parametrize(
    "path",
    [
        "/video/os/abcdef/ws/2/vi/6f1c2b52-4a5e-4c8e-9a57-2f0f3d1e9b10.mp4",  # unknown video
        "/video/os/abcdef/ws/2/vi/..%2F..%2Fltxmock.sqlite3",  # traversal
        "/video/os/abcdef/ws/2/vi/6f1c2b52-4a5e-4c8e-9a57-2f0f3d1e9b10.exe",
        "/video/os/../ws/2/vi/x.mp4",
    ],
)
def test_unknown_files_get_a_runware_shaped_404(shared: MockClient, path: str) -> None:
    answer = shared.request("GET", path)
    assert answer.status == 404
    assert answer.codes == ["notFound"]


def test_wrong_extension_or_shard_is_404(shared: MockClient, finished: str) -> None:
    assert shared.request("GET", finished.replace(".mp4", ".webm")).status == 404
    shard = finished.split("/")[3]
    assert shared.request("GET", finished.replace(shard, "000000")).status == 404


def test_an_unfinished_result_is_404_and_downloads_are_not_journaled(tmp_path: Path) -> None:
    clock = FakeClock()
    app = create_app(
        MockConfig(latency=10, clock=clock, render_executor="thread", data_dir=tmp_path)
    )
    client = MockClient(app)
    try:
        task = video_task()
        client.submit(task)
        clock.advance(10)
        url = wait_done(client, task["taskUUID"]).data[0]["videoURL"]
        path = url.removeprefix("http://localhost")
        clock.now -= 5  # before its latency: not announced yet
        assert client.request("GET", path).status == 404
        clock.now += 5
        entries = len(client.service.journal)
        assert app.test_client().get(path).status_code == 200
        assert len(client.service.journal) == entries
    finally:
        service_of(app).close()


def test_after_its_ttl_a_video_is_gone_and_its_file_deleted(tmp_path: Path) -> None:
    clock = FakeClock()
    app = create_app(
        MockConfig(latency=0, clock=clock, render_executor="thread", data_dir=tmp_path)
    )
    service: MockService = service_of(app)
    client = MockClient(app)
    try:
        task = video_task(ttl=60)
        client.submit(task)
        url = wait_done(client, task["taskUUID"]).data[0]["videoURL"]
        path = url.removeprefix("http://localhost")
        [record] = service.store.tasks.find([task["taskUUID"]])
        [row] = service.results.rows(record)
        file = service.results.path(row)
        assert file.is_file()
        clock.advance(59)
        assert app.test_client().get(path).status_code == 200
        clock.advance(1)
        gone = client.request("GET", path)
        assert (gone.status, gone.codes) == (410, ["mediaExpired"])
        assert not file.exists()
        # The purge path (any API request, once a minute) forgets the rows too.
        client.post([get_response(task["taskUUID"])])
        assert service.store.media.get(row.video_uuid) is None
        assert client.request("GET", path).status == 404
    finally:
        service.close()


def test_a_task_resubmitted_after_its_ttl_serves_its_video_again(tmp_path: Path) -> None:
    # The rendered file's stored row outlives the first task until the next purge:
    # the live namesake's download must not be answered 410 by it.
    clock = FakeClock()
    config = MockConfig(
        latency=0, clock=clock, render_mode="lazy", render_executor="thread", data_dir=tmp_path
    )
    app = create_app(config)
    client = MockClient(app)
    try:
        client.post([{"taskType": "ping"}])  # purges now, so next at +60
        clock.advance(30)
        task = video_task(ttl=60)
        client.submit(task)
        url = client.poll(task["taskUUID"]).data[0]["videoURL"]
        path = url.removeprefix("http://localhost")
        assert app.test_client().get(path).status_code == 200  # rendered, row stored
        clock.advance(30)
        client.post([{"taskType": "ping"}])  # a purge: nothing has expired yet
        clock.advance(30)  # the task has; the next purge is 30 s away
        assert client.submit(task).status == 200  # a new task with the same UUID
        again = app.test_client().get(path)
        assert (again.status_code, again.mimetype) == (200, "video/mp4")
    finally:
        service_of(app).close()


def test_a_restarted_server_renders_what_a_dead_one_left(tmp_path: Path) -> None:
    clock = FakeClock()
    config = MockConfig(latency=0, clock=clock, render_executor="thread", data_dir=tmp_path)
    before = create_app(config.replace(render_mode="lazy"))  # accepts, never renders
    task = video_task()
    MockClient(before).submit(task)
    service_of(before).close()
    after = create_app(config)
    try:
        done = wait_done(MockClient(after), task["taskUUID"])
        assert done.statuses == ["success"]
    finally:
        service_of(after).close()


def test_serve_starts_without_importing_the_renderer() -> None:
    code = (
        "import sys; from ltxmock.server import create_app; create_app(); "
        "print(sorted(m for m in ('av', 'numpy', 'PIL') if m in sys.modules))"
    )
    out = subprocess.run(
        [__import__("sys").executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_the_in_memory_store_cleans_its_media_directory_up(tmp_path: Path) -> None:
    app: Flask = create_app(MockConfig(latency=0, render_executor="thread"))
    client = MockClient(app)
    task = video_task()
    client.submit(task)
    wait_done(client, task["taskUUID"])
    root = service_of(app).results.root
    assert any(root.iterdir())
    service_of(app).close()
    assert not root.exists()
