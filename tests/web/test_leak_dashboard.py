"""Issue 8's soak: the dashboard must not cost memory in proportion to the questions of its period.

It once loaded every QuestionLog row of the last 30 days into Python on each view (~300 bytes a
question), so under steady traffic the server's memory grew with the table. Now the database
counts; these tests check the figures against a count in Python and that a view's peak memory
does not grow with the table, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import tracemalloc
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from bot.db.models import QuestionLog, Ticket, utcnow
from bot.web import stats

ACTIONS = ("answer", "suggest", "escalate")


async def add_questions(services, moments: list[datetime]) -> None:
    rows = [{"channel": "web", "lang": "en", "text": f"question {i}", "action": ACTIONS[i % 3], "created_at": at}
            for i, at in enumerate(moments)]
    async with services.sessions.begin() as s:
        await s.execute(insert(QuestionLog), rows)


async def peak_bytes(services, tz: ZoneInfo) -> int:
    """Peak Python memory allocated while the dashboard is computed (all threads, so aiosqlite's too)."""
    tracemalloc.start()
    try:
        await stats.dashboard(services, 30, tz)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def test_a_dashboard_view_does_not_grow_with_the_questions_table(services):
    tz = ZoneInfo("Asia/Shanghai")
    now = utcnow()
    await add_questions(services, [now - timedelta(minutes=i) for i in range(1000)])
    await stats.dashboard(services, 30, tz)  # first use compiles and caches the statements
    small = await peak_bytes(services, tz)
    await add_questions(services, [now - timedelta(minutes=i, seconds=30) for i in range(20_000)])
    large = await peak_bytes(services, tz)
    # Loading the rows costs ~300 bytes per question: 20,000 more would add ~6 MB.
    assert large - small < 400_000, (small, large)


async def test_dashboard_figures_match_a_count_in_python(services):
    tz = ZoneInfo("America/New_York")  # a zone with an offset and (some years) a DST change inside the period
    now = utcnow()
    today = now.astimezone(tz).date()
    moments = []
    for days_back in range(0, 34):  # a few outside the 30 days too
        midnight = datetime.combine(today - timedelta(days=days_back), time.min, tzinfo=tz).astimezone(UTC)
        for offset in (timedelta(seconds=-1), timedelta(0), timedelta(seconds=1), timedelta(hours=13)):
            at = midnight + offset
            if at <= now:
                moments.append(at)
    await add_questions(services, moments)
    user = await services.conversation.user("web", "dashboard-visitor")
    async with services.sessions.begin() as s:
        for minutes, age_days in ((10, 1), (30, 2), (50, 3), (70, 40)):  # the 40-day-old one is outside the period
            created = now - timedelta(days=age_days)
            s.add(Ticket(user_id=user.id, channel="web", lang="en", question="q", status="closed", created_at=created,
                         first_response_at=created + timedelta(minutes=minutes)))
    data = await stats.dashboard(services, 30, tz)

    async with services.sessions() as s:
        logged = (await s.execute(select(QuestionLog.created_at, QuestionLog.action))).all()
    since = now - timedelta(days=30)
    in_period = [(stats._utc(at), action) for at, action in logged if stats._utc(at) >= since]
    per_day = Counter(at.astimezone(tz).date() for at, _ in in_period)
    assert data.per_day == [(today - timedelta(days=i), per_day.get(today - timedelta(days=i), 0)) for i in range(29, -1, -1)]
    assert sum(n for _, n in data.per_day) > 100
    assert data.actions == {a: sum(1 for _, action in in_period if action == a) for a in ACTIONS}
    assert data.median_first_reply == timedelta(minutes=30)
