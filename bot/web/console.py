"""The staff console: the live queue, a ticket's page and the actions on it.

Views parse the request, call TicketService and render; domain errors (AlreadyClaimed,
Forbidden, InvalidState, NotFound) come back as the ticket page with a flash and an HTTP error status.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from bot.db.models import utcnow
from bot.errors import HelpdeskError, InvalidState
from bot.events import Event
from bot.staff_accounts import list_staff
from bot.web import live
from bot.web.auth import require
from bot.web.keys import FORM, SERVICES, STAFF
from bot.web.middleware import domain_status
from bot.web.pages import render

VIEWS = ("all", "mine", "unclaimed")
ACTIONS = ("claim", "release", "close", "reopen", "transfer", "reply", "note")


def age(since: datetime, now: datetime | None = None) -> str:
    """A short age like 5m, 3h, 2d for the queue table."""
    now = now or utcnow()
    if since.tzinfo is None:
        since = since.replace(tzinfo=now.tzinfo)
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}"
    return f"{minutes // 1440}d"


def _queue_args(request: web.Request) -> dict:
    view = request.query.get("view", "all")
    return {"view": view if view in VIEWS else "all", "search": request.query.get("q", "").strip()[:200],
            "include_closed": request.query.get("closed") == "1"}


async def _rows(request: web.Request) -> dict:
    args = _queue_args(request)
    tickets = await request.app[SERVICES].tickets.list(args["view"], staff_id=request[STAFF].id,
                                                        include_closed=args["include_closed"], search=args["search"] or None)
    return {**args, "tickets": tickets, "age": age, "now": utcnow()}


@require()
async def queue(request: web.Request) -> web.StreamResponse:
    """The queue page: mine / unclaimed / all, with search; it refreshes itself on queue events."""
    return render("console/queue.html", request, await _rows(request))


@require(api=True)
async def queue_rows(request: web.Request) -> web.StreamResponse:
    """Only the table body, for the live refresh."""
    return render("console/_rows.html", request, await _rows(request))


async def _ticket_context(request: web.Request, ticket_id: int) -> dict:
    services = request.app[SERVICES]
    detail = await services.tickets.get(ticket_id)
    staff = await list_staff(services.sessions, active_only=False)
    names = {s.id: s.display_name or s.username for s in staff}
    return {"d": detail, "t": detail.ticket, "names": names, "age": age,
            "others": [s for s in staff if s.active and s.id != request[STAFF].id]}


def _ticket_id(request: web.Request) -> int:
    try:
        return int(request.match_info["ticket_id"])
    except ValueError:
        raise web.HTTPNotFound() from None


@require()
async def ticket_page(request: web.Request) -> web.StreamResponse:
    """The conversation, the matcher's guesses, notes, history and the action forms."""
    try:
        context = await _ticket_context(request, _ticket_id(request))
    except HelpdeskError as exc:
        raise web.HTTPNotFound(reason=str(exc)) from None
    return render("console/ticket.html", request, {**context, "flash": request.query.get("done")})


@require(api=True)
async def ticket_conversation(request: web.Request) -> web.StreamResponse:
    """Only the conversation, for the live refresh of an open ticket page."""
    try:
        context = await _ticket_context(request, _ticket_id(request))
    except HelpdeskError as exc:
        raise web.HTTPNotFound(reason=str(exc)) from None
    return render("console/_conversation.html", request, context)


@require()
async def ticket_action(request: web.Request) -> web.StreamResponse:
    """Claim, release, close, reopen, transfer, reply or note; then back to the ticket page."""
    ticket_id, action = _ticket_id(request), request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    tickets, staff_id, form = request.app[SERVICES].tickets, request[STAFF].id, request[FORM]
    try:
        if action in ("reply", "note"):
            text = form.get("text", "").strip()
            limit = request.app[SERVICES].settings.web.max_message_chars
            if not text:
                raise InvalidState("Type a message first.")
            if len(text) > limit:
                raise InvalidState(f"The message is too long ({len(text)} characters; at most {limit}).")
            await (tickets.reply if action == "reply" else tickets.add_note)(ticket_id, staff_id, text)
        elif action == "transfer":
            try:
                to = int(form.get("to", ""))
            except ValueError:
                raise InvalidState("Choose who to transfer the ticket to.") from None
            await tickets.transfer(ticket_id, staff_id, to)
        else:
            await getattr(tickets, action)(ticket_id, staff_id)
    except HelpdeskError as exc:
        try:
            context = await _ticket_context(request, ticket_id)
        except HelpdeskError:
            raise web.HTTPNotFound(reason=str(exc)) from None
        return render("console/ticket.html", request, {**context, "error": str(exc)},
                                              status=domain_status(exc))
    raise web.HTTPSeeOther(f"/console/tickets/{ticket_id}?done={action}")


@require(api=True)
async def events(request: web.Request) -> web.StreamResponse:
    """The live stream for the queue and ticket pages: which ticket changed (no user text)."""

    async def accept(event: Event) -> dict | None:
        if event.kind.startswith("ticket.") or event.kind == "user.forgotten":
            return {"kind": event.kind, "ticket_id": event.ticket_id}
        return None

    return await live.stream(request, accept)

