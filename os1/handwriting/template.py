"""OS1's printable template: a PDF of boxes to fill in by hand, one character per box.

Each box has a light baseline and a dashed x-height line, and its character printed small under
it. Four filled squares in the corners let capture find the page in a photo; the small squares
between the bottom two say which page of which template it is (see ``layouts``). With
``variants`` 2 or 3, each character gets that many boxes, one above the other, and the template
runs over several pages.
"""

from __future__ import annotations

from pathlib import Path

from reportlab.lib.colors import Color
from reportlab.pdfgen.canvas import Canvas

from os1.errors import UserInputError
from os1.handwriting.layouts import (
    BASELINE,
    BOX,
    CODE_AT,
    CODE_CELL,
    MARK,
    XLINE,
    TemplatePage,
    code_bits,
    template_for,
)
from os1.handwriting.page import PAPERS, make_parent

INSTRUCTION = (
    "Write each character once in its box with a dark pen, resting on the baseline; "
    "small letters reach the dashed line."
)
GUIDE = Color(0.8, 0.8, 0.8)


def make_template(out: Path, *, paper: str = "letter", variants: int = 1) -> None:
    """Write the template for ``paper`` (letter or a4) with ``variants`` boxes per character."""
    if paper not in PAPERS:
        raise UserInputError(f"paper must be one of {', '.join(PAPERS)}, not {paper!r}")
    if not 1 <= variants <= 3:
        raise UserInputError(f"variants must be 1, 2 or 3, not {variants}")
    make_parent(out)  # missing folders are made, as for written letters and fonts
    canvas = Canvas(str(out), pagesize=PAPERS[paper])
    canvas.setTitle("OS1 handwriting template")
    for page in template_for(paper, variants):
        _draw_page(canvas, page)
        canvas.showPage()
    canvas.save()


def _draw_page(canvas: Canvas, page: TemplatePage) -> None:
    height = page.size[1]
    canvas.setFillGray(0)
    for x, y in page.marks():
        canvas.rect(x - MARK / 2, height - y - MARK / 2, MARK, MARK, stroke=0, fill=1)
    (x0, y0), (x1, _) = page.marks()[3], page.marks()[2]
    for at, bit in zip(CODE_AT, code_bits(page.code), strict=True):
        if bit:
            cx = x0 + at * (x1 - x0)
            half = CODE_CELL / 2
            canvas.rect(cx - half, height - y0 - half, CODE_CELL, CODE_CELL, stroke=0, fill=1)
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(page.marks()[0][0] + 16, height - 40, page.name)
    canvas.setFont("Helvetica", 8.5)
    canvas.drawString(page.marks()[0][0] + 16, height - 56, INSTRUCTION)
    for char, left, top in page.boxes:
        _draw_box(canvas, char, left, height - top - BOX)


def _draw_box(canvas: Canvas, char: str, left: float, bottom: float) -> None:
    """One box, ``left``/``bottom`` in PDF coordinates (from the page's bottom-left)."""
    canvas.setStrokeColor(GUIDE)
    canvas.setLineWidth(0.6)
    base = bottom + BOX * (1 - BASELINE)
    canvas.line(left + 2, base, left + BOX - 2, base)
    canvas.setDash(2, 2)
    xline = bottom + BOX * (1 - XLINE)
    canvas.line(left + 2, xline, left + BOX - 2, xline)
    canvas.setDash()
    canvas.setStrokeGray(0)
    canvas.setLineWidth(1.2)
    canvas.rect(left, bottom, BOX, BOX, stroke=1, fill=0)
    canvas.setFont("Helvetica", 7)
    canvas.drawCentredString(left + BOX / 2, bottom - 8, char)
