"""Faults (issue 8): the database away while messages arrive; a PostgreSQL connection killed mid-transaction."""

from __future__ import annotations

import asyncio

from fakes.outage import database_away
from sqlalchemy import event, func, select

from bot.db.models import Inbound, Message, Ticket, User
from bot.inbox import Inbox, order_key_for

WAIT = 30.0  # a bound on a hang, not a speed requirement


async def test_messages_arriving_while_the_database_is_away_are_kept_and_processed(services):
    inbox = Inbox(services.sessions, lease_seconds=1, poll_seconds=0.05)
    processed = []

    async def handler(payload):
        await services.conversation.ask("web", payload["visitor"], payload["text"])
        processed.append(payload["n"])

    async def channel_delivers(n: int) -> None:
        """What a channel does: keep the message (don't acknowledge) until the database has stored it."""
        while True:
            try:
                await inbox.accept("web", f"away:{n}", {"visitor": f"v{n % 3}", "text": "小专利保护几年", "n": n},
                                   order_key=order_key_for("web", f"v{n % 3}"))
                return
            except Exception:
                await asyncio.sleep(0.1)

    processor = asyncio.create_task(inbox.run(handler))
    try:
        await channel_delivers(0)
        async with asyncio.timeout(WAIT):
            while processed != [0]:
                await asyncio.sleep(0.05)
        async with database_away(services):
            arriving = [asyncio.create_task(channel_delivers(n)) for n in range(1, 6)]
            await asyncio.sleep(1.0)  # messages keep arriving while it is away
            assert not processor.done()
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*arriving)
            while sorted(processed) != list(range(6)):
                await asyncio.sleep(0.05)
        assert not processor.done()  # the processor lived through the outage
    finally:
        processor.cancel()
        await asyncio.gather(processor, return_exceptions=True)
    async with services.sessions() as s:
        assert set((await s.scalars(select(Inbound.status))).all()) == {"done"}
        metas = (await s.scalars(select(Message.meta).where(Message.direction == "in"))).all()
    assert sorted(m["inbound_id"] for m in metas) == list(range(1, 7))  # each processed once


async def test_a_connection_killed_mid_transaction_leaves_no_half_ticket_and_the_message_is_retried(services):
    if services.engine.dialect.name != "postgresql":
        import pytest

        pytest.skip("pg_terminate_backend is PostgreSQL; SQLite has no server connection to kill")
    kills = []

    def kill_after_ticket_insert(conn, _cursor, statement, *_args) -> None:
        # The ticket row is written, its first event is not: the worst moment to lose the connection.
        if statement.startswith("INSERT INTO tickets") and not kills:
            kills.append(True)
            conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    event.listen(services.engine.sync_engine, "after_cursor_execute", kill_after_ticket_insert)
    inbox = Inbox(services.sessions, lease_seconds=0.2)
    outcomes = []

    async def handler(payload):
        return await services.conversation.ask("web", "killed-visitor", payload["text"])

    try:
        await inbox.accept("web", "kill:1", {"text": "人工"}, order_key=order_key_for("web", "killed-visitor"))
        outcomes.append(await inbox.process_pending(handler))
        assert kills == [True]
        async with services.sessions() as s:
            assert await s.scalar(select(func.count()).select_from(Ticket)) == 0  # no half-written ticket
            assert await s.scalar(select(Inbound.status)) == "pending"
        async with asyncio.timeout(WAIT):
            while await inbox.pending():
                await inbox.process_pending(handler)
                await asyncio.sleep(0.1)
    finally:
        event.remove(services.engine.sync_engine, "after_cursor_execute", kill_after_ticket_insert)
    async with services.sessions() as s:
        tickets = (await s.scalars(select(Ticket))).all()
        user = await s.scalar(select(User).where(User.external_id == "killed-visitor"))
        assert len(tickets) == 1 and tickets[0].user_id == user.id
        assert await s.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == tickets[0].id)) == 1
