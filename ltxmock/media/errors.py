"""Exception shared by the media modules (separate module to avoid import cycles)."""

from __future__ import annotations

__all__ = ["RenderError"]


class RenderError(Exception):
    """Rendering a video failed (bad spec, undecodable first frame, or an encoder error)."""
