"""A written page: every glyph instance as placed, at page resolution. The layout makes pages;
the raster, vector and plotter writers only draw them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Paper sizes in points (1/72 inch).
PAPERS: dict[str, tuple[float, float]] = {"letter": (612.0, 792.0), "a4": (595.2756, 841.8898)}


@dataclass(frozen=True)
class Placed:
    """One instance of a character on a page: its (already varied) ink at page resolution,
    with the top-left corner of ``ink`` at page pixel (``x``, ``y``)."""

    char: str
    ink: np.ndarray = field(repr=False)
    x: int
    y: int
    line: int

    @property
    def w(self) -> int:
        return int(self.ink.shape[1])

    @property
    def h(self) -> int:
        return int(self.ink.shape[0])


@dataclass
class Page:
    """One sheet of paper, ``width`` x ``height`` pixels at ``dpi``."""

    width: int
    height: int
    dpi: int
    placed: list[Placed] = field(default_factory=list)
