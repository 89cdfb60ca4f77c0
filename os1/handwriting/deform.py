"""One glyph instance on the page: a hand's glyph scaled to the page's resolution and changed by
its :class:`~os1.handwriting.variation.GlyphStyle`, in one resampling.

The glyph turns and slants about the middle of its foot (where its ink meets the baseline), so
it stays on the line. The elastic warp is a displacement field interpolated smoothly (bicubic)
from a few random control points, applied with the affine change in a single ``cv2.remap``; a
glyph that shrinks is first reduced with area averaging, so thin strokes do not alias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from os1.handwriting.hand import Glyph
from os1.handwriting.variation import GlyphStyle

#: Pixels of empty border around the resampled glyph before it is cropped to its ink.
PAD = 3


@dataclass(frozen=True)
class Stamp:
    """A glyph instance ready to place: ``ink`` (coverage at page resolution, cropped to the
    ink) whose top-left corner lies ``ox``, ``oy`` pixels from the pen's point on the baseline,
    and the pen's ``advance`` to the next character, in page pixels."""

    ink: np.ndarray
    ox: int
    oy: int
    advance: float

    @property
    def width(self) -> int:
        return int(self.ink.shape[1])


def deform(glyph: Glyph, scale: float, style: GlyphStyle) -> Stamp:
    """``glyph`` at ``scale`` page pixels per hand pixel, changed by ``style``."""
    source, fx, fy = _reduced(glyph.ink, scale * min(style.scale_x, style.scale_y))
    forward = _forward(glyph, scale, style, fx, fy)
    height = glyph.height * scale * style.scale_y
    reach = height * (float(np.abs(style.warp).max()) if style.warp is not None else 0.0)
    ox, oy, width, rows = _canvas(forward, source.shape, reach)
    xs, ys = np.meshgrid(
        np.arange(width, dtype=np.float32) + ox, np.arange(rows, dtype=np.float32) + oy
    )
    if style.warp is not None:
        xs += _field(style.warp[0], width, rows) * height
        ys += _field(style.warp[1], width, rows) * height
    inverse = cv2.invertAffineTransform(forward)
    map_x = (inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]).astype(np.float32)
    map_y = (inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]).astype(np.float32)
    ink = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if style.gamma != 1.0:
        ink = _gamma(ink, style.gamma)
    ink, dx, dy = _crop(ink)
    return Stamp(ink, ox + dx, oy + dy, glyph.advance * scale * style.scale_x)


def _reduced(ink: np.ndarray, scale: float) -> tuple[np.ndarray, float, float]:
    """``ink`` area-averaged near to ``scale`` when that shrinks it, with the exact factors."""
    if scale >= 0.9:
        return ink, 1.0, 1.0
    height, width = ink.shape
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    return small, size[0] / width, size[1] / height


def _forward(glyph: Glyph, scale: float, style: GlyphStyle, fx: float, fy: float) -> np.ndarray:
    """The 2x3 affine map from a source pixel to page pixels relative to the pen point."""
    # Source pixel (u, v) -> hand pixels from the pen point: centres kept across the reduction.
    to_hand = np.array(
        [[1 / fx, 0, 0.5 / fx - 0.5 + glyph.left], [0, 1 / fy, 0.5 / fy - 0.5 - glyph.baseline]]
    )
    pivot = np.array([glyph.left + glyph.width / 2, 0.0])
    turn, slant = math.radians(style.rotate), math.radians(style.shear)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    shear = np.array([[1.0, -math.tan(slant)], [0.0, 1.0]])
    change = rotation @ shear @ np.diag([style.scale_x, style.scale_y])
    linear = scale * change @ to_hand[:, :2]
    offset = scale * (change @ (to_hand[:, 2] - pivot) + pivot)
    return np.column_stack([linear, offset])


def _canvas(forward: np.ndarray, shape: tuple[int, ...], reach: float) -> tuple[int, int, int, int]:
    """The page-pixel box (left, top, width, height) that holds the changed glyph."""
    rows, cols = shape[:2]
    corners = np.array([[-0.5, -0.5, 1], [cols - 0.5, -0.5, 1], [-0.5, rows - 0.5, 1]])
    corners = np.vstack([corners, [cols - 0.5, rows - 0.5, 1]])
    points = corners @ forward.T
    pad = PAD + math.ceil(reach)
    left, top = (math.floor(v) - pad for v in points.min(axis=0))
    right, bottom = (math.ceil(v) + pad for v in points.max(axis=0))
    return left, top, right - left + 1, bottom - top + 1


def _field(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """A smooth displacement field over ``width`` x ``height`` through the control points."""
    field = cv2.resize(points.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(field, dtype=np.float32)


def _gamma(ink: np.ndarray, gamma: float) -> np.ndarray:
    table = (255.0 * (np.arange(256) / 255.0) ** gamma).round().astype(np.uint8)
    return np.asarray(table[ink], dtype=np.uint8)


def _crop(ink: np.ndarray) -> tuple[np.ndarray, int, int]:
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    if rows.size == 0:
        return ink[:1, :1], 0, 0
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].copy(), int(cols[0]), int(rows[0])
