"""Learning a hand from photos or scans of filled template sheets.

For each sheet: find it and its boxes (``sheet``), undo the perspective box by box, cut the ink
from inside each box, clean it (specks, remnants of the box's border, faint guide lines) and
keep it as soft ink coverage. The sheets carry no usable baseline, so each glyph's baseline
comes from what its character is: most letters and digits sit on the line, ``g j p q y`` and
``, ;`` hang below it, quotes hang from the cap height, a hyphen floats at half the x-height.
Every sheet is then brought to one scale (cap height ``CAP`` pixels).

Several sheets give variants: every glyph read is kept. Note that several photos of *one*
filled sheet (the builtree ``sheet_new.jpg``, ``no_filter.jpg`` and ``excellent.jpg`` are one
sheet captured three times) are accepted too, but they give near copies, not a writer's
natural variation; a second fill of the template is what gives real variants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from os1.errors import UserInputError
from os1.handwriting.hand import Glyph, Hand
from os1.handwriting.layouts import GRIDS, TEMPLATE_CHARS
from os1.handwriting.sheet import Found, find_sheet, load_pages

#: The common scale: every sheet is resampled so its cap height is this many pixels.
CAP = 80.0
#: Small letters with no ascender or descender: their height is the x-height.
X_LETTERS = "acemnorsuvwxz"
#: Capitals whose height is the cap height (J and Q often dip below the line).
CAPITALS = "ABCDEFGHIKLMNOPRSTUVWXYZ"
DESCENDERS = "gpqy"
#: Marks whose height on the line is fixed by their class, not by their ink's bottom.
HIGH = "'\"`^*°"
MIDDLE = "-+=~"
BRACKETS = "()[]{}"
#: The share of a box's side cut off each edge, to stay clear of its printed border.
INSET = 0.08
#: Writers' x-height to cap height, used when a sheet lacks one of them.
X_RATIO = 0.62
#: How far a small letter's height may stray from the sheet's x-height (or a capital's from the
#: cap height) before it is scaled back to that bound. A letter written alone in a box is often
#: larger than the same letter in a line of text; in running text an outsized "o" reads as "O".
SIZE_SPREAD = 0.06


@dataclass
class SheetReport:
    """What one sheet (one page of one file) gave."""

    source: str
    layout: str | None
    read: str = ""
    empty: str = ""
    missing: str = ""
    problem: str | None = None

    def line(self) -> str:
        if self.layout is None:
            return f"{self.source}: {self.problem}"
        text = f"{self.source}: layout {self.layout}, "
        text += f"read {len(self.read)}: {self.read}" if self.read else "nothing read"
        if self.empty:
            text += f"; empty boxes {len(self.empty)}: {self.empty}"
        if self.missing:
            text += f"; boxes not found (place inferred): {self.missing}"
        return text


@dataclass
class LearnReport:
    """Per sheet: the layout found, the characters read, and what could not be read."""

    sheets: list[SheetReport] = field(default_factory=list)

    def summary(self) -> str:
        return "\n".join(sheet.line() for sheet in self.sheets)


@dataclass
class _Cut:
    """One glyph cut from its box, in the sheet's pixels: coverage 0..1 cropped to the ink,
    each ink part's (top, bottom) row in the crop, largest part first, and the printed
    baseline's row in the crop, where the box has one."""

    char: str
    ink: np.ndarray
    parts: list[tuple[int, int]]
    line: float | None = None


@dataclass
class _Sheet:
    """The glyphs cut from one sheet, with its x-height and cap height (if it shows them)."""

    cuts: list[_Cut]
    x_height: float | None
    cap_height: float | None


def learn_sheets(paths: Sequence[Path], name: str) -> tuple[Hand, LearnReport]:
    """Learn the hand ``name`` from filled sheets (images, or PDFs of scans: one sheet a
    page). Every glyph read becomes a variant of its character.

    Give several fills of the template for variants. Several photos of one filled sheet are
    accepted but add near copies, not new variants. A file that cannot be read, or holds no
    sheet, is reported and the others still count. Raises ``UserInputError`` when no file
    gives a glyph; the message says why for each file."""
    report = LearnReport()
    sheets: list[_Sheet] = []
    for path in paths:
        try:
            pages = load_pages(Path(path))
        except UserInputError as exc:  # reported with the rest; the other files still count
            report.sheets.append(SheetReport(str(path), None, problem=_without(str(exc), path)))
            continue
        for number, rgb in enumerate(pages, 1):
            source = str(path) if len(pages) == 1 else f"{path} page {number}"
            try:
                sheet, line = _read_sheet(rgb, source)
            except UserInputError as exc:  # this page gives nothing; the others still count
                sheet, line = None, SheetReport(source, None, problem=_without(str(exc), source))
            report.sheets.append(line)
            if sheet is not None:
                sheets.append(sheet)
    if not sheets:
        why = "; ".join(s.line() for s in report.sheets) or "no files given"
        raise UserInputError(f"no glyph could be read: {why}")
    return _hand(name, sheets, [str(p) for p in paths]), report


