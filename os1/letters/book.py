"""A book of letters as one PDF (reportlab's platypus).

The book opens with a title page (the title, the author, how many letters over which years),
then the contents (each letter's title, who wrote to whom and when, and the page it starts
on), then the letters in the order given, each starting on a new page. Every page after the
title page carries its number at the foot; the numbers are the PDF's own page numbers, so the
title page is page 1.

A letter comes out in one of two faces:

* ``handwriting``: each page of the letter as the handwriting engine writes it
  (:func:`os1.letters.paper.letter_pages`, 16 pt at 300 dpi by default), placed on the
  book's page as **vector outlines**, the same ones the letter's own PDF has; the letter's title
  and its writer and reader stand in small type in the top margin. A letter is written in
  ``hands[doc.hand]``, else in the stock hand ``doc.hand`` names, else in
  :data:`~os1.letters.paper.DEFAULT_STOCK`.
* ``typeset``: the title, who wrote to whom and the date, then the text set in a serif face
  (DejaVu Serif where installed, else Bitstream Vera from reportlab), paragraphs at blank lines.

Every face used is a TrueType font embedded in the PDF, so any Unicode text it covers (é, —,
“ ”, €) prints as written. The contents' page numbers come from where each letter really
landed: the book is laid out again with them until they no longer change.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape

import numpy as np
from reportlab.lib.colors import Color
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from os1.errors import UserInputError
from os1.handwriting.hand import Hand
from os1.handwriting.layout import clean
from os1.handwriting.outline import draw_outlines, outlines, serif_faces
from os1.handwriting.page import PAPERS
from os1.letters.models import LetterDoc
from os1.letters.paper import DEFAULT_STOCK, STOCK_HANDS, letter_pages, long_date, stock_hand

Face = Literal["handwriting", "typeset"]
FACES: tuple[Face, ...] = ("handwriting", "typeset")
#: The margin of typeset pages, points.
MARGIN = 72.0
#: Where the page number's baseline lies, points above the foot of the page.
FOLIO_AT = 36.0
#: Where a handwritten page's running head lies, points below the top of the page.
HEAD_AT = 40.0
GREY = Color(0.35, 0.35, 0.38)
#: How often the book is laid out at most before its contents settle (twice, as a rule).
PASSES = 4

#: Where each letter starts: letter index -> page number.
Starts = dict[int, int]


def make_book(
    docs: list[LetterDoc],
    out: Path,
    *,
    title: str,
    author: str,
    hands: dict[str, Hand] | None = None,
    face: Face = "handwriting",
    paper: str = "letter",
    seed: int = 0,
    dpi: int = 300,
) -> Path:
    """Write the book of ``docs`` to ``out`` (a ``.pdf``; see the module); returns ``out``.
    Handwriting is laid out and traced at ``dpi`` with ``seed``, as
    :func:`~os1.letters.paper.render_letter` does. Nothing is written unless the whole book is
    made."""
    _check(docs, out, title, face, paper)
    serif_faces()
    book = _Book(title.strip(), author.strip(), docs, PAPERS[paper])
    if face == "handwriting":
        book.written = _written(docs, hands or {}, paper, seed, dpi)
    pdf = _settled(book)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    return out


def _check(docs: list[LetterDoc], out: Path, title: str, face: str, paper: str) -> None:
    if not docs:
        raise UserInputError("a book needs at least one letter")
    if not title.strip():
        raise UserInputError("a book needs a title")
    if face not in FACES:
        raise UserInputError(f"unknown face {face!r}: use one of {', '.join(FACES)}")
    if paper not in PAPERS:
        raise UserInputError(f"unknown paper {paper!r}: use one of {', '.join(PAPERS)}")
    if not out.name.lower().endswith(".pdf") or len(out.name) <= len(".pdf"):
        raise UserInputError(f"cannot write {out.name}: a book's name must end in .pdf")
    for doc in docs:
        if not doc.title.strip():
            raise UserInputError(f"a letter of {doc.client} to {doc.correspondent} has no title")
        if not clean(doc.text).strip():
            raise UserInputError(f"the letter {doc.title!r} has no text")


def learned_hands(docs: list[LetterDoc], home: Path) -> dict[str, Hand]:
    """The learned hands the letters name, loaded from ``home``'s hands folder; a name that is
    not a learned hand is left to be a stock hand."""
    from os1.handwriting.hand import hands_dir, list_hands, load_hand

    root = hands_dir(home)
    known = set(list_hands(root))
    wanted = {d.hand for d in docs if d.hand is not None and d.hand in known}
    return {name: load_hand(name, root) for name in sorted(wanted)}


def hand_for(doc: LetterDoc, hands: dict[str, Hand]) -> Hand:
    """The hand ``doc`` is written in: ``hands[doc.hand]``, else the stock hand ``doc.hand``
    names, else the default stock hand."""
    if doc.hand is not None and doc.hand in hands:
        return hands[doc.hand]
    name = doc.hand or DEFAULT_STOCK
    if name not in STOCK_HANDS:
        raise UserInputError(
            f"no hand {name!r} for the letter {doc.title!r}: pass it, or name a stock hand "
            f"({', '.join(STOCK_HANDS)})"
        )
    return stock_hand(name)


#: A handwritten page: each glyph's outlines (:func:`os1.handwriting.outline.outlines`).
Outlines = list[list[np.ndarray]]


def _written(
    docs: list[LetterDoc], hands: dict[str, Hand], paper: str, seed: int, dpi: int
) -> list[list[Outlines]]:
    """Each letter's handwritten pages as outlines (traced once, drawn in every pass)."""
    return [
        [
            outlines(page)
            for page in letter_pages(doc, hand_for(doc, hands), paper=paper, seed=seed, dpi=dpi)
        ]
        for doc in docs
    ]


