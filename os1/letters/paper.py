"""An approved letter out to paper: written in a hand, to PDF, PNG or pen-plotter files.

:func:`render_letter` lays the letter out with the handwriting engine
(:func:`os1.handwriting.layout.layout`): the date on the first line, starting at the middle of
the line as a letter's date does, a blank line, then the letter's text with its own line breaks.
The output format is the file's ending:

* ``.pdf``: print-ready and vector: every glyph a filled outline, written by the handwriting
  engine's one PDF writer (:func:`os1.handwriting.outline.write_pdf`, with an embedded face),
  one PDF page per page, letter or A4. With
  ``envelope=True`` a last page is a #10 envelope (9.5 x 4.125 in): the sender's address at the
  top left, the recipient's centred, in the same hand.
* ``.png``: one image per page (``NAME.png``, ``NAME-2.png``, ...), and the envelope as
  ``NAME-envelope.png``.
* ``.plot.svg`` and ``.gcode``: single strokes for a pen plotter
  (:mod:`os1.handwriting.plotter`), one file per page; the envelope as
  ``NAME-envelope.plot.svg`` or ``NAME-envelope.gcode``.

The same letter, hand and seed give byte-identical files.

A client with no learned hand yet writes in a stock hand (:data:`STOCK_HANDS`, made from the
handwriting fonts Debian packages; ``scripts/system-packages`` installs them).
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import NamedTuple

from os1.errors import UserInputError
from os1.handwriting.fontcut import BREIP, DKG
from os1.handwriting.fromfont import hand_from_font
from os1.handwriting.hand import Hand
from os1.handwriting.layout import SIZES, layout
from os1.handwriting.outline import write_pdf
from os1.handwriting.page import Page, Placed
from os1.handwriting.render import output_suffix as suffix_in
from os1.handwriting.render import raster, write
from os1.letters.models import LetterDoc


class StockFont(NamedTuple):
    """A handwriting font that serves as a stock hand, and the Debian package with it."""

    path: Path
    package: str


#: The stock hands by name: a client with no learned hand yet writes in one of these.
STOCK_HANDS: dict[str, StockFont] = {
    "dkg": StockFont(DKG, "fonts-dkg-handwriting"),
    "breip": StockFont(BREIP, "fonts-breip"),
}
#: The stock hand of a letter that names no hand.
DEFAULT_STOCK = "dkg"
#: Pixels per em at which a stock font is drawn into a hand: sharp up to about 20 pt at 600 dpi.
STOCK_EM = 128
#: The endings :func:`render_letter` writes.
SUFFIXES = (".pdf", ".png", ".plot.svg", ".gcode")
#: A #10 envelope, inch.
ENVELOPE = (9.5, 4.125)
#: The sender's address lies this far from the envelope's top and left edges, inch.
ENVELOPE_EDGE = 0.4
#: The sender's address is written this much smaller than the letter.
SENDER_SIZE = 0.75
#: The recipient's address is centred across, its middle this far down the envelope.
RECIPIENT_DOWN = 0.56
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def stock_hand(name: str) -> Hand:
    """The stock hand ``name`` (one of :data:`STOCK_HANDS`)."""
    stock = STOCK_HANDS.get(name)
    if stock is None:
        raise UserInputError(f"unknown stock hand {name!r}: use one of {', '.join(STOCK_HANDS)}")
    if not stock.path.is_file():
        raise UserInputError(
            f"the stock hand {name} needs the font {stock.path}: install {stock.package}"
        )
    return hand_from_font(stock.path, name=name, size=STOCK_EM)


def long_date(day: date) -> str:
    """``November 29, 2026``, the same in every locale."""
    return f"{MONTHS[day.month - 1]} {day.day}, {day.year}"


def letter_text(doc: LetterDoc) -> str:
    """What is written on the page: the date (indented to the middle of the line: the layout
    caps an indent at half the line), a blank line, and the letter's text."""
    text = doc.text.strip("\n").rstrip()
    if not text.strip():
        raise UserInputError(f"the letter {doc.title!r} has no text")
    return "\t" * 40 + long_date(doc.date) + "\n\n" + text


def output_suffix(out: Path) -> str:
    """The ending of ``out`` that says its format (one of :data:`SUFFIXES`)."""
    return suffix_in(out, SUFFIXES)


