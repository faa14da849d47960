"""The Telegram side's own queries: relay links, Telegram staff accounts, ratings, admin stats.

Kept apart from the handlers so those stay "parse, call, reply"; each function is one unit of work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import ACTIVE_STATUSES, CLOSED, QuestionLog, RelayLink, Staff, Ticket

Sessions = async_sessionmaker[AsyncSession]


async def link(sessions: Sessions, ticket_id: int, chat_id: int, message_id: int, kind: str,
               topic_id: int | None = None) -> None:
    async with sessions.begin() as s:
        s.add(RelayLink(ticket_id=ticket_id, staff_chat_id=chat_id, staff_message_id=message_id, kind=kind, topic_id=topic_id))


async def ticket_for_message(sessions: Sessions, chat_id: int, message_id: int) -> int | None:
    """The ticket whose card (or relayed message) this staff-side message is."""
    async with sessions() as s:
        return await s.scalar(select(RelayLink.ticket_id).where(
            RelayLink.staff_chat_id == chat_id, RelayLink.staff_message_id == message_id))


async def ticket_for_topic(sessions: Sessions, chat_id: int, topic_id: int) -> int | None:
    async with sessions() as s:
        return await s.scalar(select(RelayLink.ticket_id).where(
            RelayLink.staff_chat_id == chat_id, RelayLink.topic_id == topic_id).limit(1))


async def card_of(sessions: Sessions, ticket_id: int, chat_id: int) -> RelayLink | None:
    async with sessions() as s:
        return await s.scalar(select(RelayLink).where(
            RelayLink.ticket_id == ticket_id, RelayLink.staff_chat_id == chat_id,
            RelayLink.kind.in_(("card", "topic"))).order_by(RelayLink.id).limit(1))


async def staff_for_telegram(sessions: Sessions, telegram_user_id: int, name: str, staff_ids: list[int],
                             admin_ids: list[int]) -> Staff | None:
    """The Staff row of a Telegram user allowed to act, created on first action for configured ids; else None.

    Rows this function made (`tg<id>`, no password) last only as long as the id stays allowed: taking
    someone out of `staff_user_ids` (or out of the staff group) takes their rights away, and their
    role follows `admin_user_ids`. Accounts made with `helpdesk staff add --telegram-id` last while active.
    """
    allowed = telegram_user_id in staff_ids or telegram_user_id in admin_ids
    role = "admin" if telegram_user_id in admin_ids else "staff"
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.telegram_user_id == telegram_user_id))
    if staff is not None:
        if not staff.active:
            return None
        if not _made_here(staff):
            return staff
        if not allowed:
            return None
        if staff.role != role:
            async with sessions.begin() as s:
                await s.execute(update(Staff).where(Staff.id == staff.id).values(role=role))
            staff.role = role
        return staff
    if not allowed:
        return None
    try:
        async with sessions.begin() as s:
            staff = Staff(username=f"tg{telegram_user_id}", display_name=(name or f"tg{telegram_user_id}")[:128],
                          role=role, telegram_user_id=telegram_user_id)
            s.add(staff)
        return staff
    except IntegrityError:  # the same person's second button press created it first
        async with sessions() as s:
            return await s.scalar(select(Staff).where(Staff.telegram_user_id == telegram_user_id))


def _made_here(staff: Staff) -> bool:
    """A row staff_for_telegram created on a first action, not an account an administrator made."""
    return staff.username == f"tg{staff.telegram_user_id}" and not staff.password_hash


async def rate(sessions: Sessions, ticket_id: int, user_id: int, stars: int) -> bool:
    """Store the user's rating of their own closed ticket; False when it is not theirs or not closed."""
    async with sessions.begin() as s:
        result = await s.execute(update(Ticket).where(Ticket.id == ticket_id, Ticket.user_id == user_id,
                                                      Ticket.status == CLOSED).values(rating=stars))
        return result.rowcount == 1


@dataclass(frozen=True)
class Stats:
    questions_today: int
    by_action: dict[str, int]
    open_tickets: int
    unclaimed: int


async def stats(sessions: Sessions, since: datetime) -> Stats:
    async with sessions() as s:
        rows = (await s.execute(select(QuestionLog.action, func.count()).where(QuestionLog.created_at >= since)
                                .group_by(QuestionLog.action))).all()
        open_tickets = await s.scalar(select(func.count()).select_from(Ticket).where(Ticket.status.in_(ACTIVE_STATUSES)))
        unclaimed = await s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.status.in_(ACTIVE_STATUSES), Ticket.claimed_by.is_(None)))
    by_action = {a: n for a, n in rows}
    return Stats(sum(by_action.values()), by_action, open_tickets or 0, unclaimed or 0)


def start_of_day(now: datetime, tz) -> datetime:
    local = now.astimezone(tz)
    return (local - timedelta(hours=local.hour, minutes=local.minute, seconds=local.second,
                              microseconds=local.microsecond))
