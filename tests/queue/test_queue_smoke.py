"""The outbox and inbox APIs the channels build on, end to end on a real database."""

from __future__ import annotations

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
