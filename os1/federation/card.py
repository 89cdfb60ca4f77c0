"""The Agent Card of a mind: who it is, where it listens, what it can do, how to authenticate."""

from __future__ import annotations

from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.constants import PROTOCOL_VERSION_1_0, TransportProtocol

from os1 import __version__
from os1.mind.persona import MindSpec

#: Where each mind's endpoints live, under the server's base URL.
JSONRPC_PATH = "/a2a/{mind}/jsonrpc"
REST_PATH = "/a2a/{mind}/rest"


def agent_card(spec: MindSpec, base_url: str, key: str) -> AgentCard:
    """The card of the mind ``spec``, known by ``key`` (its file's stem) in URLs."""
    base = base_url.rstrip("/")
    return AgentCard(
        name=spec.name,
        description=f"{_who(spec)} An OS1 mind; it keeps what people tell it to itself.",
        version=__version__,
        supported_interfaces=[
            AgentInterface(
                url=base + JSONRPC_PATH.format(mind=key),
                protocol_binding=TransportProtocol.JSONRPC,
                protocol_version=PROTOCOL_VERSION_1_0,
            ),
            AgentInterface(
                url=base + REST_PATH.format(mind=key),
                protocol_binding=TransportProtocol.HTTP_JSON,
                protocol_version=PROTOCOL_VERSION_1_0,
            ),
        ],
        capabilities=AgentCapabilities(streaming=True, push_notifications=False),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            AgentSkill(
                id="converse",
                name="Converse",
                description=(
                    f"Talk with {spec.name}: she remembers this peer's own conversations, and "
                    "shares about people only what they allowed."
                ),
                tags=["conversation", "companion"],
                examples=["What do you think makes a good day?"],
            )
        ],
        security_schemes={
            "bearer": SecurityScheme(
                http_auth_security_scheme=HTTPAuthSecurityScheme(
                    scheme="bearer",
                    bearer_format="os1peer token from `os1 peer token`",
                    description="A token this instance issued to the peer.",
                )
            )
        },
        security_requirements=[SecurityRequirement(schemes={"bearer": StringList()})],
    )


def _who(spec: MindSpec) -> str:
    """The mind's voice as a description of it, not as the instruction it is to the model:
    "You are Samantha, a warm ... companion." is told as "Samantha, a warm ... companion."."""
    first = (spec.short_voice or spec.voice).strip().split(". ")[0].strip().rstrip(".")
    if first.lower().startswith("you are "):
        first = first[len("you are ") :]
        first = first[:1].upper() + first[1:]
    return first + "."
