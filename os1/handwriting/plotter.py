"""Pen-plotter output: written pages as single strokes, as a single-stroke SVG or as G-code.

Every placed glyph becomes its centre-line strokes (:mod:`os1.handwriting.strokes`); vpype then
joins strokes that meet end to end (``linemerge``, within :data:`MERGE_MM`) and orders them so
the pen travels little while lifted (``linesort``). A closed path is never sent: one that the
joining closes is cut in two at its far point.

Files, by the name's ending (a letter of several pages gives ``NAME.plot.svg``,
``NAME-2.plot.svg``, ...):

- ``.plot.svg``: one layer of ``<path>`` strokes, ``fill="none"``, black, :data:`PEN_MM` wide
  with round ends and joins (as a pen draws them: a viewer's default square-cut ends show a
  dot's short stroke as a tick), on a page the size of the paper (``width``/``height`` in CSS
  px at 96 per inch and a matching ``viewBox``, as vpype writes them).
- ``.gcode``: written by vpype-gcode with OS1's ``os1_pen`` profile (:data:`GCODE_PROFILE`,
  in ``gcode.toml`` beside this file): ``G21`` millimetres, absolute ``G90``; for each stroke the
  pen rises (``G0 Z3``), moves to the stroke's start (``G0``), lowers (``G1 Z0``) and draws
  (``G1``); ``M2`` ends. The origin is the paper's **bottom-left** corner with ``y`` up (the
  profile flips the page). Any other vpype-gcode profile may be named instead: the bundled
  ``gcodemm`` (no pen lift), or one of your own in ``~/.vpype.toml``.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from pathlib import Path
from typing import TypedDict

import cv2
import numpy as np
import vpype as vp
from PIL import Image

from os1.errors import UserInputError
from os1.handwriting.page import Page
from os1.handwriting.strokes import centerlines

#: Pen width of the single-stroke SVG and of :func:`rasterize_lines`, in millimetres.
PEN_MM = 0.5
#: Stroke ends closer than this are joined into one stroke, in millimetres.
MERGE_MM = 0.3
#: The vpype-gcode profile used for ``.gcode``.
GCODE_PROFILE = "os1_pen"
#: OS1's own profiles (``os1_pen``), loaded beside vpype-gcode's bundled ones.
PROFILES = Path(__file__).with_name("gcode.toml")
#: The endings :func:`write_plot` understands.
PLOT_SUFFIXES = (".plot.svg", ".gcode")
#: Passes of two-opt after the greedy sort (more passes gain little on text).
SORT_PASSES = 10
#: vpype's unit: CSS pixels, 96 per inch.
_VPYPE_DPI = 96.0


class PlotStats(TypedDict):
    """How a page plots: lengths in the lines' own units (page pixels)."""

    strokes: int
    pen_down: float
    pen_up: float
    #: pen-up travel / (pen-up travel + pen-down length); 0.0 for an empty page.
    pen_up_share: float


def plot_lines(pages: list[Page]) -> list[list[np.ndarray]]:
    """Each page's strokes in plotting order: open N x 2 ``x, y`` polylines in page pixels."""
    return [_page_lines(page) for page in pages]


def plot_stats(lines: list[np.ndarray]) -> PlotStats:
    """Pen-down length, pen-up travel (from each stroke's end to the next one's start; not
    from or back to the plotter's home) and the pen-up share of all travel."""
    down = sum(float(np.linalg.norm(np.diff(line, axis=0), axis=1).sum()) for line in lines)
    up = sum(float(np.linalg.norm(nxt[0] - prev[-1])) for prev, nxt in itertools.pairwise(lines))
    share = up / (up + down) if up + down > 0 else 0.0
    return PlotStats(strokes=len(lines), pen_down=down, pen_up=up, pen_up_share=share)


def rasterize_lines(
    lines: list[np.ndarray], width: int, height: int, dpi: int, pen_mm: float = PEN_MM
) -> Image.Image:
    """Draw ``lines`` (page pixels) in black with a round pen ``pen_mm`` wide on white paper:
    what the plotter's page will look like, for a legibility check."""
    canvas = np.full((height, width), 255, dtype=np.uint8)
    thickness = max(1, round(pen_mm / 25.4 * dpi))
    shift = 4  # sub-pixel precision: coordinates in 1/16 px
    # Points are pixel coordinates with centres at .5; OpenCV puts centres at whole numbers.
    curves = [np.round((line - 0.5) * (1 << shift)).astype(np.int32) for line in lines if len(line)]
    cv2.polylines(canvas, curves, False, 0, thickness, cv2.LINE_AA, shift)
    return Image.fromarray(canvas, "L")


