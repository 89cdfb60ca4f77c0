"""A glyph for every character, also one the hand lacks: never a blank.

For a character the hand has no glyph for, the first of these that works:

1. **The other case**, scaled: a missing ``q`` is the hand's ``Q`` brought down to the x-height,
   a missing ``Q`` the hand's ``q`` brought up to the cap height.
2. **The plain mark for a typographic one** (:data:`PLAIN_MARKS`): by hand, curly quotes and
   apostrophes, primes and dashes are written with the writer's own ``'``, ``"`` and ``-``
   (a long dash, ``—``, as the hyphen drawn longer), so text typed with "smart quotes" is
   written in the hand and not in a font.
3. **The base letter with its accent**: Unicode's compatibility decomposition (NFKD) gives the
   base (``é`` -> ``e``, ``ﬁ`` -> ``fi``, ``½`` -> one, fraction slash, two), written from the
   hand (by these same rules; a fraction's numerator small and raised, its denominator small on
   the baseline, the hand's ``/`` between; a superscript, ``²`` or ``™``, small and raised, a
   subscript small and lowered); the accent is cut from a fallback font
   (:mod:`os1.handwriting.fontcut`: the parts of its ``é`` that stand apart from its ``e``) and
   set over or under the hand's letter at the font's gap, sized to the hand. An accent on ``i``
   or ``j`` takes the place of the dot. Not for Arabic's joined forms (``ﻣ``, meem where it
   joins the next letter) that a fallback font draws: its base letter stands alone, so the
   font draws the form itself (a form no font has, such as the ligature of الله, is written
   as its letters).
4. **A fallback font's glyph** (:data:`~os1.handwriting.fontcut.FALLBACK_FONTS`: the
   handwriting fonts of ``fonts-breip`` and ``fonts-dkg-handwriting``, then DejaVu Sans for
   symbols such as ``€`` and ``→``, then Pillow's own default font), scaled so its cap height
   is the hand's, and drawn again along its centre lines with the hand's pen width.
5. **A box** the size of a capital, drawn with the hand's pen width, as a last resort.

Every result is in the hand's pixels, as the hand's own glyphs are.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable

import cv2
import numpy as np
from skimage.morphology import skeletonize as _untyped_skeletonize

from os1.handwriting.distance import reach as exact_reach
from os1.handwriting.fontcut import (
    Accent,
    accent,
    cap_height,
    centre,
    covers,
    dotless,
    font_glyph,
    fonts,
    foot,
    paste,
)
from os1.handwriting.hand import Glyph, Hand

#: A centre line of at most this many pixels is a dot.
DOT = 6
#: What Unicode writes between a vulgar fraction's parts (``½`` is one, U+2044, two).
FRACTION_SLASH = "\u2044"
#: Decomposition tags of the forms a letter takes where it joins its neighbours (Arabic's
#: presentation forms, which :func:`os1.handwriting.direction.shaped` writes).
JOINING_FORMS = frozenset({"<initial>", "<medial>", "<final>", "<isolated>"})
#: A fraction's numerator and denominator, against the hand's size.
FRACTION_SCALE = 0.6
#: Superscripts and subscripts (their decomposition's tag): how far the small form moves down,
#: against the cap height; a superscript's top at the capitals' top.
SMALL_FORMS = {"<super>": -(1 - FRACTION_SCALE), "<sub>": 0.2}
#: Typographic marks a writer writes with a plain one: (the plain mark, how much longer).
PLAIN_MARKS: dict[str, tuple[str, float]] = {
    **dict.fromkeys("\u2018\u2019\u201b\u2032\u02bc", ("'", 1.0)),  # quotes, prime, apostrophe
    **dict.fromkeys("\u201c\u201d\u201f\u2033", ('"', 1.0)),  # double quotes, double prime
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2212", ("-", 1.0)),  # hyphens, en dash, minus
    **dict.fromkeys("\u2014\u2015", ("-", 2.0)),  # em dash, horizontal bar
}
#: A part of a fallback font's glyph deeper than this (its ink's distance to the paper, against
#: the hand's cap height) is a solid shape, not a stroke: the font's strokes lie below 0.12.
SOLID_DEPTH = 0.15
#: A solid shape less than this across (against the cap height) stays filled: a bullet.
SOLID_SMALL = 0.5
#: Characters whose pen width stands for the hand's.
PEN_CHARS = "nouaehlHE"

#: scikit-image's thinning, typed.
skeletonize: Callable[[np.ndarray], np.ndarray] = _untyped_skeletonize


def resolve(hand: Hand, chars: Iterable[str]) -> dict[str, list[Glyph]]:
    """Every one of ``chars`` with its glyphs: the hand's variants, or a fallback."""
    fallback = Fallback(hand)
    return {char: fallback.glyphs(char) for char in dict.fromkeys(chars)}


