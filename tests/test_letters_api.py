"""The letters studio over HTTP: a writer's whole round (client, correspondent, occasion,
letter, versions, diff, approval), privacy between writers, mind drafts, and bad input."""

from __future__ import annotations

import io
import itertools
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from server_harness import auth, client, live_server, make_token, server_settings

from os1.errors import BusyError, ConfigError
from os1.mind.fake import FakeLLM
from os1.mind.llm import Message
from os1.server.state import ServerState
from os1.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return server_settings(tmp_path / "home", embedder="none")


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with client(settings) as c:
        yield c


def write_letter(api: httpx.Client, token: str, corr: int, title: str, text: str) -> int:
    """A new letter in the correspondence ``corr``, its first version ``text``; its id."""
    made = api.post(
        "/v1/letters",
        headers=auth(token),
        json={"correspondence_id": corr, "title": title, "text": text},
    )
    assert made.status_code == 201, made.text
    return int(made.json()["letter"]["id"])


def start(api: httpx.Client, token: str) -> int:
    """Loretta as a client of the token's writer, writing to Roberta; the correspondence id."""
    made = api.post(
        "/v1/letters/clients",
        headers=auth(token),
        json={"name": "Loretta", "phrases": ["my sweet pea"], "never_say": ["darling"]},
    )
    assert made.status_code == 201, made.text
    to = api.post(
        "/v1/letters/correspondences",
        headers=auth(token),
        json={"client": "Loretta", "name": "Roberta", "address": ["12 Elm St", "Portland"]},
    )
    assert to.status_code == 201, to.text
    return int(to.json()["id"])


def test_a_letter_from_first_words_to_sent(api: TestClient, settings: Settings) -> None:
    token = make_token(settings, "theodore")
    corr = start(api, token)
    soon = date.today() + timedelta(days=3)
    occasion = api.post(
        f"/v1/letters/correspondences/{corr}/occasions",
        headers=auth(token),
        json={"kind": "anniversary", "label": "wedding", "month": soon.month, "day": soon.day},
    )
    assert occasion.status_code == 201, occasion.text
    [coming] = api.get("/v1/letters/upcoming?days=7", headers=auth(token)).json()
    assert (coming["client"], coming["correspondent"], coming["days"]) == ("Loretta", "Roberta", 3)

    made = api.post(
        "/v1/letters",
        headers=auth(token),
        json={"correspondence_id": corr, "title": "Fifty years", "text": "My sweet pea,\nYes.\n"},
    )
    assert made.status_code == 201, made.text
    letter = made.json()["letter"]["id"]
    assert made.json()["version"]["number"] == 1
    second = api.post(
        f"/v1/letters/{letter}/versions",
        headers=auth(token),
        json={"text": "My sweet pea,\nYes, always.\n", "source": "dictated"},
    )
    assert second.json()["number"] == 2 and second.json()["source"] == "dictated"
    changed = api.get(f"/v1/letters/{letter}/diff?a=1&b=2", headers=auth(token)).json()["diff"]
    assert "-Yes." in changed and "+Yes, always." in changed
    approved = api.post(f"/v1/letters/{letter}/approve", headers=auth(token), json={"version": 1})
    assert (approved.json()["status"], approved.json()["approved_version"]) == ("approved", 1)
    sent = api.post(f"/v1/letters/{letter}/sent", headers=auth(token))  # the body is optional
    assert sent.json()["status"] == "sent" and sent.json()["sent_on"] == date.today().isoformat()
    late = api.post(f"/v1/letters/{letter}/versions", headers=auth(token), json={"text": "P.S."})
    assert late.status_code == 400 and "sent" in late.json()["error"]["message"]
    assert [
        v["number"] for v in api.get(f"/v1/letters/{letter}/versions", headers=auth(token)).json()
    ] == [1, 2]


