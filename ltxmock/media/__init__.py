"""Real, playable video files for mocked LTX-2 Fast results (test card + counter)."""

from __future__ import annotations

from ltxmock.media.cache import RenderCache
from ltxmock.media.errors import RenderError
from ltxmock.media.probe import ProbeResult, probe
from ltxmock.media.render import (
    CONTENT_TYPES,
    EXTENSIONS,
    RENDERER_VERSION,
    RenderSpec,
    decode_image_input,
    quality_to_crf,
    render_video,
)

__all__ = [
    "CONTENT_TYPES",
    "EXTENSIONS",
    "RENDERER_VERSION",
    "ProbeResult",
    "RenderCache",
    "RenderError",
    "RenderSpec",
    "decode_image_input",
    "probe",
    "quality_to_crf",
    "render_video",
]