@dataclass
class _Book:
    title: str
    author: str
    docs: list[LetterDoc]
    size: tuple[float, float]
    #: Per letter, its handwritten pages; ``None`` for the typeset face.
    written: list[list[Outlines]] | None = None


def _settled(book: _Book) -> bytes:
    """The book's PDF, laid out again until the contents' page numbers are where the letters
    start."""
    starts: Starts = {}
    for _ in range(PASSES):
        found: Starts = {}
        pdf = _build(book, starts, found)
        if found == starts:
            return pdf
        starts = found
    raise RuntimeError("the book's contents did not settle")  # pragma: no cover


def _build(book: _Book, starts: Starts, found: Starts) -> bytes:
    """One layout of the book: the contents show ``starts``; ``found`` gets the real ones."""
    buffer = BytesIO()
    template = BaseDocTemplate(
        buffer,
        pagesize=book.size,
        title=book.title,
        author=book.author,
        creator="OS1",
        invariant=1,
        initialFontName=serif_faces(),
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
    )
    width, height = book.size[0] - 2 * MARGIN, book.size[1] - 2 * MARGIN
    frame = Frame(MARGIN, MARGIN, width, height, 0, 0, 0, 0, id="body")  # no padding
    template.addPageTemplates(
        [
            PageTemplate(id="title", frames=[frame]),
            PageTemplate(id="body", frames=[frame], onPage=_folio),
        ]
    )
    template.build(_story(book, starts, found))
    return buffer.getvalue()


def _folio(canvas: Any, doc: Any) -> None:
    """The page number at the foot of the page."""
    canvas.saveState()
    canvas.setFont(serif_faces(), 10)
    canvas.setFillColor(GREY)
    canvas.drawCentredString(doc.pagesize[0] / 2, FOLIO_AT, str(canvas.getPageNumber()))
    canvas.restoreState()


# -- the story -------------------------------------------------------------------------------
def _story(book: _Book, starts: Starts, found: Starts) -> list[Any]:
    story: list[Any] = [*_title_page(book), NextPageTemplate("body"), PageBreak()]
    story += _contents(book, starts)
    for index, doc in enumerate(book.docs):
        story += [PageBreak(), _Mark(index, found)]
        if book.written is None:
            story += _typeset(doc)
        else:
            story += _handwritten(doc, book.written[index], book.size)
    return story


def _style(name: str, size: float, **more: Any) -> ParagraphStyle:
    italic = more.pop("italic", False)
    font = f"{serif_faces()}-Italic" if italic else serif_faces()
    more.setdefault("leading", size * 1.4)
    return ParagraphStyle(name, fontName=font, fontSize=size, **more)


