"""Written pages as vector outlines: PDF (reportlab) and SVG.

Each placed glyph's coverage is enlarged :data:`UPSAMPLE` times (bicubic), cut at half
coverage and traced with OpenCV (``findContours``, outer edges and holes), then simplified to
within :data:`TOLERANCE` page pixels. One glyph is one path filled by the even-odd rule, so the
holes of ``o`` or ``e`` stay open. A glyph too faint to reach half coverage anywhere (a small
dot at a low resolution) is traced at half its own darkness, so it is not lost.

The PDF is written with reportlab's ``invariant`` mode, so the same pages give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from reportlab.lib.colors import Color
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


def write_pdf(pages: list[Page], out: Path) -> None:
    """One PDF page per page, sized to the paper, every glyph a filled even-odd path."""
    first = pages[0]
    canvas = Canvas(str(out), pagesize=_points(first), invariant=1, pageCompression=1)
    canvas.setTitle("Handwritten letter")
    canvas.setCreator("OS1")
    for page in pages:
        canvas.setPageSize(_points(page))
        canvas.setFillColor(Color(*INK_RGB))
        unit = 72 / page.dpi
        for placed in page.placed:
            shapes = contours(placed)
            if not shapes:
                continue
            path = canvas.beginPath()
            for shape in shapes:
                x, y = shape[:, 0] * unit, (page.height - shape[:, 1]) * unit
                path.moveTo(round(x[0], 2), round(y[0], 2))
                for px, py in zip(x[1:], y[1:], strict=True):
                    path.lineTo(round(px, 2), round(py, 2))
                path.close()
            canvas.drawPath(path, stroke=0, fill=1, fillMode=0)  # 0: even-odd
        canvas.showPage()
    canvas.save()


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
