"""Writing text in a hand: layout, variation, fallbacks and the PNG, PDF and SVG writers.

Most tests use a hand made from the dkg handwriting font, small and at low resolution, so they
run fast; one writes with the real hand learned from W1's sheet at full resolution."""

from __future__ import annotations

import base64
import itertools
import re
import shutil
import subprocess
import zlib
from pathlib import Path
from xml.etree import ElementTree

import cv2
import numpy as np
import pytest
from fixtures_hand import BREIP, DKG, SHEETS

from os1.errors import UserInputError
from os1.handwriting.distance import glyph_distance
from os1.handwriting.fallback import resolve
from os1.handwriting.fromfont import hand_from_font
from os1.handwriting.hand import Hand
from os1.handwriting.layout import clean, layout
from os1.handwriting.page import Page, Placed
from os1.handwriting.render import INK, boxes, write
from os1.handwriting.variation import Variation

W1_SHEET = SHEETS / "sheet_new.jpg"
DPI = 100
TEXT = (
    "Dear Ada,\n\n"
    "    the letters came today, all of them at once. I read every one twice and then "
    "again at night, because a letter is better the third time.\n"
    "Write soon.\n"
)


@pytest.fixture(scope="module")
def hand() -> Hand:
    if not DKG.is_file():
        pytest.skip("fonts-dkg-handwriting not installed")
    return hand_from_font(DKG, size=48)


def write_text(hand: Hand, text: str = TEXT, **options: object) -> list[Page]:
    settings: dict[str, object] = {"size_pt": 14.0, "dpi": DPI, "seed": 0}
    settings.update(options)
    return layout(hand, text, **settings)  # type: ignore[arg-type]


# -- determinism -----------------------------------------------------------------------------
def test_same_seed_gives_the_same_files(hand: Hand, tmp_path: Path) -> None:
    for name in ("a", "b"):
        pages = write_text(hand, seed=7)
        write(pages, tmp_path / f"{name}.png")
        write(pages, tmp_path / f"{name}.pdf")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()


def test_distances_are_exact_whatever_ran_before() -> None:
    """OpenCV's precise distance transform can differ in its last bit from call to call, with
    what ran before; the distances a glyph is measured by are the exact ones every time."""
    from scipy.ndimage import distance_transform_edt

    from os1.handwriting.distance import reach

    skeleton = np.zeros((64, 64), np.uint8)
    skeleton[10:50, 30] = 1
    skeleton[20, 5:60] = 1
    free = np.where(skeleton, 0, 1).astype(np.uint8)
    exact = distance_transform_edt(free).astype(np.float32)
    noise = np.random.default_rng(1)
    for _ in range(50):
        cv2.resize(
            noise.random((64, 64)).astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA
        )
        assert np.array_equal(reach(free), exact)


def test_the_same_letter_comes_out_the_same_in_one_process(hand: Hand) -> None:
    """A long letter written again in the same process, after other work, is the same to the
    pixel: every decision against a distance threshold comes out the same way."""
    text = (TEXT * 6).replace("\n\n", "\n")

    def written() -> list[tuple[str, int, int, int]]:
        pages = write_text(hand, text, dpi=50, seed=3)
        return [
            (p.char, p.x, p.y, zlib.crc32(p.ink.tobytes())) for page in pages for p in page.placed
        ]

    first = written()
    noise = np.random.default_rng(2)
    for _ in range(20):
        cv2.resize(
            noise.random((64, 64)).astype(np.float32), (64, 64), interpolation=cv2.INTER_AREA
        )
    assert written() == first


def test_another_seed_gives_another_letter(hand: Hand, tmp_path: Path) -> None:
    write(write_text(hand, seed=1), tmp_path / "a.png")
    write(write_text(hand, seed=2), tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "b.png").read_bytes()
    first, second = boxes(write_text(hand, seed=1)), boxes(write_text(hand, seed=2))
    assert [b["char"] for b in first] == [b["char"] for b in second]
    assert [(b["x"], b["y"]) for b in first] != [(b["x"], b["y"]) for b in second]


def test_variation_off_ignores_the_seed(hand: Hand, tmp_path: Path) -> None:
    one = write_text(hand, seed=1, variation=False)
    two = write_text(hand, seed=99, variation=False)
    assert boxes(one) == boxes(two)
    write(one, tmp_path / "a.png", ink_texture=False)
    write(two, tmp_path / "b.png", ink_texture=False)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    # Without variation every instance of a letter is the same bitmap.
    inks = [p.ink for p in one[0].placed if p.char == "e"]
    assert len(inks) > 5 and all(np.array_equal(inks[0], ink) for ink in inks)


