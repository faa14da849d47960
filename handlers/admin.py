"""The admin chat: /reload the FAQ, /stats from the database. Only administrators may use them."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode

from bot.db.models import utcnow
from handlers import store
from handlers.context import CustomContext
from handlers.render import clip, esc
from handlers.staff import staff_member


async def _is_admin(update: Update, context: CustomContext) -> bool:
    user = update.effective_user
    if user is None:
        return False
    if user.id in context.services.settings.telegram.admin_user_ids:
        return True
    staff = await staff_member(update, context)
    return staff is not None and staff.role == "admin"


async def _say(update: Update, context: CustomContext, text: str) -> None:
    await context.bot.send_message(update.effective_chat.id, clip(text), parse_mode=ParseMode.HTML)


async def reload(update: Update, context: CustomContext) -> None:
    """Reload the FAQ now and report what happened (the live FAQ stays if the new one is rejected)."""
    if not await _is_admin(update, context):
        await _say(update, context, "Only administrators can do this.")
        return
    result = await context.services.faq.reload("admin /reload")
    lines = [esc(result.summary())] + [esc(str(p)) for p in result.errors[:20]]
    await _say(update, context, "\n".join(lines))


async def stats(update: Update, context: CustomContext) -> None:
    """Today's questions by outcome, and the open tickets."""
    if not await _is_admin(update, context):
        await _say(update, context, "Only administrators can do this.")
        return
    since = store.start_of_day(utcnow(), context.services.settings.tz)
    s = await store.stats(context.services.sessions, since)
    actions = ", ".join(f"{a}: {n}" for a, n in sorted(s.by_action.items())) or "none"
    await _say(update, context, f"<b>Today</b>: {s.questions_today} questions ({esc(actions)})\n"
                                f"<b>Open tickets</b>: {s.open_tickets} ({s.unclaimed} unclaimed)")
