"""The inbox's fast paths (issue 6 benchmark): a batch stored in one transaction already leased to its
Inbox, and the row marked done inside Conversation.ask's own transaction. Each keeps the guarantees:
stored before acknowledged, processed exactly once across crashes, one chat in order."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from queue_helpers import FakeClock
from sqlalchemy import event, func, select

from bot.db.models import Inbound, Message, QuestionLog, User
from bot.inbox import Inbox, order_key_for

QUESTION = "小专利保护几年"


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


@contextlib.contextmanager
def counting_commits(services):
    commits = []

    def on_commit(_conn) -> None:
        commits.append(True)

    event.listen(services.engine.sync_engine, "commit", on_commit)
    try:
        yield commits
    finally:
        event.remove(services.engine.sync_engine, "commit", on_commit)


def batch(*items: tuple[str, str]) -> list[tuple[str, str, dict, str]]:
    """(dedupe key, visitor) -> accept_many items for the web channel."""
    return [("web", key, {"visitor": visitor, "text": QUESTION, "key": key}, order_key_for("web", visitor))
            for key, visitor in items]


async def stamped(services, row_id: int) -> int:
    async with services.sessions() as s:
        return await s.scalar(select(func.count()).select_from(Message).where(
            Message.meta["inbound_id"].as_integer() == row_id, Message.direction == "in")) or 0


async def test_a_batch_is_one_transaction_and_survives_a_crash_before_processing_once_in_order(services):
    clock = FakeClock()
    first = Inbox(services.sessions, clock=clock, lease_seconds=30)
    with counting_commits(services) as commits:
        stored = await first.accept_many(batch(("b:1", "v1"), ("b:2", "v1"), ("b:3", "v2"), ("b:2", "v1")))
    assert len(commits) == 1
    assert [is_new for _, is_new in stored] == [True, True, True, False] and stored[3][0] == stored[1][0]
    # The process dies here, before processing anything. A restarted process waits out the lease, then runs each once.
    seen = []

    async def handler(payload):
        seen.append(payload["key"])
        await services.conversation.ask("web", payload["visitor"], payload["text"])

    second = Inbox(services.sessions, clock=clock, lease_seconds=30)
    assert await second.process_pending(handler) == 0  # still leased to the dead process
    clock.advance(seconds=61)
    assert await second.process_pending(handler) == 3
    assert await second.process_pending(handler) == 0
    assert seen == ["b:1", "b:2", "b:3"]
    async with services.sessions() as s:
        assert set((await s.scalars(select(Inbound.status))).all()) == {"done"}
    for row_id, _ in stored[:3]:
        assert await stamped(services, row_id) == 1


async def test_a_row_leased_at_accept_runs_in_one_commit_done_inside_the_question(services):
    inbox = Inbox(services.sessions)
    [(row_id, _)] = await inbox.accept_many(batch(("one:1", "v3")))

    async def handler(payload):
        return await services.conversation.ask("web", payload["visitor"], payload["text"])

    with counting_commits(services) as commits:
        outcome = await inbox.process_row(row_id, handler)
    assert outcome.status == "done" and outcome.result.kind == "answer"
    assert len(commits) == 1  # no lease commit, no done commit: the question's transaction did both
    assert (await inbox.process_row(row_id, handler)).status == "busy"
    async with services.sessions() as s:
        row = await s.get_one(Inbound, row_id)
        assert (row.status, row.attempts, row.locked_until) == ("done", 1, None)
    assert await stamped(services, row_id) == 1


async def test_a_row_done_inside_the_question_is_not_processed_again_after_a_crash(services):
    clock = FakeClock()
    inbox = Inbox(services.sessions, clock=clock, lease_seconds=30)
    row_id, _ = await inbox.accept("web", "web:dies", {"visitor": "v4", "text": QUESTION})

    async def dies_after_the_question(payload):
        await services.conversation.ask("web", payload["visitor"], payload["text"])
        raise Crash  # after the question's commit, before the processor's own bookkeeping

    with pytest.raises(Crash):
        await inbox.process_pending(dies_after_the_question)
    calls = []

    async def handler(payload):
        calls.append(payload)

    clock.advance(seconds=31)
    restarted = Inbox(services.sessions, clock=clock, lease_seconds=30)
    assert await restarted.process_pending(handler) == 0
    assert calls == []
    async with services.sessions() as s:
        assert await s.scalar(select(Inbound.status).where(Inbound.id == row_id)) == "done"
    assert await stamped(services, row_id) == 1


async def test_a_held_row_whose_lease_ran_low_is_renewed_or_left_to_the_worker_that_took_it(services):
    clock = FakeClock()
    slow = Inbox(services.sessions, clock=clock, lease_seconds=30)
    [(kept, _), (lost, _)] = await slow.accept_many(batch(("r:1", "v5"), ("r:2", "v6")))
    calls = []

    async def handler(payload):
        calls.append(payload["key"])

    clock.advance(seconds=45)  # 15 s of the 60 s accept lease left: less than one lease, so it is extended first
    assert (await slow.process_row(kept, handler)).status == "done"
    clock.advance(seconds=30)  # the other row's lease is over: another worker takes it
    other = Inbox(services.sessions, clock=clock, lease_seconds=30)
    assert await other.process_pending(handler) == 1
    assert (await slow.process_row(lost, handler)).status == "busy"
    assert calls == ["r:1", "r:2"]


async def test_released_rows_are_free_for_any_worker_at_once(services):
    inbox = Inbox(services.sessions)
    rows = await inbox.accept_many(batch(("x:1", "v7"), ("x:2", "v7")))
    await inbox.release([row_id for row_id, _ in rows])
    seen = []

    async def handler(payload):
        seen.append(payload["key"])

    assert await Inbox(services.sessions).process_pending(handler) == 2
    assert seen == ["x:1", "x:2"]
    assert (await inbox.process_row(rows[0][0], handler)).status == "busy"  # no longer held: not run again


async def test_questions_in_flight_together_share_one_commit_each_row_done_and_stamped_with_its_own(services):
    inbox = Inbox(services.sessions)
    rows = await inbox.accept_many(batch(*((f"g:{i}", f"g{i}") for i in range(6))))

    async def handler(payload):
        return await services.conversation.ask("web", payload["visitor"], payload["text"])

    with counting_commits(services) as commits:
        outcomes = await asyncio.gather(*(inbox.process_row(row_id, handler) for row_id, _ in rows))
    assert [o.status for o in outcomes] == ["done"] * 6
    assert len(commits) == 1  # six questions, one transaction (users, logs, messages, done-marks)
    assert all(o.result.kind == "answer" and o.result.log_id is not None for o in outcomes)
    assert len({o.result.log_id for o in outcomes}) == 6
    async with services.sessions() as s:
        assert set((await s.scalars(select(Inbound.status))).all()) == {"done"}
        assert await s.scalar(select(func.count()).select_from(User)) == 6
    for row_id, _ in rows:
        assert await stamped(services, row_id) == 1


async def test_a_group_with_an_answer_a_handoff_and_an_escalation_writes_each_in_order_with_its_log(services):
    inbox = Inbox(services.sessions)
    texts = {"m1": "小专利保护几年", "m2": "is my product infringing", "m3": "what's the weather in Paris tomorrow"}
    rows = await inbox.accept_many([("web", f"m:{v}", {"visitor": v, "text": text}, order_key_for("web", v))
                                    for v, text in texts.items()])

    async def handler(payload):
        return await services.conversation.ask("web", payload["visitor"], payload["text"])

    with counting_commits(services) as commits:
        outcomes = await asyncio.gather(*(inbox.process_row(row_id, handler) for row_id, _ in rows))
    assert len(commits) == 1  # three kinds of question, one transaction
    answered, handoff, escalated = (o.result for o in outcomes)
    assert answered.kind == "answer" and not answered.ticket_id
    assert handoff.kind == "answer" and handoff.handoff and handoff.ticket_id
    assert escalated.kind == "escalated" and escalated.ticket_id
    async with services.sessions() as s:
        users = dict((await s.execute(select(User.external_id, User.id))).all())
        logs = {row.user_id: row for row in await s.scalars(select(QuestionLog))}
        said = {v: (await s.execute(select(Message.sender, Message.kind, Message.ticket_id, Message.meta)
                                    .where(Message.user_id == users[v]).order_by(Message.id))).all() for v in texts}
    # each reply carries its own question's log id; the logs of the tickets name them
    assert logs[users["m1"]].id == answered.log_id and logs[users["m1"]].ticket_id is None
    assert logs[users["m2"]].id == handoff.log_id and logs[users["m2"]].ticket_id == handoff.ticket_id
    assert logs[users["m3"]].ticket_id == escalated.ticket_id
    # a chat's messages in the order said (the handoff's context after the question and the answer),
    # each stamped with the chat's own inbox row
    assert [(sender, kind) for sender, kind, _, _ in said["m2"]] == [("user", "text"), ("bot", "answer"), ("user", "context")]
    assert said["m2"][2][2] == handoff.ticket_id
    assert [(sender, kind) for sender, kind, _, _ in said["m1"]] == [("user", "text"), ("bot", "answer")]
    for (row_id, _), v in zip(rows, texts, strict=True):
        assert {meta["inbound_id"] for *_, meta in said[v]} == {row_id}


async def test_a_question_that_breaks_its_group_is_retried_alone_and_the_others_are_answered(services):
    inbox = Inbox(services.sessions)
    rows = await inbox.accept_many(batch(("p:1", "p1"), ("p:2", "poisoned"), ("p:3", "p3")))
    failures = []

    def refuse_the_poisoned_user(_conn, _cursor, statement, parameters, *_args) -> None:
        if statement.lstrip().upper().startswith("INSERT") and "poisoned" in repr(parameters):
            failures.append(statement.split()[2])
            raise ValueError("refused")  # stands for a row the database will not take

    async def handler(payload):
        return await services.conversation.ask("web", payload["visitor"], payload["text"])

    event.listen(services.engine.sync_engine, "before_cursor_execute", refuse_the_poisoned_user)
    try:
        outcomes = await asyncio.gather(*(inbox.process_row(row_id, handler) for row_id, _ in rows))
    finally:
        event.remove(services.engine.sync_engine, "before_cursor_execute", refuse_the_poisoned_user)
    assert [o.status for o in outcomes] == ["done", "retry", "done"]
    assert len(failures) == 2  # once in the group, once alone
    async with services.sessions() as s:
        statuses = dict((await s.execute(select(Inbound.dedupe_key, Inbound.status))).all())
    assert statuses == {"p:1": "done", "p:2": "pending", "p:3": "done"}
    assert await stamped(services, rows[0][0]) == 1 and await stamped(services, rows[1][0]) == 0
    assert (await Inbox(services.sessions).process_row(rows[1][0], handler)).status == "busy"  # postponed, not lost
