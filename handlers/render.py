"""Pure functions: a Reply or a ticket -> HTML text and inline buttons; callback data, encoded and parsed strictly.

Everything a user typed is passed through `esc` before it reaches a message sent with parse_mode HTML.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.conversation import Reply
from bot.tickets import TicketView
from handlers.phrases import p

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_DATA = 64  # Telegram's limit for callback data, in bytes


def esc(text: str | None) -> str:
    return html.escape(text or "", quote=False)


_CONTROL = {c: None for c in range(32) if c not in (9, 10)} | {0x7F: None}


def clean(text: str | None) -> str:
    """User text without control characters or lone surrogates (PostgreSQL cannot store a NUL or invalid UTF-8)."""
    return (text or "").translate(_CONTROL).encode("utf-8", "replace").decode("utf-8")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---- callback data ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Callback:
    """A parsed button press: what to do and on what (an entry id, a log id, a ticket id, a choice)."""

    action: str
    arg: str = ""
    num: int = 0


_CALLBACKS: dict[str, re.Pattern[str]] = {
    "pick": re.compile(r"p:([A-Za-z0-9][A-Za-z0-9._-]{0,60})"),
    "feedback": re.compile(r"f:(\d{1,15}):([01])"),
    "human": re.compile(r"h"),
    "lang": re.compile(r"l:(zh|en|auto)"),
    "forget": re.compile(r"d:([yn])"),
    "withdraw": re.compile(r"w:([yn])"),
    "rate": re.compile(r"r:(\d{1,15}):([1-5])"),
    "claim": re.compile(r"s:c:(\d{1,15})"),
    "release": re.compile(r"s:r:(\d{1,15})"),
    "close": re.compile(r"s:x:(\d{1,15})"),
}
STAFF_ACTIONS = frozenset({"claim", "release", "close"})


def parse_callback(data: object) -> Callback | None:
    """The button's meaning, or None for anything that is not exactly one of ours."""
    if not isinstance(data, str) or len(data.encode()) > MAX_DATA:
        return None
    for action, pattern in _CALLBACKS.items():
        m = pattern.fullmatch(data)
        if m is None:
            continue
        groups = m.groups()
        if action in ("feedback", "rate"):
            return Callback(action, groups[1], int(groups[0]))
        if action in STAFF_ACTIONS:
            return Callback(action, "", int(groups[0]))
        return Callback(action, groups[0] if groups else "")
    return None


def pick_data(entry_id: str) -> str | None:
    data = f"p:{entry_id}"
    return data if parse_callback(data) else None  # an id too long for a button is left out


def _button(label: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(clip(label, 60), callback_data=data)


def _entry_rows(entries: tuple[tuple[str, str], ...]) -> list[list[InlineKeyboardButton]]:
    return [[_button(question, data)] for entry_id, question in entries if (data := pick_data(entry_id))]


# ---- replies to users -------------------------------------------------------------------------
def render_reply(reply: Reply) -> tuple[str, InlineKeyboardMarkup | None]:
    """A conversation Reply as one HTML message with its buttons."""
    lang = reply.lang
    if reply.kind == "answer":
        lines = [esc(reply.text)]
        for url in reply.sources:
            lines.append(f'{p("source", lang)}: <a href="{html.escape(url, quote=True)}">{esc(url)}</a>')
        if reply.reviewed:
            lines.append(f"{p('reviewed', lang)}: {reply.reviewed.isoformat()}")
        rows = []
        if reply.log_id is not None:
            lines.append("\n" + p("helpful", lang))
            rows.append([_button("👍", f"f:{reply.log_id}:1"), _button("👎", f"f:{reply.log_id}:0")])
        rows += _entry_rows(reply.related)
        return clip("\n".join(lines)), InlineKeyboardMarkup(rows) if rows else None
    if reply.kind == "suggest":
        rows = [*_entry_rows(reply.choices), [_button(p("none_of_these", lang), "h")]]
        return clip(esc(reply.text)), InlineKeyboardMarkup(rows)
    return clip(esc(reply.text)), None


def lang_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button("中文", "l:zh"), _button("English", "l:en"), _button("Auto / 自动", "l:auto")]])


def confirm_keyboard(prefix: str, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button(p("yes", lang), f"{prefix}:y"), _button(p("no", lang), f"{prefix}:n")]])


def rating_keyboard(ticket_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[_button("⭐" * n, f"r:{ticket_id}:{n}") for n in range(1, 6)]])


# ---- staff cards ------------------------------------------------------------------------------
STATUS_LABEL = {"open": "🆕 open", "claimed": "🔧 claimed", "answered": "✉️ answered", "closed": "✅ closed"}


def render_card(view: TicketView) -> tuple[str, InlineKeyboardMarkup | None]:
    """The staff group's card for one ticket: who, language, question, the matcher's guesses, state."""
    t, u = view.ticket, view.user
    status = STATUS_LABEL.get(t.status, t.status)
    if view.claimed_by_name and t.status != "closed":
        status += f" by {esc(view.claimed_by_name)}"
    lines = [f"<b>#{t.id}</b> · {esc(u.display_name) or '(no name)'} · {esc(t.lang)} · {esc(t.channel)} · {status}",
             f"<i>reason: {esc(t.reason)}</i>", "", esc(clip(t.question, 2500))]
    guesses = [g for g in (t.guesses or []) if isinstance(g, dict)][:3]
    if guesses:
        lines += ["", "<b>Matcher's guesses</b>"]
        lines += [f"{i}. {esc(str(g.get('question', '')))} <code>{esc(str(g.get('entry_id', '')))}</code> "
                  f"({esc(str(g.get('score', '')))})" for i, g in enumerate(guesses, 1)]
    if t.delivery_failed:
        lines += ["", "⚠️ Delivery to the user failed (they may have blocked the bot)."]
    lines += ["", "<i>Reply to this message to answer the user.</i>" if t.status != "closed" else ""]
    if t.status == "closed":
        return clip("\n".join(lines).rstrip()), None
    buttons = [_button("Claim", f"s:c:{t.id}")] if t.claimed_by is None else [_button("Release", f"s:r:{t.id}")]
    buttons.append(_button("Close", f"s:x:{t.id}"))
    return clip("\n".join(lines).rstrip()), InlineKeyboardMarkup([buttons])


def render_relay(view: TicketView, text: str) -> str:
    """A follow-up from the user, relayed into the staff group."""
    return clip(f"<b>#{view.ticket.id}</b> · {esc(view.user.display_name)}:\n{esc(text)}")


def render_queue(views: list[TicketView], title: str) -> str:
    if not views:
        return f"{esc(title)}: none."
    lines = [f"<b>{esc(title)}</b> ({len(views)})"]
    for v in views[:30]:
        who = f" · {esc(v.claimed_by_name)}" if v.claimed_by_name else ""
        lines.append(f"#{v.ticket.id} [{v.ticket.status}{who}] {esc(v.user.display_name)}: {esc(clip(v.ticket.question, 80))}")
    if len(views) > 30:
        lines.append(f"… and {len(views) - 30} more")
    return clip("\n".join(lines))
