"""The Telegram side wired for a test: real services and database, the real Application, the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.outbox import OutboxWorker
from bot.services import Services, close_services, open_services
from bot.web.app import build_app
from fakes.bot_api import FakeBotApi, person
from handlers.telegram_app import start_telegram

STAFF_CHAT = -100200300
ADMIN_CHAT = -100900900
OTHER_GROUP = -100555555
ALICE, BOB = 5001, 5002  # staff (configured ids)
ADMIN = 5009
STRANGER = 6666


@dataclass
class Harness:
    api: FakeBotApi
    services: Services
    web_app: web.Application
    port: int = 0  # the web app's port when serve_web

    def staff(self, user_id: int, name: str = "") -> dict:
        return person(user_id, name or f"Staff{user_id}", language_code="en")

    async def card(self, ticket_id: int) -> Any:
        """The card the bot posted for this ticket in the staff group."""
        return await self.api.wait_for(
            lambda c: c.method == "sendMessage" and c.chat_id == STAFF_CHAT and c.text.startswith(f"<b>#{ticket_id}</b>"),
            what=f"card of ticket #{ticket_id}")

    async def settled(self) -> None:
        """Wait until every pushed update was fetched and processed, and the bot went quiet."""
        from sqlalchemy import func, select

        from bot.db.models import Inbound

        quiet_since, calls = asyncio.get_running_loop().time(), len(self.api.calls)
        for _ in range(400):
            await asyncio.sleep(0.05)
            async with self.services.sessions() as s:
                pending = await s.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == "pending"))
            now = asyncio.get_running_loop().time()
            if len(self.api.calls) != calls:
                quiet_since, calls = now, len(self.api.calls)
            if not self.api.updates and pending == 0 and now - quiet_since > 0.3:
                return
        raise AssertionError("the bot did not settle")

    async def card_message_id(self, ticket_id: int) -> int:
        from sqlalchemy import select

        from bot.db.models import RelayLink

        for _ in range(200):
            async with self.services.sessions() as s:
                found = await s.scalar(select(RelayLink.staff_message_id).where(
                    RelayLink.ticket_id == ticket_id, RelayLink.kind.in_(("card", "topic"))))
            if found is not None:
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"no card stored for ticket #{ticket_id}")


def zone_at_midday(now: datetime | None = None) -> str:
    """A fixed-offset time zone where it is now between 11:00 and 13:00, so that a test counting "today's"
    questions cannot straddle local midnight (one did, at 16:00 UTC: midnight in Asia/Shanghai)."""
    now = now or datetime.now(UTC)
    offset = 12 - now.hour  # -11 .. +12 hours, all of which Etc/ has
    return "Etc/GMT" + (f"{-offset:+d}" if offset else "")  # POSIX signs: Etc/GMT-8 is UTC+8


def telegram_settings(api: FakeBotApi, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(token=api.token, base_url=api.base_url, base_file_url=api.base_file_url,
                                  staff_chat_id=STAFF_CHAT, admin_chat_id=ADMIN_CHAT, staff_user_ids=[ALICE, BOB],
                                  admin_user_ids=[ADMIN], rate_limit=False, flood_messages=8, flood_window_seconds=30)
    values.update(overrides)
    return values


@contextlib.asynccontextmanager
async def running(tmp_path: Path, db_url: str, serve_web: bool = False, faq_dir: Path | None = None,
                  timezone: str | None = None, **telegram: Any) -> AsyncIterator[Harness]:
    """Start everything like `helpdesk run` does (plus an outbox worker), stop it all cleanly afterwards.

    `timezone`: the helpdesk's (`[queue] timezone`), which decides where "today" and office hours begin.
    """
    from conftest import SAMPLE_FAQ, make_settings

    api = await FakeBotApi().start()
    sections: dict[str, dict[str, Any]] = {"telegram": telegram_settings(api, **telegram)}
    if timezone:
        sections["queue"] = {"timezone": timezone}
    settings = make_settings(tmp_path, db_url, faq_dir=faq_dir or SAMPLE_FAQ, **sections)
    services = await open_services(settings)
    web_app = build_app(services)
    tasks: list[asyncio.Task] = []
    runner = None
    try:
        tasks = await start_telegram(services, web_app)
        outbox = OutboxWorker(services.sessions, services.events, services.transports, poll_seconds=0.1)
        tasks.append(asyncio.create_task(outbox.run()))
        if serve_web:
            runner = web.AppRunner(web_app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
        yield Harness(api, services, web_app, port if serve_web else 0)
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        if runner is not None:
            await runner.cleanup()
        await close_services(services)
        await api.stop()
        for r in results:
            if isinstance(r, Exception) and not isinstance(r, asyncio.CancelledError):
                raise r
