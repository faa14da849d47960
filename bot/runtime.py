"""`helpdesk run`: one process serving the web chat and console, and Telegram when a token is set."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import platform
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


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value


def fix_mmap_threshold() -> bool:
    """Keep glibc's heap from fragmenting under steady traffic; return whether the setting was made.

    asyncio reads a socket into a new 256 KiB bytes object and shrinks it to what arrived. glibc
    serves a block that size with mmap at first, but each time such a block is freed it raises
    its mmap threshold, and from then on the reads are carved out of the heap, each leaving a
    small live object in front of a hole. In issue 8's soak on PostgreSQL (every query's answer
    is read on the event loop) the heap grew by 1-2 MB a minute with free space it could not give
    back, while Python's allocations and the heap's bytes in use stayed flat; with the threshold
    fixed the heap stayed flat. Setting it turns the adjustment off: blocks of 128 KiB and more
    always come from mmap and go back to the system when freed. Only on glibc, and not when the
    operator chose a value (MALLOC_MMAP_THRESHOLD_, or GLIBC_TUNABLES=glibc.malloc.mmap_threshold=N).
    """
    chosen = "MALLOC_MMAP_THRESHOLD_" in os.environ or "glibc.malloc.mmap_threshold" in os.environ.get("GLIBC_TUNABLES", "")
    if platform.libc_ver()[0] != "glibc" or chosen:
        return False
    try:
        return ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    except (OSError, AttributeError):
        return False


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or `stop` is set); finish work in flight, then close."""
    fix_mmap_threshold()
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