def test_the_mind_drafts_from_notes_and_says_what_it_drew_on(
    api: TestClient, settings: Settings
) -> None:
    token = make_token(settings, "theodore")
    corr = start(api, token)
    old = api.post(
        "/v1/letters",
        headers=auth(token),
        json={"correspondence_id": corr, "title": "Paris", "text": "Our week in Paris, the rain."},
    )
    approved = api.post(f"/v1/letters/{old.json()['letter']['id']}/approve", headers=auth(token))
    assert approved.status_code == 200, approved.text  # no body: the latest version
    drafted = api.post(
        "/v1/letters",
        headers=auth(token),
        json={"correspondence_id": corr, "title": "Again", "notes": "remember Paris in the rain"},
    )
    assert drafted.status_code == 201, drafted.text
    version = drafted.json()["version"]
    assert version["source"] == "mind" and version["notes"] == "remember Paris in the rain"
    assert version["drew_on"]["letters"] == [old.json()["letter"]["id"]]
    assert version["text"]  # the fake brain echoes its brief: something came back


def test_no_model_means_no_draft_and_nothing_saved(tmp_path: Path) -> None:
    settings = server_settings(tmp_path / "home", embedder="none", brain="offline")
    with client(settings) as api:
        token = make_token(settings, "theodore")
        corr = start(api, token)
        drafted = api.post(
            "/v1/letters",
            headers=auth(token),
            json={"correspondence_id": corr, "title": "Again", "notes": "Paris"},
        )
        assert drafted.status_code == 502, drafted.text
        assert api.get("/v1/letters", headers=auth(token)).json() == []


def test_another_writers_studio_is_not_found(api: TestClient, settings: Settings) -> None:
    theo, amy = make_token(settings, "theodore"), make_token(settings, "amy")
    corr = start(api, theo)
    letter = write_letter(api, theo, corr, "Mine", "Private words.")
    for path in (
        "/v1/letters/clients/Loretta",
        f"/v1/letters/correspondences/{corr}",
        f"/v1/letters/correspondences/{corr}/occasions",
        f"/v1/letters/{letter}",
        f"/v1/letters/{letter}/versions",
        f"/v1/letters/{letter}/diff?a=1&b=1",
    ):
        assert api.get(path, headers=auth(amy)).status_code == 404, path
    assert api.get("/v1/letters", headers=auth(amy)).json() == []
    assert api.get("/v1/letters/clients", headers=auth(amy)).json() == []
    stolen = api.post(
        f"/v1/letters/{letter}/versions", headers=auth(amy), json={"text": "Amy was here."}
    )
    assert stolen.status_code == 404
    assert api.delete(f"/v1/letters/{letter}", headers=auth(amy)).status_code == 404
    gone = api.delete("/v1/letters/clients/Loretta", headers=auth(amy))
    assert gone.status_code == 404
    # The command-line hint the studio's message carries is not for API clients.
    assert gone.json()["error"]["message"] == "no client named 'Loretta'"
    same = api.post("/v1/letters", headers=auth(amy), json={
        "correspondence_id": corr, "title": "Into theirs", "text": "x"})  # fmt: skip
    assert same.status_code == 404
    assert len(api.get(f"/v1/letters/{letter}/versions", headers=auth(theo)).json()) == 1
    assert api.get("/v1/letters").status_code == 401


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/letters/clients", {"name": ""}),
        ("/v1/letters/clients", {"name": "x" * 65}),
        ("/v1/letters/clients", {"name": "Bad\u0000name"}),
        ("/v1/letters/clients", {"name": "A/B"}),
        ("/v1/letters/clients", {"name": "Loretta", "surprise": 1}),
        ("/v1/letters/correspondences", {"client": "Nobody", "name": "Roberta"}),
        ("/v1/letters", {"correspondence_id": 1, "title": "t"}),
        ("/v1/letters", {"correspondence_id": 1, "title": "t", "text": "a", "notes": "b"}),
        ("/v1/letters", {"correspondence_id": 1, "title": "t", "text": "x" * 100_001}),
        ("/v1/letters", {"correspondence_id": 2**40, "title": "t", "text": "x"}),
        (
            "/v1/letters/correspondences/1/occasions",
            {"kind": "birthday", "label": "b", "month": 2, "day": 30},
        ),
        (
            "/v1/letters/correspondences/1/occasions",
            {"kind": "feast", "label": "b", "month": 1, "day": 1},
        ),
    ],
)
def test_bad_input_is_refused_and_saves_nothing(
    api: TestClient, settings: Settings, path: str, body: dict[str, object]
) -> None:
    token = make_token(settings, "theodore")
    start(api, token)
    before = api.get("/v1/letters", headers=auth(token)).json()
    clients = api.get("/v1/letters/clients", headers=auth(token)).json()
    answer = api.post(path, headers=auth(token), json=body)
    assert answer.status_code in (400, 404, 422), answer.text
    assert "error" in answer.json()
    assert api.get("/v1/letters", headers=auth(token)).json() == before
    assert api.get("/v1/letters/clients", headers=auth(token)).json() == clients
    assert api.get("/v1/letters/correspondences/1/occasions", headers=auth(token)).json() == []


