"""Small builders shared by the queue tests (users, staff, tickets on a real database)."""

from __future__ import annotations

from bot.staff_accounts import add_staff


async def make_user(services, external_id: str, channel: str = "web", name: str = ""):
    return await services.conversation.user(channel, external_id, name or external_id)


async def make_staff(services, username: str, role: str = "staff"):
    return await add_staff(services.sessions, username, None, role=role, display_name=username.title())


async def open_ticket(services, external_id: str, question: str = "how do I file abroad?", channel: str = "web"):
    user = await make_user(services, external_id, channel)
    ticket, created = await services.tickets.escalate(user.id, question, "en", "asked")
    assert created
    return user, ticket
