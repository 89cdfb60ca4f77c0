"""Keeping the instances of a character apart, so that no two on a letter look copied.

Random changes now and then come out alike. :class:`Distinct` remembers the shape of every
instance written so far (its skeleton, as :mod:`os1.handwriting.distance` measures glyphs) and
tells how near a new one comes to the nearest earlier instance of its character; the layout
draws another change when that is below :data:`FLOOR` (:data:`TRIES` draws at most, keeping the
farthest). Comparisons are vectorized over the last :data:`WINDOW` instances of the character:
more than a page holds of any one letter, and a bound that keeps a long letter's layout linear
in its length (comparing with every earlier instance made it grow with the square).

A letter on the page is also touched by its neighbours' ink, and that can make two instances
that differ look alike; so the layout measures every letter of a word again as it will be
written (:func:`overlay`) and makes the word again while one comes nearer than
:data:`WRITTEN_FLOOR` to an earlier instance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from os1.handwriting.distance import SIDE, normalize, reach

#: The least glyph distance wanted between two instances of one character: the least pair
#: distance the benchmark allows (0.010) with a margin. The spread of the pairs (p10 0.015 and
#: up) comes from the strength of the changes, not from this floor: set at 0.015, it made a new
#: instance, measured against up to WINDOW earlier ones, fail nearly every first draw in a
#: long letter (the nearest of 48 random changes lies nearer than their p10).
FLOOR = 0.012
#: How many changes to draw at most for one instance.
TRIES = 8
#: How many of a character's latest instances a new one is kept apart from.
WINDOW = 48
#: The least glyph distance wanted between two instances as written, each with the ink of the
#: letters that touch it (what a reader, and the benchmark, cut from the page): a word that
#: comes out nearer is made again.
WRITTEN_FLOOR = 0.012
#: How many times to make a word at most.
REMAKES = 4


@dataclass(frozen=True)
class Shape:
    """An instance's skeleton and its distance transform (pixels to the nearest skeleton
    pixel), both ``SIDE`` x ``SIDE``."""

    skeleton: np.ndarray
    reach: np.ndarray


def shape(ink: np.ndarray) -> Shape | None:
    """The shape of ``ink``, or None for an instance too faint to measure."""
    if int(ink.max(initial=0)) < 128:
        return None
    skeleton = normalize(ink)
    free = np.where(skeleton, 0, 1).astype(np.uint8)
    return Shape(skeleton, reach(free))


def overlay(
    ink: np.ndarray, at: tuple[int, int], other: np.ndarray, other_at: tuple[int, int]
) -> np.ndarray:
    """``ink`` (its top-left corner at ``at``, x and y) with the ink of ``other`` (at
    ``other_at``) where that reaches into ``ink``'s own strokes, the darker winning: the
    letter as it shows on the page beside ``other``. ``ink`` itself when they do not touch."""
    (x, y), (ox, oy) = at, other_at
    h, w = ink.shape
    oh, ow = other.shape
    x0, y0 = max(x, ox), max(y, oy)
    x1, y1 = min(x + w, ox + ow), min(y + h, oy + oh)
    if x1 <= x0 or y1 <= y0:
        return ink
    mine = ink[y0 - y : y1 - y, x0 - x : x1 - x]
    theirs = other[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    if not (theirs > mine).any():
        return ink
    out = ink.copy()
    out[y0 - y : y1 - y, x0 - x : x1 - x] = np.where(mine > 0, np.maximum(mine, theirs), 0)
    return out


class Distinct:
    """The shapes written so far, by character."""

    def __init__(self) -> None:
        self._shapes: dict[str, _Shelf] = {}

    def nearest(self, char: str, new: Shape | None, pending: list[Shape] | None = None) -> float:
        """The glyph distance from ``new`` to the nearest earlier instance of ``char`` (and to
        the ``pending`` ones, not yet added); infinite when there is none."""
        if new is None:
            return float("inf")
        shelf = self._shapes.get(char)
        near = shelf.nearest(new) if shelf else float("inf")
        for other in (pending or [])[-WINDOW:]:  # as far back as the shelf looks
            near = min(near, _distance(new, other))
        return near

    def add(self, char: str, new: Shape | None) -> None:
        if new is not None:
            self._shapes.setdefault(char, _Shelf()).add(new)


class _Shelf:
    """The last :data:`WINDOW` shapes of one character, in a ring: distance transforms stacked
    in an array, and each skeleton as the flat indices of its pixels."""

    def __init__(self) -> None:
        self.count = 0
        self.added = 0
        self.reaches = np.zeros((WINDOW, SIDE * SIDE), np.float32)
        self.pixels: list[np.ndarray] = [np.zeros(0, np.intp)] * WINDOW
        self._index: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, new: Shape) -> None:
        slot = self.added % WINDOW
        self.reaches[slot] = new.reach.ravel()
        self.pixels[slot] = np.flatnonzero(new.skeleton)
        self.added += 1
        self.count = min(self.added, WINDOW)
        self._index = None

    def nearest(self, new: Shape) -> float:
        to_old = self.reaches[: self.count][:, np.flatnonzero(new.skeleton)].mean(axis=1)
        pixels, owners, counts = self.index()
        sums = np.bincount(owners, weights=new.reach.ravel()[pixels], minlength=self.count)
        return float(((to_old + sums / counts) / 2 / SIDE).min())

    def index(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every skeleton pixel of every shape, which shape it belongs to, and the counts."""
        if self._index is None:
            held = self.pixels[: self.count]
            counts = np.array([len(p) for p in held])
            owners = np.repeat(np.arange(self.count), counts)
            self._index = (np.concatenate(held), owners, np.maximum(counts, 1))
        return self._index


def _distance(a: Shape, b: Shape) -> float:
    there = float(b.reach[a.skeleton].mean())
    back = float(a.reach[b.skeleton].mean())
    return (there + back) / 2 / SIDE
