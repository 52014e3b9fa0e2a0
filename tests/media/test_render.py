"""Rendered videos are real files whose probed properties match the request exactly."""

from __future__ import annotations

import base64
import io
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading
from fractions import Fraction

import av
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFont

from ltxmock.media import (
    CONTENT_TYPES,
    EXTENSIONS,
    RenderCache,
    RenderError,
    RenderSpec,
    decode_image_input,
    probe,
    quality_to_crf,
    render_video,
)
from ltxmock.media.card import build_card, counter_region, wrap_text
from ltxmock.media.render import card_text

U8 = npt.NDArray[np.uint8]

SIZES = [(1920, 1080), (2560, 1440), (3840, 2160)]
TASK = "6f1c2b52-4a5e-4c8e-9a57-2f0f3d1e9b10"
VIDEO = "aac49721-1964-481a-ae78-8a4e29b91402"
EXPECTED = {
    # format -> (demuxer name contains, video codec, audio codec, ISO major brand)
    "MP4": ("mp4", "h264", "aac", "isom"),
    "MOV": ("mov", "h264", "aac", "qt  "),
    "WEBM": ("webm", "vp9", "opus", None),
}


def make_spec(**changes: object) -> RenderSpec:
    fields: dict[str, object] = {
        "width": 1920,
        "height": 1080,
        "fps": 25,
        "duration": 6,
        "output_format": "MP4",
        "generate_audio": False,
        "prompt": "A slow dolly shot through a neon-lit alley in the rain, reflections everywhere",
        "task_uuid": TASK,
        "video_uuid": VIDEO,
    }
    fields.update(changes)
    return RenderSpec(**fields)  # type: ignore[arg-type]


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (640, 360)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def expected_yuv(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """BT.709 limited-range Y, Cb, Cr of an RGB colour."""
    r, g, b = (c / 255 for c in rgb)
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return 16 + 219 * y, 128 + 224 * (b - y) / 1.8556, 128 + 224 * (r - y) / 1.5748


def planes(frame: av.VideoFrame) -> tuple[U8, U8, U8]:
    out = []
    for plane in frame.planes:
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
        out.append(rows[:, : plane.width].copy())
    return out[0], out[1], out[2]


def decoded_frames(path: pathlib.Path, count: int) -> list[av.VideoFrame]:
    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


def assert_matches(spec: RenderSpec, path: pathlib.Path) -> None:
    info = probe(path)
    demuxer, vcodec, acodec, brand = EXPECTED[spec.output_format]
    assert demuxer in info.format_name.split(",")
    assert info.major_brand == brand
    assert info.video_codec == vcodec
    assert (info.width, info.height) == (spec.width, spec.height)
    assert info.fps == Fraction(spec.fps)
    assert info.frame_count == spec.duration * spec.fps  # counted by decoding every frame
    assert info.video_duration == pytest.approx(spec.duration, abs=1e-6)
    assert info.has_audio is spec.generate_audio
    assert info.audio_codec == (acodec if spec.generate_audio else None)
    assert path.suffix == "." + EXTENSIONS[spec.output_format]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> RenderCache:
    """Shared renders, so several tests can inspect one file without re-encoding it."""
    return RenderCache(tmp_path_factory.mktemp("media-cache"))


# --- container / stream properties ---------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"output_format": "MP4", "generate_audio": True}, id="mp4-1080p-6s-25-audio"),
        pytest.param({"output_format": "WEBM"}, id="webm-1080p-6s-25-silent"),
        pytest.param({"output_format": "WEBM", "generate_audio": True}, id="webm-audio"),
        pytest.param({"output_format": "MOV", "fps": 50, "generate_audio": True}, id="mov-50fps"),
        pytest.param({"output_format": "MP4", "width": 2560, "height": 1440}, id="mp4-1440p"),
    ],
)
def test_examples_probe_exactly(cache: RenderCache, changes: dict[str, object]) -> None:
    spec = make_spec(**changes)
    assert_matches(spec, cache.get_or_render(spec))


