"""Small builders shared by the queue tests (users, staff, tickets on a real database; a settable clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.staff_accounts import add_staff


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime | None = None):
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


async def make_user(services, external_id: str, channel: str = "web", name: str = ""):
    return await services.conversation.user(channel, external_id, name or external_id)


async def make_staff(services, username: str, role: str = "staff"):
    return await add_staff(services.sessions, username, None, role=role, display_name=username.title())


async def open_ticket(services, external_id: str, question: str = "how do I file abroad?", channel: str = "web"):
    user = await make_user(services, external_id, channel)
    ticket, created = await services.tickets.escalate(user.id, question, "en", "asked")
    assert created
    return user, ticket
