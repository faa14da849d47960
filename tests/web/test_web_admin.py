"""Admin pages, metrics and health through aiohttp's test client, on data made by the real services."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

from sqlalchemy import update

from bot.db.models import QuestionLog, Ticket, utcnow
from web.webtools import login


async def logged(services, text: str, action: str, helpful: bool | None = None, days_ago: float = 0, latency_ms: float = 3.0):
    """A QuestionLog row as the conversation writes it (seeded directly: the matcher's tuning must not move these tests)."""
    async with services.sessions.begin() as s:
        s.add(QuestionLog(channel="web", lang="zh", text=text, action=action, helpful=helpful, latency_ms=latency_ms,
                          created_at=utcnow() - timedelta(days=days_ago)))


async def test_faq_status_and_reload(services, web, accounts, tmp_path):
    csrf = await login(web, "root")
    page = await (await web.get("/console/admin/faq", headers={"Accept-Language": "en"})).text()
    assert "Entries</dt><dd>" + str(len(services.faq.current.faq)) in page
    assert "Version</dt><dd>1" in page
    resp = await web.post("/console/admin/faq/reload", data={"csrf": csrf})
    assert resp.status == 200 and services.faq.current.version == 2
    assert "FAQ reloaded (console): version 2" in await resp.text()


async def test_a_broken_faq_reload_is_rejected_and_shown(services, web, accounts, tmp_path):
    faq_dir = tmp_path / "faq"
    shutil.copytree(services.settings.faq_path, faq_dir)
    services.faq.directory = faq_dir
    (faq_dir / "broken.yaml").write_text("topic: x\nentries:\n  - id: [unclosed\n", encoding="utf-8")
    csrf = await login(web, "root")
    resp = await web.post("/console/admin/faq/reload", data={"csrf": csrf})
    body = await resp.text()
    assert "FAQ change rejected (console)" in body and "broken.yaml" in body
    assert services.faq.current.version == 1


async def test_unanswered_questions_are_clustered_with_counts(services, web, accounts):
    for text in ["如何在美国申请专利", "怎么在美国申请专利？", "如何在美国申请专利呢", "what is the weather like"]:
        await logged(services, text, "escalate")
    await logged(services, "小专利保护几年", "answer", helpful=False)
    await logged(services, "发明专利保护几年", "answer", helpful=True)  # helpful answers are not in the report
    await logged(services, "an old unanswered question about trademarks", "escalate", days_ago=40)
    await login(web, "root")
    body = await (await web.get("/console/admin/unanswered?days=30")).text()
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", body)
    assert rows[0] == ("3", "3", "0")  # the three "patent in the USA" questions are one cluster, first
    assert ("1", "0", "1") in rows  # the unhelpful answer
    assert "美国申请专利" in body and "trademarks" not in body and "发明专利保护几年" not in body
    assert "trademarks" in await (await web.get("/console/admin/unanswered?days=90")).text()


async def test_dashboard_draws_svg_charts(services, web, accounts):
    staff, _ = accounts
    await logged(services, "小专利保护几年", "answer")
    await logged(services, "what is the weather like in Paris", "escalate")
    await logged(services, "a question from last month", "escalate", days_ago=20)  # outside the 7 days
    user = await services.conversation.user("web", "b")
    ticket, _ = await services.tickets.escalate(user.id, "what is the weather like in Paris", "en", "no_match")
    async with services.sessions.begin() as s:
        await s.execute(update(Ticket).where(Ticket.id == ticket.id).values(created_at=utcnow() - timedelta(minutes=30)))
    await services.tickets.reply(ticket.id, staff.id, "we only answer patent questions")
    await login(web, "root")
    body = await (await web.get("/console/admin/dashboard?days=7", headers={"Accept-Language": "en"})).text()
    assert body.count("<svg") == 3
    assert re.search(r"<title>\d\d-\d\d: 2</title>", body)  # two questions today
    assert "answered: 1 (50%)" in body and "escalated: 1 (50%)" in body
    assert re.search(r'id="median">(29|30) min<', body)
    assert "answered: 1 (100%)" in body  # the open-tickets chart: the one ticket waits for the user


async def test_metrics_in_prometheus_text_format(services, web):
    await logged(services, "小专利保护几年", "answer", latency_ms=1.5)
    await logged(services, "what is the weather like in Paris", "escalate", latency_ms=700)
    user = await services.conversation.user("web", "b")
    await services.tickets.escalate(user.id, "what is the weather like in Paris", "en", "no_match")
    resp = await web.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'helpdesk_decisions_total{action="answer"} 1' in text
    assert 'helpdesk_decisions_total{action="escalate"} 1' in text
    assert 'helpdesk_tickets{status="open"} 1' in text
    assert 'helpdesk_messages_total{direction="in",sender="user"}' in text
    assert 'helpdesk_decision_latency_seconds_bucket{le="0.001"} 0' in text
    assert 'helpdesk_decision_latency_seconds_bucket{le="0.002"} 1' in text
    assert 'helpdesk_decision_latency_seconds_bucket{le="0.5"} 1' in text
    assert 'helpdesk_decision_latency_seconds_bucket{le="1"} 2' in text
    assert 'helpdesk_decision_latency_seconds_bucket{le="+Inf"} 2' in text
    assert "helpdesk_decision_latency_seconds_count 2" in text
    buckets = [int(n) for n in re.findall(r'_bucket\{le="[^"]+"\} (\d+)', text)]
    assert buckets == sorted(buckets)  # cumulative


async def test_healthz_says_503_when_the_database_is_gone(services, web):
    assert (await web.get("/healthz")).status == 200
    await services.engine.dispose()
    services.engine.url  # noqa: B018 - still the same engine object
    from sqlalchemy.ext.asyncio import create_async_engine

    good = services.engine
    services.engine = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        resp = await web.get("/healthz")
        assert resp.status == 503 and (await resp.json())["database"] == "unreachable"
    finally:
        await services.engine.dispose()
        services.engine = good