@settings(
    max_examples=4,  # each example is a full-size render (up to 4K/10 s/50 fps)
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@example(fmt="MP4", size=(3840, 2160), fps=50, duration=10, audio=True)  # the heaviest case
@given(
    fmt=st.sampled_from(sorted(CONTENT_TYPES)),
    size=st.sampled_from(SIZES),
    fps=st.sampled_from([25, 50]),
    duration=st.sampled_from([6, 8, 10]),
    audio=st.booleans(),
)
def test_any_request_probes_exactly(
    tmp_path_factory: pytest.TempPathFactory,
    fmt: str,
    size: tuple[int, int],
    fps: int,
    duration: int,
    audio: bool,
) -> None:
    spec = make_spec(
        output_format=fmt,
        width=size[0],
        height=size[1],
        fps=fps,
        duration=duration,
        generate_audio=audio,
    )
    out = tmp_path_factory.mktemp("prop") / f"video.{EXTENSIONS[fmt]}"
    try:
        assert render_video(spec, out) == out
        assert_matches(spec, out)
    finally:
        out.unlink(missing_ok=True)


def test_metadata_count_agrees_with_decoding(cache: RenderCache) -> None:
    for fmt in ("MP4", "WEBM"):
        path = cache.get_or_render(make_spec(output_format=fmt))
        assert probe(path, decode=False).frame_count == probe(path).frame_count == 150


def test_content_types_and_extensions() -> None:
    assert CONTENT_TYPES == {"MP4": "video/mp4", "WEBM": "video/webm", "MOV": "video/quicktime"}
    assert EXTENSIONS == {"MP4": "mp4", "WEBM": "webm", "MOV": "mov"}
    assert make_spec(output_format="mov").content_type == "video/quicktime"


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe binary not on PATH")
def test_ffprobe_agrees(cache: RenderCache) -> None:
    spec = make_spec(generate_audio=True)
    path = cache.get_or_render(spec)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-count_frames", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    streams = json.loads(result.stdout)["streams"]
    video = next(s for s in streams if s["codec_type"] == "video")
    assert video["codec_name"] == "h264"
    assert (video["width"], video["height"]) == (1920, 1080)
    assert video["r_frame_rate"] == "25/1"
    assert int(video["nb_read_frames"]) == 150
    assert [s["codec_name"] for s in streams if s["codec_type"] == "audio"] == ["aac"]


# --- picture content -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["MP4", "WEBM", "MOV"])
def test_first_frame_is_the_given_image(tmp_path: pathlib.Path, fmt: str) -> None:
    colour = (200, 40, 120)
    spec = make_spec(output_format=fmt, first_frame=png_bytes(colour))
    path = render_video(spec, tmp_path / f"v.{EXTENSIONS[fmt]}")
    first, second = decoded_frames(path, 2)
    want = expected_yuv(colour)
    got = [float(p.mean()) for p in planes(first)]
    assert got == pytest.approx(want, abs=3), "first frame should be the solid colour"
    y2, _u2, v2 = planes(second)
    assert abs(float(y2.mean()) - want[0]) > 10 or abs(float(v2.mean()) - want[2]) > 10
    assert probe(path).frame_count == 150  # the image replaces frame 0, it is not extra


def test_first_frame_is_letterboxed(tmp_path: pathlib.Path) -> None:
    colour = (30, 200, 60)
    spec = make_spec(first_frame=png_bytes(colour, size=(300, 300)))
    (first,) = decoded_frames(render_video(spec, tmp_path / "v.mp4"), 1)
    y, _, _ = planes(first)
    assert float(y[:, :300].mean()) == pytest.approx(16, abs=3)  # black pillarbox
    assert float(y[:, 600:1300].mean()) == pytest.approx(expected_yuv(colour)[0], abs=3)


def test_counter_changes_every_frame(cache: RenderCache) -> None:
    spec = make_spec()
    frames = decoded_frames(cache.get_or_render(spec), 4)
    x0, y0, x1, y1 = counter_region(spec.width, spec.height, spec.frame_count)
    lumas = [planes(f)[0].astype(np.int16) for f in frames]
    for a, b in itertools.pairwise(lumas):
        counter = np.abs(a[y0:y1, x0:x1] - b[y0:y1, x0:x1])
        assert int(counter.max()) > 100, "counter digits should change between frames"
        rest = np.abs(a[: y0 - 8] - b[: y0 - 8])
        assert float(rest.mean()) < 0.5, "the rest of the card is static"


def test_counter_shows_the_frame_index(cache: RenderCache) -> None:
    spec = make_spec()
    x0, y0, x1, y1 = counter_region(spec.width, spec.height, spec.frame_count)
    card = build_card(card_text(spec))

    def reference(index: int) -> npt.NDArray[np.int16]:
        return planes(card.render(index))[0][y0:y1, x0:x1].astype(np.int16)

    wanted = (0, 1, 37, 149)
    decoded: dict[int, npt.NDArray[np.int16]] = {}
    with av.open(str(cache.get_or_render(spec))) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                decoded[index] = planes(frame)[0][y0:y1, x0:x1].astype(np.int16)
    assert sorted(decoded) == list(wanted)
    for index, got in decoded.items():
        own = float(np.abs(got - reference(index)).mean())
        # Neighbouring frames differ in only a digit or two, so compare relative errors.
        neighbour = min(
            float(np.abs(got - reference(other)).mean())
            for other in (index - 1, index + 1)
            if 0 <= other < spec.frame_count
        )
        assert own < neighbour / 4


def test_quality_maps_to_crf_and_file_size(tmp_path: pathlib.Path) -> None:
    assert quality_to_crf(95, (16, 40)) == 17
    assert quality_to_crf(99, (16, 40)) == 16
    assert quality_to_crf(20, (16, 40)) == 40
    low = render_video(make_spec(quality=20), tmp_path / "low.mp4").stat().st_size
    high = render_video(make_spec(quality=99), tmp_path / "high.mp4").stat().st_size
    assert low < high


# --- inputs and failure handling --------------------------------------------------------


def test_decode_image_input() -> None:
    png = png_bytes((1, 2, 3), size=(4, 4))
    b64 = base64.b64encode(png).decode()
    assert decode_image_input(f"data:image/png;base64,{b64}") == png
    assert decode_image_input(b64) == png
    assert decode_image_input(b64.rstrip("=")) == png  # missing padding is tolerated
    assert decode_image_input(f"data:image/png;base64,{b64[:40]}\n{b64[40:]}") == png
    assert decode_image_input("aac49721-1964-481a-ae78-8a4e29b91402") is None
    assert decode_image_input("https://example.com/cat.png") is None
    assert decode_image_input(base64.b64encode(b"not an image at all").decode()) is None
    assert decode_image_input("data:image/png;base64,@@@") is None
    assert decode_image_input("data:text/plain;base64," + b64) is None
    assert decode_image_input("") is None


def test_cache_key_is_stable_and_complete() -> None:
    spec = make_spec()
    assert spec.cache_key() == make_spec().cache_key() == make_spec(duration=6.0).cache_key()
    assert len(spec.cache_key()) == 64
    assert spec.cache_key() == make_spec(output_format="mp4").cache_key()
    variants = [
        make_spec(width=2560, height=1440),
        make_spec(fps=50),
        make_spec(duration=8),
        make_spec(output_format="WEBM"),
        make_spec(generate_audio=True),
        make_spec(prompt="other"),
        make_spec(task_uuid=VIDEO),
        make_spec(video_uuid=TASK),
        make_spec(quality=90),
        make_spec(first_frame=b"x"),
    ]
    keys = {v.cache_key() for v in variants} | {spec.cache_key()}
    assert len(keys) == len(variants) + 1
    assert make_spec(duration=10, fps=50).frame_count == 500


@pytest.mark.parametrize(
    "changes",
    [
        {"output_format": "GIF"},
        {"width": 1921},
        {"quality": 100},
        {"duration": 0},
        {"first_frame": b"definitely not an image"},
    ],
)
def test_bad_specs_raise_and_leave_nothing_behind(
    tmp_path: pathlib.Path, changes: dict[str, object]
) -> None:
    dest = tmp_path / "out.mp4"
    with pytest.raises(RenderError):
        render_video(make_spec(**changes), dest)
    assert list(tmp_path.iterdir()) == []


# --- cache --------------------------------------------------------------------------------


@pytest.fixture
def counting_cache(tmp_path: pathlib.Path) -> tuple[RenderCache, list[RenderSpec]]:
    calls: list[RenderSpec] = []
    lock = threading.Lock()

    def renderer(spec: RenderSpec, dest: pathlib.Path) -> pathlib.Path:
        with lock:
            calls.append(spec)
        return render_video(spec, dest)

    return RenderCache(tmp_path / "cache", renderer=renderer), calls


def test_cache_renders_once(counting_cache: tuple[RenderCache, list[RenderSpec]]) -> None:
    cache, calls = counting_cache
    spec = make_spec()
    path = cache.get_or_render(spec)
    mtime = path.stat().st_mtime_ns
    assert cache.get_or_render(make_spec()) == path
    assert path.stat().st_mtime_ns == mtime
    assert len(calls) == cache.render_count == 1
    assert path.parent == cache.root
    assert path.name == f"{spec.cache_key()}.mp4"
    assert cache.get(spec.cache_key()) == path
    assert not [p for p in cache.root.iterdir() if p.suffix == ".part"]

    assert cache.evict(spec.cache_key()) is True
    assert not path.exists()
    assert cache.get(spec.cache_key()) is None
    assert cache.evict(spec.cache_key()) is False
    assert cache.get_or_render(spec) == path
    assert len(calls) == 2


def test_cache_concurrent_requests_render_once(
    counting_cache: tuple[RenderCache, list[RenderSpec]],
) -> None:
    cache, calls = counting_cache
    spec = make_spec(output_format="WEBM")
    barrier = threading.Barrier(6)
    results: list[pathlib.Path] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(cache.get_or_render(spec))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert len(results) == 6
    assert len(set(results)) == 1
    assert len(calls) == cache.render_count == 1
    assert probe(results[0]).frame_count == 150


def test_cache_purges_stale_partials(tmp_path: pathlib.Path) -> None:
    stale, fresh = tmp_path / ".abc.mp4.x1.part", tmp_path / ".abc.mp4.x2.part"
    stale.write_bytes(b"")
    fresh.write_bytes(b"")
    os.utime(stale, (0, 0))
    RenderCache(tmp_path)
    assert not stale.exists()
    assert fresh.exists()


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 64, "abc", "0" * 63 + "/"])
def test_cache_rejects_non_hex_keys(tmp_path: pathlib.Path, key: str) -> None:
    cache = RenderCache(tmp_path)
    with pytest.raises(ValueError, match="hex"):
        cache.evict(key)
    with pytest.raises(ValueError, match="hex"):
        cache.get(key)


