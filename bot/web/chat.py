"""The SME web chat: the page at `/` and the JSON endpoints it calls, all through Conversation.

A visitor is a random id in an HttpOnly cookie; every POST carries an HMAC of it as the CSRF
token (X-CSRF-Token). Staff replies arrive live: the page holds a server-sent-events stream
that only says "something new for you", then asks for "messages since id N".
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import tzinfo

from aiohttp import web
from sqlalchemy import select

from bot.conversation import Reply
from bot.db.models import Message, Ticket, User
from bot.events import Event
from bot.services import Services
from bot.texts import t
from bot.tickets import status_text
from bot.web import live
from bot.web.i18n import translator
from bot.web.keys import LANG, SERVICES
from bot.web.pages import render

VISITOR_COOKIE = "hd_visitor"
CHANNEL = "web"
HISTORY = 100  # messages shown when the page is opened again


def _csrf_for(request: web.Request, visitor: str) -> str:
    key = request.app[SERVICES].settings.web.secret_key.encode()
    return hmac.new(key, f"chat:{visitor}".encode(), hashlib.sha256).hexdigest()


def _set_visitor(request: web.Request, response: web.StreamResponse, visitor: str) -> None:
    secure = request.app[SERVICES].settings.web.public_url.startswith("https://")
    response.set_cookie(VISITOR_COOKIE, visitor, httponly=True, samesite="Lax", secure=secure, max_age=365 * 86400)


async def _find_user(services: Services, visitor: str) -> User | None:
    async with services.sessions() as s:
        return await s.scalar(select(User).where(User.channel == CHANNEL, User.external_id == visitor))


async def _history(services: Services, user: User | None, since: int = 0, staff_only: bool = False) -> list[dict]:
    """The visitor's messages (never internal notes); with staff_only, just what staff and the system sent."""
    if user is None:
        return []
    q = select(Message).where(Message.user_id == user.id, Message.direction != "internal", Message.id > since)
    if staff_only:
        q = q.where(Message.direction == "out", Message.sender.in_(("staff", "system")))
    async with services.sessions() as s:
        rows = (await s.scalars(q.order_by(Message.id.desc()).limit(HISTORY))).all()
    return [{"id": m.id, "sender": m.sender, "text": m.text, "at": m.created_at.isoformat()} for m in reversed(rows)]


async def page(request: web.Request) -> web.Response:
    """Serve the chat page with this visitor's history; a first visit gets a random visitor id."""
    services = request.app[SERVICES]
    visitor = request.cookies.get(VISITOR_COOKIE)
    new = not visitor
    visitor = visitor or secrets.token_urlsafe(24)
    history = [] if new else await _history(services, await _find_user(services, visitor))
    response = render("chat.html", request, {
        "csrf": _csrf_for(request, visitor), "history": history, "last_id": max((m["id"] for m in history), default=0),
        "max_chars": services.settings.web.max_message_chars,
    })
    if new:
        _set_visitor(request, response, visitor)
    return response


async def _visitor_and_body(request: web.Request) -> tuple[str, dict]:
    """The visitor id after the CSRF check, and the JSON body (or {})."""
    visitor = request.cookies.get(VISITOR_COOKIE)
    if not visitor:
        raise _error(401, "no chat session; reload the page")
    if not hmac.compare_digest(request.headers.get("X-CSRF-Token", "").encode(), _csrf_for(request, visitor).encode()):
        raise _error(403, "bad CSRF token; reload the page")
    if not request.can_read_body:
        return visitor, {}
    try:
        body = await request.json()
    except ValueError:
        raise _error(400, 'send JSON like {"text": "your question"}') from None
    if not isinstance(body, dict):
        raise _error(400, 'send JSON like {"text": "your question"}')
    return visitor, body


_STATUS = {400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden}


