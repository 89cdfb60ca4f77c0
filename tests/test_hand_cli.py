"""``os1 hand``: template, learn, write and font from the command line, and every bad input a
person can give them answered with one clear line and an exit code, writing nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures_hand import HANDWRITING, SHEETS
from PIL import Image
from typer.testing import CliRunner

from os1.cli import app
from os1.errors import OS1Error

pytestmark = pytest.mark.skipif(not SHEETS.is_dir(), reason="needs the shared handwriting data")

LETTER = "Dear Catherine,\n\n    I'm sorry for that. Love, Theodore (12/05, 9:30; £15 & 50%!)\n"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OS1 home holding the hand ``w1``, learned through the real command."""
    home = tmp_path_factory.mktemp("home")
    done = run_os1(home, "hand", "learn", "--name", "w1", str(SHEETS / "sheet_new.jpg"))
    assert done.returncode == 0, done.stderr
    assert "layout B, read 80" in done.stdout
    return home


def run_os1(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS1_")}
    env["OS1_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "os1", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def invoke(home: Path, *args: str, stdin: bytes = b"") -> tuple[int, str]:
    """Run a command in this process (fast), as ``os1``'s entry point would: an OS1 error is
    one line and its exit code."""
    result = CliRunner().invoke(app, list(args), input=stdin, env={"OS1_HOME": str(home)})
    if isinstance(result.exception, OS1Error):
        return result.exception.exit_code, str(result.exception)
    return result.exit_code, result.output


def test_learn_write_and_boxes_end_to_end(home: Path, tmp_path: Path) -> None:
    text = tmp_path / "letter.txt"
    text.write_text(LETTER, encoding="utf-8")
    out, box_file = tmp_path / "letter.png", tmp_path / "boxes.json"
    args = ["hand", "write", "--hand", "w1", "--out", str(out), "--boxes", str(box_file)]
    done = run_os1(home, *args, "--size", "16pt", "--dpi", "150", "--seed", "3", str(text))
    assert done.returncode == 0, done.stderr
    boxes = json.loads(box_file.read_text(encoding="utf-8"))
    assert [b["char"] for b in boxes] == [c for c in LETTER if not c.isspace()]
    with Image.open(out) as page:
        assert page.size == (round(8.5 * 150), 11 * 150)
        width, height = page.size
    for box in boxes:
        assert {"char", "x", "y", "w", "h", "line"} <= box.keys()
        assert box["x"] >= 0 and box["x"] + box["w"] <= width
        assert box["y"] >= 0 and box["y"] + box["h"] <= height
    assert {b["line"] for b in boxes} == {1, 3}  # a blank line between the paragraphs


def test_same_seed_same_bytes_other_seed_other_bytes(home: Path, tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text("Same seed, same letter.", encoding="utf-8")
    outs = []
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        out = tmp_path / f"{name}.pdf"
        code, said = invoke(home, "hand", "write", "--hand", "w1", "--out", str(out),
                            "--seed", seed, "--dpi", "100", str(text))  # fmt: skip
        assert code == 0, said
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] != outs[2]


def test_template_and_font(home: Path, tmp_path: Path) -> None:
    code, said = invoke(home, "hand", "template", "--out", str(tmp_path / "t.pdf"), "--paper", "a4")
    assert code == 0 and (tmp_path / "t.pdf").read_bytes().startswith(b"%PDF"), said
    code, said = invoke(home, "hand", "font", "--hand", "w1", "--out", str(tmp_path / "w1.otf"))
    assert code == 0, said
    assert (tmp_path / "w1.otf").read_bytes()[:4] == b"OTTO"
    code, said = invoke(home, "hand", "list")
    assert said.split() == ["w1"]


def test_template_and_font_make_missing_folders_and_name_the_outlines(
    home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "nodir" / "x" / "t.pdf"
    code, said = invoke(home, "hand", "template", "--out", str(out))
    assert code == 0 and out.read_bytes().startswith(b"%PDF"), said
    code, said = invoke(home, "hand", "template", "--out", str(out / "t.pdf"))
    assert code == 2 and "is a file, not a folder" in said
    font = tmp_path / "fonts" / "w1.ttf"
    code, said = invoke(home, "hand", "font", "--hand", "w1", "--out", str(font))
    assert code == 0 and font.read_bytes()[:4] == b"\x00\x01\x00\x00", said  # TrueType
    code, said = invoke(home, "hand", "font", "--help")
    assert "TrueType" in said and "CFF" in said


def test_bad_output_paths_are_refused_before_the_layout(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os1.handwriting.layout

    def no_layout(*args: object, **kwargs: object) -> None:
        raise AssertionError("laid out before the output paths were checked")

    monkeypatch.setattr(os1.handwriting.layout, "layout", no_layout)
    text = tmp_path / "t.txt"
    text.write_text("hello", encoding="utf-8")
    folder = tmp_path / "o"
    folder.mkdir()
    cases = [
        (["--out", str(folder / "a.png"), "--boxes", str(folder)], "is a folder"),
        (["--out", str(folder)], "cannot write o"),
        (["--out", str(folder / "a.xyz")], "the name must end in"),
        (["--out", str(text / "a.png")], "is a file, not a folder"),
        (["--out", str(folder / "a.png"), "--boxes", str(text / "b.json")], "is a file"),
    ]
    for args, message in cases:
        code, said = invoke(home, "hand", "write", "--hand", "w1", *args, str(text))
        assert code == 2 and message in said, (args, said)
    assert list(folder.iterdir()) == []


def test_tiny_images_hold_no_sheet_and_the_other_files_still_count(tmp_path: Path) -> None:
    names = []
    for side in (1, 2, 8, 30, 60):
        Image.new("RGB", (side, side), "white").save(tmp_path / f"tiny{side}.png")
        names.append(str(tmp_path / f"tiny{side}.png"))
    code, said = invoke(
        tmp_path / "home", "hand", "learn", "--name", "d", str(SHEETS / "didi.jpg"), *names
    )
    assert code == 0, said
    for name in names:
        assert f"{name}: no template sheet found" in said
    assert "learned d: 62 characters" in said


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--size", "huge"], 2, "--size must be points"),
        (["--size", "400pt"], 2, "between 4pt and 144pt"),
        (["--paper", "legal"], 2, "--paper must be one of"),
        (["--variation", "maybe"], 2, "--variation must be on or off"),
        (["--hand", "nobody"], 3, "no hand named 'nobody'"),
        (["--hand", "../etc"], 2, "a hand's name is"),
        (["--hand", "/nowhere/font.ttf"], 2, "does not exist"),
        (["--out", "{tmp}/letter.docx"], 2, ".png"),
    ],
)
def test_bad_write_options_are_one_clear_line(
    home: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    text = tmp_path / "t.txt"
    text.write_text("hello", encoding="utf-8")
    base = {"--hand": "w1", "--out": str(tmp_path / "out.png")}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value.format(tmp=tmp_path)
    argv = ["hand", "write", *[x for pair in base.items() for x in pair], str(text)]
    got, said = invoke(home, *argv)
    assert (got, message in said) == (code, True), said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.txt"]  # nothing written


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "no text to write"),
        (b"   \n\t\n", "no text to write"),
        (b"\xff\xfe bad", "not UTF-8"),
        (b"a" * 50_001, "longer than 50,000 characters"),
    ],
)
def test_bad_text_files_are_refused(
    home: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    text = tmp_path / "t.txt"
    text.write_bytes(content)
    out = tmp_path / "out.png"
    code, said = invoke(home, "hand", "write", "--hand", "w1", "--out", str(out), str(text))
    assert code == 2 and message in said, said
    assert not out.exists()
    code, said = invoke(home, "hand", "write", "--hand", "w1", "--out", str(out), "-",
                        stdin=content)  # fmt: skip
    assert code == 2 and message in said, said
    code, said = invoke(home, "hand", "write", "--hand", "w1", "--out", str(out), "missing.txt")
    assert code == 2 and "no such text file" in said
    code, said = invoke(home, "hand", "write", "--hand", "w1", "--out", str(out), str(tmp_path))
    assert code == 2 and "is a folder, not a text file" in said


def test_a_text_of_only_control_characters_says_so(home: Path, tmp_path: Path) -> None:
    text = tmp_path / "ctl.txt"
    text.write_bytes(b"\x01\x02")
    out = tmp_path / "out.png"
    code, said = invoke(home, "hand", "write", "--hand", "w1", "--out", str(out), str(text))
    assert code == 2 and "only control characters" in said, said
    assert not out.exists()


def test_bad_learn_input_keeps_the_old_hand(home: Path, tmp_path: Path) -> None:
    before = sorted(p.name for p in (home / "hands" / "w1" / "glyphs").iterdir())
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "trunc.jpg").write_bytes((SHEETS / "didi.jpg").read_bytes()[:60_000])
    Image.new("1", (15_000, 15_000), 1).save(tmp_path / "huge.png")  # 225 megapixels, 57 kB
    cases = [
        ([str(tmp_path / "huge.png")], "too large for a photo of a sheet"),
        ([str(HANDWRITING / "draw-your-font" / "hero.png")], "no template sheet found"),
        ([str(tmp_path / "notes.jpg")], "not an image"),
        ([str(tmp_path / "trunc.jpg")], "the image is truncated or damaged"),
        ([str(tmp_path / "missing.jpg")], "no such file"),
        ([str(tmp_path)], "is a folder: name the photos in it"),
        ([str(SHEETS / "handwrite_sample.pdf")], "nothing read"),
    ]
    for photos, message in cases:
        code, said = invoke(home, "hand", "learn", "--name", "w1", *photos)
        assert code == 2 and message in said, said
    after = sorted(p.name for p in (home / "hands" / "w1" / "glyphs").iterdir())
    assert after == before
    code, said = invoke(home, "hand", "template", "--out", str(tmp_path / "t.png"))
    assert code == 2 and ".pdf" in said
