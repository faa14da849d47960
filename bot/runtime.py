"""`helpdesk run`: one process serving the web chat and console, and Telegram when a token is set."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from dataclasses import replace

from aiohttp import web
from telegram.error import TelegramError

from bot.config import Settings
from bot.services import Services, StartupError, close_services, open_services
from bot.web.app import build_app

log = logging.getLogger(__name__)


def ensure_web_secret(settings: Settings) -> Settings:
    """Without a configured secret, create one once and keep it in the data directory."""
    if settings.web.secret_key:
        return settings
    path = settings.data_path / "web_secret"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return replace(settings, web=replace(settings.web, secret_key=path.read_text().strip()))


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set); finish work in flight, then close."""
    settings = ensure_web_secret(settings)
    services = await open_services(settings)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    app = build_app(services)
    runner = web.AppRunner(app, handle_signals=False)
    tasks: list[asyncio.Task] = []
    try:
        tasks = await start_background(services, app)
        await runner.setup()
        site = web.TCPSite(runner, settings.web.host, settings.web.port)
        await site.start()
        log.info("web chat and console on http://%s:%s/", settings.web.host, settings.web.port)
        await stop.wait()
        log.info("shutting down")
    finally:
        await runner.cleanup()  # stops accepting requests, lets those in flight finish
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_services(services)


async def start_background(services: Services, app: web.Application) -> list[asyncio.Task]:
    """Start the long-lived tasks: FAQ watcher, the queue's workers, and Telegram when configured."""
    from bot.workers import start_workers
    from handlers.telegram_app import start_telegram

    tasks = []
    if services.settings.faq.watch:
        tasks.append(asyncio.create_task(services.faq.watch(), name="faq-watch"))
    # Telegram first: it adds the webhook route before the app is frozen, and registers its
    # transport before the outbox worker starts delivering.
    try:
        tasks += await start_telegram(services, app)
    except (TelegramError, RuntimeError) as exc:
        for task in tasks:
            task.cancel()
        raise StartupError(f"Telegram cannot start: {exc}") from None
    tasks += await start_workers(services)
    return tasks