def test_an_approved_letter_renders_over_http(api: TestClient, settings: Settings) -> None:
    theo, amy = make_token(settings, "theodore"), make_token(settings, "amy")
    corr = start(api, theo)
    letter = write_letter(api, theo, corr, "Fifty years", "My sweet pea,\nYes.\n")
    early = api.get(f"/v1/letters/{letter}/render", headers=auth(theo))
    assert early.status_code == 400 and "not approved" in early.json()["error"]["message"]
    api.post(f"/v1/letters/{letter}/approve", headers=auth(theo), json={})
    pdf = api.get(f"/v1/letters/{letter}/render?envelope=true&seed=3", headers=auth(theo))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert len(pdfium.PdfDocument(pdf.content)) == 2  # the letter and its envelope
    again = api.get(f"/v1/letters/{letter}/render?envelope=true&seed=3", headers=auth(theo))
    assert again.content == pdf.content
    png = api.get(f"/v1/letters/{letter}/render?format=png", headers=auth(theo))
    assert png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.size == (2550, 3300)
    assert api.get(f"/v1/letters/{letter}/render", headers=auth(amy)).status_code == 404
    late = api.get(f"/v1/letters/{letter}/render?format=png&page=2", headers=auth(theo))
    assert late.status_code == 400


def _slow_render(doc: object, home: Path, *_: object) -> bytes:
    """A render that takes 0.3 s and notes when it ran, in the server's home (it runs in the
    render process, so it can tell the test only through a file)."""
    began = time.time()
    time.sleep(0.3)
    with (home / "renders.log").open("a") as log:
        log.write(f"{os.getpid()} {began} {time.time()}\n")
    return b"%PDF-"


def _dying_render(*_: object) -> bytes:
    """A render whose process dies, as one killed for memory would."""
    os._exit(9)


