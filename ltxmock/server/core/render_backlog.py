"""How much render work one process has queued or running, and its bound.

Renders are weighed by what they cost, frames times pixels, in units of the
default video (1080p, 6 s, 25 fps): a 4K/10 s/50 fps video weighs 14. A
count of renders would let ten 4K/50 fps tasks queue a quarter of an hour of
CPU; a weight keeps the bound a bound on time. Downloads that wait for their
file are admitted whatever the load (their client is waiting, and the
download threads bound them); everything else is refused beyond the bound
and the caller decides what a refusal means (an eager result is reported
on time and rendered on demand; a delivery looks again later).

Not thread-safe: ``Renders`` holds its lock around every call.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ltxmock.media import RenderSpec

UNIT = 1920 * 1080 * 25 * 6  # pixels times frames of the default video


def weight(spec: RenderSpec) -> int:
    """The render's cost in default videos (at least 1)."""
    frames = spec.fps * spec.duration
    return max(1, math.ceil(spec.width * spec.height * frames / UNIT))


class RenderBacklog:
    """The weight of this process's renders in flight, kept under ``bound``.

    A render is always admitted into an empty backlog, so a video heavier than
    the bound still renders eagerly, alone.
    """

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.load = 0
        self.peak = 0  # the most the backlog held (without downloads' renders)

    def admit(self, cost: int, *, demand: bool = False) -> bool:
        """Count a render in; False (nothing counted) if it does not fit."""
        if demand:
            self.load += cost
            return True
        if self.load and self.load + cost > self.bound:
            return False
        self.load += cost
        self.peak = max(self.peak, self.load)
        return True

    def release(self, cost: int) -> None:
        self.load = max(0, self.load - cost)