# -- every character -------------------------------------------------------------------------
def test_every_character_gets_a_glyph_with_ink(hand: Hand) -> None:
    text = "Café, Straße: 20 € → ½ ⅟ naïve Ça 中 ﬁn"
    pages = write_text(hand, text, dpi=150)
    found = [b["char"] for b in boxes(pages)]
    assert found == [c for c in text if not c.isspace()]
    for placed in pages[0].placed:
        assert int(placed.ink.max()) >= 128, placed.char


def test_an_accent_is_drawn_over_the_letter(hand: Hand) -> None:
    plain, accented = write_text(hand, "eé", variation=False)[0].placed
    assert accented.h > plain.h + 3  # the accent adds ink above the e
    assert accented.y + accented.h == pytest.approx(plain.y + plain.h, abs=2)


def test_an_accent_on_an_i_takes_the_place_of_its_dot(hand: Hand) -> None:
    plain, *accented = write_text(hand, "iíìîï", variation=False, dpi=300)[0].placed
    for glyph in accented:
        # Set where the dot was, not above it (nor above a faint ghost of it: 1.4 times).
        assert glyph.h < 1.25 * plain.h, glyph.char
        assert glyph.y + glyph.h == pytest.approx(plain.y + plain.h, abs=2)


def test_a_fraction_is_written_small_not_as_digits_in_a_row(hand: Hand) -> None:
    half, *row = write_text(hand, "½ 1/2", variation=False, dpi=300)[0].placed
    one, slash, two = row
    assert half.w < 0.85 * (two.x + two.w - one.x)  # narrower than "1/2" written out
    bottom = max(slash.y + slash.h, two.y + two.h)  # the 2 on the baseline
    assert half.y + half.h == pytest.approx(bottom, abs=3)
    assert half.y < one.y + 0.2 * one.h  # the 1 up at the top
    assert half.h < 1.15 * max(one.h, slash.h, two.h)


def test_typographic_quotes_and_dashes_are_the_hands_own_marks(hand: Hand) -> None:
    glyphs = resolve(hand, "\u2019\u201c\u2013\u2014'\"-")
    for typographic, plain in (("\u2019", "'"), ("\u201c", '"'), ("\u2013", "-")):
        ours = [g.ink for g in glyphs[plain]]
        assert len(glyphs[typographic]) == len(ours)
        assert all(np.array_equal(a.ink, b) for a, b in zip(glyphs[typographic], ours, strict=True))
    hyphen, em_dash = glyphs["-"][0], glyphs["\u2014"][0]
    assert em_dash.height == hyphen.height  # as thick: the hyphen drawn longer
    assert em_dash.width == pytest.approx(2 * hyphen.width, abs=1)
    assert em_dash.advance > hyphen.advance + 0.9 * hyphen.width
    # A hand without the plain mark still gets one: the fallback font's curly quote.
    lacking = Hand(
        hand.name,
        hand.x_height,
        hand.cap_height,
        {c: v for c, v in hand.glyphs.items() if c != "'"},
        space=hand.space,
    )
    (quote,) = resolve(lacking, "\u2019")["\u2019"]
    assert quote.ink.any() and not np.array_equal(quote.ink, hand.variants("'")[0].ink)


def test_marks_from_a_fallback_font_keep_to_the_hands_capitals(hand: Hand) -> None:
    # A sheet of letters and digits only (layout A): its marks come from a fallback font,
    # and must not tower over the writing (dkg's "!" and "?" rise to twice a capital).
    lacking = Hand(
        hand.name,
        hand.x_height,
        hand.cap_height,
        {c: v for c, v in hand.glyphs.items() if c not in "!?%"},
        space=hand.space,
    )
    for char, (glyph, *_) in resolve(lacking, "!?%").items():
        assert glyph.height <= 1.25 * hand.cap_height, char
        assert glyph.baseline <= 1.25 * hand.cap_height, char  # stands on the line


def _holes(ink: np.ndarray) -> int:
    """Pixels of paper that ink encloses."""
    paper = np.pad(ink < 128, 1, constant_values=True).astype(np.uint8)
    outside = paper.copy()
    cv2.floodFill(outside, None, (0, 0), 2)
    return int((outside == 1).sum())


