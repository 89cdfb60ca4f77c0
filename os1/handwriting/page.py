"""A written page: every glyph instance as placed, at page resolution. The layout makes pages;
the raster, vector and plotter writers only draw them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from os1.errors import UserInputError

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


def check_output(path: Path) -> None:
    """Refuse ``path`` as a file to write, before any work is done, when it is a folder or lies
    under a file; missing folders above it are fine (:func:`make_parent` makes them)."""
    if path.is_dir():
        raise UserInputError(f"{path} is a folder, not a file to write")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserInputError(f"cannot write {path}: {parent} is a file, not a folder")
            return


def make_parent(path: Path) -> None:
    """Make the folders above ``path`` that are missing, once :func:`check_output` allows it."""
    check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