def test_renders_run_one_at_a_time_in_a_process_of_their_own(
    api: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two people asking for a letter at once get it one after the other: a long letter takes
    a core for a while, and two at once would take the cores the conversations need. The
    render runs outside the server's process, so it never holds the event loop's lock."""
    import os1.server.letters as routes

    theo = make_token(settings, "theodore")
    corr = start(api, theo)
    letter = write_letter(api, theo, corr, "Twice", "Dear Amy,\nYes.\n")
    api.post(f"/v1/letters/{letter}/approve", headers=auth(theo))
    monkeypatch.setattr(routes, "_render", _slow_render)
    codes: list[int] = []

    def ask() -> None:
        codes.append(api.get(f"/v1/letters/{letter}/render", headers=auth(theo)).status_code)

    askers = [threading.Thread(target=ask) for _ in range(3)]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join(timeout=60)
    assert codes == [200, 200, 200]
    runs = sorted(line.split() for line in (settings.home / "renders.log").read_text().splitlines())
    assert len(runs) == 3 and {pid for pid, *_ in runs} - {str(os.getpid())} == {runs[0][0]}
    spans = sorted((float(began), float(ended)) for _, began, ended in runs)
    assert all(ended <= next_began for (_, ended), (next_began, _) in itertools.pairwise(spans))


def test_a_render_whose_process_dies_is_a_503_and_the_next_one_works(
    api: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os1.server.letters as routes

    theo = make_token(settings, "theodore")
    corr = start(api, theo)
    letter = write_letter(api, theo, corr, "Once", "Dear Amy,\nYes.\n")
    api.post(f"/v1/letters/{letter}/approve", headers=auth(theo))
    monkeypatch.setattr(routes, "_render", _dying_render)
    died = api.get(f"/v1/letters/{letter}/render", headers=auth(theo))
    assert died.status_code == 503 and died.json()["error"]["code"] == "render_failed"
    monkeypatch.setattr(routes, "_render", _slow_render)
    assert api.get(f"/v1/letters/{letter}/render", headers=auth(theo)).content == b"%PDF-"


def _seed_long_render(
    doc: object, home: Path, fmt: str, paper: str, seed: int, *_: object
) -> bytes:
    """A render that takes ``seed`` seconds; its process id goes to ``renders.log`` as it
    begins."""
    with (home / "renders.log").open("a") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(seed)
    return b"%PDF-"


def _render_started(home: Path, count: int) -> int:
    """The process id of the ``count``-th render to begin, once it has."""
    deadline = time.monotonic() + 30
    log = home / "renders.log"
    while time.monotonic() < deadline:
        lines = log.read_text().split() if log.exists() else []
        if len(lines) >= count:
            return int(lines[count - 1])
        time.sleep(0.05)
    raise AssertionError("the render did not begin")


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                return True
        time.sleep(0.05)
    return False


def _approved_letter(http: httpx.Client, token: str) -> int:
    letter = write_letter(http, token, start(http, token), "Long", "Dear Amy,\nYes.\n")
    assert http.post(f"/v1/letters/{letter}/approve", headers=auth(token)).status_code == 200
    return letter


def test_a_render_whose_client_left_is_dropped(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that gives up on a long letter does not keep the render process busy: the
    render in progress is stopped, and one still waiting its turn never begins."""
    import os1.server.letters as routes

    monkeypatch.setattr(routes, "_render", _seed_long_render)
    theo = make_token(settings, "theodore")
    with live_server(settings) as (url, _), httpx.Client(base_url=url, timeout=60) as http:
        letter = _approved_letter(http, theo)
        path = f"/v1/letters/{letter}/render?seed="
        leaving = [_ask(url, path + "60", theo)]
        first = _render_started(settings.home, 1)
        leaving.append(_ask(url, path + "60", theo))
        time.sleep(0.3)  # the second is waiting its turn
        for sock in leaving:
            sock.close()  # both clients give up
        assert _gone(first, 10), "the render of a client that left went on"
        began = time.monotonic()
        served = http.get(path + "0", headers=auth(theo))
        assert served.status_code == 200 and served.content == b"%PDF-"
        assert time.monotonic() - began < 20
        lines = (settings.home / "renders.log").read_text().split()
        assert len(lines) == 2 and int(lines[1]) != first  # the waiting one never began


def _ask(url: str, path: str, token: str) -> socket.socket:
    """A GET sent over a socket of its own, left open for the answer."""
    host, port = httpx.URL(url).host, httpx.URL(url).port
    sock = socket.create_connection((host, port))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    return sock


def test_a_render_running_as_the_server_stops_gets_a_503_within_the_grace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os1.server.letters as routes

    monkeypatch.setattr(routes, "_render", _seed_long_render)
    settings = server_settings(tmp_path / "home", embedder="none", shutdown_grace=2.0)
    theo = make_token(settings, "theodore")
    answers: dict[str, httpx.Response] = {}
    with live_server(settings) as (url, server), httpx.Client(base_url=url, timeout=60) as http:
        letter = _approved_letter(http, theo)

        def ask(name: str, seed: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as own:
                answers[name] = own.get(
                    f"/v1/letters/{letter}/render?seed={seed}", headers=auth(theo)
                )

        askers = [threading.Thread(target=ask, args=(name, 60)) for name in ("running", "waiting")]
        askers[0].start()
        _render_started(settings.home, 1)
        askers[1].start()
        time.sleep(0.3)
        began = time.monotonic()
        server.should_exit = True
        for asker in askers:
            asker.join(timeout=20)
        took = time.monotonic() - began
    for name in ("running", "waiting"):
        error = answers[name].json()["error"]
        assert answers[name].status_code == 503 and error["code"] == "stopping", name
        assert answers[name].headers["Retry-After"] == "5"
    assert took < 6  # the grace, not the letter's 60 s
    assert len((settings.home / "renders.log").read_text().split()) == 1


def test_a_book_of_letters_over_http(
    api: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os1.server.letters as routes

    theo, amy = make_token(settings, "theodore"), make_token(settings, "amy")
    corr = start(api, theo)
    ids = []
    for title, text in (("Paris", "Our week in Paris."), ("Home", "The porch light is on.")):
        made = api.post(
            "/v1/letters",
            headers=auth(theo),
            json={"correspondence_id": corr, "title": title, "text": text},
        )
        ids.append(made.json()["letter"]["id"])
        api.post(f"/v1/letters/{ids[-1]}/approve", headers=auth(theo), json={})
    none = api.post("/v1/letters/book", headers=auth(amy), json={"face": "typeset"})
    assert none.status_code == 400 and "no approved letters" in none.json()["error"]["message"]
    theirs = api.post("/v1/letters/book", headers=auth(amy), json={"letters": ids})
    assert theirs.status_code == 404
    made = api.post(
        "/v1/letters/book",
        headers=auth(theo),
        json={"letters": ids[::-1], "title": "Two letters", "face": "typeset"},
    )
    assert made.status_code == 200 and made.headers["content-type"] == "application/pdf"
    document = pdfium.PdfDocument(made.content)
    assert len(document) == 4  # title, contents, one page a letter
    words = [document[i].get_textpage().get_text_range() for i in range(4)]
    assert "Two letters" in words[0] and "theodore" in words[0]
    assert "Home" in words[2] and "porch light" in words[2] and "Paris" in words[3]
    monkeypatch.setattr(routes, "MAX_BOOK_CHARACTERS", 30)  # the two letters hold 40
    big = api.post("/v1/letters/book", headers=auth(theo), json={"letters": ids})
    assert big.status_code == 400
    assert "at most 30 characters" in big.json()["error"]["message"]


def test_sending_remembers_names_and_places_and_the_writer_corrects_them(
    api: TestClient, settings: Settings
) -> None:
    theo, amy = make_token(settings, "theodore"), make_token(settings, "amy")
    corr = start(api, theo)
    text = "My sweet pea,\n\nWe drove to Monterey with Aunt Jo, and Marco cooked.\n"
    letter = write_letter(api, theo, corr, "Monterey", text)
    api.post(f"/v1/letters/{letter}/approve", headers=auth(theo), json={})
    sent = api.post(f"/v1/letters/{letter}/sent", headers=auth(theo), json={"on": "2025-06-14"})
    assert sent.status_code == 200, sent.text
    assert (sent.json()["status"], sent.json()["sent_on"]) == ("sent", "2025-06-14")
    remembered = sent.json()["remembered"]
    assert [(m["kind"], m["text"], m["letter_id"]) for m in remembered] == [
        ("place", "Monterey", letter),
        ("name", "Aunt Jo", letter),
        ("name", "Marco", letter),
    ]
    listed = api.get(f"/v1/letters/correspondences/{corr}/mentions", headers=auth(theo)).json()
    assert [m["text"] for m in listed] == ["Monterey", "Aunt Jo", "Marco"]

    marco = remembered[2]["id"]
    fixed = api.patch(
        f"/v1/letters/mentions/{marco}", headers=auth(theo), json={"text": "Marco, the chef"}
    )
    assert fixed.status_code == 200 and fixed.json()["text"] == "Marco, the chef"
    assert (
        api.patch(
            f"/v1/letters/mentions/{marco}", headers=auth(amy), json={"kind": "place"}
        ).status_code
        == 404
    )
    assert (
        api.patch(
            f"/v1/letters/mentions/{marco}", headers=auth(theo), json={"kind": "food"}
        ).status_code
        == 422
    )
    gone = api.delete(f"/v1/letters/mentions/{remembered[0]['id']}", headers=auth(theo))
    assert gone.status_code == 200
    listed = api.get(f"/v1/letters/correspondences/{corr}/mentions", headers=auth(theo)).json()
    assert [m["text"] for m in listed] == ["Aunt Jo", "Marco, the chef"]

    # With "mind", the model is asked and its answer kept: Carmel, and not Ada, whom the
    # rules would have found too.
    model = FakeLLM(['[{"kind": "place", "text": "Carmel"}]'])
    server_state(api).runtime.llm = model
    again = approved(api, theo, corr, "We went on to Carmel with Ada.")
    by_mind = api.post(f"/v1/letters/{again}/sent", headers=auth(theo), json={"mind": True})
    assert by_mind.status_code == 200, by_mind.text
    assert [(m["kind"], m["text"]) for m in by_mind.json()["remembered"]] == [("place", "Carmel")]
    assert len(model.calls) == 1 and "We went on to Carmel with Ada." in model.calls[0][1].content


def server_state(api: TestClient) -> ServerState:
    state: ServerState = api.app.state.os1  # type: ignore[attr-defined]
    return state


def approved(api: TestClient, token: str, corr: int, text: str, approve: bool = True) -> int:
    """A new letter of ``text`` (approved unless asked not to); its id."""
    made = api.post(
        "/v1/letters",
        headers=auth(token),
        json={"correspondence_id": corr, "title": "T", "text": text},
    )
    assert made.status_code == 201, made.text
    letter = int(made.json()["letter"]["id"])
    if approve:
        api.post(f"/v1/letters/{letter}/approve", headers=auth(token), json={})
    return letter


@pytest.fixture
def queued(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Who waited their turn for the model; the queue answers busy (503) while ``busy`` is in
    the list."""
    scheduler = server_state(api).runtime.mind.scheduler
    real, seen = scheduler.use, []

    @asynccontextmanager
    async def use(person: int, *args: object, **kwargs: object) -> AsyncIterator[object]:
        if -1 in seen:
            raise BusyError(5)
        seen.append(person)
        async with real(person, *args, **kwargs) as ticket:  # type: ignore[arg-type]
            yield ticket

    monkeypatch.setattr(scheduler, "use", use)
    return seen


def test_sending_by_mind_checks_the_letter_before_the_model(
    api: TestClient, settings: Settings, queued: list[int]
) -> None:
    theo = make_token(settings, "theodore")
    corr = start(api, theo)
    model = FakeLLM()
    server_state(api).runtime.llm = model
    draft = approved(api, theo, corr, "We drove to Monterey.", approve=False)
    refused = api.post(f"/v1/letters/{draft}/sent", headers=auth(theo), json={"mind": True})
    assert refused.status_code == 400 and "not approved" in refused.text, refused.text
    api.post(f"/v1/letters/{draft}/approve", headers=auth(theo), json={})
    api.post(f"/v1/letters/{draft}/sent", headers=auth(theo), json={})
    again = api.post(f"/v1/letters/{draft}/sent", headers=auth(theo), json={"mind": True})
    assert again.status_code == 400 and "already sent" in again.text, again.text
    assert (queued, model.calls) == ([], [])  # no turn at the model was waited for


async def _unreachable(messages: list[Message]) -> str:
    raise ConfigError("no Ollama answers at http://127.0.0.1:9 (OS1_OLLAMA_URL)")


@pytest.mark.parametrize("trouble", ["no model", "model fails", "model busy"])
def test_sending_by_mind_without_a_model_to_be_had_sends_by_rule(
    api: TestClient, settings: Settings, queued: list[int], trouble: str
) -> None:
    theo = make_token(settings, "theodore")
    corr = start(api, theo)
    state = server_state(api)
    state.runtime.llm = None if trouble == "no model" else FakeLLM(respond=_unreachable)
    if trouble == "model busy":
        queued.append(-1)
    letter = approved(api, theo, corr, "We drove to Monterey with Aunt Jo.")
    sent = api.post(f"/v1/letters/{letter}/sent", headers=auth(theo), json={"mind": True})
    assert sent.status_code == 200, sent.text
    assert [(m["kind"], m["text"]) for m in sent.json()["remembered"]] == [
        ("place", "Monterey"),
        ("name", "Aunt Jo"),
    ]
