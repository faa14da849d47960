"""A ticket's whole life through TicketService and Conversation, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from queue_helpers import make_staff, make_user, open_ticket
from sqlalchemy import func, select

from bot.db.models import Message, Outbox, Ticket, TicketEvent
from bot.errors import AlreadyClaimed, Forbidden, InvalidState, NotFound


async def outbox_texts(services, ticket_id):
    async with services.sessions() as s:
        return list((await s.scalars(select(Outbox.payload).where(Outbox.ticket_id == ticket_id).order_by(Outbox.id))).all())


async def test_open_claim_reply_follow_up_close_reopen(services):
    alice, bob = await make_staff(services, "alice"), await make_staff(services, "bob")
    user, ticket = await open_ticket(services, "visitor-1", "Can I patent a recipe?")
    assert ticket.status == "open"

    await services.tickets.claim(ticket.id, alice.id)
    with pytest.raises(AlreadyClaimed) as lost:
        await services.tickets.claim(ticket.id, bob.id)
    assert "Alice" in str(lost.value.holder if hasattr(lost.value, "holder") else lost.value)

    await services.tickets.reply(ticket.id, alice.id, "Recipes can be patented if they are new.")
    assert (await services.tickets.get(ticket.id)).ticket.status == "answered"

    reply = await services.conversation.ask("web", "visitor-1", "thanks, and what does it cost?")
    assert reply.kind == "joined" and reply.ticket_id == ticket.id
    detail = await services.tickets.get(ticket.id)
    assert detail.ticket.status == "claimed" and detail.ticket.claimed_by == alice.id
    assert [m.sender for m in detail.messages] == ["user", "staff", "user"]

    await services.tickets.close(ticket.id, alice.id)
    payloads = await outbox_texts(services, ticket.id)
    assert [p["kind"] for p in payloads] == ["staff_reply", "ticket_closed"]
    assert await services.tickets.active_ticket(user.id) is None
    assert "no open ticket" in await services.tickets.status_for_user(user.id, "en")

    rated = await services.tickets.rate(ticket.id, user.id, 5)
    assert rated.rating == 5
    with pytest.raises(InvalidState):
        await services.tickets.rate(ticket.id, user.id, 9)

    reopened = await services.tickets.reopen(ticket.id, bob.id)
    assert reopened.status == "open" and reopened.claimed_by is None
    assert "waiting for a staff member" in await services.tickets.status_for_user(user.id, "en")
    async with services.sessions() as s:
        kinds = (await s.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)
                                 .order_by(TicketEvent.id))).all()
    assert kinds == ["created", "claimed", "replied", "closed", "rated", "reopened"]


async def test_transfer_hands_the_ticket_over_and_only_the_owner_acts(services):
    alice, bob, carol = [await make_staff(services, n) for n in ("alice", "bob", "carol")]
    _, ticket = await open_ticket(services, "visitor-2")
    await services.tickets.claim(ticket.id, alice.id)
    moved = await services.tickets.transfer(ticket.id, alice.id, bob.id)
    assert moved.claimed_by == bob.id
    with pytest.raises(Forbidden):
        await services.tickets.reply(ticket.id, alice.id, "still mine?")
    with pytest.raises(Forbidden):
        await services.tickets.release(ticket.id, carol.id)
    with pytest.raises(NotFound):
        await services.tickets.transfer(ticket.id, bob.id, 9999)
    await services.tickets.reply(ticket.id, bob.id, "Bob here.")
    assert [v.ticket.id for v in await services.tickets.list("mine", staff_id=bob.id)] == [ticket.id]
    assert await services.tickets.list("mine", staff_id=alice.id) == []


async def test_notes_stay_internal(services):
    alice = await make_staff(services, "alice")
    user, ticket = await open_ticket(services, "visitor-3")
    await services.tickets.claim(ticket.id, alice.id)
    await services.tickets.add_note(ticket.id, alice.id, "customer seems to be a competitor")
    await services.tickets.reply(ticket.id, alice.id, "Here is the answer.")
    async with services.sessions() as s:
        user_view = (await s.scalars(select(Message.text).where(Message.user_id == user.id,
                                                                Message.direction != "internal"))).all()
        queued = (await s.scalars(select(Outbox.payload))).all()
    assert "customer seems to be a competitor" not in " ".join(user_view)
    assert all("competitor" not in p["text"] for p in queued) and len(queued) == 1
    detail = await services.tickets.get(ticket.id)
    assert [m.kind for m in detail.messages if m.direction == "internal"] == ["note"]


async def test_list_views_oldest_first_with_closed_and_search(services):
    alice = await make_staff(services, "alice")
    tickets = [(await open_ticket(services, f"v{i}", f"question number {i}"))[1] for i in range(4)]
    await services.tickets.claim(tickets[1].id, alice.id)
    await services.tickets.reply(tickets[2].id, alice.id, "answered")
    await services.tickets.close(tickets[3].id, alice.id)
    ids = lambda views: [v.ticket.id for v in views]  # noqa: E731
    t = [x.id for x in tickets]
    assert ids(await services.tickets.list("all")) == t[:3]
    assert ids(await services.tickets.list("all", include_closed=True)) == t
    assert ids(await services.tickets.list("unclaimed")) == [t[0]]
    assert ids(await services.tickets.list("waiting")) == t[:2]
    assert ids(await services.tickets.list("closed")) == [t[3]]
    assert ids(await services.tickets.list("all", search="number 2")) == [t[2]]
    with pytest.raises(InvalidState):
        await services.tickets.list("everything")


async def test_withdraw_and_status(services):
    user, ticket = await open_ticket(services, "visitor-4")
    assert f"#{ticket.id}" in await services.tickets.status_for_user(user.id, "zh")
    withdrawn = await services.tickets.withdraw(user.id)
    assert withdrawn.status == "closed"
    assert await services.tickets.withdraw(user.id) is None


async def test_simultaneous_escalations_of_one_user_make_one_ticket(services):
    user = await make_user(services, "visitor-5")
    results = await asyncio.gather(*(services.tickets.escalate(user.id, f"q{i}", "en", "asked") for i in range(8)))
    assert sum(created for _, created in results) == 1
    assert len({ticket.id for ticket, _ in results}) == 1
    async with services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Ticket)) == 1
        assert await s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 8
