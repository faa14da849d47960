"""The first slice through the whole path: web chat -> matcher -> answer, or a ticket row."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.db.models import Message, QuestionLog, Ticket
from bot.web.app import build_app


async def open_chat(services) -> tuple[TestClient, str]:
    client = TestClient(TestServer(build_app(services)))
    await client.start_server()
    page = await client.get("/")
    assert page.status == 200
    csrf = re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)
    return client, csrf


async def test_a_known_question_gets_its_answer(services):
    client, csrf = await open_chat(services)
    try:
        resp = await client.post("/api/chat/ask", json={"text": "小专利保护几年"}, headers={"X-CSRF-Token": csrf})
        assert resp.status == 200
        data = await resp.json()
        assert data["kind"] == "answer"
        assert data["entry_id"] == "utility-model-term"
        assert "10年" in data["text"]
    finally:
        await client.close()
    async with services.sessions() as s:
        log = (await s.scalars(select(QuestionLog))).one()
        assert (log.action, log.entry_id, log.channel) == ("answer", "utility-model-term", "web")


async def test_an_unmatched_question_creates_a_ticket_row(services):
    client, csrf = await open_chat(services)
    try:
        resp = await client.post("/api/chat/ask", json={"text": "what's the weather in Paris tomorrow"},
                                 headers={"X-CSRF-Token": csrf})
        data = await resp.json()
    finally:
        await client.close()
    assert data["kind"] == "escalated"
    async with services.sessions() as s:
        ticket = (await s.scalars(select(Ticket))).one()
        assert ticket.id == data["ticket_id"]
        assert ticket.status == "open" and ticket.channel == "web" and ticket.reason == "no_match"
        assert "weather" in ticket.question
        assert await s.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == ticket.id)) == 1


async def test_the_chat_api_refuses_a_missing_or_wrong_csrf_token(services):
    client, csrf = await open_chat(services)
    try:
        assert (await client.post("/api/chat/ask", json={"text": "hi"})).status == 403
        wrong = csrf[:-1] + ("1" if csrf[-1] == "0" else "0")
        assert (await client.post("/api/chat/ask", json={"text": "hi"}, headers={"X-CSRF-Token": wrong})).status == 403
    finally:
        await client.close()
    async with services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(QuestionLog)) == 0


async def test_healthz_reports_the_database(services):
    client = TestClient(TestServer(build_app(services)))
    await client.start_server()
    try:
        resp = await client.get("/healthz")
        assert resp.status == 200
        assert (await resp.json())["database"] == "ok"
    finally:
        await client.close()
