"""Laying text out in a hand: which glyph goes where on which page.

``layout(hand, text)`` returns :class:`~os1.handwriting.page.Page` objects that the writers in
:mod:`os1.handwriting.render` and :mod:`os1.handwriting.plotter` draw.

* **Size.** The hand's cap height becomes 0.7 of the type size (``size_pt`` points at ``dpi``);
  lines lie 1.5 type sizes apart, or further where the hand's tallest ascender and deepest
  descender (of its letters and digits, as large as variation makes them, with the rise and
  bow of two lines) need more, so that the lines never meet (:func:`line_pitch`).
* **Margins.** One inch on every side. With variation on, the left margin creeps inward a
  little from line to line and lines end a little short of the right margin; nothing is ever
  written outside the margins.
* **Lines.** Each line of the text starts a new line; a blank line is kept as a blank line
  (a paragraph break), and leading spaces and tabs indent the line (a space is the hand's word
  gap, a tab :data:`TAB` inch). Lines break between words; a word longer than a whole line is
  split. A new page starts when the next line would cross the bottom margin.
* **Characters.** The text is read as NFC (a letter and its combining accent are one
  character). Any whitespace other than space, tab and newline counts as a space; other
  control characters, variation selectors and emoji skin tones are dropped. Every other
  character is written: from the hand when it has the character, else by
  :mod:`os1.handwriting.fallback`, in this order: (a) the other case of the letter, scaled (a
  missing ``q`` is the hand's ``Q`` at x-height); (b) the hand's own ``'``, ``"`` or ``-`` for
  a typographic quote, prime or dash; (c) the base letter of its NFKD decomposition (``é`` ->
  ``e``) with the accent cut from a handwriting font, a superscript or subscript small; (d)
  the glyph of a fallback font (the installed handwriting fonts Breip and dkg, then DejaVu
  Sans, then Pillow's default font), scaled to the hand's cap height and pen width, a solid
  shape drawn round its outline; (e) a drawn box.
* **Direction.** A paragraph with right-to-left letters (Hebrew, Arabic) is written the way it
  is read (:mod:`os1.handwriting.direction`): lines break in the text's order, then each line's
  words are put in the order they are seen, a right-to-left paragraph from the right margin.
* **Variation** (:mod:`os1.handwriting.variation`): seeded, so the same seed gives the same
  pages; with ``variation=False`` nothing random happens.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field, replace

from os1.errors import UserInputError
from os1.handwriting.deform import Stamp, deform
from os1.handwriting.direction import (
    MIRRORED,
    has_right_to_left,
    line_levels,
    reordered,
    right_to_left,
    shaped,
    visual,
)
from os1.handwriting.distinct import (
    FLOOR,
    REMAKES,
    TRIES,
    WRITTEN_FLOOR,
    Distinct,
    Shape,
    overlay,
    shape,
)
from os1.handwriting.fallback import resolve
from os1.handwriting.hand import Glyph, Hand
from os1.handwriting.page import PAPERS, Page, Placed
from os1.handwriting.variation import LineStyle, PageStyle, Variation, WordStyle

#: Letters this many places either side of one may reach into it on the page.
REACH = 3

#: The margin on every side, inch.
MARGIN = 1.0
#: The least gap between the ink of two words, in x-heights.
WORD_GAP = 0.8
#: A tab's indent, inch.
TAB = 0.5
#: The hand's cap height, in type sizes.
CAP_SHARE = 0.7
#: From one baseline to the next, in type sizes, at least.
LINE_PITCH = 1.5
#: The type sizes (pt) and resolutions (dpi) accepted.
SIZES = (4.0, 144.0)
DPIS = (50, 600)


@dataclass(frozen=True)
class Metrics:
    """A letter's measures in page pixels: ``scale`` turns the hand's pixels into them."""

    width: int
    height: int
    dpi: int
    size: float
    scale: float
    pitch: float
    space: float
    gap: float
    margin: float
    inset: float
    ascent: float
    descent: float


def layout(
    hand: Hand,
    text: str,
    *,
    size_pt: float = 16.0,
    dpi: int = 300,
    paper: str = "letter",
    seed: int = 0,
    variation: bool = True,
    until: int | None = None,
) -> list[Page]:
    """``text`` written in ``hand`` on pages of ``paper`` (see the module for the rules).

    With ``until``, the writing stops where page ``until + 1`` would begin: the pages returned
    are the first ``until`` of the whole letter's, the same to the pixel, for less work."""
    if until is not None and until < 1:
        raise ValueError("until counts pages from 1")
    lines = [shaped(line) for line in clean(text).split("\n")]
    if not any(line.strip() for line in lines):
        if text.strip():
            raise UserInputError(
                "nothing to write: the text holds only control characters and marks with no "
                "shape of their own, which are left out"
            )
        raise UserInputError("nothing to write: the text is empty")
    chars = [c for line in lines for c in line if c not in " \t"]
    if any(has_right_to_left(line) for line in lines):  # brackets may be drawn mirrored
        chars += [MIRRORED[c] for c in chars if c in MIRRORED]
    glyphs = resolve(hand, chars)
    vary = Variation(seed, enabled=variation)
    metrics = _metrics(hand, glyphs, size_pt, dpi, paper, vary)
    writer = _Writer(glyphs, metrics, vary, until)
    try:
        for line in lines:
            writer.paragraph_line(line)
        writer.end_line()
    except _Enough:
        pass
    return writer.pages


