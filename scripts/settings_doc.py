"""Rewrite the settings table in docs/settings.md from the Settings model.

Run after adding or changing a setting: ``.venv/bin/python scripts/settings_doc.py``.
tests/test_docs.py fails while the table is out of date.
"""

from __future__ import annotations

from pathlib import Path

from os1.settings import Settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def rows() -> list[str]:
    out = []
    for name, field in Settings.model_fields.items():
        default = None if field.default_factory else field.default
        if name == "home":
            shown = "`~/.os1`"
        elif default is None:
            shown = "(unset)"
        else:
            shown = f"`{str(default).lower() if isinstance(default, bool) else default}`"
        out.append(f"| `OS1_{name.upper()}` | `{name}` | {shown} | {field.description} |")
    return out


def main() -> None:
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|---")) + 1
    end = next(i for i, line in enumerate(lines) if line.startswith("| `OS1_CONFIG`"))
    DOC.write_text("\n".join([*lines[:start], *rows(), *lines[end:]]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
