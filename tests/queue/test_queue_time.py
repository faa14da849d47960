"""Office hours, reminders with a hand-moved clock, retention and "delete my data"."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from queue_helpers import FakeClock, make_staff, open_ticket
from sqlalchemy import func, select

from bot.config import QueueSettings
from bot.db.models import Inbound, Message, Outbox, QuestionLog, Ticket, TicketEvent, User
from bot.inbox import Inbox, order_key_for
from bot.office_hours import OfficeHours
from bot.reminders import Reminders
from bot.retention import purge
from bot.tickets import TicketService

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_EVENING = datetime(2026, 11, 20, 17, 20, tzinfo=SHANGHAI)  # ten working minutes before closing


def beijing(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_office_hours_open_closed_next_opening_and_holidays():
    hours = OfficeHours(QueueSettings(holidays=[date(2026, 11, 23)]))
    assert hours.is_open(beijing(2026, 11, 20, 9, 0))
    assert not hours.is_open(beijing(2026, 11, 20, 17, 30))
    assert not hours.is_open(beijing(2026, 11, 21, 11, 0))  # Saturday
    assert hours.is_open(datetime(2026, 11, 20, 2, 0))  # naive, as SQLite returns it: UTC, 10:00 in Beijing
    # Friday evening: Monday is a holiday, so Tuesday 09:00.
    assert hours.next_opening(FRIDAY_EVENING + timedelta(hours=1)) == beijing(2026, 11, 24, 9, 0)
    assert hours.next_opening(beijing(2026, 11, 24, 7, 0)) == beijing(2026, 11, 24, 9, 0)
    assert hours.working_minutes_between(FRIDAY_EVENING, beijing(2026, 11, 24, 9, 30)) == 40
    assert hours.working_minutes_between(beijing(2026, 11, 24, 10, 0), beijing(2026, 11, 24, 9, 0)) == 0


def test_when_text_says_when_staff_are_back():
    hours = OfficeHours(QueueSettings(opens=time(9), closes=time(18)))
    assert hours.when_text("en", beijing(2026, 11, 20, 10, 0)) == "Staff usually reply within one working day."
    assert "Monday 23 Nov at 09:00" in hours.when_text("en", FRIDAY_EVENING + timedelta(hours=2))
    assert "11月23日（周一）09:00" in hours.when_text("zh", FRIDAY_EVENING + timedelta(hours=2))


async def test_a_friday_evening_ticket_does_not_remind_before_monday(services):
    clock = FakeClock(FRIDAY_EVENING.astimezone(UTC))
    tickets = TicketService(services.sessions, services.events, clock=clock)
    queue = replace(services.settings.queue, remind_unclaimed_minutes=30, alert_admin_unclaimed_minutes=120)
    reminders = Reminders(services.sessions, services.events, queue, clock=clock)
    user = await services.conversation.user("web", "friday")
    ticket, _ = await tickets.escalate(user.id, "urgent: opposition deadline", "en", "asked")

    seen = []
    for moment in (beijing(2026, 11, 20, 17, 29), beijing(2026, 11, 21, 12, 0), beijing(2026, 11, 22, 20, 0),
                   beijing(2026, 11, 23, 9, 19)):
        clock.now = moment.astimezone(UTC)
        seen += await reminders.check()
    assert seen == []
    clock.now = beijing(2026, 11, 23, 9, 21).astimezone(UTC)
    first = await reminders.check()
    assert [(e.ticket_id, e.data["level"], e.data["kind"]) for e in first] == [(ticket.id, "staff", "unclaimed")]
    assert await reminders.check() == []  # sent once
    clock.now = beijing(2026, 11, 23, 11, 11).astimezone(UTC)
    assert [e.data["level"] for e in await reminders.check()] == ["admin"]
    async with services.sessions() as s:
        kinds = (await s.scalars(select(TicketEvent.detail).where(TicketEvent.kind == "reminded"))).all()
    assert [k["level"] for k in kinds] == ["staff", "admin"]


async def test_claimed_but_unanswered_reminds_the_owner_then_admins(services):
    clock = FakeClock(beijing(2026, 11, 24, 9, 0).astimezone(UTC))
    tickets = TicketService(services.sessions, services.events, clock=clock)
    reminders = Reminders(services.sessions, services.events, services.settings.queue, clock=clock)
    alice = await make_staff(services, "alice")
    user = await services.conversation.user("web", "tuesday")
    ticket, _ = await tickets.escalate(user.id, "question", "en", "asked")
    clock.advance(minutes=20)
    await tickets.claim(ticket.id, alice.id)
    clock.advance(minutes=59)
    assert await reminders.check() == []
    clock.advance(minutes=2)
    events = await reminders.check()
    assert [(e.data["level"], e.data["kind"], e.data["staff_id"]) for e in events] == [("staff", "unanswered", alice.id)]
    await tickets.reply(ticket.id, alice.id, "answer")
    clock.advance(hours=6)
    assert await reminders.check() == []  # answered: the ball is on the user's side
    await tickets.add_user_message(user.id, "but what about X?")
    clock.advance(minutes=61)
    assert [e.data["kind"] for e in await reminders.check()] == ["unanswered"]


async def test_retention_purges_old_closed_tickets_with_their_messages(services):
    alice = await make_staff(services, "alice")
    now = datetime.now(UTC)
    old_clock = FakeClock(now - timedelta(days=400))
    old_tickets = TicketService(services.sessions, services.events, clock=old_clock)
    _, old = await open_ticket(services, "old-user")
    await old_tickets.reply(old.id, alice.id, "old answer")
    await old_tickets.close(old.id, alice.id)
    _, recent = await open_ticket(services, "recent-user")
    await services.tickets.close(recent.id, alice.id)
    _, still_open = await open_ticket(services, "open-user")

    result = await purge(services.sessions, retention_days=365)
    assert result.tickets == 1
    async with services.sessions() as s:
        assert set((await s.scalars(select(Ticket.id))).all()) == {recent.id, still_open.id}
        for model in (Message, TicketEvent, Outbox):
            assert await s.scalar(select(func.count()).select_from(model).where(model.ticket_id == old.id)) == 0
        assert await s.scalar(select(func.count()).select_from(Outbox)) == 1  # the recent closing notice
    assert (await purge(services.sessions, retention_days=365)).tickets == 0


async def test_forget_deletes_everything_about_the_user(services):
    alice = await make_staff(services, "alice")
    inbox = Inbox(services.sessions)
    await inbox.accept("web", "web:forget-1", {"text": "hello"}, order_key=order_key_for("web", "forget-me"))
    await services.conversation.ask("web", "forget-me", "小专利保护几年")
    user, ticket = await open_ticket(services, "forget-me", "please call me on 138...")
    await services.tickets.reply(ticket.id, alice.id, "we will")  # a pending outbox row
    _, other = await open_ticket(services, "someone-else")
    await services.tickets.reply(other.id, alice.id, "for someone else")

    await services.conversation.forget("web", "forget-me")
    async with services.sessions() as s:
        assert await s.get(User, user.id) is None
        for model in (Message, Ticket, QuestionLog):
            assert await s.scalar(select(func.count()).select_from(model).where(model.user_id == user.id)) == 0
        assert await s.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id)) == 0
        assert (await s.scalars(select(Outbox.destination))).all() == ["someone-else"]
        assert await s.scalar(select(func.count()).select_from(Inbound)) == 0
