"""The outbox and inbox APIs the channels build on, end to end on a real database."""

from __future__ import annotations

import pytest
from queue_helpers import FakeClock, make_staff, open_ticket
from sqlalchemy import func, select

from bot.db.models import Inbound, Message, Outbox
from bot.inbox import Inbox
from bot.outbox import OutboxWorker, PermanentDeliveryError, TransientDeliveryError


class Recorder:
    def __init__(self, failures=()):
        self.sent, self.failures = [], list(failures)

    async def deliver(self, row_payload, destination):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((destination, row_payload["text"]))


async def test_a_reply_is_delivered_once_after_a_transient_failure(services):
    staff = await make_staff(services, "alice")
    _, ticket = await open_ticket(services, "v1", channel="telegram")
    await services.tickets.reply(ticket.id, staff.id, "first")
    await services.tickets.reply(ticket.id, staff.id, "second")
    transport = Recorder([TransientDeliveryError("429", retry_after=0)])
    clock = FakeClock()
    worker = OutboxWorker(services.sessions, services.events, {"telegram": transport}, clock=clock)
    for _ in range(5):
        await worker.deliver_due()
        clock.advance(seconds=1)
    assert transport.sent == [("v1", "first"), ("v1", "second")]
    async with services.sessions() as s:
        assert set((await s.scalars(select(Outbox.status))).all()) == {"sent"}


async def test_a_permanent_failure_flags_the_ticket_and_tells_staff(services):
    staff = await make_staff(services, "alice")
    _, ticket = await open_ticket(services, "v2", channel="telegram")
    await services.tickets.reply(ticket.id, staff.id, "hello")
    seen = []

    async def listener(event):
        seen.append(event)

    services.events.subscribe(listener)
    worker = OutboxWorker(services.sessions, services.events, {"telegram": Recorder([PermanentDeliveryError("blocked")])})
    await worker.deliver_due()
    failed = [e for e in seen if e.kind == "outbox.failed"]
    assert len(failed) == 1 and failed[0].ticket_id == ticket.id and failed[0].data["staff_id"] == staff.id
    detail = await services.tickets.get(ticket.id)
    assert detail.ticket.delivery_failed and detail.user.blocked


async def test_the_inbox_accepts_idempotently_and_processes_once(services):
    inbox = Inbox(services.sessions)
    first = await inbox.accept("web", "web:1", {"visitor": "v9", "text": "小专利保护几年"})
    again = await inbox.accept("web", "web:1", {"visitor": "v9", "text": "小专利保护几年"})
    assert first[1] is True and again == (first[0], False)

    async def handler(payload):
        await services.conversation.ask("web", payload["visitor"], payload["text"])

    assert await inbox.process_pending(handler) == 1
    assert await inbox.process_pending(handler) == 0
    async with services.sessions() as s:
        assert (await s.scalar(select(Inbound.status))) == "done"
        stamped = await s.scalar(select(func.count()).select_from(Message)
                                 .where(Message.meta["inbound_id"].as_integer() == first[0], Message.direction == "in"))
        assert stamped == 1


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


async def test_a_row_whose_effects_were_written_before_a_crash_is_not_processed_again(services):
    clock = FakeClock()
    inbox = Inbox(services.sessions, clock=clock, lease_seconds=30)
    row_id, _ = await inbox.accept("web", "web:crash", {"visitor": "v7", "text": "小专利保护几年"})

    async def dies_after_its_effects(payload):
        # choose() writes its Message in its own transaction without marking the row done (ask() marks it
        # inside its transaction, see test_inbox_batch.py), so this is the stamp-recovery path.
        await services.conversation.choose("web", payload["visitor"], "fee-reduction-who")
        raise Crash

    with pytest.raises(Crash):
        await inbox.process_pending(dies_after_its_effects)
    calls = []

    async def handler(payload):
        calls.append(payload)

    assert await inbox.process_pending(handler) == 0  # still leased by the "dead" worker
    clock.advance(seconds=31)
    assert await inbox.process_pending(handler) == 1
    assert calls == []  # recovered from its stamped effects, not run again
    async with services.sessions() as s:
        assert await s.scalar(select(Inbound.status).where(Inbound.id == row_id)) == "done"
        assert await s.scalar(select(func.count()).select_from(Message).where(
            Message.meta["inbound_id"].as_integer() == row_id, Message.direction == "out")) == 1


async def test_a_handler_that_fails_before_any_effect_is_retried_then_given_up(services):
    clock = FakeClock()
    inbox = Inbox(services.sessions, clock=clock, max_attempts=2)
    await inbox.accept("web", "web:a", {"n": 1}, order_key="web:v1")
    await inbox.accept("web", "web:b", {"n": 2}, order_key="web:v1")
    await inbox.accept("web", "web:c", {"n": 3}, order_key="web:v2")
    seen = []

    async def handler(payload):
        seen.append(payload["n"])
        if payload["n"] == 1:
            raise RuntimeError("database hiccup")

    await inbox.process_pending(handler)
    assert seen == [1, 3]  # 2 waits behind 1 (same chat); 3 is another chat
    clock.advance(seconds=10)
    await inbox.process_pending(handler)
    assert seen == [1, 3, 1, 2]  # second and last try of 1 fails: given up, then 2 goes
    async with services.sessions() as s:
        assert dict((await s.execute(select(Inbound.dedupe_key, Inbound.status))).all()) == {
            "web:a": "failed", "web:b": "done", "web:c": "done"}
