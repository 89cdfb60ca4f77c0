"""Template and capture: OS1's template round trip, and the real builtree sheets."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from fixtures_hand import BREIP, HANDWRITING, SHEETS
from PIL import Image, ImageDraw, ImageFont

from os1.errors import UserInputError
from os1.handwriting.capture import glyph_sheet, learn_sheets
from os1.handwriting.fromfont import hand_from_font
from os1.handwriting.hand import Glyph, Hand, list_hands, load_hand, save_hand
from os1.handwriting.layouts import BASELINE, BOX, TEMPLATE_CHARS, template_for
from os1.handwriting.sheet import load_pages
from os1.handwriting.template import make_template

#: A handwriting font fills OS1's template in the round-trip tests.
FONT = BREIP
needs_data = pytest.mark.skipif(not SHEETS.is_dir(), reason="needs the shared handwriting data")


def _fill(blank: np.ndarray, dpi: int) -> np.ndarray:
    """Write each box's character in blue with a handwriting font, on the printed baseline,
    shrinking a character whose ink would leave its box."""
    scale = dpi / 72
    image = Image.fromarray(blank)
    draw = ImageDraw.Draw(image)
    room = (BASELINE - 0.12) * BOX * scale, (0.88 - BASELINE) * BOX * scale
    for char, left, top in template_for("letter", 1)[0].boxes:
        size = round(0.36 * BOX * scale)
        while True:
            font = ImageFont.truetype(str(FONT), size)
            x0, y0, x1, y1 = font.getbbox(char, anchor="ms")
            if (-y0 <= room[0] and y1 <= room[1] and x1 - x0 < 0.75 * BOX * scale) or size < 8:
                break
            size -= 2
        x, y = (left + BOX / 2) * scale, (top + BASELINE * BOX) * scale
        draw.text((x, y), char, font=font, fill=(30, 45, 150), anchor="ms")
    return np.asarray(image)


def _photograph(page: np.ndarray) -> np.ndarray:
    """The page as a phone sees it: turned, in perspective, on a table, unevenly lit, noisy."""
    h, w = page.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dst = np.array(
        [[0.10 * w, 0.06 * h], [1.02 * w, 0.02 * h], [1.08 * w, 1.0 * h], [0.03 * w, 0.95 * h]],
        dtype=np.float32,
    )
    warp = cv2.getPerspectiveTransform(src, dst)
    out = (int(1.15 * w), int(1.08 * h))
    photo = cv2.warpPerspective(page, warp, out, borderValue=(70, 60, 50)).astype(np.float32)
    light = np.linspace(1.0, 0.6, out[0], dtype=np.float32)[None, :, None]
    photo = photo * light + np.random.default_rng(7).normal(0, 4, photo.shape)
    return np.clip(cv2.GaussianBlur(photo, (3, 3), 0), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def template_hand(tmp_path_factory: pytest.TempPathFactory) -> tuple[Hand, object]:
    if not FONT.is_file():
        pytest.skip("needs fonts-breip (scripts/system-packages)")
    folder = tmp_path_factory.mktemp("template")
    make_template(folder / "sheet.pdf")
    blank = load_pages(folder / "sheet.pdf")[0]
    photo = _photograph(_fill(blank, 150))
    Image.fromarray(photo).save(folder / "photo.jpg", quality=90)
    return learn_sheets([folder / "photo.jpg"], "synthetic")


@pytest.fixture(scope="module")
def w1() -> tuple[Hand, object]:
    if not SHEETS.is_dir():
        pytest.skip("needs the shared handwriting data")
    return learn_sheets([SHEETS / "sheet_new.jpg"], "w1")


def _framed(glyph: Glyph, cap: float) -> np.ndarray:
    """The glyph in a frame fixed to the line (cap height 20 px, baseline at row 28), centred,
    blurred, zero mean and unit length: shape, size and height on the line all count."""
    scale = 20 / cap
    ink = cv2.resize(glyph.ink.astype(np.float32), None, fx=scale, fy=scale)
    frame = np.zeros((44, 44), np.float32)
    top = round(28 - glyph.baseline * scale)
    left = (44 - ink.shape[1]) // 2
    rows = slice(max(0, top), max(0, min(44, top + ink.shape[0])))
    cols = slice(max(0, left), min(44, left + ink.shape[1]))
    frame[rows, cols] = ink[
        rows.start - top : rows.stop - top, cols.start - left : cols.stop - left
    ]
    frame = cv2.GaussianBlur(frame, (0, 0), 1.5)
    frame -= frame.mean()
    return frame / (np.linalg.norm(frame) + 1e-6)


def test_template_has_every_character_on_pages(tmp_path: Path) -> None:
    make_template(tmp_path / "t.pdf", paper="a4", variants=3)
    pages = template_for("a4", 3)
    assert len(pages) == 3 and len(load_pages(tmp_path / "t.pdf")) == 3
    chars = [char for page in pages for char, _, _ in page.boxes]
    assert all(chars.count(c) == 3 for c in TEMPLATE_CHARS)
    assert len(chars) == 3 * len(TEMPLATE_CHARS)


def test_template_rejects_bad_options(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="variants"):
        make_template(tmp_path / "t.pdf", variants=4)
    with pytest.raises(UserInputError, match="paper"):
        make_template(tmp_path / "t.pdf", paper="legal")


def test_template_round_trip_reads_every_character(template_hand: tuple[Hand, object]) -> None:
    hand, report = template_hand
    assert "OS1 template v1 letter p1/1" in report.summary()  # type: ignore[attr-defined]
    assert hand.chars == "".join(sorted(TEMPLATE_CHARS))
    source = hand_from_font(FONT, chars=TEMPLATE_CHARS)
    refs = {c: _framed(g[0], source.cap_height) for c, g in source.glyphs.items()}
    wrong = []
    for char in TEMPLATE_CHARS.replace(":", ""):  # Breip's colon floats above the line
        learned = _framed(hand.glyphs[char][0], hand.cap_height)
        scores = {c: float((learned * r).sum()) for c, r in refs.items()}
        if scores[char] < 0.6 or scores[char] < max(scores.values()) - 0.1:
            wrong.append(char)
    assert wrong == []
    assert hand.glyphs["O"][0].width > 2.5 * hand.glyphs["l"][0].width


def test_template_metrics(template_hand: tuple[Hand, object]) -> None:
    hand, _ = template_hand
    assert 0.4 * hand.cap_height < hand.x_height < 0.85 * hand.cap_height
    for char in "gpqy":
        glyph = hand.glyphs[char][0]
        assert 0.3 * glyph.height < glyph.baseline < 0.85 * glyph.height
    for char in "xHk.":
        glyph = hand.glyphs[char][0]
        assert abs(glyph.baseline - glyph.height) <= 1
    # the hyphen floats: the printed baseline lies well below its ink
    hyphen = hand.glyphs["-"][0]
    assert hyphen.baseline - hyphen.height > 0.2 * hand.x_height


@needs_data
def test_w1_sheet_is_layout_b(w1: tuple[Hand, object]) -> None:
    hand, report = w1
    sheet = report.sheets[0]  # type: ignore[attr-defined]
    assert (sheet.layout, len(sheet.read), sheet.empty) == ("B", 80, "")
    assert len(hand.glyphs) == 80
    assert 0.45 * hand.cap_height < hand.x_height < 0.8 * hand.cap_height
    for char in "gjpqy,":
        glyph = hand.glyphs[char][0]
        assert glyph.baseline < glyph.height - 0.15 * hand.x_height, char
    for char in "aHn0.":
        assert abs(hand.glyphs[char][0].baseline - hand.glyphs[char][0].height) <= 1
    assert hand.glyphs["'"][0].baseline > 2 * hand.glyphs["'"][0].height
    assert hand.glyphs["m"][0].width > 2.5 * hand.glyphs["i"][0].width
    # no border remnants: no glyph spans most of its box
    assert max(g.height for v in hand.glyphs.values() for g in v) < 2.2 * hand.cap_height


@needs_data
def test_w1_glyphs_keep_soft_edges_and_dots(w1: tuple[Hand, object]) -> None:
    hand, _ = w1
    ink = hand.glyphs["A"][0].ink
    soft = ((ink > 0) & (ink < 200)).sum()
    assert soft > 0.2 * (ink > 0).sum()
    for char in "ij":  # the dot survives: ink above a gap
        rows = hand.glyphs[char][0].ink.max(axis=1) > 0
        assert not rows.all()
    assert glyph_sheet(hand).size[0] > 10 * hand.cap_height


@needs_data
def test_layout_a_sheet() -> None:
    hand, report = learn_sheets([SHEETS / "didi.jpg"], "w2")
    assert report.sheets[0].layout == "A"
    assert len(hand.glyphs) == 62 and "Z" in hand.glyphs and "9" in hand.glyphs


@needs_data
def test_blank_template_reports_every_box_empty() -> None:
    with pytest.raises(UserInputError, match="layout B") as caught:
        learn_sheets([SHEETS / "handwrite_sample.pdf"], "blank")
    assert "empty boxes 80" in str(caught.value)


@needs_data
def test_a_photo_without_a_sheet_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="no template sheet found"):
        learn_sheets([HANDWRITING / "draw-your-font" / "hero.png"], "none")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(UserInputError, match="not an image"):
        learn_sheets([tmp_path / "notes.png"], "none")


def test_blank_os1_template_reports_every_box_empty(tmp_path: Path) -> None:
    make_template(tmp_path / "blank.pdf", paper="a4", variants=2)
    blank = load_pages(tmp_path / "blank.pdf")[0]
    Image.fromarray(_photograph(blank)).save(tmp_path / "blank.jpg", quality=90)
    with pytest.raises(UserInputError) as caught:
        learn_sheets([tmp_path / "blank.pdf", tmp_path / "blank.jpg"], "blank")
    message = str(caught.value)
    assert message.count("nothing read") == 3
    assert "OS1 template v1 a4 p2/2, nothing read; empty boxes 68" in message
    assert message.count("OS1 template v1 a4 p1/2, nothing read; empty boxes 90") == 2


@needs_data
def test_layout_c_and_its_continuation_page() -> None:
    hand, report = learn_sheets([SHEETS / "sheet1.png", SHEETS / "sheet2.png"], "c")
    assert [s.layout for s in report.sheets] == ["C", "C2"]
    assert report.sheets[1].read == "uvwxyz"
    assert len(hand.glyphs) == 62


@needs_data
def test_several_fills_give_variants_and_the_hand_saves_whole(tmp_path: Path) -> None:
    hand, report = learn_sheets([SHEETS / "sheet_new.jpg", SHEETS / "excellent.jpg"], "w1")
    assert len(report.sheets) == 2
    assert all(len(hand.variants(c)) == 2 for c in "AZaz09")
    root = tmp_path / "hands"
    save_hand(hand, root)
    again = load_hand("w1", root)
    assert again.chars == hand.chars and again.cap_height == hand.cap_height
    for char in "Ag?":
        for saved, loaded in zip(hand.variants(char), again.variants(char), strict=True):
            assert np.array_equal(saved.ink, loaded.ink) and saved.baseline == loaded.baseline
    assert list_hands(root) == ["w1"]