def _title_page(book: _Book) -> list[Any]:
    years = sorted({doc.date.year for doc in book.docs})
    span = str(years[0]) if len(years) == 1 else f"{years[0]}\u2013{years[-1]}"
    count = f"{len(book.docs)} letter{'s' if len(book.docs) > 1 else ''}, {span}"
    styles = _styles()
    story: list[Any] = [Spacer(1, 180), Paragraph(_text(book.title), styles["title"])]
    if book.author:
        story += [Spacer(1, 24), Paragraph(_text(book.author), styles["author"])]
    return [*story, Spacer(1, 36), Paragraph(_text(count), styles["note"])]


def _contents(book: _Book, starts: Starts) -> list[Any]:
    rows = [
        [
            Paragraph(f"{_text(doc.title)}<br/><i>{_text(_byline(doc))}</i>", _styles()["entry"]),
            Paragraph(str(starts.get(index, "")), _styles()["page"]),
        ]
        for index, doc in enumerate(book.docs)
    ]
    width = book.size[0] - 2 * MARGIN
    table = Table(rows, colWidths=[width - 48, 48], repeatRows=0)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), serif_faces()),  # else Helvetica, not embedded
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 10),
            ]
        )
    )
    return [Paragraph("Contents", _styles()["heading"]), Spacer(1, 12), table]


def _typeset(doc: LetterDoc) -> list[Any]:
    head = [
        Paragraph(_text(doc.title), _styles()["heading"]),
        Paragraph(_text(_byline(doc)), _styles()["byline"]),
        Spacer(1, 18),
    ]
    return head + [Paragraph(part, _styles()["body"]) for part in _paragraphs(doc.text)]


def _handwritten(doc: LetterDoc, pages: list[Outlines], size: tuple[float, float]) -> list[Any]:
    story: list[Any] = []
    for number, glyphs in enumerate(pages):
        if number:
            story.append(PageBreak())
        story.append(_Written(f"{doc.title} · {_byline(doc)}", glyphs, *size))
    return story


def _byline(doc: LetterDoc) -> str:
    return f"{doc.client} to {doc.correspondent}, {long_date(doc.date)}"


def _paragraphs(text: str) -> list[str]:
    """``text``'s paragraphs (split at blank lines) as paragraph markup, lines kept."""
    parts = re.split(r"\n[ \t]*\n", clean(text))
    lines = ([line.strip() for line in part.split("\n")] for part in parts)
    return ["<br/>".join(_text(line) for line in part if line) for part in lines if any(part)]


def _text(text: str) -> str:
    return escape(" ".join(text.split()))


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    """The book's paragraph styles (made on first use: they register the typeface)."""
    return {
        "title": _style("title", 30, alignment=TA_CENTER, leading=38),
        "author": _style("author", 16, alignment=TA_CENTER, italic=True),
        "note": _style("note", 11, alignment=TA_CENTER, textColor=GREY),
        "heading": _style("heading", 20, spaceAfter=4),
        "byline": _style("byline", 11, italic=True, textColor=GREY),
        "body": _style("body", 12, leading=18, spaceAfter=9),
        "entry": _style("entry", 12, leading=16),
        "page": _style("page", 12, alignment=TA_RIGHT),
    }


# -- flowables -------------------------------------------------------------------------------
class _Mark(Flowable):  # type: ignore[misc]
    """Takes no room; notes in ``found`` the page that letter ``index`` starts on."""

    def __init__(self, index: int, found: Starts) -> None:
        super().__init__()
        self.index = index
        self.found = found

    def wrap(self, _width: float, _height: float) -> tuple[float, float]:
        return 0.0, 0.0

    def draw(self) -> None:
        self.found[self.index] = self.canv.getPageNumber()


class _Written(Flowable):  # type: ignore[misc]
    """A handwritten page, drawn where the handwriting engine put it on the whole page (not in
    the frame), with a running head in the top margin; takes no room in the frame."""

    def __init__(self, head: str, glyphs: Outlines, width: float, height: float) -> None:
        super().__init__()
        self.head = head
        self.glyphs = glyphs
        self.page_width = width
        self.page_height = height

    def wrap(self, _width: float, _height: float) -> tuple[float, float]:
        return 0.0, 0.0

    def drawOn(self, canvas: Any, _x: float, _y: float, _sW: float = 0) -> None:
        canvas.saveState()
        canvas.setFont(f"{serif_faces()}-Italic", 9)
        canvas.setFillColor(GREY)
        canvas.drawCentredString(self.page_width / 2, self.page_height - HEAD_AT, self.head)
        canvas.restoreState()
        draw_outlines(canvas, self.glyphs)