def test_a_solid_shape_is_drawn_as_its_outline_and_a_bullet_as_a_dot(hand: Hand) -> None:
    # A pen follows centre lines, and a filled heart's centre line is a "Y": a heart, a star
    # or a square is drawn round its edge instead; a bullet stays a filled dot.
    glyphs = resolve(hand, "\u2665\u2605\u25a0\u2022")
    for char in "\u2665\u2605\u25a0":
        (shape,) = glyphs[char]
        inked = int((shape.ink >= 128).sum())
        assert _holes(shape.ink) > inked / 10, char  # an outline round paper (a "Y" has none)
    (bullet,) = glyphs["\u2022"]
    rows, cols = np.nonzero(bullet.ink >= 128)
    dot = bullet.ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] >= 128
    assert _holes(bullet.ink) == 0 and dot.mean() > 0.6  # a round dot fills most of its box


def test_superscripts_are_small_and_raised_subscripts_lowered(hand: Hand) -> None:
    placed = write_text(hand, "2\u00b2H\u2082O", variation=False, dpi=300)[0].placed
    two, squared, _, sub, _ = placed
    assert squared.h < 0.75 * two.h
    assert squared.y < two.y + 0.1 * two.h  # up at the top of the figures
    assert squared.y + squared.h < two.y + 0.75 * two.h  # well above the line
    assert sub.h < 0.75 * two.h
    assert sub.y + sub.h > two.y + two.h + 0.1 * two.h  # below the line


def test_a_missing_lowercase_letter_is_its_capital_at_x_height(hand: Hand) -> None:
    glyphs = dict(hand.glyphs)
    del glyphs["q"]
    lacking = Hand(hand.name, hand.x_height, hand.cap_height, glyphs, space=hand.space)
    q = write_text(lacking, "q Q", variation=False)[0].placed
    assert q[0].h < 0.85 * q[1].h  # the capital, scaled down


def test_odd_whitespace_is_a_space_and_control_characters_go() -> None:
    assert clean("a\u00a0b\u2003c\x07d\u200be\r\nf\rg\n") == "a b cde\nf\ng"
    assert clean("\n\nend\n\n\n  \n") == "\n\nend"  # blank lines on top stay


def test_combining_accents_join_their_letter_and_selectors_go() -> None:
    # Decomposed accents (as some systems type them) make one letter; the selectors that only
    # choose an emoji's look have no shape to write.
    assert clean("cafe\u0301 \u2764\ufe0f \U0001f44d\U0001f3fd a\u034fb") == "café ❤ \U0001f44d ab"


# -- where glyphs go -------------------------------------------------------------------------
def test_boxes_lie_inside_the_margins(hand: Hand) -> None:
    pages = write_text(hand, TEXT * 8, seed=3)
    assert len(pages) >= 2
    margin = DPI  # one inch
    found = boxes(pages)
    assert [b["page"] for b in found] == sorted(b["page"] for b in found)
    for box in found:
        page = pages[box["page"] - 1]
        assert box["x"] >= margin and box["y"] >= margin, box
        assert box["x"] + box["w"] <= page.width - margin, box
        assert box["y"] + box["h"] <= page.height - margin, box


def test_lines_break_between_words_and_long_words_split(hand: Hand) -> None:
    words = "one two three four five six seven eight nine ten eleven twelve " * 3
    long_word = "x" * 200
    pages = write_text(hand, words + long_word, variation=False)
    lines = _lines(pages[0])
    assert len(lines) >= 4
    for line in lines.values():
        assert max(p.x + p.w for p in line) <= pages[0].width - DPI
    # Each line but the split word ends with a whole word.
    text_lines = ["".join(p.char for p in line) for line in lines.values()]
    for written in text_lines:
        assert written.startswith("x") or words.replace(" ", "").find(written) >= 0
    assert sum(t.count("x") for t in text_lines) == 200 + words.count("x")


def test_blank_lines_and_indents_are_kept(hand: Hand) -> None:
    pages = write_text(hand, "first\n\nsecond\n\tthird\n    fourth", variation=False)
    lines = _lines(pages[0])
    assert ["".join(p.char for p in line) for line in lines.values()] == [
        "first",
        "second",
        "third",
        "fourth",
    ]
    numbers = list(lines)
    assert numbers == [1, 3, 4, 5]  # line 2 is the blank one
    lefts = [min(p.x for p in line) for line in lines.values()]
    assert lefts[2] > lefts[1] + 0.4 * DPI  # a tab: half an inch
    assert lefts[3] > lefts[1] + 10  # four spaces


