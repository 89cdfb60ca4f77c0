"""Letters out to paper and into a book: PDFs parsed back with PDFium (pages, text, sizes,
ink), fonts checked for embedding in the PDF's own dictionaries, PNG and plotter files, and the
errors a writer can cause.

Letters are written in the stock hand dkg at a low resolution, so the tests run fast; one is
written in the hand learned from writer W1's sheet."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from fixtures_hand import BREIP, DKG, SHEETS
from PIL import Image

from os1.errors import UserInputError
from os1.handwriting.hand import Hand
from os1.handwriting.outline import write_pdf
from os1.handwriting.render import write
from os1.letters.book import make_book
from os1.letters.models import LetterDoc
from os1.letters.paper import (
    STOCK_HANDS,
    letter_pages,
    letter_text,
    page_png,
    render_letter,
    stock_hand,
)

pytestmark = pytest.mark.skipif(
    not (DKG.is_file() and BREIP.is_file()), reason="the handwriting fonts are not installed"
)

DPI = 100
#: The foot of a page, where its number stands, points.
FOOT = 54
ANNIVERSARY = LetterDoc(
    title="Fifty years of mornings",
    client="Loretta",
    correspondent="Roberta",
    date=date(2025, 6, 14),
    text=(
        "Dear Roberta,\n\n"
        "Fifty years ago you spilled your coffee on my shoes at the café, and you laughed.\n\n"
        "Yours, every morning,\nLoretta"
    ),
    sender=("Loretta Mendez", "1418 Alvarado Terrace", "Los Angeles, CA 90006"),
    recipient=("Roberta Mendez", "22 Harbor View Lane", "Santa Cruz, CA 95060"),
)
FIRST_DAY = LetterDoc(
    title="For your first day",
    client="Paul",
    correspondent="Lucy",
    date=date(2025, 9, 1),
    hand="breip",
    text="Dear Lucy,\n\nTake the €2 coin from Lisbon I put in your coat — it is not lucky.\n\nDad",
)
PORCH = LetterDoc(
    title="The porch light",
    client="Amir",
    correspondent="Jun",
    date=date(2026, 2, 3),
    text="Jun,\n\nCome for dinner in March; I\u2019ll leave the \u201cporch light\u201d on.\n\n"
    "Amir",
)
#: A sentence of each letter, as the typeset book must print it.
SENTENCES = {
    ANNIVERSARY.title: "you spilled your coffee on my shoes at the café",
    FIRST_DAY.title: "Take the €2 coin from Lisbon I put in your coat — it is not lucky.",
    PORCH.title: "I\u2019ll leave the \u201cporch light\u201d on.",
}


#: Two pages typeset, three written (few letters, many lines: laying out handwriting takes
#: longer the more letters there are).
LONG = replace(
    PORCH,
    title="Days until March",
    text="Dear Jun,\n\nI am counting:\n" + "\n".join(str(n) for n in range(60, 0, -1)),
)


@pytest.fixture(scope="module")
def dkg() -> Hand:
    return stock_hand("dkg")


def pdf_texts(path: Path) -> list[tuple[str, str]]:
    """Each page's text as PDFium reads it: the page above its foot, and the foot (the lowest
    three quarters of an inch, where the page number stands)."""
    document = pdfium.PdfDocument(path)
    try:
        texts = []
        for page in document:
            width, height = page.get_size()
            textpage = page.get_textpage()
            body = textpage.get_text_bounded(0, FOOT, width, height)
            foot = textpage.get_text_bounded(0, 0, width, FOOT)
            texts.append((body.replace("\r\n", "\n"), foot.strip()))
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def pdf_sizes(path: Path) -> list[tuple[float, float]]:
    document = pdfium.PdfDocument(path)
    try:
        return [document[i].get_size() for i in range(len(document))]
    finally:
        document.close()


def inked(path: Path, index: int, box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> int:
    """Dark pixels on page ``index`` within ``box`` (left, top, right, bottom as shares)."""
    document = pdfium.PdfDocument(path)
    try:
        pixels = np.asarray(document[index].render(scale=1).to_pil().convert("L"))
    finally:
        document.close()
    height, width = pixels.shape
    left, top, right, bottom = box
    part = pixels[
        round(top * height) : round(bottom * height), round(left * width) : round(right * width)
    ]
    return int((part < 160).sum())


def png(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("L"))


def fonts(pdf: bytes) -> list[tuple[bytes, bytes]]:
    """Every font dictionary of ``pdf``, with its font descriptor (reportlab writes no
    object streams, so the objects can be read as they stand)."""
    objects = dict(re.findall(rb"(\d+) 0 obj\b(.*?)endobj", pdf, re.DOTALL))
    found = []
    for body in objects.values():
        if re.search(rb"/Type\s*/Font\b", body):
            ref = re.search(rb"/FontDescriptor\s+(\d+)\s+0\s+R", body)
            found.append((body, objects[ref.group(1)] if ref else b""))
    return found


# -- a letter out to paper -------------------------------------------------------------------
def test_letter_text_puts_the_date_first() -> None:
    text = letter_text(ANNIVERSARY)
    first, blank, salutation = text.split("\n")[:3]
    assert first.strip() == "June 14, 2025" and first.startswith("\t")
    assert blank == "" and salutation == "Dear Roberta,"


def test_pdf_has_the_letter_and_an_envelope(dkg: Hand, tmp_path: Path) -> None:
    (out,) = render_letter(ANNIVERSARY, tmp_path / "letter.pdf", hand=dkg, dpi=DPI, envelope=True)
    assert pdf_sizes(out) == [
        pytest.approx((612, 792)),
        pytest.approx((9.5 * 72, 4.125 * 72), abs=0.5),
    ]
    assert inked(out, 0, (0, 0, 1, 0.5)) > 500
    assert inked(out, 0, (0, 0.5, 1, 1)) == 0  # a short letter: the lower half stays blank
    assert inked(out, 1, (0, 0, 0.4, 0.35)) > 100  # the sender, top left
    assert inked(out, 1, (0.3, 0.35, 0.7, 0.9)) > 200  # the recipient, centred
    assert inked(out, 1, (0.75, 0, 1, 1)) == 0
    assert b"/Helvetica" not in out.read_bytes()  # no font named that is not embedded


def test_pdf_without_envelope_on_a4(dkg: Hand, tmp_path: Path) -> None:
    (out,) = render_letter(PORCH, tmp_path / "letter.pdf", hand=dkg, dpi=DPI, paper="a4")
    assert pdf_sizes(out) == [pytest.approx((595.3, 841.9), abs=0.5)]


def test_same_seed_same_bytes_other_seed_other_letter(dkg: Hand, tmp_path: Path) -> None:
    def render(name: str, seed: int) -> list[bytes]:
        paths = []
        for ending in ("pdf", "png"):
            out = tmp_path / f"{name}.{ending}"
            paths += render_letter(ANNIVERSARY, out, hand=dkg, dpi=DPI, seed=seed, envelope=True)
        return [path.read_bytes() for path in paths]

    first, again, other = render("a", 3), render("b", 3), render("c", 4)
    assert first == again
    assert all(x != y for x, y in zip(first, other, strict=True))


def test_png_pages_and_envelope_have_ink(dkg: Hand, tmp_path: Path) -> None:
    doc = replace(ANNIVERSARY, text=LONG.text)
    paths = render_letter(doc, tmp_path / "out" / "letter.png", hand=dkg, dpi=DPI, envelope=True)
    names = ["letter.png", "letter-2.png", "letter-3.png", "letter-4.png", "letter-envelope.png"]
    assert [p.name for p in paths] == names
    images = [png(path) for path in paths]
    assert [i.shape for i in images] == [(1100, 850)] * 4 + [(round(4.125 * DPI), 950)]
    for image in images:
        assert (image < 128).sum() > 100


def test_one_page_is_that_page_of_the_whole_letter(dkg: Hand, tmp_path: Path) -> None:
    """A page asked for alone is byte for byte that page of the whole letter, and its layout
    stops there: the pages after it are never written."""
    doc = replace(ANNIVERSARY, text=LONG.text)
    whole = render_letter(doc, tmp_path / "letter.png", hand=dkg, dpi=DPI, seed=5)
    assert len(whole) == 4
    for number in (1, 2, 4):
        alone = page_png(doc, number, hand=dkg, dpi=DPI, seed=5)
        assert alone == whole[number - 1].read_bytes()
    first = letter_pages(doc, dkg, dpi=DPI, seed=5, until=1)
    every = letter_pages(doc, dkg, dpi=DPI, seed=5)
    assert len(first) == 1 and len(every) == 4
    assert [(p.char, p.x, p.y) for p in first[0].placed] == [
        (p.char, p.x, p.y) for p in every[0].placed
    ]
    assert len(letter_pages(doc, dkg, dpi=DPI, seed=5, until=9)) == 4
    with pytest.raises(UserInputError, match="has 4 page"):
        page_png(doc, 5, hand=dkg, dpi=DPI)


@pytest.mark.parametrize("ending", ["plot.svg", "gcode"])
def test_plotter_files_have_strokes(dkg: Hand, tmp_path: Path, ending: str) -> None:
    out = tmp_path / f"letter.{ending}"
    paths = render_letter(ANNIVERSARY, out, hand=dkg, dpi=DPI, envelope=True)
    assert [p.name for p in paths] == [f"letter.{ending}", f"letter-envelope.{ending}"]
    for path in paths:
        text = path.read_text()
        if ending == "gcode":
            assert text.count("G1 Z0") > 20  # the pen comes down for every stroke
        else:
            assert len(re.findall(r"<(polyline|line|path)\b", text)) > 20


def test_learned_hand_writes_the_letter(tmp_path: Path) -> None:
    from os1.handwriting.capture import learn_sheets

    sheet = SHEETS / "sheet_new.jpg"
    if not sheet.is_file():
        pytest.skip("the shared handwriting sheets are not here")
    hand, _ = learn_sheets([sheet], "loretta")
    (out,) = render_letter(ANNIVERSARY, tmp_path / "letter.pdf", hand=hand, dpi=150)
    assert len(pdf_sizes(out)) == 1 and inked(out, 0) > 1000


def test_stock_hands() -> None:
    assert set(STOCK_HANDS) >= {"dkg", "breip"}
    breip = stock_hand("breip")
    assert breip.name == "breip" and "a" in breip.glyphs
    with pytest.raises(UserInputError, match="unknown stock hand 'comic'"):
        stock_hand("comic")


@pytest.mark.parametrize("name", ["letter.txt", "letter.svg", "letter", ".pdf"])
def test_bad_ending(dkg: Hand, tmp_path: Path, name: str) -> None:
    with pytest.raises(UserInputError, match="must end in"):
        render_letter(PORCH, tmp_path / name, hand=dkg, dpi=DPI)
    assert not any(tmp_path.iterdir())


def test_letter_errors(dkg: Hand, tmp_path: Path) -> None:
    out = tmp_path / "letter.pdf"
    with pytest.raises(UserInputError, match="no recipient address"):
        render_letter(PORCH, out, hand=dkg, dpi=DPI, envelope=True)
    with pytest.raises(UserInputError, match="has no text"):
        render_letter(replace(PORCH, text=" \n\t"), out, hand=dkg)
    tall = tuple(f"Apartment {n}" for n in range(8))
    with pytest.raises(UserInputError, match="do not fit on a #10 envelope"):
        doc = replace(ANNIVERSARY, recipient=tall)
        render_letter(doc, out, hand=dkg, dpi=DPI, envelope=True)
    with pytest.raises(UserInputError, match="unknown paper"):
        render_letter(PORCH, out, hand=dkg, dpi=DPI, paper="legal")
    assert not out.exists()


# -- the book --------------------------------------------------------------------------------
def contents(body: str) -> dict[str, int]:
    """The contents page's entries: title -> page number (each entry is the title, a line
    saying who wrote to whom and when, and the number)."""
    entries = re.findall(r"^(.+)\n.+ to .+, .+\n(\d+)$", body, re.MULTILINE)
    return {title: int(number) for title, number in entries}


def test_typeset_book(tmp_path: Path) -> None:
    docs = [ANNIVERSARY, LONG, FIRST_DAY, PORCH]
    title, author = "Letters From Your Life", "Theodore Twombly"
    out = make_book(docs, tmp_path / "book.pdf", title=title, author=author, face="typeset")
    texts = pdf_texts(out)
    assert texts[0] == (f"{title}\n{author}\n4 letters, 2025\u20132026", "")  # no number
    assert texts[1][0].startswith("Contents\n")
    starts = contents(texts[1][0])
    assert starts == {ANNIVERSARY.title: 3, LONG.title: 4, FIRST_DAY.title: 6, PORCH.title: 7}
    assert len(texts) == 7  # title, contents, 1 + 2 + 1 + 1 letter pages
    for doc in docs:
        body = texts[starts[doc.title] - 1][0]
        assert body.startswith(f"{doc.title}\n{doc.client} to {doc.correspondent}, ")
        assert texts[starts[doc.title] - 2][0].count(doc.title) <= 1  # not begun a page early
    for doc in [ANNIVERSARY, FIRST_DAY, PORCH]:
        assert SENTENCES[doc.title] in " ".join(texts[starts[doc.title] - 1][0].split())
    assert texts[4][0].startswith("31\n30\n")  # the long letter runs on
    assert [foot for _, foot in texts] == ["", "2", "3", "4", "5", "6", "7"]


def test_book_fonts_are_embedded(tmp_path: Path) -> None:
    for face in ("typeset", "handwriting"):
        out = make_book([PORCH], tmp_path / f"{face}.pdf", title="T", author="A", face=face)
        found = fonts(out.read_bytes())
        assert found, "no fonts at all"
        for font, descriptor in found:
            assert re.search(rb"/FontFile[23]?\b", descriptor), font[:200]
        assert b"/Helvetica" not in out.read_bytes()


def test_one_pdf_writer_for_letters_and_handwriting(dkg: Hand, tmp_path: Path) -> None:
    """A letter's PDF and ``os1 hand write``'s come from the same writer: vector pages, with
    no font named that the file does not carry (the ink is outlines, not text)."""
    (letter,) = render_letter(PORCH, tmp_path / "letter.pdf", hand=dkg, dpi=DPI)
    pages = letter_pages(PORCH, dkg, dpi=DPI)
    (written,) = write(pages, tmp_path / "written.pdf")
    direct = tmp_path / "direct.pdf"
    write_pdf(pages, direct, title=PORCH.title, author=PORCH.client)
    assert direct.read_bytes() == letter.read_bytes()
    for out in (letter, written):
        data = out.read_bytes()
        for font, descriptor in fonts(data):
            assert re.search(rb"/FontFile[23]?\b", descriptor), font[:200]
        assert b"/Helvetica" not in data and b"/BaseFont" not in data
        assert pdf_sizes(out) == [pytest.approx((612, 792))]
        assert inked(out, 0) > 200
    assert b"/Title (Handwritten letter)" in written.read_bytes()


def test_handwritten_book(dkg: Hand, tmp_path: Path) -> None:
    docs = [replace(ANNIVERSARY, hand="loretta"), LONG, FIRST_DAY]
    out = make_book(
        docs,
        tmp_path / "book.pdf",
        title="Letters",
        author="Theodore",
        hands={"loretta": dkg},
        face="handwriting",
        paper="a4",
        dpi=DPI,
    )
    texts = pdf_texts(out)
    starts = contents(texts[1][0])
    # dkg's deep descenders set its lines further apart than most hands': LONG takes 4 pages.
    assert starts == {ANNIVERSARY.title: 3, LONG.title: 4, FIRST_DAY.title: 8}
    assert len(texts) == 8
    assert pdf_sizes(out) == [pytest.approx((595.3, 841.9), abs=0.5)] * 8
    for index in range(2, 8):  # handwriting on every letter page, the head in small type
        assert inked(out, index, (0, 0.1, 1, 0.9)) > (20 if index == 6 else 100)  # LONG's end
        head = texts[index][0].strip()
        assert head.startswith(docs[[0, 1, 1, 1, 1, 2][index - 2]].title + " \u00b7 ")
        assert texts[index][1] == str(index + 1)


def test_book_is_the_same_each_time(tmp_path: Path) -> None:
    one = make_book([PORCH, FIRST_DAY], tmp_path / "1.pdf", title="T", author="A")
    two = make_book([PORCH, FIRST_DAY], tmp_path / "2.pdf", title="T", author="A")
    assert one.read_bytes() == two.read_bytes()


def test_book_errors(tmp_path: Path) -> None:
    out = tmp_path / "book.pdf"
    with pytest.raises(UserInputError, match="at least one letter"):
        make_book([], out, title="T", author="A")
    with pytest.raises(UserInputError, match="needs a title"):
        make_book([PORCH], out, title="  ", author="A")
    with pytest.raises(UserInputError, match="unknown face"):
        make_book([PORCH], out, title="T", author="A", face="gothic")  # type: ignore[arg-type]
    with pytest.raises(UserInputError, match=r"must end in \.pdf"):
        make_book([PORCH], tmp_path / "book.png", title="T", author="A")
    with pytest.raises(UserInputError, match="no hand 'loretta'"):
        make_book([replace(PORCH, hand="loretta")], out, title="T", author="A")
    with pytest.raises(UserInputError, match="has no text"):
        make_book([replace(PORCH, text="")], out, title="T", author="A")
    assert not out.exists()
