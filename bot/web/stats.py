"""Figures for the dashboard and the unanswered-questions report, read from QuestionLog and tickets.

Everything is computed from the database, so every process (and every restart) agrees.
"""

from __future__ import annotations

import statistics
from array import array
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz
from sqlalchemy import case, false, func, or_, select

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
    """The figures, counted by the database: memory and time stay flat however many questions the period holds.

    (Loading every QuestionLog row of the period, as this once did, made each view cost ~300 bytes
    per question: under steady traffic the server's memory grew with the table.)
    """
    now = utcnow()
    since = now - timedelta(days=days)
    today = now.astimezone(tz).date()
    dates = [today - timedelta(days=i) for i in range(days - 1, -1, -1)]
    # The UTC moment each local day starts; stored times are UTC, so they compare as they are.
    starts = [datetime.combine(d, time.min, tzinfo=tz).astimezone(UTC) for d in dates]
    at = QuestionLog.created_at
    async with services.sessions() as s:
        # One row: how many questions since the start of each day; a day's count is the difference.
        since_start = (await s.execute(select(*(func.count(case((at >= start, 1))) for start in starts))
                                       .where(at >= starts[0]))).one()
        actions = dict((await s.execute(select(QuestionLog.action, func.count()).where(at >= since)
                                        .group_by(QuestionLog.action))).all())
        waits = array("d")
        rows = await s.stream(select(Ticket.created_at, Ticket.first_response_at)
                              .where(Ticket.created_at >= since, Ticket.first_response_at.is_not(None))
                              .execution_options(yield_per=1000))
        async for part in rows.partitions():
            waits.extend((_utc(first) - _utc(created)).total_seconds() for created, first in part)
        by_status = dict((await s.execute(select(Ticket.status, func.count()).where(Ticket.status != "closed")
                                          .group_by(Ticket.status))).all())
    counts = [n - (since_start[i + 1] if i + 1 < days else 0) for i, n in enumerate(since_start)]
    median = timedelta(seconds=statistics.median(waits)) if waits else None
    return Dashboard(list(zip(dates, counts, strict=True)), {a: actions.get(a, 0) for a in ("answer", "suggest", "escalate")},
                     median, {st: by_status.get(st, 0) for st in ("open", "claimed", "answered")})


def duration(value: timedelta | None) -> str:
    if value is None:
        return "–"
    minutes = int(value.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"
