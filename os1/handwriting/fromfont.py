"""A hand made from a font file (TTF, OTF, WOFF2): one variant per character. Handwriting fonts
(Debian's ``fonts-dkg-handwriting``, ``fonts-breip``) serve as extra writers in the benchmark and
as the fallback for a character that a learned hand lacks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from os1.errors import UserInputError
from os1.handwriting.hand import Glyph, Hand

#: Printable ASCII and the pound sign: what the template asks for, and more.
DEFAULT_CHARS = "".join(chr(c) for c in range(33, 127)) + "£"


def hand_from_font(
    path: Path, *, name: str | None = None, size: int = 96, chars: str = DEFAULT_CHARS
) -> Hand:
    """Rasterize ``chars`` of the font at ``path`` (``size`` px per em) into a hand."""
    try:
        font = ImageFont.truetype(str(path), size)
    except OSError as exc:
        raise UserInputError(f"cannot read the font {path}: {exc}") from exc
    glyphs: dict[str, list[Glyph]] = {}
    for char in chars:
        glyph = _glyph(font, char)
        if glyph is not None:
            glyphs[char] = [glyph]
    if "x" not in glyphs or "H" not in glyphs:
        raise UserInputError(f"the font {path} has no 'x' or 'H': not a Latin font")
    x_height = float(glyphs["x"][0].baseline)
    cap_height = float(glyphs["H"][0].baseline)
    space = float(font.getlength(" ")) or 0.3 * size
    return Hand(
        name=name or Path(path).stem,
        x_height=x_height,
        cap_height=cap_height,
        glyphs=glyphs,
        sources=[str(path)],
        space=space,
    )


def _glyph(font: ImageFont.FreeTypeFont, char: str) -> Glyph | None:
    box = font.getbbox(char, anchor="ls")  # relative to the baseline
    left, top = math.floor(box[0]), math.floor(box[1])
    right, bottom = math.ceil(box[2]), math.ceil(box[3])
    if right <= left or bottom <= top:
        return None
    pad = 2
    image = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - left, pad - top), char, font=font, fill=255, anchor="ls")
    ink = np.asarray(image, dtype=np.uint8)
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    if rows.size == 0:
        return None
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # The baseline lies at image row (pad - top); the crop moved the top by rows[0].
    baseline = float(pad - top - rows[0])
    ink_left = float(left + cols[0] - pad)
    return Glyph(char, ink.copy(), baseline, ink_left, float(font.getlength(char)))
