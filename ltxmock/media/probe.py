"""Inspect rendered files with PyAV (what ffprobe would report, without needing ffprobe)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction

import av

__all__ = ["ProbeResult", "probe"]


@dataclass(frozen=True)
class ProbeResult:
    format_name: str  # FFmpeg demuxer name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm"
    video_codec: str | None  # decoder name: "h264", "vp9", ...
    width: int
    height: int
    fps: Fraction
    frame_count: int
    duration: float  # container duration in seconds (max over streams)
    has_audio: bool
    audio_codec: str | None
    major_brand: str | None = None  # ISO-BMFF brand: "isom" for MP4, "qt  " for MOV
    video_duration: float | None = None  # video stream duration in seconds, when known


def probe(path: str | os.PathLike[str], *, decode: bool = True) -> ProbeResult:
    """Describe a media file.

    ``frame_count`` is exact either way: with ``decode=True`` every video frame is decoded
    and counted; otherwise it is the container's sample count (MP4/MOV) or, where the
    container has none (WebM), the number of demuxed video packets.
    """
    with av.open(os.fspath(path)) as container:
        videos = container.streams.video
        audios = container.streams.audio
        audio_codec = audios[0].codec_context.name if audios else None
        duration = container.duration / 1_000_000 if container.duration is not None else 0.0
        brand = container.metadata.get("major_brand")
        if not videos:
            return ProbeResult(
                container.format.name, None, 0, 0, Fraction(0), 0, duration,
                bool(audios), audio_codec, brand,
            )  # fmt: skip
        video = videos[0]
        fps = video.average_rate or video.guessed_rate or Fraction(0)
        video_duration = (
            float(video.duration * video.time_base)
            if video.duration is not None and video.time_base is not None
            else None
        )
        if decode:
            video.thread_type = "AUTO"
            # Only each frame's end time is kept, never the decoded pictures.
            stops = [
                (f.pts + (f.duration or 0)) * f.time_base
                if f.pts is not None and f.time_base is not None
                else None
                for f in container.decode(video)
            ]
            frame_count = len(stops)
            end = max((stop for stop in stops if stop is not None), default=None)
            # WebM has no per-stream duration; the decoded timeline provides it.
            if video_duration is None and end is not None:
                video_duration = float(end)
        elif video.frames:
            frame_count = video.frames
        else:
            frame_count = sum(1 for packet in container.demux(video) if packet.size)
        return ProbeResult(
            format_name=container.format.name,
            video_codec=video.codec_context.name,
            width=video.width,
            height=video.height,
            fps=Fraction(fps),
            frame_count=frame_count,
            duration=duration,
            has_audio=bool(audios),
            audio_codec=audio_codec,
            major_brand=brand,
            video_duration=video_duration,
        )
