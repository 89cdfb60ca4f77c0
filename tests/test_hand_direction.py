"""Right-to-left text in a hand: Hebrew and Arabic run from the right, in the order they are
read, with left-to-right words and numbers kept the right way round among them."""

from __future__ import annotations

import itertools
import unicodedata

import cv2
import numpy as np
import pytest
from bidi import get_display
from fixtures_hand import DKG

from os1.handwriting.direction import line_levels, reordered, right_to_left, shaped, visual
from os1.handwriting.fallback import Fallback
from os1.handwriting.fromfont import hand_from_font
from os1.handwriting.hand import Hand
from os1.handwriting.layout import layout
from os1.handwriting.page import Placed
from os1.handwriting.render import coverage

SHALOM = "\u05e9\u05dc\u05d5\u05dd"  # shalom, as typed: its first letter (shin) comes first
OLAM = "\u05e2\u05d5\u05dc\u05dd"  # olam
DAVID = "\u05d3\u05d5\u05d3"
MARHABA = "\u0645\u0631\u062d\u0628\u0627"  # marhaba


@pytest.fixture(scope="module")
def hand() -> Hand:
    if not DKG.is_file():
        pytest.skip("fonts-dkg-handwriting not installed")
    return hand_from_font(DKG, size=48)


def seen(placed: list[Placed], line: int) -> str:
    """The line's characters from left to right on the page."""
    return "".join(p.char for p in sorted((p for p in placed if p.line == line), key=lambda p: p.x))


def test_levels_follow_the_bidirectional_algorithm_word_by_word() -> None:
    # A right-to-left paragraph: its words at 1, Latin words at 2 (one run: the gap between
    # them is Latin too), a number above its right-to-left context, each number its own run.
    assert line_levels([SHALOM, "John", "Smith", OLAM], True) == ([1, 2, 2, 1], [1, 2, 1])
    assert line_levels([SHALOM, "-", OLAM, "2024"], True) == ([1, 1, 1, 2], [1, 1, 1])
    assert line_levels([SHALOM, "10", "20"], True) == ([1, 2, 2], [1, 1])
    # A number after a Latin word is Latin (W7), so a dash between them is too.
    assert line_levels([SHALOM, "abc", "-", "1"], True) == ([1, 2, 2, 2], [1, 2, 2])
    # A left-to-right paragraph: a Hebrew run at 1, the rest at 0.
    assert line_levels(["Hello", SHALOM, OLAM, "there"], False) == ([0, 1, 1, 0], [0, 1, 0])
    assert line_levels(["Hello", "-", "there", "12"], False) == ([0, 0, 0, 0], [0, 0, 0])


def test_runs_are_mirrored_within_their_span_and_a_rtl_line_across_the_line() -> None:
    spans = [(0.0, 10.0), (20.0, 30.0), (40.0, 50.0), (60.0, 70.0)]
    assert reordered(spans, [0, 1, 1, 0], [0, 1, 0]) == [0.0, 20.0, -20.0, 0.0]
    # Right to left: the first word ends at the line's right end, the gaps kept.
    assert reordered(spans, [1, 1, 1, 1], [1, 1, 1], (0.0, 100.0)) == [90.0, 50.0, 10.0, -30.0]
    # Two Latin words in it keep their own order.
    moved = reordered(spans, [1, 2, 2, 1], [1, 2, 1], (0.0, 100.0))
    lefts = [left + shift for (left, _), shift in zip(spans, moved, strict=True)]
    assert lefts[1] < lefts[2] and lefts[0] > lefts[2] > lefts[3]
    # A run inside a run is mirrored within where its words lie now, not where they began.
    assert reordered(spans, [0, 1, 2, 2], [0, 1, 2]) == [0.0, 40.0, -20.0, -20.0]


def test_a_word_is_shown_in_reading_order_with_its_brackets_mirrored() -> None:
    assert visual(SHALOM, True) == SHALOM[::-1]
    assert visual(f"({SHALOM})", True) == f"({SHALOM[::-1]})"
    assert visual("Ada,", True) == "Ada,"  # nothing right-to-left: as typed
    assert visual(f"{DAVID}-2024", True) == f"2024-{DAVID[::-1]}"


def test_arabic_letters_are_joined() -> None:
    forms = shaped(MARHABA)
    assert len(forms) == len(MARHABA)
    names = [unicodedata.name(c) for c in forms]
    assert names[0].endswith("INITIAL FORM") and names[-1].endswith("FINAL FORM")
    assert shaped("plain text") == "plain text"


@pytest.mark.parametrize("variation", [False, True])
def test_arabic_letters_are_written_joined(hand: Hand, variation: bool) -> None:
    """The joined forms are drawn as they are, not as their base letters (which stand alone):
    marhaba's ink is two joined groups, meem-reh and hah-beh-alef, and the dot of its beh."""
    page = layout(hand, MARHABA, size_pt=40.0, dpi=100, seed=0, variation=variation)[0]
    ink = (coverage(page) > 0.3).astype(np.uint8)
    assert cv2.connectedComponents(ink, connectivity=8)[0] - 1 == 3


