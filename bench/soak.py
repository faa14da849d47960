"""Soak run: the real `helpdesk run` process under mixed traffic for a long time.

Starts the helpdesk as a subprocess (SQLite by default, or PostgreSQL with --database-url),
drives it over HTTP at a steady rate with SME questions, escalations, requests for a person,
chat polls, staff replies and console views, samples the server's memory, open files and
database connections, and at the end accounts for every message in the database.

    python -m bench.soak --minutes 30 --rate 50
    python -m bench.soak --minutes 30 --rate 50 --database-url postgresql+asyncpg://postgres@127.0.0.1/soak

Only loopback traffic; every loop is bounded by --minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TICKET_LINK = re.compile(r"/console/tickets/(\d+)")
UNKNOWN = ["my cat ate the invoice, what now", "can you book me a hotel in Shenzhen", "明天天气怎么样",
           "how do I bake bread", "推荐一家火锅店", "what is the capital of Peru", "股票明天涨吗"]
# Weights of the traffic mix (per action).
MIX = {"ask": 60, "unknown": 6, "human": 2, "poll": 8, "staff_reply": 8, "staff_close": 8, "console_view": 8}


@dataclass
class Stats:
    sent: Counter = field(default_factory=Counter)
    ok: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    samples: list[dict] = field(default_factory=list)
    user_texts: int = 0
    staff_replies: int = 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def faq_questions() -> list[str]:
    from bot.faq.loader import iter_phrasings, load_faq

    return [text for _, _, text in iter_phrasings(load_faq(ROOT / "faq"))]


def proc_sample(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    threads = int(re.search(r"Threads:\s+(\d+)", status).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return {"rss_mb": round(rss / 1024, 1), "threads": threads, "fds": fds}


class Visitor:
    """One web-chat user: a visitor cookie and its CSRF token."""

    def __init__(self, cookie: str, csrf: str):
        self.cookie, self.csrf, self.last_id = cookie, csrf, 0


class Driver:
    def __init__(self, base: str, stats: Stats, questions: list[str], password: str):
        self.base, self.stats, self.questions, self.password = base, stats, questions, password
        self.visitors: list[Visitor] = []
        self.http: aiohttp.ClientSession | None = None
        self.staff: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Driver:
        conn = aiohttp.TCPConnector(limit=200)
        self.http = aiohttp.ClientSession(connector=conn, cookie_jar=aiohttp.DummyCookieJar(),
                                          timeout=aiohttp.ClientTimeout(total=30))
        self.staff = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()
        await self.staff.close()

    async def new_visitor(self) -> Visitor:
        async with self.http.get(self.base + "/") as resp:
            html = await resp.text()
            cookie = resp.cookies["hd_visitor"].value
        return Visitor(cookie, CSRF.search(html).group(1))

    async def login(self) -> None:
        async with self.staff.get(self.base + "/console/login") as resp:
            csrf = CSRF.search(await resp.text()).group(1)
        async with self.staff.post(self.base + "/console/login", data={"csrf": csrf, "username": "soak",
                                                                       "password": self.password}) as resp:
            assert resp.status == 200 and "/console/login" not in str(resp.url), "staff login failed"

    async def timed(self, kind: str, coro) -> None:
        self.stats.sent[kind] += 1
        start = time.perf_counter()
        try:
            ok = await coro
        except (TimeoutError, aiohttp.ClientError, AssertionError, KeyError, AttributeError) as exc:  # 503 pages
            self.stats.errors[f"{kind}: {type(exc).__name__}"] += 1
            return
        self.stats.latency[kind].append((time.perf_counter() - start) * 1000)
        if ok:
            self.stats.ok[kind] += 1
        else:
            self.stats.errors[f"{kind}: refused"] += 1

    async def chat_post(self, visitor: Visitor, path: str, body: dict) -> bool:
        headers = {"X-CSRF-Token": visitor.csrf, "Cookie": f"hd_visitor={visitor.cookie}"}
        async with self.http.post(self.base + path, json=body, headers=headers) as resp:
            await resp.read()
            return resp.status == 200

    async def ask(self, text: str) -> bool:
        visitor = random.choice(self.visitors)
        ok = await self.chat_post(visitor, "/api/chat/ask", {"text": text})
        self.stats.user_texts += ok
        return ok

    async def poll(self) -> bool:
        visitor = random.choice(self.visitors)
        async with self.http.get(f"{self.base}/api/chat/messages?since={visitor.last_id}",
                                 headers={"Cookie": f"hd_visitor={visitor.cookie}"}) as resp:
            await resp.read()
            return resp.status == 200

    async def open_ticket_ids(self) -> list[int]:
        async with self.staff.get(self.base + "/console/queue/rows?view=all") as resp:
            return [int(i) for i in dict.fromkeys(TICKET_LINK.findall(await resp.text()))]

    async def staff_action(self, action: str) -> bool:
        ids = await self.open_ticket_ids()
        if not ids:
            return True
        ticket = random.choice(ids[:20])
        async with self.staff.get(f"{self.base}/console/tickets/{ticket}") as resp:
            csrf = CSRF.search(await resp.text()).group(1)
        data = {"csrf": csrf, "text": f"Soak reply {time.time():.3f}: please see the FAQ on fees."}
        async with self.staff.post(f"{self.base}/console/tickets/{ticket}/{action}", data=data) as resp:
            await resp.read()
            # 409/403: another action won the race for this ticket; that is correct behaviour, not an error.
            if action == "reply" and resp.status == 200:
                self.stats.staff_replies += 1
            return resp.status in (200, 403, 409)

    async def console_view(self) -> bool:
        path = random.choice(["/console", "/console?view=unclaimed", "/console/admin/dashboard", "/healthz"])
        async with self.staff.get(self.base + path) as resp:
            await resp.read()
            return resp.status == 200

    def action(self, kind: str):
        if kind == "ask":
            return self.ask(random.choice(self.questions))
        if kind == "unknown":
            return self.ask(random.choice(UNKNOWN) + f" #{random.randint(1, 10**6)}")
        if kind == "human":
            return self.ask(random.choice(["人工", "human", "转人工"]))
        if kind == "poll":
            return self.poll()
        if kind == "staff_reply":
            return self.staff_action("reply")
        if kind == "staff_close":
            return self.staff_action("close")
        return self.console_view()


async def sample_loop(pid: int, stats: Stats, started: float, stop: asyncio.Event, db_url: str | None) -> None:
    while not stop.is_set():
        sample = {"t": round(time.monotonic() - started), **proc_sample(pid)}
        if db_url and db_url.startswith("postgresql"):
            sample["pg_connections"] = await pg_connections(db_url)
        stats.samples.append(sample)
        try:
            await asyncio.wait_for(stop.wait(), 10)
        except TimeoutError:
            pass


async def pg_connections(db_url: str) -> int:
    import asyncpg

    name = db_url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(db_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name) - 1
    finally:
        await conn.close()


async def drive(base: str, pid: int, args: argparse.Namespace, password: str, db_url: str | None) -> Stats:
    stats = Stats()
    questions = faq_questions()
    kinds, weights = list(MIX), list(MIX.values())
    async with Driver(base, stats, questions, password) as driver:
        driver.visitors = [await driver.new_visitor() for _ in range(args.visitors)]
        await driver.login()
        stop = asyncio.Event()
        started = time.monotonic()
        sampler = asyncio.create_task(sample_loop(pid, stats, started, stop, db_url))
        inflight: set[asyncio.Task] = set()
        deadline = started + args.minutes * 60
        interval, next_at = 1 / args.rate, started
        while time.monotonic() < deadline:
            kind = random.choices(kinds, weights)[0]
            task = asyncio.create_task(driver.timed(kind, driver.action(kind)))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*inflight)
        await asyncio.sleep(5)  # let the outbox deliver the last replies
        stop.set()
        await sampler
    return stats


async def account(db_url: str) -> dict:
    """Count what the database holds, to match against what was sent."""
    from sqlalchemy import func, select

    from bot.db.engine import make_engine
    from bot.db.models import Message, Outbox, QuestionLog

    engine = make_engine(db_url)
    try:
        async with engine.connect() as conn:
            # "context" rows are earlier questions copied onto a ticket, not new messages from the user.
            user_msgs = await conn.scalar(select(func.count()).select_from(Message).where(Message.sender == "user",
                                                                                        Message.kind != "context"))
            staff_msgs = await conn.scalar(select(func.count()).select_from(Message).where(Message.sender == "staff",
                                                                                         Message.direction == "out"))
            questions = await conn.scalar(select(func.count()).select_from(QuestionLog))
            outbox = dict((await conn.execute(select(Outbox.status, func.count()).group_by(Outbox.status))).all())
    finally:
        await engine.dispose()
    return {"user_messages": user_msgs, "staff_replies": staff_msgs, "question_log": questions, "outbox": outbox}


def slope_per_min(samples: list[dict], key: str = "rss_mb", since: float = 0.0) -> float | None:
    """Least-squares slope of `key` per minute over the samples taken at or after `since` seconds."""
    rows = [(s["t"] / 60, s[key]) for s in samples if s["t"] >= since and key in s]
    if len(rows) < 3:
        return None
    mx, my = statistics.fmean(x for x, _ in rows), statistics.fmean(y for _, y in rows)
    var = sum((x - mx) ** 2 for x, _ in rows)
    return round(sum((x - mx) * (y - my) for x, y in rows) / var, 3) if var else None


def summarize(stats: Stats, db: dict, exit_info: dict, args: argparse.Namespace) -> dict:
    samples = stats.samples
    warm = [s for s in samples if s["t"] >= 60] or samples
    n = max(1, len(warm) // 6)
    first, last = warm[:n], warm[-n:]

    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows if key in r) if rows and key in rows[0] else float("nan")

    lat = {k: {"n": len(v), "p50_ms": round(statistics.median(v), 1),
               "p99_ms": round(sorted(v)[int(len(v) * 0.99) - 1], 1) if len(v) >= 100 else None}
           for k, v in stats.latency.items() if v}
    return {
        "minutes": args.minutes, "rate_per_s": args.rate, "visitors": args.visitors,
        "sent": dict(stats.sent), "ok": dict(stats.ok), "errors": dict(stats.errors), "latency": lat,
        "rss_mb_first_vs_last_sixth": [med(first, "rss_mb"), med(last, "rss_mb")],
        "rss_mb_per_min_second_half": slope_per_min(samples, since=samples[-1]["t"] / 2 if samples else 0),
        "fds_first_vs_last_sixth": [med(first, "fds"), med(last, "fds")],
        "threads_first_vs_last_sixth": [med(first, "threads"), med(last, "threads")],
        "pg_connections_first_vs_last_sixth": [med(first, "pg_connections"), med(last, "pg_connections")],
        "user_texts_accepted": stats.user_texts, "staff_replies_accepted": stats.staff_replies,
        "database": db, "shutdown": exit_info, "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=50, help="actions per second")
    parser.add_argument("--visitors", type=int, default=300)
    parser.add_argument("--database-url", help="PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--out", type=Path, help="write the JSON result here")
    parser.add_argument("--probe", type=float, metavar="SECONDS",
                        help="run the server under bench.soak_probe: heap, gc and task counts every SECONDS "
                             "to soak-probe.jsonl next to --out")
    parser.add_argument("--probe-frames", type=int, default=0, metavar="N",
                        help="with --probe, tracemalloc with N frames per allocation (0: off; on, the server is several "
                             "times slower)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="helpdesk-soak-"))
    db_url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'helpdesk.db'}"
    port, password = free_port(), "soak-password-123"
    env = {**os.environ, "HELPDESK_GENERAL_DATA_DIR": str(workdir), "HELPDESK_DATABASE_URL": db_url,
           "HELPDESK_WEB_PORT": str(port), "HELPDESK_GENERAL_LOG_LEVEL": "WARNING", "HELPDESK_FAQ_WATCH": "false",
           "HELPDESK_TELEGRAM_TOKEN": ""}
    subprocess.run([sys.executable, "-m", "bot", "staff", "add", "soak", "--role", "admin", "--password-stdin"],
                   input=password + "\n", text=True, env=env, check=True, cwd=ROOT)
    log = open(workdir / "server.log", "w")
    command = [sys.executable, "-m", "bot", "run"]
    if args.probe:
        probe_out = (args.out.parent if args.out else workdir) / "soak-probe.jsonl"
        probe_out.unlink(missing_ok=True)
        env["HELPDESK_SOAK_PROBE_OUT"] = str(probe_out)
        env["HELPDESK_SOAK_PROBE_FRAMES"] = str(args.probe_frames)
        command = [sys.executable, "-m", "bench.soak_probe", str(args.probe), "run"]
    server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # up to 2 minutes: the matcher is fitted at start-up
            if server.poll() is not None:
                raise SystemExit(f"the server exited with {server.returncode}; see {workdir / 'server.log'}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        stats = asyncio.run(drive(base, server.pid, args, password, args.database_url))
    finally:
        began = time.monotonic()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed after 60 s"
        exit_info = {"exit_code": code, "seconds": round(time.monotonic() - began, 2)}
        log.close()
    db = asyncio.run(account(db_url))
    result = summarize(stats, db, exit_info, args)
    tracebacks = (workdir / "server.log").read_text().count("Traceback")
    result["server_log_tracebacks"] = tracebacks
    text = json.dumps(result, indent=1, default=str)
    if args.out:
        args.out.write_text(text)
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