class Fallback:
    """Glyphs for ``hand``, fallbacks included (see the module's order)."""

    def __init__(self, hand: Hand) -> None:
        self.hand = hand
        self._pen: float | None = None

    @property
    def pen(self) -> float:
        """The hand's pen width, in its pixels."""
        if self._pen is None:
            hand = self.hand
            inks = [hand.variants(c)[0].ink for c in PEN_CHARS if hand.variants(c)]
            inks = inks or [variants[0].ink for variants in list(hand.glyphs.values())[:10]]
            self._pen = _stroke_width(inks) if inks else max(1.0, hand.cap_height / 12)
        return self._pen

    def glyphs(self, char: str, depth: int = 0) -> list[Glyph]:
        """The variants ``char`` is written with."""
        own = self.hand.variants(char)
        if own:
            return own
        return (
            self._other_case(char)
            or self._plain_mark(char)
            or (self._decomposed(char, depth) if depth < 3 else [])
            or self._fromfonts(char)
            or [self._box(char)]
        )

    # -- 1. the other case -------------------------------------------------------------------
    def _other_case(self, char: str) -> list[Glyph]:
        other, hand = char.swapcase(), self.hand
        if not char.isalpha() or len(other) != 1 or other == char or not hand.variants(other):
            return []
        ratio = hand.x_height / hand.cap_height
        factor = ratio if char.islower() else 1 / ratio
        return [_scaled(g, factor, char) for g in hand.variants(other)]

    # -- 2. typographic marks ---------------------------------------------------------------
    def _plain_mark(self, char: str) -> list[Glyph]:
        plain, longer = PLAIN_MARKS.get(char, ("", 1.0))
        return [_lengthened(g, longer, char) for g in self.hand.variants(plain)] if plain else []

    # -- 3. base letters and accents ---------------------------------------------------------
    def _decomposed(self, char: str, depth: int) -> list[Glyph]:
        joining = unicodedata.decomposition(char).partition(" ")[0] in JOINING_FORMS
        if joining and any(covers(font, char) for font in fonts()):
            return []  # drawn as it is: its base letter alone would not join its neighbours
        parts = unicodedata.normalize("NFKD", char)
        bases = "".join(c for c in parts if not unicodedata.combining(c))
        if parts == char or not bases or bases.isspace():
            return []
        above, slash, below = bases.partition(FRACTION_SLASH)
        if slash and above and below and FRACTION_SLASH not in below:
            return self._fraction(char, above, below, depth)
        options = [self.glyphs(base, depth + 1) for base in bases]
        count = max(len(option) for option in options)
        rows = [_row(char, [option[i % len(option)] for option in options]) for i in range(count)]
        tag = unicodedata.decomposition(char).partition(" ")[0]
        if tag in SMALL_FORMS:  # ², ™, º small and raised; ₂ small and lowered
            shift = SMALL_FORMS[tag] * self.hand.cap_height
            small = [_scaled(row, FRACTION_SCALE, char) for row in rows]
            return [_compose(char, [(row, 0.0, shift)], row.advance) for row in small]
        if len(bases) != 1 or bases == parts:
            return rows
        cut = accent(char, bases)
        if cut is None:
            return rows
        if bases in "ij":  # the accent takes the place of the dot
            rows = [dotless(row, self.hand.x_height) for row in rows]
        return [self._accented(row, cut) for row in rows]

    def _fraction(self, char: str, above: str, below: str, depth: int) -> list[Glyph]:
        """A vulgar fraction (``½``: ``above`` one, ``below`` two) as a writer makes it: a
        small numerator up at the cap height, a slash, a small denominator on the baseline.
        Written in a row at full size, ``3½`` would read as ``31/2``."""
        options = [self.glyphs(c, depth + 1) for c in above + below]
        slashes = self.glyphs("/", depth + 1)
        count = max(len(option) for option in [*options, slashes])
        lift = (1 - FRACTION_SCALE) * self.hand.cap_height
        rows = []
        for i in range(count):
            small = [option[i % len(option)] for option in options]
            numerator = _scaled(_row(char, small[: len(above)]), FRACTION_SCALE, char)
            denominator = _scaled(_row(char, small[len(above) :]), FRACTION_SCALE, char)
            slash = slashes[i % len(slashes)]
            pen = numerator.advance
            parts = [(numerator, 0.0, -lift), (slash, pen, 0.0)]
            pen += slash.advance
            parts.append((denominator, pen, 0.0))
            rows.append(_compose(char, parts, pen + denominator.advance))
        return rows

    def _accented(self, base: Glyph, cut: Accent) -> Glyph:
        """``base`` (the hand's letter) with the marks of ``cut``, each at the font's gap
        from the letter (or the mark before it) and centred as the font centres it."""
        k = self.hand.cap_height / cut.cap
        top, bottom = -base.baseline, base.height - base.baseline
        parts = [(base, 0.0, 0.0)]
        for font_mark, letter in cut.marks:
            mark = self._fitted(_scaled(font_mark, k, base.char))
            shift = centre(font_mark) - centre(letter) if cut.centred else 0.0
            dx = centre(base) + shift * k - centre(mark)
            if foot(font_mark) <= (foot(letter) - letter.baseline) / 2:  # above the letter
                gap = (-letter.baseline - foot(font_mark)) * k
                dy = top - gap - foot(mark)
                top = dy - mark.baseline
            else:  # under it
                gap = (-font_mark.baseline - foot(letter)) * k
                dy = bottom + gap + mark.baseline
                bottom = dy + foot(mark)
            parts.append((mark, dx, dy))
        return _compose(base.char, parts, base.advance)

    # -- 4. fallback fonts -------------------------------------------------------------------
    def _fromfonts(self, char: str) -> list[Glyph]:
        for font in fonts():
            glyph = font_glyph(font, char) if covers(font, char) else None
            if glyph is not None:
                k = self.hand.cap_height / cap_height(font)
                return [self._fitted(_scaled(glyph, k, char))]
        return []

    # -- 5. the box --------------------------------------------------------------------------
    def _box(self, char: str) -> Glyph:
        pen = max(1, round(self.pen))
        height = max(4, round(self.hand.cap_height))
        width = max(3, round(0.6 * self.hand.cap_height))
        ink = np.zeros((height, width), np.uint8)
        cv2.rectangle(ink, (0, 0), (width - 1, height - 1), 255, pen)
        return Glyph(char, ink, float(height), 0.1 * width, 1.2 * width)

    def _fitted(self, glyph: Glyph) -> Glyph:
        """``glyph`` drawn again along its centre lines with the hand's pen width; a dot
        (a centre line of a few pixels) is drawn a pen width round, so it stays visible. A
        solid shape (``♥``, ``★``, ``■``: a part deeper than :data:`SOLID_DEPTH`) has no
        centre line a pen could follow: it is drawn as its outline, as a writer draws a
        heart, or kept filled when it is small (``•``)."""
        radius = self.pen / 2
        grow = int(np.ceil(self.pen)) + 1
        solid = np.pad(glyph.ink, grow) >= 128
        lines = skeletonize(solid)
        if not lines.any():
            return glyph
        filled = np.zeros(solid.shape, bool)
        for part in self._solid_parts(solid):
            if max(np.ptp(np.nonzero(part), axis=1)) < SOLID_SMALL * self.hand.cap_height:
                filled |= part
                lines[part] = False
            else:
                lines[part] = _edge(_eroded(part, round(radius)))[part]
        _, labels, stats, _ = cv2.connectedComponentsWithStats(lines.astype(np.uint8))
        dots = np.isin(labels, np.flatnonzero(stats[:, cv2.CC_STAT_AREA] <= DOT))
        dots &= labels > 0
        ink = filled.astype(np.float32)
        for centres, reach in ((lines, radius), (dots, self.pen)):
            if centres.any():
                free = np.where(centres, 0, 1).astype(np.uint8)
                away = exact_reach(free)
                ink = np.maximum(ink, np.clip(reach + 0.5 - away, 0, 1))
        ink = (ink * 255).round().astype(np.uint8)
        return Glyph(glyph.char, ink, glyph.baseline + grow, glyph.left - grow, glyph.advance)

    def _solid_parts(self, solid: np.ndarray) -> list[np.ndarray]:
        """The connected parts of ``solid`` that are deeper than a stroke."""
        depth = cv2.distanceTransform(solid.astype(np.uint8), cv2.DIST_L2, 5)
        deep = depth > SOLID_DEPTH * self.hand.cap_height
        if not deep.any():
            return []
        _, labels = cv2.connectedComponents(solid.astype(np.uint8))
        return [labels == label for label in np.unique(labels[deep])]


