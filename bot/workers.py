"""Placeholder: the queue's background workers (outbox, reminders, retention) are being built (issue 5)."""

from __future__ import annotations

import asyncio

from bot.services import Services


async def start_workers(services: Services) -> list[asyncio.Task]:
    """Start the queue's long-lived tasks; return them so the runtime can cancel them at shutdown."""
    return []
