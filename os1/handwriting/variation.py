"""How a written page varies, so that no two instances of a letter are the same, yet all stay
the writer's.

Every random choice comes from one ``numpy.random.Generator(PCG64(seed))``, drawn in a fixed
order while the layout runs, so one seed gives the same pages (and byte-identical files) and
another seed gives other pages. With variation off, every style is neutral and nothing random is
drawn: the first variant of each character, no deformation, no jitter.

The levels, with their bounds (nothing is unbounded):

* **Glyph** (each instance): a variant of the character, never the one its last instance used
  when the hand has more than one; then a small affine change (scale by up to
  :data:`GLYPH_SCALE` in width and height apart, slant by up to :data:`GLYPH_SHEAR` degrees,
  turn by up to :data:`GLYPH_ROTATE` degrees), a smooth elastic warp that moves the ink by
  :data:`WARP_RMS` of the glyph's height (root mean square; at most :data:`GLYPH_WARP`), and a
  stroke weight change (a gamma on the ink coverage within :data:`GLYPH_GAMMA`).
  The affine change and the warp are each drawn in a random direction but with about the same
  strength every time (:data:`GLYPH_STRENGTH` of the bounds), so no instance comes out nearly
  as drawn and two rarely change alike; :mod:`os1.handwriting.distinct` draws again the few
  that do. :mod:`os1.handwriting.deform` applies the change.
* **Word** (uniform draws): the gap before it (:data:`WORD_SPACE` times the hand's space), a
  rise or fall of the baseline (:data:`WORD_RISE` of the type size), a size
  (:data:`WORD_SIZE`) and a slant (:data:`WORD_SLANT` degrees) shared by its letters.
* **Line** (uniform draws): the baseline's slope (:data:`LINE_SLOPE` degrees) and bow
  (:data:`LINE_BOW` of the type size at the middle of the line), a slant shared by the line
  (:data:`LINE_SLANT` degrees), and where the writer stops short of the right margin (up to
  :data:`LINE_END` inch).
* **Page**: a turn of the whole page (:data:`PAGE_ROTATE` degrees) and a left margin that
  creeps, line by line, a little inward (between 0 and :data:`MARGIN_CREEP` inch, by at most
  :data:`CREEP_STEP` inch a line).

The amounts were tuned on real sheets (W1, W2, W3) and the dkg and Breip fonts against the
benchmark's glyph distance: instances of a letter lie 0.012 or more apart (median about 0.026),
and about 0.021 from the hand's own glyph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

GLYPH_SCALE = 0.04
GLYPH_SHEAR = 3.0
GLYPH_ROTATE = 2.0
GLYPH_WARP = 0.04
GLYPH_GAMMA = (0.8, 1.25)
#: The typical share of each glyph bound used: every affine change has a root mean square of
#: this share of its bounds, times a factor within SHELL.
GLYPH_STRENGTH = 0.6
SHELL = (0.8, 1.0)
#: The elastic warp's root mean square displacement, in glyph heights (times a factor within
#: SHELL).
WARP_RMS = 0.022
#: The elastic warp's control grid (points a side); the field between them is smooth.
WARP_GRID = 4

WORD_SPACE = (0.8, 1.25)
WORD_RISE = 0.02
WORD_SIZE = 0.02
WORD_SLANT = 0.7

LINE_SLOPE = 0.3
LINE_BOW = 0.03
LINE_SLANT = 1.0
LINE_END = 0.12

PAGE_ROTATE = 0.2
MARGIN_CREEP = 0.12
CREEP_STEP = 0.03


@dataclass(frozen=True)
class GlyphStyle:
    """One instance's change. ``scale_x``/``scale_y`` multiply its size, ``shear`` slants it to
    the right and ``rotate`` turns it clockwise (degrees), ``warp`` is the elastic field's
    control points (shape ``(2, WARP_GRID, WARP_GRID)``, in units of the glyph's height) or
    None, and ``gamma`` raises the coverage to that power (below 1: bolder)."""

    scale_x: float = 1.0
    scale_y: float = 1.0
    shear: float = 0.0
    rotate: float = 0.0
    warp: np.ndarray | None = field(default=None, repr=False)
    gamma: float = 1.0


@dataclass(frozen=True)
class WordStyle:
    """``space`` multiplies the gap before the word, ``rise`` moves its baseline (in type sizes,
    down when positive), ``size`` multiplies its size and ``slant`` adds degrees of slant."""

    space: float = 1.0
    rise: float = 0.0
    size: float = 1.0
    slant: float = 0.0


@dataclass(frozen=True)
class LineStyle:
    """``slope`` (degrees, down to the right when positive) and ``bow`` (in type sizes, down at
    the middle when positive) bend the baseline; ``slant`` adds degrees of slant; ``end`` is how
    far (inch) short of the right margin the writer stops; ``creep`` (inch) moves the left
    margin inward."""

    slope: float = 0.0
    bow: float = 0.0
    slant: float = 0.0
    end: float = 0.0
    creep: float = 0.0


@dataclass(frozen=True)
class PageStyle:
    """``rotate``: degrees the whole page's writing is turned, clockwise when positive."""

    rotate: float = 0.0


class Variation:
    """The source of every style, for one letter: seeded, or neutral when ``enabled`` is off."""

    def __init__(self, seed: int, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self._last: dict[str, int] = {}
        self._creep = 0.0

    def _u(self, bound: float) -> float:
        return float(self._rng.uniform(-bound, bound))

    def pick(self, char: str, count: int) -> int:
        """Which of ``count`` variants of ``char`` to write: never the last one's twice."""
        if not self.enabled or count <= 1:
            return 0
        last = self._last.get(char)
        choices = [i for i in range(count) if i != last]
        index = int(choices[int(self._rng.integers(len(choices)))])
        self._last[char] = index
        return index

    def remember(self) -> dict[str, int]:
        """The variant memory, to :meth:`restore` when a word is made again on the next line."""
        return dict(self._last)

    def restore(self, memory: dict[str, int]) -> None:
        self._last = dict(memory)

    def glyph(self) -> GlyphStyle:
        """A change of about the same strength each time, in a random direction: no instance
        comes out (nearly) as drawn, and two rarely change alike."""
        if not self.enabled:
            return GlyphStyle()
        bounds = np.array([GLYPH_SCALE, GLYPH_SCALE, GLYPH_SHEAR, GLYPH_ROTATE])
        affine = np.clip(self._shell(4) * GLYPH_STRENGTH * bounds, -bounds, bounds)
        warp = self._shell(2 * WARP_GRID * WARP_GRID) * WARP_RMS
        return GlyphStyle(
            scale_x=1.0 + float(affine[0]),
            scale_y=1.0 + float(affine[1]),
            shear=float(affine[2]),
            rotate=float(affine[3]),
            warp=np.clip(warp, -GLYPH_WARP, GLYPH_WARP).reshape(2, WARP_GRID, WARP_GRID),
            gamma=float(np.exp(self._rng.uniform(*np.log(GLYPH_GAMMA)))),
        )

    def _shell(self, size: int) -> np.ndarray:
        """``size`` numbers in a random direction, their root mean square between
        :data:`SHELL` bounds."""
        vector = self._rng.standard_normal(size)
        radius = self._rng.uniform(*SHELL)
        return np.asarray(vector / np.sqrt(np.mean(vector**2)) * radius)

    def word(self) -> WordStyle:
        if not self.enabled:
            return WordStyle()
        return WordStyle(
            space=float(self._rng.uniform(*WORD_SPACE)),
            rise=self._u(WORD_RISE),
            size=1.0 + self._u(WORD_SIZE),
            slant=self._u(WORD_SLANT),
        )

    def line(self) -> LineStyle:
        if not self.enabled:
            return LineStyle()
        step = self._u(CREEP_STEP)
        self._creep = min(max(self._creep + step, 0.0), MARGIN_CREEP)
        return LineStyle(
            slope=self._u(LINE_SLOPE),
            bow=self._u(LINE_BOW),
            slant=self._u(LINE_SLANT),
            end=float(self._rng.uniform(0.0, LINE_END)),
            creep=self._creep,
        )

    def page(self) -> PageStyle:
        if not self.enabled:
            return PageStyle()
        return PageStyle(rotate=self._u(PAGE_ROTATE))

    @property
    def max_turn(self) -> float:
        """The largest page turn in degrees (0 with variation off)."""
        return PAGE_ROTATE if self.enabled else 0.0

    @property
    def max_slope(self) -> float:
        """The largest baseline slope in degrees, page turn included."""
        return PAGE_ROTATE + LINE_SLOPE if self.enabled else 0.0

    @property
    def max_rise(self) -> float:
        """The largest baseline bow plus word rise, in type sizes."""
        return LINE_BOW + WORD_RISE if self.enabled else 0.0

    @property
    def max_growth(self) -> float:
        """How much larger than drawn a glyph can come out (word size, glyph scale, warp)."""
        return (1 + WORD_SIZE) * (1 + GLYPH_SCALE) * (1 + 2 * GLYPH_WARP) if self.enabled else 1.0
