"""Fallback fonts, and the accents cut from them: what :mod:`os1.handwriting.fallback` draws
a character with when the hand lacks it.

The fonts (:data:`FALLBACK_FONTS`, then Pillow's own default font) are tried in order; a
character counts as drawn by a font when the font's character map has it. An accent is cut from
the first font that draws the accented letter with the accent standing apart (the connected
parts of its ink that lie mostly above or below the plain letter's ink), else from the first
font with the combining marks.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from fontTools.ttLib import TTFont
from PIL import ImageFont

from os1.handwriting.fromfont import _glyph
from os1.handwriting.hand import Glyph

#: Debian's handwriting fonts: fonts-dkg-handwriting and fonts-breip. Breip comes first: its
#: marks keep a writer's proportions, where dkg's ``!`` and ``?`` rise far above the capitals
#: and its ``%`` reads as ``7.``.
DKG = Path("/usr/share/fonts/truetype/fifthhorseman/dkg.ttf")
BREIP = Path("/usr/share/fonts/truetype/breip/Breip.ttf")
FALLBACK_FONTS = (BREIP, DKG, Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"))
#: Pixels per em at which fallback glyphs are drawn before they are fitted to the hand.
FONT_SIZE = 96
Font = ImageFont.FreeTypeFont


def font_glyph(font: Font, text: str) -> Glyph | None:
    """``text`` drawn by ``font`` at :data:`FONT_SIZE`, as a glyph in the font's pixels."""
    return _glyph(font, text)


@dataclass(frozen=True)
class Accent:
    """Marks cut from a fallback font, each with the letter it was drawn over (font pixels,
    the same pen point), and that font's cap height. ``centred`` is False when the marks
    were drawn alone (combining marks), so only their height above the letter counts."""

    marks: list[tuple[Glyph, Glyph]]
    cap: float
    centred: bool = True


def accent(char: str, letter: str) -> Accent | None:
    """The accents of ``char``: the parts of a fallback font's ``char`` that stand apart from
    its ``letter`` or, when no font draws them apart, the font's combining marks."""
    for font in fonts():
        if covers(font, char) and covers(font, letter):
            whole, alone = _glyph(font, char), _glyph(font, letter)
            if alone is not None and letter in "ij":
                alone = dotless(alone, x_height(font))
            mark = detached(whole, alone) if whole and alone else None
            if mark is not None and alone is not None and mark.height < alone.height / 2:
                return Accent([(mark, alone)], cap_height(font))
    combining = [c for c in unicodedata.normalize("NFD", char) if unicodedata.combining(c)]
    for font in fonts():
        if combining and all(covers(font, c) for c in [*combining, "x"]):
            x = _glyph(font, "x")
            marks = [_glyph(font, "\u00a0" + c) for c in combining]  # alone: a dotted circle
            if x is not None and all(m is not None for m in marks):
                pairs = [(m, x) for m in marks if m is not None]
                return Accent(pairs, cap_height(font), centred=False)
    return None


def detached(whole: Glyph, letter: Glyph) -> Glyph | None:
    """The parts of ``whole`` (connected ink) that lie mostly above or below the band of
    ``letter``'s ink (the same font, the same pen point): the accents of an accented letter."""
    rows = np.arange(whole.height) - whole.baseline  # from the baseline, down
    off = (rows < -letter.baseline) | (rows > foot(letter))
    count, labels = cv2.connectedComponents((whole.ink >= 64).astype(np.uint8), connectivity=8)
    keep = np.zeros(whole.ink.shape, bool)
    for label in range(1, count):
        part = labels == label
        if off[np.nonzero(part)[0]].mean() >= 0.6:
            keep |= part
    found = np.argwhere(keep)
    if found.size == 0:
        return None
    (r0, c0), (r1, c1) = found.min(axis=0), found.max(axis=0)
    ink = np.where(keep, whole.ink, 0)[r0 : r1 + 1, c0 : c1 + 1].astype(np.uint8)
    return Glyph(whole.char, ink, whole.baseline - r0, whole.left + c0, 0.0)


def dotless(glyph: Glyph, x_height: float) -> Glyph:
    """``glyph`` (an i or j) without the parts that lie wholly above the x-height: its dot."""
    count, labels = cv2.connectedComponents((glyph.ink >= 64).astype(np.uint8), connectivity=8)
    dot = np.zeros(glyph.ink.shape, bool)
    for label in range(1, count):
        rows = np.nonzero(labels == label)[0]
        if count > 2 and rows.max() - glyph.baseline < -0.8 * x_height:
            dot |= labels == label
    # The dot's faint rim (anti-aliased ink under the threshold) goes with it, else a ghost of
    # the dot stays, and the accent is set above it.
    ring = np.ones((5, 5), np.uint8)
    rest = cv2.dilate(((labels > 0) & ~dot).astype(np.uint8), ring).astype(bool)
    ink = glyph.ink.copy()
    ink[cv2.dilate(dot.astype(np.uint8), ring).astype(bool) & ~rest] = 0
    found = np.argwhere(ink > 0)
    if found.size == 0:
        return glyph
    (r0, c0), (r1, c1) = found.min(axis=0), found.max(axis=0)
    ink = ink[r0 : r1 + 1, c0 : c1 + 1]
    return Glyph(glyph.char, ink, glyph.baseline - r0, glyph.left + c0, glyph.advance)


def centre(glyph: Glyph) -> float:
    """The middle of the glyph's ink, from its pen point."""
    return glyph.left + glyph.width / 2


def foot(glyph: Glyph) -> float:
    """How far below the baseline the glyph's ink ends (negative when above it)."""
    return glyph.height - glyph.baseline


# -- fonts -----------------------------------------------------------------------------------
@cache
def fonts() -> tuple[Font, ...]:
    found = [ImageFont.truetype(str(p), FONT_SIZE) for p in FALLBACK_FONTS if p.is_file()]
    default = ImageFont.load_default(FONT_SIZE)
    if isinstance(default, ImageFont.FreeTypeFont):
        found.append(default)
    return tuple(found)


@cache
def cmap(font: Font) -> frozenset[int]:
    source = font.path
    if isinstance(source, BytesIO):  # Pillow's own default font: read a copy
        source = BytesIO(source.getvalue())
    with TTFont(source, lazy=True) as table:
        return frozenset(table.getBestCmap())


def covers(font: Font, char: str) -> bool:
    return ord(char) in cmap(font)


@cache
def x_height(font: Font) -> float:
    glyph = _glyph(font, "x")
    return glyph.baseline if glyph is not None else 0.5 * FONT_SIZE


@cache
def cap_height(font: Font) -> float:
    glyph = _glyph(font, "H")
    return glyph.baseline if glyph is not None else 0.7 * FONT_SIZE


def paste(canvas: np.ndarray, ink: np.ndarray, row: int, col: int) -> None:
    """Lay ``ink`` on ``canvas`` with its top-left at (``row``, ``col``), clipped, darkest wins."""
    r0, c0 = max(row, 0), max(col, 0)
    r1 = min(row + ink.shape[0], canvas.shape[0])
    c1 = min(col + ink.shape[1], canvas.shape[1])
    if r1 > r0 and c1 > c0:
        part = ink[r0 - row : r1 - row, c0 - col : c1 - col]
        np.maximum(canvas[r0:r1, c0:c1], part, out=canvas[r0:r1, c0:c1])
