"""The one routing table of the web application."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.web import chat, health

STATIC = Path(__file__).resolve().parent / "static"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", chat.page, name="chat")
    app.router.add_post("/api/chat/ask", chat.ask, name="chat-ask")
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_static("/static/", STATIC, name="static")
