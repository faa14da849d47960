"""Typed keys for the objects the aiohttp application shares with its views."""

from aiohttp import web

from bot.services import Services

SERVICES = web.AppKey("services", Services)
