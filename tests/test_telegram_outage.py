"""Issue 8 on Telegram: the database is away while messages arrive. The updates are kept (the offset is
held, the webhook answers 503), each private chat waiting is told once that it will be answered
shortly (groups never), and every question is answered exactly once when the database is back."""

from __future__ import annotations

import asyncio

import aiohttp
from fakes.bot_api import person
from fakes.harness import OTHER_GROUP, running
from fakes.outage import database_away
from sqlalchemy import select

from bot.db.models import Inbound

WAIT = 30.0  # a bound on a hang, not a speed requirement
ZH, EN, LATE = 7101, 7102, 7103
SECRET = "webhook-secret-" + "k" * 20
NOTICE = {"zh": "消息已收到并保存", "en": "Your message is kept"}


def notices(h, chat_id: int) -> list:
    return [c for c in h.api.sent("sendMessage", chat_id) if any(n in c.text for n in NOTICE.values())]


def answers(h, chat_id: int, text: str) -> list:
    return [c for c in h.api.sent("sendMessage", chat_id) if text in c.text]


async def test_polling_chats_waiting_during_an_outage_are_told_once_and_answered_once(tmp_path, db_url):
    async with running(tmp_path, db_url, delay_notice_seconds=1) as h:
        h.api.say(ZH, "小专利保护几年", user=person(ZH, "Wang"))
        await h.api.wait_sent(ZH, "10年")  # the bot is up and the database works
        async with database_away(h.services):
            h.api.say(ZH, "费减条件", user=person(ZH, "Wang"))
            h.api.say(EN, "how long is a utility model valid", user=person(EN, "Ann", language_code="en"))
            h.api.say(OTHER_GROUP, "费减条件", chat_type="group")
            zh = await h.api.wait_sent(ZH, NOTICE["zh"])
            en = await h.api.wait_sent(EN, NOTICE["en"])
            # More arrive while it is still away: a new chat is told too, a chat already told is not told again.
            h.api.say(ZH, "实用新型多少年", user=person(ZH, "Wang"))
            h.api.say(LATE, "费减备案流程", user=person(LATE, "Li"))
            await h.api.wait_sent(LATE, NOTICE["zh"])
            assert not answers(h, ZH, "费减") and not answers(h, EN, "10")  # nothing answered while it is away
        await h.settled()
        assert [c.text for c in notices(h, ZH)] == [zh.text] and [c.text for c in notices(h, EN)] == [en.text]
        assert len(notices(h, LATE)) == 1 and not h.api.sent("sendMessage", OTHER_GROUP)
        # Every question is answered once, in order, after the database came back.
        zh_texts = [c.text for c in h.api.sent("sendMessage", ZH) if c not in notices(h, ZH)]
        assert len(zh_texts) == 3 and "10年" in zh_texts[0] and "10年" in zh_texts[2]
        assert len(answers(h, EN, "10")) == 1 and len(h.api.sent("sendMessage", LATE)) == 2
        async with h.services.sessions() as s:
            assert set((await s.scalars(select(Inbound.status))).all()) == {"done"}
            assert len((await s.scalars(select(Inbound.id))).all()) == 6  # the group's update is stored too


async def test_no_notice_when_the_database_is_back_within_the_threshold(tmp_path, db_url):
    async with running(tmp_path, db_url, delay_notice_seconds=600) as h:
        async with database_away(h.services):
            h.api.say(ZH, "小专利保护几年", user=person(ZH, "Wang"))
            async with asyncio.timeout(WAIT):
                while not h.api.delivered_at:  # handed to the bot, which cannot store it yet
                    await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
        await h.api.wait_sent(ZH, "10年")
        await h.settled()
        assert not notices(h, ZH) and len(h.api.sent("sendMessage", ZH)) == 1


async def post(port: int, payload: dict) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/telegram/webhook", json=payload, headers=headers) as resp:
            return resp.status


async def test_webhook_an_update_redelivered_through_an_outage_is_noticed_once_and_answered_once(tmp_path, db_url):
    """Telegram sends the update again while we answer 503 (PostgreSQL refuses at once; SQLite's locked write
    waits): once the outage is older than the threshold, the chat is told, once, and answered after it."""
    async with running(tmp_path, db_url, serve_web=True, mode="webhook", webhook_url="https://bot.example/telegram/webhook",
                       webhook_secret=SECRET, delay_notice_seconds=1) as h:
        update = h.api.message(ZH, "小专利保护几年", user=person(ZH, "Wang"))
        deliveries: list[asyncio.Task] = []
        async with database_away(h.services):
            async with asyncio.timeout(WAIT):
                while not notices(h, ZH):  # what Telegram does: deliver again after a failure
                    deliveries.append(asyncio.create_task(post(h.port, update)))
                    while not deliveries[-1].done() and not notices(h, ZH):
                        await asyncio.sleep(0.05)
                    if deliveries[-1].done():
                        await asyncio.sleep(0.3)
        # The database is back. (SQLite: a write that was waiting for the lock goes through now.)
        statuses = [await delivery for delivery in deliveries]
        while statuses[-1] != 200:
            statuses.append(await post(h.port, update))
        assert set(statuses[:-1]) <= {503} and statuses[-1] == 200
        await h.api.wait_sent(ZH, "10年")
        assert await post(h.port, update) == 200  # a late repeat is not answered again
        await h.settled()
        assert len(notices(h, ZH)) == 1 and len(answers(h, ZH, "10年")) == 1
