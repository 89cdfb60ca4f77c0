"""Handwriting benchmark: legibility, fidelity, naturalness, plotter output and speed of a
letter written in learned hands.

Hands: W1 learned from ``sheet_new.jpg``, W2 from ``didi.jpg``, W3 from ``suranshu.jpg`` (the
builtree sheets under ``../shared/data/handwriting/``), and the Debian handwriting fonts dkg
(``fonts-dkg-handwriting``) and breip (``fonts-breip``) as extra writers. Each writes the same
letter (``LETTER``, 446 characters) at 16 pt, 300 dpi, on letter paper, with variation on and
off. Measured:

- Legibility: Tesseract 5 (``--psm 6 --dpi 300 -l eng``), case-insensitive character error rate
  (CER) after collapsing whitespace, for every hand with variation on and off; baselines in the
  same run: a plain collage of each sheet hand's own glyph bitmaps (no variation: how legible
  the writer's own glyphs are, laid out as a font would) and the letter typeset in the dkg font
  with Pillow.
- Fidelity: the glyph distance (``os1.handwriting.distance``) from each rendered letter or digit,
  cut from the page PNG by its box, to the hand's own glyph of that character; for W1 also to a
  separate fill (``sheet1.png``, "probably W1", as a stand-in for W1's second fill, which is
  held back); and which writer the first 20 rendered letters and digits are nearest to.
- Naturalness: the glyph distance over all pairs of instances of the same letter or digit in
  the letter.
- Plotter: the single-stroke lines for the letter: open strokes only, the share of pen-up
  travel, and the CER of the lines drawn with a 0.5 mm pen against that of the PNG.
- Time to learn a hand and to write one page, beside typesetting the page with Pillow.

    .venv/bin/python benchmarks/handwriting.py               # writes docs/benchmarks.md (--seeds N)
    .venv/bin/python benchmarks/handwriting.py --quick       # W1 and dkg only; prints only
"""

from __future__ import annotations

import argparse
import itertools
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import report
from PIL import Image, ImageDraw, ImageFont

from os1.handwriting.distance import normalize, skeleton_distance
from os1.handwriting.fromfont import hand_from_font
from os1.handwriting.hand import Hand
from os1.handwriting.page import PAPERS, Page, Placed

REPO = Path(__file__).resolve().parents[1]
SECTION = "handwriting"
DATA = REPO.parent / "shared" / "data" / "handwriting" / "builtree-handwrite"
SHEETS = {"W1": "sheet_new.jpg", "W2": "didi.jpg", "W3": "suranshu.jpg"}
#: The stand-in for W1's second fill: layout C, "probably W1" (data README).
SECOND_FILL = "sheet1.png"
FONTS = {
    "dkg": Path("/usr/share/fonts/truetype/fifthhorseman/dkg.ttf"),
    "breip": Path("/usr/share/fonts/truetype/breip/Breip.ttf"),
}
SIZE_PT, DPI, PAPER, SEED = 16.0, 300, "letter", 0
#: Rendered letters and digits used to name the nearest writer.
IDENTIFY_GLYPHS = 20
PEN_MM = 0.5
#: Line pitch of the baselines (plain font, collage), in type sizes, as the layout's.
PITCH = 1.5

#: The letter every hand writes: mixed case, digits, and punctuation from the template. Each
#: paragraph is one line of text; the layout breaks it into lines of the page.
LETTER = "\n".join(
    [
        "Dear Quentin,",
        "",
        "Thank you for your letter of 14 March. I read it twice on the 8:15 train to Oxford, "
        "and laughed at the part about Zoe, the goat and the 3 lost hats! Can we meet next "
        "week? I am free on Tuesday or Friday after 6; tell me which suits you. Bring the old "
        'photos (all 27 of them) and I will make tea. Jack says "half of it is true" - I '
        "think 90% is. My new number is 0207 946 0958, and the flat is 5/B.",
        "",
        "With love and a quick wave,",
        "Vera",
    ]
)

#: Typographic forms Tesseract may print for the plain ASCII marks a hand writes.
OCR_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                          "\u2013": "-", "\u2014": "-"})  # fmt: skip

