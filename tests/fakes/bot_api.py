"""A fake Telegram Bot API server: real HTTP on 127.0.0.1, records every request, injects updates.

The bot under test is the real python-telegram-bot Application with `base_url` pointing here,
so what is tested is exactly what would go over the wire (form-encoded parameters, JSON results).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_ID = 777000111
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Helpdesk", "username": "helpdesk_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": True, "supports_inline_queries": False}


@dataclass
class Call:
    """One request the bot made: the method, its decoded parameters and when it arrived."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if value is not None else None

    @property
    def text(self) -> str:
        return str(self.params.get("text", ""))

    @property
    def reply_to(self) -> int | None:
        """The message this one answers (PTB sends reply_parameters; older clients reply_to_message_id)."""
        value = (self.params.get("reply_parameters") or {}).get("message_id", self.params.get("reply_to_message_id"))
        return int(value) if value is not None else None

    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of every inline button, row by row."""
        markup = self.params.get("reply_markup") or {}
        return [(b["text"], b.get("callback_data", "")) for row in markup.get("inline_keyboard", []) for b in row]


class FakeBotApi:
    """Start with `await api.start()`; `api.base_url` / `api.base_file_url` go into the settings."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] | None = None
        self.failures: dict[tuple[str, int | None], list[tuple[int, str, dict]]] = {}
        self.sent_hook: Any = None  # optional callable(Call) for benchmarks
        self.delivered_at: dict[int, float] = {}  # update_id -> when getUpdates first handed it to the bot
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) -> status for getChatMember; else "left"
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self._called = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        app.router.add_get("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # ---- what tests do ---------------------------------------------------------------------
    def fail(self, method: str, chat_id: int | None, status: int, description: str, times: int = 1,
             parameters: dict | None = None) -> None:
        """Make the next `times` calls of `method` (to `chat_id`, or any chat when None) fail."""
        self.failures.setdefault((method, chat_id), []).extend([(status, description, parameters or {})] * times)

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update for getUpdates; an update_id is added when missing."""
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._new_update.set()
        return update

    def make_update(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), kind: body}

    def message(self, chat_id: int, text: str | None = None, user: dict | None = None, chat_type: str = "private",
                reply_to: int | None = None, thread_id: int | None = None, edited: bool = False, **extra: Any) -> dict:
        """Build (not push) an update with a message from `user` in `chat_id`."""
        user = user or person(chat_id)
        chat = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat.update(first_name=user.get("first_name", ""))
        else:
            chat.update(title="Group")
        msg: dict[str, Any] = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": chat, "from": user}
        if text is not None:
            msg["text"] = text
            if text.startswith("/"):
                msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            msg["reply_to_message"] = {"message_id": reply_to, "date": int(time.time()), "chat": chat,
                                       "from": BOT_USER, "text": "card"}
        if thread_id is not None:
            msg["message_thread_id"], msg["is_topic_message"] = thread_id, True
        if edited:
            msg["edit_date"] = int(time.time())
        msg.update(extra)
        return self.make_update("edited_message" if edited else "message", msg)

    def say(self, chat_id: int, text: str | None = None, **kw: Any) -> dict:
        return self.push(self.message(chat_id, text, **kw))

    def press(self, chat_id: int, message_id: int, data: str, user: dict | None = None, chat_type: str = "private") -> dict:
        """Push a button press on message `message_id` in `chat_id`."""
        user = user or person(chat_id)
        message = {"message_id": message_id, "date": int(time.time()), "chat": {"id": chat_id, "type": chat_type},
                   "from": BOT_USER, "text": "..."}
        query = {"id": str(next(self._update_ids) * 7), "from": user, "chat_instance": "ci", "data": data, "message": message}
        return self.push(self.make_update("callback_query", query))

    def sent(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        return [c for c in self.calls if (method is None or c.method == method) and (chat_id is None or c.chat_id == chat_id)]

    async def wait_for(self, predicate: Any, timeout: float = 10.0, what: str = "") -> Call:
        """Wait until a recorded call satisfies `predicate`; fail with the calls seen so far."""
        async def found() -> Call:
            async with self._called:
                while True:
                    for call in self.calls:
                        if predicate(call):
                            return call
                    await self._called.wait()
        try:
            return await asyncio.wait_for(found(), timeout)
        except TimeoutError:
            seen = "\n".join(f"  {c.method} {c.params}" for c in self.calls[-15:])
            raise AssertionError(f"no call matching {what or predicate} within {timeout}s; last calls:\n{seen}") from None

    async def wait_sent(self, chat_id: int, contains: str = "", method: str = "sendMessage", after: int = 0) -> Call:
        def match(c: Call) -> bool:
            return c.method == method and c.chat_id == chat_id and contains in c.text and self.calls.index(c) >= after
        return await self.wait_for(match, what=f"{method} to {chat_id} containing {contains!r}")

    def mark(self) -> int:
        """The number of calls so far: pass it as `after=` to wait for calls made from now on."""
        return len(self.calls)

    # ---- the API ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        params = {k: _decode(v) for k, v in (await request.post()).items()}
        if request.query:
            params.update({k: _decode(v) for k, v in request.query.items()})
        if method == "getUpdates":
            return await self._get_updates(params)
        call = Call(method, params)
        async with self._called:
            self.calls.append(call)
            self._called.notify_all()
        if self.sent_hook is not None:
            self.sent_hook(call)
        failure = self._take_failure(method, call.chat_id)
        if failure:
            status, description, extra = failure
            return self._error(status, description, extra)
        handler = getattr(self, "_m_" + method, None)
        result = handler(params) if handler else True
        return web.json_response({"ok": True, "result": result})

    def _take_failure(self, method: str, chat_id: int | None) -> tuple[int, str, dict] | None:
        for key in ((method, chat_id), (method, None)):
            queue = self.failures.get(key)
            if queue:
                return queue.pop(0)
        return None

    @staticmethod
    def _error(status: int, description: str, parameters: dict | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while not self.updates and time.monotonic() < deadline:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), max(deadline - time.monotonic(), 0.001))
            except TimeoutError:
                break
        batch = self.updates[:limit]
        now = time.perf_counter()
        for u in batch:
            self.delivered_at.setdefault(u["update_id"], now)
        return web.json_response({"ok": True, "result": batch})

    def _sent_message(self, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        msg = {"message_id": next(self._message_ids), "date": int(time.time()),
               "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"}, "from": BOT_USER}
        if "text" in params:
            msg["text"] = str(params["text"])
        if params.get("message_thread_id"):
            msg["message_thread_id"] = int(params["message_thread_id"])
        msg.update(extra)
        return msg

    def _m_getMe(self, params: dict) -> dict:
        return BOT_USER

    def _m_sendMessage(self, params: dict) -> dict:
        return self._sent_message(params)

    def _m_editMessageText(self, params: dict) -> dict:
        return self._sent_message(params) | {"message_id": int(params["message_id"]), "edit_date": int(time.time())}

    def _m_editMessageReplyMarkup(self, params: dict) -> dict:
        return self._sent_message(params) | {"message_id": int(params["message_id"]), "edit_date": int(time.time())}

    def _m_copyMessage(self, params: dict) -> dict:
        return {"message_id": next(self._message_ids)}

    def _m_createForumTopic(self, params: dict) -> dict:
        return {"message_thread_id": next(self._message_ids), "name": params.get("name", ""), "icon_color": 7322096}

    def _m_getChatMember(self, params: dict) -> dict:
        user_id = int(params["user_id"])
        status = self.members.get((int(params["chat_id"]), user_id), "left")
        member: dict[str, Any] = {"status": status, "user": person(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        return member

    def _m_setWebhook(self, params: dict) -> bool:
        self.webhook = params
        return True

    def _m_deleteWebhook(self, params: dict) -> bool:
        self.webhook = None
        return True


def person(user_id: int, first_name: str = "", language_code: str | None = "zh-hans", username: str | None = None) -> dict:
    """A Telegram user object."""
    user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}"}
    if language_code:
        user["language_code"] = language_code
    if username:
        user["username"] = username
    return user


def _decode(value: Any) -> Any:
    """PTB sends every non-string parameter JSON-encoded; decode those, keep plain strings."""
    if not isinstance(value, str):
        return value
    if value[:1] in "{[" or value in ("true", "false", "null") or value.lstrip("-").isdigit():
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