def _without(message: str, path: Path | str) -> str:
    """``message`` without the ``PATH: `` the report puts before it anyway."""
    prefix = f"{path}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


def _read_sheet(rgb: np.ndarray, source: str) -> tuple[_Sheet | None, SheetReport]:
    """The glyphs of the sheet in one image (``None`` if none), and what was read."""
    found = find_sheet(rgb)
    if found is None:
        problem = "no template sheet found (no corner marks, no grid of boxes)"
        return None, SheetReport(source, None, problem=problem)
    side = float(np.median([np.linalg.norm(q[1] - q[0]) for _, q in found.boxes]))
    size = max(24, round(side))
    darks = [_drop_guides(_darkness(rgb, quad, size)) for _, quad in found.boxes]
    level = _ink_level(darks)
    cuts: list[_Cut] = []
    empty: list[str] = []
    for char, dark in zip(_relabel(found, darks, level), darks, strict=True):
        if char is None:
            continue
        cut = _cut(char, dark, level, size, found.baseline)
        if cut is None:
            empty.append(char)
        else:
            cuts.append(cut)
    read = "".join(c.char for c in cuts)
    report = SheetReport(source, found.layout, read, "".join(empty), "".join(found.missing))
    if not cuts:
        return None, report
    return _Sheet(cuts, *_heights(cuts)), report


def _heights(cuts: list[_Cut]) -> tuple[float | None, float | None]:
    """The sheet's x-height and cap height: the median height of the letters that show them."""

    def median(chars: str) -> float | None:
        heights = [c.ink.shape[0] for c in cuts if c.char in chars]
        return float(np.median(heights)) if heights else None

    return median(X_LETTERS), median(CAPITALS)


def _relabel(found: Found, darks: list[np.ndarray], level: float) -> list[str | None]:
    """The characters of the boxes; a layout-C grid with ink only in its first row is C2."""
    chars = [char for char, _ in found.boxes]
    if found.layout == "C":
        inked = [bool((d > 0.6 * level).sum() > d.size * 0.002) for d in darks]
        if not any(inked[7:]) and any(inked[:7]):
            c2 = next(g for g in GRIDS if g.name == "C2")
            found.layout = "C2"
            chars = list(c2.cells)
    return chars


# -- one box ---------------------------------------------------------------------------------
def _darkness(rgb: np.ndarray, quad: np.ndarray, size: int) -> np.ndarray:
    """The box's inside, perspective undone, as darkness 0..1 against the local paper.

    The darkest channel is used, so coloured ink stands out from grey guide lines."""
    square = np.array([[0, 0], [size, 0], [size, size], [0, size]], dtype=np.float32)
    warp = cv2.getPerspectiveTransform(quad.astype(np.float32), square)
    box = cv2.warpPerspective(rgb, warp, (size, size), flags=cv2.INTER_LINEAR)
    inset = round(INSET * size)
    value = box.min(axis=2).astype(np.float32)[inset : size - inset, inset : size - inset]
    k = max(3, size // 5)
    paper = cv2.blur(cv2.dilate(value, np.ones((k, k), np.uint8)), (k, k))
    dark: np.ndarray = np.clip((paper - value) / np.maximum(paper, 1.0), 0.0, 1.0)
    return dark


def _ink_level(darks: list[np.ndarray]) -> float:
    """How dark full ink is on this sheet (darkness of a stroke's core)."""
    inked = np.concatenate([d[d > 0.25] for d in darks])
    return float(np.clip(np.percentile(inked, 75), 0.35, 1.0)) if inked.size > 50 else 0.8


def _cut(
    char: str, dark: np.ndarray, level: float, size: int, baseline: float | None
) -> _Cut | None:
    """The glyph in one box, or ``None`` if the box is empty."""
    mask = _clean(_hysteresis(dark, 0.35 * level, 0.6 * level), size)
    if not mask.any():
        return None
    soft = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    floor = 0.12 * level
    ink = np.clip((dark - floor) / (0.9 * level - floor), 0, 1) * soft
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, left = max(0, rows[0] - 1), max(0, cols[0] - 1)
    crop = ink[top : rows[-1] + 2, left : cols[-1] + 2]
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask[top:, left:])
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA]) + 1
    parts = [(int(stats[i, 1]), int(stats[i, 1] + stats[i, 3])) for i in order]
    line = None if baseline is None else baseline * size - round(INSET * size) - top
    return _Cut(char, crop.astype(np.float32), parts, line)


