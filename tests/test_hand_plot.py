"""Centre-line strokes, pen-plotter output (single-stroke SVG, G-code) and font export, on hands
made from the Debian handwriting fonts."""

from __future__ import annotations

import io
import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures_hand import BREIP, DKG
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont, features

from os1.errors import UserInputError
from os1.handwriting.font import build_font
from os1.handwriting.fromfont import hand_from_font
from os1.handwriting.hand import Hand
from os1.handwriting.page import PAPERS, Page, Placed
from os1.handwriting.plotter import (
    plot_lines,
    plot_stats,
    rasterize_lines,
    write_plot,
)
from os1.handwriting.strokes import centerlines

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'!?&"
TEXT = "The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!"

pytestmark = pytest.mark.skipif(
    not (DKG.is_file() and BREIP.is_file()),
    reason="needs fonts-dkg-handwriting and fonts-breip",
)


@pytest.fixture(scope="module")
def dkg() -> Hand:
    return hand_from_font(DKG, chars=LETTERS)


@pytest.fixture(scope="module")
def breip() -> Hand:
    return hand_from_font(BREIP, chars=LETTERS)


def _page(hand: Hand, text: str = TEXT, size_pt: float = 16, dpi: int = 300) -> Page:
    """``text`` placed glyph by glyph on a letter page, with line breaks: no variation."""
    width, height = (round(side / 72 * dpi) for side in PAPERS["letter"])
    scale = 0.7 * size_pt / 72 * dpi / hand.cap_height
    page, x, y, line = Page(width, height, dpi), dpi, dpi, 0
    for word in text.split():
        glyphs = [hand.variants(c)[0] for c in word]
        if x + sum(g.advance for g in glyphs) * scale > width - dpi:
            x, y, line = dpi, y + round(1.5 * size_pt / 72 * dpi), line + 1
        for g in glyphs:
            size = (max(1, round(g.width * scale)), max(1, round(g.height * scale)))
            ink = cv2.resize(g.ink, size, interpolation=cv2.INTER_AREA)
            top = round(y - g.baseline * scale)
            page.placed.append(Placed(g.char, ink, round(x + g.left * scale), top, line))
            x += g.advance * scale
        x += hand.space * scale
    return page


def _length(path: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())


def _is_open(path: np.ndarray) -> bool:
    return len(path) >= 2 and float(np.linalg.norm(path[0] - path[-1])) > 0.5


# -- centre-lines ----------------------------------------------------------------------------
@pytest.mark.parametrize("font", ["dkg", "breip"])
def test_letters_become_the_strokes_a_pen_makes(font: str, request: pytest.FixtureRequest) -> None:
    hand: Hand = request.getfixturevalue(font)

    def strokes(char: str) -> list[np.ndarray]:
        paths = centerlines(hand.variants(char)[0].ink)
        assert all(_is_open(p) for p in paths), char
        return paths

    assert len(strokes("o")) == 1  # the loop, cut open
    assert len(strokes("l")) == 1
    assert len(strokes("x")) == 2  # two crossing strokes, not four arms
    stem, dot = sorted(strokes("i"), key=_length, reverse=True)
    assert _length(dot) < 0.3 * _length(stem)
    assert dot[:, 1].max() < stem[:, 1].min()  # the dot sits above the stem


def test_strokes_run_along_the_ink_and_cover_it(dkg: Hand) -> None:
    for char in "aegkBR8&":
        ink = dkg.variants(char)[0].ink
        paths = centerlines(ink)
        points = np.concatenate([_dense(p) for p in paths])
        mask = (ink >= 128).astype(np.uint8)
        to_ink = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3)
        on = to_ink[points[:, 1].astype(int), points[:, 0].astype(int)]
        assert np.mean(on <= 1.5) > 0.95, char  # the strokes lie on the ink...
        drawn = np.zeros_like(mask)
        for p in paths:
            cv2.polylines(drawn, [np.round(p - 0.5).astype(np.int32)], False, 1, 1)
        to_stroke = cv2.distanceTransform(1 - drawn, cv2.DIST_L2, 3)
        assert np.mean(to_stroke[mask > 0] <= 6) > 0.95, char  # ...and reach all of it