_CHILD = """
import os, pathlib, sys, time
from ltxmock.media import RenderCache, RenderSpec

root, log = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])

def fake_render(spec, dest):
    with open(log, "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(0.3)
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_bytes(b"video")
    os.replace(tmp, dest)
    return dest

(root / f"ready-{os.getpid()}").touch()
deadline = time.monotonic() + 30
while len(list(root.glob("ready-*"))) < 2 and time.monotonic() < deadline:
    time.sleep(0.01)
spec = RenderSpec(1920, 1080, 25, 6, "MP4", False, "prompt", "task", "video")
print(RenderCache(root, renderer=fake_render).get_or_render(spec))
"""


def test_cache_two_processes_render_once(tmp_path: pathlib.Path) -> None:
    log = tmp_path / "renders.log"
    cmd = [sys.executable, "-c", _CHILD, str(tmp_path), str(log)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outputs[0] == outputs[1]
    assert pathlib.Path(outputs[0]).read_bytes() == b"video"
    assert len(log.read_text().splitlines()) == 1


def test_prompt_wrapping_truncates_with_ellipsis() -> None:
    font = ImageFont.load_default(size=20)
    assert isinstance(font, ImageFont.FreeTypeFont)
    lines = wrap_text("short\n\nnext " + "word " * 500 + "x" * 300, font, 400, 5)
    assert len(lines) == 5
    assert lines[:2] == ["short", ""]
    assert lines[-1].endswith("…")
    assert all(font.getlength(line) <= 400 for line in lines)
    long_word = wrap_text("y" * 200, font, 300, 10)
    assert "".join(long_word) == "y" * 200
    assert all(font.getlength(line) <= 300 for line in long_word)
