"""Start and stop the Telegram side: the Application, the update intake (polling or webhook), the staff desk.

Every update is written to the inbox (bot/inbox.py) before Telegram is told we have it (the
getUpdates offset moves past it, or the webhook answers 200); the dispatcher then feeds the stored
updates, one chat at a time in order, to `application.process_update`, and a backlog sweep takes
up whatever is left over (retries, rows stored by a process that crashed).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import text
from telegram import BotCommand, BotCommandScopeDefault, Update
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder

from bot.inbox import Inbox
from bot.services import Services
from handlers import register
from handlers.bot_request import AiohttpRequest
from handlers.context import CONTEXT_TYPES, attach
from handlers.desk import StaffDesk
from handlers.dispatch import Dispatcher
from handlers.errors import RETRY, redact, retryable
from handlers.flood import FloodGuard
from handlers.phrases import COMMANDS, lang_of, p
from handlers.transport import TelegramTransport, retry_seconds

log = logging.getLogger(__name__)
CHANNEL = "telegram"
CONCURRENCY = 200  # stored updates of different chats processed at once (each chat in order)
HTTP_IN_FLIGHT = 8  # connections for Bot API calls (besides getUpdates); more calls wait for one
BACKLOG_SWEEP_SECONDS = 2.0  # how often to look for rows the dispatcher left (retries, a crashed process's rows)
BACKLOG_MAX_WAIT = 30.0  # ... and sweep at least this often even while the dispatcher is busy
POLL_TIMEOUT = 10  # seconds a getUpdates call may wait for news
DELAY_PEEK_SECONDS = 2.0  # during an outage, how often to look for newly arrived chats to tell


class RetryLater(Exception):
    """The update met a passing failure (the database is away): the inbox keeps it and tries again."""


class DatabaseAway(Exception):
    """Storing failed and the database does not answer a plain query either: keep the update, try again."""


def build_application(services: Services) -> Application:
    tg = services.settings.telegram
    builder = (ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)
               .context_types(CONTEXT_TYPES).updater(None)
               .request(AiohttpRequest(HTTP_IN_FLIGHT)))
    if tg.rate_limit:
        builder = builder.rate_limiter(AIORateLimiter())
    return builder.build()


def storable(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The payload without what databases refuse in text (NUL, lone surrogates); None if that breaks it."""
    try:
        text = json.dumps(payload, ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")
        return json.loads(text.replace("\\u0000", ""))
    except ValueError:
        return None


def order_key(payload: dict[str, Any]) -> str | None:
    """One chat's updates are processed in order; anything malformed goes without a key."""
    for kind in ("message", "edited_message", "channel_post", "callback_query"):
        body = payload.get(kind)
        if kind == "callback_query" and isinstance(body, dict):
            body = body.get("message")
        if isinstance(body, dict):
            chat = body.get("chat")
            if isinstance(chat, dict) and isinstance(chat.get("id"), int):
                return f"tg:{chat['id']}"
    return None


def waiting_private_chats(payloads: list[dict[str, Any]]) -> dict[int, str]:
    """{chat id: "zh"|"en"} of the private chats these updates come from (groups are never told anything)."""
    chats: dict[int, str] = {}
    for payload in payloads:
        for kind in ("message", "edited_message", "callback_query"):
            body = payload.get(kind)
            if not isinstance(body, dict):
                continue
            sender = body.get("from") if isinstance(body.get("from"), dict) else {}
            message = body.get("message") if kind == "callback_query" else body
            chat = message.get("chat") if isinstance(message, dict) else None
            if isinstance(chat, dict) and chat.get("type") == "private" and isinstance(chat.get("id"), int):
                chats.setdefault(chat["id"], lang_of(sender.get("language_code")))
    return chats


class TelegramSide:
    """One per process: owns the Application, the dispatcher and backlog sweep, the intake loop and the desk task."""

    def __init__(self, services: Services, application: Application):
        self.services, self.application = services, application
        self.inbox = Inbox(services.sessions)
        # A second Inbox for the backlog sweep: accepts do not wake it (see `sweep`).
        self.backlog = Inbox(services.sessions)
        self.dispatcher = Dispatcher(self.inbox, self.process, CONCURRENCY)
        self.desk = StaffDesk(services, application.bot)
        self.outage_since: float | None = None  # when storing updates began to fail (None: it works)
        self.told: set[int] = set()  # chats told of the delay in this outage
        self.flood = FloodGuard(services.settings.telegram.flood_messages, services.settings.telegram.flood_window_seconds)
        attach(application, services, self.desk, self.flood)
        register(application, services.settings.telegram)

    async def process(self, payload: dict[str, Any]) -> None:
        """Run one stored update through the handlers; raise RetryLater to keep it for another try."""
        try:
            update = Update.de_json(payload, self.application.bot)
        except Exception as exc:  # not an update Telegram would send: drop it, keep going
            log.warning("dropping a malformed update: %s", type(exc).__name__)
            return
        if update is None:
            return
        failures: list[BaseException] = []
        token = RETRY.set(failures)
        try:
            await self.application.process_update(update)
        finally:
            RETRY.reset(token)
        if failures:
            raise RetryLater(str(failures[0]))

    async def sweep(self) -> None:
        """Process rows the dispatcher did not finish: retries, or what a crashed process stored.

        It runs while the dispatcher is idle (or every BACKLOG_MAX_WAIT seconds), so during a burst
        it does not take fresh rows out of the dispatcher's hands, which would only slow that chat down.
        """
        last = time.monotonic()
        while True:
            await asyncio.sleep(BACKLOG_SWEEP_SECONDS)
            if not self.dispatcher.idle() and time.monotonic() - last < BACKLOG_MAX_WAIT:
                continue
            try:
                await self.backlog.process_pending(self.process)
            except Exception:  # the database may be away: try again at the next sweep
                log.exception("backlog sweep failed")
            last = time.monotonic()

    async def take(self, payload: dict[str, Any]) -> bool:
        """Store an update, then hand it to the dispatcher; True when it was new."""
        key = order_key(payload)
        row_id = await self.accept(payload, key)
        if row_id is not None:
            self.dispatcher.submit(key, row_id)
        return row_id is not None

    async def accept(self, payload: dict[str, Any], key: str | None = None) -> int | None:
        """Store an update (idempotent on its update_id); the row id when it was new, else None.

        Raises only when the database is away (try again later). An update the database refuses
        as such (a NUL character, a lone surrogate) is stored cleaned, or else dropped with a log line.
        """
        update_id = payload.get("update_id")
        try:
            row_id, is_new = await self.inbox.accept(CHANNEL, f"tg:{update_id}", payload, key)
            return row_id if is_new else None
        except Exception as exc:
            if retryable(exc):
                raise
            await self._database_answers()  # an update is dropped only by a database that works and refuses it
            fixed = storable(payload)
            if fixed is not None and fixed != payload:
                return await self.accept(fixed, key)
            log.error("dropping update %s that cannot be stored: %s", update_id, type(exc).__name__)
            return None

    async def poll(self) -> None:
        """getUpdates in a loop; the offset moves past an update only after it is stored."""
        bot, offset = self.application.bot, 0
        while True:
            try:
                # Raw dicts, not Update objects: what is stored is exactly what Telegram sent, and one
                # malformed update cannot stop the loop (it is dropped when processed).
                updates = await bot.do_api_request(
                    "getUpdates", api_kwargs={"offset": offset or None, "timeout": POLL_TIMEOUT,
                                              "allowed_updates": Update.ALL_TYPES},
                    read_timeout=POLL_TIMEOUT + 5)
            except RetryAfter as exc:
                await asyncio.sleep(retry_seconds(exc))
                continue
            except (TimedOut, NetworkError) as exc:
                log.warning("getUpdates failed: %s", self._redact(str(exc)))
                await asyncio.sleep(1.0)
                continue
            batch = [payload for payload in (updates if isinstance(updates, list) else [])
                     if isinstance(payload, dict) and isinstance(payload.get("update_id"), int)]
            if batch:
                await self._store_batch_with_retry(batch, offset)
                offset = max(offset, *(payload["update_id"] + 1 for payload in batch))

    async def take_many(self, batch: list[dict[str, Any]]) -> None:
        """Store a getUpdates batch in one transaction, then hand the new rows to the dispatcher.

        If the database refuses the batch as such (a value it cannot store in one update), each
        update is stored on its own instead, so one bad update cannot hold back the others.
        """
        keyed = [(payload, order_key(payload)) for payload in batch]
        try:
            stored = await self.inbox.accept_many([(CHANNEL, f"tg:{p['update_id']}", p, key) for p, key in keyed])
        except Exception as exc:
            if retryable(exc):
                raise
            await self._database_answers()
            for payload, _ in keyed:
                await self._store_with_retry(payload)
            return
        for (_, key), (row_id, is_new) in zip(keyed, stored, strict=True):
            if is_new:
                self.dispatcher.submit(key, row_id)

    async def _database_answers(self) -> None:
        """Raise DatabaseAway unless the database answers `SELECT 1`.

        Why: an error `retryable` does not know is not always a refused value. asyncpg reported "the
        database is not accepting connections" as a plain DBAPIError, and that outage dropped updates;
        `retryable` now knows that state (and PostgreSQL's other "try later" states), and this probe
        stays as the net for drivers and states it does not list, on the rare path that drops data.
        """
        try:
            async with self.services.sessions() as s:
                await s.execute(text("SELECT 1"))
        except Exception as exc:
            raise DatabaseAway(type(exc).__name__) from exc

    async def _store_batch_with_retry(self, batch: list[dict[str, Any]], offset: int) -> None:
        await self._retry_store(lambda: self.take_many(batch), f"a batch of {len(batch)} updates", batch, offset)

    async def _store_with_retry(self, payload: dict[str, Any]) -> None:
        await self._retry_store(lambda: self.take(payload), f"update {payload.get('update_id')}", [payload])

    async def _retry_store(self, store: Callable[[], Awaitable[object]], what: str, waiting: list[dict[str, Any]],
                           offset: int | None = None) -> None:
        """Store, retrying while the database is away (the offset is held meanwhile); give up on other errors.

        If that takes longer than `delay_notice_seconds`, the private chats waiting are told once (see
        `tell_waiting`); with `offset` (polling), updates that arrive meanwhile are looked at too.
        """
        delay = 0.5
        async with self.noticing(waiting, offset):
            while True:
                try:
                    await store()
                    return
                except Exception as exc:  # the database is away: hold the offset and keep trying
                    if not (retryable(exc) or isinstance(exc, DatabaseAway)):
                        log.error("could not store %s, dropped: %s", what, self._redact(repr(exc)))
                        return
                    log.warning("could not store %s, retrying: %s", what, type(exc).__name__)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)

    @contextlib.asynccontextmanager
    async def noticing(self, waiting: list[dict[str, Any]], offset: int | None = None) -> AsyncIterator[None]:
        """Around a store: if it has not succeeded `delay_notice_seconds` into an outage, tell the waiting chats.

        The outage starts at the first store that failed or took that long, and ends with the
        first store that succeeds; each chat is told at most once per outage.
        """
        started = time.monotonic()
        threshold = self.services.settings.telegram.delay_notice_seconds
        teller = asyncio.create_task(self.tell_waiting(started, waiting, offset)) if threshold else None
        try:
            yield
        except Exception:
            self.outage_since = self.outage_since or started
            if teller is not None and not teller.done() and time.monotonic() - self.outage_since >= threshold:
                teller.cancel()  # failed fast (a webhook's 503) well into an outage: tell them now, once
                await asyncio.gather(teller, return_exceptions=True)
                teller = None
                await self.tell_waiting(started, waiting, None)
            raise
        else:
            self.outage_since = None
            self.told.clear()
        finally:
            if teller is not None:
                teller.cancel()
                await asyncio.gather(teller, return_exceptions=True)

    async def tell_waiting(self, started: float, waiting: list[dict[str, Any]], offset: int | None) -> None:
        """After the threshold, tell each waiting private chat once that its message is kept (no database needed).

        Runs until cancelled (the store succeeded). With `offset`, it also looks at updates that arrived
        since, with getUpdates at the same offset (which acknowledges nothing new).
        """
        threshold = self.services.settings.telegram.delay_notice_seconds
        await asyncio.sleep(max(0.0, min(self.outage_since or started, started) + threshold - time.monotonic()))
        self.outage_since = self.outage_since or started
        while True:
            seen = list(waiting)
            if offset is not None:
                seen += await self._peek(offset)
            for chat_id, lang in waiting_private_chats(seen).items():
                if chat_id in self.told:
                    continue
                self.told.add(chat_id)
                try:
                    await self.application.bot.send_message(chat_id, p("delayed", lang))
                except Exception as exc:  # the notice is a courtesy: never let it stop the intake
                    log.warning("could not send the delay notice: %s", self._redact(f"{type(exc).__name__}: {exc}"))
            if offset is None:
                return
            await asyncio.sleep(DELAY_PEEK_SECONDS)

    async def _peek(self, offset: int) -> list[dict[str, Any]]:
        """The updates Telegram holds from `offset` on, without moving it; [] if that fails."""
        try:
            updates = await self.application.bot.do_api_request(
                "getUpdates", api_kwargs={"offset": offset or None, "timeout": 0, "allowed_updates": Update.ALL_TYPES})
        except TelegramError as exc:
            log.warning("getUpdates (looking for waiting chats) failed: %s", self._redact(str(exc)))
            return []
        return [u for u in updates if isinstance(u, dict)] if isinstance(updates, list) else []

    async def webhook(self, request: web.Request) -> web.Response:
        """Telegram's POST: refuse without the right secret; answer 200 only once the update is stored."""
        expected = self.services.settings.telegram.webhook_secret
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            return web.Response(status=403, text="forbidden")
        try:
            payload = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400, text="not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        try:
            async with self.noticing([payload]):
                await self.take(payload)
        except Exception as exc:  # not stored: Telegram will send it again
            log.warning("could not store webhook update: %s", type(exc).__name__)
            return web.Response(status=503, text="try again")
        return web.Response(text="ok")

    def _redact(self, text: str) -> str:
        tg = self.services.settings.telegram
        return redact(text, [tg.token, tg.webhook_secret])

    async def lifetime(self, intake: asyncio.Task | None, workers: list[asyncio.Task], desk: asyncio.Task) -> None:
        """Wait until cancelled, then stop taking updates, finish the ones in flight and close the Application."""
        try:
            await asyncio.Event().wait()
        finally:
            if intake is not None:
                intake.cancel()
                await asyncio.gather(intake, return_exceptions=True)
            with contextlib.suppress(TimeoutError):  # finish the updates in flight
                await asyncio.wait_for(self.dispatcher.wait_idle(), 10.0)
            with contextlib.suppress(Exception):  # rows stored but not started: free them for the next process now
                await self.inbox.release_held()
            for task in workers:  # the sweep is cancelled; a row it held is taken up again after its lease
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.desk.drain(), 5.0)
            desk.cancel()
            await asyncio.gather(desk, return_exceptions=True)
            self.desk.close()
            self.services.faq.remove_listener(self.desk.on_faq_reload)
            self.services.transports.pop(CHANNEL, None)
            with contextlib.suppress(TelegramError, RuntimeError):
                await self.application.stop()
            with contextlib.suppress(TelegramError, RuntimeError):
                await self.application.shutdown()


