"""Running the server with uvicorn, with a graceful stop."""

from __future__ import annotations

import logging
import sys

import uvicorn

from os1.server.app import create_app
from os1.settings import Settings

log = logging.getLogger("os1.server")
EXAMPLE = '{"model": "samantha", "messages": [{"role": "user", "content": "hi"}]}'


def banner(settings: Settings) -> str:
    base = f"http://{settings.host}:{settings.port}"
    return (
        f"OS1 is listening on {base} (API docs: {base}/docs).\n"
        f"Make a token:  os1 person add NAME\n"
        f"Then talk:     any OpenAI client with base URL {base}/v1, the token as API key, "
        "and model samantha;\n"
        f"               or  curl {base}/v1/chat/completions -H 'Authorization: Bearer TOKEN' "
        "-H 'Content-Type: application/json' "
        '-d \'{"model": "samantha", "messages": [{"role": "user", "content": "hi"}]}\'\n'
        "Stop with Ctrl-C: replies in flight get time to finish."
    )


async def serve(settings: Settings) -> int:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace),
        ws="websockets-sansio",
        lifespan="on",
    )
    server = uvicorn.Server(config)
    sys.stderr.write(banner(settings) + "\n")
    await server.serve()
    return 0 if server.started else 1
