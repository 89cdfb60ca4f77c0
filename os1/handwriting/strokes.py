"""A glyph's centre-line as pen strokes: what a pen plotter draws instead of the glyph's ink.

:func:`centerlines` turns a glyph's ink coverage into ordered, open polylines, step by step:

1. **Mask.** Blur the coverage a little (a Gaussian of about 1 px) and keep the pixels that are at
   least a quarter inked (a light pen's thin strokes fall apart at half); fill pinholes and drop
   specks, both sized from the glyph's height.
2. **Skeleton.** scikit-image's ``skeletonize`` thins every stroke to a one-pixel line.
3. **Graph.** Skeleton pixels with one neighbour are stroke ends, with three or more junctions
   (touching junction pixels count as one); the runs of pixels between them are the edges, and
   runs with no end at all are closed loops.
4. **Clean.** Spurs (a short edge from a junction to a free end, shorter than 8% of the glyph's
   height or about a stroke width, that is not an arm of a bar across a stroke, as in a ``t``
   or an ``f``: an arm that another edge carries on straight, from the same junction or from
   one a short step along the stroke, where a slanted bar crosses it) are pruned, and two
   junctions closer than a stroke width are joined, so that an ``x`` has one crossing rather
   than two forks.
5. **Strokes.** At each junction the edges that carry on with little turn are paired; following
   the pairs gives the strokes. Every stroke is open: a loop (an ``o``) is cut at its top.
6. **Simplify** each stroke with Douglas-Peucker (``skimage.measure.approximate_polygon``).

A **dot** (a part of the mask about as thick as it is long and solid, as the dot of an ``i`` or
a full stop: written as a blob or a tiny ring that the mask fills) thins to a pixel or two, a
stroke no pen draws to the dot's size. It becomes a small spiral instead, from its outline
(less half the pen) inward, so that the pen covers the dot as the writer's did.

So an ``o`` is one open stroke, an ``x`` two, an ``i`` a stem and a dot. Points are ``x, y`` in
the ink's pixels, pixel centres at ``.5``: add the glyph's position on the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
from skimage.measure import approximate_polygon
from skimage.morphology import skeletonize

#: A pixel is ink where its blurred coverage is at least this (of 255). A quarter keeps the
#: thin strokes of a light pen whole; half broke them into dots.
INK_THRESHOLD = 64
#: Spurs shorter than this share of the glyph's height are pruned...
SPUR_SHARE = 0.08
#: ...unless longer than this many stroke widths: a twig from the skeleton to a bump of the
#: outline is about half a stroke width long, one to a corner a little more.
TWIG = 1.5
#: Two edges at a junction are one stroke when the pen turns less than this (degrees).
MAX_TURN = 50.0
#: A short spur is kept when it carries another edge on with less turn than this (degrees).
STRAIGHT = 25.0
#: ...or another short spur with less turn than this: two short arms' headings are measured
#: from a junction that joining may have moved off the bar.
BAR = 35.0
#: Douglas-Peucker tolerance, in pixels.
TOLERANCE = 0.7
#: A part of the mask is a dot when it is at most this many times as long as it is thick...
DOT_ELONGATION = 2.0
#: ...and solid: its thickest point at least this share of its thickness (a ring is not).
DOT_SOLID = 0.6
#: The least radius of a dot's spiral, in pen widths (and one pixel): a dot smaller than the
#: pen still gets a stroke that a pen draws, not a point.
DOT_RADIUS = 0.2
#: Points of a dot's spiral per turn.
DOT_STEPS = 16

#: Paper added round the ink before thinning, so that no stroke touches the border.
_PAD = 2
# scikit-image has no type hints: name the two functions' types here, once.
_skeletonize: Callable[[np.ndarray], np.ndarray] = skeletonize
_approximate: Callable[[np.ndarray, float], np.ndarray] = approximate_polygon
_NEIGHBOURS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


def centerlines(
    ink: np.ndarray, *, tolerance: float = TOLERANCE, pen: float | None = None
) -> list[np.ndarray]:
    """The centre-line of a glyph's ink (uint8 coverage, 0 paper..255 ink) as open polylines,
    each an N x 2 float array of ``x, y`` in the ink's pixels, ordered left to right. ``pen``
    is the width of the pen that draws them, in the ink's pixels (default: the ink's own
    stroke width); it sizes the spirals of dots."""
    mask = _mask(ink)
    if not mask.any():
        return []
    skeleton = _skeletonize(mask)
    width = float(mask.sum()) / max(1.0, float(skeleton.sum()))
    dots, spirals = _dots(mask, width if pen is None else pen)
    graph = _Graph.from_skeleton(skeleton & ~dots)
    reach = max(2.0 * width, 4.0)
    graph.join_junctions(1.2 * width)
    graph.prune_spurs(max(SPUR_SHARE * ink.shape[0], 0.8 * width), 0.6 * width, reach, TWIG * width)
    graph.join_junctions(1.2 * width)
    strokes = graph.strokes(reach)
    paths = [_simplify(path - _PAD, tolerance) for path in strokes]
    paths += [spiral - _PAD for spiral in spirals]
    return sorted(paths, key=lambda p: (float(p[:, 0].min()), float(p[:, 1].min())))


def _mask(ink: np.ndarray) -> np.ndarray:
    """The ink as a boolean mask, smoothed, without pinholes or specks, with a margin of
    :data:`_PAD` pixels of paper all round."""
    padded = np.pad(ink.astype(np.uint8), _PAD)
    mask: np.ndarray = cv2.GaussianBlur(padded, (0, 0), 0.8) >= INK_THRESHOLD
    height = ink.shape[0]
    mask |= _small_parts(~mask, max(4, round((0.06 * height) ** 2)))
    specks = _small_parts(mask, max(2, round((0.04 * height) ** 2)))
    clean: np.ndarray = mask & ~specks
    return clean


def _small_parts(mask: np.ndarray, size: int) -> np.ndarray:
    """The 4-connected parts of ``mask`` of at most ``size`` pixels."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=4)
    small = np.flatnonzero(np.asarray(stats)[:, cv2.CC_STAT_AREA] <= size)
    parts: np.ndarray = np.isin(labels, small[small > 0]) & mask
    return parts