def test_a_short_bar_across_a_stroke_is_drawn() -> None:
    """A ``t``'s or ``f``'s bar whose arms are shorter than a spur: both arms stay, as one
    stroke across the stem (they were pruned as spurs, and a plotted ``t`` read as ``l``)."""
    ink = np.zeros((80, 60), np.uint8)
    cv2.line(ink, (30, 8), (30, 72), 255, 4, cv2.LINE_AA)
    cv2.line(ink, (23, 30), (37, 30), 255, 4, cv2.LINE_AA)  # arms of 5 px; spurs are < 6.4
    points = np.concatenate([_dense(p) for p in centerlines(ink)])
    for end in ((25.5, 30.5), (35.5, 30.5)):
        assert np.linalg.norm(points - end, axis=1).min() < 2.5, end
    # The blunt end of a thick stroke still gets no twigs to its corners.
    thick = np.zeros((80, 60), np.uint8)
    cv2.line(thick, (30, 12), (30, 68), 255, 9, cv2.LINE_8)
    (stroke,) = centerlines(thick)
    assert np.abs(stroke[:, 0] - 30.5).max() < 1.5


def test_a_slanted_bar_keeps_its_short_arm() -> None:
    """A ``t``'s bar drawn at a slant meets the stem at two junctions, a little apart; its
    short left arm was pruned as a spur there, for nothing carried it on at its own junction,
    and the plotted ``t`` read as ``l``."""
    ink = np.zeros((48, 24), np.uint8)
    cv2.line(ink, (8, 3), (8, 45), 255, 1, cv2.LINE_AA)
    cv2.line(ink, (4, 23), (22, 10), 255, 1, cv2.LINE_AA)  # left arm 4 px, right arm 14 px
    points = np.concatenate([_dense(p) for p in centerlines(ink)])
    assert points[:, 0].min() < 6.5  # the left arm reaches past the stem (x 8.5)


def test_a_one_sided_bar_longer_than_a_twig_is_kept() -> None:
    """An ``f`` whose bar lies almost all on one side of a tall stem: the arm is shorter than
    the spurs of so tall a glyph, but far longer than a twig to the outline could be."""
    ink = np.zeros((110, 30), np.uint8)
    cv2.line(ink, (10, 4), (10, 105), 255, 1, cv2.LINE_AA)
    cv2.line(ink, (10, 40), (18, 40), 255, 1, cv2.LINE_AA)
    points = np.concatenate([_dense(p) for p in centerlines(ink)])
    assert points[:, 0].max() > 16.0


@pytest.mark.parametrize("radius", [1, 3, 5, 8])
def test_a_dot_becomes_an_open_spiral_the_size_of_the_dot(radius: int) -> None:
    """A dot thins to a pixel or two: drawn as such, an ``i``'s dot came out as a pen-sized
    speck or, in an SVG viewer, a hairline tick. Its stroke now fills the dot with the pen."""
    pen = 4.0
    ink = np.zeros((70, 30), np.uint8)
    cv2.line(ink, (15, 30), (15, 66), 255, 2, cv2.LINE_AA)  # the stem
    cv2.circle(ink, (15, 12), radius, 255, -1, cv2.LINE_AA)  # the dot
    paths = centerlines(ink, pen=pen)
    (dot,) = [p for p in paths if p[:, 1].max() < 25]
    assert _is_open(dot) and _length(dot) >= 0.5 * pen
    drawn = np.zeros_like(ink)
    cv2.polylines(drawn, [np.round(dot - 0.5).astype(np.int32)], False, 255, round(pen))
    inked = ink[:25] >= 128
    near = cv2.dilate(drawn, np.ones((3, 3), np.uint8))[:25] > 0  # within a pixel
    assert np.mean(near[inked]) > 0.95  # the pen covers the dot...
    assert (drawn[:25] > 0).sum() < 1.6 * inked.sum() + 2 * pen**2  # ...and little more


def test_a_written_ring_dot_is_one_spiral_not_a_tick() -> None:
    """The dot of a writer who draws dots as tiny rings: the mask fills the ring."""
    ink = np.zeros((30, 30), np.uint8)
    cv2.ellipse(ink, (15, 15), (5, 4), 30, 0, 360, 160, 2, cv2.LINE_AA)
    (dot,) = centerlines(ink, pen=6.0)
    span = dot.max(axis=0) - dot.min(axis=0)
    assert span.max() >= 3.0  # the ring's width less the pen's, not one pixel


def _dense(path: np.ndarray) -> np.ndarray:
    """Points every half pixel along ``path``."""
    parts = [
        np.linspace(a, b, max(2, int(np.linalg.norm(b - a) * 2)))
        for a, b in itertools.pairwise(path)
    ]
    return np.concatenate(parts) if parts else path


