"""A learned hand: every character's captured glyphs (variants) with their metrics, and how a
hand is kept on disk (``OS1_HOME/hands/NAME/``: ``hand.json`` and one PNG per glyph).

All measures of one hand are in the pixels of its glyph bitmaps, at one common scale: the
renderer maps ``cap_height`` to the requested type size.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from pydantic import BaseModel, Field, ValidationError

from os1.errors import NotFoundError, UserInputError

#: A hand's name: a letter or digit, then letters, digits, dot, dash or underscore.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Glyph:
    """One written instance of a character.

    ``ink`` is the glyph's coverage, 0 (paper) to 255 (full ink), cropped to the ink's bounding
    box. ``baseline`` is how many rows below the top of ``ink`` the baseline lies (larger than
    the height for a glyph above the line, such as an apostrophe; smaller for a descender).
    ``left`` is the gap before the ink and ``advance`` the pen's move to the next character.
    """

    char: str
    ink: np.ndarray = field(repr=False)
    baseline: float
    left: float
    advance: float

    @property
    def height(self) -> int:
        return int(self.ink.shape[0])

    @property
    def width(self) -> int:
        return int(self.ink.shape[1])


@dataclass
class Hand:
    """A writer's hand: glyphs by character, each with one or more variants."""

    name: str
    x_height: float
    cap_height: float
    glyphs: dict[str, list[Glyph]]
    sources: list[str] = field(default_factory=list)
    #: The gap between words, in the hand's pixels.
    space: float = 0.0

    def __post_init__(self) -> None:
        if self.space <= 0:
            self.space = 0.55 * self.x_height

    def variants(self, char: str) -> list[Glyph]:
        return self.glyphs.get(char, [])

    @property
    def chars(self) -> str:
        return "".join(sorted(self.glyphs))


# -- on disk ---------------------------------------------------------------------------------
class GlyphFile(BaseModel):
    char: str = Field(min_length=1, max_length=1)
    file: str
    baseline: float
    left: float
    advance: float


class HandFile(BaseModel):
    """``hand.json``: the metrics; the bitmaps are PNGs beside it."""

    version: int = 1
    name: str
    x_height: float = Field(gt=0)
    cap_height: float = Field(gt=0)
    space: float = Field(gt=0)
    sources: list[str] = []
    glyphs: list[GlyphFile]


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise UserInputError(
            f"a hand's name is 1-64 letters, digits, '.', '-' or '_', starting with a letter "
            f"or digit: {name!r}"
        )
    return name


def hands_dir(home: Path) -> Path:
    return home / "hands"


def save_hand(hand: Hand, root: Path) -> Path:
    """Write ``hand`` under ``root/NAME/``, replacing an older hand of that name whole: the new
    one is written beside it and swapped in, so a failed save leaves the old one intact."""
    check_name(hand.name)
    final = root / hand.name
    work = root / f".{hand.name}.new"
    shutil.rmtree(work, ignore_errors=True)
    (work / "glyphs").mkdir(parents=True)
    entries = []
    for char in sorted(hand.glyphs):
        for i, glyph in enumerate(hand.glyphs[char]):
            file = f"glyphs/U{ord(char):04X}-{i}.png"
            Image.fromarray(glyph.ink.astype(np.uint8), "L").save(work / file, optimize=True)
            entries.append(
                GlyphFile(
                    char=char,
                    file=file,
                    baseline=glyph.baseline,
                    left=glyph.left,
                    advance=glyph.advance,
                )
            )
    meta = HandFile(
        name=hand.name,
        x_height=hand.x_height,
        cap_height=hand.cap_height,
        space=hand.space,
        sources=hand.sources,
        glyphs=entries,
    )
    (work / "hand.json").write_text(meta.model_dump_json(indent=1), encoding="utf-8")
    old = root / f".{hand.name}.old"
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    work.rename(final)
    shutil.rmtree(old, ignore_errors=True)
    return final


def load_hand(name: str, root: Path) -> Hand:
    check_name(name)
    folder = root / name
    path = folder / "hand.json"
    if not path.is_file():
        known = ", ".join(list_hands(root)) or "none yet; learn one with `os1 hand learn`"
        raise NotFoundError(f"no hand named {name!r} (known: {known})")
    try:
        meta = HandFile.model_validate_json(path.read_text(encoding="utf-8"))
        glyphs: dict[str, list[Glyph]] = {}
        for entry in meta.glyphs:
            with Image.open(folder / entry.file) as image:
                ink = np.asarray(image.convert("L"), dtype=np.uint8)
            glyphs.setdefault(entry.char, []).append(
                Glyph(entry.char, ink, entry.baseline, entry.left, entry.advance)
            )
    except (ValidationError, OSError, UnicodeDecodeError) as exc:
        raise UserInputError(
            f"the hand {name!r} in {folder} is damaged ({type(exc).__name__}); learn it again"
        ) from exc
    return Hand(
        name=meta.name,
        x_height=meta.x_height,
        cap_height=meta.cap_height,
        glyphs=glyphs,
        sources=meta.sources,
        space=meta.space,
    )


def list_hands(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "hand.json").is_file())
