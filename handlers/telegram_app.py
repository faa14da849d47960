"""Placeholder: the Telegram side is being built (issue 6)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.services import Services


async def start_telegram(services: Services, web_app: web.Application) -> list[asyncio.Task]:
    """Start Telegram when a token is configured; return the tasks to cancel at shutdown."""
    return []
