"""The live FAQ of a running bot, and its hot reload.

The app keeps one `FaqHolder` for its lifetime. Handlers read `holder.current` once per
question and use that snapshot to the end, so a reload never changes the FAQ under a
question being answered. A reload reads, checks and indexes the files in a worker thread
(the event loop keeps answering from the old snapshot meanwhile), then swaps one
reference. The gate is `helpdesk faq check`: any error rejects the change whole and the
previous FAQ stays live; listeners (the Telegram admin chat, the web console) are told
the outcome either way, and it is logged.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.faq.check import check_dir
from bot.faq.loader import FaqError, HasProblems, Problem, faq_files
from bot.faq.matcher import Matcher, MatchSettings
from bot.faq.model import Faq, Origin

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

Fingerprint = tuple[tuple[str, int, int], ...]
Listener = Callable[["ReloadResult"], Awaitable[None]]
MatcherFactory = Callable[[Faq, MatchSettings], Matcher]


@dataclass(frozen=True)
class FaqSnapshot:
    """One loaded FAQ and the matcher built on it; never changes once published."""

    faq: Faq
    matcher: Matcher
    loaded_at: dt.datetime
    version: int


@dataclass(frozen=True)
class ReloadResult(HasProblems):
    """What one reload attempt did, for the log, the admin chat and the console."""

    ok: bool
    reason: str
    problems: tuple[Problem, ...]
    entries: int  # entries now live (the old count when the change was rejected)
    version: int  # version now live (0: nothing has ever loaded)
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def summary(self) -> str:
        """One line for a chat message or a status page."""
        if self.ok:
            return f"FAQ reloaded ({self.reason}): version {self.version}, {self.entries} entries, {len(self.warnings)} warnings"
        kept = f"still serving version {self.version}" if self.version else "no FAQ loaded"
        return f"FAQ change rejected ({self.reason}): {len(self.errors)} errors; {kept}"


def fingerprint(directory: Path) -> Fingerprint:
    """Names, mtimes and sizes of the FAQ files: cheap to poll, changes on every save."""
    try:
        found = []
        for path in faq_files(directory):
            stat = path.stat()
            found.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(found)
    except OSError:
        return (("<missing directory>", 0, 0),)


class FaqHolder:
    """Owns the live FAQ snapshot; `reload()` and `watch()` replace it safely."""

    def __init__(self, directory: str | Path, match_settings: MatchSettings | None = None, *,
                 watch_interval: float = 2.0, matcher_factory: MatcherFactory = Matcher.build):
        self.directory = Path(directory)
        self.match_settings = match_settings or MatchSettings()
        self.watch_interval = watch_interval
        self._build_matcher = matcher_factory
        self._snapshot: FaqSnapshot | None = None
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._seen: Fingerprint | None = None
        self.last_result: ReloadResult | None = None
        self.last_error: ReloadResult | None = None

    @classmethod
    async def open(cls, settings: Settings, **kwargs: Any) -> FaqHolder:
        """Build a holder from Settings and load the FAQ; raise FaqError if the first load fails."""
        holder = cls(settings.faq_path, settings.matcher, watch_interval=settings.faq.watch_interval, **kwargs)
        result = await holder.reload("startup")
        if not result.ok:
            raise FaqError(result.errors)
        return holder

    @property
    def current(self) -> FaqSnapshot:
        """The live snapshot; read it once per question and keep using that object."""
        if self._snapshot is None:
            raise LookupError("no FAQ loaded yet")
        return self._snapshot

    def add_listener(self, callback: Listener) -> None:
        """Call `await callback(result)` after every reload attempt, accepted or rejected."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        self._listeners.remove(callback)

    async def reload(self, reason: str = "manual") -> ReloadResult:
        """Load, check and index the directory off the loop; publish it only if it has no error."""
        async with self._lock:
            self._seen = await asyncio.to_thread(fingerprint, self.directory)
            try:
                problems, snapshot = await asyncio.to_thread(self._prepare)
            except Exception as exc:  # e.g. a matcher bug: reject the change, keep serving
                log.exception("FAQ reload (%s) crashed", reason)
                problems, snapshot = (Problem(Origin(str(self.directory)), f"internal error: {exc!r}"),), None
            if snapshot is not None:
                self._snapshot = snapshot  # one reference swap: readers see the old or the new, never a mix
            live = self._snapshot
            result = ReloadResult(ok=snapshot is not None, reason=reason, problems=problems,
                                  entries=len(live.faq) if live else 0, version=live.version if live else 0)
            self.last_result = result
            if not result.ok:
                self.last_error = result
        self._log(result)
        await self._notify(result)
        return result

    def _prepare(self) -> tuple[tuple[Problem, ...], FaqSnapshot | None]:
        """Runs in a worker thread: everything slow happens here, nothing shared is touched."""
        report = check_dir(self.directory)
        if not report.ok:
            return report.problems, None
        matcher = self._build_matcher(report.faq, self.match_settings)
        version = (self._snapshot.version if self._snapshot else 0) + 1  # safe: reloads are serialised by the lock
        return report.problems, FaqSnapshot(report.faq, matcher, dt.datetime.now(dt.UTC), version)

    def _log(self, result: ReloadResult) -> None:
        if result.ok:
            log.info("%s", result.summary())
            return
        log.error("%s\n%s", result.summary(), "\n".join(str(p) for p in result.errors))

    async def _notify(self, result: ReloadResult) -> None:
        for callback in list(self._listeners):
            try:
                await callback(result)
            except Exception:  # one broken listener must not hide the result from the others
                log.exception("FAQ reload listener %r failed", callback)

    async def watch(self) -> None:
        """Poll the files every `watch_interval` seconds and reload once a change has settled.

        Debounced: a change triggers a reload only when two polls in a row agree, so an
        editor that saves in several writes (or a `git pull` touching many files) causes
        one reload of the finished state. Polling keeps this dependency-free and works on
        network and container mounts where inotify does not. Runs until cancelled; the app
        starts it as a task when `settings.faq.watch` is true.
        """
        pending: Fingerprint | None = None
        if self._seen is None:
            self._seen = await asyncio.to_thread(fingerprint, self.directory)
        while True:
            await asyncio.sleep(self.watch_interval)
            now = await asyncio.to_thread(fingerprint, self.directory)
            if now == self._seen:
                pending = None
            elif now != pending:
                pending = now
            else:
                pending = None
                try:
                    await self.reload("files changed")
                except Exception:  # the watcher must outlive any surprise
                    log.exception("FAQ watcher: reload failed")