def letter_pages(
    doc: LetterDoc,
    hand: Hand,
    *,
    paper: str = "letter",
    size_pt: float = 16.0,
    dpi: int = 300,
    seed: int = 0,
    until: int | None = None,
) -> list[Page]:
    """The letter's pages, written in ``hand``; with ``until``, only its first ``until`` pages
    (see :func:`~os1.handwriting.layout.layout`)."""
    return layout(
        hand, letter_text(doc), size_pt=size_pt, dpi=dpi, paper=paper, seed=seed, until=until
    )


def page_png(
    doc: LetterDoc,
    number: int,
    *,
    hand: Hand,
    paper: str = "letter",
    size_pt: float = 16.0,
    dpi: int = 300,
    seed: int = 0,
) -> bytes:
    """Page ``number`` (from 1) of the letter as PNG bytes, the same as that page of
    :func:`render_letter`'s PNG files. The layout stops at that page, so an early page of a
    long letter costs only the pages up to it."""
    pages = letter_pages(doc, hand, paper=paper, size_pt=size_pt, dpi=dpi, seed=seed, until=number)
    if number > len(pages):
        raise UserInputError(f"the letter has {len(pages)} page(s), not {number}")
    image = io.BytesIO()
    raster(pages[number - 1]).save(image, format="PNG")
    return image.getvalue()


def render_letter(
    doc: LetterDoc,
    out: Path,
    *,
    hand: Hand,
    paper: str = "letter",
    size_pt: float = 16.0,
    dpi: int = 300,
    seed: int = 0,
    envelope: bool = False,
) -> list[Path]:
    """Write ``doc`` in ``hand`` to ``out`` (the format by its ending; see the module);
    returns the files written, the envelope's last."""
    suffix = output_suffix(out)
    pages = letter_pages(doc, hand, paper=paper, size_pt=size_pt, dpi=dpi, seed=seed)
    cover = envelope_page(doc, hand, size_pt=size_pt, dpi=dpi, seed=seed) if envelope else None
    if suffix == ".pdf":
        write_pdf(pages + ([cover] if cover else []), out, title=doc.title, author=doc.client)
        return [out]
    paths = write(pages, out)
    if cover is not None:
        paths += write([cover], out.with_name(out.name[: -len(suffix)] + "-envelope" + suffix))
    return paths


# -- the envelope ----------------------------------------------------------------------------
def envelope_page(
    doc: LetterDoc, hand: Hand, *, size_pt: float = 16.0, dpi: int = 300, seed: int = 0
) -> Page:
    """A #10 envelope addressed in ``hand``: the sender top left (when known, a little
    smaller), the recipient centred."""
    recipient = _address(doc.recipient)
    if not recipient:
        raise UserInputError(f"the letter {doc.title!r} has no recipient address for an envelope")
    page = Page(round(ENVELOPE[0] * dpi), round(ENVELOPE[1] * dpi), dpi)
    edge = round(ENVELOPE_EDGE * dpi)
    top = edge
    sender = _address(doc.sender)
    if sender:
        small = max(size_pt * SENDER_SIZE, SIZES[0])
        block, _, height = _block(hand, sender, small, dpi, seed + 1)
        page.placed.extend(_moved(block, edge, edge))
        top = edge + height + dpi // 4
    block, width, height = _block(hand, recipient, size_pt, dpi, seed + 2)
    left = (page.width - width) // 2
    down = max(round(RECIPIENT_DOWN * page.height - height / 2), top)
    if left < edge or down + height > page.height - edge:
        raise UserInputError(
            f"the addresses of {doc.title!r} do not fit on a #10 envelope at {size_pt:g} pt: "
            "shorten them or write smaller"
        )
    page.placed.extend(_moved(block, left, down))
    return page


def _address(lines: tuple[str, ...]) -> list[str]:
    return [line.strip() for line in lines if line.strip()]


def _block(
    hand: Hand, lines: list[str], size_pt: float, dpi: int, seed: int
) -> tuple[list[Placed], int, int]:
    """``lines`` written in ``hand``, moved so their ink starts at (0, 0); with the ink's
    width and height."""
    pages = layout(hand, "\n".join(lines), size_pt=size_pt, dpi=dpi, seed=seed)
    if len(pages) > 1:
        raise UserInputError("an address is too long for an envelope")
    placed = pages[0].placed
    left, top = min(p.x for p in placed), min(p.y for p in placed)
    right, bottom = max(p.x + p.w for p in placed), max(p.y + p.h for p in placed)
    return _moved(placed, -left, -top), right - left, bottom - top


def _moved(placed: list[Placed], dx: int, dy: int) -> list[Placed]:
    return [replace(p, x=p.x + dx, y=p.y + dy) for p in placed]
