"""Benchmark ltxmock.media rendering against its speed targets and a naive baseline.

Usage: python bench/media.py [--runs N] [--skip-4k]

Prints progress, then a table (case, seconds, target, pass/fail).  Small cases report the
median of N runs, the 4K case a single run.  The baselines encode with the very same
encoder settings and audio, and differ only in how each picture is produced:

* naive      - redraw the whole card with Pillow every frame, convert RGB->YUV every frame
* per-frame  - copy a cached RGB card, draw the counter with Pillow, convert every frame
* ltxmock    - card converted to YUV once; numpy blits pre-rendered digits into the Y plane

Exit status is 1 if any case misses its target.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

import av

from ltxmock.media import RenderCache, RenderSpec, probe, render_video
from ltxmock.media.card import draw_counter_text, draw_static_card, rgb_to_frame
from ltxmock.media.render import _encode, card_text

PROMPT = (
    "A lone lighthouse on a basalt cliff at dusk, waves crashing below, the beam sweeping "
    "through sea mist; slow aerial orbit, cinematic lighting, 35mm film grain"
)


def spec(fmt: str, width: int, height: int, fps: int, duration: int) -> RenderSpec:
    return RenderSpec(
        width=width,
        height=height,
        fps=fps,
        duration=duration,
        output_format=fmt,
        generate_audio=True,
        prompt=PROMPT,
        task_uuid="6f1c2b52-4a5e-4c8e-9a57-2f0f3d1e9b10",
        video_uuid="aac49721-1964-481a-ae78-8a4e29b91402",
    )


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(label: str, runs: int, fn: Callable[[], object]) -> float:
    times = []
    for i in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
        log(f"  {label}: run {i + 1}/{runs} {times[-1]:.2f} s")
    return statistics.median(times)


def naive_source(s: RenderSpec) -> Callable[[int], av.VideoFrame]:
    text = card_text(s)

    def frame(index: int) -> av.VideoFrame:
        img = draw_static_card(text)
        draw_counter_text(img, text, index)
        return rgb_to_frame(img)

    return frame


def per_frame_source(s: RenderSpec) -> Callable[[int], av.VideoFrame]:
    text = card_text(s)
    static = draw_static_card(text)

    def frame(index: int) -> av.VideoFrame:
        img = static.copy()
        draw_counter_text(img, text, index)
        return rgb_to_frame(img)

    return frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per small case (median)")
    parser.add_argument("--skip-4k", action="store_true", help="skip the 4K cases")
    args = parser.parse_args()
    runs = max(1, args.runs)
    log(f"PyAV {av.__version__}, FFmpeg libavcodec {av.library_versions['libavcodec']}")
    log(f"CPUs: {os.cpu_count()}")

    rows: list[tuple[str, float, float | None, str]] = []  # case, seconds, target, note

    def check(path: pathlib.Path, s: RenderSpec) -> str:
        info = probe(path)
        ok = (info.width, info.height, info.frame_count) == (s.width, s.height, s.frame_count)
        if not ok:
            raise SystemExit(f"wrong output for {path.name}: {info}")
        return f"{path.stat().st_size / 1e6:.1f} MB"

    with tempfile.TemporaryDirectory(prefix="ltxmock-bench-") as tmp:
        root = pathlib.Path(tmp)
        small = spec("MP4", 1920, 1080, 25, 6)
        webm = spec("WEBM", 1920, 1080, 25, 6)
        big = spec("MP4", 3840, 2160, 50, 10)

        log("warm-up (imports, encoder init)")
        render_video(small, root / "warmup.mp4")

        log("1080p/6s/25 MP4")
        fast = timed("mp4", runs, lambda: render_video(small, root / "a.mp4"))
        rows.append(("1080p 6s 25fps MP4+AAC", fast, 1.5, check(root / "a.mp4", small)))

        log("1080p/6s/25 WEBM")
        t = timed("webm", runs, lambda: render_video(webm, root / "a.webm"))
        rows.append(("1080p 6s 25fps WEBM+Opus", t, 1.5, check(root / "a.webm", webm)))

        if not args.skip_4k:
            log("4K/10s/50 MP4 (1 run)")
            cache = RenderCache(root / "cache")
            start = time.perf_counter()
            path = cache.get_or_render(big)
            t4k = time.perf_counter() - start
            log(f"  4k: {t4k:.2f} s")
            rows.append(("4K 10s 50fps MP4+AAC", t4k, 20.0, check(path, big)))
            hit = timed("4k cached", runs, lambda: cache.get_or_render(big))
            rows.append(("4K 10s 50fps MP4, cached repeat", hit, 0.05, "cache hit"))

        baseline_runs = min(runs, 3)
        log("baseline: naive full redraw + convert per frame (1080p/6s/25 MP4)")
        naive = timed(
            "naive",
            baseline_runs,
            lambda: _encode(small, root / "naive.mp4", naive_source(small)),
        )
        rows.append(("baseline: naive redraw", naive, None, f"{naive / fast:.1f}x slower"))
        log("baseline: cached RGB card + Pillow counter + convert per frame")
        per_frame = timed(
            "per-frame",
            baseline_runs,
            lambda: _encode(small, root / "pf.mp4", per_frame_source(small)),
        )
        rows.append(
            ("baseline: per-frame convert", per_frame, None, f"{per_frame / fast:.1f}x slower")
        )

    failed = False
    print()
    print(f"{'case':34} {'seconds':>8} {'target':>8}  result")
    print(f"{'-' * 34} {'-' * 8} {'-' * 8}  {'-' * 24}")
    for case, seconds, target, note in rows:
        if target is None:
            print(f"{case:34} {seconds:8.3f} {'-':>8}  {note}")
            continue
        ok = seconds < target
        failed |= not ok
        print(f"{case:34} {seconds:8.3f} {target:8.2f}  {'PASS' if ok else 'FAIL'} ({note})")
    print(
        f"\nsmall cases: median of {runs} runs; 4K: 1 run; baselines: median of "
        f"{min(runs, 3)} runs, same encoder settings, 1080p/6s/25 MP4+AAC"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