def _eroded(mask: np.ndarray, by: int) -> np.ndarray:
    """``mask`` shrunk by ``by`` pixels, or as it is where that would leave nothing."""
    if by < 1:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * by + 1, 2 * by + 1))
    inner = cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
    return inner if inner.any() else mask


def _edge(mask: np.ndarray) -> np.ndarray:
    """The one-pixel rim of ``mask``."""
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    edge: np.ndarray = mask & ~inner
    return edge


def _stroke_width(inks: list[np.ndarray]) -> float:
    """Typical stroke width, in pixels: twice the ink's depth along its centre lines."""
    depths = []
    for ink in inks:
        solid = np.pad((ink >= 128).astype(np.uint8), 1)
        if solid.any():
            depth = cv2.distanceTransform(solid, cv2.DIST_L2, 5)
            depths.append(depth[skeletonize(solid > 0)])
    if not depths:
        return 1.0
    return max(1.0, 2 * float(np.median(np.concatenate(depths))) - 1)


# -- glyph arithmetic ------------------------------------------------------------------------
def _scaled(glyph: Glyph, factor: float, char: str) -> Glyph:
    height, width = glyph.ink.shape
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    method = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    ink = cv2.resize(glyph.ink, size, interpolation=method)
    return Glyph(char, ink, glyph.baseline * factor, glyph.left * factor, glyph.advance * factor)