# -- targets (issue 7) ------------------------------------------------------------------------
CER_ON_MAX, CER_COST_MAX = 0.05, 0.03
OWN_MAX, SECOND_FILL_MAX = 0.030, 0.045
PAIR_MIN, P10_MIN, MEDIAN_RANGE, P90_MAX = 0.010, 0.015, (0.020, 0.060), 0.10
PEN_UP_MAX, PLOT_CER_MAX = 0.40, 0.02


@dataclass(frozen=True)
class Options:
    quick: bool
    write: bool
    out: Path
    keep: Path | None
    seeds: int = 1


def parse_args(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="W1 and dkg only; prints only")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md")
    parser.add_argument("--keep", type=Path, help="keep the written pages in this folder")
    parser.add_argument(
        "--seeds", type=int, default=4, help="seeds 0..N-1 read for CER with variation on"
    )
    args = parser.parse_args(argv)
    write = not (args.no_write or args.quick)
    return Options(args.quick, write, args.out, args.keep, max(1, args.seeds))


# -- measures ---------------------------------------------------------------------------------
def clean(text: str) -> str:
    """Lower case, typographic marks folded to ASCII, whitespace collapsed to single spaces."""
    return re.sub(r"\s+", " ", text.translate(OCR_FOLD).lower()).strip()


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions): rapidfuzz's where it is
    installed, else the textbook dynamic programme (fast enough for a page)."""
    try:
        from rapidfuzz.distance import Levenshtein
    except ImportError:
        return _levenshtein(a, b)
    return int(Levenshtein.distance(a, b))


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def cer(reference: str, read: str) -> float:
    """Case-insensitive character error rate of ``read`` against ``reference``."""
    ref = clean(reference)
    return levenshtein(ref, clean(read)) / len(ref)


def ocr(images: Iterable[Path]) -> str:
    """What Tesseract reads on the pages, one after the other."""
    texts = []
    for image in images:
        done = subprocess.run(
            ["tesseract", str(image), "stdout", "--psm", "6", "--dpi", str(DPI), "-l", "eng"],
            capture_output=True,
            text=True,
            check=True,
        )
        texts.append(done.stdout)
    return "\n".join(texts)


def quantiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {k: float("nan") for k in ("min", "p10", "median", "p90", "mean")}
    v = np.asarray(values)
    return {
        "min": float(v.min()),
        "p10": float(np.percentile(v, 10)),
        "median": float(np.median(v)),
        "p90": float(np.percentile(v, 90)),
        "mean": float(v.mean()),
    }


def skeletons(hand: Hand) -> dict[str, list[np.ndarray]]:
    """Every variant of every letter and digit of ``hand``, normalized."""
    return {
        c: [normalize(g.ink) for g in glyphs]
        for c, glyphs in hand.glyphs.items()
        if c.isalnum() and c.isascii()
    }


def nearest(skeleton: np.ndarray, candidates: Sequence[np.ndarray]) -> float:
    return min(skeleton_distance(skeleton, c) for c in candidates)


# -- hands ------------------------------------------------------------------------------------
@dataclass
class Learned:
    name: str
    hand: Hand
    seconds: float
    note: str = ""


def learn(name: str, source: Path) -> Learned:
    """Learn a hand from a sheet (or make one from a font), timed."""
    started = time.perf_counter()
    if source.suffix.lower() in {".ttf", ".otf"}:
        hand, note = hand_from_font(source, name=name), "font"
    else:
        from os1.handwriting.capture import learn_sheets

        hand, learned = learn_sheets([source], name)
        note = _learn_note(learned)
    return Learned(name, hand, time.perf_counter() - started, note)


def _learn_note(learned: Any) -> str:
    """What the capture could not read, in a few words (from its ``LearnReport``)."""
    notes = []
    for sheet in getattr(learned, "sheets", []):
        if sheet.problem:
            notes.append(str(sheet.problem))
        if sheet.empty:
            notes.append(f"empty boxes: {sheet.empty}")
        if sheet.missing:
            notes.append(f"boxes not found: {sheet.missing}")
    return "; ".join(notes).replace("|", "\\|")


# -- writing ----------------------------------------------------------------------------------
@dataclass
class Written:
    """A letter written by one hand: its pages, PNGs, boxes and the ink cut from the PNGs."""

    hand: str
    variation: bool
    pages: list[Page]
    pngs: list[Path]
    boxes: list[dict[str, Any]]
    seconds: float
    cuts: list[tuple[str, np.ndarray]] = field(default_factory=list)


def write_letter(hand: Hand, variation: bool, folder: Path, seed: int = SEED) -> Written:
    """Lay out and write ``LETTER`` as PNG, timed, and cut every letter and digit from it."""
    from os1.handwriting import layout, render

    started = time.perf_counter()
    pages = layout.layout(hand, LETTER, size_pt=SIZE_PT, dpi=DPI, paper=PAPER, seed=seed,
                          variation=variation)  # fmt: skip
    out = folder / f"{hand.name}-{'on' if variation else 'off'}-{seed}.png"
    pngs = render.write(pages, out)
    seconds = time.perf_counter() - started
    boxes = render.boxes(pages)
    written = Written(hand.name, variation, pages, pngs, boxes, seconds)
    written.cuts = cut_boxes(pngs, boxes, pages)
    return written


def cut_boxes(
    pngs: Sequence[Path], boxes: Sequence[dict[str, Any]], pages: Sequence[Page]
) -> list[tuple[str, np.ndarray]]:
    """The ink coverage (0 paper .. 255 ink) of every letter and digit as it came out on the
    PNG, cut by its box. Only the pixels of the glyph's own footprint are kept: a neighbour's
    ink that reaches into the box would otherwise count as part of the glyph."""
    inks = [page_coverage(p) for p in pngs]
    placed = [(i, p) for i, page in enumerate(pages) for p in page.placed]
    if len(placed) != len(boxes):
        raise RuntimeError(f"{len(boxes)} boxes for {len(placed)} placed glyphs")
    cuts = []
    for box, (number, glyph) in zip(boxes, placed, strict=True):
        char = str(box["char"])
        if char != glyph.char or int(box.get("page", number + 1)) != number + 1:
            raise RuntimeError(f"box {box} is not the placed {glyph.char!r}")
        if char.isalnum() and char.isascii():
            cut = _cut(inks[number], box, glyph)
            if (cut >= 128).any():
                cuts.append((char, cut))
    return cuts


def page_coverage(png: Path) -> np.ndarray:
    """A written PNG as ink coverage: 0 for white paper, 255 for the full ink colour."""
    from os1.handwriting import render

    ink = float(np.dot(getattr(render, "INK", (0, 0, 0)), (0.299, 0.587, 0.114)))
    grey = np.asarray(Image.open(png).convert("L"), dtype=np.float32)
    return np.clip((255 - grey) / (255 - ink) * 255, 0, 255).round().astype(np.uint8)


def _cut(ink: np.ndarray, box: dict[str, Any], glyph: Placed) -> np.ndarray:
    x, y, w, h = (round(float(box[k])) for k in ("x", "y", "w", "h"))
    crop = ink[max(y, 0) : y + h, max(x, 0) : x + w]  # boxes lie on the page
    footprint = np.zeros(crop.shape, dtype=bool)
    top, left = glyph.y - max(y, 0), glyph.x - max(x, 0)
    region = footprint[max(top, 0) : top + glyph.h, max(left, 0) : left + glyph.w]
    own = glyph.ink[max(-top, 0) :, max(-left, 0) :] > 0
    region |= own[: region.shape[0], : region.shape[1]]
    return np.where(footprint, crop, 0).astype(np.uint8)


def typeset(folder: Path) -> tuple[Path, float]:
    """The plain-font baseline: ``LETTER`` drawn with Pillow in the dkg font at the same size,
    resolution and paper, wrapped greedily to the width between 1-inch margins."""
    started = time.perf_counter()
    width, height = (round(v / 72 * DPI) for v in PAPERS[PAPER])
    font = ImageFont.truetype(str(FONTS["dkg"]), round(SIZE_PT / 72 * DPI))
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    y, pitch = DPI, round(PITCH * SIZE_PT / 72 * DPI)
    for line in _wrap(LETTER, lambda s: font.getlength(s), width - 2 * DPI):
        draw.text((DPI, y), line, font=font, fill=0)
        y += pitch
    out = folder / "plain-font.png"
    image.save(out)
    return out, time.perf_counter() - started


def _wrap(text: str, length: Callable[[str], float], width: float) -> list[str]:
    """``text``'s lines, each broken greedily between words to fit ``width``."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            if line and length(f"{line} {word}") > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
    return lines