class _Redact(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [x for x in secrets if x]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(x in message for x in self.secrets):
            record.msg, record.args = redact(message, self.secrets), None
        return True


# Loggers that may print a request URL (with the token) or API parameters (setWebhook's secret, at DEBUG).
SECRET_BEARING_LOGGERS = ("httpx", "httpcore", "telegram.Bot", "telegram.ext.ExtBot", "telegram.ext.Application",
                          "telegram.ext.Updater", "telegram.request")


def quiet_http_logs(secrets: list[str]) -> None:
    """httpx logs every request URL at INFO, and Bot API URLs contain the token: keep those out of the logs."""
    for name in SECRET_BEARING_LOGGERS:
        logger = logging.getLogger(name)
        if name in ("httpx", "httpcore"):
            logger.setLevel(max(logger.level, logging.WARNING))
        for old in [f for f in logger.filters if isinstance(f, _Redact)]:
            logger.removeFilter(old)
        logger.addFilter(_Redact(secrets))


async def set_commands(application: Application) -> None:
    """The command menu in Chinese, English, and English as the default."""
    bot = application.bot
    for lang, language_code in (("en", None), ("en", "en"), ("zh", "zh")):
        commands = [BotCommand(name, description) for name, description in COMMANDS[lang]]
        await bot.set_my_commands(commands, scope=BotCommandScopeDefault(), language_code=language_code)


async def close_request(application: Application) -> None:
    """After a failed start: the bot's aiohttp session was opened before getMe failed, and PTB leaves it open."""
    with contextlib.suppress(Exception):
        await application.bot.request.shutdown()


async def start_telegram(services: Services, web_app: web.Application) -> list[asyncio.Task]:
    """Start Telegram when a token is configured; return the tasks to cancel at shutdown.

    In webhook mode this adds a route to `web_app`, so call it before the web app's runner is set up.
    """
    tg = services.settings.telegram
    if not tg.token:
        return []
    quiet_http_logs([tg.token, tg.webhook_secret])
    # We call getUpdates through do_api_request on purpose (raw dicts, see TelegramSide.poll).
    warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'")
    application = build_application(services)
    side = TelegramSide(services, application)
    if tg.mode == "webhook":
        web_app.router.add_post(tg.webhook_path, side.webhook)
    try:
        await application.initialize()
    except InvalidToken:
        await close_request(application)
        raise RuntimeError("Telegram refused the bot token (telegram.token); check it with BotFather") from None
    except NetworkError as exc:
        await close_request(application)
        raise RuntimeError(f"cannot reach the Bot API at {tg.base_url}: {redact(str(exc), [tg.token])}") from None
    try:
        await set_commands(application)
    except BaseException:
        await application.shutdown()
        raise
    services.transports[CHANNEL] = TelegramTransport(application.bot)
    services.events.subscribe(side.desk.on_event)
    services.faq.add_listener(side.desk.on_faq_reload)
    await application.start()
    if tg.mode == "webhook":
        await application.bot.set_webhook(tg.webhook_url, secret_token=tg.webhook_secret,
                                          allowed_updates=Update.ALL_TYPES)
        intake = None
    else:
        await application.bot.delete_webhook()
        intake = asyncio.create_task(side.poll(), name="telegram-poll")
    workers = [asyncio.create_task(side.sweep(), name="telegram-backlog")]
    desk = asyncio.create_task(side.desk.run(), name="telegram-desk")
    life = asyncio.create_task(side.lifetime(intake, workers, desk), name="telegram")
    log.info("Telegram started (%s)", tg.mode)
    return [life]

