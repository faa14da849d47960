"""`helpdesk run` with a memory probe: what grows inside the server during a soak.

bench/soak.py starts this instead of `python -m bot run` when given `--probe SECONDS`. A
daemon thread wakes every SECONDS and appends one JSON line to $HELPDESK_SOAK_PROBE_OUT:
RSS, glibc's heap in use vs free (mallinfo2; RSS growing while Python's blocks are flat is
the allocator, not a leak), Python's allocated blocks, live asyncio tasks by coroutine,
gc object counts by type compared with the first dump, and with $HELPDESK_SOAK_PROBE_FRAMES
set (tracemalloc's frames per trace; it slows the server down several times) tracemalloc's top
allocation sites compared with the first dump (tracing starts one period after start-up).
It lives under bench/ so the product carries no diagnostic code.

    HELPDESK_SOAK_PROBE_OUT=/tmp/probe.jsonl python -m bench.soak_probe 60 run
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import re
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]


def mallinfo() -> dict:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = MallInfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return {}
    mb = 1024 * 1024
    return {"heap_mb": round(info.arena / mb, 1), "in_use_mb": round(info.uordblks / mb, 1),
            "free_mb": round(info.fordblks / mb, 1), "mmap_mb": round(info.hblkhd / mb, 1)}


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return round(int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024, 1)


def type_counts() -> Counter:
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.get_objects())


def task_counts() -> Counter:
    tasks = list(asyncio.tasks._all_tasks)  # every live task of every loop (a WeakSet)
    return Counter(getattr(t.get_coro(), "__qualname__", repr(t.get_coro())) for t in tasks if not t.done())


def sqlalchemy_state() -> dict:
    from sqlalchemy.engine import Engine

    out = {}
    for obj in gc.get_objects():
        if isinstance(obj, Engine):
            cache = obj._compiled_cache
            out[repr(obj.url)] = {"compiled_cache": len(cache) if cache is not None else None, "pool": obj.pool.status()}
    try:
        import asyncpg
    except ImportError:
        return out
    conns = [o for o in gc.get_objects() if isinstance(o, asyncpg.connection.Connection)]
    out["asyncpg_connections"] = [{"closed": c.is_closed(), "stmt_cache": len(c._stmt_cache)} for c in conns]
    return out


def malloc_trim() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def probe(every: float, out: Path, frames: int) -> None:
    base_snap = base_types = None
    started = time.monotonic()
    time.sleep(every)
    if frames:  # after start-up (the FAQ fit is slow when traced): only what is allocated later
        tracemalloc.start(frames)
    while True:
        time.sleep(every)
        gc.collect()
        if os.environ.get("HELPDESK_SOAK_PROBE_TRIM"):  # an experiment: give free heap pages back before measuring
            malloc_trim()
        snap = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)]) if frames else None
        types = type_counts()
        row = {"t": round(time.monotonic() - started), "rss_mb": rss_mb(), **mallinfo(),
               "py_blocks": sys.getallocatedblocks(),
               "traced_mb": round(tracemalloc.get_traced_memory()[0] / 1024 / 1024, 1),
               "tasks": dict(task_counts()), "sqlalchemy": sqlalchemy_state(), "garbage": len(gc.garbage)}
        if base_types is None:
            base_snap, base_types = snap, types
        else:
            row["types_grown"] = [(k, v - base_types.get(k, 0)) for k, v in (types - base_types).most_common(25)]
        if base_snap is not None and snap is not base_snap:
            row["top_lines"] = [(str(s.traceback[0]), round(s.size_diff / 1024), s.count_diff)
                                for s in snap.compare_to(base_snap, "lineno")[:25]]
            row["top_tracebacks"] = [{"kib": round(s.size_diff / 1024), "count": s.count_diff,
                                      "where": [str(f) for f in s.traceback]}
                                     for s in snap.compare_to(base_snap, "traceback")[:6]]
        with out.open("a") as f:
            f.write(json.dumps(row, default=str) + "\n")


def probe_forever(every: float, out: Path, frames: int) -> None:
    try:
        probe(every, out, frames)
    except Exception as exc:  # a broken probe must say so in its file, not die quietly in the server's log
        with out.open("a") as f:
            f.write(json.dumps({"probe_error": repr(exc)}) + "\n")
        raise


def main() -> int:
    every = float(sys.argv[1])
    out = Path(os.environ.get("HELPDESK_SOAK_PROBE_OUT", "soak-probe.jsonl"))
    frames = int(os.environ.get("HELPDESK_SOAK_PROBE_FRAMES", "0"))
    threading.Thread(target=probe_forever, args=(every, out, frames), daemon=True, name="soak-probe").start()
    from bot.cli import main as helpdesk

    return helpdesk(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
