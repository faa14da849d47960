"""Liveness with a database check, and Prometheus metrics read from the database.

The metrics are computed from the tables at scrape time (no in-process counters), so every
process reports the same totals and a restart loses nothing; the text format is written here
directly, which needs no extra dependency for a dozen series.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import case, func, select, text

from bot.db.models import Message, Outbox, QuestionLog, Ticket
from bot.web.keys import SERVICES

LATENCY_BUCKETS_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise."""
    services = request.app[SERVICES]
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:
        return web.json_response({"status": "error", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok", "faq_entries": len(services.faq.current.faq)})


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


async def metrics(request: web.Request) -> web.Response:
    """Messages, matcher decisions, tickets by status, outbox state and matcher latency, in Prometheus text format."""
    services = request.app[SERVICES]
    buckets = [func.sum(case((QuestionLog.latency_ms <= b, 1), else_=0)) for b in LATENCY_BUCKETS_MS]
    async with services.sessions() as s:
        messages = (await s.execute(select(Message.direction, Message.sender, func.count())
                                    .group_by(Message.direction, Message.sender))).all()
        decisions = (await s.execute(select(QuestionLog.action, func.count()).group_by(QuestionLog.action))).all()
        tickets = (await s.execute(select(Ticket.status, func.count()).group_by(Ticket.status))).all()
        outbox = (await s.execute(select(Outbox.status, func.count()).group_by(Outbox.status))).all()
        hist = (await s.execute(select(func.count(), func.coalesce(func.sum(QuestionLog.latency_ms), 0.0), *buckets))).one()
    out = ["# HELP helpdesk_messages_total Messages stored, by direction and sender.",
           "# TYPE helpdesk_messages_total counter"]
    out += [f'helpdesk_messages_total{{direction="{_label(d)}",sender="{_label(s)}"}} {n}' for d, s, n in messages]
    out += ["# HELP helpdesk_decisions_total Matcher decisions, by action.", "# TYPE helpdesk_decisions_total counter"]
    out += [f'helpdesk_decisions_total{{action="{_label(a)}"}} {n}' for a, n in decisions]
    out += ["# HELP helpdesk_tickets Tickets, by status.", "# TYPE helpdesk_tickets gauge"]
    out += [f'helpdesk_tickets{{status="{_label(st)}"}} {n}' for st, n in tickets]
    out += ["# HELP helpdesk_outbox Outbox rows, by status.", "# TYPE helpdesk_outbox gauge"]
    out += [f'helpdesk_outbox{{status="{_label(st)}"}} {n}' for st, n in outbox]
    count, total = hist[0] or 0, float(hist[1] or 0)
    out += ["# HELP helpdesk_decision_latency_seconds Time the matcher took per question.",
            "# TYPE helpdesk_decision_latency_seconds histogram"]
    for bound, n in zip(LATENCY_BUCKETS_MS, hist[2:], strict=True):
        out.append(f'helpdesk_decision_latency_seconds_bucket{{le="{bound / 1000:g}"}} {n or 0}')
    out += [f'helpdesk_decision_latency_seconds_bucket{{le="+Inf"}} {count}',
            f"helpdesk_decision_latency_seconds_sum {total / 1000:g}", f"helpdesk_decision_latency_seconds_count {count}"]
    return web.Response(text="\n".join(out) + "\n", content_type="text/plain", headers={"X-Content-Type-Options": "nosniff"},
                        charset="utf-8")
