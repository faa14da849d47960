"""The SME web chat: a page at `/` and a JSON endpoint the page posts questions to."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import aiohttp_jinja2
from aiohttp import web

from bot.conversation import Reply
from bot.web.keys import SERVICES

VISITOR_COOKIE = "hd_visitor"


def _csrf_for(request: web.Request, visitor: str) -> str:
    key = request.app[SERVICES].settings.web.secret_key.encode()
    return hmac.new(key, f"chat:{visitor}".encode(), hashlib.sha256).hexdigest()


async def page(request: web.Request) -> web.Response:
    """Serve the chat page; a first visit gets a random visitor id in an HttpOnly cookie."""
    visitor = request.cookies.get(VISITOR_COOKIE)
    new = not visitor
    visitor = visitor or secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template("chat.html", request, {"csrf": _csrf_for(request, visitor)})
    if new:
        response.set_cookie(VISITOR_COOKIE, visitor, httponly=True, samesite="Lax", max_age=365 * 86400)
    return response


async def ask(request: web.Request) -> web.Response:
    """Take one question; it is stored and answered before this response is sent."""
    visitor = request.cookies.get(VISITOR_COOKIE)
    if not visitor:
        return web.json_response({"error": "no chat session; reload the page"}, status=401)
    if not hmac.compare_digest(request.headers.get("X-CSRF-Token", ""), _csrf_for(request, visitor)):
        return web.json_response({"error": "bad CSRF token; reload the page"}, status=403)
    try:
        body = await request.json()
        text = body["text"]
        assert isinstance(text, str)
    except (ValueError, KeyError, TypeError, AssertionError):
        return web.json_response({"error": "send JSON like {\"text\": \"your question\"}"}, status=400)
    reply = await request.app[SERVICES].conversation.ask("web", visitor, text, lang=body.get("lang") or None)
    return web.json_response(reply_json(reply))


def reply_json(reply: Reply) -> dict:
    return {
        "kind": reply.kind, "lang": reply.lang, "text": reply.text, "entry_id": reply.entry_id,
        "sources": list(reply.sources), "reviewed": reply.reviewed.isoformat() if reply.reviewed else None,
        "related": [{"entry_id": e, "question": q} for e, q in reply.related],
        "choices": [{"entry_id": e, "question": q} for e, q in reply.choices],
        "ticket_id": reply.ticket_id, "log_id": reply.log_id,
    }
