"""Every setting is documented, and the settings read in the documented order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from os1.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_DOC = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    field = Settings.model_fields[name]
    row = next(
        (line for line in SETTINGS_DOC.splitlines() if line.startswith(f"| `OS1_{name.upper()}`")),
        None,
    )
    assert row is not None, f"OS1_{name.upper()} is missing from docs/settings.md"
    assert f"`{name}`" in row
    assert field.description and field.description in row, "docs/settings.md is out of date"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1].splitlines()[1:]
    commands = [line.split("#")[0].strip() for line in first_block if line.strip()]
    assert commands == ["make up", "make test"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nmake test\n" in ci


def test_env_beats_toml_beats_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("OS1_")]:
        monkeypatch.delenv(key)
    (tmp_path / "config.toml").write_text('llm_model = "from-toml"\nrecall_k = 5\n')
    monkeypatch.setenv("OS1_HOME", str(tmp_path))
    monkeypatch.setenv("OS1_RECALL_K", "7")
    settings = Settings()
    assert (settings.llm_model, settings.recall_k, settings.max_reply_tokens) == (
        "from-toml",
        7,
        400,
    )
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / 'os1.db'}"
    other = tmp_path / "other.toml"
    other.write_text('llm_model = "other"\n')
    monkeypatch.setenv("OS1_CONFIG", str(other))
    assert Settings().llm_model == "other"


def test_empty_variables_count_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("OS1_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    for key in ("OS1_HOME", "OS1_LLM_URL", "OS1_CONFIG", "OS1_RECALL_K", "OS1_DATABASE_URL"):
        monkeypatch.setenv(key, "")
    settings = Settings()
    assert settings.home == tmp_path / ".os1"
    assert (settings.llm_url, settings.recall_k) == (None, 8)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path / '.os1' / 'os1.db'}"


def test_bad_toml_keys_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text('llm_modle = "typo"\n')
    monkeypatch.setenv("OS1_HOME", str(tmp_path))
    with pytest.raises(ValueError, match="llm_modle"):
        Settings()
