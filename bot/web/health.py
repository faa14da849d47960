"""Liveness with a database check, for load balancers and monitoring."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from bot.web.keys import SERVICES


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise."""
    services = request.app[SERVICES]
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "faq_entries": len(services.faq.current.faq)})
