"""A bot process receiving a burst of web-chat messages through the inbox (killed by the crash test).

`python inbox_burst.py <db url> <faq dir> burst <n>`: accept messages one by one (printing
"accepted <i>" once each is stored, the moment a channel would acknowledge it) while a processor
task answers them. `... drain`: the restarted process; process what is left, print "drained <n>".
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

from bot.config import load_settings
from bot.inbox import Inbox, order_key_for
from bot.services import close_services, open_services

QUESTION = "小专利保护几年"
LEASE = 1.0  # seconds; the restarted process may take over a dead process's row after this


async def main(url: str, faq_dir: str, mode: str, count: int) -> None:
    base = load_settings(None, env={})
    settings = replace(base, database=replace(base.database, url=url), faq=replace(base.faq, dir=faq_dir, watch=False))
    services = await open_services(settings, migrate=False)
    inbox = Inbox(services.sessions, lease_seconds=LEASE, poll_seconds=0.02)

    async def handler(payload: dict) -> None:
        await services.conversation.ask("web", payload["visitor"], payload["text"])

    try:
        if mode == "burst":
            processor = asyncio.create_task(inbox.run(handler))
            for i in range(count):
                visitor = f"visitor-{i % 7}"
                await inbox.accept("web", f"burst:{i}", {"visitor": visitor, "text": QUESTION},
                                   order_key=order_key_for("web", visitor))
                print(f"accepted {i}", flush=True)
            while await inbox.pending():
                await asyncio.sleep(0.05)
            processor.cancel()
        else:
            drained = 0
            async with asyncio.timeout(60):
                while await inbox.pending():
                    drained += await inbox.process_pending(handler)
                    await asyncio.sleep(0.1)  # rows still leased by the dead process become free
            print(f"drained {drained}", flush=True)
    finally:
        await close_services(services)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0))
