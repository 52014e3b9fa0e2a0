"""What an LTX-2 Fast video costs, in USD: one price table, per second of video.

Anchors: Runware's model page prices 1080p x 6 s at $0.24 and 4K x 10 s at $1.60,
i.e. $0.04/s and $0.16/s at 25 fps. 1440p sits between them at $0.08/s (the
same x2 steps as Lightricks' own list). 50 fps is not priced anywhere public;
the mock charges x1.5 for it. A result costs price x duration; every result of
a task (``numberResults``) is charged, and reported, separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# (width, height, fps) -> USD per second of generated video.
PRICE_PER_SECOND: Mapping[tuple[int, int, int], float] = {
    (1920, 1080, 25): 0.04,
    (1920, 1080, 50): 0.06,
    (2560, 1440, 25): 0.08,
    (2560, 1440, 50): 0.12,
    (3840, 2160, 25): 0.16,
    (3840, 2160, 50): 0.24,
}

DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS, DEFAULT_DURATION = 1920, 1080, 25, 6


def price_per_second(width: int, height: int, fps: int) -> float:
    """The table's price; a size/fps it lacks is priced per pixel-frame like 1080p25."""
    listed = PRICE_PER_SECOND.get((width, height, fps))
    if listed is not None:
        return listed
    base = PRICE_PER_SECOND[(DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_FPS)]
    return base * (width * height * fps) / (DEFAULT_WIDTH * DEFAULT_HEIGHT * DEFAULT_FPS)


def result_cost(params: Mapping[str, Any]) -> float:
    """The cost of ONE result of a (valid) videoInference task, rounded to 1/10000 $."""
    width = int(params.get("width", DEFAULT_WIDTH))
    height = int(params.get("height", DEFAULT_HEIGHT))
    fps = int(params.get("fps", DEFAULT_FPS))
    duration = float(params.get("duration", DEFAULT_DURATION))
    return round(price_per_second(width, height, fps) * duration, 4)
