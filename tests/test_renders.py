"""The render process: closing the server stops a render in progress at once."""

from __future__ import annotations

import asyncio
import time

import pytest

from os1.server.errors import APIError
from os1.server.renders import Renders


def test_closing_stops_a_render_in_progress() -> None:
    async def scenario() -> float:
        renders = Renders()
        assert await renders.run(pow, 2, 10) == 1024  # started, and warm
        long = asyncio.ensure_future(renders.run(time.sleep, 60))
        await asyncio.sleep(0.5)
        began = time.monotonic()
        renders.close()
        with pytest.raises(APIError, match="stopped before it was done"):
            await asyncio.wait_for(long, 20)
        return time.monotonic() - began

    assert asyncio.run(scenario()) < 10
