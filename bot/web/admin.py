"""Admin pages (FAQ status and reload, the unanswered-questions report, the dashboard) and FAQ drafts.

FAQ drafts: a ticket's question and the staff answer become a YAML entry in the faq/ schema,
shown for copying; "save" writes it to <data_dir>/faq_drafts/ticket-<id>.yaml for an admin
to review and move into faq/. Nothing is written into the live FAQ directory from the web.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path

import yaml
from aiohttp import web

from bot.db.models import utcnow
from bot.errors import HelpdeskError
from bot.web import stats, svg
from bot.web.auth import require
from bot.web.i18n import translator
from bot.web.keys import FORM, LANG, SERVICES
from bot.web.pages import render

PERIODS = (7, 30, 90)


def _days(request: web.Request) -> int:
    try:
        days = int(request.query.get("days", "30"))
    except ValueError:
        days = 30
    return days if days in PERIODS else 30


@require("admin")
async def faq_status(request: web.Request) -> web.StreamResponse:
    """Entries, version, last reload, and the errors and warnings of the last attempts."""
    holder = request.app[SERVICES].faq
    return render("console/faq.html", request, {
        "snapshot": holder.current, "last": holder.last_result, "last_error": holder.last_error,
        "directory": holder.directory, "done": request.query.get("done"),
    })


@require("admin")
async def faq_reload(request: web.Request) -> web.StreamResponse:
    """Reload the FAQ now; a broken change is rejected and the old FAQ keeps serving."""
    result = await request.app[SERVICES].faq.reload("console")
    raise web.HTTPSeeOther(f"/console/admin/faq?done={'ok' if result.ok else 'rejected'}")


@require("admin")
async def unanswered(request: web.Request) -> web.StreamResponse:
    """Escalated and unhelpful questions clustered by similarity: the seed for new FAQ entries."""
    days = _days(request)
    clusters = await stats.unanswered(request.app[SERVICES], days)
    return render("console/unanswered.html", request,
                                          {"clusters": clusters, "days": days, "periods": PERIODS})


@require("admin")
async def dashboard(request: web.Request) -> web.StreamResponse:
    """Questions per day, answer shares, median first reply, open tickets: charts as server-side SVG."""
    services, days, _ = request.app[SERVICES], _days(request), translator(request[LANG])
    data = await stats.dashboard(services, days, services.settings.tz)
    return render("console/dashboard.html", request, {
        "days": days, "periods": PERIODS, "data": data, "median": stats.duration(data.median_first_reply),
        "per_day": svg.bars([(d.strftime("%m-%d"), n) for d, n in data.per_day], title=_("per_day")),
        "shares": svg.shares([(_(a), n) for a, n in data.actions.items()], title=_("shares")),
        "open": svg.shares(list(data.open_by_status.items()), title=_("open_tickets")),
        "total": sum(data.actions.values()),
    })


# ---- FAQ drafts ---------------------------------------------------------------------------------
def drafts_dir(request: web.Request) -> Path:
    return request.app[SERVICES].settings.data_path / "faq_drafts"


async def draft_yaml(request: web.Request, ticket_id: int) -> str:
    """A one-entry FAQ file prefilled from the ticket's question and the last staff answer."""
    detail = await request.app[SERVICES].tickets.get(ticket_id)
    ticket = detail.ticket
    answers = [m.text for m in detail.messages if m.sender == "staff" and m.direction == "out"]
    asked = [m.text for m in detail.messages if m.direction == "in" and m.text != ticket.question]
    slug = re.sub(r"[^a-z0-9]+", "-", ticket.question.lower()).strip("-")[:40] or f"ticket-{ticket_id}"
    lang = ticket.lang if ticket.lang in ("zh", "en") else "zh"
    entry = {
        "id": slug if slug != f"ticket-{ticket_id}" else f"draft-ticket-{ticket_id}",
        "reviewed": utcnow().date().isoformat(),
        "sources": [],
        lang: {"question": ticket.question, "answer": answers[-1] if answers else "", "phrasings": asked[:5]},
    }
    header = (f"# FAQ draft from ticket #{ticket_id} ({datetime.now().date().isoformat()}).\n"
              f"# Check the answer, add sources and the other language, then move it into faq/.\n")
    return header + yaml.safe_dump({"topic": "drafts", "entries": [entry]}, allow_unicode=True, sort_keys=False, width=100)


def _ticket_id(request: web.Request) -> int:
    return int(request.match_info["ticket_id"])


@require()
async def draft_page(request: web.Request) -> web.StreamResponse:
    """Show the draft to copy, or to edit and save under the data directory."""
    ticket_id = _ticket_id(request)
    try:
        text = await draft_yaml(request, ticket_id)
    except HelpdeskError as exc:
        raise web.HTTPNotFound(reason=str(exc)) from None
    return render("console/draft.html", request, {
        "ticket_id": ticket_id, "yaml": text, "saved": request.query.get("saved"), "error": "",
    })


@require()
async def draft_save(request: web.Request) -> web.StreamResponse:
    """Save the (possibly edited) draft as <data_dir>/faq_drafts/ticket-<id>.yaml after checking it is YAML."""
    ticket_id, text = _ticket_id(request), request[FORM].get("yaml", "")
    try:
        parsed = yaml.safe_load(text)
        if not isinstance(parsed, dict) or not isinstance(parsed.get("entries"), list):
            raise ValueError("a draft needs a topic and a list of entries")
    except (yaml.YAMLError, ValueError) as exc:
        return render("console/draft.html", request, {
            "ticket_id": ticket_id, "yaml": text, "saved": None, "error": f"Not a valid FAQ file: {exc}"}, status=400)
    folder = drafts_dir(request)
    path = folder / f"ticket-{ticket_id}.yaml"  # the name comes from the numeric route, never from the form

    def write() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("\r\n", "\n"), encoding="utf-8")

    await asyncio.to_thread(write)
    raise web.HTTPSeeOther(f"/console/tickets/{ticket_id}/draft?saved={path.name}")
