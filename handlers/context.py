"""A typed context for handlers: `context.services` and `context.desk` instead of string keys into bot_data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.services import Services

if TYPE_CHECKING:
    from handlers.flood import FloodGuard
    from handlers.staff import StaffDesk

_SERVICES, _DESK, _FLOOD = "helpdesk.services", "helpdesk.desk", "helpdesk.flood"


class CustomContext(CallbackContext[ExtBot, dict, dict, dict]):
    """The only place that knows where shared objects live in bot_data."""

    @property
    def services(self) -> Services:
        return self.bot_data[_SERVICES]

    @property
    def desk(self) -> StaffDesk:
        return self.bot_data[_DESK]

    @property
    def flood(self) -> FloodGuard:
        return self.bot_data[_FLOOD]


CONTEXT_TYPES = ContextTypes(context=CustomContext)


def attach(application: Application[Any, CustomContext, Any, Any, Any, Any], services: Services,
           desk: StaffDesk, flood: FloodGuard) -> None:
    """Store the shared objects once, at build time."""
    application.bot_data[_SERVICES] = services
    application.bot_data[_DESK] = desk
    application.bot_data[_FLOOD] = flood