def _dots(mask: np.ndarray, pen: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The dots of ``mask`` (see the module) and a spiral for each."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    dots = np.zeros_like(mask)
    spirals = []
    for label in range(1, count):
        part = labels == label
        ys, xs = np.nonzero(part)
        points = np.column_stack([xs, ys]).astype(float) + 0.5
        spread = np.cov(points.T) if len(points) > 1 else np.zeros((2, 2))
        variances, directions = np.linalg.eigh(spread)
        # A solid ellipse with semi-axes a <= b has variances a^2/4 and b^2/4 along them (a
        # pixel's own spread, 1/12, is the least).
        thick, long = 2.0 * np.sqrt(np.maximum(variances, 1.0 / 12.0))
        if long > DOT_ELONGATION * thick or _thickest(part) < DOT_SOLID * thick:
            continue
        dots |= part
        least = max(DOT_RADIUS * pen, 1.0)
        radii = (max(thick - pen / 2, least), max(long - pen / 2, least))
        spirals.append(_spiral(points.mean(axis=0), directions, radii, pen))
    return dots, spirals


def _thickest(part: np.ndarray) -> float:
    """Half the width of ``part`` at its thickest: the largest distance inside it to paper."""
    inside = cv2.distanceTransform(np.pad(part, 1).astype(np.uint8), cv2.DIST_L2, 3)
    return float(inside.max())


def _spiral(
    centre: np.ndarray, directions: np.ndarray, radii: tuple[float, float], pen: float
) -> np.ndarray:
    """An open spiral round ``centre`` (semi-axes ``radii`` along the columns of
    ``directions``), anticlockwise from its top inward, turns a pen width or less apart, so
    that the pen fills the ellipse; it ends at the centre, a radius from where it began."""
    turns = max(1, int(np.ceil(max(radii) / pen)))
    angle = np.linspace(0.0, 2 * np.pi * turns, DOT_STEPS * turns + 1)
    shrink = 1.0 - angle / (2 * np.pi * turns)
    top = float(np.arctan2(-directions[1, 1] * radii[1], -directions[1, 0] * radii[0]))
    for way in (1.0, -1.0):
        turn = top + way * angle
        unit = np.column_stack([np.cos(turn), np.sin(turn)]) * shrink[:, None]
        path: np.ndarray = centre + (unit * radii) @ directions.T
        if path[1, 0] <= path[0, 0]:  # leaves the top leftward, as an ``o`` is written
            break
    return path


def _simplify(path: np.ndarray, tolerance: float) -> np.ndarray:
    if len(path) < 3:
        return path
    return np.asarray(_approximate(path, tolerance), dtype=float)


# -- the skeleton as a graph -----------------------------------------------------------------
@dataclass(eq=False)
class _Edge:
    """A run of skeleton pixels from node ``a`` to node ``b`` (x, y points, ``a`` first)."""

    a: int
    b: int
    points: np.ndarray

    @property
    def length(self) -> float:
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())


