"""Operations: webhook mode and its secret, FAQ reload failures to the admin chat, hostile updates, logs without secrets."""

from __future__ import annotations

import logging
import shutil

import aiohttp
from fakes.bot_api import person
from fakes.harness import ADMIN_CHAT, ALICE, STAFF_CHAT, running
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.db.models import Inbound, QuestionLog, Ticket

USER = 4242
SECRET = "webhook-secret-" + "k" * 20


async def post(port: int, payload: object, secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{port}/telegram/webhook", json=payload, headers=headers) as resp:
            return resp.status


async def test_webhook_mode_refuses_a_wrong_or_missing_secret_and_serves_the_right_one(tmp_path, db_url, caplog):
    caplog.set_level(logging.DEBUG)
    async with running(tmp_path, db_url, serve_web=True, mode="webhook", webhook_url="https://bot.example/telegram/webhook",
                       webhook_secret=SECRET) as h:
        assert h.api.webhook["url"] == "https://bot.example/telegram/webhook" and h.api.webhook["secret_token"] == SECRET
        assert not h.api.sent("getUpdates")
        port = h.port
        update = h.api.message(USER, "小专利保护几年")
        assert await post(port, update, None) == 403
        assert await post(port, update, SECRET[:-1] + "x") == 403
        assert await post(port, {"no": "update"}, SECRET) == 400
        async with h.services.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Inbound)) == 0
        assert await post(port, update, SECRET) == 200
        assert await post(port, update, SECRET) == 200  # Telegram's retry of the same update is not answered twice
        await h.api.wait_sent(USER, "10年")
        await h.settled()
        assert len([c for c in h.api.sent("sendMessage", USER) if "10年" in c.text]) == 1
    assert SECRET not in caplog.text and h.api.token not in caplog.text


async def test_a_rejected_faq_reload_is_posted_to_the_admin_chat(tmp_path, db_url):
    from conftest import SAMPLE_FAQ

    faq_dir = tmp_path / "faq"
    shutil.copytree(SAMPLE_FAQ, faq_dir)
    async with running(tmp_path, db_url, faq_dir=faq_dir) as h:
        (faq_dir / "sample.yaml").write_text("entries:\n  - id: [broken <b>\n", encoding="utf-8")
        result = await h.services.faq.reload("test")
        assert not result.ok
        notice = await h.api.wait_sent(ADMIN_CHAT, "FAQ change rejected")
        assert "sample.yaml" in notice.text


async def test_nul_characters_and_lone_surrogates_are_stored_and_answered(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        h.api.say(USER, "小专利\x00保护几年\ud800", user=person(USER, "Nul\x00l\udfff"))
        await h.api.wait_sent(USER, "10年")
        await h.settled()
        async with h.services.sessions() as s:
            assert (await s.scalars(select(QuestionLog.text))).one() == "小专利保护几年?"


def _update_parts():
    text = st.one_of(st.none(), st.text(max_size=50), st.integers(), st.booleans())
    obj = st.recursive(st.one_of(text, st.floats(allow_nan=False)),
                       lambda inner: st.one_of(st.lists(inner, max_size=3),
                                               st.dictionaries(st.sampled_from(
                                                   ["id", "type", "text", "chat", "from", "data", "message", "date",
                                                    "message_id", "first_name", "is_bot", "entities", "photo", "caption",
                                                    "reply_to_message", "language_code"]), inner, max_size=6)),
                       max_leaves=12)
    kind = st.sampled_from(["message", "edited_message", "callback_query", "channel_post", "my_chat_member", "poll", "bogus"])
    return st.tuples(kind, obj, st.booleans())


async def test_random_partial_updates_never_crash_the_application(tmp_path, db_url, caplog):
    """Hypothesis draws 50 malformed updates; the bot survives all of them and still answers afterwards."""
    caplog.set_level(logging.INFO)
    async with running(tmp_path, db_url, flood_messages=1000) as h:
        pushed: list[dict] = []

        @settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(_update_parts())
        def draw(part):
            kind, body, plausible = part
            if plausible and isinstance(body, dict):  # half of them look almost right: a real chat, a real sender
                body = {"message_id": 1, "date": 0, "chat": {"id": USER, "type": "private"}, "from": person(USER)} | body
            pushed.append(h.api.push({kind: body}))

        draw()
        assert len(pushed) >= 10
        await h.settled()
        fresh = USER + 1  # USER may now have a ticket (a random text escalated), so ask as someone new
        h.api.say(fresh, "小专利\x00保护几年\x07", user=person(fresh, "Nul\x00l"))
        await h.api.wait_sent(fresh, "10年")
        await h.settled()
        async with h.services.sessions() as s:
            statuses = dict((await s.execute(select(Inbound.status, func.count()).group_by(Inbound.status))).all())
            assert await s.scalar(select(func.count()).select_from(QuestionLog)) >= 1
        assert statuses.get("pending", 0) == 0 and statuses.get("failed", 0) == 0
        assert "Traceback" not in "".join(c.text for c in h.api.sent("sendMessage"))
        assert h.api.token not in caplog.text


async def test_updates_stored_before_a_shutdown_are_answered_after_the_restart(tmp_path, db_url):
    """Shut down in the middle of a burst: nothing stored is lost, the next process answers the rest."""
    users = range(7000, 7020)
    async with running(tmp_path, db_url, flood_messages=1000) as h:
        for chat in users:
            h.api.say(chat, "小专利保护几年")
        await h.api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id in users, what="a first answer")
    first_calls = list(h.api.calls)  # including what was finished during the shutdown
    async with h.services.sessions() as s:  # the engine is disposed but can reconnect for a look
        stored = (await s.scalars(select(Inbound.status))).all()
    assert stored and set(stored) <= {"done", "pending"}
    pending = stored.count("pending")
    async with running(tmp_path, db_url, flood_messages=1000) as h2:
        if pending:
            await h2.settled()
        async with h2.services.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Inbound).where(Inbound.status != "done")) == 0
    # every stored update was answered exactly once, by one process or the other
    answered = [c for c in (*first_calls, *h2.api.calls) if c.method == "sendMessage" and c.chat_id in users]
    assert len(answered) == len(stored) and len({c.chat_id for c in answered}) == len(stored)


