"""OS1's metadata on an A2A message, under the key ``os1`` of ``Message.metadata``.

Other agents send none, which reads as a first-hand message (hop 0). An OS1 that relays a
message (a person asked it to consult a peer) sends ``hop`` one higher than the message it
relays, so chains of minds asking minds end after ``OS1_A2A_MAX_HOPS``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from os1.federation.errors import Refusal

KEY = "os1"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    #: How many minds relayed this message before it arrived (0: first hand).
    hop: int = Field(default=0, ge=0, le=1000)
    #: Who the sending mind speaks for, when that person allowed their name to be shared.
    on_behalf_of: str | None = Field(default=None, max_length=64)
    #: The sending mind's name.
    mind: str | None = Field(default=None, max_length=64)

    def relayed(self) -> Envelope:
        return self.model_copy(update={"hop": self.hop + 1})

    def to_metadata(self) -> dict[str, Any]:
        return {KEY: self.model_dump(exclude_none=True)}


def parse(metadata: dict[str, Any]) -> Envelope:
    """The envelope in a message's metadata; a malformed one is refused."""
    raw = metadata.get(KEY)
    if raw is None:
        return Envelope()
    if not isinstance(raw, dict):
        raise Refusal("invalid", f"metadata.{KEY} must be an object")
    try:
        return Envelope.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Refusal("invalid", f"metadata.{KEY}.{where}: {first['msg']}") from exc
