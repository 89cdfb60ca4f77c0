"""Minds are plain TOML files: a name, a voice, values, and the first-run interview.

Built-in minds ship in ``os1/minds/``; a file ``OS1_HOME/minds/<name>.toml`` defines a new mind
or overrides a built-in one.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from os1.errors import ConfigError, NotFoundError


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,40}$")
    ask: str = Field(min_length=1)


class Interview(BaseModel):
    model_config = ConfigDict(extra="forbid")
    intro: str = ""
    outro: str = "Thank you, {name}."
    skip_word: str = "skip"
    questions: list[Question] = Field(default_factory=list)


class MindSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    voice: str = Field(min_length=1)
    #: One or two sentences used instead of ``voice`` for very small models.
    short_voice: str = ""
    values: list[str] = Field(default_factory=list)
    greeting: str = ""
    interview: Interview = Field(default_factory=Interview)


def builtin_minds() -> list[str]:
    return sorted(
        p.name.removesuffix(".toml")
        for p in resources.files("os1.minds").iterdir()
        if p.name.endswith(".toml")
    )


def user_minds(minds_dir: Path) -> list[str]:
    return sorted(p.stem for p in minds_dir.glob("*.toml")) if minds_dir.is_dir() else []


def all_minds(minds_dir: Path) -> list[str]:
    """Every mind's name: built in, and the user's own in ``minds_dir``."""
    return sorted(set(builtin_minds()) | set(user_minds(minds_dir)))


def mind_source(name: str, minds_dir: Path) -> tuple[str, str]:
    """(where it came from, TOML text) of the mind called ``name``; ConfigError for a file
    that cannot be read as text."""
    own = minds_dir / f"{name}.toml"
    if own.is_file():
        try:
            return str(own), own.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{own}: not valid UTF-8 (byte {exc.start})") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read the mind {name!r}: {exc.strerror}") from exc
    if name in builtin_minds():
        return f"built-in:{name}", (resources.files("os1.minds") / f"{name}.toml").read_text(
            encoding="utf-8"
        )
    raise NotFoundError(f"no mind named {name!r}; put a {name}.toml in {minds_dir}")


def load_mind(name: str, minds_dir: Path) -> MindSpec:
    where, text = mind_source(name, minds_dir)
    try:
        return MindSpec.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {loc}: {first['msg']}") from exc