class _Enough(Exception):
    """Raised where a page past the last one asked for would begin."""


def clean(text: str) -> str:
    """``text`` with newlines unified, odd whitespace made spaces, and control characters and
    the selectors that only choose a form (emoji or text presentation, skin tones) gone;
    a letter followed by combining accents is one character where Unicode has one (NFC:
    ``e`` and U+0301 is ``é``). Blank lines and spaces at the end are dropped (no empty last
    page)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    out = []
    for char in text:
        if char in "\n\t ":
            out.append(char)
        elif char.isspace():
            out.append(" ")
        elif not unicodedata.category(char).startswith("C") and not _selector(char):
            out.append(char)
    return "".join(out).rstrip(" \t\n")


def _selector(char: str) -> bool:
    """A variation selector, the combining grapheme joiner or an emoji skin-tone modifier:
    marks that choose how the character before them looks and have no shape of their own."""
    point = ord(char)
    return (
        0xFE00 <= point <= 0xFE0F
        or 0xE0100 <= point <= 0xE01EF
        or 0x1F3FB <= point <= 0x1F3FF
        or point == 0x034F
    )


def _metrics(
    hand: Hand,
    glyphs: dict[str, list[Glyph]],
    size_pt: float,
    dpi: int,
    paper: str,
    vary: Variation,
) -> Metrics:
    if paper not in PAPERS:
        raise UserInputError(f"unknown paper {paper!r}: use one of {', '.join(PAPERS)}")
    if not SIZES[0] <= size_pt <= SIZES[1]:
        raise UserInputError(f"the size must lie between {SIZES[0]:g} and {SIZES[1]:g} pt")
    if not DPIS[0] <= dpi <= DPIS[1]:
        raise UserInputError(f"the resolution must lie between {DPIS[0]} and {DPIS[1]} dpi")
    width, height = (round(v / 72 * dpi) for v in PAPERS[paper])
    size = size_pt / 72 * dpi
    scale = CAP_SHARE * size / hand.cap_height
    every = [g for variants in glyphs.values() for g in variants]
    growth = scale * vary.max_growth * 1.05
    drift = math.tan(math.radians(vary.max_slope)) * width / 2 + vary.max_rise * size
    return Metrics(
        width=width,
        height=height,
        dpi=dpi,
        size=size,
        scale=scale,
        pitch=line_pitch(hand, size, scale, vary),
        space=hand.space * scale,
        gap=WORD_GAP * hand.x_height * scale,
        margin=MARGIN * dpi,
        inset=math.ceil(math.sin(math.radians(vary.max_turn)) * height / 2),
        ascent=max(g.baseline for g in every) * growth + drift + 1,
        descent=max(g.height - g.baseline for g in every) * growth + drift + 1,
    )


def line_pitch(hand: Hand, size: float, scale: float, vary: Variation) -> float:
    """From one baseline to the next, in page pixels: :data:`LINE_PITCH` type sizes, or the
    hand's deepest descender below one line and tallest ascender above the next (letters and
    digits; ``scale`` takes the hand's pixels to the page's), grown as far as variation grows
    a glyph, plus the most that words and bows raise the one or lower the other."""
    letters = [g for variants in hand.glyphs.values() for g in variants if g.char.isalnum()]
    if not letters:
        return LINE_PITCH * size
    ascent = max(g.baseline for g in letters)
    descent = max(g.height - g.baseline for g in letters)
    reach = (ascent + descent) * scale * vary.max_growth + 2 * vary.max_rise * size
    return max(LINE_PITCH * size, reach)


@dataclass
class _Word:
    """A word made for one line: stamps with the pen's offsets from the word's start."""

    text: str
    stamps: list[Stamp]
    pens: list[float]
    style: WordStyle
    #: Each letter's shape: as drawn while the word is made, as written once it is made.
    shapes: list[Shape | None]
    glyphs: list[Glyph] = field(default_factory=list)

    @property
    def left(self) -> float:
        return min(p + s.ox for p, s in zip(self.pens, self.stamps, strict=True))

    @property
    def right(self) -> float:
        return max(p + s.ox + s.width for p, s in zip(self.pens, self.stamps, strict=True))

    def part(self, start: int, stop: int) -> _Word:
        """Letters ``start`` to ``stop``, the pen starting at the first of them."""
        pens = [p - self.pens[start] for p in self.pens[start:stop]]
        return _Word(
            self.text[start:stop],
            self.stamps[start:stop],
            pens,
            self.style,
            self.shapes[start:stop],
            self.glyphs[start:stop],
        )


@dataclass(frozen=True)
class _Written:
    """A word on the page, in a line that is reordered when done (see :meth:`_Writer.end_line`):
    its letters are ``page.placed[first:last]``, its text in the text's order."""

    text: str
    page: Page
    first: int
    last: int
    origin: float
    y0: int
    rise: float
    left: float
    right: float


