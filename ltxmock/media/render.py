"""Render real, playable MP4 / WEBM / MOV files for mocked LTX-2 Fast video results.

Speed comes from doing the expensive work once per file: the test card is drawn with
Pillow and converted to yuv420p a single time, then each frame only rewrites the small
counter region of the Y plane (see ``card.py``) before handing the same frame to a fast
encoder preset.  Measured numbers are in ``bench/media.py``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import pathlib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc
from av.video.stream import VideoStream
from PIL import Image, UnidentifiedImageError

from ltxmock.media.card import CardText, build_card, image_to_frame
from ltxmock.media.errors import RenderError

__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "RENDERER_VERSION",
    "RenderError",
    "RenderSpec",
    "card_text",
    "decode_image_input",
    "quality_to_crf",
    "render_video",
]

# Bump when the picture or encoder settings change, so cached files are not reused.
RENDERER_VERSION: Final = "1"

CONTENT_TYPES: Final[dict[str, str]] = {
    "MP4": "video/mp4",
    "WEBM": "video/webm",
    "MOV": "video/quicktime",
}
EXTENSIONS: Final[dict[str, str]] = {"MP4": "mp4", "WEBM": "webm", "MOV": "mov"}

AUDIO_RATE: Final = 48_000
MAX_DIMENSION: Final = 8192
MAX_FRAMES: Final = 10 * 60 * 60  # one minute at 60 fps is far beyond any real request


@dataclass(frozen=True)
class _Format:
    muxer: str
    video_codec: Literal["libx264", "libvpx-vp9"]
    video_label: str
    audio_codec: Literal["aac", "libopus"]
    audio_label: str
    # (best, worst) CRF of the encoder; outputQuality 99 -> best, 20 -> worst.
    crf_range: tuple[int, int]
    container_options: dict[str, str]


_FORMATS: Final[dict[str, _Format]] = {
    # faststart moves the moov atom to the front so browsers can start playing at once.
    "MP4": _Format("mp4", "libx264", "H.264", "aac", "AAC", (16, 40), {"movflags": "+faststart"}),
    "MOV": _Format("mov", "libx264", "H.264", "aac", "AAC", (16, 40), {"movflags": "+faststart"}),
    "WEBM": _Format("webm", "libvpx-vp9", "VP9", "libopus", "Opus", (20, 52), {}),
}

# ultrafast encodes the card faster than superfast (the files are larger, irrelevant
# for a mock); tune=stillimage / zerolatency / fastdecode were all within run-to-run
# noise at 1080p and 4K, so no tune is set (bench/media.py measures the renderer).
_X264_OPTIONS: Final = {"preset": "ultrafast"}
# VP9 realtime at the highest speed libvpx accepts; row-mt lets both cores work per frame.
_VP9_OPTIONS: Final = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "b": "0"}


def quality_to_crf(quality: int, crf_range: tuple[int, int]) -> int:
    """Linear map of outputQuality 20..99 onto (best, worst) CRF; 95 -> ~17 for x264."""
    best, worst = crf_range
    q = min(99, max(20, quality))
    return round(worst - (q - 20) * (worst - best) / (99 - 20))


@dataclass(frozen=True)
class RenderSpec:
    """One video result to render; ``output_format`` is normalised to upper case."""

    width: int
    height: int
    fps: int
    duration: float  # seconds
    output_format: str  # "MP4" | "WEBM" | "MOV"
    generate_audio: bool
    prompt: str
    task_uuid: str
    video_uuid: str
    quality: int = 95
    first_frame: bytes | None = None  # encoded image bytes (PNG/JPEG/...)
    model: str = ""  # the AIR id the task asked for, printed on the card

    def __post_init__(self) -> None:
        # Normalised here so "mp4" and "MP4" share one cache key.
        object.__setattr__(self, "output_format", str(self.output_format).upper())

    def cache_key(self) -> str:
        """sha256 over every field (the first frame by its own hash) plus the renderer version."""
        fields: dict[str, object] = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bytes):
                value = hashlib.sha256(value).hexdigest()
            elif isinstance(value, float) and value.is_integer():
                value = int(value)  # 6 and 6.0 are the same request
            fields[field.name] = value
        payload = json.dumps(
            {"v": RENDERER_VERSION, "spec": fields}, sort_keys=True, ensure_ascii=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def frame_count(self) -> int:
        """duration x fps, the exact number of frames in the rendered file."""
        return max(0, round(self.duration * self.fps))

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.output_format]

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.output_format]

    def validate(self) -> None:
        """Raise RenderError for anything the encoder cannot honour exactly."""
        for name in ("width", "height", "fps", "quality"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise RenderError(f"{name} must be an integer")
        if self.output_format not in _FORMATS:
            raise RenderError(f"unsupported output format {self.output_format!r}")
        for name, value in (("width", self.width), ("height", self.height)):
            if not 16 <= value <= MAX_DIMENSION or value % 2:
                raise RenderError(f"{name} must be an even number in 16..{MAX_DIMENSION}")
        if not 1 <= self.fps <= 240:
            raise RenderError("fps must be in 1..240")
        if not 1 <= self.frame_count <= MAX_FRAMES:
            raise RenderError(f"duration x fps must give 1..{MAX_FRAMES} frames")
        if abs(self.duration * self.fps - self.frame_count) > 1e-6:
            raise RenderError("duration x fps must be a whole number of frames")
        if not 20 <= self.quality <= 99:
            raise RenderError("quality must be in 20..99")


_DATA_URI = re.compile(r"data:image/[A-Za-z0-9.+-]+;base64,(?P<data>.*)", re.DOTALL)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def decode_image_input(value: str) -> bytes | None:
    """Image bytes from a ``data:image/...;base64,`` URI or bare base64, else None.

    UUIDs and URLs (which contain ``-``, ``:`` or ``.``) never match the base64 alphabet;
    anything that decodes but is not an image Pillow recognises is also rejected.
    """
    text = value.strip()
    match = _DATA_URI.fullmatch(text)
    payload = "".join((match.group("data") if match else text).split())
    if not payload or not _BASE64.fullmatch(payload):
        return None
    payload += "=" * (-len(payload) % 4)
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        # Image.open only parses the header, so this stays cheap for large inputs.
        with Image.open(io.BytesIO(raw)) as img:
            if not img.format:
                return None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return raw


def card_text(spec: RenderSpec) -> CardText:
    """What the test card prints for ``spec`` (also used by the benchmark's naive path)."""
    fmt = _FORMATS[spec.output_format]
    audio = (
        f"audio {fmt.audio_label} {AUDIO_RATE // 1000} kHz" if spec.generate_audio else "no audio"
    )
    info = " · ".join(
        (
            spec.model or "video",
            f"{spec.width}x{spec.height}",
            f"{spec.fps} fps",
            f"{spec.duration:g} s",
            f"{spec.frame_count} frames",
            f"{spec.output_format} ({fmt.video_label})",
            audio,
            f"quality {spec.quality}",
        )
    )
    return CardText(
        width=spec.width,
        height=spec.height,
        fps=spec.fps,
        frame_count=spec.frame_count,
        title="LTX-2 Fast · mock render",
        info=info,
        prompt=spec.prompt,
        task_uuid=spec.task_uuid,
        video_uuid=spec.video_uuid,
    )


def _add_video(container: OutputContainer, spec: RenderSpec, fmt: _Format) -> VideoStream:
    crf = str(quality_to_crf(spec.quality, fmt.crf_range))
    options = dict(_X264_OPTIONS if fmt.video_codec == "libx264" else _VP9_OPTIONS)
    options["crf"] = crf
    stream = container.add_stream(fmt.video_codec, rate=spec.fps, options=options)
    stream.width = spec.width
    stream.height = spec.height
    stream.pix_fmt = "yuv420p"
    ctx = stream.codec_context
    # A keyframe every 2 s keeps seeking snappy; at 4K/10 s that is 5.5 MB vs 7.2 MB for 1 s.
    ctx.gop_size = 2 * spec.fps
    ctx.colorspace = int(Colorspace.ITU709)
    ctx.color_primaries = int(ColorPrimaries.BT709)
    ctx.color_trc = int(ColorTrc.BT709)
    ctx.color_range = int(ColorRange.MPEG)
    return stream


def _add_audio(container: OutputContainer, fmt: _Format) -> AudioStream:
    # The "fast" AAC coder is ~2x quicker than the default twoloop; a test tone needs no more.
    options = {"aac_coder": "fast"} if fmt.audio_codec == "aac" else None
    stream = container.add_stream(fmt.audio_codec, rate=AUDIO_RATE, options=options)
    stream.layout = "mono"
    stream.bit_rate = 96_000
    return stream


def _tone(start: int, count: int) -> npt.NDArray[np.float32]:
    """A quiet 440 Hz tone with a 50 ms 1 kHz blip on every whole second (A/V sync aid)."""
    n = np.arange(start, start + count, dtype=np.int64)
    t = n.astype(np.float64) / AUDIO_RATE
    wave = 0.03 * np.sin(2 * np.pi * 440.0 * t)
    blip = (n % AUDIO_RATE) < AUDIO_RATE // 20
    wave += np.where(blip, 0.1 * np.sin(2 * np.pi * 1000.0 * t), 0.0)
    return wave.astype(np.float32)


def _encode_audio(container: OutputContainer, stream: AudioStream, start: int, stop: int) -> None:
    if stop <= start:
        return
    frame = av.AudioFrame.from_ndarray(
        _tone(start, stop - start)[None, :], format="fltp", layout="mono"
    )
    frame.sample_rate = AUDIO_RATE
    frame.pts = start
    frame.time_base = Fraction(1, AUDIO_RATE)
    container.mux(stream.encode(frame))


FrameSource = Callable[[int], av.VideoFrame]


def _encode(spec: RenderSpec, path: pathlib.Path, source: FrameSource | None = None) -> None:
    """Encode ``spec`` to ``path``; ``source`` swaps the picture generator (benchmark only)."""
    fmt = _FORMATS[spec.output_format]
    render_frame = source or build_card(card_text(spec)).render
    first = image_to_frame(spec.first_frame, spec.width, spec.height) if spec.first_frame else None
    total = spec.frame_count
    time_base = Fraction(1, spec.fps)
    with av.open(
        str(path), "w", format=fmt.muxer, container_options=fmt.container_options
    ) as container:
        container.metadata["title"] = spec.prompt[:500]
        container.metadata["comment"] = (
            f"ltxmock {spec.model} taskUUID={spec.task_uuid} videoUUID={spec.video_uuid}"
        )
        video = _add_video(container, spec, fmt)
        audio = _add_audio(container, fmt) if spec.generate_audio else None
        audio_done = 0
        for index in range(total):
            frame = first if index == 0 and first is not None else render_frame(index)
            frame.pts = index
            frame.time_base = time_base
            frame.duration = 1
            container.mux(video.encode(frame))
            if audio is not None:
                # Interleave audio as we go so the muxer writes A/V in small alternating chunks.
                audio_end = (index + 1) * AUDIO_RATE // spec.fps
                _encode_audio(container, audio, audio_done, audio_end)
                audio_done = audio_end
        container.mux(video.encode(None))
        if audio is not None:
            container.mux(audio.encode(None))


def render_video(spec: RenderSpec, dest: pathlib.Path) -> pathlib.Path:
    """Render to dest atomically (write to a temp file in the same dir, then os.replace).

    Raises RenderError on failure; dest is then left untouched.
    """
    spec.validate()
    dest = pathlib.Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    tmp = pathlib.Path(tmp_name)
    try:
        _encode(spec, tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; served files should be readable
        os.replace(tmp, dest)
    except RenderError:
        raise
    except (av.FFmpegError, OSError, ValueError, TypeError) as exc:
        raise RenderError(f"rendering {dest.name} failed: {exc}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return dest