def test_a_loop_through_a_junction_is_cut_open_at_one_point() -> None:
    ink = np.zeros((90, 120), np.uint8)
    cv2.circle(ink, (45, 45), 30, 255, 7, cv2.LINE_AA)
    cv2.line(ink, (75, 45), (90, 45), 255, 7, cv2.LINE_AA)  # a tail: the ring has a junction
    ring, tail = sorted(centerlines(ink), key=_length, reverse=True)
    assert _is_open(ring) and _is_open(tail)
    assert np.linalg.norm(ring[0] - ring[-1]) < 2  # one pixel left out, no visible gap
    radii = np.linalg.norm(_dense(ring) - 45.5, axis=1)
    assert np.abs(radii - 30).max() < 2.5  # and it is the ring's centre-line


def test_blank_ink_has_no_strokes() -> None:
    assert centerlines(np.zeros((40, 30), dtype=np.uint8)) == []


# -- plotting --------------------------------------------------------------------------------
def test_a_page_plots_as_open_strokes_with_little_pen_up_travel(breip: Hand) -> None:
    page = _page(breip)
    (lines,) = plot_lines([page])
    assert len(lines) >= len(page.placed)  # every glyph has at least one stroke
    assert all(_is_open(line) for line in lines)
    every = np.concatenate(lines)
    assert every.min() >= 0
    assert every[:, 0].max() < page.width and every[:, 1].max() < page.height
    stats = plot_stats(lines)
    assert stats["strokes"] == len(lines)
    assert 0 < stats["pen_up_share"] < 0.4


def test_plot_stats_add_up() -> None:
    lines = [np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[10.0, 5.0], [20.0, 5.0]])]
    stats = plot_stats(lines)
    assert stats["pen_down"] == pytest.approx(20.0)
    assert stats["pen_up"] == pytest.approx(5.0)
    assert stats["pen_up_share"] == pytest.approx(0.2)
    assert plot_stats([])["pen_up_share"] == 0.0


def test_rasterized_strokes_use_a_half_millimetre_pen() -> None:
    line = np.array([[100.5, 50.5], [300.5, 50.5]])
    image = np.asarray(rasterize_lines([line], 400, 100, dpi=300))
    column = image[:, 200] < 128
    assert column[50] and not column[:40].any() and not column[60:].any()
    assert 5 <= column.sum() <= 7  # 0.5 mm at 300 dpi is 5.9 px
    assert image[50, 98] < 128 and image[50, 94] > 128  # a round cap, 3 px past the end


def test_plot_svg_is_single_strokes_on_the_paper(dkg: Hand, tmp_path: Path) -> None:
    pages = [_page(dkg, "Hello world"), _page(dkg, "Page two")]
    paths = write_plot(pages, tmp_path / "letter.plot.svg")
    assert [p.name for p in paths] == ["letter.plot.svg", "letter-2.plot.svg"]
    root = ET.parse(paths[0]).getroot()
    assert (root.get("width"), root.get("height")) == ("21.59cm", "27.94cm")
    assert root.get("viewBox") == "0 0 816.0 1056.0"
    shapes = [e for e in root.iter() if e.tag.split("}")[1] in ("path", "polyline")]
    others = {e.tag.split("}")[1] for e in root.iter()} - {"path", "polyline"}
    assert len(shapes) >= len("Helloworld")
    assert others <= {"svg", "g", "metadata", "RDF", "Work", "format", "source", "defs"}
    groups = [e for e in root.iter() if e.tag.endswith("}g")]
    assert len(groups) == 1 and groups[0].get("fill") == "none"
    assert all(e.get("fill") in (None, "none") for e in shapes)


def test_plot_svg_draws_with_a_round_pen(dkg: Hand, tmp_path: Path) -> None:
    """Round ends and joins, as a pen draws: with a viewer's square-cut ends a dot's short
    stroke showed as a thin tick and a short arm vanished into the stroke it crosses."""
    (path,) = write_plot([_page(dkg, "it is")], tmp_path / "letter.plot.svg")
    (group,) = [e for e in ET.parse(path).getroot().iter() if e.tag.endswith("}g")]
    assert group.get("stroke-linecap") == "round"
    assert group.get("stroke-linejoin") == "round"


