"""Two processes' worth of Services on one PostgreSQL (LISTEN/NOTIFY), and the workers' lifecycle."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from conftest import make_settings
from queue_helpers import make_staff, make_user

from bot.pg_notify import PgEventBridge, asyncpg_dsn
from bot.services import close_services, open_services
from bot.workers import start_workers, stop_workers

WAIT = 10.0  # a bound on a hang, not a speed requirement


async def next_event(queue: asyncio.Queue, kind: str):
    async with asyncio.timeout(WAIT):
        while True:
            event = await queue.get()
            if event.kind == kind:
                return event


@pytest.fixture
async def second_process(services, tmp_path):
    """Another Services on the same database, as a second bot process would open it."""
    if services.engine.dialect.name != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL only; SQLite is single-process")
    other = await open_services(make_settings(tmp_path / "b", services.settings.database_url))
    try:
        yield other
    finally:
        await close_services(other)


async def start_bridges(*all_services):
    bridges = [PgEventBridge(s.settings.database_url, s.events, reconnect_delay=0.1) for s in all_services]
    tasks = [asyncio.create_task(b.run()) for b in bridges]
    async with asyncio.timeout(WAIT):
        for bridge in bridges:
            await bridge.connected.wait()
    return bridges, tasks


async def test_a_ticket_created_in_one_process_shows_in_the_other(services, second_process):
    _, tasks = await start_bridges(services, second_process)
    seen_by_a, seen_by_b = services.events.open_queue(), second_process.events.open_queue()
    try:
        user = await make_user(services, "cross-process")
        ticket, _ = await services.tickets.escalate(user.id, "seen elsewhere?", "en", "asked")
        event = await next_event(seen_by_b, "ticket.created")
        assert event.ticket_id == ticket.id
        # B claims: A hears about it, and A's own event was not echoed back to it first.
        staff = await make_staff(second_process, "bob")
        await second_process.tickets.claim(ticket.id, staff.id)
        kinds = []
        async with asyncio.timeout(WAIT):
            while "ticket.updated" not in kinds:
                kinds.append((await seen_by_a.get()).kind)
        assert kinds == ["ticket.created", "ticket.updated"]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_bridge_reconnects_after_its_connection_is_killed(services, second_process):
    bridges, tasks = await start_bridges(services, second_process)
    seen_by_b = second_process.events.open_queue()
    try:
        admin = await asyncpg.connect(asyncpg_dsn(services.settings.database_url))
        try:
            killed = await admin.fetchval("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                          "WHERE application_name = 'helpdesk-events' AND datname = current_database()")
        finally:
            await admin.close()
        assert killed == 2
        async with asyncio.timeout(WAIT):
            while not all(b.connected.is_set() and b.connections == 2 for b in bridges):
                await asyncio.sleep(0.05)
            user = await make_user(services, "after-reconnect")
            ticket, _ = await services.tickets.escalate(user.id, "still there?", "en", "asked")
            event = await next_event(seen_by_b, "ticket.created")
        assert event.ticket_id == ticket.id
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_workers_start_and_stop_cleanly(services):
    tasks = await start_workers(services)
    names = {t.get_name() for t in tasks}
    assert {"outbox", "reminders", "retention"} <= names
    assert ("pg-events" in names) == (services.engine.dialect.name == "postgresql")
    staff = await make_staff(services, "alice")
    user = await make_user(services, "worker-user")
    ticket, _ = await services.tickets.escalate(user.id, "q", "en", "asked")
    delivered = services.events.open_queue()
    await services.tickets.reply(ticket.id, staff.id, "delivered by the running worker")
    event = await next_event(delivered, "chat.message")
    assert event.data["visitor"] == "worker-user"
    await stop_workers(tasks)
    assert all(t.done() for t in tasks)
