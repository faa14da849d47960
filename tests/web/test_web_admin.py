"""Admin pages, metrics and health through aiohttp's test client, on data made by the real services."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

from sqlalchemy import update
from webtools import login

from bot.db.models import QuestionLog, Ticket, utcnow


async def ask(services, visitor: str, text: str):
    return await services.conversation.ask("web", visitor, text)


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
    for i, text in enumerate(["如何在美国申请专利", "怎么在美国申请专利？", "如何在美国申请专利呢", "what is the weather like"]):
        await ask(services, f"u{i}", text)
    answered = await ask(services, "u9", "小专利保护几年")
    await services.conversation.feedback("web", "u9", answered.log_id, helpful=False)
    old = await ask(services, "u8", "an old unanswered question about trademarks")
    async with services.sessions.begin() as s:
        await s.execute(update(QuestionLog).where(QuestionLog.text == "an old unanswered question about trademarks")
                        .values(created_at=utcnow() - timedelta(days=40)))
    assert old.kind == "escalated"
    await login(web, "root")
    body = await (await web.get("/console/admin/unanswered?days=30")).text()
    rows = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>", body)
    assert rows[0] == ("3", "3", "0")  # the three "patent in the USA" questions are one cluster, first
    assert ("1", "0", "1") in rows  # the unhelpful answer
    assert "美国申请专利" in body and "trademarks" not in body
    assert "trademarks" in await (await web.get("/console/admin/unanswered?days=90")).text()


async def test_dashboard_draws_svg_charts(services, web, accounts):
    staff, _ = accounts
    await ask(services, "a", "小专利保护几年")
    escalated = await ask(services, "b", "what is the weather like in Paris")
    async with services.sessions.begin() as s:
        await s.execute(update(Ticket).where(Ticket.id == escalated.ticket_id)
                        .values(created_at=utcnow() - timedelta(minutes=30)))
    await services.tickets.reply(escalated.ticket_id, staff.id, "we only answer patent questions")
    await login(web, "root")
    body = await (await web.get("/console/admin/dashboard?days=7", headers={"Accept-Language": "en"})).text()
    assert body.count("<svg") == 3
    assert re.search(r"<title>\d\d-\d\d: 2</title>", body)  # two questions today
    assert "answered: 1 (50%)" in body and "escalated: 1 (50%)" in body
    assert re.search(r'id="median">(29|30) min<', body)
    assert "answered: 1 (100%)" in body  # the open-tickets chart: the one ticket waits for the user


async def test_metrics_in_prometheus_text_format(services, web):
    await ask(services, "a", "小专利保护几年")
    await ask(services, "b", "what is the weather like in Paris")
    resp = await web.get("/metrics")
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = await resp.text()
    assert 'helpdesk_decisions_total{action="answer"} 1' in text
    assert 'helpdesk_decisions_total{action="escalate"} 1' in text
    assert 'helpdesk_tickets{status="open"} 1' in text
    assert 'helpdesk_messages_total{direction="in",sender="user"}' in text
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