class _Writer:
    """Fills pages line by line, word by word."""

    def __init__(
        self,
        glyphs: dict[str, list[Glyph]],
        metrics: Metrics,
        vary: Variation,
        until: int | None = None,
    ) -> None:
        self.glyphs = glyphs
        self.until = until
        self.m = metrics
        self.vary = vary
        self.distinct = Distinct()
        self.pages: list[Page] = []
        self.page_style = PageStyle()
        self.line_style = LineStyle()
        self.line_no = 0
        self.baseline = 0.0
        self.start = 0.0
        self.end = 0.0
        self.pen = 0.0
        self.ink_right = 0.0
        self.blank = True
        #: The paragraph holds right-to-left letters (then its lines are reordered when done),
        #: and it runs from the right.
        self.bidi = self.rtl = False
        self.line_words: list[_Written] = []
        #: The word being written (all of it, for each part of a word split across lines), in
        #: the text's order: its direction sets its level in the line.
        self.logical = ""

    # -- lines and pages ---------------------------------------------------------------------
    def paragraph_line(self, line: str) -> None:
        """One line of the text: its indent, then its words, wrapped."""
        body = line.lstrip(" \t")
        self.new_line()
        self.bidi, self.rtl = has_right_to_left(body), right_to_left(body)
        if not body:
            return
        indent = self._blank_width(line[: len(line) - len(body)])
        self.pen = self.start + min(indent, (self.end - self.start) / 2)
        chunks = re.split(r"([ \t]+)", body)
        self.word(chunks[0], "")
        for blank, text in zip(chunks[1::2], chunks[2::2], strict=True):
            if text:
                self.word(text, blank)

    def _blank_width(self, blank: str) -> float:
        """The width of spaces and tabs: the hand's word gap a space, :data:`TAB` inch a tab."""
        return blank.count(" ") * self.m.space + blank.count("\t") * TAB * self.m.dpi

    def new_line(self) -> None:
        self.end_line()
        m = self.m
        self.line_no += 1
        self.baseline += m.pitch
        if not self.pages or self.baseline + m.descent > m.height - m.margin - m.inset:
            if self.until is not None and len(self.pages) >= self.until:
                raise _Enough
            self.page_style = self.vary.page()
            self.pages.append(Page(m.width, m.height, m.dpi))
            self.line_no = 1
            self.baseline = m.margin + m.inset + m.ascent
        self.line_style = self.vary.line()
        shift = -math.radians(self.page_style.rotate) * (self.baseline - m.height / 2)
        self.start = m.margin + m.inset + self.line_style.creep * m.dpi + shift
        self.end = m.width - m.margin - m.inset - self.line_style.end * m.dpi + shift
        self.pen = self.start
        self.blank = True

    def end_line(self) -> None:
        """Put the words of a line with right-to-left letters in the order they are seen
        (:mod:`os1.handwriting.direction`); they were written in the text's order."""
        words, self.line_words = self.line_words, []
        if not words:
            return
        levels, gaps = line_levels([w.text for w in words], self.rtl)
        spans = [(w.left, w.right) for w in words]
        shifts = reordered(spans, levels, gaps, (self.start, self.end) if self.rtl else None)
        for written, shift in zip(words, shifts, strict=True):
            if shift:
                self._move(written, shift)

    def _move(self, written: _Written, shift: float) -> None:
        """Move a written word ``shift`` pixels along its line, onto the baseline there."""
        origin = written.origin + shift
        x0, y0 = round(origin), round(self._baseline_at(origin) + written.rise)
        dx, dy = x0 - round(written.origin), y0 - written.y0
        placed = written.page.placed
        for i in range(written.first, written.last):
            placed[i] = replace(placed[i], x=placed[i].x + dx, y=placed[i].y + dy)

    # -- words -------------------------------------------------------------------------------
    def word(self, text: str, blank: str) -> None:
        """Write ``text`` after the spaces and tabs ``blank``, on the next line if it does not
        fit there."""
        if self.bidi:
            self.logical = text
            text = visual(text, self.rtl)
        memory = self.vary.remember()
        word = self.make(text)
        if not self.blank:
            gap = self._gap(word, blank)
            if self.pen + gap + word.right <= self.end:
                self.place(word, gap)
                return
            self.vary.restore(memory)  # made again for the next line, in its slant and slope
            self.new_line()
            word = self.make(text)
        # A right-to-left word is seen from its end: its beginning lies at the right.
        backwards = self.bidi and right_to_left(self.logical)
        count = self._fitting(word, backwards)
        while count < len(word.text):  # longer than a line: split it
            size = len(word.text)
            first, rest = (size - count, size), (0, size - count)
            if not backwards:
                first, rest = (0, count), (count, size)
            self.place(word.part(*first), 0.0)
            self.new_line()
            word = word.part(*rest)
            count = self._fitting(word, backwards)
        self.place(word, 0.0)

    def _gap(self, word: _Word, blank: str) -> float:
        """The pen's move before ``word``: the width of ``blank``, widened where the ink of
        the two words would come closer than :data:`WORD_GAP` x-heights a space."""
        gap = self._blank_width(blank) * word.style.space
        least = self.ink_right + len(blank) * self.m.gap * word.style.space - self.pen - word.left
        return max(gap, least)

    def _fitting(self, word: _Word, backwards: bool = False) -> int:
        """How many of ``word``'s letters fit on the empty line (at least one): its first ones,
        or its last ones when ``backwards``."""
        size, start = len(word.text), self.pen - min(word.left, 0)
        for count in range(size, 0, -1):
            if backwards:
                part = word.part(size - count, size)
                if self.pen - min(part.left, 0) + part.right <= self.end:
                    return count
            elif start + word.part(0, count).right <= self.end:
                return count
        return 1

    def make(self, text: str) -> _Word:
        """The word's letters as instances, not yet placed. A letter that, with the ink of the
        letters that touch it, comes out nearer than
        :data:`~os1.handwriting.distinct.WRITTEN_FLOOR` to an earlier instance (a neighbour's
        ink can make two instances that differ look alike on the page) is drawn again, it
        alone, keeping the word's other letters: up to
        :data:`~os1.handwriting.distinct.REMAKES` versions of the word, keeping the best."""
        word = self._make_once(text)
        if not self.vary.enabled:
            return word
        best: tuple[float, _Word] | None = None
        for version in range(REMAKES):
            written, nears = self._as_written(word)
            near = min(nears, default=float("inf"))
            if best is None or near > best[0]:
                best = (near, replace(word, shapes=written))
            if near >= WRITTEN_FLOOR or version == REMAKES - 1:
                break
            word = self._redraw(word, [i for i, n in enumerate(nears) if n < WRITTEN_FLOOR])
        assert best is not None
        return best[1]

    def _redraw(self, word: _Word, letters: list[int]) -> _Word:
        """``word`` with the letters at ``letters`` drawn again (the same glyphs, in the word's
        style), the pen moved on by their new advances."""
        stamps, shapes = list(word.stamps), list(word.shapes)
        scale = self.m.scale * word.style.size
        for i in letters:
            char = word.text[i]
            others = [
                form
                for j, form in enumerate(shapes)
                if j != i and word.text[j] == char and form is not None
            ]
            stamps[i], shapes[i] = self._instance(char, word.glyphs[i], scale, word.style, others)
        pens = [0.0]
        for stamp in stamps[:-1]:
            pens.append(pens[-1] + stamp.advance)
        return _Word(word.text, stamps, pens, word.style, shapes, word.glyphs)

    def _as_written(self, word: _Word) -> tuple[list[Shape | None], list[float]]:
        """Each letter's shape as it will show on the page, where its neighbours' ink reaches
        into it, and each one's least distance to an earlier instance of its character (on
        the page or earlier in the word)."""
        corners = [
            self._corner(pen, stamp) for pen, stamp in zip(word.pens, word.stamps, strict=True)
        ]
        shapes: list[Shape | None] = []
        pending: dict[str, list[Shape]] = {}
        nears: list[float] = []
        for i, (char, stamp) in enumerate(zip(word.text, word.stamps, strict=True)):
            ink = stamp.ink
            # Only near neighbours can reach into a letter: looking further would make a long
            # word cost the square of its length.
            for j in range(max(0, i - REACH), min(len(word.stamps), i + REACH + 1)):
                if j != i:
                    ink = overlay(ink, corners[i], word.stamps[j].ink, corners[j])
            form = shape(ink)
            nears.append(self.distinct.nearest(char, form, pending.get(char)))
            if form is not None:
                pending.setdefault(char, []).append(form)
            shapes.append(form)
        return shapes, nears

    def _corner(self, pen: float, stamp: Stamp) -> tuple[int, int]:
        """Where ``stamp``'s top-left corner lies from its word's start on the baseline, in
        whole pixels: the word is placed as one piece, on a straight baseline of the line's
        slope (:meth:`place`)."""
        tilt = math.tan(math.radians(self.page_style.rotate + self.line_style.slope))
        return round(pen) + stamp.ox, round(tilt * round(pen)) + stamp.oy

    def _make_once(self, text: str) -> _Word:
        style = self.vary.word()
        scale = self.m.scale * style.size
        word = _Word(text, [], [], style, [])
        pending: dict[str, list[Shape]] = {}
        pen = 0.0
        for char in text:
            variants = self.glyphs[char]
            glyph = variants[self.vary.pick(char, len(variants))]
            stamp, form = self._instance(char, glyph, scale, style, pending.setdefault(char, []))
            if form is not None:
                pending[char].append(form)
            word.pens.append(pen)
            word.stamps.append(stamp)
            word.shapes.append(form)
            word.glyphs.append(glyph)
            pen += stamp.advance
        return word

    def _instance(
        self, char: str, glyph: Glyph, scale: float, word: WordStyle, pending: list[Shape]
    ) -> tuple[Stamp, Shape | None]:
        """One instance of ``glyph``, drawn again (up to ``TRIES`` times) while it comes out
        too like an earlier instance of its character."""
        line, turn = self.line_style, self.page_style.rotate + self.line_style.slope
        best: tuple[float, Stamp, Shape | None] | None = None
        for _ in range(TRIES):
            look = self.vary.glyph()
            shear = look.shear + word.slant + line.slant
            stamp = deform(glyph, scale, replace(look, shear=shear, rotate=look.rotate + turn))
            if not self.vary.enabled:
                return stamp, None
            form = shape(stamp.ink)
            near = self.distinct.nearest(char, form, pending)
            if best is None or near > best[0]:
                best = (near, stamp, form)
            if near >= FLOOR:
                break
        assert best is not None
        return best[1], best[2]

    def place(self, word: _Word, gap: float) -> None:
        if self.blank:
            self.pen -= min(word.left, 0)
        origin = self.pen + gap
        page = self.pages[-1]
        # The word goes down as one piece, as _as_written saw it: whole pixels from its start,
        # on a straight baseline from where the line's baseline lies at its start.
        rise = word.style.rise * self.m.size
        x0, y0 = round(origin), round(self._baseline_at(origin) + rise)
        if self.bidi:
            self.line_words.append(
                _Written(
                    self.logical,
                    page,
                    len(page.placed),
                    len(page.placed) + len(word.text),
                    origin,
                    y0,
                    rise,
                    origin + word.left,
                    origin + word.right,
                )
            )
        for pen, stamp, char, form in zip(
            word.pens, word.stamps, word.text, word.shapes, strict=True
        ):
            self.distinct.add(char, form)
            dx, dy = self._corner(pen, stamp)
            placed = Placed(char, stamp.ink, x0 + dx, y0 + dy, self.line_no)
            page.placed.append(placed)
        self.pen = origin + (word.pens[-1] + word.stamps[-1].advance if word.pens else 0.0)
        self.ink_right = origin + word.right
        self.blank = False

    def _baseline_at(self, x: float) -> float:
        """Where the current line's baseline lies at ``x``: sloped, turned and bowed."""
        slope = math.tan(math.radians(self.page_style.rotate + self.line_style.slope))
        across = min(max((x - self.start) / max(self.end - self.start, 1.0), 0.0), 1.0)
        bow = self.line_style.bow * self.m.size * 4 * across * (1 - across)
        return self.baseline + slope * (x - self.m.width / 2) + bow