def _error(status: int, message: str) -> web.HTTPException:
    """A JSON error the page shows as it is."""
    return _STATUS[status](text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json")


def _lang(request: web.Request, body: dict) -> str | None:
    lang = body.get("lang")
    return lang if lang in ("zh", "en") else None


async def ask(request: web.Request) -> web.Response:
    """Take one question; it is stored and answered before this response is sent."""
    visitor, body = await _visitor_and_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise _error(400, 'send JSON like {"text": "your question"}')
    limit = request.app[SERVICES].settings.web.max_message_chars
    if len(text.strip()) > limit:
        raise _error(400, translator(_lang(request, body) or request[LANG])("too_long", max=limit))
    reply = await request.app[SERVICES].conversation.ask(CHANNEL, visitor, text, lang=_lang(request, body))
    return web.json_response(reply_json(reply))


async def choose(request: web.Request) -> web.Response:
    """The visitor pressed one of the suggested (or related) questions."""
    visitor, body = await _visitor_and_body(request)
    entry_id = body.get("entry_id")
    if not isinstance(entry_id, str) or not entry_id:
        raise _error(400, 'send JSON like {"entry_id": "..."}')
    lang = _lang(request, body) or request[LANG]
    return web.json_response(reply_json(await request.app[SERVICES].conversation.choose(CHANNEL, visitor, entry_id, lang)))


async def human(request: web.Request) -> web.Response:
    """"Ask a person": open (or join) a ticket with the visitor's last question."""
    visitor, body = await _visitor_and_body(request)
    services, lang = request.app[SERVICES], _lang(request, body) or request[LANG]
    user = await services.conversation.user(CHANNEL, visitor)
    text = body.get("text") if isinstance(body.get("text"), str) else None
    ticket = await services.tickets.active_ticket(user.id)
    if ticket is not None and not text:  # already with staff: say so, rather than filing the last question again
        return web.json_response({**_status_json(ticket, lang, services.settings.tz), "kind": "joined"})
    reply = await services.conversation.request_human(user, text, lang)
    return web.json_response(reply_json(reply))


async def feedback(request: web.Request) -> web.Response:
    """"Was this helpful?": a "no" hands the question to a person."""
    visitor, body = await _visitor_and_body(request)
    log_id, helpful = body.get("log_id"), body.get("helpful")
    if not isinstance(log_id, int) or not isinstance(helpful, bool):
        raise _error(400, 'send JSON like {"log_id": 1, "helpful": true}')
    reply = await request.app[SERVICES].conversation.feedback(CHANNEL, visitor, log_id, helpful)
    return web.json_response(reply_json(reply) if reply else {"kind": "thanks"})


async def status(request: web.Request) -> web.Response:
    """The state of the visitor's open ticket, in words."""
    visitor, body = await _visitor_and_body(request)
    services, lang = request.app[SERVICES], _lang(request, body) or request[LANG]
    user = await _find_user(services, visitor)
    ticket = await services.tickets.active_ticket(user.id) if user else None
    if ticket is None:
        return web.json_response({"kind": "notice", "text": t("no_ticket", lang), "ticket_id": None})
    return web.json_response(_status_json(ticket, lang, services.settings.tz))


def _status_json(ticket: Ticket, lang: str, tz: tzinfo) -> dict:
    return {"kind": "notice", "text": status_text(ticket, lang, tz), "ticket_id": ticket.id, "status": ticket.status}


async def withdraw(request: web.Request) -> web.Response:
    """The visitor closes their own open ticket."""
    visitor, body = await _visitor_and_body(request)
    services, lang = request.app[SERVICES], _lang(request, body) or request[LANG]
    user = await _find_user(services, visitor)
    ticket = await services.tickets.withdraw(user.id) if user else None
    text = t("withdrawn", lang, ticket=ticket.id) if ticket else t("no_ticket", lang)
    return web.json_response({"kind": "notice", "text": text, "ticket_id": ticket.id if ticket else None})


async def forget(request: web.Request) -> web.Response:
    """Delete everything about this visitor (the page asked them to confirm), then start afresh."""
    visitor, body = await _visitor_and_body(request)
    if body.get("confirm") is not True:
        raise _error(400, 'confirm with {"confirm": true}')
    await request.app[SERVICES].conversation.forget(CHANNEL, visitor)
    response = web.json_response({"kind": "notice", "text": t("forgotten", _lang(request, body) or request[LANG])})
    response.del_cookie(VISITOR_COOKIE)
    return response


async def messages(request: web.Request) -> web.Response:
    """Staff and system messages for this visitor with an id above `since` (the live page's catch-up)."""
    visitor = request.cookies.get(VISITOR_COOKIE)
    if not visitor:
        raise _error(401, "no chat session; reload the page")
    try:
        since = max(0, int(request.query.get("since", "0")))
    except ValueError:
        raise _error(400, "since must be a message id") from None
    services = request.app[SERVICES]
    found = await _history(services, await _find_user(services, visitor), since, staff_only=True)
    return web.json_response({"messages": found})


async def events(request: web.Request) -> web.StreamResponse:
    """A stream that says "new for you" when staff write to one of this visitor's tickets."""
    visitor = request.cookies.get(VISITOR_COOKIE)
    if not visitor:
        raise _error(401, "no chat session; reload the page")
    return await live.stream(request, OwnTickets(request.app[SERVICES], visitor).accept)


class OwnTickets:
    """Which tickets are this visitor's, asked of the database once per ticket and remembered, within a bound.

    A chat page stays open for days and hears about every ticket in the helpdesk: remembering
    each answer forever made every open page grow with the whole queue. The visitor's own
    tickets are few and always kept; the others are forgotten oldest first beyond `others`.
    """

    def __init__(self, services: Services, visitor: str, others: int = 256):
        self.services, self.visitor, self.limit = services, visitor, others
        self.mine: set[int] = set()
        self.others: dict[int, None] = {}  # insertion-ordered: the oldest is forgotten first

    async def accept(self, event: Event) -> dict | None:
        if event.kind == "chat.message":
            return {"ticket_id": event.ticket_id} if event.data.get("visitor") == self.visitor else None
        if event.ticket_id is None or event.kind not in ("ticket.message", "ticket.updated"):
            return None
        return {"ticket_id": event.ticket_id} if await self.is_mine(event.ticket_id) else None

    async def is_mine(self, ticket_id: int) -> bool:
        if ticket_id in self.mine:
            return True
        if ticket_id in self.others:
            return False
        async with self.services.sessions() as s:
            owner = await s.scalar(select(User.external_id).join(Ticket, Ticket.user_id == User.id)
                                   .where(Ticket.id == ticket_id, User.channel == CHANNEL))
        if owner == self.visitor:
            self.mine.add(ticket_id)
            return True
        self.others[ticket_id] = None
        if len(self.others) > self.limit:
            del self.others[next(iter(self.others))]
        return False


def reply_json(reply: Reply) -> dict:
    return {
        "kind": reply.kind, "lang": reply.lang, "text": reply.text, "entry_id": reply.entry_id,
        "sources": list(reply.sources), "reviewed": reply.reviewed.isoformat() if reply.reviewed else None,
        "related": [{"entry_id": e, "question": q} for e, q in reply.related],
        "choices": [{"entry_id": e, "question": q} for e, q in reply.choices],
        "ticket_id": reply.ticket_id, "log_id": reply.log_id,
    }
