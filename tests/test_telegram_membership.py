"""Who may act in the staff group: configured ids, staff-group members (when enabled), staff accounts."""

from __future__ import annotations

from fakes.bot_api import person
from fakes.harness import ALICE, BOB, STAFF_CHAT, STRANGER, running
from sqlalchemy import select
from test_telegram_staff import alerts, open_ticket

from bot.db.models import Staff, Ticket
from bot.staff_accounts import add_staff
from handlers import store

OUTSIDER = 7777


async def press_as(h, ticket: Ticket, action: str, user_id: int, name: str) -> None:
    """Press a button on the ticket's card in the staff group, as this Telegram user, and let it settle."""
    card_id = await h.card_message_id(ticket.id)
    h.api.press(STAFF_CHAT, card_id, f"s:{action}:{ticket.id}", user=person(user_id, name), chat_type="supergroup")
    await h.settled()


async def test_with_staff_group_members_on_a_member_may_claim_and_a_non_member_is_refused(tmp_path, db_url):
    async with running(tmp_path, db_url, staff_group_members=True) as h:
        h.api.members[(STAFF_CHAT, STRANGER)] = "member"
        ticket = await open_ticket(h)
        mark = h.api.mark()
        await press_as(h, ticket, "c", OUTSIDER, "Mallory")
        refused = alerts(h, mark)
        assert len(refused) == 1 and refused[0].params.get("show_alert") and "Only helpdesk staff" in refused[0].params["text"]
        await press_as(h, ticket, "c", STRANGER, "Sam")
        await press_as(h, ticket, "r", STRANGER, "Sam")
        checks = [c for c in h.api.calls[mark:] if c.method == "getChatMember"]
        assert [(c.chat_id, int(c.params["user_id"])) for c in checks] == [(STAFF_CHAT, OUTSIDER), (STAFF_CHAT, STRANGER)]
        async with h.services.sessions() as s:
            sam = await s.scalar(select(Staff).where(Staff.telegram_user_id == STRANGER))
            row = await s.get(Ticket, ticket.id)
        assert sam is not None and sam.role == "staff"
        assert row.status == "open" and row.claimed_by is None  # claimed, then released by the member
        answers = [a.params["text"] for a in alerts(h, mark)]
        assert any(f"You have ticket #{ticket.id}" in t for t in answers)


async def test_without_the_setting_group_members_are_not_staff_and_telegram_is_not_asked(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        h.api.members[(STAFF_CHAT, STRANGER)] = "member"
        ticket = await open_ticket(h)
        mark = h.api.mark()
        await press_as(h, ticket, "c", STRANGER, "Sam")
        assert [a.params.get("show_alert") for a in alerts(h, mark)] == [True]
        assert not [c for c in h.api.calls if c.method == "getChatMember"]
        async with h.services.sessions() as s:
            assert (await s.get(Ticket, ticket.id)).claimed_by is None


async def test_taking_an_id_out_of_the_settings_takes_its_rights_away_but_not_a_made_account(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        ticket = await open_ticket(h)
        await press_as(h, ticket, "c", ALICE, "Alice")
        sessions = h.services.sessions
        assert (await store.staff_for_telegram(sessions, ALICE, "Alice", [ALICE, BOB], [])).username == f"tg{ALICE}"
        assert await store.staff_for_telegram(sessions, ALICE, "Alice", [BOB], []) is None  # removed from the settings
        promoted = await store.staff_for_telegram(sessions, ALICE, "Alice", [BOB], [ALICE])
        assert promoted is not None and promoted.role == "admin"
        async with sessions() as s:
            assert (await s.scalar(select(Staff).where(Staff.telegram_user_id == ALICE))).role == "admin"
        made = await add_staff(sessions, "sam", "a-long-password-1", telegram_user_id=STRANGER)
        found = await store.staff_for_telegram(sessions, STRANGER, "Sam", [], [])
        assert found is not None and found.id == made.id