@dataclass
class _Graph:
    """Nodes (stroke ends and junctions, by position) and the edges between them; ``loops``
    are closed runs of pixels that touch no node."""

    nodes: list[np.ndarray]
    edges: list[_Edge]
    loops: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def from_skeleton(cls, skeleton: np.ndarray) -> _Graph:
        return _Tracer(skeleton).graph()

    def degree(self, node: int) -> int:
        return sum((e.a == node) + (e.b == node) for e in self.edges)

    def prune_spurs(self, shortest: float, arm: float, reach: float, twig: float) -> None:
        """Drop short edges from a junction to a free end, shortest first, a few rounds (a
        pruned spur can leave another behind). Kept are a short edge longer than ``twig``
        (longer than a twig to the outline could be: ink, as the one-sided bar of an ``f``),
        one longer than ``arm`` that is an arm of a bar across a stroke (:meth:`_bar_arm`; a
        shorter one is the twig to a corner of a thick stroke) and, at every junction, two
        edges at least (so a dot whose skeleton is a tiny star stays a short stroke)."""
        for _ in range(3):
            degrees = [self.degree(n) for n in range(len(self.nodes))]
            spurs = sorted(
                (e for e in self.edges if e.length < shortest and self._is_spur(e, degrees)),
                key=lambda e: e.length,
            )
            pruned: list[_Edge] = []
            for edge in spurs:
                junction = edge.a if degrees[edge.a] >= 3 else edge.b
                keep = edge.length > twig or (
                    edge.length > arm and self._bar_arm(edge, junction, spurs, reach, degrees)
                )
                if degrees[junction] > 2 and not keep:
                    degrees[junction] -= 1
                    pruned.append(edge)
            if not pruned:
                return
            self.edges = [e for e in self.edges if not any(e is p for p in pruned)]

    @staticmethod
    def _is_spur(edge: _Edge, degrees: list[int]) -> bool:
        low, high = sorted((degrees[edge.a], degrees[edge.b]))
        return low == 1 and high >= 3

    def _bar_arm(
        self, spur: _Edge, junction: int, spurs: list[_Edge], reach: float, degrees: list[int]
    ) -> bool:
        """Whether ``spur`` is one arm of a bar across a stroke (a ``t``'s, an ``f``'s, a
        ``+``'s): another edge carries it on almost straight, from ``junction`` or from a
        junction one short step along the crossed stroke (a slanted bar meets a thick stroke
        at two points, and one arm may be much shorter than the other). Two spurs in line at
        one junction with a single edge besides are no bar: they are the twigs to the corners
        of a thick stroke's blunt end; across a junction of four edges they are a short bar."""
        head = _heading_at(spur, junction, reach)
        tip = spur.points[-1] if spur.a == junction else spur.points[0]
        for node, step in self._near(junction, reach, degrees):
            # Across two junctions the arm's last pixels may run along the stroke's edge: its
            # direction from the tip to the far junction counts too.
            heads = [head] if step is None else [head, _unit(tip - self.nodes[node])]
            for edge, side in self._ends(node):
                if edge is spur or edge is step:
                    continue
                short = any(edge is s for s in spurs)
                if short and node == junction and degrees[junction] < 4:
                    continue
                out = _heading(edge, side, reach)
                if min(_turn(h, out) for h in heads) < (BAR if short else STRAIGHT):
                    return True
        return False

    def _near(
        self, junction: int, reach: float, degrees: list[int]
    ) -> list[tuple[int, _Edge | None]]:
        """``junction`` itself, and each junction joined to it by an edge shorter than
        ``reach``, with that edge."""
        near: list[tuple[int, _Edge | None]] = [(junction, None)]
        for edge in self.edges:
            if edge.a != edge.b and junction in (edge.a, edge.b) and edge.length < reach:
                other = edge.b if edge.a == junction else edge.a
                if degrees[other] >= 3:
                    near.append((other, edge))
        return near

    def _ends(self, node: int) -> list[tuple[_Edge, int]]:
        """The edges at ``node``, each with its side there (0 for its start, 1 for its end)."""
        return [(e, side) for e in self.edges for side, n in ((0, e.a), (1, e.b)) if n == node]

    def join_junctions(self, closest: float) -> None:
        """Merge junctions joined by an edge shorter than ``closest`` into one junction."""
        while True:
            short = next((e for e in self.edges if self._joinable(e, closest)), None)
            if short is None:
                return
            keep, gone = short.a, short.b
            self.nodes[keep] = (self.nodes[keep] + self.nodes[gone]) / 2
            self.edges.remove(short)
            for edge in self.edges:
                if edge.a == gone:
                    edge.a = keep
                if edge.b == gone:
                    edge.b = keep
                if edge.a == keep:
                    edge.points[0] = self.nodes[keep]
                if edge.b == keep:
                    edge.points[-1] = self.nodes[keep]
            self.edges = [
                e for e in self.edges if e.a != keep or e.b != keep or e.length >= closest
            ]

    def _joinable(self, edge: _Edge, closest: float) -> bool:
        return (
            edge.a != edge.b
            and edge.length < closest
            and self.degree(edge.a) >= 3
            and self.degree(edge.b) >= 3
        )

    def strokes(self, reach: float) -> list[np.ndarray]:
        """Follow the edges through the junctions where they carry on straight; every stroke
        comes out open."""
        pairs = _pair_ends(self, reach)
        used = [False] * len(self.edges)
        starts = [(i, s) for i, _ in enumerate(self.edges) for s in (0, 1)]
        # Open strokes first (from an end with no partner), then what is left: closed chains.
        order = [end for end in starts if end not in pairs] + starts
        paths = [_cut_open(loop) for loop in self.loops]
        for index, side in order:
            if not used[index]:
                paths.append(_cut_open(self._follow(index, side, pairs, used)))
        return [_oriented(p) for p in paths]

    def _follow(
        self, index: int, side: int, pairs: dict[tuple[int, int], tuple[int, int]], used: list[bool]
    ) -> np.ndarray:
        pieces: list[np.ndarray] = []
        while not used[index]:
            used[index] = True
            points = self.edges[index].points
            pieces.append(points if side == 0 else points[::-1])
            partner = pairs.get((index, 1 - side))
            if partner is None:
                break
            index, side = partner
        return np.concatenate([pieces[0], *(p[1:] for p in pieces[1:])])