@dataclass(frozen=True)
class Piece:
    """A glyph bitmap at page scale, for the collage."""

    ink: np.ndarray
    left: int
    baseline: int
    advance: float


def collage(hand: Hand, fallback: Hand, scale: float, folder: Path) -> Path:
    """The plain-collage baseline: the hand's own first glyph bitmaps pasted at ``scale`` (page
    pixels per hand pixel) on their baselines with their own advances, no variation, as a font
    would; a character the hand lacks comes from ``fallback`` at the hand's cap height."""
    width, height = (round(v / 72 * DPI) for v in PAPERS[PAPER])
    pieces = {c: _piece(hand, fallback, c, scale) for c in set(LETTER) if not c.isspace()}
    space = hand.space * scale

    def advance(text: str) -> float:
        return sum(p.advance if (p := pieces.get(c)) else space for c in text)

    page = np.zeros((height, width), dtype=np.uint8)
    y = round(DPI + hand.cap_height * scale)
    for line in _wrap(LETTER, advance, width - 2 * DPI):
        x = float(DPI)
        for char in line:
            piece = pieces.get(char)
            if piece is not None:
                _paste(page, piece, round(x), y)
            x += piece.advance if piece else space
        y += round(PITCH * SIZE_PT / 72 * DPI)
    out = folder / f"{hand.name}-collage.png"
    Image.fromarray(255 - page).save(out)
    return out


