"""Retention: closed tickets, with their messages and audit trail, are deleted after N days.

Personal data should not outlive its use. What goes: closed tickets older than
`queue.retention_days` (by closing time) with their messages, events, outbox rows and the
question-log rows that led to them; processed inbound rows (kept only to drop repeats) after
`inbound_days`. A user's own "delete my data" is Conversation.forget.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CLOSED, Inbound, Message, Outbox, QuestionLog, Ticket, TicketEvent, utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    tickets: int
    inbound: int


async def purge(sessions: async_sessionmaker[AsyncSession], retention_days: int, clock: Callable[[], datetime] = utcnow,
                inbound_days: int = 7, batch: int = 500) -> Purged:
    """Delete what is past its retention, in batches (each one transaction); return the counts."""
    now = clock()
    cutoff = now - timedelta(days=retention_days)
    tickets = 0
    while True:
        async with sessions.begin() as s:
            ids = list((await s.scalars(select(Ticket.id).where(Ticket.status == CLOSED, Ticket.closed_at < cutoff)
                                        .order_by(Ticket.id).limit(batch))).all())
            if not ids:
                break
            # Explicit deletes rather than relying on ON DELETE: outbox and question_log only SET NULL.
            for model in (Outbox, QuestionLog, Message, TicketEvent):
                await s.execute(delete(model).where(model.ticket_id.in_(ids)))
            await s.execute(delete(Ticket).where(Ticket.id.in_(ids)))
            tickets += len(ids)
    async with sessions.begin() as s:
        result = await s.execute(delete(Inbound).where(Inbound.status != "pending",
                                                       Inbound.created_at < now - timedelta(days=inbound_days)))
        inbound = result.rowcount or 0
    if tickets or inbound:
        log.info("retention: deleted %d closed tickets and %d processed inbound rows", tickets, inbound)
    return Purged(tickets, inbound)


async def run_daily(sessions: async_sessionmaker[AsyncSession], retention_days: int, interval: float = 86400.0) -> None:
    """Purge once at start, then once a day, until cancelled."""
    while True:
        try:
            await purge(sessions, retention_days)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("retention pass failed")
        await asyncio.sleep(interval)
