"""Pydantic models for every payload the server reads or writes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_serializer,
)

from os1.memory.models import Role
from os1.memory.validation import MAX_FACT_VALUE, is_valid_unicode

#: The longest text the schema admits. The configured OS1_MAX_MESSAGE_CHARS is checked in the
#: core; over HTTP a message is never longer than this either, so that any schema-valid request
#: fits in the default body limit.
MAX_TEXT = 32_000


def _unicode(value: str) -> str:
    if not is_valid_unicode(value):
        raise ValueError("not valid Unicode (lone surrogates)")
    return value


#: A string that can be stored: valid Unicode, no lone surrogates.
Text = Annotated[str, AfterValidator(_unicode)]

#: A message: at least one visible character, and no NUL characters.
SAYS_SOMETHING = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"
#: Printable text with at least one visible character.
_CONTROL = r"\u0000-\u001f\u007f-\u009f"
PRINTABLE = rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$"
#: A peer's name as ``os1 peer add`` takes it.
PEER_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
#: A conversation id in a header, or nothing.
CONVERSATION_ID = r"^([1-9][0-9]{0,17})?$"


def _token_count(value: object) -> int:
    """A whole number from 1 to 32,768; JSON Schema's integers include ``3.0``, not ``true``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("must be a whole number")
    if not 1 <= value <= 32_768:
        raise ValueError("must be from 1 to 32768")
    return int(value)


TokenCount = Annotated[
    int,
    PlainValidator(_token_count),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 32_768}),
]


class Out(BaseModel):
    """A response body read off a core dataclass, field by field of the same name."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, value: object) -> Self:
        return cls.model_validate(value)


class Strict(BaseModel):
    """A request body: no unknown fields, no type coercion (``true`` is not a number), and no
    NaN or infinity for a number (JSON has neither; Python's parser takes both)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


# -- native API ---------------------------------------------------------------------------
class ConversationOut(Out):
    id: int
    started_at: datetime
    source: str
    label: str | None


class ConversationCreate(Strict):
    label: Text | None = Field(default=None, min_length=1, max_length=200, pattern=SAYS_SOMETHING)


class MessageIn(Strict):
    content: Text = Field(min_length=1, max_length=MAX_TEXT, pattern=SAYS_SOMETHING)


class ReplyOut(BaseModel):
    conversation_id: int
    reply: str


class TurnOut(Out):
    id: int
    conversation_id: int
    role: Literal["user", "assistant"]
    speaker: str | None
    content: str
    time: datetime
    source_id: str


class ConversationDetail(ConversationOut):
    turns: list[TurnOut]


class MemoryEdit(Strict):
    content: Text = Field(min_length=1, max_length=MAX_TEXT, pattern=SAYS_SOMETHING)


class RecallOut(Out):
    """Same shape as ``os1 recall --json``."""

    id: str
    text: str
    time: datetime
    score: float
    source_ids: list[str]
    role: Role = Field(description="Who said it in the conversation: the person or the mind")
    speaker: str | None = Field(
        description="The speaker's name as imported (`os1 import`), when one was given"
    )

    @field_serializer("time")
    def _iso(self, time: datetime) -> str:
        return time.isoformat()  # exactly as the command line writes it


class FactOut(Out):
    """A fact and, for one that ended, when, why, and which fact replaced it."""

    id: int
    kind: str
    key: str
    value: str
    source_turn_ids: list[int]
    created_at: datetime
    superseded_at: datetime | None
    ended_reason: Literal["updated", "superseded", "retracted", "corrected"] | None
    replaced_by: int | None
    current: bool


class ProfileOut(BaseModel):
    profile: str | None
    updated_at: datetime | None


class StatusOut(BaseModel):
    conversations_in_progress: int
    people_talking: int
    replies_in_flight: int
    mind: str
    brain: str


class Load(BaseModel):
    """What this worker is doing now, and how much embedding work it has shed since it started."""

    worker: int = Field(description="This worker's process id (`os1 up --workers N` runs N)")
    replies_in_flight: int = Field(description="Replies being written now")
    model_in_use: int = Field(description="Calls to the language model in progress")
    model_waiting: int = Field(description="Calls waiting for the language model")
    preparing_waiting: int = Field(description="Turns waiting to be prepared (recall, prompt)")
    embedding_pending: int = Field(description="New turns waiting for their embedding")
    embedding_dropped: int = Field(
        description="Turns dropped from the embedding queue (found by their words until reindexed)"
    )
    questions_embedded: int = Field(description="Questions recalled with their vector")
    questions_by_words: int = Field(
        description="Questions recalled by their words alone, the embedder being too busy"
    )
    turns_reusing_question_vectors: int = Field(
        description="Turns that took the vector their words got as a question"
    )


class Health(BaseModel):
    status: Literal["ok"]
    load: Load


class Deleted(BaseModel):
    deleted: bool = True


class Cancelled(BaseModel):
    cancelled: bool


# -- people and tokens (admin) -------------------------------------------------------------


def _printable(value: str) -> str:
    """The schema's pattern says it; this makes sure of it, whatever the regex engine."""
    if not re.fullmatch(PRINTABLE, value):
        raise ValueError("must be printable text with no control characters")
    return value


class FactEdit(Strict):
    value: Annotated[Text, AfterValidator(_printable)] = Field(
        min_length=1, max_length=MAX_FACT_VALUE, pattern=PRINTABLE
    )


class PersonCreate(Strict):
    name: Annotated[Text, AfterValidator(_printable)] = Field(
        min_length=1, max_length=64, pattern=PRINTABLE
    )
    expires_in_days: float | None = Field(default=None, gt=0, le=36_500)


class TokenCreate(Strict):
    expires_in_days: float | None = Field(default=None, gt=0, le=36_500)


class TokenOut(Out):
    id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None


class NewToken(BaseModel):
    person: str
    token: str


class PersonOut(BaseModel):
    name: str
    created_at: datetime


# -- OpenAI-compatible API -----------------------------------------------------------------
class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    type: str = Field(max_length=64)
    text: Text | None = Field(default=None, max_length=MAX_TEXT)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: Text | list[ContentPart] | None = Field(default=None)
    name: str | None = Field(default=None, max_length=200)

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text or "" for p in self.content if p.type == "text")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: TokenCount | None = None
    max_completion_tokens: TokenCount | None = None
    user: str | None = Field(default=None, max_length=200)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage


class ModelOut(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "os1"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelOut]


ExportOut = dict[str, Any]
