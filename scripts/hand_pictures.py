"""Draw the pictures of docs/handwriting.md: the template, the glyphs learned from writer W1's
sheet, and a letter written in that hand.

Run: ``.venv/bin/python scripts/hand_pictures.py`` (needs the ``hand`` extra and the shared
handwriting data beside the repository, or ``--sheet PATH``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from os1.handwriting.capture import glyph_sheet, learn_sheets
from os1.handwriting.layout import layout
from os1.handwriting.render import raster
from os1.handwriting.sheet import load_pages
from os1.handwriting.template import make_template

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
SHEET = REPO.parent / "shared" / "data" / "handwriting" / "builtree-handwrite" / "sheet_new.jpg"
LETTER = (
    "Dear Catherine,\n\n"
    "    I've been sitting here thinking about all the things I wanted to apologize to you "
    "for. All the pain we caused each other. Everything I put on you. I'm sorry for that.\n\n"
    "I'll always love you because we grew up together, and you helped make me who I am. "
    "Whoever you become, and wherever you are in the world, I'm sending you love. You're my "
    "friend to the end. (Written 12/05 at 9:30, and mailed on a Tuesday!)\n\n"
    "Love, Theodore\n"
)


def _small(image: Image.Image, width: int) -> Image.Image:
    height = round(image.height * width / image.width)
    return image.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sheet", type=Path, default=SHEET, help="W1's filled sheet")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_template(Path(tmp) / "t.pdf")
        (blank,) = load_pages(Path(tmp) / "t.pdf")
    _small(Image.fromarray(blank), 700).save(DOCS / "handwriting-template.png", optimize=True)
    hand, _ = learn_sheets([args.sheet], "w1")
    _small(glyph_sheet(hand), 1200).save(DOCS / "handwriting-glyphs.png", optimize=True)
    (page,) = layout(hand, LETTER, seed=1)
    bottom = max(p.y + p.h for p in page.placed) + page.dpi // 2
    crop = raster(page).crop((0, 0, page.width, bottom))
    _small(crop, 1275).save(DOCS / "handwriting-letter.png", optimize=True)
    for name in ("template", "glyphs", "letter"):
        print(DOCS / f"handwriting-{name}.png")


if __name__ == "__main__":
    main()
