"""Server-sent events: one stream per open page, fed by the event bus.

A page gets only a hint ("ticket 12 changed"); it then fetches the fresh fragment over
ordinary GETs, so the stream never carries user text and a missed hint costs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.events import Event
from bot.web.keys import LIVE_QUEUES, SERVICES
from bot.web.middleware import HEADERS

log = logging.getLogger(__name__)
KEEPALIVE_SECONDS = 15.0
Filter = Callable[[Event], Awaitable[dict | None]]


async def stream(request: web.Request, accept: Filter) -> web.StreamResponse:
    """Send `event: update` with accept(event)'s dict for every event it lets through, until the page goes."""
    services = request.app[SERVICES]
    response = web.StreamResponse(headers={**HEADERS, "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    queue: asyncio.Queue = services.events.open_queue()
    live = request.app[LIVE_QUEUES]
    live.add(queue)
    try:
        await response.write(b"retry: 3000\n: connected\n\n")
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if event is None:  # the application is shutting down
                break
            try:
                data = await accept(event)
            except Exception:  # e.g. the database is away: end this stream; the page reconnects after `retry`
                log.warning("live stream: dropping a page after a failed event check", exc_info=True)
                break
            if data is not None:
                await response.write(f"event: update\ndata: {json.dumps(data)}\n\n".encode())
    except ConnectionResetError:  # the page went away
        pass
    finally:
        live.discard(queue)
        services.events.close_queue(queue)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


async def end_streams(app: web.Application) -> None:
    """on_shutdown: tell every open stream to finish, so shutdown does not wait for idle pages."""
    for queue in list(app[LIVE_QUEUES]):
        if queue.full():
            queue.get_nowait()
        queue.put_nowait(None)
