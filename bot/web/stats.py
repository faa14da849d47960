"""Figures for the dashboard and the unanswered-questions report, read from QuestionLog and tickets.

Everything is computed from the database, so every process (and every restart) agrees.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz
from sqlalchemy import false, func, or_, select

from bot.db.models import QuestionLog, Ticket, utcnow
from bot.faq.normalize import normalize
from bot.services import Services

SIMILAR = 72  # rapidfuzz token_set_ratio above which two questions are "the same question"
MAX_REPORT_ROWS = 2000


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Cluster:
    """Questions that read alike: one candidate FAQ entry."""

    key: str
    examples: list[str] = field(default_factory=list)
    count: int = 0
    escalated: int = 0
    not_helpful: int = 0
    last: datetime | None = None


async def unanswered(services: Services, days: int) -> list[Cluster]:
    """Escalated and "not helpful" questions of the last `days` days, grouped by similarity, biggest first."""
    since = utcnow() - timedelta(days=days)
    async with services.sessions() as s:
        rows = (await s.execute(
            select(QuestionLog.text, QuestionLog.action, QuestionLog.helpful, QuestionLog.created_at)
            .where(QuestionLog.created_at >= since,
                   or_(QuestionLog.action == "escalate", QuestionLog.helpful == false()))
            .order_by(QuestionLog.id.desc()).limit(MAX_REPORT_ROWS))).all()
    clusters: list[Cluster] = []
    for text, action, helpful, created in rows:
        key = normalize(text) or text
        best = max(clusters, key=lambda c: fuzz.token_set_ratio(key, c.key), default=None)
        if best is None or fuzz.token_set_ratio(key, best.key) < SIMILAR:
            best = Cluster(key)
            clusters.append(best)
        best.count += 1
        best.escalated += action == "escalate"
        best.not_helpful += helpful is False
        best.last = max(best.last or _utc(created), _utc(created))
        if len(best.examples) < 5 and text not in best.examples:
            best.examples.append(text)
    return sorted(clusters, key=lambda c: (-c.count, -(c.last or since).timestamp()))


@dataclass(frozen=True)
class Dashboard:
    per_day: list[tuple[date, int]]
    actions: dict[str, int]
    median_first_reply: timedelta | None
    open_by_status: dict[str, int]


async def dashboard(services: Services, days: int, tz: ZoneInfo) -> Dashboard:
    now = utcnow()
    since = now - timedelta(days=days)
    async with services.sessions() as s:
        logs = (await s.execute(select(QuestionLog.created_at, QuestionLog.action)
                                .where(QuestionLog.created_at >= since))).all()
        firsts = (await s.execute(select(Ticket.created_at, Ticket.first_response_at)
                                  .where(Ticket.created_at >= since, Ticket.first_response_at.is_not(None)))).all()
        by_status = dict((await s.execute(select(Ticket.status, func.count()).where(Ticket.status != "closed")
                                          .group_by(Ticket.status))).all())
    today = now.astimezone(tz).date()
    counts = Counter(_utc(at).astimezone(tz).date() for at, _ in logs)
    per_day = [(today - timedelta(days=i), counts.get(today - timedelta(days=i), 0)) for i in range(days - 1, -1, -1)]
    actions = Counter(action for _, action in logs)
    waits = [_utc(first) - _utc(created) for created, first in firsts]
    median = timedelta(seconds=statistics.median(w.total_seconds() for w in waits)) if waits else None
    return Dashboard(per_day, {a: actions.get(a, 0) for a in ("answer", "suggest", "escalate")}, median,
                     {st: by_status.get(st, 0) for st in ("open", "claimed", "answered")})


def duration(value: timedelta | None) -> str:
    if value is None:
        return "–"
    minutes = int(value.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"