@pytest.mark.parametrize("variation", [False, True])
def test_lines_never_meet(hand: Hand, variation: bool) -> None:
    """dkg's ascenders and descenders reach 1.7 type sizes together: at the usual pitch of
    1.5 the loop of a ``g`` fell into the ascenders of the line below."""
    text = "\n".join(["gyjpq gyjpq gyjpq gyjpq", "bdhkl bdhkl bdhkl bdhkl"] * 4)
    (page,) = write_text(hand, text, variation=variation)
    lines = np.zeros((page.height, page.width), np.int32)
    for placed in page.placed:
        ink = cv2.dilate((placed.ink >= 64).astype(np.uint8), np.ones((3, 3), np.uint8))
        area = lines[placed.y : placed.y + placed.h, placed.x : placed.x + placed.w]
        clash = (area != 0) & (area != placed.line) & (ink > 0)
        assert not clash.any(), (placed.char, placed.line)
        area[ink > 0] = placed.line


def test_a_hand_that_fits_keeps_the_usual_line_pitch(hand: Hand) -> None:
    """The pitch grows only for hands that need it: with no ascender or descender taller than
    W1's, lines lie 1.5 type sizes apart."""
    short = Hand("short", hand.x_height, hand.cap_height, {c: hand.glyphs[c] for c in "aceoxH"})
    (page,) = write_text(short, "ace\nace\nace", variation=False)
    bottoms = [max(p.y + p.h for p in page.placed if p.line == n) for n in (1, 2, 3)]
    size = 14.0 / 72 * DPI
    assert np.diff(bottoms) == pytest.approx([1.5 * size, 1.5 * size], abs=1.0)


def test_pages_fill_before_a_new_one_starts(hand: Hand, tmp_path: Path) -> None:
    pages = write_text(hand, "line\n" * 40, variation=False)  # dkg: about 27 lines a page
    assert len(pages) == 2
    assert len(_lines(pages[0])) > 20
    paths = write(pages, tmp_path / "letter.png")
    assert [p.name for p in paths] == ["letter.png", "letter-2.png"]


# -- variation -------------------------------------------------------------------------------
def test_repeated_letters_differ(hand: Hand) -> None:
    pages = write_text(hand, "ease " * 12, dpi=200)
    inks = [p.ink for p in pages[0].placed if p.char == "e"]
    assert len(inks) == 24
    for a, b in itertools.combinations(inks[:10], 2):
        assert a.shape != b.shape or not np.array_equal(a, b)
        assert glyph_distance(a, b) > 0.008


def test_variation_stays_bounded(hand: Hand) -> None:
    off = {b["char"] + str(i): b for i, b in enumerate(boxes(write_text(hand, variation=False)))}
    on = {b["char"] + str(i): b for i, b in enumerate(boxes(write_text(hand, seed=5)))}
    assert off.keys() == on.keys()
    ratios = [on[k]["h"] / off[k]["h"] for k in on if off[k]["h"] > 10]
    assert min(ratios) > 0.85 and max(ratios) < 1.2


def test_variants_never_repeat_twice_in_a_row() -> None:
    vary = Variation(3)
    picks = [vary.pick("a", 3) for _ in range(60)]
    assert set(picks) == {0, 1, 2}
    assert all(a != b for a, b in itertools.pairwise(picks))
    assert {Variation(3, enabled=False).pick("a", 3) for _ in range(5)} == {0}


def test_ink_texture_keeps_every_stroke_outline(hand: Hand) -> None:
    from os1.handwriting.render import raster

    page = write_text(hand, "Textured ink, plain outline.", dpi=200)[0]
    plain = np.asarray(raster(page, ink_texture=False).convert("L"))
    textured = np.asarray(raster(page, ink_texture=True).convert("L"))
    assert not np.array_equal(plain, textured)
    ink = np.dot(INK, (0.299, 0.587, 0.114))
    middle = (255 + ink) / 2  # half coverage, as grey
    changed = (plain < middle) != (textured < middle)
    assert changed.sum() <= 0.002 * (plain < middle).sum()  # rounding at the edge only


