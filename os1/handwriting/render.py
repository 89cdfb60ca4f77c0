"""Written pages out to files, by the file name's ending, and the glyph boxes.

* ``.png``: one image per page at the layout's resolution (``letter.png``, then
  ``letter-2.png``, ...): white paper and blue-black :data:`INK` laid on by each glyph's
  coverage. With ``ink_texture`` the ink is a little lighter and darker in places along the
  strokes, as a pen's pressure and flow make it: a smooth field, no more than :data:`TEXTURE`
  lighter, that leaves each stroke's outline (its half-coverage edge) where it was; it is
  seeded from the pages, so the same pages give the same file.
* ``.pdf``: vector outlines, one PDF page per page (:mod:`os1.handwriting.outline`).
* ``.svg``: the same outlines in one SVG, the pages stacked top to bottom with a gap of
  :data:`~os1.handwriting.outline.SVG_GAP` inch.
* ``.plot.svg`` and ``.gcode``: single strokes for pen plotters, by
  :func:`os1.handwriting.plotter.write_plot`.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import TypedDict

import cv2
import numpy as np
from PIL import Image

from os1.errors import UserInputError
from os1.handwriting.page import Page, make_parent

#: The ink's colour (sRGB): a dark blue-black.
INK = (24, 30, 62)
PAPER = (255, 255, 255)
#: The most the ink texture lightens the ink (share of full coverage).
TEXTURE = 0.22
#: The texture's grain, inch: about the length of a stroke.
TEXTURE_GRAIN = 0.06
SUFFIXES = (".png", ".pdf", ".svg", ".plot.svg", ".gcode")


class Box(TypedDict):
    """A placed glyph in ``--boxes`` JSON: pixels of the page's PNG; ``page`` and ``line``
    (on that page) count from 1."""

    char: str
    x: int
    y: int
    w: int
    h: int
    line: int
    page: int


def output_suffix(out: Path, suffixes: tuple[str, ...] = SUFFIXES) -> str:
    """The ending of ``out`` that names its format, the longest of ``suffixes`` that fits
    (``.plot.svg`` before ``.svg``); a name that is only the ending does not count."""
    name = out.name.lower()
    for suffix in sorted(suffixes, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    raise UserInputError(f"cannot write {out.name}: the name must end in {', '.join(suffixes)}")


def write(
    pages: list[Page], out: Path, *, ink_texture: bool = True, plotter: str | None = None
) -> list[Path]:
    """Write ``pages`` to ``out`` in the format its name ends in; returns the files written.
    ``ink_texture`` varies the ink of raster output as a pen does; ``plotter`` names the
    vpype-gcode profile of ``.gcode`` output (default ``os1_pen``)."""
    suffix = output_suffix(out)
    if not pages:
        raise UserInputError("nothing to write: no pages")
    make_parent(out)
    if suffix in (".plot.svg", ".gcode"):
        from os1.handwriting.plotter import write_plot

        return (
            write_plot(pages, out) if plotter is None else write_plot(pages, out, profile=plotter)
        )
    if suffix == ".png":
        return write_png(pages, out, ink_texture=ink_texture)
    from os1.handwriting.outline import write_pdf, write_svg

    (write_pdf if suffix == ".pdf" else write_svg)(pages, out)
    return [out]


def boxes(pages: list[Page]) -> list[Box]:
    """Every placed glyph, in reading order, where it lies in its page's PNG."""
    return [
        Box(char=p.char, x=p.x, y=p.y, w=p.w, h=p.h, line=p.line, page=number)
        for number, page in enumerate(pages, 1)
        for p in page.placed
    ]


def page_files(out: Path, count: int) -> list[Path]:
    """``letter.png`` for page 1, then ``letter-2.png``, ``letter-3.png``..."""
    return [
        out if n == 1 else out.with_name(f"{out.stem}-{n}{out.suffix}") for n in range(1, count + 1)
    ]


def write_png(pages: list[Page], out: Path, *, ink_texture: bool = True) -> list[Path]:
    paths = page_files(out, len(pages))
    for page, path in zip(pages, paths, strict=True):
        raster(page, ink_texture=ink_texture).save(path, format="PNG")
    return paths


def raster(page: Page, *, ink_texture: bool = True) -> Image.Image:
    """``page`` as an RGB image."""
    cover = coverage(page)
    if ink_texture:
        # Only ink past half coverage varies, so every stroke keeps its outline.
        heavy = cover > 0.5
        cover[heavy] = 0.5 + (cover[heavy] - 0.5) * _texture(page)[heavy]
    alpha = cover[..., None]
    paper, ink = np.array(PAPER, np.float32), np.array(INK, np.float32)
    pixels = paper * (1 - alpha) + ink * alpha
    return Image.fromarray(np.round(pixels).astype(np.uint8), "RGB")


def coverage(page: Page) -> np.ndarray:
    """The page's ink coverage, 0 paper to 1 ink (float32); where glyphs overlap the darker
    one wins."""
    cover = np.zeros((page.height, page.width), np.float32)
    for p in page.placed:
        x0, y0 = max(p.x, 0), max(p.y, 0)
        x1, y1 = min(p.x + p.w, page.width), min(p.y + p.h, page.height)
        if x1 > x0 and y1 > y0:
            part = p.ink[y0 - p.y : y1 - p.y, x0 - p.x : x1 - p.x].astype(np.float32) / 255
            np.maximum(cover[y0:y1, x0:x1], part, out=cover[y0:y1, x0:x1])
    return cover


def _texture(page: Page) -> np.ndarray:
    """A smooth field between ``1 - 2 * TEXTURE`` and 1 that scales the ink past half
    coverage: full ink comes out between ``1 - TEXTURE`` and full."""
    grain = max(2.0, TEXTURE_GRAIN * page.dpi)
    rows, cols = (max(2, round(n / grain) + 2) for n in (page.height, page.width))
    rng = np.random.Generator(np.random.PCG64(_fingerprint(page)))
    points = rng.random((rows, cols), dtype=np.float32)
    field = cv2.resize(points, (page.width, page.height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(1 - 2 * TEXTURE * np.clip(field, 0, 1), dtype=np.float32)


def _fingerprint(page: Page) -> int:
    """A number that follows the page's content: the seed of its texture."""
    marks = ",".join(f"{p.char}{p.x}:{p.y}" for p in page.placed)
    return zlib.crc32(marks.encode("utf-8"))
