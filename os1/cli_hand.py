"""``os1 hand ...``: print a template, learn a hand from photos of it, write letters in the hand
(PNG, PDF, SVG, single-stroke SVG, G-code), and export the hand as a font.

The handwriting libraries are imported only when a ``hand`` command runs, so ``os1`` starts as
fast without them; without the ``hand`` extra the commands say how to install it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from os1.cli_base import load_cli_settings, read_text
from os1.errors import UserInputError
from os1.handwriting import need_hand_extra

if TYPE_CHECKING:
    from os1.handwriting.hand import Hand

hand_app = typer.Typer(
    help="Handwriting: learn a hand from a photographed sheet and write letters in it.",
    no_args_is_help=True,
)

HandOpt = Annotated[
    str,
    typer.Option(
        "--hand", help="A learned hand's name, or a font file (.ttf, .otf, .woff2) to write in."
    ),
]
PaperOpt = Annotated[str, typer.Option("--paper", help="Paper size: letter or a4.")]

#: The most text one ``write`` takes: a long letter is a few thousand characters.
MAX_TEXT_CHARS = 50_000
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(pt)?\s*$", re.IGNORECASE)


def _hands_root() -> Path:
    from os1.handwriting.hand import hands_dir

    return hands_dir(load_cli_settings().home)


def _paper(value: str) -> str:
    from os1.handwriting.page import PAPERS

    paper = value.strip().lower()
    if paper not in PAPERS:
        raise UserInputError(f"--paper must be one of {', '.join(PAPERS)}, not {value!r}")
    return paper


def parse_size(value: str) -> float:
    """``16pt``, ``16`` or ``10.5pt``: the type size in points, 4 to 144."""
    match = _SIZE.match(value)
    if not match:
        raise UserInputError(f"--size must be points like 16pt, not {value!r}")
    size = float(match.group(1))
    if not 4 <= size <= 144:
        raise UserInputError(f"--size must be between 4pt and 144pt, not {value}")
    return size


def _open_hand(spec: str) -> Hand:
    from os1.handwriting.fromfont import hand_from_font
    from os1.handwriting.hand import load_hand

    path = Path(spec).expanduser()
    if path.suffix.lower() in {".ttf", ".otf", ".woff", ".woff2"}:
        if not path.is_file():
            raise UserInputError(f"--hand names a font file that does not exist: {path}")
        return hand_from_font(path)
    return load_hand(spec, _hands_root())


def _read_text(source: str) -> str:
    if source != "-" and Path(source).is_dir():
        raise UserInputError(f"{source} is a folder, not a text file")
    if source != "-" and not Path(source).is_file():
        raise UserInputError(f"no such text file: {source}")
    text = read_text(source, most=MAX_TEXT_CHARS, what="the text")
    if not text.strip():
        where = "standard input" if source == "-" else source
        raise UserInputError(f"{where}: there is no text to write")
    return text


@hand_app.command("template")
def template(
    out: Annotated[Path, typer.Option("--out", "-o", help="The PDF to write.")],
    paper: PaperOpt = "letter",
    variants: Annotated[
        int, typer.Option("--variants", min=1, max=3, help="Boxes per character (1-3).")
    ] = 1,
) -> None:
    """Write a printable template: fill it in by hand, photograph it, then `os1 hand learn`."""
    need_hand_extra()
    from os1.handwriting.template import make_template

    if out.suffix.lower() != ".pdf":
        raise UserInputError(f"--out must be a .pdf file, not {out.name}")
    make_template(out, paper=_paper(paper), variants=variants)
    typer.echo(f"wrote {out}")


@hand_app.command("learn")
def learn(
    name: Annotated[str, typer.Option("--name", help="The hand's name.")],
    photos: Annotated[
        list[Path], typer.Argument(help="Photos or scans of filled sheets (PNG, JPEG, PDF).")
    ],
) -> None:
    """Learn a hand from photos of filled template sheets; several fills give variants."""
    need_hand_extra()
    from os1.handwriting.capture import learn_sheets
    from os1.handwriting.hand import check_name, save_hand

    check_name(name)
    for photo in photos:
        if photo.is_dir():
            raise UserInputError(f"{photo} is a folder: name the photos in it")
        if not photo.is_file():
            raise UserInputError(f"no such file: {photo}")
    hand, report = learn_sheets(photos, name)
    where = save_hand(hand, _hands_root())
    typer.echo(report.summary())
    count = sum(len(v) for v in hand.glyphs.values())
    typer.echo(f"learned {name}: {len(hand.glyphs)} characters, {count} glyphs, in {where}")


@hand_app.command("list")
def list_() -> None:
    """The learned hands."""
    need_hand_extra()
    from os1.handwriting.hand import list_hands

    names = list_hands(_hands_root())
    typer.echo("\n".join(names) if names else "No hands yet: learn one with `os1 hand learn`.")


@hand_app.command("write")
def write(
    hand: HandOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output by extension: .png, .pdf, .svg, .plot.svg (single stroke), .gcode.",
        ),
    ],
    text_file: Annotated[str, typer.Argument(help="UTF-8 text to write; - reads stdin.")],
    size: Annotated[str, typer.Option("--size", help="Type size, e.g. 16pt.")] = "16pt",
    dpi: Annotated[int, typer.Option("--dpi", min=50, max=600, help="Pixels per inch.")] = 300,
    paper: PaperOpt = "letter",
    seed: Annotated[int, typer.Option("--seed", min=0, help="Same seed, same letter.")] = 0,
    variation: Annotated[
        str, typer.Option("--variation", help="on: never the same letter twice; off: none.")
    ] = "on",
    boxes: Annotated[
        Path | None,
        typer.Option("--boxes", help="Write every placed glyph's box (PNG pixels) as JSON."),
    ] = None,
    texture: Annotated[
        str, typer.Option("--texture", help="on: pen pressure and ink flow in PNG output; off.")
    ] = "on",
    plotter: Annotated[
        str | None,
        typer.Option(
            "--plotter", help="vpype-gcode profile for .gcode (default os1_pen: Z pen lift)."
        ),
    ] = None,
) -> None:
    """Write a text file in a learned hand."""
    need_hand_extra()
    from os1.handwriting.layout import layout
    from os1.handwriting.page import check_output, make_parent
    from os1.handwriting.render import boxes as glyph_boxes
    from os1.handwriting.render import output_suffix
    from os1.handwriting.render import write as write_pages

    for flag, value in (("--variation", variation), ("--texture", texture)):
        if value not in {"on", "off"}:
            raise UserInputError(f"{flag} must be on or off, not {value!r}")
    points = parse_size(size)
    # Every file to write is checked before the layout, so a bad one wastes no work and
    # leaves nothing half written.
    output_suffix(out)
    for path in (out, *([boxes] if boxes is not None else [])):
        check_output(path)
    text = _read_text(text_file)
    pages = layout(
        _open_hand(hand),
        text,
        size_pt=points,
        dpi=dpi,
        paper=_paper(paper),
        seed=seed,
        variation=variation == "on",
    )
    written = write_pages(pages, out, ink_texture=texture == "on", plotter=plotter)
    if boxes is not None:
        make_parent(boxes)
        boxes.write_text(json.dumps(glyph_boxes(pages), ensure_ascii=False), encoding="utf-8")
    for path in written:
        typer.echo(f"wrote {path}")


@hand_app.command("font")
def font(
    hand: HandOpt,
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="The font file to write: .otf (CFF outlines) or .ttf (TrueType outlines).",
        ),
    ],
) -> None:
    """Export a hand as an OpenType font, its variants as contextual alternates: CFF outlines
    in a .otf file, TrueType outlines in a .ttf file."""
    need_hand_extra()
    from os1.handwriting.font import build_font

    build_font(_open_hand(hand), out)
    typer.echo(f"wrote {out}")