def _piece(hand: Hand, fallback: Hand, char: str, scale: float) -> Piece | None:
    own = hand.variants(char)
    variants = own or fallback.variants(char)
    if not variants:
        return None
    glyph = variants[0]
    s = scale * (1.0 if own else hand.cap_height / fallback.cap_height)
    h, w = max(1, round(glyph.height * s)), max(1, round(glyph.width * s))
    ink = cv2.resize(glyph.ink, (w, h), interpolation=cv2.INTER_AREA)
    return Piece(ink, round(glyph.left * s), round(glyph.baseline * s), glyph.advance * s)


def _paste(page: np.ndarray, piece: Piece, x: int, baseline: int) -> None:
    top, left = baseline - piece.baseline, x + piece.left
    h, w = piece.ink.shape
    region = page[max(top, 0) : top + h, max(left, 0) : left + w]
    ink = piece.ink[max(-top, 0) :, max(-left, 0) :][: region.shape[0], : region.shape[1]]
    np.maximum(region, ink, out=region)


# -- glyph distance measures ------------------------------------------------------------------
def cut_skeletons(written: Written) -> list[tuple[str, np.ndarray]]:
    return [(char, normalize(ink)) for char, ink in written.cuts]


def fidelity(cuts: Sequence[tuple[str, np.ndarray]], sample: dict[str, list[np.ndarray]]) -> float:
    """Mean distance from each rendered glyph to the nearest of the sample's glyphs of the same
    character (characters the sample lacks are left out)."""
    found = [nearest(s, sample[c]) for c, s in cuts if c in sample]
    return float(np.mean(found)) if found else float("nan")


@dataclass(frozen=True)
class Identified:
    chars: str
    means: dict[str, float]

    @property
    def best(self) -> str:
        return min(self.means, key=self.means.__getitem__)

    @property
    def margin(self) -> float:
        """How much nearer the best writer is than the runner-up."""
        first, second = sorted(self.means.values())[:2]
        return second - first


def identify(
    cuts: Sequence[tuple[str, np.ndarray]], writers: dict[str, dict[str, list[np.ndarray]]]
) -> Identified:
    """The writer whose glyphs lie nearest, on average, to ``IDENTIFY_GLYPHS`` rendered glyphs:
    the first instance of each character every writer has, in the order written."""
    chosen: dict[str, np.ndarray] = {}
    for char, skeleton in cuts:
        if char not in chosen and all(char in w for w in writers.values()):
            chosen[char] = skeleton
        if len(chosen) == IDENTIFY_GLYPHS:
            break
    means = {
        name: float(np.mean([nearest(s, glyphs[c]) for c, s in chosen.items()]))
        for name, glyphs in writers.items()
    }
    return Identified("".join(chosen), means)


