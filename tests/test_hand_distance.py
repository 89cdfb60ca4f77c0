"""The glyph distance: zero for the same shape, blind to position and size, larger for another
letter, symmetric, and a clear error for a glyph without ink."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest
from fixtures_hand import DKG, SHEETS

from os1.errors import UserInputError
from os1.handwriting.distance import SIDE, glyph_distance, normalize, skeleton_distance
from os1.handwriting.fromfont import hand_from_font
from os1.handwriting.hand import Hand

pytestmark = pytest.mark.skipif(not DKG.is_file(), reason="needs fonts-dkg-handwriting")


@cache
def _hand() -> Hand:
    return hand_from_font(DKG, chars="aegosxAHR")


def ink(char: str) -> np.ndarray:
    return _hand().variants(char)[0].ink


def test_normalize_gives_a_thin_skeleton_on_the_square() -> None:
    skeleton = normalize(ink("o"))
    assert skeleton.shape == (SIDE, SIDE)
    assert skeleton.dtype == bool
    # A ring's centre line: a few hundred pixels at most, and none in the middle of the "o".
    assert 60 < skeleton.sum() < 400
    assert not skeleton[28:36, 28:36].any()


def test_a_glyph_is_at_distance_zero_from_itself() -> None:
    assert glyph_distance(ink("a"), ink("a")) == 0.0


def test_position_and_size_drop_out() -> None:
    a = ink("a")
    shifted = np.pad(a, ((17, 3), (5, 40)))
    bigger = cv2.resize(a, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    smaller = cv2.resize(a, None, fx=0.7, fy=0.7, interpolation=cv2.INTER_AREA)
    assert glyph_distance(a, shifted) == 0.0
    # Resampling moves the centre line by a fraction of a pixel, not more.
    assert glyph_distance(a, bigger) < 0.015
    assert glyph_distance(a, smaller) < 0.015


def test_another_letter_is_clearly_farther() -> None:
    a = ink("a")
    bigger = cv2.resize(a, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
    near = glyph_distance(a, bigger)
    for other in "xsR":
        far = glyph_distance(a, ink(other))
        assert far > 0.04
        assert far > 5 * near


def test_distance_is_symmetric() -> None:
    pairs = [("a", "g"), ("o", "e"), ("A", "R")]
    for x, y in pairs:
        assert glyph_distance(ink(x), ink(y)) == pytest.approx(glyph_distance(ink(y), ink(x)))


def test_skeleton_distance_matches_glyph_distance() -> None:
    a, e = ink("a"), ink("e")
    assert skeleton_distance(normalize(a), normalize(e)) == glyph_distance(a, e)


def test_faint_ink_below_the_threshold_is_paper() -> None:
    a = ink("a")
    with_smudge = np.pad(a, ((0, 0), (0, 60)))
    with_smudge[:, -20:] = 100  # a grey smudge, below coverage 128
    assert glyph_distance(a, with_smudge) == 0.0


def test_a_blank_glyph_is_a_clear_error() -> None:
    with pytest.raises(UserInputError, match="no ink"):
        normalize(np.zeros((40, 30), dtype=np.uint8))
    with pytest.raises(UserInputError, match="no ink"):
        glyph_distance(ink("a"), np.full((40, 30), 60, dtype=np.uint8))


def test_a_glyph_must_be_two_dimensional() -> None:
    with pytest.raises(UserInputError, match="2-D"):
        normalize(np.zeros((4, 4, 3), dtype=np.uint8))


@pytest.mark.skipif(not SHEETS.is_dir(), reason="needs the shared handwriting data")
def test_real_sheets_same_ink_is_near_and_another_writer_far() -> None:
    """Two captures of one filled sheet (W1) against another writer's sheet (W2): the issue
    measured about 0.008 for the same ink and 0.050 for two writers."""
    from os1.handwriting.capture import learn_sheets

    hands = {f: learn_sheets([SHEETS / f], "w")[0] for f in ("sheet_new.jpg", "no_filter.jpg")}
    hands["didi.jpg"] = learn_sheets([SHEETS / "didi.jpg"], "w")[0]

    def mean(a: str, b: str) -> float:
        ga, gb = hands[a].glyphs, hands[b].glyphs
        common = [c for c in ga if c in gb and c.isalnum()]
        assert len(common) >= 50
        return float(np.mean([glyph_distance(ga[c][0].ink, gb[c][0].ink) for c in common]))

    same_ink = mean("sheet_new.jpg", "no_filter.jpg")
    writers = mean("sheet_new.jpg", "didi.jpg")
    assert same_ink < 0.02
    assert writers > 0.04
    assert mean("didi.jpg", "sheet_new.jpg") == pytest.approx(writers)