def test_a_joined_form_no_font_draws_is_written_as_its_letters(hand: Hand) -> None:
    """The reshaper writes Allah as one ligature (U+FDF2), which no fallback font has: it is
    written as its letters, not as the box of a character nobody can draw."""
    fallback = Fallback(hand)
    ligature = fallback.glyphs("\ufdf2")[0]
    box = fallback._box("\ufdf2")
    assert ligature.ink.shape != box.ink.shape or not np.array_equal(ligature.ink, box.ink)
    assert ligature.width > 2 * box.width  # four letters' worth of ink


def test_a_hebrew_paragraph_runs_from_the_right_margin(hand: Hand) -> None:
    text = f"{SHALOM} {OLAM} {DAVID}!\nDear Ada, {SHALOM} {OLAM} here."
    page = layout(hand, text, size_pt=14.0, dpi=100, seed=0)[0]
    first = [p for p in page.placed if p.line == 1]
    second = [p for p in page.placed if p.line == 2]
    assert seen(page.placed, 1) == f"!{DAVID[::-1]}{OLAM[::-1]}{SHALOM[::-1]}"
    # Flush right: the Hebrew line ends near where the right margin lies, not the left.
    right_end = max(p.x + p.w for p in first)
    assert right_end > page.width - 1.5 * 100 and min(p.x for p in first) > page.width / 2
    # In a left-to-right paragraph the Hebrew run reads from its right, in place.
    assert seen(page.placed, 2) == f"DearAda,{OLAM[::-1]}{SHALOM[::-1]}here."
    assert min(p.x for p in second) < 1.5 * 100
    # Every letter has ink, and no two glyphs of a line were moved onto each other.
    for line in (first, second):
        spans = sorted((p.x, p.x + p.w) for p in line)
        assert all(p.ink.any() for p in line)
        assert sum(b[0] - a[1] < -0.3 * (a[1] - a[0]) for a, b in itertools.pairwise(spans)) == 0


def test_rtl_text_wraps_and_every_line_runs_from_the_right(hand: Hand) -> None:
    text = " ".join([SHALOM, OLAM, DAVID] * 30)
    pages = layout(hand, text, size_pt=14.0, dpi=100, seed=1)
    lines = sorted({p.line for p in pages[0].placed})
    assert len(lines) > 3
    width = pages[0].width
    for line in lines[:-1]:
        row = [p for p in pages[0].placed if p.line == line]
        assert max(p.x + p.w for p in row) > width - 1.5 * 100
        # Read from the right, each line is a stretch of the text as typed.
        assert seen(pages[0].placed, line)[::-1] in (SHALOM + OLAM + DAVID) * 30
    again = layout(hand, text, size_pt=14.0, dpi=100, seed=1)
    assert [(p.char, p.x, p.y) for p in again[0].placed] == [
        (p.char, p.x, p.y) for p in pages[0].placed
    ]


@pytest.mark.parametrize(
    "line",
    [
        f"abc {SHALOM} 10 20",
        f"{SHALOM} 10 20",
        f"{SHALOM} 12 abc",
        f"{SHALOM} abc - 1",
        f"hello {SHALOM} 050 123 4567 bye",
        f"{MARHABA} 12 34 {MARHABA}",
        f"Dear {SHALOM} {OLAM} and {DAVID} here",
        f"{SHALOM} John Smith {OLAM} 2024",
    ],
)
def test_words_come_in_the_order_the_algorithm_shows_them(hand: Hand, line: str) -> None:
    """Words with nothing at their edges stand in the order python-bidi shows the whole line,
    and no ink leaves the margins or lands on another word."""
    page = layout(hand, line, size_pt=14.0, dpi=100, seed=0)[0]
    shown = str(get_display(shaped(line), base_dir="R" if right_to_left(line) else "L"))
    assert seen(page.placed, 1) == shown.replace(" ", "")
    assert min(p.x for p in page.placed) >= 100 and max(p.x + p.w for p in page.placed) <= 750
    # Letters touch and lean into each other, but none is drawn over another.
    spans = sorted((p.x, p.x + p.w) for p in page.placed)
    assert all(
        a[1] - b[0] < 0.6 * min(a[1] - a[0], b[1] - b[0]) for a, b in itertools.pairwise(spans)
    )


def test_a_hebrew_word_too_long_for_a_line_starts_on_the_first(hand: Hand) -> None:
    alphabet = "".join(chr(c) for c in range(0x05D0, 0x05EB))
    page = layout(hand, alphabet * 4 + " " + SHALOM, size_pt=14.0, dpi=100, seed=0)[0]
    first = seen(page.placed, 1)[::-1]  # read from the right
    assert first.startswith(alphabet) and (alphabet * 4).startswith(first)
    rest = "".join(seen(page.placed, line)[::-1] for line in sorted({p.line for p in page.placed}))
    assert rest == alphabet * 4 + SHALOM
