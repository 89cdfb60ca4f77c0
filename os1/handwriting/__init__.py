"""Handwriting: learn a client's hand from a photographed template sheet, write any text in it
(PNG, PDF, SVG, single-stroke SVG and G-code for pen plotters), and export it as a font.

Pure rendering: nothing here knows of the mind, memory or transports. The heavy libraries
(OpenCV, scikit-image, vpype) come with the ``hand`` extra: ``pip install 'os1[hand]'``.
"""

from __future__ import annotations

import importlib.util

from os1.errors import ConfigError

#: What the ``hand`` extra installs, by import name.
HAND_MODULES = (
    "cv2",
    "skimage",
    "PIL",
    "reportlab",
    "fontTools",
    "vpype",
    "pypdfium2",
    "bidi",
    "arabic_reshaper",
)


def need_hand_extra() -> None:
    """Raise ``ConfigError`` saying how to install the ``hand`` extra when it is missing."""
    for module in HAND_MODULES:
        if importlib.util.find_spec(module) is None:
            raise ConfigError(
                f"this needs the hand extra: pip install 'os1[hand]' (missing: {module})"
            )