def _pair_ends(graph: _Graph, reach: float) -> dict[tuple[int, int], tuple[int, int]]:
    """At every node, pair the edge ends (edge index, 0 for its start or 1 for its end) that
    continue one another: both ends at a node of degree two, the straightest pairs otherwise."""
    at: dict[int, list[tuple[int, int]]] = {}
    for i, edge in enumerate(graph.edges):
        at.setdefault(edge.a, []).append((i, 0))
        at.setdefault(edge.b, []).append((i, 1))
    pairs: dict[tuple[int, int], tuple[int, int]] = {}
    for ends in at.values():
        if len(ends) == 2:
            candidates = [(0.0, ends[0], ends[1])]
        else:
            heads = {end: _heading(graph.edges[end[0]], end[1], reach) for end in ends}
            candidates = sorted(
                (_turn(heads[p], heads[q]), p, q) for k, p in enumerate(ends) for q in ends[k + 1 :]
            )
        for turn, p, q in candidates:
            if turn < MAX_TURN and p not in pairs and q not in pairs:
                pairs[p], pairs[q] = q, p
    return pairs


def _heading_at(edge: _Edge, node: int, reach: float) -> np.ndarray:
    """:func:`_heading` of ``edge`` from its end at ``node``."""
    return _heading(edge, 0 if edge.a == node else 1, reach)


def _heading(edge: _Edge, side: int, reach: float) -> np.ndarray:
    """The unit direction in which the edge leaves its node at ``side``, over ``reach`` px."""
    points = edge.points if side == 0 else edge.points[::-1]
    steps = np.linalg.norm(points - points[0], axis=1)
    far = int(np.argmax(steps >= reach)) if (steps >= reach).any() else len(points) - 1
    return _unit(points[far] - points[0])


def _unit(vector: np.ndarray) -> np.ndarray:
    return np.asarray(vector / max(1e-9, float(np.linalg.norm(vector))))


def _turn(out_p: np.ndarray, out_q: np.ndarray) -> float:
    """How far (degrees) the pen turns coming in along one edge and leaving along the other."""
    cosine = float(np.clip(np.dot(-out_p, out_q), -1.0, 1.0))
    return float(np.degrees(np.arccos(cosine)))


