"""The staff group and the admin chat: cards, claiming, relaying, closing, failures; real Application, fake Bot API."""

from __future__ import annotations

import asyncio

from fakes.bot_api import person
from fakes.harness import ADMIN, ADMIN_CHAT, ALICE, BOB, STAFF_CHAT, STRANGER, running, zone_at_midday
from sqlalchemy import func, select

from bot.db.models import Outbox, Staff, Ticket, User

USER = 4242


async def open_ticket(h, text: str = "<b>x</b>& 我们的专利被驳回了怎么办 weather?") -> Ticket:
    h.api.say(USER, f"/human {text}")
    await h.api.wait_sent(USER, "#")
    async with h.services.sessions() as s:
        return (await s.scalars(select(Ticket))).one()


def alerts(h, after: int = 0) -> list:
    return [c for c in h.api.calls[after:] if c.method == "answerCallbackQuery"]


async def test_a_new_ticket_posts_an_escaped_card_with_guesses_and_buttons(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        h.api.say(USER, "<b>x</b>& what's the weather in Paris tomorrow", user=person(USER, "<Eve & Co>"))
        await h.api.wait_sent(USER, "#")
        async with h.services.sessions() as s:
            ticket = (await s.scalars(select(Ticket))).one()
        card = await h.card(ticket.id)
        assert card.params["parse_mode"] == "HTML"
        assert "&lt;b&gt;x&lt;/b&gt;&amp; what" in card.text and "<b>x</b>" not in card.text
        assert "&lt;Eve &amp; Co&gt;" in card.text
        assert "Matcher's guesses" in card.text and card.text.count("<code>") == min(3, len(ticket.guesses))
        assert [d for _, d in card.buttons()] == [f"s:c:{ticket.id}", f"s:x:{ticket.id}"]


async def test_two_staff_pressing_claim_at_once_exactly_one_wins(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        card_id = await h.card_message_id(ticket.id)
        mark = h.api.mark()
        h.api.press(STAFF_CHAT, card_id, f"s:c:{ticket.id}", user=h.staff(ALICE, "Alice"), chat_type="supergroup")
        h.api.press(STAFF_CHAT, card_id, f"s:c:{ticket.id}", user=h.staff(BOB, "Bob"), chat_type="supergroup")
        await h.settled()
        answers = alerts(h, mark)
        assert len(answers) == 2
        async with h.services.sessions() as s:
            claimed = await s.scalar(select(Ticket.claimed_by).where(Ticket.id == ticket.id))
            winner = await s.get(Staff, claimed)
        loser_name = "Bob" if winner.display_name == "Alice" else "Alice"
        refused = [a for a in answers if a.params.get("show_alert")]
        assert len(refused) == 1 and f"already claimed by {winner.display_name}" in refused[0].params["text"]
        assert loser_name not in refused[0].params["text"]
        edits = [c for c in h.api.calls[mark:] if c.method == "editMessageText" and c.chat_id == STAFF_CHAT]
        assert edits and f"claimed by {winner.display_name}" in edits[-1].text


async def test_a_non_staff_member_pressing_a_button_is_refused_and_nothing_changes(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        card_id = await h.card_message_id(ticket.id)
        mark = h.api.mark()
        for action in ("c", "x", "r"):
            h.api.press(STAFF_CHAT, card_id, f"s:{action}:{ticket.id}", user=person(STRANGER, "Mallory"), chat_type="supergroup")
        await h.settled()
        answers = alerts(h, mark)
        assert len(answers) == 3 and all(a.params.get("show_alert") and "Only helpdesk staff" in a.params["text"]
                                         for a in answers)
        async with h.services.sessions() as s:
            row = await s.get(Ticket, ticket.id)
            assert (row.status, row.claimed_by) == ("open", None)
            assert await s.scalar(select(func.count()).select_from(Staff)) == 0


async def test_a_staff_reply_to_the_card_reaches_the_user_once_and_follow_ups_are_relayed(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        card_id = await h.card_message_id(ticket.id)
        h.api.say(STAFF_CHAT, "Hello, please send us the <rejection> notice.", user=h.staff(ALICE, "Alice"),
                  chat_type="supergroup", reply_to=card_id)
        await h.api.wait_sent(USER, "Hello, please send us the <rejection> notice.")
        h.api.say(USER, "好的，<script>附件</script>稍后发送")
        relay = await h.api.wait_sent(STAFF_CHAT, "稍后发送")
        assert "&lt;script&gt;" in relay.text and relay.reply_to == card_id
        await h.settled()
        got = [c for c in h.api.sent("sendMessage", USER) if "rejection" in c.text]
        assert len(got) == 1 and "parse_mode" not in got[0].params
        async with h.services.sessions() as s:
            row = await s.get(Ticket, ticket.id)
            alice = await s.scalar(select(Staff).where(Staff.telegram_user_id == ALICE))
        assert alice.username == f"tg{ALICE}" and row.claimed_by == alice.id
        # a reply to the relayed message also reaches the ticket
        relay_id = next(c for c in h.api.calls if c.method == "sendMessage" and "稍后发送" in c.text)
        assert relay_id


async def test_close_tells_the_user_and_asks_for_a_rating(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        card_id = await h.card_message_id(ticket.id)
        h.api.press(STAFF_CHAT, card_id, f"s:x:{ticket.id}", user=h.staff(ALICE), chat_type="supergroup")
        closing = await h.api.wait_sent(USER, "已关闭")
        assert [d for _, d in closing.buttons()] == [f"r:{ticket.id}:{n}" for n in range(1, 6)]
        h.api.press(USER, 1, f"r:{ticket.id}:5")
        await h.settled()
        async with h.services.sessions() as s:
            row = await s.get(Ticket, ticket.id)
        assert (row.status, row.rating) == ("closed", 5)
        edits = [c for c in h.api.calls if c.method == "editMessageText" and c.chat_id == STAFF_CHAT]
        assert "closed" in edits[-1].text and not edits[-1].buttons()


async def test_a_user_who_blocked_the_bot_staff_are_told_and_the_ticket_is_marked(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        card_id = await h.card_message_id(ticket.id)
        h.api.fail("sendMessage", USER, 403, "Forbidden: bot was blocked by the user")
        h.api.say(STAFF_CHAT, "Here is the answer", user=h.staff(ALICE), chat_type="supergroup", reply_to=card_id)
        notice = await h.api.wait_sent(STAFF_CHAT, "could not be delivered")
        assert "blocked" in notice.text
        await h.settled()
        async with h.services.sessions() as s:
            row = await s.get(Ticket, ticket.id)
            user = await s.get(User, row.user_id)
            outbox = (await s.scalars(select(Outbox))).one()
        assert row.delivery_failed and user.blocked and outbox.status == "failed"


async def test_a_429_and_a_500_are_retried_and_the_reply_arrives_once(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        card_id = await h.card_message_id(ticket.id)
        h.api.fail("sendMessage", USER, 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
        h.api.fail("sendMessage", USER, 500, "Internal Server Error")
        h.api.say(STAFF_CHAT, "Answer after retries", user=h.staff(ALICE), chat_type="supergroup", reply_to=card_id)
        async with asyncio.timeout(20):
            while True:
                async with h.services.sessions() as s:
                    row = (await s.scalars(select(Outbox))).first()
                    if row is not None and row.status == "sent":
                        break
                await asyncio.sleep(0.1)
        assert len([c for c in h.api.sent("sendMessage", USER) if c.text == "Answer after retries"]) == 3  # 2 refused + 1


async def test_queue_mine_and_note_in_the_staff_group(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        card_id = await h.card_message_id(ticket.id)
        alice = h.staff(ALICE, "Alice")
        h.api.say(STAFF_CHAT, "/queue", user=alice, chat_type="supergroup")
        listing = await h.api.wait_sent(STAFF_CHAT, "Open tickets")
        assert f"#{ticket.id}" in listing.text and "&lt;b&gt;" in listing.text
        h.api.press(STAFF_CHAT, card_id, f"s:c:{ticket.id}", user=alice, chat_type="supergroup")
        h.api.say(STAFF_CHAT, "/mine", user=alice, chat_type="supergroup")
        mine = await h.api.wait_sent(STAFF_CHAT, "Your tickets")
        assert f"#{ticket.id}" in mine.text
        h.api.say(STAFF_CHAT, "/note called them <ok>", user=alice, chat_type="supergroup", reply_to=card_id)
        await h.api.wait_sent(STAFF_CHAT, "Note added")
        h.api.say(STAFF_CHAT, "/queue", user=person(STRANGER), chat_type="supergroup")
        await h.api.wait_sent(STAFF_CHAT, "Only helpdesk staff")
        detail = await h.services.tickets.get(ticket.id)
        assert [m.text for m in detail.messages if m.kind == "note"] == ["called them <ok>"]
        assert not [c for c in h.api.sent("sendMessage", USER) if "called them" in c.text]


async def test_reload_and_stats_in_the_admin_chat(tmp_path, db_url):
    async with running(tmp_path, db_url, timezone=zone_at_midday()) as h:
        h.api.say(USER, "小专利保护几年")
        await h.api.wait_sent(USER, "10年")
        await open_ticket(h)
        admin = person(ADMIN, "Root", language_code="en")
        h.api.say(ADMIN_CHAT, "/reload", user=admin, chat_type="supergroup")
        reloaded = await h.api.wait_sent(ADMIN_CHAT, "FAQ reloaded")
        assert "admin /reload" in reloaded.text
        h.api.say(ADMIN_CHAT, "/stats", user=admin, chat_type="supergroup")
        stats = await h.api.wait_sent(ADMIN_CHAT, "Today")
        assert "2 questions" in stats.text or "questions (answer: 1" in stats.text
        assert "Open tickets</b>: 1 (1 unclaimed)" in stats.text
        h.api.say(ADMIN_CHAT, "/reload", user=person(STRANGER), chat_type="supergroup")
        await h.api.wait_sent(ADMIN_CHAT, "Only administrators")