def _hysteresis(dark: np.ndarray, low: float, high: float) -> np.ndarray:
    """Pixels darker than ``low`` that are joined to some pixel darker than ``high``."""
    _, labels = cv2.connectedComponents((dark > low).astype(np.uint8), connectivity=8)
    strong = np.unique(labels[dark > high])
    return np.isin(labels, strong[strong > 0]).astype(np.uint8)


def _drop_guides(dark: np.ndarray) -> np.ndarray:
    """Erase printed guide lines: faint horizontal lines running across the whole box (dashed
    ones too), keeping ink that crosses them (well darker than the line)."""
    w = dark.shape[1]
    faint = (dark > 0.05).astype(np.uint8)
    across = cv2.morphologyEx(faint, cv2.MORPH_CLOSE, np.ones((1, max(3, w // 12)), np.uint8))
    across = cv2.dilate(across, np.ones((3, 1), np.uint8))  # a slightly tilted line
    lines = cv2.morphologyEx(across, cv2.MORPH_OPEN, np.ones((1, round(0.85 * w)), np.uint8))
    on = (lines > 0) & (faint > 0)
    if not on.any():
        return dark
    level = float(np.median(dark[on]))
    erased: np.ndarray = np.where(on & (dark < 2 * level + 0.1), 0.0, dark).astype(np.float32)
    return erased


def _clean(mask: np.ndarray, size: int) -> np.ndarray:
    """Drop specks, remnants of the box's border, and small marks far from the glyph."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    h, w = mask.shape
    speck = max(4.0, (0.02 * size) ** 2)
    keep = []
    for i in range(1, count):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        edge = x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1
        thin = min(bw, bh) < 0.06 * size and max(bw, bh) > 0.2 * size
        if area >= speck and not (edge and thin):
            keep.append(i)
    if not keep:
        return np.zeros_like(mask)
    largest = max(stats[i, cv2.CC_STAT_AREA] for i in keep)
    body = [i for i in keep if stats[i, cv2.CC_STAT_AREA] >= 0.15 * largest]
    x0 = min(stats[i, 0] for i in body)
    y0 = min(stats[i, 1] for i in body)
    x1 = max(stats[i, 0] + stats[i, 2] for i in body)
    y1 = max(stats[i, 1] + stats[i, 3] for i in body)
    near = 0.2 * size
    for i in keep:
        if i in body:
            continue
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        gap = max(x0 - (x + bw), x - x1, y0 - (y + bh), y - y1, 0)
        if gap <= near:
            body.append(i)
    return np.isin(labels, body).astype(np.uint8)


# -- metrics and scale -----------------------------------------------------------------------
def _hand(name: str, sheets: list[_Sheet], sources: list[str]) -> Hand:
    """Bring every sheet to cap height ``CAP`` and gather the glyphs as variants."""
    ratios = [s.x_height / s.cap_height for s in sheets if s.x_height and s.cap_height]
    ratio = float(np.median(ratios)) if ratios else X_RATIO
    glyphs: dict[str, list[Glyph]] = {}
    for sheet in sheets:
        cap = sheet.cap_height or (sheet.x_height / ratio if sheet.x_height else None)
        if cap is None:  # punctuation only: guess from the glyphs' own size
            cap = float(np.median([c.ink.shape[0] for c in sheet.cuts])) * 1.5
        x = sheet.x_height or cap * ratio
        for cut in sheet.cuts:
            glyph = _glyph(cut, x, cap, CAP / cap * _fit(cut, x, cap))
            glyphs.setdefault(glyph.char, []).append(glyph)
    return Hand(name, x_height=CAP * ratio, cap_height=CAP, glyphs=glyphs, sources=sources)


def _fit(cut: _Cut, x: float, cap: float) -> float:
    """The extra scale that brings a small letter's or capital's height within ``SIZE_SPREAD``
    of its class's height on the sheet; 1 for everything else."""
    if cut.char in X_LETTERS:
        target = x
    elif cut.char in CAPITALS or cut.char.isdigit():
        target = cap
    else:
        return 1.0
    ratio = float(cut.ink.shape[0]) / target
    return min(max(ratio, 1 - SIZE_SPREAD), 1 + SIZE_SPREAD) / ratio


def _glyph(cut: _Cut, x: float, cap: float, scale: float) -> Glyph:
    """The cut at the common scale, with its baseline, side bearing and advance."""
    h, w = cut.ink.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    baseline = _baseline(cut, x, cap) * size[1] / h
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    ink = np.clip(cv2.resize(cut.ink, size, interpolation=method), 0, 1)
    ink = np.round(ink * 255).astype(np.uint8)
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    bearing = 0.12 * x * scale
    advance = ink.shape[1] + 2 * bearing
    return Glyph(cut.char, ink.copy(), float(baseline - rows[0]), float(bearing), float(advance))


def _baseline(cut: _Cut, x: float, cap: float) -> float:
    """Where the baseline lies, in rows below the top of the cut, from the character's class."""
    h = float(cut.ink.shape[0])
    char = cut.char
    if char in HIGH or char in MIDDLE:
        if cut.line is not None:  # a printed baseline beats a guess
            return cut.line
        return cap if char in HIGH else h / 2 + x / 2
    if char in DESCENDERS:
        return min(x, 0.75 * h) if h > 1.15 * x else h
    if char == "j":  # the stem's top (below the dot) is at the x-height
        stem = cut.parts[0][0]
        return min(stem + x, 0.8 * h) if h > 1.15 * x + stem else h
    if char == "f" and h > 1.35 * cap:  # a looped f that reaches below the line
        return cap
    if char in ",;":
        top, bottom = max(cut.parts[:2], key=lambda p: p[1]) if char == ";" else (0, int(h))
        return top + 0.4 * (bottom - top)
    if char in BRACKETS and h > 1.1 * cap:
        return h / 2 + 0.4 * cap
    return h


# -- a contact sheet -------------------------------------------------------------------------
def glyph_sheet(hand: Hand, columns: int = 16) -> Image.Image:
    """Every glyph of ``hand`` (all variants) on a common baseline, row by row, over guide lines:
    blue baseline, green x-height, red cap height; the character is printed small in grey."""
    order = [c for c in TEMPLATE_CHARS if c in hand.glyphs]
    order += [c for c in hand.chars if c not in order]
    glyphs = [g for c in order for g in hand.glyphs[c]]
    if not glyphs:
        return Image.new("RGB", (1, 1), "white")
    pad = round(0.25 * hand.x_height)
    above = max(hand.cap_height, *(g.baseline for g in glyphs)) + pad
    below = max(0.0, *(g.height - g.baseline for g in glyphs)) + pad
    cell_w = max(g.width for g in glyphs) + 2 * pad
    cell_h = round(above + below)
    count = -(-len(glyphs) // columns)
    sheet = np.full((count * cell_h, columns * cell_w, 3), 255, np.uint8)
    for r in range(count):
        base = round(r * cell_h + above)
        for height, colour in ((0, (90, 90, 255)), (hand.x_height, (80, 190, 80))):
            sheet[base - round(height)] = colour
        sheet[base - round(hand.cap_height)] = (240, 110, 110)
    for i, glyph in enumerate(glyphs):
        r, c = divmod(i, columns)
        top = round(r * cell_h + above - glyph.baseline)
        left = c * cell_w + (cell_w - glyph.width) // 2
        region = sheet[top : top + glyph.height, left : left + glyph.width]
        region[:] = np.minimum(region, (255 - glyph.ink)[..., None])
    image = Image.fromarray(sheet)
    draw = ImageDraw.Draw(image)
    for i, glyph in enumerate(glyphs):
        r, c = divmod(i, columns)
        draw.text((c * cell_w + 3, r * cell_h + 2), glyph.char, fill=(150, 150, 150))
    return image
