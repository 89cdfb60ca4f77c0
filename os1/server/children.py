"""Child processes that do not outlive their parent."""

from __future__ import annotations

import contextlib
import os
import sys

#: Linux's prctl option: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int) -> None:
    """Run in a child process as it starts: on Linux, it gets ``sig`` should ``parent`` die,
    even killed outright, so that nothing is left running without it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # it died before the line above took effect
            os._exit(1)
