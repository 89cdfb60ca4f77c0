"""The letters studio over HTTP: the token's person is the writer, and sees only their own
clients, correspondences and letters (anyone else's ids are 404, as missing ones are).

``GET /v1/letters/{id}/render`` writes an approved letter in the client's hand (PDF, or one
page as PNG), and ``POST /v1/letters/book`` a book of letters as one PDF, with the ``hand`` extra
installed. ``POST /v1/letters/{id}/dictation`` (and ``/v1/letters/dictation`` for a new letter)
takes a WAV recording as the request body and saves its words as a dictated version, with the
``voice`` extra installed.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status

from os1.errors import BusyError, UserInputError
from os1.handwriting import need_hand_extra
from os1.letters import checks, dictation
from os1.letters.models import ClientEdit, CorrespondenceEdit, LetterDoc
from os1.letters.studio import Studio
from os1.server.auth import CurrentPerson, State
from os1.server.errors import COMMON_RESPONSES, APIError, ErrorBody
from os1.server.letters_schemas import (
    ApproveIn,
    BookIn,
    ClientIn,
    ClientOut,
    ClientPatch,
    CorrespondenceIn,
    CorrespondenceOut,
    CorrespondencePatch,
    DiffOut,
    DraftIn,
    LetterIn,
    LetterMade,
    LetterOut,
    MentionIn,
    MentionOut,
    MentionPatch,
    OccasionIn,
    OccasionOut,
    SentIn,
    SentOut,
    UpcomingOut,
    VersionIn,
    VersionOut,
)
from os1.server.schemas import Deleted
from os1.server.state import ServerState
from os1.server.voice import loader

router = APIRouter(prefix="/v1/letters", tags=["letters"], responses=COMMON_RESPONSES)

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
ClientName = Annotated[str, Path(min_length=1, max_length=64)]


def _studio(state: ServerState) -> Studio:
    return Studio(state.runtime.store.engine)


def _lines(items: list[str] | None) -> tuple[str, ...] | None:
    return None if items is None else tuple(items)


# -- clients ---------------------------------------------------------------------------------
@router.get("/clients", response_model=list[ClientOut])
async def list_clients(person: CurrentPerson, state: State) -> list[ClientOut]:
    """The writer's clients, by name."""
    return [ClientOut.of(c) for c in await _studio(state).list_clients(person)]


@router.post("/clients", response_model=ClientOut, status_code=status.HTTP_201_CREATED)
async def add_client(body: ClientIn, person: CurrentPerson, state: State) -> ClientOut:
    """A new client, with their voice (phrases they use, things they never say) and hand."""
    made = await _studio(state).add_client(
        person,
        body.name,
        hand=body.hand,
        stock_hand=body.stock_hand,
        address=body.address,
        phrases=body.phrases,
        never_say=body.never_say,
        notes=body.notes,
    )
    return ClientOut.of(made)


@router.get("/clients/{name}", response_model=ClientOut)
async def get_client(name: ClientName, person: CurrentPerson, state: State) -> ClientOut:
    return ClientOut.of(await _studio(state).get_client(person, name))


@router.patch("/clients/{name}", response_model=ClientOut)
async def edit_client(
    name: ClientName, body: ClientPatch, person: CurrentPerson, state: State
) -> ClientOut:
    """Change what is given; an empty ``hand`` clears it."""
    edit = ClientEdit(
        name=body.name,
        hand=body.hand,
        stock_hand=body.stock_hand,
        address=_lines(body.address),
        phrases=_lines(body.phrases),
        never_say=_lines(body.never_say),
        notes=body.notes,
    )
    return ClientOut.of(await _studio(state).edit_client(person, name, edit))


@router.delete("/clients/{name}", response_model=Deleted)
async def remove_client(name: ClientName, person: CurrentPerson, state: State) -> Deleted:
    """Remove a client with all their correspondences, letters and versions."""
    await _studio(state).remove_client(person, name)
    return Deleted()


