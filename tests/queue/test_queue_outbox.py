"""The outbox against a Bot-API-like HTTP server that fails for a while (500, 429, timeouts), then recovers."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
from aiohttp import web
from queue_helpers import make_staff, open_ticket
from sqlalchemy import select

from bot.db.models import Outbox, User
from bot.outbox import OutboxWorker, PermanentDeliveryError, TransientDeliveryError, pending_count


class FlakyBotApi:
    """sendMessage that answers from a script of failures first; only a 200 counts as received."""

    def __init__(self, script: list[str]):
        self.script, self.received, self.calls = list(script), {}, 0

    async def send_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.calls += 1
        if body["chat_id"] == "blocked":
            return web.json_response({"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
                                     status=403)
        step = self.script.pop(0) if self.script else "ok"
        if step == "500":
            return web.json_response({"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500)
        if step == "429":
            return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests",
                                      "parameters": {"retry_after": 0.2}}, status=429)
        if step == "timeout":
            await asyncio.sleep(1)  # the client gives up first; the message is not taken
            return web.json_response({"ok": False}, status=504)
        self.received.setdefault(body["chat_id"], []).append(body["text"])
        return web.json_response({"ok": True, "result": {"message_id": self.calls}})


class HttpTransport:
    """A transport speaking the Bot API's error conventions over real HTTP."""

    def __init__(self, base_url: str, session: aiohttp.ClientSession):
        self.base_url, self.http = base_url, session

    async def deliver(self, row_payload: dict, destination: str) -> None:
        try:
            async with self.http.post(f"{self.base_url}/sendMessage", json={"chat_id": destination, "text": row_payload["text"]},
                                      timeout=aiohttp.ClientTimeout(total=0.5)) as resp:
                data = await resp.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientDeliveryError(f"network: {type(exc).__name__}") from exc
        if resp.status == 200:
            return
        if resp.status == 429:
            raise TransientDeliveryError("429", retry_after=data["parameters"]["retry_after"])
        if resp.status in (400, 403):
            raise PermanentDeliveryError(data["description"])
        raise TransientDeliveryError(f"HTTP {resp.status}")


@contextlib.asynccontextmanager
async def bot_api(script):
    api = FlakyBotApi(script)
    app = web.Application()
    app.router.add_post("/sendMessage", api.send_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    async with aiohttp.ClientSession() as http:
        try:
            yield api, HttpTransport(f"http://127.0.0.1:{port}", http)
        finally:
            await runner.cleanup()


async def until(predicate, timeout: float = 30.0) -> None:
    """Wait for a condition (a bound on a hang, not a speed assertion)."""
    async with asyncio.timeout(timeout):
        while not await predicate():
            await asyncio.sleep(0.05)


async def test_every_reply_arrives_once_in_order_through_failures(services):
    staff = await make_staff(services, "alice")
    expected = {}
    tickets = []
    for u in range(3):
        _, ticket = await open_ticket(services, f"chat-{u}", channel="telegram")
        tickets.append(ticket)
    for n in range(5):  # interleaved across users, so per-user order is what is being kept
        for u, ticket in enumerate(tickets):
            text = f"reply {n} to user {u}"
            await services.tickets.reply(ticket.id, staff.id, text)
            expected.setdefault(f"chat-{u}", []).append(text)

    script = ["500", "429", "timeout", "500", "429", "500", "timeout", "500", "429", "500"]
    async with bot_api(script) as (api, transport):
        worker = OutboxWorker(services.sessions, services.events, {"telegram": transport}, backoff_scale=0.02,
                              poll_seconds=0.05)
        task = asyncio.create_task(worker.run())
        try:
            await until(lambda: _none_pending(services))
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert api.script == []  # every failure in the script was really met
    assert api.received == expected
    async with services.sessions() as s:
        rows = (await s.scalars(select(Outbox))).all()
    assert {r.status for r in rows} == {"sent"} and max(r.attempts for r in rows) > 1


async def _none_pending(services) -> bool:
    return await pending_count(services.sessions) == 0


async def test_a_blocked_user_fails_the_row_flags_the_ticket_and_tells_the_staff_member(services):
    alice = await make_staff(services, "alice")
    user, ticket = await open_ticket(services, "blocked", channel="telegram")
    _, fine = await open_ticket(services, "fine", channel="telegram")
    await services.tickets.reply(ticket.id, alice.id, "are you there?")
    await services.tickets.reply(fine.id, alice.id, "hello")
    told = []

    async def listener(event):
        if event.kind == "outbox.failed":
            told.append(event)

    services.events.subscribe(listener)
    async with bot_api([]) as (api, transport):
        worker = OutboxWorker(services.sessions, services.events, {"telegram": transport})
        await worker.deliver_due()
    assert api.received == {"fine": ["hello"]}
    assert [(e.ticket_id, e.data["staff_id"]) for e in told] == [(ticket.id, alice.id)]
    assert "blocked" in told[0].data["reason"]
    detail = await services.tickets.get(ticket.id)
    assert detail.ticket.delivery_failed
    async with services.sessions() as s:
        assert (await s.get(User, user.id)).blocked
        assert (await s.scalar(select(Outbox.status).where(Outbox.ticket_id == ticket.id))) == "failed"


async def test_a_row_held_by_one_worker_is_not_taken_by_another(services):
    alice = await make_staff(services, "alice")
    _, ticket = await open_ticket(services, "chat-x", channel="telegram")
    await services.tickets.reply(ticket.id, alice.id, "one")
    await services.tickets.reply(ticket.id, alice.id, "two")
    first = OutboxWorker(services.sessions, services.events, {"telegram": None})
    second = OutboxWorker(services.sessions, services.events, {"telegram": None})
    claimed = await first.claim()
    assert [c.payload["text"] for c in claimed] == ["one"]  # head of line only
    assert await second.claim() == []  # leased, and "two" waits behind it


async def test_a_row_whose_sender_died_is_never_sent_twice_but_handed_to_staff(services):
    """kill -9 between claiming a row and recording the send: the next worker does not guess."""
    from datetime import timedelta

    from bot.db.models import utcnow

    alice = await make_staff(services, "alice")
    _, ticket = await open_ticket(services, "chat-y", channel="telegram")
    await services.tickets.reply(ticket.id, alice.id, "first")
    await services.tickets.reply(ticket.id, alice.id, "second")
    now = [utcnow()]
    dead = OutboxWorker(services.sessions, services.events, {"telegram": None}, lease_seconds=60, clock=lambda: now[0])
    assert [c.payload["text"] for c in await dead.claim()] == ["first"]  # ... and the process dies here

    sent: list[str] = []

    class Recorder:
        async def deliver(self, payload: dict, destination: str) -> None:
            sent.append(payload["text"])

    told = []
    services.events.subscribe(lambda e: told.append(e) or _noop())
    now[0] += timedelta(seconds=61)
    survivor = OutboxWorker(services.sessions, services.events, {"telegram": Recorder()}, clock=lambda: now[0])
    await survivor.deliver_due()
    await survivor.deliver_due()
    assert sent == ["second"]  # "first" is not sent again; the next reply is not held up behind it
    failed = [e for e in told if e.kind == "outbox.failed"]
    assert len(failed) == 1 and "uncertain" in failed[0].data["reason"] and failed[0].data["staff_id"] == alice.id
    detail = await services.tickets.get(ticket.id)
    assert detail.ticket.delivery_failed


async def _noop() -> None:
    return None