def pair_distances(cuts: Sequence[tuple[str, np.ndarray]]) -> list[float]:
    """The distance between every two instances of the same character."""
    by_char: dict[str, list[np.ndarray]] = {}
    for char, skeleton in cuts:
        by_char.setdefault(char, []).append(skeleton)
    return [
        skeleton_distance(a, b)
        for group in by_char.values()
        for a, b in itertools.combinations(group, 2)
    ]


def sheet_distance(
    a: dict[str, list[np.ndarray]], b: dict[str, list[np.ndarray]]
) -> tuple[float, int]:
    """Mean distance between two samples' first glyphs of each character both have."""
    common = sorted(set(a) & set(b))
    found = [skeleton_distance(a[c][0], b[c][0]) for c in common]
    return (float(np.mean(found)) if found else float("nan")), len(common)


# -- plotter ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plotted:
    strokes: int
    closed: int
    pen_up_share: float
    cer: float
    seconds: float


def plot(written: Written, folder: Path) -> Plotted:
    """The letter's single-stroke lines: how many, how many closed (ends within half a pixel),
    the share of pen-up travel over all pages, and Tesseract's CER on the lines drawn with a
    0.5 mm pen."""
    from os1.handwriting import plotter

    started = time.perf_counter()
    pages = plotter.plot_lines(written.pages)
    seconds = time.perf_counter() - started
    stats = [plotter.plot_stats(lines) for lines in pages]
    images = []
    for i, (page, lines) in enumerate(zip(written.pages, pages, strict=True)):
        image = plotter.rasterize_lines(lines, page.width, page.height, page.dpi, pen_mm=PEN_MM)
        images.append(folder / f"{written.hand}-plot-{i + 1}.png")
        image.save(images[-1])
    up, down = sum(s["pen_up"] for s in stats), sum(s["pen_down"] for s in stats)
    return Plotted(
        strokes=sum(len(lines) for lines in pages),
        closed=sum(_is_closed(line) for lines in pages for line in lines),
        pen_up_share=up / (up + down),
        cer=cer(LETTER, ocr(images)),
        seconds=seconds,
    )


def _is_closed(line: np.ndarray) -> bool:
    return len(line) > 2 and float(np.linalg.norm(line[0] - line[-1])) <= 0.5


# -- the run ----------------------------------------------------------------------------------
@dataclass
class HandRun:
    """Everything measured for one hand."""

    learned: Learned
    on: Written
    off: Written
    cer_on: float = float("nan")
    cer_off: float = float("nan")
    #: CER with variation on for seeds 0, 1, ... (the first is ``cer_on``).
    cer_seeds: list[float] = field(default_factory=list)
    own: float = float("nan")
    second_fill: float = float("nan")
    identified: Identified | None = None
    pairs_on: list[float] = field(default_factory=list)
    pairs_off: list[float] = field(default_factory=list)
    plotted: Plotted | None = None
    plot_error: str = ""


@dataclass
class Baselines:
    #: CER of each sheet hand's plain collage.
    collages: dict[str, float] = field(default_factory=dict)
    plain_cer: float = float("nan")
    plain_s: float = float("nan")
    calibration: list[tuple[str, float, int]] = field(default_factory=list)


def sources(quick: bool) -> dict[str, Path]:
    sheets = {name: DATA / file for name, file in SHEETS.items()}
    everything: dict[str, Path] = {**sheets, **FONTS}
    return {k: everything[k] for k in ("W1", "dkg")} if quick else everything


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_hand(learned: Learned, folder: Path, seeds: int) -> HandRun:
    on = write_letter(learned.hand, True, folder)
    off = write_letter(learned.hand, False, folder)
    result = HandRun(learned, on, off)
    result.cer_on, result.cer_off = cer(LETTER, ocr(on.pngs)), cer(LETTER, ocr(off.pngs))
    result.cer_seeds = [result.cer_on] + [
        cer(LETTER, ocr(write_letter(learned.hand, True, folder, seed).pngs))
        for seed in range(SEED + 1, SEED + seeds)
    ]
    log(f"{learned.name}: learn {learned.seconds:.1f} s, write {on.seconds:.1f} s, "
        f"CER on {result.cer_on:.3f} off {result.cer_off:.3f}")  # fmt: skip
    return result