def test_gcode_moves_stay_on_the_paper_in_millimetres(dkg: Hand, tmp_path: Path) -> None:
    page = _page(dkg)
    (path,) = write_plot([page], tmp_path / "letter.gcode")
    text = path.read_text()
    assert text.startswith("G21") and "G90" in text  # millimetres, absolute
    moves = re.findall(r"^G([01]) X(-?[\d.]+) Y(-?[\d.]+)", text, re.MULTILINE)
    xy = np.array([[float(x), float(y)] for _, x, y in moves])
    assert (xy >= 0).all() and (xy[:, 0] <= 215.9).all() and (xy[:, 1] <= 279.4).all()
    (lines,) = plot_lines([page])
    assert sum(kind == "0" for kind, _, _ in moves) == len(lines) + 1  # a stroke each, home
    # The origin is the paper's bottom-left corner: the first line of text is near the top.
    assert xy[:, 1].max() > 279.4 - 40
    # The pen is up for every move between strokes and down for every drawn one.
    pen = "up"
    for line in text.splitlines():
        if line.startswith("G0 Z3"):
            pen = "up"
        elif line.startswith("G1 Z0"):
            pen = "down"
        elif line.startswith("G0 X"):
            assert pen == "up", line
        elif line.startswith("G1 X"):
            assert pen == "down", line
    assert text.count("G1 Z0") == len(lines)


def test_plot_files_need_a_plot_ending(dkg: Hand, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"\.plot\.svg or \.gcode"):
        write_plot([_page(dkg, "Hi")], tmp_path / "letter.svg")


# -- font ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def varied(breip: Hand) -> Hand:
    """The Breip hand with a second, slanted variant of ``a`` and ``o``."""
    glyphs = dict(breip.glyphs)
    for char in "ao":
        glyph = glyphs[char][0]
        shear = np.float32([[1, -0.25, 0.25 * glyph.height], [0, 1, 0]])
        size = (glyph.width + glyph.height // 4, glyph.height)
        glyphs[char] = [glyph, replace(glyph, ink=cv2.warpAffine(glyph.ink, shear, size))]
    return replace(breip, name="Breip-varied", glyphs=glyphs)


def test_font_has_every_character_and_cycles_the_variants(varied: Hand, tmp_path: Path) -> None:
    out = tmp_path / "hand.otf"
    build_font(varied, out)
    font = TTFont(out)
    font.ensureDecompiled()  # every table parses
    again = io.BytesIO()
    font.save(again)
    assert TTFont(io.BytesIO(again.getvalue())).getGlyphOrder() == font.getGlyphOrder()
    assert "CFF " in font
    cmap = font.getBestCmap()
    assert {ord(c) for c in varied.chars} | {32} <= set(cmap)
    assert {"a.alt1", "o.alt1"} <= set(font.getGlyphOrder())
    tags = {r.FeatureTag for r in font["GSUB"].table.FeatureList.FeatureRecord}
    assert {"calt", "salt", "aalt"} <= tags
    assert font["name"].getDebugName(1) == "Breip-varied"
    assert font["OS/2"].sCapHeight == 700

    layout = ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC
    pil = ImageFont.truetype(str(out), 60, layout_engine=layout)
    with_calt, without = _draw(pil, "aaaa oooo", ["calt"]), _draw(pil, "aaaa oooo", ["-calt"])
    assert (with_calt < 128).sum() > 500  # the text is written
    if layout == ImageFont.Layout.RAQM:
        assert not np.array_equal(with_calt, without)  # calt put alternates in


def _draw(font: ImageFont.FreeTypeFont, text: str, feats: list[str]) -> np.ndarray:
    image = Image.new("L", (700, 100), 255)
    ImageDraw.Draw(image).text((10, 10), text, font=font, fill=0, features=feats)
    return np.asarray(image)


def test_font_as_truetype_and_without_variants(dkg: Hand, tmp_path: Path) -> None:
    build_font(dkg, tmp_path / "dkg.ttf")
    font = TTFont(tmp_path / "dkg.ttf")
    assert "glyf" in font and "GSUB" not in font  # one form per character: nothing to cycle
    assert font["glyf"]["a"].numberOfContours >= 1
    with pytest.raises(UserInputError, match=r"\.otf"):
        build_font(dkg, tmp_path / "dkg.woff")


def test_a_light_thin_stroke_stays_one_stroke() -> None:
    """A light pen's hairline (a pixel wide, antialiased) is one stroke, not a row
    of dots: light hands plotted as dots could not be read."""
    ink = np.zeros((80, 80), np.uint8)
    cv2.line(ink, (10, 70), (70, 12), 200, 1, cv2.LINE_AA)
    (stroke,) = centerlines(ink)
    assert float(np.hypot(*(stroke[-1] - stroke[0]))) > 0.9 * float(np.hypot(60, 58))
