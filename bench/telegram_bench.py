"""Telegram throughput and latency: the helpdesk bot vs a bare python-telegram-bot echo bot, same fake Bot API.

    .venv/bin/python -m bench.telegram_bench [--users 500] [--per-user 10] [--db sqlite|postgresql://...]

Both bots poll the same fake server implementation (tests/fakes/bot_api.py, real HTTP on 127.0.0.1)
with the rate limiter off. A burst of users x per-user questions is queued at once; latency is
"update handed out by getUpdates -> the matching sendMessage arrives", measured at the fake server;
throughput is updates / (last answer - first hand-out). The helpdesk bot stores each update in its
database before processing it, runs the matcher and writes the question log; the echo bot does none of that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict, deque
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.bot_api import FakeBotApi, person  # noqa: E402

QUESTIONS = ["小专利保护几年", "实用新型多少年", "费减条件", "how long is a utility model valid", "fee reduction eligibility",
             "费减备案流程", "who can get patent fee reduction", "专利费减谁能申请", "where to file fee reduction recordal",
             "实用新型保护期限"]


@dataclass
class Result:
    name: str
    updates: int
    answered: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


async def burst(api: FakeBotApi, users: int, per_user: int, timeout: float = 600.0) -> Result:
    """Queue the burst, wait for one sendMessage per update (to its chat), and measure."""
    answers: dict[int, deque[float]] = defaultdict(deque)
    counted: list[float] = []
    done = asyncio.Event()
    total = users * per_user

    def on_call(call) -> None:
        if call.method == "sendMessage" and call.chat_id and call.chat_id > 0:
            answers[call.chat_id].append(call.at)
            counted.append(call.at)
            if len(counted) >= total:
                done.set()

    api.sent_hook = on_call
    pushed: dict[int, deque[int]] = defaultdict(deque)
    for i in range(per_user):
        for u in range(users):
            chat = 10_000 + u
            update = api.say(chat, QUESTIONS[(u + i) % len(QUESTIONS)], user=person(chat, f"U{u}"))
            pushed[chat].append(update["update_id"])
    try:
        await asyncio.wait_for(done.wait(), timeout)
    except TimeoutError:
        pass
    latencies = []
    for chat, ids in pushed.items():
        for update_id, answered_at in zip(ids, answers[chat], strict=False):
            latencies.append((answered_at - api.delivered_at[update_id]) * 1000)
    start = min(api.delivered_at.values())
    end = max(counted) if counted else time.perf_counter()
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return Result("", total, len(counted), end - start, statistics.median(latencies) if latencies else float("nan"), p99)


async def run_echo(users: int, per_user: int) -> Result:
    from telegram import Update
    from telegram.ext import ApplicationBuilder, MessageHandler, filters

    api = await FakeBotApi().start()

    async def echo(update: Update, context) -> None:
        await update.effective_message.reply_text(update.effective_message.text)

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(timeout=1, poll_interval=0.0)
    try:
        result = await burst(api, users, per_user)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await api.stop()
    return replace(result, name="echo bot (bare PTB)")


async def run_helpdesk(users: int, per_user: int, db: str) -> Result:
    from bot.config import load_settings
    from bot.services import close_services, open_services
    from bot.web.app import build_app
    from handlers.telegram_app import start_telegram

    api = await FakeBotApi().start()
    tmp = Path(tempfile.mkdtemp(prefix="tgbench-"))
    base = load_settings(None, env={})
    url = f"sqlite+aiosqlite:///{tmp / 'helpdesk.db'}" if db == "sqlite" else db
    if db != "sqlite":
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest import reset_postgres
        await reset_postgres(url)
    settings = replace(
        base,
        general=replace(base.general, data_dir=str(tmp)),
        database=replace(base.database, url=url, pool_size=20),
        faq=replace(base.faq, dir=str(ROOT / "tests" / "fixtures" / "sample_faq"), watch=False),
        web=replace(base.web, secret_key="bench-" + "x" * 40),
        telegram=replace(base.telegram, token=api.token, base_url=api.base_url, base_file_url=api.base_file_url,
                         staff_chat_id=-100123, rate_limit=False, flood_messages=100_000),
    )
    services = await open_services(settings)
    tasks = await start_telegram(services, build_app(services))
    try:
        result = await burst(api, users, per_user)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_services(services)
        await api.stop()
    return replace(result, name=f"helpdesk bot ({'SQLite' if db == 'sqlite' else 'PostgreSQL'})")


def machine() -> str:
    cpus = os.cpu_count()
    try:
        model = next((line.split(":", 1)[1].strip() for line in subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines() if line.startswith("Model name")), "?")
    except OSError:
        model = "?"
    return f"{cpus} CPUs ({model}), Python {platform.python_version()}, {platform.system()} {platform.release()}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--per-user", type=int, default=10)
    parser.add_argument("--db", default="sqlite", help="sqlite, or a postgresql+asyncpg:// URL (its tables are emptied)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat both bots this many times, report medians")
    args = parser.parse_args()
    import logging
    logging.basicConfig(level=logging.ERROR)
    results: dict[str, list[Result]] = defaultdict(list)
    for _ in range(args.rounds):
        for r in (await run_echo(args.users, args.per_user), await run_helpdesk(args.users, args.per_user, args.db)):
            results[r.name].append(r)
            print(f"{r.name:32} {r.answered}/{r.updates} answered in {r.seconds:.2f}s = {r.rate:.0f} updates/s, "
                  f"p50 {r.p50_ms:.0f} ms, p99 {r.p99_ms:.0f} ms", flush=True)
    print(f"\nmachine: {machine()}")
    medians = {name: statistics.median(r.rate for r in rs) for name, rs in results.items()}
    for name, rs in results.items():
        print(f"median {name:32} {medians[name]:.0f} updates/s, p50 {statistics.median(r.p50_ms for r in rs):.0f} ms, "
              f"p99 {statistics.median(r.p99_ms for r in rs):.0f} ms")
    echo = medians.get("echo bot (bare PTB)")
    mine = next((v for k, v in medians.items() if k.startswith("helpdesk")), None)
    if echo and mine:
        print(f"ratio helpdesk/echo: {mine / echo:.2f} (target >= 0.8)")


if __name__ == "__main__":
    asyncio.run(main())
