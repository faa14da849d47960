"""The SME web chat through aiohttp's test client: every endpoint, its refusals, and live staff replies."""

from __future__ import annotations

import asyncio
import json
import re

from sqlalchemy import func, select

from bot.db.models import QuestionLog, Ticket, User
from bot.events import Event

CHAT_POSTS = ["/api/chat/ask", "/api/chat/choose", "/api/chat/human", "/api/chat/feedback", "/api/chat/status",
              "/api/chat/withdraw", "/api/chat/forget"]


async def open_chat(web, lang: str = "zh") -> str:
    page = await web.get("/", headers={"Accept-Language": lang})
    assert page.status == 200
    return re.search(r'name="csrf" value="([^"]+)"', await page.text()).group(1)


async def post(web, path: str, csrf: str, body: dict | None = None):
    resp = await web.post(path, json=body or {}, headers={"X-CSRF-Token": csrf, "Accept-Language": "en"})
    return resp.status, await resp.json()


def visitor(web) -> str:
    return web.session.cookie_jar.filter_cookies(web.make_url("/"))["hd_visitor"].value


async def test_the_visitor_cookie_is_httponly_and_samesite(web):
    resp = await web.get("/")
    header = resp.headers["Set-Cookie"]
    assert header.startswith("hd_visitor=") and "HttpOnly" in header and "SameSite=Lax" in header


async def test_every_chat_post_refuses_no_cookie_and_a_wrong_csrf_token(services, web):
    for path in CHAT_POSTS:
        assert (await web.post(path, json={"text": "hi"})).status == 401, path
    csrf = await open_chat(web)
    for path in CHAT_POSTS:
        assert (await web.post(path, json={"text": "hi", "confirm": True})).status == 403, path
        status, data = await post(web, path, csrf[:-2] + "zz", {"text": "hi", "confirm": True})
        assert status == 403 and "CSRF" in data["error"], path
    async with services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(QuestionLog)) == 0


async def test_bad_bodies_get_a_clear_400(web):
    csrf = await open_chat(web)
    resp = await web.post("/api/chat/ask", data="not json", headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert resp.status == 400 and "JSON" in (await resp.json())["error"]
    assert (await post(web, "/api/chat/ask", csrf, {"text": 5}))[0] == 400
    assert (await post(web, "/api/chat/choose", csrf, {}))[0] == 400
    assert (await post(web, "/api/chat/feedback", csrf, {"log_id": "1", "helpful": "yes"}))[0] == 400
    assert (await post(web, "/api/chat/forget", csrf, {"confirm": "yes"}))[0] == 400


async def test_an_answer_carries_sources_review_date_related_and_a_log_id(web):
    csrf = await open_chat(web)
    status, data = await post(web, "/api/chat/ask", csrf, {"text": "谁可以申请专利费用减缴"})
    assert status == 200 and data["kind"] == "answer" and data["entry_id"] == "fee-reduction-who"
    assert data["sources"] == ["https://www.cnipa.gov.cn/"] and data["reviewed"] == "2026-11-01"
    assert [r["entry_id"] for r in data["related"]] == ["fee-reduction-recordal"]
    assert isinstance(data["log_id"], int)
    status, follow = await post(web, "/api/chat/choose", csrf, {"entry_id": "fee-reduction-recordal"})
    assert follow["kind"] == "answer" and follow["entry_id"] == "fee-reduction-recordal"
    status, unknown = await post(web, "/api/chat/choose", csrf, {"entry_id": "no-such-entry"})
    assert status == 200 and unknown["kind"] == "notice"


async def test_too_long_a_message_gets_a_clear_error(services, web):
    csrf = await open_chat(web, "en")
    limit = services.settings.web.max_message_chars
    status, data = await post(web, "/api/chat/ask", csrf, {"text": "x" * (limit + 1), "lang": "en"})
    assert status == 400 and f"under {limit} characters" in data["error"]


async def test_not_helpful_escalates_and_helpful_is_recorded(services, web):
    csrf = await open_chat(web)
    _, answer = await post(web, "/api/chat/ask", csrf, {"text": "小专利保护几年"})
    status, data = await post(web, "/api/chat/feedback", csrf, {"log_id": answer["log_id"], "helpful": True})
    assert status == 200 and data["kind"] == "thanks"
    _, data = await post(web, "/api/chat/feedback", csrf, {"log_id": answer["log_id"], "helpful": False})
    assert data["kind"] == "escalated" and data["ticket_id"]
    async with services.sessions() as s:
        ticket = await s.get(Ticket, data["ticket_id"])
        assert ticket.reason == "not_helpful" and ticket.question == "小专利保护几年"


async def test_ask_a_person_status_and_withdraw(services, web):
    csrf = await open_chat(web, "en")
    _, data = await post(web, "/api/chat/status", csrf)
    assert data["ticket_id"] is None and data["text"] == "You have no open ticket."
    await post(web, "/api/chat/ask", csrf, {"text": "my competitor copied my product, what now?"})
    status, data = await post(web, "/api/chat/human", csrf)
    assert status == 200 and data["kind"] in ("escalated", "joined")
    ticket_id = data["ticket_id"]
    _, data = await post(web, "/api/chat/status", csrf)
    assert data["ticket_id"] == ticket_id and "waiting for a staff member" in data["text"]
    _, data = await post(web, "/api/chat/withdraw", csrf)
    assert data["text"] == f"Your ticket #{ticket_id} is withdrawn."
    async with services.sessions() as s:
        assert (await s.get(Ticket, ticket_id)).status == "closed"


async def test_forget_deletes_the_visitor_and_starts_afresh(services, web):
    csrf = await open_chat(web)
    await post(web, "/api/chat/ask", csrf, {"text": "天气怎么样"})
    resp = await web.post("/api/chat/forget", json={"confirm": True}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 200 and "hd_visitor" in resp.headers["Set-Cookie"]
    async with services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(User)) == 0
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 0


async def test_staff_replies_arrive_through_messages_since_and_the_stream(services, web, accounts):
    staff, _ = accounts
    csrf = await open_chat(web)
    _, data = await post(web, "/api/chat/ask", csrf, {"text": "我想咨询一个具体案子"})
    await post(web, "/api/chat/human", csrf)
    ticket_id = data["ticket_id"] or (await services.tickets.active_ticket(
        (await services.conversation.user("web", visitor(web))).id)).id
    first = await (await web.get("/api/chat/messages?since=0")).json()
    assert first["messages"] == []  # only staff and system messages come this way

    stream = await web.get("/api/chat/events")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert (await stream.content.readuntil(b"\n\n")).startswith(b"retry:")
    # someone else's ticket: no hint for this visitor
    other = await services.conversation.user("web", "someone-else")
    other_ticket, _ = await services.tickets.escalate(other.id, "别人的问题", "zh", "asked")
    await services.tickets.reply(other_ticket.id, staff.id, "not for you")
    message = await services.tickets.reply(ticket_id, staff.id, "<b>请</b>提供申请号")
    hint = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
    assert hint.startswith(b"event: update") and json.loads(hint.split(b"data: ")[1]) == {"ticket_id": ticket_id}
    await services.events.publish(Event("chat.message", ticket_id, {"visitor": visitor(web)}))
    assert b"event: update" in await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
    stream.close()
    got = await (await web.get("/api/chat/messages?since=0")).json()
    assert [(m["id"], m["sender"], m["text"]) for m in got["messages"]] == [(message.id, "staff", "<b>请</b>提供申请号")]
    assert (await (await web.get(f"/api/chat/messages?since={message.id}")).json())["messages"] == []
    assert (await web.get("/api/chat/messages?since=abc")).status == 400
    page = await (await web.get("/")).text()  # the history on the page is escaped text
    assert "&lt;b&gt;请&lt;/b&gt;提供申请号" in page and "<b>请</b>" not in page


async def test_streams_end_at_shutdown(services, web):
    await open_chat(web)
    stream = await web.get("/api/chat/events")
    await stream.content.readuntil(b"\n\n")
    await asyncio.wait_for(web.server.runner.shutdown(), 10)
    assert await asyncio.wait_for(stream.content.read(), 10) == b""


async def test_language_comes_from_accept_language_and_the_switch_sticks(web):
    assert "Patent helpdesk" in await (await web.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})).text()
    assert "专利服务助手" in await (await web.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})).text()
    resp = await web.get("/?lang=en", headers={"Accept-Language": "zh-CN"})
    assert 'lang="en"' in await resp.text()
    assert 'lang="en"' in await (await web.get("/", headers={"Accept-Language": "zh-CN"})).text()


