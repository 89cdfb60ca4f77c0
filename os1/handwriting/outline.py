"""Written pages as vector outlines: PDF (reportlab) and SVG.

Each placed glyph's coverage is enlarged :data:`UPSAMPLE` times (bicubic), cut at half
coverage and traced with OpenCV (``findContours``, outer edges and holes), then simplified to
within :data:`TOLERANCE` page pixels. One glyph is one path filled by the even-odd rule, so the
holes of ``o`` or ``e`` stay open. A glyph too faint to reach half coverage anywhere (a small
dot at a low resolution) is traced at half its own darkness, so it is not lost.

:func:`write_pdf` is the one PDF writer for written pages (``os1 hand write``, a letter and its
envelope): reportlab's ``invariant`` mode, so the same pages give the same bytes, and a TrueType
face (:func:`serif_faces`) as the canvas's font, embedded, so that no PDF names a font it does
not carry (reportlab's default, Helvetica, is never embedded).
"""

from __future__ import annotations

import functools
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from reportlab.lib.colors import Color
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from os1.handwriting.page import Page, Placed

UPSAMPLE = 4
#: The coverage (of 255) where an outline is traced: half inked.
EDGE = 128
#: How far a simplified outline may stray from the traced one, page pixels.
TOLERANCE = 0.2
#: The gap between stacked pages in an SVG, inch.
SVG_GAP = 0.25
INK_HEX = "#181e3e"
INK_RGB = (24 / 255, 30 / 255, 62 / 255)


def contours(placed: Placed) -> list[np.ndarray]:
    """The outlines of ``placed``'s ink: closed polygons (``n x 2``, n >= 3) in page pixels."""
    ink = np.pad(placed.ink, 1)
    big = cv2.resize(ink, None, fx=UPSAMPLE, fy=UPSAMPLE, interpolation=cv2.INTER_CUBIC)
    level = min(EDGE, int(big.max()) / 2)  # a faint dot is traced at half its own darkness
    mask = (big >= max(level, 1)).astype(np.uint8)
    found, _ = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    shapes = []
    for contour in found:
        simple = cv2.approxPolyDP(contour, TOLERANCE * UPSAMPLE, True)[:, 0, :]
        if len(simple) >= 3:
            points = (simple.astype(np.float64) + 0.5) / UPSAMPLE - 1
            shapes.append(points + np.array([placed.x, placed.y]))
    return shapes


def outlines(page: Page) -> list[list[np.ndarray]]:
    """Each placed glyph's outlines in PDF points, from the page's bottom-left corner, y up."""
    unit = 72 / page.dpi
    flip = np.array([unit, -unit])
    shift = np.array([0.0, page.height * unit])
    glyphs = ([shape * flip + shift for shape in contours(p)] for p in page.placed)
    return [shapes for shapes in glyphs if shapes]


def draw_outlines(canvas: Canvas, glyphs: list[list[np.ndarray]]) -> None:
    """Fill ``glyphs`` (from :func:`outlines`) in ink on ``canvas``: one even-odd path a glyph,
    so the holes of ``o`` and ``e`` stay open."""
    canvas.saveState()
    canvas.setFillColor(Color(*INK_RGB))
    for shapes in glyphs:
        path = canvas.beginPath()
        for shape in shapes:
            points = np.round(shape, 2)
            path.moveTo(*points[0])
            for x, y in points[1:]:
                path.lineTo(x, y)
            path.close()
        canvas.drawPath(path, stroke=0, fill=1, fillMode=0)  # 0: even-odd
    canvas.restoreState()


def write_pdf(
    pages: list[Page], out: Path, *, title: str = "Handwritten letter", author: str = ""
) -> None:
    """``pages`` as a vector PDF, each PDF page the size of its page, every glyph a filled
    even-odd path. Written whole or not at all; the same pages give the same bytes."""
    buffer = BytesIO()
    canvas = Canvas(buffer, invariant=1, pageCompression=1, initialFontName=serif_faces())
    canvas.setTitle(title)
    if author:
        canvas.setAuthor(author)
    canvas.setCreator("OS1")
    for page in pages:
        canvas.setPageSize(_points(page))
        draw_outlines(canvas, outlines(page))
        canvas.showPage()
    canvas.save()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buffer.getvalue())


def write_svg(pages: list[Page], out: Path) -> None:
    """One SVG: the pages top to bottom, each a white sheet with its glyphs as paths."""
    width, height, dpi = pages[0].width, pages[0].height, pages[0].dpi
    gap = round(SVG_GAP * dpi)
    total = len(pages) * height + (len(pages) - 1) * gap
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width / dpi:.4f}in" '
        f'height="{total / dpi:.4f}in" viewBox="0 0 {width} {total}">',
    ]
    for number, page in enumerate(pages):
        top = number * (height + gap)
        parts.append(f'<g id="page-{number + 1}" transform="translate(0 {top})">')
        parts.append(f'<rect width="{page.width}" height="{page.height}" fill="#fff"/>')
        parts.append(f'<g fill="{INK_HEX}" fill-rule="evenodd">')
        parts.extend(path for path in map(_svg_path, page.placed) if path)
        parts.append("</g></g>")
    parts.append("</svg>")
    out.write_text("\n".join(parts) + "\n", encoding="utf-8")


def _svg_path(placed: Placed) -> str:
    steps = []
    for shape in contours(placed):
        points = " ".join(f"{x:.2f} {y:.2f}" for x, y in shape)
        steps.append(f"M{points}Z")
    return f'<path d="{"".join(steps)}"/>' if steps else ""


def _points(page: Page) -> tuple[float, float]:
    return page.width * 72 / page.dpi, page.height * 72 / page.dpi


# -- the typeset face ------------------------------------------------------------------------
#: The typeset face, first found: DejaVu Serif, else Bitstream Vera (shipped with reportlab).
SERIF_FILES = (
    (
        Path("/usr/share/fonts/truetype/dejavu"),
        ("DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSerif-Bold.ttf"),
    ),
    (Path(pdfmetrics.__file__).parent.parent / "fonts", ("Vera.ttf", "VeraIt.ttf", "VeraBd.ttf")),
)
SERIF = "OS1Serif"


@functools.cache
def serif_faces() -> str:
    """Register the typeset face with reportlab (``OS1Serif``, ``-Italic``, ``-Bold``, as one
    family, so ``<i>`` and ``<b>`` work in paragraphs); returns the regular face's name. TrueType
    faces are always embedded (as subsets) in the PDFs that use them. Setting it as a canvas's
    first font keeps reportlab from naming Helvetica, which it does not embed."""
    folder, files = next(
        ((folder, files) for folder, files in SERIF_FILES if (folder / files[0]).is_file()),
        SERIF_FILES[-1],
    )
    names = (SERIF, f"{SERIF}-Italic", f"{SERIF}-Bold")
    for name, file in zip(names, files, strict=True):
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    pdfmetrics.registerFontFamily(
        SERIF, normal=names[0], italic=names[1], bold=names[2], boldItalic=names[2]
    )
    return SERIF
