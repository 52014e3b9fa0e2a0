"""The developer test card: drawn once with Pillow, animated per frame in YUV with numpy.

Only the counter digits and the progress bar change between frames.  They sit on a
pure black panel, so their chroma is constant (U = V = 128) and the per-frame update
touches a few small rectangles of the Y plane instead of redrawing and re-converting
the whole picture.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import ColorRange, Colorspace
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from ltxmock.media.errors import RenderError

__all__ = [
    "Card",
    "CardText",
    "build_card",
    "counter_region",
    "draw_counter_text",
    "draw_static_card",
    "image_to_frame",
    "letterbox",
    "rgb_to_frame",
    "wrap_text",
]

U8Array = npt.NDArray[np.uint8]

# Limited-range ("TV") luma extremes; text is rendered white-on-black in between.
Y_BLACK = 16
Y_WHITE = 235
TRACK_RGB = 51  # progress-bar track: dark grey, still neutral chroma
Y_TRACK = Y_BLACK + round(TRACK_RGB * (Y_WHITE - Y_BLACK) / 255)

BG_TOP = (16, 19, 27)
BG_BOTTOM = (30, 37, 52)
ACCENT = (255, 153, 51)
MUTED = (150, 160, 178)
WHITE = (240, 242, 245)
COUNTER_WHITE = (255, 255, 255)  # == Y_WHITE, so Pillow-drawn and blitted digits match
# 75 % SMPTE bars: a quick visual check of colour matrix and range handling.
BARS = (
    (191, 191, 191),
    (191, 191, 0),
    (0, 191, 191),
    (0, 191, 0),
    (191, 0, 191),
    (191, 0, 0),
    (0, 0, 191),
)

PROMPT_MAX_LINES = 7
ELLIPSIS = "…"


@dataclass(frozen=True)
class CardText:
    """Everything the card prints; kept separate from RenderSpec to avoid an import cycle."""

    width: int
    height: int
    fps: int
    frame_count: int
    title: str
    info: str
    prompt: str
    task_uuid: str
    video_uuid: str


@dataclass(frozen=True)
class _Layout:
    scale: float
    margin: int
    panel: tuple[int, int, int, int]  # x0, y0, x1, y1 of the black counter panel
    digits_size: int
    frame_origin: tuple[int, int]  # top-left of "NNNN / TTTT"
    timecode_origin: tuple[int, int]  # top-left of "HH:MM:SS:FF"
    bar: tuple[int, int, int, int]  # progress bar rectangle
    pad: int  # zero-padding width of frame numbers


def _font(size: int) -> ImageFont.FreeTypeFont:
    # Loaded per render: cheap, and avoids sharing FreeType faces across threads.
    font = ImageFont.load_default(size=max(8, size))
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RenderError("Pillow was built without FreeType; cannot draw the test card")
    return font


def _layout(width: int, height: int, frame_count: int) -> _Layout:
    scale = min(width / 1920, height / 1080)

    def px(v: float) -> int:
        return round(v * scale)

    margin = px(96)
    # Even coordinates keep the panel aligned to the 2x2 chroma grid.
    x0, y0 = margin & ~1, (height - px(280)) & ~1
    x1, y1 = (width - margin) & ~1, (height - px(60)) & ~1
    inner = px(36)
    return _Layout(
        scale=scale,
        margin=margin,
        panel=(x0, y0, x1, y1),
        digits_size=px(96),
        frame_origin=(x0 + inner, y0 + px(50)),
        timecode_origin=(x0 + (x1 - x0) // 2 + inner, y0 + px(50)),
        bar=(x0 + inner, y1 - px(32), x1 - inner, y1 - px(22)),
        pad=max(4, len(str(frame_count))),
    )


def _frame_label(index: int, frame_count: int, pad: int) -> tuple[str, str]:
    """("0042", "0150") for 0-based index 41: the display counts frames from 1."""
    return f"{index + 1:0{pad}d}", f"{frame_count:0{pad}d}"


def _timecode(index: int, fps: int) -> str:
    seconds, frames = divmod(index, fps)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


def _clean(text: str) -> str:
    # Control characters would render as tofu boxes or break wrapping.
    return "".join(ch if ch == "\n" or unicodedata.category(ch)[0] != "C" else " " for ch in text)


def wrap_text(text: str, font: ImageFont.FreeTypeFont, max_width: int, max_lines: int) -> list[str]:
    """Greedy word wrap by rendered width; overlong words are split, overflow gets an ellipsis."""
    lines: list[str] = []
    truncated = False
    for paragraph in _clean(text).split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if font.getlength(candidate) <= max_width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = word
            while font.getlength(line) > max_width:  # a single word wider than the box
                cut = len(line) - 1
                while cut > 1 and font.getlength(line[:cut]) > max_width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
        if len(lines) > max_lines:
            truncated = True
            break
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > max_lines:
        truncated = True
        lines = lines[:max_lines]
    if truncated and lines:
        last = lines[-1].rstrip()
        while last and font.getlength(last + ELLIPSIS) > max_width:
            last = last[:-1].rstrip()
        lines[-1] = last + ELLIPSIS
    return lines


def _background(width: int, height: int) -> Image.Image:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    top = np.asarray(BG_TOP, dtype=np.float32)
    bottom = np.asarray(BG_BOTTOM, dtype=np.float32)
    column = (top + (bottom - top) * t).round().astype(np.uint8)  # (h, 3)
    rgb = np.broadcast_to(column[:, None, :], (height, width, 3))
    return Image.fromarray(np.ascontiguousarray(rgb), "RGB")


def counter_region(width: int, height: int, frame_count: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the black panel whose content changes every frame."""
    return _layout(width, height, frame_count).panel


