"""One process of the claim race: 20 concurrent claimers try every ticket not yet seen taken; print the wins as JSON.

Run by test_queue_multiprocess.py as `python race_claimer.py <db url> <first staff id> <ticket ids...>`.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys

from bot.db.engine import make_engine, make_sessionmaker
from bot.errors import AlreadyClaimed
from bot.events import EventBus
from bot.tickets import TicketService

CLAIMERS = 20


async def main(url: str, first_staff: int, ticket_ids: list[int]) -> None:
    engine = make_engine(url, pool_size=CLAIMERS)
    tickets = TicketService(make_sessionmaker(engine), EventBus())
    wins: dict[int, int] = {}
    lost: list[int] = []
    taken: set[int] = set()  # what this process's claimers have learnt, like staff seeing a refreshed list
    go = asyncio.Event()

    async def claimer(staff_id: int) -> None:
        order = ticket_ids[:]
        random.shuffle(order)
        await go.wait()
        for ticket_id in order:
            if ticket_id in taken:
                continue
            try:
                await tickets.claim(ticket_id, staff_id)
            except AlreadyClaimed:
                lost.append(ticket_id)
                taken.add(ticket_id)
                continue
            taken.add(ticket_id)
            wins[ticket_id] = staff_id

    tasks = [asyncio.create_task(claimer(first_staff + i)) for i in range(CLAIMERS)]
    await asyncio.sleep(0)
    go.set()
    await asyncio.gather(*tasks)
    await engine.dispose()
    print(json.dumps({"wins": wins, "lost": len(lost)}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), [int(x) for x in sys.argv[3:]]))
