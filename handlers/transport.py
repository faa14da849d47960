"""Deliver outbox rows (staff replies, closing notices) to Telegram users; map Bot API errors for the outbox."""

from __future__ import annotations

import warnings

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.outbox import PermanentDeliveryError, TransientDeliveryError
from handlers.render import clip, rating_keyboard


def retry_seconds(exc: RetryAfter) -> float:
    """RetryAfter.retry_after as seconds (it is changing from int to timedelta across PTB 22.x)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wait = exc.retry_after
    return wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait)


class TelegramTransport:
    """The `Transport` of bot/outbox.py for channel "telegram"; the destination is the user's chat id."""

    def __init__(self, bot: Bot):
        self.bot = bot

    async def deliver(self, row_payload: dict, destination: str) -> None:
        text = clip(str(row_payload.get("text") or ""))
        markup = None
        if row_payload.get("kind") == "ticket_closed" and row_payload.get("ticket_id"):
            markup = rating_keyboard(int(row_payload["ticket_id"]))
        try:
            # Staff text is sent as plain text: what they typed is what the user sees.
            await self.bot.send_message(int(destination), text, reply_markup=markup)
        except RetryAfter as exc:
            raise TransientDeliveryError("Telegram asked us to slow down", retry_seconds(exc)) from None
        except Forbidden as exc:
            raise PermanentDeliveryError(f"the user blocked the bot ({exc.message})") from None
        except BadRequest as exc:  # chat not found, message malformed: retrying will not help
            raise PermanentDeliveryError(f"Telegram refused the message ({exc.message})") from None
        except (TimedOut, NetworkError) as exc:
            raise TransientDeliveryError(f"network: {exc.message}") from None