def draw_static_card(text: CardText) -> Image.Image:
    """The card without the per-frame counter (digits and bar are left black)."""
    w, h = text.width, text.height
    lay = _layout(w, h, text.frame_count)

    def px(v: float) -> int:
        return round(v * lay.scale)

    img = _background(w, h)
    draw = ImageDraw.Draw(img)
    m = lay.margin

    bar_h = max(2, px(24))
    for i, colour in enumerate(BARS):
        draw.rectangle(
            (i * w // len(BARS), 0, (i + 1) * w // len(BARS) - 1, bar_h - 1), fill=colour
        )
    # A frame border makes cropping or scaling by a player visible.
    draw.rectangle((0, 0, w - 1, h - 1), outline=ACCENT, width=max(1, px(3)))

    draw.text((m, px(72)), text.title, font=_font(px(60)), fill=WHITE)
    draw.text((m, px(152)), text.info, font=_font(px(30)), fill=MUTED)

    label = _font(px(26))
    draw.text((m, px(222)), "PROMPT", font=label, fill=ACCENT)
    prompt_font = _font(px(38))
    line_h = px(48)
    for i, line in enumerate(
        wrap_text(text.prompt, prompt_font, w - 2 * m, PROMPT_MAX_LINES) or ["(empty)"]
    ):
        draw.text((m, px(262) + i * line_h), line, font=prompt_font, fill=WHITE)

    uuid_font = _font(px(34))
    for i, (name, value) in enumerate(
        (("taskUUID", text.task_uuid), ("videoUUID", text.video_uuid))
    ):
        y = px(630) + i * px(50)
        draw.text((m, y + px(6)), name, font=label, fill=ACCENT)
        draw.text((m + px(190), y), value[:80], font=uuid_font, fill=WHITE)

    x0, y0, x1, y1 = lay.panel
    draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=(0, 0, 0))
    draw.text((lay.frame_origin[0], y0 + px(16)), "FRAME", font=label, fill=MUTED)
    draw.text((lay.timecode_origin[0], y0 + px(16)), "TIMECODE", font=label, fill=MUTED)
    # The static " / total" part of the frame counter.
    digits = _font(lay.digits_size)
    shown, total = _frame_label(0, text.frame_count, lay.pad)
    fx, fy = lay.frame_origin
    draw.text((fx + digits.getlength(shown), fy), f" / {total}", font=digits, fill=COUNTER_WHITE)
    # Timecode colons are static too; only the digit cells are blitted per frame.
    tc = _timecode(0, text.fps)
    tx, ty = lay.timecode_origin
    for i, ch in enumerate(tc):
        if not ch.isdigit():
            draw.text((tx + digits.getlength(tc[:i]), ty), ch, font=digits, fill=COUNTER_WHITE)
    return img


def draw_counter_text(img: Image.Image, text: CardText, index: int) -> None:
    """Draw the dynamic counter with Pillow (the slow reference path used by the benchmark)."""
    lay = _layout(text.width, text.height, text.frame_count)
    draw = ImageDraw.Draw(img)
    digits = _font(lay.digits_size)
    shown, _ = _frame_label(index, text.frame_count, lay.pad)
    draw.text(lay.frame_origin, shown, font=digits, fill=COUNTER_WHITE)
    tx, ty = lay.timecode_origin
    tc = _timecode(index, text.fps)
    for i, ch in enumerate(tc):
        if ch.isdigit():
            draw.text((tx + digits.getlength(tc[:i]), ty), ch, font=digits, fill=COUNTER_WHITE)
    bx0, by0, bx1, by1 = lay.bar
    split = bx0 + (bx1 - bx0) * (index + 1) // text.frame_count
    draw.rectangle((bx0, by0, bx1 - 1, by1 - 1), fill=(TRACK_RGB,) * 3)
    if split > bx0:
        draw.rectangle((bx0, by0, split - 1, by1 - 1), fill=COUNTER_WHITE)