@pytest.mark.skipif(not W1_SHEET.is_file(), reason="needs the shared handwriting data")
def test_the_real_hand_never_copies_a_letter() -> None:
    from os1.handwriting.capture import learn_sheets

    w1, _ = learn_sheets([W1_SHEET], "w1")
    pages = layout(w1, "the other letter is there, then the third one. " * 3, seed=0)
    by_char: dict[str, list[np.ndarray]] = {}
    for placed in pages[0].placed:
        if placed.char.isalpha():
            by_char.setdefault(placed.char, []).append(placed.ink)
    distances = [
        glyph_distance(a, b)
        for inks in by_char.values()
        for a, b in itertools.combinations(inks, 2)
    ]
    assert len(distances) > 300
    assert min(distances) >= 0.010
    assert 0.015 <= float(np.median(distances)) <= 0.06
    source = {c: w1.variants(c)[0].ink for c in by_char}
    to_source = [glyph_distance(ink, source[c]) for c, inks in by_char.items() for ink in inks]
    assert float(np.mean(to_source)) <= 0.03


def test_a_long_letter_draws_each_glyph_about_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """With one form per glyph, the instances of a letter crowd the distinctness window: a
    floor set at the benchmark's p10 (not its minimum), and whole words made again for one
    letter, made most glyphs be drawn five times or more."""
    from os1.handwriting import layout as module

    if not DKG.is_file():
        pytest.skip("fonts-dkg-handwriting not installed")
    dkg = hand_from_font(DKG)
    drawn = 0
    deform = module.deform

    def counted(*args: object, **kwargs: object) -> object:
        nonlocal drawn
        drawn += 1
        return deform(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "deform", counted)
    text = (
        "Dear Ada, the letters came today, all of them at once. I read every one twice and "
        "then again at night, because a letter is better the third time. We walked by the "
        "river on Sunday and spoke of you. "
    ) * 5
    pages = layout(dkg, text, size_pt=16.0, dpi=300, seed=0)
    glyphs = sum(len(page.placed) for page in pages)
    assert glyphs > 700
    assert drawn <= 3 * glyphs  # 4.9 a glyph before


def test_a_word_is_made_once_and_only_its_near_letters_drawn_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from os1.handwriting import layout as module

    if not BREIP.is_file():
        pytest.skip("fonts-breip not installed")
    made = 0
    make_once = module._Writer._make_once

    def counted(self: object, text: str) -> object:
        nonlocal made
        made += 1
        return make_once(self, text)  # type: ignore[arg-type]

    monkeypatch.setattr(module._Writer, "_make_once", counted)
    text = "all the little letters fell off the hill, and all of them laughed. " * 3
    words = len(text.split())
    layout(hand_from_font(BREIP), text, size_pt=16.0, dpi=300, seed=0)
    assert made <= words + 3  # a word moved to the next line is made again there


def test_overlay_adds_only_the_ink_that_reaches_into_the_strokes() -> None:
    from os1.handwriting.distinct import overlay

    ink = np.zeros((4, 4), np.uint8)
    ink[:, 2] = 100
    other = np.full((4, 4), 200, np.uint8)
    assert overlay(ink, (0, 0), other, (10, 0)) is ink  # apart: untouched
    out = overlay(ink, (0, 0), other, (2, 1))
    assert out[1:, 2].tolist() == [200, 200, 200] and out[0, 2] == 100
    assert not out[:, 3].any()  # paper of its own stays paper
    assert ink[1, 2] == 100  # the original is not changed


@pytest.mark.skipif(not BREIP.is_file(), reason="fonts-breip not installed")
def test_no_two_letters_look_copied_as_written_on_the_page() -> None:
    from os1.handwriting.distance import normalize, skeleton_distance
    from os1.handwriting.distinct import WRITTEN_FLOOR
    from os1.handwriting.render import coverage

    breip = hand_from_font(BREIP)  # thin strokes, letters that touch
    text = "all the little letters fell off the hill, and all of them laughed. " * 3
    pages = layout(breip, text, size_pt=16.0, dpi=300, seed=0)
    page = pages[0]
    cover = np.round(coverage(page) * 255).astype(np.uint8)
    by_char: dict[str, list[np.ndarray]] = {}
    for p in page.placed:
        if p.char.isalpha():
            cut = np.where(p.ink > 0, cover[p.y : p.y + p.h, p.x : p.x + p.w], 0)
            by_char.setdefault(p.char, []).append(normalize(cut))
    distances = [
        skeleton_distance(a, b)
        for shapes in by_char.values()
        for a, b in itertools.combinations(shapes, 2)
    ]
    assert len(distances) > 300
    assert min(distances) >= 0.010  # the benchmark's floor: WRITTEN_FLOOR is best effort
    assert float(np.percentile(distances, 5)) >= WRITTEN_FLOOR


