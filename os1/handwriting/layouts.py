"""The template sheets capture can read, as data: which character each box holds.

Two kinds of sheet:

* OS1's own template (``os1 hand template``): every page's geometry is known exactly, in points
  from the page's top-left corner. Four filled squares in the corners locate the page in a photo,
  and a row of small squares between the bottom two (a start square, four bits, a parity square)
  says which page of which template it is.
* The builtree ``handwrite`` sheets (layouts A, B, C and C2): a plain grid of boxes with no marks;
  capture finds the boxes and tells the layouts apart by the grid's shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from os1.handwriting.page import PAPERS

UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = UPPER.lower()
DIGITS = "0123456789"
#: The punctuation OS1's template asks for.
PUNCTUATION = ".,;:!?\"'-()&/@£$%"
#: Every character of OS1's template, in the order of its boxes.
TEMPLATE_CHARS = UPPER + LOWER + DIGITS + PUNCTUATION


@dataclass(frozen=True)
class Grid:
    """A builtree sheet: ``cols`` x ``rows`` boxes read row by row; ``None`` is a box to ignore."""

    name: str
    cols: int
    rows: int
    cells: tuple[str | None, ...]


def _grid(name: str, cols: int, rows: int, chars: str) -> Grid:
    cells: list[str | None] = list(chars)
    cells += [None] * (cols * rows - len(cells))
    return Grid(name, cols, rows, tuple(cells))


#: The builtree layouts, told apart by their grid shape (C2 from C by its blank lower rows).
GRIDS: tuple[Grid, ...] = (
    _grid("A", 7, 9, UPPER + LOWER + DIGITS),
    _grid("B", 8, 10, UPPER + LOWER + DIGITS + ".,;:!?\"'-+=/%&()[]"),
    _grid("C", 7, 8, DIGITS + UPPER + LOWER[:20]),
    _grid("C2", 7, 8, LOWER[20:]),
)

# -- OS1's template, in points from the page's top-left corner -------------------------------
COLS = 9
ROWS = 10
BOX = 50.0
GAP_X = 9.0
PITCH_Y = 66.0
GRID_TOP = 84.0
#: Guide lines, as fractions of the box height from its top.
BASELINE = 0.70
XLINE = 0.46
MARK = 16.0
#: Distance from the paper's edges to each registration mark's centre.
MARK_INSET = 30.0
CODE_CELL = 7.0
#: The code cells' centres, as fractions of the way from the bottom-left mark to the bottom-right.
CODE_AT = tuple(0.30 + 0.08 * i for i in range(6))


@dataclass(frozen=True)
class TemplatePage:
    """One page of OS1's template: its boxes as (character, left, top) in points."""

    code: int
    paper: str
    variants: int
    page: int
    pages: int
    boxes: tuple[tuple[str, float, float], ...]

    @property
    def size(self) -> tuple[float, float]:
        return PAPERS[self.paper]

    @property
    def name(self) -> str:
        return f"OS1 template v1 {self.paper} p{self.page}/{self.pages}"

    def marks(self) -> tuple[tuple[float, float], ...]:
        """The marks' centres: top-left, top-right, bottom-right, bottom-left."""
        w, h = self.size
        i = MARK_INSET
        return ((i, i), (w - i, i), (w - i, h - i), (i, h - i))


def code_bits(code: int) -> tuple[int, ...]:
    """The six code cells: always-on start, the code's four bits (high first), even parity."""
    bits = [(code >> k) & 1 for k in (3, 2, 1, 0)]
    return (1, *bits, sum(bits) % 2)


def decode_bits(bits: tuple[int, ...]) -> int | None:
    code = sum(b << k for b, k in zip(bits[1:5], (3, 2, 1, 0), strict=True))
    return code if len(bits) == 6 and code_bits(code) == bits else None


def _pages(paper: str, variants: int, first_code: int) -> list[TemplatePage]:
    per_page = ROWS // variants * COLS
    chunks = [TEMPLATE_CHARS[i : i + per_page] for i in range(0, len(TEMPLATE_CHARS), per_page)]
    width = COLS * BOX + (COLS - 1) * GAP_X
    left = (PAPERS[paper][0] - width) / 2
    pages = []
    for n, chunk in enumerate(chunks):
        boxes = []
        for i, char in enumerate(chunk):
            row, col = divmod(i, COLS)
            for v in range(variants):
                y = GRID_TOP + (row * variants + v) * PITCH_Y
                boxes.append((char, left + col * (BOX + GAP_X), y))
        pages.append(
            TemplatePage(first_code + n, paper, variants, n + 1, len(chunks), tuple(boxes))
        )
    return pages


@cache
def template_pages() -> tuple[TemplatePage, ...]:
    """Every page of every OS1 template (paper x variants), each with its own code."""
    pages: list[TemplatePage] = []
    for paper in PAPERS:
        for variants in (1, 2, 3):
            pages += _pages(paper, variants, len(pages))
    return tuple(pages)


def template_for(paper: str, variants: int) -> list[TemplatePage]:
    return [p for p in template_pages() if p.paper == paper and p.variants == variants]


def page_by_code(code: int) -> TemplatePage | None:
    return next((p for p in template_pages() if p.code == code), None)
