"""Typed keys for the objects the aiohttp application shares with its views."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.db.models import Staff
from bot.events import Event
from bot.services import Services

SERVICES = web.AppKey("services", Services)
# Queues of the live (server-sent events) streams still open, so shutdown can end them at once.
LIVE_QUEUES = web.AppKey("live_queues", set[asyncio.Queue[Event | None]])
# The signed-in console account and its session's CSRF token, set by `auth.require`.
STAFF = web.RequestKey("staff", Staff)
CSRF = web.RequestKey("csrf", str)
LANG = web.RequestKey("lang", str)
FORM = web.RequestKey("form", dict)  # the posted form of a console POST, after its CSRF check
