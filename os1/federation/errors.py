"""Federation's errors, on OS1's tree (``os1.errors``).

OS1Error
├── PeerError           talking with a peer failed (exit code 4)
│   ├── PeerUnreachable no answer: connection, timeout, HTTP status, not an A2A agent
│   └── PeerRefused     the peer answered with an A2A error (auth, budget, rate, size)
└── Refusal             this instance refuses a peer's message (mapped to an A2A error
                        in ``os1.server.a2a``, the one place that does)
"""

from __future__ import annotations

from typing import Literal

from os1.errors import OS1Error

RefusalKind = Literal["invalid", "too_long", "hops", "duplicate", "rate", "budget"]


class PeerError(OS1Error):
    exit_code = 4


class PeerUnreachable(PeerError):
    pass


class PeerRefused(PeerError):
    pass


class Refusal(OS1Error):
    """A peer's message is refused before the mind sees it; ``kind`` says why."""

    exit_code = 2

    def __init__(self, kind: RefusalKind, message: str, retry_after: int | None = None) -> None:
        self.kind = kind
        self.retry_after = retry_after
        super().__init__(message)
