"""Build the aiohttp application; routes live in `routes.py`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.services import Services
from bot.web.keys import LIVE_QUEUES, SERVICES
from bot.web.live import end_streams
from bot.web.middleware import security
from bot.web.routes import setup_routes

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _local_time(tz: ZoneInfo):
    """A template filter: stored UTC times shown in the helpdesk's time zone (queue.timezone)."""

    def local(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if moment is None:
            return "–"
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(tz).strftime(fmt)

    return local


def build_app(services: Services) -> web.Application:
    """The web application for one process; it shares the event loop with the bot."""
    app = web.Application(client_max_size=services.settings.web.max_body_bytes, middlewares=[security])
    app[SERVICES] = services
    app[LIVE_QUEUES] = set()
    # Autoescape stays on for every template: user text is always shown as text.
    env = aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=jinja2.select_autoescape(default=True))
    env.filters["local"] = _local_time(services.settings.tz)
    app.on_shutdown.append(end_streams)
    setup_routes(app)
    return app