# -- correspondences -------------------------------------------------------------------------
@router.get("/correspondences", response_model=list[CorrespondenceOut])
async def list_correspondences(
    person: CurrentPerson,
    state: State,
    client: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[CorrespondenceOut]:
    found = await _studio(state).list_correspondences(person, client)
    return [CorrespondenceOut.of(c) for c in found]


@router.post(
    "/correspondences", response_model=CorrespondenceOut, status_code=status.HTTP_201_CREATED
)
async def add_correspondence(
    body: CorrespondenceIn, person: CurrentPerson, state: State
) -> CorrespondenceOut:
    """A correspondent of a client's: the letters between the two go here."""
    made = await _studio(state).add_correspondence(
        person,
        body.client,
        body.name,
        address=body.address,
        relation=body.relation,
        notes=body.notes,
        since=body.since,
    )
    return CorrespondenceOut.of(made)


@router.get("/correspondences/{correspondence_id:int}", response_model=CorrespondenceOut)
async def get_correspondence(
    correspondence_id: Id, person: CurrentPerson, state: State
) -> CorrespondenceOut:
    return CorrespondenceOut.of(await _studio(state).get_correspondence(person, correspondence_id))


@router.patch("/correspondences/{correspondence_id:int}", response_model=CorrespondenceOut)
async def edit_correspondence(
    correspondence_id: Id, body: CorrespondencePatch, person: CurrentPerson, state: State
) -> CorrespondenceOut:
    edit = CorrespondenceEdit(
        name=body.name,
        address=_lines(body.address),
        relation=body.relation,
        notes=body.notes,
        since=body.since,
    )
    made = await _studio(state).edit_correspondence(person, correspondence_id, edit)
    return CorrespondenceOut.of(made)


@router.delete("/correspondences/{correspondence_id:int}", response_model=Deleted)
async def remove_correspondence(
    correspondence_id: Id, person: CurrentPerson, state: State
) -> Deleted:
    await _studio(state).remove_correspondence(person, correspondence_id)
    return Deleted()


@router.get("/correspondences/{correspondence_id:int}/occasions", response_model=list[OccasionOut])
async def list_occasions(
    correspondence_id: Id, person: CurrentPerson, state: State
) -> list[OccasionOut]:
    found = await _studio(state).list_occasions(person, correspondence_id)
    return [OccasionOut.of(o) for o in found]


@router.post(
    "/correspondences/{correspondence_id:int}/occasions",
    response_model=OccasionOut,
    status_code=status.HTTP_201_CREATED,
)
async def add_occasion(
    correspondence_id: Id, body: OccasionIn, person: CurrentPerson, state: State
) -> OccasionOut:
    """A date that comes back each year (an anniversary, a birthday)."""
    made = await _studio(state).add_occasion(
        person, correspondence_id, body.kind, body.label, body.month, body.day, body.year
    )
    return OccasionOut.of(made)


@router.delete("/occasions/{occasion_id:int}", response_model=Deleted)
async def remove_occasion(occasion_id: Id, person: CurrentPerson, state: State) -> Deleted:
    await _studio(state).remove_occasion(person, occasion_id)
    return Deleted()


@router.get("/correspondences/{correspondence_id:int}/mentions", response_model=list[MentionOut])
async def list_mentions(
    correspondence_id: Id, person: CurrentPerson, state: State
) -> list[MentionOut]:
    found = await _studio(state).list_mentions(person, correspondence_id)
    return [MentionOut.of(m) for m in found]


@router.post(
    "/correspondences/{correspondence_id:int}/mentions",
    response_model=MentionOut,
    status_code=status.HTTP_201_CREATED,
)
async def add_mention(
    correspondence_id: Id, body: MentionIn, person: CurrentPerson, state: State
) -> MentionOut:
    """A name, place or piece of shared history to remember in the correspondence."""
    made = await _studio(state).add_mention(
        person, correspondence_id, body.kind, body.text, body.letter_id
    )
    return MentionOut.of(made)


@router.patch("/mentions/{mention_id:int}", response_model=MentionOut)
async def edit_mention(
    mention_id: Id, body: MentionPatch, person: CurrentPerson, state: State
) -> MentionOut:
    """Correct a mention's text or kind (one drawn from a sent letter as any other)."""
    made = await _studio(state).edit_mention(person, mention_id, body.text, body.kind)
    return MentionOut.of(made)


@router.delete("/mentions/{mention_id:int}", response_model=Deleted)
async def remove_mention(mention_id: Id, person: CurrentPerson, state: State) -> Deleted:
    await _studio(state).remove_mention(person, mention_id)
    return Deleted()


@router.get("/upcoming", response_model=list[UpcomingOut])
async def upcoming(
    person: CurrentPerson,
    state: State,
    days: Annotated[int, Query(ge=0, le=366, description="How far ahead.")] = 30,
) -> list[UpcomingOut]:
    """Anniversaries and birthdays in the next ``days`` days, soonest first."""
    return [UpcomingOut.of(u) for u in await _studio(state).upcoming(person, days)]


# -- letters ---------------------------------------------------------------------------------
@router.get("", response_model=list[LetterOut])
async def list_letters(
    person: CurrentPerson,
    state: State,
    client: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    correspondence_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    letter_status: Annotated[
        Literal["draft", "approved", "sent"] | None, Query(alias="status")
    ] = None,
) -> list[LetterOut]:
    found = await _studio(state).list_letters(
        person, client=client, correspondence_id=correspondence_id, status=letter_status
    )
    return [LetterOut.of(lt) for lt in found]


@router.post("", response_model=LetterMade, status_code=status.HTTP_201_CREATED)
async def new_letter(body: LetterIn, person: CurrentPerson, state: State) -> LetterMade:
    """A new letter, from the writer's own ``text``, or drafted by the mind from ``notes`` in
    the client's voice (502 when no language model answers; nothing is saved then)."""
    if (body.text is None) == (body.notes is None):
        raise UserInputError("give either text (the writer's own) or notes (for a mind draft)")
    studio = _studio(state)
    if body.text is not None:
        letter, first = await studio.new_letter(
            person, body.correspondence_id, body.title, body.text, body.source
        )
    else:
        await studio.get_correspondence(person, body.correspondence_id)  # 404 before the queue
        async with state.runtime.mind.scheduler.use(person.id):
            letter, first = await studio.draft_letter(
                person, body.correspondence_id, body.title, body.notes or "", state.runtime.llm
            )
    return LetterMade(letter=LetterOut.of(letter), version=VersionOut.of(first))


@router.get("/{letter_id:int}", response_model=LetterOut)
async def get_letter(letter_id: Id, person: CurrentPerson, state: State) -> LetterOut:
    return LetterOut.of(await _studio(state).get_letter(person, letter_id))


@router.delete("/{letter_id:int}", response_model=Deleted)
async def remove_letter(letter_id: Id, person: CurrentPerson, state: State) -> Deleted:
    await _studio(state).remove_letter(person, letter_id)
    return Deleted()


@router.get("/{letter_id:int}/versions", response_model=list[VersionOut])
async def list_versions(letter_id: Id, person: CurrentPerson, state: State) -> list[VersionOut]:
    """Every version, oldest first, with what each mind draft drew on."""
    return [VersionOut.of(v) for v in await _studio(state).versions(person, letter_id)]


@router.post(
    "/{letter_id:int}/versions", response_model=VersionOut, status_code=status.HTTP_201_CREATED
)
async def add_version(
    letter_id: Id, body: VersionIn, person: CurrentPerson, state: State
) -> VersionOut:
    """A new version in the writer's own words (typed or dictated)."""
    return VersionOut.of(
        await _studio(state).add_version(person, letter_id, body.text, body.source)
    )


@router.post(
    "/{letter_id:int}/draft", response_model=VersionOut, status_code=status.HTTP_201_CREATED
)
async def draft(letter_id: Id, body: DraftIn, person: CurrentPerson, state: State) -> VersionOut:
    """A new version drafted by the mind from the writer's notes, in the client's voice (502
    when no language model answers; nothing is saved then)."""
    studio = _studio(state)
    await studio.get_letter(person, letter_id)  # 404 before waiting for the model
    async with state.runtime.mind.scheduler.use(person.id):
        made = await studio.draft(person, letter_id, body.notes, state.runtime.llm)
    return VersionOut.of(made)


@router.get("/{letter_id:int}/diff", response_model=DiffOut)
async def diff(
    letter_id: Id,
    person: CurrentPerson,
    state: State,
    a: Annotated[int, Query(ge=1, le=2**31 - 1, description="The older version.")],
    b: Annotated[int, Query(ge=1, le=2**31 - 1, description="The newer version.")],
) -> DiffOut:
    """A unified diff between two versions."""
    return DiffOut(diff=await _studio(state).diff(person, letter_id, a, b))


@router.post("/{letter_id:int}/approve", response_model=LetterOut)
async def approve(
    letter_id: Id, person: CurrentPerson, state: State, body: ApproveIn | None = None
) -> LetterOut:
    """Approve a version (default the latest): that is the text that goes to paper. The body
    may be left out."""
    version = body.version if body is not None else None
    return LetterOut.of(await _studio(state).approve(person, letter_id, version))


@router.post("/{letter_id:int}/sent", response_model=SentOut)
async def mark_sent(
    letter_id: Id, person: CurrentPerson, state: State, body: SentIn | None = None
) -> SentOut:
    """Mark an approved letter sent; its text no longer changes. The names and places it
    mentions join the correspondence's mentions (``remembered``), found by rule, or by the
    language model with ``mind`` (the rules answer when there is none, it is busy, or it
    fails: sending never needs a model)."""
    body = body if body is not None else SentIn()
    studio = _studio(state)
    llm = state.runtime.llm if body.mind else None
    if llm is None:
        letter, added = await studio.send(person, letter_id, body.on)
    else:
        await studio.sendable(person, letter_id)  # 404, draft or sent: before the model's queue
        try:
            async with state.runtime.mind.scheduler.use(person.id):
                letter, added = await studio.send(person, letter_id, body.on, llm)
        except BusyError:
            letter, added = await studio.send(person, letter_id, body.on)
    out = LetterOut.of(letter).model_dump()
    return SentOut(**out, remembered=[MentionOut.of(m) for m in added])


# -- dictation -------------------------------------------------------------------------------
WAV_TYPES = frozenset(
    {"audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave", "application/octet-stream"}
)
WAV_BODY = {
    "requestBody": {
        "required": True,
        "description": "A PCM WAV recording (any rate, mono or stereo), at most 10 minutes and "
        "within the server's request size limit.",
        "content": {
            kind: {"schema": {"type": "string", "format": "binary"}}
            for kind in ("audio/wav", "application/octet-stream")
        },
    }
}
WAV_RESPONSES: dict[int | str, dict[str, object]] = {
    415: {"model": ErrorBody, "description": "The body is not declared as a WAV recording"}
}


async def _heard(request: Request, state: ServerState) -> str:
    """The words of the WAV recording in the request's body: 415 for another type, 400 for
    audio that is not a whole WAV file, too long, silent or without speech."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in WAV_TYPES:
        raise APIError(415, "send the recording as audio/wav", "unsupported_media_type")
    samples = await asyncio.to_thread(dictation.recording, await request.body())
    kit = await loader(request.app.state).get(state)
    return await dictation.transcribe(samples, kit.transcribe)


@router.post(
    "/{letter_id:int}/dictation",
    response_model=VersionOut,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=WAV_BODY,
    responses=WAV_RESPONSES,
)
async def dictate(
    letter_id: Id, request: Request, person: CurrentPerson, state: State
) -> VersionOut:
    """A new version from a recording of the letter read aloud (the body, ``audio/wav``): its
    words, heard by the server's speech recognition, saved with source ``dictated``."""
    studio = _studio(state)
    await studio.open_letter(person, letter_id)  # 404, or sent: before hearing anything
    text = await _heard(request, state)
    return VersionOut.of(await studio.add_version(person, letter_id, text, "dictated"))


@router.post(
    "/dictation",
    response_model=LetterMade,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=WAV_BODY,
    responses=WAV_RESPONSES,
)
async def new_dictated(
    request: Request,
    person: CurrentPerson,
    state: State,
    correspondence_id: Annotated[int, Query(ge=1, le=2**31 - 1)],
    title: Annotated[str, Query(min_length=1, max_length=200)],
) -> LetterMade:
    """A new letter whose first version is a recording's words (the body, ``audio/wav``)."""
    studio = _studio(state)
    checks.line(title, "the title")
    await studio.get_correspondence(person, correspondence_id)
    text = await _heard(request, state)
    letter, first = await studio.new_letter(person, correspondence_id, title, text, "dictated")
    return LetterMade(letter=LetterOut.of(letter), version=VersionOut.of(first))


MEDIA = {"pdf": "application/pdf", "png": "image/png"}


@router.get(
    "/{letter_id:int}/render",
    response_class=Response,
    responses={200: {"content": {m: {} for m in MEDIA.values()}, "description": "The file."}},
)
async def render(
    letter_id: Id,
    request: Request,
    person: CurrentPerson,
    state: State,
    file_format: Annotated[Literal["pdf", "png"], Query(alias="format")] = "pdf",
    paper: Literal["letter", "a4"] = "letter",
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    envelope: Annotated[bool, Query(description="PDF: an envelope page at the end.")] = False,
    page: Annotated[int, Query(ge=1, le=100, description="PNG: which page.")] = 1,
) -> Response:
    """An approved letter in the client's learned hand (or their stock hand), at 300 dpi for
    PNG. The same seed gives the same bytes."""
    need_hand_extra()
    doc = await _studio(state).letter_doc(person, letter_id)
    home = state.runtime.settings.home
    data = await state.renders.run(
        _render, doc, home, file_format, paper, seed, envelope, page, gone=request.is_disconnected
    )
    return Response(data, media_type=MEDIA[file_format])


def _render(
    doc: LetterDoc,
    home: FilePath,
    file_format: str,
    paper: str,
    seed: int,
    envelope: bool,
    page: int,
) -> bytes:
    from os1.letters.book import hand_for, learned_hands
    from os1.letters.paper import page_png, render_letter

    hand = hand_for(doc, learned_hands([doc], home))
    if file_format == "png":
        return page_png(doc, page, hand=hand, paper=paper, seed=seed)
    with tempfile.TemporaryDirectory() as folder:
        out = FilePath(folder) / "letter.pdf"
        written = render_letter(doc, out, hand=hand, paper=paper, seed=seed, envelope=envelope)
        return written[0].read_bytes()


#: The most letters one book over HTTP holds.
MAX_BOOK_LETTERS = 100
#: The most characters of letters one book over HTTP holds: as many as one letter may have,
#: about 45 handwritten pages, a few minutes of the worker's one render at a time.
MAX_BOOK_CHARACTERS = checks.MAX_TEXT


@router.post(
    "/book",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The book."}},
)
async def book(body: BookIn, request: Request, person: CurrentPerson, state: State) -> Response:
    """A book of letters: a title page, contents, each letter on its own page in handwriting
    (each in its client's hand) or typeset, with page numbers."""
    need_hand_extra()
    if body.letters and body.client:
        raise UserInputError("give either letters or client")
    docs = await _studio(state).book_docs(person, body.letters, body.client)
    if not docs:
        raise UserInputError("no approved letters to make a book of")
    if len(docs) > MAX_BOOK_LETTERS:
        raise UserInputError(f"a book over HTTP holds at most {MAX_BOOK_LETTERS} letters")
    size = sum(len(doc.text) for doc in docs)
    if size > MAX_BOOK_CHARACTERS:
        raise UserInputError(
            f"a book over HTTP holds at most {MAX_BOOK_CHARACTERS:,} characters of letters; "
            f"these letters have {size:,}: make it two books or more"
        )
    home = state.runtime.settings.home
    data = await state.renders.run(
        _book, docs, home, body, person.name, gone=request.is_disconnected
    )
    return Response(data, media_type="application/pdf")


def _book(docs: list[LetterDoc], home: FilePath, body: BookIn, writer: str) -> bytes:
    from os1.letters.book import learned_hands, make_book

    hands = learned_hands(docs, home) if body.face == "handwriting" else {}
    with tempfile.TemporaryDirectory() as folder:
        out = make_book(
            docs,
            FilePath(folder) / "book.pdf",
            title=body.title,
            author=body.author or writer,
            hands=hands,
            face=body.face,
            paper=body.paper,
            seed=body.seed,
        )
        return out.read_bytes()
