"""Office hours: when staff are in, when they are back, and how much working time has passed.

Reminders count working minutes only, so a ticket opened on Friday evening does not wake anyone
on Saturday; users asking outside hours are told when staff will be back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import QueueSettings
from bot.db.models import utcnow
from bot.texts import t

WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "zh": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
}


def as_utc(at: datetime) -> datetime:
    """SQLite gives naive datetimes back; everything stored is UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


class OfficeHours:
    """Working hours in one time zone, on some weekdays, minus holidays."""

    def __init__(self, queue: QueueSettings, clock: Callable[[], datetime] = utcnow):
        self.tz = ZoneInfo(queue.timezone)
        self.workdays, self.holidays = frozenset(queue.workdays), frozenset(queue.holidays)
        self.opens, self.closes = queue.opens, queue.closes
        self.clock = clock

    def is_workday(self, day: date) -> bool:
        return day.isoweekday() in self.workdays and day not in self.holidays

    def _window(self, day: date) -> tuple[datetime, datetime]:
        return (datetime.combine(day, self.opens, self.tz), datetime.combine(day, self.closes, self.tz))

    def is_open(self, at: datetime) -> bool:
        local = as_utc(at).astimezone(self.tz)
        return self.is_workday(local.date()) and self.opens <= local.time() < self.closes

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when open, else the start of the next working period (aware, in the office's zone)."""
        local = as_utc(at).astimezone(self.tz)
        if self.is_open(local):
            return local
        day = local.date()
        for _ in range(400):  # a year of holidays at most
            if self.is_workday(day):
                start, _end = self._window(day)
                if start > local:
                    return start
            day += timedelta(days=1)
        raise ValueError("no working day within a year: check queue.workdays and queue.holidays")

    def working_minutes_between(self, a: datetime, b: datetime) -> float:
        """Minutes of office time in [a, b); 0 when b is not after a."""
        a, b = as_utc(a).astimezone(self.tz), as_utc(b).astimezone(self.tz)
        if b <= a:
            return 0.0
        total = 0.0
        day = a.date()
        while day <= b.date():
            if self.is_workday(day):
                start, end = self._window(day)
                lo, hi = max(start, a), min(end, b)
                if hi > lo:
                    total += (hi - lo).total_seconds() / 60
            day += timedelta(days=1)
        return total

    def format_at(self, at: datetime, lang: str) -> str:
        local = as_utc(at).astimezone(self.tz)
        if lang == "zh":
            return f"{local.month}月{local.day}日（{WEEKDAYS['zh'][local.weekday()]}）{local:%H:%M}"
        return f"{WEEKDAYS['en'][local.weekday()]} {local.day} {local:%b} at {local:%H:%M}"

    def when_text(self, lang: str, at: datetime | None = None) -> str:
        """What to tell a user about when to expect a reply: soon, or when staff are back."""
        at = at or self.clock()
        if self.is_open(at):
            return t("reply_soon", lang)
        return t("back_at", lang, at=self.format_at(self.next_opening(at), lang))
