"""A hand as an OpenType font, for people who want to type in it (``os1 hand font``).

:func:`build_font` traces each glyph's ink into outlines (OpenCV ``findContours`` on the ink
enlarged :data:`TRACE_SCALE` times and smoothed a little, holes included, simplified by
Douglas-Peucker) and builds the
font with fontTools' ``FontBuilder``:

- **Size.** 1000 units per em; the hand's cap height becomes :data:`CAP_HEIGHT` units. The
  baseline is at 0, each glyph's left side bearing and advance come from the hand.
- **Characters.** Every character of the hand is in the ``cmap``, plus a space.
- **Variants.** A character's second and later variants are extra glyphs ``a.alt1``,
  ``a.alt2``, ... A ``calt`` feature cycles them: a glyph after a first form takes its
  ``.alt1``, after an ``.alt1`` its ``.alt2``, and so on, so ``moon`` or a run of the same
  word does not repeat one shape. ``salt`` offers the alternates by hand and ``aalt`` lists them.
- **Formats.** ``.otf`` (CFF outlines, outer contours counter-clockwise) or ``.ttf``
  (TrueType outlines, outer contours clockwise; the outlines are polygons, so no curve
  conversion is needed).
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
from fontTools.agl import UV2AGL
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.t2CharStringPen import T2CharStringPen
from fontTools.pens.ttGlyphPen import TTGlyphPen

from os1.errors import UserInputError
from os1.handwriting.hand import Glyph, Hand
from os1.handwriting.page import make_parent

UNITS_PER_EM = 1000
#: The hand's cap height, in font units.
CAP_HEIGHT = 700
#: The ink is enlarged this many times before tracing, for smoother outlines.
TRACE_SCALE = 4
#: The ink is blurred this much (a Gaussian's sigma, in the hand's pixels) before tracing, so
#: that a ragged pencil edge makes a smooth outline.
SMOOTHING = 0.6
#: Douglas-Peucker tolerance of the outlines, in the hand's pixels.
TOLERANCE = 0.25
#: A pixel is ink where its coverage is at least this (of 255).
INK_THRESHOLD = 128

Contour = list[tuple[int, int]]


def build_font(hand: Hand, out: Path) -> None:
    """Write ``hand`` as a font to ``out`` (``.otf``, or ``.ttf``)."""
    suffix = out.suffix.lower()
    if suffix not in (".otf", ".ttf"):
        raise UserInputError(f"a font file ends in .otf (or .ttf): {out.name}")
    if not hand.glyphs:
        raise UserInputError(f"the hand {hand.name!r} has no glyphs")
    scale = CAP_HEIGHT / hand.cap_height
    outlines: dict[str, list[Contour]] = {".notdef": _notdef(), "space": []}
    advances = {".notdef": UNITS_PER_EM // 2, "space": round(hand.space * scale)}
    cmap = {ord(" "): "space"}
    for char in sorted(hand.glyphs):
        base = glyph_name(char)
        cmap[ord(char)] = base
        for i, glyph in enumerate(hand.glyphs[char]):
            name = base if i == 0 else f"{base}.alt{i}"
            outlines[name] = _outline(glyph, scale)
            advances[name] = max(0, round(glyph.advance * scale))
    builder = FontBuilder(UNITS_PER_EM, isTTF=suffix == ".ttf")
    builder.setupGlyphOrder(list(outlines))
    builder.setupCharacterMap(cmap)
    _setup_outlines(builder, hand.name, outlines, advances, ttf=suffix == ".ttf")
    _setup_tables(builder, hand, outlines, scale)
    features = feature_code(hand)
    if features:
        builder.addOpenTypeFeatures(features)
    make_parent(out)
    builder.save(str(out))


def glyph_name(char: str) -> str:
    """The glyph's name: the Adobe Glyph List name (``a``, ``zero``, ``period``) or
    ``uniXXXX``."""
    name: str = UV2AGL.get(ord(char), f"uni{ord(char):04X}")
    return name


def feature_code(hand: Hand) -> str:
    """The ``calt``, ``salt`` and ``aalt`` features (feaLib syntax) that bring the variants
    in; empty when no character has more than one."""
    alts = {glyph_name(c): len(v) - 1 for c, v in sorted(hand.glyphs.items()) if len(v) > 1}
    if not alts:
        return ""
    most = max(alts.values())
    firsts = " ".join(glyph_name(c) for c in sorted(hand.glyphs))
    lines = [f"@form0 = [{firsts}];"]
    for k in range(1, most + 1):
        having = [name for name, count in alts.items() if count >= k]
        lines.append(f"@form{k} = [{' '.join(f'{n}.alt{k}' for n in having)}];")
        lines.append(f"@has{k} = [{' '.join(having)}];")
    lines.append("lookup cycle {")
    lines += [f"    sub @form{k - 1} @has{k}' by @form{k};" for k in range(1, most + 1)]
    lines.append("} cycle;")
    lines.append("feature calt { lookup cycle; } calt;")
    choices = [
        f"    sub {n} from [{' '.join(f'{n}.alt{k}' for k in range(1, count + 1))}];"
        for n, count in alts.items()
    ]
    lines += ["feature salt {", *choices, "} salt;"]
    lines.append("feature aalt { feature salt; } aalt;")
    return "\n".join(lines) + "\n"


# -- outlines --------------------------------------------------------------------------------
def _outline(glyph: Glyph, scale: float) -> list[Contour]:
    """The glyph's ink as closed contours in font units, outer ones counter-clockwise and
    holes clockwise (y up)."""
    big = cv2.resize(
        glyph.ink,
        (glyph.width * TRACE_SCALE, glyph.height * TRACE_SCALE),
        interpolation=cv2.INTER_CUBIC,
    )
    smooth = cv2.GaussianBlur(big, (0, 0), SMOOTHING * TRACE_SCALE)
    mask = np.pad((smooth >= INK_THRESHOLD).astype(np.uint8), 1)
    found, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    contours: list[Contour] = []
    for index, contour in enumerate(found):
        points = cv2.approxPolyDP(contour, TOLERANCE * TRACE_SCALE, True).reshape(-1, 2)
        if len(points) < 3 or cv2.contourArea(points) < TRACE_SCALE**2:
            continue
        # Pixel edges, not centres: (col + 0.5) / TRACE_SCALE is the x in the hand's pixels.
        x = (points[:, 0] - 1 + 0.5) / TRACE_SCALE + glyph.left
        y = glyph.baseline - (points[:, 1] - 1 + 0.5) / TRACE_SCALE
        ring = [(round(a * scale), round(b * scale)) for a, b in zip(x, y, strict=True)]
        hole = hierarchy[0][index][3] >= 0
        if (_area(ring) > 0) == hole:
            ring.reverse()
        contours.append(ring)
    return contours


def _area(ring: Contour) -> float:
    """Signed area (shoelace): positive for a counter-clockwise ring with y up."""
    xs = np.array([p[0] for p in ring], dtype=float)
    ys = np.array([p[1] for p in ring], dtype=float)
    return float(np.dot(xs, np.roll(ys, -1)) - np.dot(np.roll(xs, -1), ys)) / 2


def _notdef() -> list[Contour]:
    """An empty box, the glyph shown for a character the font lacks."""
    outer = [(50, 0), (450, 0), (450, CAP_HEIGHT), (50, CAP_HEIGHT)]
    inner = [(100, 50), (100, CAP_HEIGHT - 50), (400, CAP_HEIGHT - 50), (400, 50)]
    return [outer, inner]


def _setup_outlines(
    builder: FontBuilder,
    family: str,
    outlines: dict[str, list[Contour]],
    advances: dict[str, int],
    *,
    ttf: bool,
) -> None:
    metrics = {
        name: (advances[name], min((x for c in rings for x, _ in c), default=0))
        for name, rings in outlines.items()
    }
    if ttf:
        glyphs = {}
        for name, rings in outlines.items():
            pen = TTGlyphPen(None)
            _draw(pen, [ring[::-1] for ring in rings])  # TrueType: outer contours clockwise
            glyphs[name] = pen.glyph()
        builder.setupGlyf(glyphs)
    else:
        charstrings = {}
        for name, rings in outlines.items():
            pen = T2CharStringPen(advances[name], None)
            _draw(pen, rings)
            charstrings[name] = pen.getCharString()
        builder.setupCFF(_ps_name(family), {"FullName": family}, charstrings, {})
    builder.setupHorizontalMetrics(metrics)


def _draw(pen: T2CharStringPen | TTGlyphPen, rings: list[Contour]) -> None:
    for ring in rings:
        pen.moveTo(ring[0])
        for point in ring[1:]:
            pen.lineTo(point)
        pen.closePath()


def _setup_tables(
    builder: FontBuilder, hand: Hand, outlines: dict[str, list[Contour]], scale: float
) -> None:
    ys = [y for rings in outlines.values() for ring in rings for _, y in ring]
    ascent = max([CAP_HEIGHT + 100, *ys])
    descent = min([-200, *ys])
    builder.setupHorizontalHeader(ascent=ascent, descent=descent)
    builder.setupNameTable(
        {
            "familyName": hand.name,
            "styleName": "Regular",
            "uniqueFontIdentifier": f"OS1:{hand.name}",
            "fullName": hand.name,
            "psName": _ps_name(hand.name),
            "version": "Version 1.000",
        }
    )
    builder.setupOS2(
        sTypoAscender=ascent,
        sTypoDescender=descent,
        sTypoLineGap=0,
        usWinAscent=ascent,
        usWinDescent=-descent,
        sxHeight=round(hand.x_height * scale),
        sCapHeight=CAP_HEIGHT,
        achVendID="OS1 ",
    )
    builder.setupPost()


def _ps_name(name: str) -> str:
    """A PostScript name: printable ASCII without spaces or ``[](){}<>/%``, at most 63."""
    return (re.sub(r"[^A-Za-z0-9._-]", "", name) or "Hand")[:63]
