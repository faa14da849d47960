"""The objects every handler uses, opened and closed in one place (the lifecycle owner)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.conversation import Conversation
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.migrate import upgrade
from bot.events import EventBus
from bot.faq.holder import FaqHolder
from bot.office_hours import OfficeHours
from bot.outbox import WebTransport
from bot.tickets import TicketService

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Start-up cannot go on; the message is one or more lines for the operator."""


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    events: EventBus
    faq: FaqHolder
    tickets: TicketService
    conversation: Conversation
    # Delivery of outbox rows, by channel ("telegram", "web"); each channel registers its own at start.
    transports: dict[str, Any] = field(default_factory=dict)


async def open_services(settings: Settings, migrate: bool = True) -> Services:
    """Connect to the database (applying migrations), load the FAQ, wire the services."""
    engine = make_engine(settings.database_url, settings.database.pool_size, settings.database.echo)
    try:
        if migrate:
            await upgrade(engine)
        faq = FaqHolder(settings.faq_path, settings.matcher, watch_interval=settings.faq.watch_interval)
        result = await faq.reload("startup")
        if not result.ok:
            raise StartupError("the FAQ cannot be loaded:\n" + "\n".join(str(p) for p in result.errors))
    except BaseException:
        await engine.dispose()
        raise
    sessions = make_sessionmaker(engine)
    events = EventBus()
    tickets = TicketService(sessions, events)
    conversation = Conversation(sessions, lambda: faq.current.matcher, tickets, events,
                                when_text=OfficeHours(settings.queue).when_text,
                                max_chars=settings.web.max_message_chars)
    log.info("FAQ loaded: %d entries from %s", len(faq.current.faq), settings.faq_path)
    # The web chat page reads the messages table; its "delivery" is a live-page event (bot/outbox.py).
    return Services(settings, engine, sessions, events, faq, tickets, conversation, transports={"web": WebTransport(events)})


async def close_services(services: Services) -> None:
    await asyncio.shield(services.engine.dispose())
