"""``os1 talk``: talk with the mind out loud, through the microphone and speaker, or from a
recorded question to a recorded reply (``--in question.wav --out reply.wav``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from os1.cli_base import default_person, load_cli_settings, run_async
from os1.errors import UserInputError
from os1.runtime import open_runtime
from os1.voice.audio import Samples, read_wav, write_wav
from os1.voice.devices import talk_live
from os1.voice.events import Failed, Interrupted, ReplyDone, Transcript, VoiceEvent
from os1.voice.files import converse
from os1.voice.kit import kit_for, rules_for
from os1.voice.pipeline import VoiceConversation

Show = Callable[[VoiceEvent], None]


def talk(
    person: Annotated[
        str | None, typer.Option("--person", "-p", help="Who is talking (default: your login).")
    ] = None,
    question: Annotated[
        Path | None,
        typer.Option("--in", help="A WAV file to answer instead of the microphone."),
    ] = None,
    reply: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write the spoken reply (WAV), with --in."),
    ] = None,
) -> None:
    """Talk out loud: speak, pause, and the mind answers; speak over it to interrupt."""
    if reply is not None and question is None:
        raise UserInputError("--out needs --in: replies to the microphone go to the speaker")
    samples = read_wav(question) if question is not None else None
    settings = load_cli_settings()
    out = Console(highlight=False)

    async def go() -> int:
        kit = await asyncio.to_thread(kit_for, settings)
        try:
            async with open_runtime(settings) as runtime:
                session = await runtime.mind.open(
                    default_person() if person is None else person, interview=False
                )
                async with session:
                    voice = VoiceConversation(
                        kit,
                        session,
                        rules_for(settings),
                        realtime=samples is None,
                        partials=samples is None and settings.voice_partials,
                    )
                    show = _printer(out, runtime.mind.spec.name)
                    if samples is None or question is None:
                        return await _live(voice, show, out)
                    return await _from_file(voice, samples, show, question, reply)
        finally:
            kit.close()

    raise typer.Exit(run_async(go()))


async def _from_file(
    voice: VoiceConversation, samples: Samples, show: Show, question: Path, reply: Path | None
) -> int:
    exchange = await converse(voice, samples, show)
    if not exchange.heard:
        raise UserInputError(f"no speech heard in {question}")
    if exchange.errors:
        return 4 if exchange.errors[-1].code == "model_failed" else 1
    if reply is not None:
        write_wav(reply, exchange.reply_audio(), exchange.rate)
    return 0


async def _live(voice: VoiceConversation, show: Show, out: Console) -> int:
    out.print("[dim]Listening. Speak, then pause; Ctrl-C to stop. Headphones help.[/]")
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        await talk_live(voice, show)
    return 0


def _printer(out: Console, name: str) -> Show:
    def show(event: VoiceEvent) -> None:
        if isinstance(event, Transcript) and event.text:
            out.print(f"[bold cyan]you:[/] {event.text}")
        elif isinstance(event, ReplyDone):
            out.print(f"[bold magenta]{name}:[/] {event.text}")
        elif isinstance(event, Interrupted):
            out.print(f"[bold magenta]{name}:[/] {event.heard} [dim](interrupted)[/]")
        elif isinstance(event, Failed):
            out.print(f"[red]error:[/] {event.message}")

    return show
