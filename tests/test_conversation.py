"""The conversation service: one question is one transaction, and each user message is stored once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.db.models import Message, QuestionLog, Ticket, User


async def count(services, model, *where) -> int:
    async with services.sessions() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))


async def test_a_failure_while_escalating_leaves_nothing_half_written(services, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("database went away mid-question")

    monkeypatch.setattr(services.tickets, "escalate_in", broken)
    with pytest.raises(RuntimeError):
        await services.conversation.ask("web", "v1", "what's the weather in Paris tomorrow")
    for model in (User, QuestionLog, Message, Ticket):
        assert await count(services, model) == 0, model.__name__


async def test_each_user_message_is_stored_once_on_every_path(services):
    ask = services.conversation.ask
    answered = await ask("web", "v2", "小专利保护几年")
    assert answered.kind == "answer"
    handoff = await ask("web", "v3", "is my product infringing")
    assert handoff.kind == "answer" and handoff.handoff and handoff.ticket_id
    escalated = await ask("web", "v4", "what's the weather in Paris tomorrow")
    assert escalated.kind == "escalated"
    joined = await ask("web", "v4", "any news?")
    assert joined.kind == "joined" and joined.ticket_id == escalated.ticket_id
    for visitor, typed in (("v2", 1), ("v3", 1), ("v4", 2)):
        async with services.sessions() as s:
            user_id = await s.scalar(select(User.id).where(User.external_id == visitor))
        assert await count(services, Message, Message.user_id == user_id, Message.sender == "user",
                           Message.kind != "context") == typed
    # the handoff ticket shows the question to staff, marked as copied context rather than a new message
    async with services.sessions() as s:
        kinds = (await s.scalars(select(Message.kind).where(Message.ticket_id == handoff.ticket_id))).all()
    assert kinds == ["context"]


async def test_asking_for_a_person_files_the_last_question(services):
    await services.conversation.ask("web", "v5", "what's the weather in Paris tomorrow")
    await services.conversation.ask("web", "v6", "小专利保护几年")
    reply = await services.conversation.ask("web", "v6", "人工")
    assert reply.kind == "escalated"
    async with services.sessions() as s:
        ticket = await s.get_one(Ticket, reply.ticket_id)
        texts = (await s.scalars(select(Message.text).where(Message.ticket_id == ticket.id).order_by(Message.id))).all()
    assert ticket.question == "小专利保护几年" and ticket.reason == "asked"
    assert texts == ["小专利保护几年", "人工"]