def write_plot(pages: list[Page], out: Path, *, profile: str = GCODE_PROFILE) -> list[Path]:
    """Write ``pages`` to ``out`` (``.plot.svg`` or ``.gcode``), one file per page; returns the
    paths written."""
    suffix = _plot_suffix(out)
    if not pages:
        raise UserInputError("nothing to plot: no pages")
    paths = page_paths(out, len(pages), suffix)
    for page, lines, path in zip(pages, plot_lines(pages), paths, strict=True):
        document = _document(page, lines)
        if suffix == ".gcode":
            _write_gcode(document, path, profile)
        else:
            _write_svg(document, path)
    return paths


def page_paths(out: Path, count: int, suffix: str) -> list[Path]:
    """``letter.plot.svg`` for page 1, then ``letter-2.plot.svg``, ``letter-3.plot.svg``..."""
    stem = out.name[: -len(suffix)]
    return [
        out.with_name(f"{stem}{'' if n == 1 else f'-{n}'}{suffix}") for n in range(1, count + 1)
    ]


def _plot_suffix(out: Path) -> str:
    for suffix in PLOT_SUFFIXES:
        if out.name.lower().endswith(suffix) and len(out.name) > len(suffix):
            return suffix
    raise UserInputError(f"a plot file ends in .plot.svg or .gcode: {out.name}")


# -- vpype -----------------------------------------------------------------------------------
def _page_lines(page: Page) -> list[np.ndarray]:
    lines = vp.LineCollection()
    for placed in page.placed:
        for path in centerlines(placed.ink, pen=PEN_MM / 25.4 * page.dpi):
            lines.append((path[:, 0] + placed.x) + 1j * (path[:, 1] + placed.y))
    lines.merge(tolerance=MERGE_MM / 25.4 * page.dpi, flip=True)
    lines = vp.LineCollection([part for line in lines for part in _opened(line)])
    return [np.column_stack([line.real, line.imag]) for line in _sorted(lines)]


def _opened(line: np.ndarray) -> list[np.ndarray]:
    """A line that joining closed (its ends meet) comes back as two open halves."""
    if len(line) < 3 or abs(line[0] - line[-1]) > 0.5:
        return [line]
    far = int(np.argmax(np.abs(line - line[0])))
    return [line[: far + 1], line[far:]]


def _sorted(lines: vp.LineCollection) -> vp.LineCollection:
    """vpype's ``linesort``: the nearest next stroke (flipped where that is nearer), then a few
    passes of two-opt, which cut the pen-up travel of a page of text by about 15%."""
    import vpype_cli  # loads vpype's commands and plugins: only when plotting

    document = vp.Document()
    document.add(lines, 1)
    return vpype_cli.execute(f"linesort --two-opt --passes {SORT_PASSES}", document).layers[1]


def _document(page: Page, lines: list[np.ndarray]) -> vp.Document:
    """One layer of ``lines`` in vpype's units (CSS px), on a page the size of the paper."""
    scale = _VPYPE_DPI / page.dpi
    layer = vp.LineCollection([(line[:, 0] + 1j * line[:, 1]) * scale for line in lines])
    document = vp.Document(page_size=(page.width * scale, page.height * scale))
    document.add(layer, 1)
    pen = document.layers[1]
    pen.set_property(vp.METADATA_FIELD_PEN_WIDTH, PEN_MM / 25.4 * _VPYPE_DPI)
    pen.set_property("svg_stroke-linecap", "round")  # written by use_svg_metadata
    pen.set_property("svg_stroke-linejoin", "round")
    return document


def _write_svg(document: vp.Document, path: Path) -> None:
    with path.open("w", encoding="utf-8") as file:
        vp.write_svg(
            file,
            document,
            page_size=document.page_size,
            color_mode="none",
            set_date=False,
            use_svg_metadata=True,
        )


def _write_gcode(document: vp.Document, path: Path, profile: str) -> None:
    """vpype-gcode's ``gwrite`` into a file of ours (called below the command line, so the file
    is closed when done); the profile's notes, which it prints, are not shown."""
    import click
    from vpype_gcode.gwrite import gwrite  # loads the bundled profiles

    vp.config_manager.load_config_file(str(PROFILES))
    write = gwrite.callback.__wrapped__
    try:
        with path.open("w", encoding="utf-8") as file, contextlib.redirect_stderr(io.StringIO()):
            write(document, file, profile, ())
    except click.BadParameter as exc:  # an unknown profile
        path.unlink(missing_ok=True)
        raise UserInputError(f"G-code: {exc.message}") from exc