def _lengthened(glyph: Glyph, factor: float, char: str) -> Glyph:
    """``glyph`` as ``char``, its ink stretched sideways by ``factor`` (the pen's width kept
    up and down), its advance grown by what the ink grew."""
    if factor == 1.0:
        return Glyph(char, glyph.ink, glyph.baseline, glyph.left, glyph.advance)
    height, width = glyph.ink.shape
    wider = max(1, round(width * factor))
    ink = cv2.resize(glyph.ink, (wider, height), interpolation=cv2.INTER_CUBIC)
    return Glyph(char, ink, glyph.baseline, glyph.left, glyph.advance + wider - width)


def _row(char: str, glyphs: list[Glyph]) -> Glyph:
    """``glyphs`` written one after the other, as one glyph of ``char``."""
    pen, parts = 0.0, []
    for glyph in glyphs:
        parts.append((glyph, pen, 0.0))
        pen += glyph.advance
    return _compose(char, parts, pen)


def _compose(char: str, parts: list[tuple[Glyph, float, float]], advance: float) -> Glyph:
    """One glyph from ``parts``: each glyph with its pen point moved by (dx, dy) hand pixels."""
    boxes = [(dx + g.left, dy - g.baseline, g) for g, dx, dy in parts]
    left = min(x for x, _, _ in boxes)
    top = min(y for _, y, _ in boxes)
    right = max(x + g.width for x, _, g in boxes)
    bottom = max(y + g.height for _, y, g in boxes)
    canvas = np.zeros((round(bottom - top) + 1, round(right - left) + 1), np.uint8)
    for x, y, g in boxes:
        paste(canvas, g.ink, round(y - top), round(x - left))
    return Glyph(char, canvas, -top, left, advance)