async def test_internal_notes_never_reach_the_visitor(services, web, accounts):
    staff, _ = accounts
    csrf = await open_chat(web)
    await post(web, "/api/chat/ask", csrf, {"text": "我想找人工看一下我的合同"})
    await post(web, "/api/chat/human", csrf)
    user = await services.conversation.user("web", visitor(web))
    ticket = await services.tickets.active_ticket(user.id)
    await services.tickets.add_note(ticket.id, staff.id, "INTERNAL: customer seems to be a competitor")
    await services.tickets.reply(ticket.id, staff.id, "visible reply")
    got = await (await web.get("/api/chat/messages?since=0")).json()
    assert [m["text"] for m in got["messages"]] == ["visible reply"]
    page = await (await web.get("/")).text()
    assert "visible reply" in page and "INTERNAL" not in page


async def test_ask_a_person_twice_files_the_question_once(services, web):
    csrf = await open_chat(web, "en")
    await post(web, "/api/chat/ask", csrf, {"text": "can you look at my licence contract with a Shenzhen factory?"})
    _, first = await post(web, "/api/chat/human", csrf)
    _, second = await post(web, "/api/chat/human", csrf)
    assert second["kind"] == "joined" and second["ticket_id"] == first["ticket_id"]
    assert "waiting for a staff member" in second["text"]
    detail = await services.tickets.get(first["ticket_id"])
    assert [m.text for m in detail.messages].count("can you look at my licence contract with a Shenzhen factory?") == 1


async def test_the_live_endpoints_need_the_visitor_cookie(web):
    assert (await web.get("/api/chat/messages?since=0")).status == 401
    assert (await web.get("/api/chat/events")).status == 401
    await open_chat(web)
    assert (await web.get("/api/chat/messages?since=0")).status == 200


async def test_a_database_outage_gives_a_clear_503_and_the_chat_works_again_after(services, web):
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.db.engine import make_sessionmaker

    csrf = await open_chat(web, "en")
    good = services.conversation.sessions
    dead = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    services.conversation.sessions = make_sessionmaker(dead)
    try:
        resp = await web.post("/api/chat/ask", json={"text": "小专利保护几年"}, headers={"X-CSRF-Token": csrf})
        assert resp.status == 503 and resp.headers["Retry-After"] == "5"
        assert "try again" in (await resp.json())["error"]
    finally:
        services.conversation.sessions = good
        await dead.dispose()
    status, body = await post(web, "/api/chat/ask", csrf, {"text": "小专利保护几年"})
    assert status == 200 and body["kind"] == "answer"