def measure_shapes(
    runs: dict[str, HandRun], writers: dict[str, dict[str, list[np.ndarray]]],
    second: dict[str, list[np.ndarray]] | None,
) -> None:  # fmt: skip
    for name, run in runs.items():
        cuts_on, cuts_off = cut_skeletons(run.on), cut_skeletons(run.off)
        run.own = fidelity(cuts_on, writers[name])
        if name == "W1" and second is not None:
            run.second_fill = fidelity(cuts_on, second)
        run.identified = identify(cuts_on, writers)
        run.pairs_on, run.pairs_off = pair_distances(cuts_on), pair_distances(cuts_off)
        log(f"{name}: own {run.own:.4f}, nearest {run.identified.best}, "
            f"pairs median {quantiles(run.pairs_on)['median']:.4f}")  # fmt: skip


def measure_plots(runs: dict[str, HandRun], folder: Path) -> None:
    for name, run in runs.items():
        try:
            run.plotted = plot(run.on, folder)
        except ImportError as exc:
            run.plot_error = f"not available ({exc})"
            log(f"{name}: plotter {run.plot_error}")
            return
        log(f"{name}: plot {run.plotted}")


def baselines(runs: dict[str, HandRun], folder: Path, quick: bool) -> Baselines:
    result = Baselines()
    plain, result.plain_s = typeset(folder)
    result.plain_cer = cer(LETTER, ocr([plain]))
    for name in SHEETS:
        if name in runs:
            run = runs[name]
            page = collage(run.learned.hand, runs["dkg"].learned.hand, _scale(run), folder)
            result.collages[name] = cer(LETTER, ocr([page]))
    log(f"baselines: plain font CER {result.plain_cer:.3f} in {result.plain_s:.2f} s, "
        f"collage CER {', '.join(f'{k} {v:.3f}' for k, v in result.collages.items())}")  # fmt: skip
    return result


def _scale(run: HandRun) -> float:
    """Page pixels per hand pixel in the variation-off letter: the median over letters and
    digits of the placed height over the glyph's own height."""
    ratios = [
        placed.h / run.learned.hand.variants(placed.char)[0].height
        for page in run.off.pages
        for placed in page.placed
        if placed.char.isalnum() and run.learned.hand.variants(placed.char)
    ]
    return float(np.median(ratios))


def calibrate(samples: dict[str, dict[str, list[np.ndarray]]]) -> list[tuple[str, float, int]]:
    """The glyph distance between whole samples, to read the other figures against."""
    pairs = [
        ("sheet_new.jpg / no_filter.jpg (same ink, two captures)", "W1", "W1-no_filter"),
        ("sheet_new.jpg / sheet1.png (probably the same writer)", "W1", "W1-sheet1"),
        ("W1 / W2", "W1", "W2"),
        ("W1 / W3", "W1", "W3"),
        ("W2 / W3", "W2", "W3"),
    ]
    return [
        (label, *sheet_distance(samples[a], samples[b]))
        for label, a, b in pairs
        if a in samples and b in samples
    ]


# -- report -----------------------------------------------------------------------------------
def _f(value: float, digits: int = 3) -> str:
    return "-" if value != value else f"{value:.{digits}f}"


def _mark(ok: bool) -> str:
    return "yes" if ok else "**no**"


