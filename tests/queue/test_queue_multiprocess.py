"""Several processes on one database: the claim race and a SIGKILL in the middle of a burst."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections import Counter
from pathlib import Path

import pytest
from queue_helpers import make_staff, make_user
from sqlalchemy import func, select

from bot.db.models import Inbound, Message, Ticket, TicketEvent

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
PROCESSES, TICKETS = 3, 200


async def run_script(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_three_processes_of_twenty_claimers_claim_each_ticket_exactly_once(services):
    staff = [await make_staff(services, f"staff{i:02d}") for i in range(PROCESSES * 20)]
    ids = []
    for n in range(TICKETS):
        user = await make_user(services, f"race-{n}")
        ticket, _ = await services.tickets.escalate(user.id, f"question {n}", "en", "asked")
        ids.append(str(ticket.id))
    url = services.settings.database_url
    results = await asyncio.gather(*(run_script(str(HERE / "race_claimer.py"), url, str(staff[p * 20].id), *ids)
                                     for p in range(PROCESSES)))
    wins: dict[str, int] = {}
    lost = 0
    for code, out, err in results:
        assert code == 0, err[-2000:]
        report = json.loads(out)
        lost += report["lost"]
        for ticket_id, staff_id in report["wins"].items():
            assert ticket_id not in wins, f"ticket {ticket_id} won twice"
            wins[ticket_id] = staff_id
    assert sorted(wins, key=int) == ids  # none lost
    assert lost > 0  # the claimers really did collide
    async with services.sessions() as s:
        claimed = dict((await s.execute(select(TicketEvent.ticket_id, func.count()).where(TicketEvent.kind == "claimed")
                                        .group_by(TicketEvent.ticket_id))).all())
        holders = dict((await s.execute(select(Ticket.id, Ticket.claimed_by))).all())
    assert set(claimed.values()) == {1} and len(claimed) == TICKETS
    assert {str(k): v for k, v in holders.items()} == wins


@pytest.mark.slow
async def test_a_process_killed_mid_burst_loses_nothing_and_processes_each_message_once(services):
    from conftest import SAMPLE_FAQ

    url = services.settings.database_url
    script = str(HERE / "inbox_burst.py")
    proc = await asyncio.create_subprocess_exec(sys.executable, script, url, str(SAMPLE_FAQ), "burst", "400", cwd=ROOT,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    acknowledged = []
    async with asyncio.timeout(60):
        while len(acknowledged) < 60:
            line = await proc.stdout.readline()
            assert line, (await proc.stderr.read()).decode()[-2000:]
            acknowledged.append(int(line.split()[1]))
    os.kill(proc.pid, signal.SIGKILL)
    await proc.wait()
    async with services.sessions() as s:
        left = await s.scalar(select(func.count()).select_from(Inbound).where(Inbound.status == "pending"))
    assert left > 0  # the kill really did interrupt the burst

    code, out, err = await run_script(script, url, str(SAMPLE_FAQ), "drain")
    assert out.startswith("drained")
    assert code == 0, err[-2000:]
    async with services.sessions() as s:
        rows = (await s.execute(select(Inbound.id, Inbound.dedupe_key, Inbound.status))).all()
        metas = (await s.scalars(select(Message.meta).where(Message.direction == "in"))).all()
    effects = Counter(meta.get("inbound_id") for meta in metas)
    stored = {key: (row_id, status) for row_id, key, status in rows}
    assert all(f"burst:{i}" in stored for i in acknowledged)  # nothing acknowledged was lost
    assert {status for _, status in stored.values()} == {"done"}
    assert {row_id: effects.get(row_id, 0) for row_id, _ in stored.values()} == {row_id: 1 for row_id, _ in stored.values()}