async def test_reminders_go_to_the_staff_group_or_the_admin_chat(tmp_path, db_url):
    """The real reminder worker, on a controllable clock, reaches the staff group and then the admin chat."""
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from bot.reminders import Reminders

    async with running(tmp_path, db_url) as h:
        h.api.say(USER, "/human <b>help</b>")
        await h.api.wait_sent(USER, "#")
        async with h.services.sessions() as s:
            ticket = (await s.scalars(select(Ticket))).one()
        card_id = await h.card_message_id(ticket.id)
        created = ticket.created_at if ticket.created_at.tzinfo else ticket.created_at.replace(tzinfo=UTC)
        # Every day a working day, all day long: the minutes below are working minutes.
        queue = replace(h.services.settings.queue, workdays=[1, 2, 3, 4, 5, 6, 7],
                        opens=datetime.min.time(), closes=datetime.max.time().replace(microsecond=0),
                        remind_unclaimed_minutes=30, alert_admin_unclaimed_minutes=120)
        now = [created]
        reminders = Reminders(h.services.sessions, h.services.events, queue, clock=lambda: now[0])
        now[0] = created + timedelta(minutes=31)
        assert [e.data["level"] for e in await reminders.check()] == ["staff"]
        reminder = await h.api.wait_sent(STAFF_CHAT, f"Ticket #{ticket.id} is waiting: nobody has claimed it")
        assert reminder.reply_to == card_id
        now[0] = created + timedelta(minutes=121)
        assert [e.data["level"] for e in await reminders.check()] == ["admin"]
        await h.api.wait_sent(ADMIN_CHAT, f"Ticket #{ticket.id} is waiting")


async def test_forum_topics_one_per_ticket_and_answers_written_in_the_topic(tmp_path, db_url):
    async with running(tmp_path, db_url, use_topics=True) as h:
        h.api.say(USER, "/human 请帮我看看")
        await h.api.wait_sent(USER, "#")
        topic = await h.api.wait_for(lambda c: c.method == "createForumTopic", what="a topic")
        card = await h.api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == STAFF_CHAT, what="card")
        thread = card.params["message_thread_id"]
        assert topic.params["chat_id"] == STAFF_CHAT and thread
        async with h.services.sessions() as s:
            ticket_id = await s.scalar(select(Ticket.id))
        await h.card_message_id(ticket_id)  # the topic is linked to the ticket
        h.api.say(STAFF_CHAT, "Answer in the topic", user=person(ALICE, "Alice", language_code="en"),
                  chat_type="supergroup", thread_id=thread)
        await h.api.wait_sent(USER, "Answer in the topic")


async def test_a_bug_gets_a_short_apology_and_the_token_stays_out_of_the_logs(tmp_path, db_url, caplog):
    caplog.set_level(logging.INFO)
    async with running(tmp_path, db_url) as h:
        token = h.api.token

        async def broken(*args, **kwargs):
            raise ValueError(f"bug while calling https://api.telegram.org/bot{token}/sendMessage")

        h.services.conversation.ask = broken
        h.api.say(USER, "小专利保护几年")
        apology = await h.api.wait_sent(USER, "出了点问题")
        assert "Traceback" not in apology.text and "ValueError" not in apology.text
        await h.settled()
    assert "ValueError" in caplog.text and "bot***/sendMessage" in caplog.text
    assert token not in caplog.text


async def test_an_update_that_meets_a_database_outage_is_kept_and_answered_later(tmp_path, db_url):
    from sqlalchemy.exc import OperationalError

    async with running(tmp_path, db_url) as h:
        real_ask, calls = h.services.conversation.ask, []

        async def flaky(*args, **kwargs):
            calls.append(1)
            if len(calls) == 1:
                raise OperationalError("SELECT 1", {}, ConnectionRefusedError("database is away"))
            return await real_ask(*args, **kwargs)

        h.services.conversation.ask = flaky
        h.api.say(USER, "小专利保护几年")
        await h.api.wait_for(lambda c: c.method == "sendMessage" and c.chat_id == USER and "10年" in c.text,
                             timeout=30, what="the answer after the retry")
        await h.settled()
        assert len(calls) == 2
        assert not [c for c in h.api.sent("sendMessage", USER) if "出了点问题" in c.text]
        async with h.services.sessions() as s:
            assert (await s.scalars(select(Inbound.status))).all() == ["done"]


async def test_no_token_no_telegram_and_an_unreachable_api_is_a_clear_error(services, tmp_path, db_url):
    import pytest
    from conftest import make_settings

    from bot.web.app import build_app
    from handlers.telegram_app import start_telegram

    assert await start_telegram(services, build_app(services)) == []
    token = "999:SECRET-token-value"
    settings = make_settings(tmp_path, db_url, telegram={"token": token, "base_url": "http://127.0.0.1:9/bot"})
    services.settings = settings
    with pytest.raises(RuntimeError) as caught:
        await start_telegram(services, build_app(services))
    assert "cannot reach the Bot API at http://127.0.0.1:9/bot" in str(caught.value) and token not in str(caught.value)