def legibility_table(runs: dict[str, HandRun], base: Baselines) -> list[str]:
    seeds = max(len(r.cer_seeds) for r in runs.values())
    rows = [
        "| hand | CER variation on | CER variation off | on - off | targets met | "
        f"CER on, seeds 0-{seeds - 1}: mean / max | learn s | write the letter s | pages | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        ok = r.cer_on <= CER_ON_MAX and r.cer_on - r.cer_off <= CER_COST_MAX
        spread = f"{_f(float(np.mean(r.cer_seeds)))} / {_f(max(r.cer_seeds))}"
        rows.append(
            f"| {name} | {_f(r.cer_on)} | {_f(r.cer_off)} | {_f(r.cer_on - r.cer_off)} | "
            f"{_mark(ok)} | {spread} | {r.learned.seconds:.2f} | {r.on.seconds:.2f} | "
            f"{len(r.on.pages)} | {r.learned.note} |"
        )
    for name, value in base.collages.items():
        rows.append(f"| {name} plain collage (baseline) | - | {_f(value)} | | | | | | 1 | |")
    rows.append(
        f"| dkg font typeset by Pillow (baseline) | - | {_f(base.plain_cer)} | | | | | "
        f"{base.plain_s:.2f} | 1 | |"
    )
    return rows


def fidelity_table(runs: dict[str, HandRun]) -> list[str]:
    rows = [
        "| hand | to its own glyphs | to a second fill | nearest writer (20 glyphs) | right | "
        "margin to the runner-up |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        ident = r.identified
        assert ident is not None
        rows.append(
            f"| {name} | {_f(r.own, 4)} | {_f(r.second_fill, 4)} | {ident.best} | "
            f"{_mark(ident.best == name)} | {_f(ident.margin, 4)} |"
        )
    return rows


def naturalness_table(runs: dict[str, HandRun]) -> list[str]:
    rows = [
        "| hand | variation | pairs | below 0.010 | min | p10 | median | p90 | targets met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        for label, pairs in (("on", r.pairs_on), ("off", r.pairs_off)):
            q = quantiles(pairs)
            ok = (
                q["min"] >= PAIR_MIN
                and q["p10"] >= P10_MIN
                and MEDIAN_RANGE[0] <= q["median"] <= MEDIAN_RANGE[1]
                and q["p90"] <= P90_MAX
            )
            rows.append(
                f"| {name} | {label} | {len(pairs)} | {sum(d < PAIR_MIN for d in pairs)} | "
                f"{_f(q['min'], 4)} | {_f(q['p10'], 4)} | {_f(q['median'], 4)} | "
                f"{_f(q['p90'], 4)} | {_mark(ok) if label == 'on' else '-'} |"
            )
    return rows


def plotter_table(runs: dict[str, HandRun]) -> list[str]:
    rows = [
        "| hand | strokes | closed | pen-up share of travel | CER plotted | CER PNG | "
        "difference | targets met | lines s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in runs.items():
        p = r.plotted
        if p is None:
            rows.append(f"| {name} | {r.plot_error or 'not run'} | | | | | | | |")
            continue
        ok = (
            p.closed == 0 and p.pen_up_share <= PEN_UP_MAX and abs(p.cer - r.cer_on) <= PLOT_CER_MAX
        )
        rows.append(
            f"| {name} | {p.strokes} | {p.closed} | {_f(p.pen_up_share, 4)} | {_f(p.cer)} | "
            f"{_f(r.cer_on)} | {_f(p.cer - r.cer_on)} | {_mark(ok)} | {p.seconds:.2f} |"
        )
    return rows


def section(argv: Sequence[str], runs: dict[str, HandRun], base: Baselines, seconds: float) -> str:
    chars = len(LETTER)
    lines = [
        "## Handwriting: legibility, fidelity, naturalness, plotter",
        "",
        f"One letter of {chars} characters (in `benchmarks/handwriting.py`), written at "
        f"{SIZE_PT:g} pt, {DPI} dpi, {PAPER} paper, seed {SEED}, by hands learned from the "
        "builtree sheets (W1 `sheet_new.jpg`, W2 `didi.jpg`, W3 `suranshu.jpg`) and made from "
        "the Debian handwriting fonts dkg and breip. CER: Tesseract 5 (`--psm 6 --dpi 300 "
        "-l eng`), case-insensitive, whitespace collapsed, typographic quotes and dashes read "
        "as ASCII. Glyph distance: `os1.handwriting.distance` (skeletons on 64 x 64, symmetric "
        "mean chamfer, in units of the side), between each rendered letter or digit cut from "
        "the PNG by its box and the nearest variant of the same character. W1's second fill "
        'is held back, so `sheet1.png` (layout C, `0-9 A-Z a-t`, "probably W1" per the data '
        "README) stands in for it.",
        "",
        f"- Command: `{report.command_line(__file__, argv)}`",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; run time {seconds / 60:.1f} min",
        f"- Commit: {report.git_commit(REPO)}",
        f"- Machine: {report.machine().line()}",
        f"- Tesseract: {_tesseract_version()}",
        "",
        f"### Legibility (targets: CER <= {CER_ON_MAX} with variation on, on - off <= "
        f"{CER_COST_MAX})",
        "",
        *legibility_table(runs, base),
        "",
        f"### Fidelity (targets: own <= {OWN_MAX}, second fill <= {SECOND_FILL_MAX}, the "
        "right writer named)",
        "",
        *fidelity_table(runs),
        "",
        f"The writer is named from these rendered glyphs: `{_identify_chars(runs)}`; the "
        "candidates are all the hands above. " + _second_fill_note(base),
        "",
        f"### Naturalness: same-character pairs (targets: none below {PAIR_MIN}, p10 >= "
        f"{P10_MIN}, median {MEDIAN_RANGE[0]}-{MEDIAN_RANGE[1]}, p90 <= {P90_MAX})",
        "",
        *naturalness_table(runs),
        "",
        "Pairs of instances of the same letter or digit, each cut from the PNG. The rows with "
        "variation off show what near copies score (ink texture and placement on the pixel "
        "grid are all that differ); the targets are for variation on.",
        "",
        f"### Plotter, variation on (targets: no closed stroke, pen-up <= {PEN_UP_MAX:.0%} of "
        f"travel, CER within {PLOT_CER_MAX} of the PNG; {PEN_MM} mm pen)",
        "",
        *plotter_table(runs),
        "",
        "A stroke is closed when its ends lie within half a pixel. Pen-up travel runs from "
        "each stroke's end to the next one's start, summed over the pages; the difference is "
        "the plotted CER minus the PNG's, and the target bounds its size.",
    ]
    if base.calibration:
        lines += [
            "",
            "### Glyph distance between the samples themselves (mean over shared letters and "
            "digits)",
            "",
            "| samples | characters | distance |",
            "|---|---|---|",
            *(f"| {label} | {n} | {_f(d, 4)} |" for label, d, n in base.calibration),
        ]
    return "\n".join(lines)


def _second_fill_note(base: Baselines) -> str:
    found = [d for label, d, _ in base.calibration if label.startswith("sheet_new.jpg / sheet1")]
    if not found:
        return ""
    return (
        f"For scale: W1's sheet itself lies {found[0]:.4f} from `sheet1.png`, a "
        "low-resolution photo (last table)."
    )


def _identify_chars(runs: dict[str, HandRun]) -> str:
    return " ".join(sorted({r.identified.chars for r in runs.values() if r.identified}))


def _tesseract_version() -> str:
    try:
        done = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    except OSError:
        return "not installed"
    return (done.stdout or done.stderr).splitlines()[0]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    options = parse_args(argv)
    if shutil.which("tesseract") is None:
        sys.exit("tesseract is not installed (Debian: apt-get install tesseract-ocr)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="os1-hand-bench-") as tmp:
        folder = options.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        body = run(options, argv, folder, started)
    print(body)
    if options.write:
        report.write_section(options.out, SECTION, body)
        log(f"wrote the {SECTION} section of {options.out}")
    return 0


def run(options: Options, argv: Sequence[str], folder: Path, started: float) -> str:
    learned = {name: learn(name, path) for name, path in sources(options.quick).items()}
    samples = {name: skeletons(hand.hand) for name, hand in learned.items()}
    extra = {"W1-sheet1": DATA / SECOND_FILL}
    if not options.quick:
        extra["W1-no_filter"] = DATA / "no_filter.jpg"
    for name, path in extra.items():
        samples[name] = skeletons(learn(name, path).hand)
    runs = {name: run_hand(hand, folder, options.seeds) for name, hand in learned.items()}
    writers = {name: samples[name] for name in learned}
    measure_shapes(runs, writers, samples.get("W1-sheet1"))
    measure_plots(runs, folder)
    base = baselines(runs, folder, options.quick)
    base.calibration = calibrate(samples)
    return section(argv, runs, base, time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
