"""Where the handwriting tests find their material: the shared data folder (real sheets and a
hand-drawn font; never copied into the repository) and the Debian handwriting fonts."""

from __future__ import annotations

import os
from pathlib import Path


def _shared_data() -> Path:
    """``OS1_SHARED_DATA`` if set, else ``shared/data`` beside the repository, else the
    development machines' ``/work/shared/data`` (for a clone made elsewhere)."""
    env = os.environ.get("OS1_SHARED_DATA")
    if env:
        return Path(env)
    beside = Path(__file__).resolve().parents[2] / "shared" / "data"
    fallback = Path("/work/shared/data")
    return beside if beside.is_dir() or not fallback.is_dir() else fallback


HANDWRITING = _shared_data() / "handwriting"
SHEETS = HANDWRITING / "builtree-handwrite"
#: Debian's fonts-dkg-handwriting and fonts-breip (``scripts/system-packages`` installs them).
DKG = Path("/usr/share/fonts/truetype/fifthhorseman/dkg.ttf")
BREIP = Path("/usr/share/fonts/truetype/breip/Breip.ttf")