# -- files -----------------------------------------------------------------------------------
def test_pdf_is_vector_and_opens(hand: Hand, tmp_path: Path) -> None:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pages = write_text(hand, TEXT * 8)
    (out,) = write(pages, tmp_path / "letter.pdf")
    data = out.read_bytes()
    assert b"/XObject" not in data and b"/Subtype /Image" not in data
    stream = re.findall(rb"stream\r?\n(.*?)endstream", data, re.DOTALL)[0]
    content = zlib.decompress(base64.a85decode(stream.strip(), adobe=True))
    assert b" m " in content and b" l " in content and b"f*" in content  # even-odd fills
    document = pdfium.PdfDocument(out)
    assert len(document) == len(pages) == 2
    for page, written in zip(document, pages, strict=True):
        kinds = [o.type for o in page.get_objects()]
        assert kinds == [pdfium_c.FPDF_PAGEOBJ_PATH] * len(written.placed)  # one path a glyph
        assert page.get_size() == pytest.approx((612, 792))
        assert page.render(scale=0.25).to_numpy().min() < 128  # ink shows
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "view")], check=True
        )
        assert len(list(tmp_path.glob("view*.png"))) == len(pages)


def test_svg_holds_every_glyph_as_a_filled_path(hand: Hand, tmp_path: Path) -> None:
    pages = write_text(hand, "hello, odd world")
    (out,) = write(pages, tmp_path / "letter.svg")
    root = ElementTree.parse(out).getroot()
    paths = root.findall(".//{http://www.w3.org/2000/svg}path")
    assert len(paths) == len(pages[0].placed)
    assert root.find(".//{http://www.w3.org/2000/svg}g[@fill-rule='evenodd']") is not None
    assert root.get("width") == "8.5000in"


def test_png_shows_ink_where_the_boxes_are(hand: Hand, tmp_path: Path) -> None:
    from PIL import Image

    pages = write_text(hand, "Hello there")
    (out,) = write(pages, tmp_path / "letter.png")
    pixels = np.asarray(Image.open(out).convert("L"))
    assert pixels.shape == (pages[0].height, pages[0].width)
    inside = np.zeros(pixels.shape, bool)
    for box in boxes(pages):
        inside[box["y"] : box["y"] + box["h"], box["x"] : box["x"] + box["w"]] = True
    assert (pixels[inside] < 128).sum() > 100
    assert (pixels[~inside] < 250).sum() == 0


def test_plotter_files_come_from_the_same_write(hand: Hand, tmp_path: Path) -> None:
    (out,) = write(write_text(hand, "hello", dpi=200), tmp_path / "letter.plot.svg")
    assert out.name == "letter.plot.svg"
    assert re.search(r"<(path|polyline|line) ", out.read_text())


def test_a_bad_extension_is_refused(hand: Hand, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"\.png"):
        write(write_text(hand, "hi"), tmp_path / "letter.docx")


@pytest.mark.parametrize("text", ["", "   \n\t\n"])
def test_empty_text_is_refused(hand: Hand, text: str) -> None:
    with pytest.raises(UserInputError, match="empty"):
        layout(hand, text)


@pytest.mark.parametrize("text", ["\x00\x07", "\x01\x02\n", "\ufe0f"])
def test_a_text_of_only_control_characters_says_so(hand: Hand, text: str) -> None:
    with pytest.raises(UserInputError, match="only control characters"):
        layout(hand, text)


def test_bad_settings_are_refused(hand: Hand) -> None:
    with pytest.raises(UserInputError, match="paper"):
        layout(hand, "hi", paper="legal")
    with pytest.raises(UserInputError, match="size"):
        layout(hand, "hi", size_pt=0.5)


def _lines(page: Page) -> dict[int, list[Placed]]:
    lines: dict[int, list[Placed]] = {}
    for placed in page.placed:
        lines.setdefault(placed.line, []).append(placed)
    return lines