def rgb_to_frame(img: Image.Image) -> av.VideoFrame:
    """RGB image -> BT.709 limited-range yuv420p frame (swscale does the maths)."""
    rgb = av.VideoFrame.from_ndarray(np.asarray(img.convert("RGB")), format="rgb24")
    frame = rgb.reformat(
        format="yuv420p",
        dst_colorspace=Colorspace.ITU709,
        dst_color_range=ColorRange.MPEG,
    )
    return frame


def letterbox(data: bytes, width: int, height: int) -> Image.Image:
    """Decode image bytes and fit them into width x height on black, keeping aspect ratio."""
    try:
        with Image.open(io.BytesIO(data)) as src:
            src.load()
            img = ImageOps.exif_transpose(src)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RenderError(f"first frame is not a decodable image: {exc}") from exc
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        img = flat
    else:
        img = img.convert("RGB")
    return ImageOps.pad(img, (width, height), method=Image.Resampling.BICUBIC, color=(0, 0, 0))


def image_to_frame(data: bytes, width: int, height: int) -> av.VideoFrame:
    return rgb_to_frame(letterbox(data, width, height))


def _y_view(frame: av.VideoFrame) -> U8Array:
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


class Card:
    """A reusable yuv420p frame holding the static card plus pre-rendered digit glyphs."""

    def __init__(self, text: CardText) -> None:
        self.text = text
        self._layout = _layout(text.width, text.height, text.frame_count)
        self.frame = rgb_to_frame(draw_static_card(text))
        font = _font(self._layout.digits_size)
        ascent, descent = font.getmetrics()
        self._cell_h = ascent + descent
        # Tabular digits share one advance, so every digit cell has a fixed position.
        self._cell_w = round(font.getlength("0"))
        self._glyphs = [self._glyph(font, str(d)) for d in range(10)]
        self._frame_cells = self._cells(self._layout.frame_origin, "0" * self._layout.pad, font)
        self._tc_cells = self._cells(self._layout.timecode_origin, _timecode(0, text.fps), font)

    def _glyph(self, font: ImageFont.FreeTypeFont, ch: str) -> U8Array:
        tile = Image.new("L", (self._cell_w, self._cell_h), 0)
        ImageDraw.Draw(tile).text((0, 0), ch, font=font, fill=255)
        alpha = np.asarray(tile, dtype=np.uint16)
        return (Y_BLACK + (alpha * (Y_WHITE - Y_BLACK) + 127) // 255).astype(np.uint8)

    def _cells(
        self, origin: tuple[int, int], template: str, font: ImageFont.FreeTypeFont
    ) -> list[tuple[int, int] | None]:
        """Top-left of each digit cell (None for static characters such as ':')."""
        x, y = origin
        return [
            (x + round(font.getlength(template[:i])), y) if ch.isdigit() else None
            for i, ch in enumerate(template)
        ]

    def _blit(self, y_plane: U8Array, cells: list[tuple[int, int] | None], value: str) -> None:
        h, w = self._cell_h, self._cell_w
        for cell, ch in zip(cells, value, strict=True):
            if cell is not None:
                x, y = cell
                target = y_plane[y : y + h, x : x + w]  # clipped at the edge on tiny frames
                target[...] = self._glyphs[ord(ch) - 48][: target.shape[0], : target.shape[1]]

    def render(self, index: int) -> av.VideoFrame:
        """Update the shared frame in place for 0-based ``index`` and return it."""
        # The encoder copies input pictures, so this is normally a no-op; if FFmpeg still
        # held a reference, make_writable() copies instead of corrupting a queued frame.
        self.frame.make_writable()
        y_plane = _y_view(self.frame)
        shown, _ = _frame_label(index, self.text.frame_count, self._layout.pad)
        self._blit(y_plane, self._frame_cells, shown)
        self._blit(y_plane, self._tc_cells, _timecode(index, self.text.fps))
        bx0, by0, bx1, by1 = self._layout.bar
        split = bx0 + (bx1 - bx0) * (index + 1) // self.text.frame_count
        y_plane[by0:by1, bx0:split] = Y_WHITE
        y_plane[by0:by1, split:bx1] = Y_TRACK
        return self.frame


def build_card(text: CardText) -> Card:
    return Card(text)
