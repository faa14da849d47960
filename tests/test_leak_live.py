"""Issue 8: what a long-lived page holds stays bounded, and a page that goes away leaves nothing behind."""

from __future__ import annotations

import asyncio
import re

from aiohttp.test_utils import TestClient, TestServer

from bot.events import Event
from bot.web.app import build_app
from bot.web.chat import OwnTickets
from bot.web.keys import LIVE_QUEUES


async def new_ticket(services, visitor: str) -> int:
    user = await services.conversation.user("web", visitor)
    ticket, _ = await services.tickets.escalate(user.id, f"a question from {visitor}", "en", "asked")
    return ticket.id


async def test_a_chat_page_remembers_a_bounded_number_of_other_peoples_tickets(services):
    mine = await new_ticket(services, "me")
    others = [await new_ticket(services, f"other-{i}") for i in range(60)]
    page = OwnTickets(services, "me", others=16)
    for ticket_id in [*others, mine, *others]:
        hint = await page.accept(Event("ticket.message", ticket_id))
        assert hint == ({"ticket_id": ticket_id} if ticket_id == mine else None)
        assert len(page.others) <= 16
    assert page.mine == {mine}
    assert await page.accept(Event("ticket.updated", mine, {"change": "claimed"})) == {"ticket_id": mine}
    assert await page.accept(Event("chat.message", others[0], {"visitor": "me"})) == {"ticket_id": others[0]}
    assert await page.accept(Event("chat.message", others[0], {"visitor": "other-0"})) is None
    assert await page.accept(Event("ticket.message", 10**9)) is None  # a ticket that does not exist (any more)


async def test_closed_chat_streams_release_their_queues(services):
    web = TestClient(TestServer(build_app(services)))
    await web.start_server()
    try:
        await streams_come_and_go(services, web)
    finally:
        await web.close()


async def streams_come_and_go(services, web: TestClient) -> None:
    page = await web.get("/")
    assert re.search(r'name="csrf"', await page.text())
    visitor = web.session.cookie_jar.filter_cookies(web.make_url("/"))["hd_visitor"].value
    base_queues = len(services.events._queues)
    for _ in range(5):
        stream = await web.get("/api/chat/events")
        await stream.content.readuntil(b"\n\n")
        stream.close()
    assert len(web.app[LIVE_QUEUES]) <= 5
    # A stream notices its page has gone at its next write: give each one something to write.
    for _ in range(100):
        await services.events.publish(Event("chat.message", 1, {"visitor": visitor}))
        if not web.app[LIVE_QUEUES]:
            break
        await asyncio.sleep(0.05)
    assert len(web.app[LIVE_QUEUES]) == 0
    assert len(services.events._queues) == base_queues