def _cut_open(path: np.ndarray) -> np.ndarray:
    """A path that ends where it began loses its last point (the pen lifts one pixel early)."""
    if len(path) > 2 and np.allclose(path[0], path[-1]):
        return path[:-1]
    return path


def _oriented(path: np.ndarray) -> np.ndarray:
    """Start a stroke at its upper-left end, as a writer would."""
    if path[-1].sum() < path[0].sum():
        return path[::-1].copy()
    return path


# -- tracing the skeleton pixels -------------------------------------------------------------
class _Tracer:
    """Walks a one-pixel skeleton into nodes, edges and loops."""

    def __init__(self, skeleton: np.ndarray) -> None:
        self.skel = np.pad(skeleton.astype(bool), 1)
        self.links = {p: self._neighbours(p) for p in zip(*np.nonzero(self.skel), strict=True)}
        self.node_of: dict[tuple[int, int], int] = {}
        self.nodes: list[np.ndarray] = []

    def _neighbours(self, p: tuple[int, int]) -> list[tuple[int, int]]:
        """8-connected neighbours, minus diagonal steps that a 4-connected pair already makes
        (so a staircase corner is not a junction)."""
        r, c = int(p[0]), int(p[1])
        out = []
        for dr, dc in _NEIGHBOURS:
            if not self.skel[r + dr, c + dc]:
                continue
            if dr and dc and (self.skel[r + dr, c] or self.skel[r, c + dc]):
                continue
            out.append((r + dr, c + dc))
        return out

    def graph(self) -> _Graph:
        self._find_nodes()
        edges, seen = self._trace_edges()
        loops = self._trace_loops(seen)
        return _Graph(self.nodes, edges, loops)

    def _find_nodes(self) -> None:
        """Ends and junctions; touching junction pixels make one node at their centroid."""
        for p, links in self.links.items():
            if p in self.node_of or len(links) == 2:
                continue
            cluster, todo = [p], [p]
            self.node_of[p] = len(self.nodes)
            while todo and len(links) > 2:
                for q in self.links[todo.pop()]:
                    if q not in self.node_of and len(self.links[q]) > 2:
                        self.node_of[q] = len(self.nodes)
                        cluster.append(q)
                        todo.append(q)
            self.nodes.append(np.mean([self._xy(q) for q in cluster], axis=0))

    def _trace_edges(self) -> tuple[list[_Edge], set[tuple[int, int]]]:
        edges: list[_Edge] = []
        seen: set[tuple[int, int]] = set()
        steps: set[tuple[tuple[int, int], tuple[int, int]]] = set()
        for p, node in self.node_of.items():
            if not self.links[p]:  # a lone pixel: a dot
                dot = self._xy(p) + np.array([[-0.5, 0.0], [0.5, 0.0]])
                edges.append(_Edge(node, node, dot))
            for q in self.links[p]:
                if (p, q) in steps or self.node_of.get(q) == node:
                    continue
                run = self._walk(p, q)
                steps.update({(p, q), (run[-1], run[-2])})
                seen.update(run)
                end = self.node_of[run[-1]]
                points = np.array([self.nodes[node], *map(self._xy, run[1:-1]), self.nodes[end]])
                edges.append(_Edge(node, end, points))
        return edges, seen

    def _walk(self, p: tuple[int, int], q: tuple[int, int]) -> list[tuple[int, int]]:
        run = [p, q]
        while q not in self.node_of:
            nxt = next(n for n in self.links[q] if n != run[-2])
            run.append(nxt)
            q = nxt
        return run

    def _trace_loops(self, seen: set[tuple[int, int]]) -> list[np.ndarray]:
        """Closed runs that touch no node, each started at its top pixel."""
        loops = []
        for p in sorted(self.links):  # row-major: the first unseen pixel is a loop's top
            if p in seen or p in self.node_of:
                continue
            run = [p, self.links[p][0]]
            while run[-1] != p:
                run.append(next(n for n in self.links[run[-1]] if n != run[-2]))
            seen.update(run)
            loops.append(np.array([self._xy(q) for q in run[:-1]]))
        return loops

    @staticmethod
    def _xy(p: tuple[int, int]) -> np.ndarray:
        """Pixel (row, col) of the padded skeleton to the x, y of its centre in the ink."""
        return np.array([p[1] - 1 + 0.5, p[0] - 1 + 0.5])
