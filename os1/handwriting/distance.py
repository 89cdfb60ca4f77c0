"""How far apart two glyphs are in shape: the glyph distance that the handwriting benchmark
uses for fidelity (does a written letter look like the writer's own?) and naturalness (do two
instances of one letter differ as a real writer's do?).

The measure, step by step:

1. **Binarize.** A pixel is ink where its coverage is at least :data:`INK_THRESHOLD` (128 of
   255: at least half inked). A fixed level, not Otsu, so that a faint glyph is not stretched
   to look like a bold one.
2. **Crop and pad.** Crop to the bounding box of the ink and pad the shorter side equally on
   both ends to a square, so the glyph keeps its proportions ("l" stays a thin upright line).
3. **Resize** the square to :data:`SIDE` x :data:`SIDE` (64 x 64) pixels. The mask is resized
   as a coverage (area average when shrinking, bilinear when enlarging) and a cell is ink where
   at least :data:`CELL_THRESHOLD` of it is, so a thin pen line on a large glyph survives the
   shrinking as a connected one-pixel line rather than breaking into dots.
4. **Skeletonize** with scikit-image: every stroke becomes a one-pixel centre line, so pen
   width and ink density drop out.
5. **Chamfer distance.** For each skeleton pixel of one glyph, the Euclidean distance to the
   nearest skeleton pixel of the other (a distance transform); the mean over the pixels of each
   glyph gives two directed means, and the distance is their average (so it is symmetric). It
   is divided by 64: 0.0 is the same shape, and 0.05 means the centre lines lie about 3.2
   pixels of 64 apart on average.

Position and size drop out (steps 2-3); shape, proportions and slant stay. Reference values on
real template sheets (issue 7): the same ink photographed twice about 0.008, two fills by one
writer about 0.036, two different writers about 0.050. On the builtree sheets, learned with
:mod:`os1.handwriting.capture` and averaged over the letters and digits both sheets have, this
code gives 0.007-0.010 between the three captures of W1's sheet, 0.050-0.051 from them to
``sheet1.png`` (probably W1, a low-resolution photo), and 0.056-0.059 between writers W1, W2
and W3. Resampling alone costs a little: one glyph rasterized at 40 and at 200 pixels per em
lies about 0.01 from itself.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from scipy.ndimage import distance_transform_edt
from skimage.morphology import skeletonize

from os1.errors import UserInputError

#: scikit-image's thinning, typed (scikit-image ships no type hints).
_skeletonize: Callable[[np.ndarray], np.ndarray] = skeletonize
#: The side of the square every glyph is resized to; distances are in units of this side.
SIDE = 64
#: Coverage (0 paper .. 255 full ink) from which a pixel counts as ink.
INK_THRESHOLD = 128
#: After resizing, the share of a 64 x 64 cell that must be ink for the cell to be ink.
CELL_THRESHOLD = 0.25


def reach(free: np.ndarray) -> np.ndarray:
    """Each pixel's exact Euclidean distance to the nearest zero of ``free`` (uint8), float32.

    OpenCV's precise distance transform is fast, but its last bit can differ from one call to
    the next on the same input (seen with OpenCV 5.0.0, depending on what ran before), and a
    decision against a threshold can then flip, so the same seed would not always give the same
    letter. Its values lie within a few millionths of the square root of a whole number (the
    squared distance in pixels), so that whole number is recovered and its root taken again:
    the same bits every time."""
    approx = cv2.distanceTransform(free, cv2.DIST_L2, cv2.DIST_MASK_PRECISE).astype(np.float64)
    return np.sqrt(np.rint(approx * approx)).astype(np.float32)


def normalize(ink: np.ndarray) -> np.ndarray:
    """The glyph's skeleton on a 64 x 64 square: a boolean array, True on the centre line.

    ``ink`` is a 2-D coverage array (0 paper .. 255 ink), as in ``Glyph.ink`` and
    ``Placed.ink``; a boolean array is taken as ink where True. Raises ``UserInputError`` when
    the glyph has no ink (no pixel at or above :data:`INK_THRESHOLD`).
    """
    mask = _mask(ink)
    square = _square(_crop(mask))
    small = _resize(square)
    skeleton = _skeletonize(small)
    # A blob too small to thin (a full stop on a tiny sample) keeps its resized mask.
    return skeleton if skeleton.any() else small


def glyph_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The symmetric mean chamfer distance between the skeletons of glyphs ``a`` and ``b`` (ink
    coverage arrays), in units of the 64-pixel side: 0.0 for the same shape."""
    return skeleton_distance(normalize(a), normalize(b))


def skeleton_distance(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`glyph_distance` between two skeletons already made by :func:`normalize`; use it
    to compare many pairs without normalizing a glyph more than once."""
    if not a.any() or not b.any():
        raise UserInputError("a glyph skeleton with no ink pixel has no distance to anything")
    return (_directed(a, b) + _directed(b, a)) / 2.0 / SIDE


def _directed(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance, in pixels, from each pixel of ``a`` to the nearest pixel of ``b``."""
    to_b = distance_transform_edt(~b)
    return float(to_b[a].mean())


def _mask(ink: np.ndarray) -> np.ndarray:
    array = np.asarray(ink)
    if array.ndim != 2:
        raise UserInputError(f"a glyph is a 2-D array of ink coverage, not shape {array.shape}")
    mask = array if array.dtype == bool else array >= INK_THRESHOLD
    if not mask.any():
        raise UserInputError(
            f"the glyph has no ink (no pixel with coverage >= {INK_THRESHOLD} of 255)"
        )
    return mask


def _crop(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _square(mask: np.ndarray) -> np.ndarray:
    height, width = mask.shape
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side), dtype=bool)
    square[top : top + height, left : left + width] = mask
    return square


def _resize(square: np.ndarray) -> np.ndarray:
    shrink = square.shape[0] >= SIDE
    method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    cover = cv2.resize(square.astype(np.float32), (SIDE, SIDE), interpolation=method)
    return np.asarray(cover >= CELL_THRESHOLD, dtype=bool)
