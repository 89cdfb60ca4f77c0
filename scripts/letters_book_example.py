"""Draw the example book pages of the letters docs (``docs/letters-book-1.png`` ... ``-4.png``):
the title page, the contents, a letter in handwriting and a letter typeset, from the three
sample letters below.

Run: ``.venv/bin/python scripts/letters_book_example.py`` (needs the ``hand`` extra). Loretta
writes in the hand learned from writer W1's sheet in the shared handwriting data (or
``--sheet PATH``; without it, in the stock hand dkg); the others in the stock hands. With
``--out DIR`` the two books' PDFs are kept there too.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from os1.handwriting.capture import learn_sheets
from os1.handwriting.hand import Hand
from os1.letters.book import make_book
from os1.letters.models import LetterDoc

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
SHEET = REPO.parent / "shared" / "data" / "handwriting" / "builtree-handwrite" / "sheet_new.jpg"
WIDTH = 800

LETTERS = [
    LetterDoc(
        title="Fifty years of mornings",
        client="Loretta",
        correspondent="Roberta",
        date=date(2025, 6, 14),
        hand="loretta",
        text=(
            "Dear Roberta,\n\n"
            "Fifty years ago today you spilled your coffee on my good shoes at the café on "
            "Alvarado, and you laughed so hard that I forgot to be angry. I have been trying "
            "to make you laugh like that ever since.\n\n"
            "People ask what the secret is. I tell them there is no secret, only mornings: "
            "you humming while the kettle warms, the crossword you leave half done for me, "
            "the way you say “there you are” when I come into the kitchen, as if you had "
            "been looking for me all night.\n\n"
            "There you are, my love. There you always are.\n\n"
            "Yours, every morning,\nLoretta"
        ),
    ),
    LetterDoc(
        title="For your first day",
        client="Paul",
        correspondent="Lucy",
        date=date(2025, 9, 1),
        hand="breip",
        text=(
            "Dear Lucy,\n\n"
            "Your mother says I am not allowed to cry at the station, so I am doing it "
            "here, on paper, where nobody can see. You were the smallest person I ever "
            "held, and now you are going off to a city I have only seen on maps.\n\n"
            "Take the €2 coin from Lisbon I put in your coat. It is not lucky; it is "
            "just there so you put your hand in your pocket and remember that someone at "
            "home is thinking of you.\n\n"
            "Call on Sundays. Or don't, and I will call you.\n\n"
            "Love — always,\nDad"
        ),
    ),
    LetterDoc(
        title="The porch light",
        client="Amir",
        correspondent="Jun",
        date=date(2026, 2, 3),
        text=(
            "Jun,\n\n"
            "I drove past the old house last week. Somebody has painted the porch blue, and "
            "there is a bicycle where your terrible motorbike used to lie in pieces. I sat "
            "in the car for a long time.\n\n"
            "We were stupid for too many years, both of us. I don't want to be stupid for "
            "one more. Come for dinner in March; I'll leave the porch light on, like Mum "
            "did.\n\n"
            "Your brother,\nAmir"
        ),
    ),
]


def _hands(sheet: Path) -> dict[str, Hand]:
    if not sheet.is_file():
        return {}
    hand, _ = learn_sheets([sheet], "loretta")
    return {"loretta": hand}


def _page(pdf: Path, index: int, target: Path) -> None:
    """Page ``index`` of ``pdf`` as a small PNG, ``WIDTH`` pixels wide."""
    document = pdfium.PdfDocument(str(pdf))
    page = document[index]
    image = page.render(scale=WIDTH / page.get_width()).to_pil().convert("RGB")
    page.close()
    document.close()
    small = image.quantize(colors=32, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    small.save(target, optimize=True)
    print(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sheet", type=Path, default=SHEET, help="Loretta's filled sheet")
    parser.add_argument("--out", type=Path, help="keep the books' PDFs in this folder")
    args = parser.parse_args()
    hands = _hands(args.sheet)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        title, author = "Letters From Your Life", "Theodore Twombly"
        written = make_book(
            LETTERS, folder / "book-handwritten.pdf", title=title, author=author, hands=hands
        )
        typeset = make_book(
            LETTERS, folder / "book-typeset.pdf", title=title, author=author, face="typeset"
        )
        for number, (pdf, index) in enumerate(
            [(written, 0), (written, 1), (written, 2), (typeset, 3)], 1
        ):
            _page(pdf, index, DOCS / f"letters-book-{number}.png")


if __name__ == "__main__":
    main()
