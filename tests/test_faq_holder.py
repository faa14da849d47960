"""Hot reload: a bad edit never replaces the live FAQ, a good one swaps in without a pause in answering."""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest

from bot.config import FaqSettings, Settings
from bot.faq.holder import FaqHolder, ReloadResult, fingerprint
from bot.faq.loader import FaqError
from bot.faq.matcher import Matcher

GOOD = Path(__file__).parent / "fixtures" / "faq_good"
WAIT = 10  # an upper bound for things that normally take milliseconds; never a timing assertion


@pytest.fixture
def faq_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(GOOD, tmp_path / "faq"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def break_yaml(faq_dir: Path) -> None:
    edit(faq_dir / "fees.yaml", "    zh:\n      question: 专利年费怎么交？", "    zh:\n     question: 专利年费怎么交？")


async def opened(faq_dir: Path, **kwargs) -> FaqHolder:
    return await FaqHolder.open(Settings(faq=FaqSettings(dir=str(faq_dir), watch_interval=0.01)), **kwargs)


class Recorder:
    """A listener that keeps every result and lets a test await the next one."""

    def __init__(self) -> None:
        self.results: list[ReloadResult] = []
        self.queue: asyncio.Queue[ReloadResult] = asyncio.Queue()

    async def __call__(self, result: ReloadResult) -> None:
        self.results.append(result)
        self.queue.put_nowait(result)

    async def next(self) -> ReloadResult:
        return await asyncio.wait_for(self.queue.get(), WAIT)


async def test_open_loads_the_faq_and_builds_the_matcher(faq_dir):
    holder = await opened(faq_dir)
    snap = holder.current
    assert snap.version == 1 and len(snap.faq) == 4 and isinstance(snap.matcher, Matcher)
    assert holder.last_result.ok and holder.last_result.reason == "startup" and holder.last_error is None
    assert holder.watch_interval == 0.01


async def test_open_refuses_a_broken_faq(faq_dir):
    break_yaml(faq_dir)
    with pytest.raises(FaqError) as caught:
        await opened(faq_dir)
    assert f"{faq_dir / 'fees.yaml'}:11: error: bad YAML" in str(caught.value)


async def test_current_before_any_load_is_an_error(faq_dir):
    with pytest.raises(LookupError):
        FaqHolder(faq_dir).current  # noqa: B018


async def test_broken_edit_is_rejected_and_the_last_good_faq_stays_live(faq_dir):
    holder = await opened(faq_dir)
    before = holder.current
    recorder = Recorder()
    holder.add_listener(recorder)
    break_yaml(faq_dir)
    result = await holder.reload("admin /reload")
    assert not result.ok and result.version == 1 and result.entries == 4
    assert [str(p.origin) for p in result.errors] == [f"{faq_dir / 'fees.yaml'}:11"]
    assert result.summary() == "FAQ change rejected (admin /reload): 1 errors; still serving version 1"
    assert holder.current is before and holder.last_error is result and holder.last_result is result
    assert recorder.results == [result]
    assert holder.current.matcher.decide("annual fee how to pay").suggestions  # still answering from the old FAQ

    edit(faq_dir / "fees.yaml", "     question: 专利年费怎么交？", "      question: 专利年费怎么交？")
    edit(faq_dir / "fees.yaml", "online at CNIPA.", "online at CNIPA, or at a bank.")
    fixed = await holder.reload("admin /reload")
    assert fixed.ok and fixed.version == 2 and holder.current.version == 2
    assert holder.current.faq.get("fees-annual").texts["en"].answer.endswith("or at a bank.")
    assert holder.last_error is result  # the console keeps showing the last failure until it is read
    assert recorder.results == [result, fixed]
    assert fixed.summary().startswith("FAQ reloaded (admin /reload): version 2, 4 entries")


async def test_a_check_error_rejects_the_change_too(faq_dir):
    """The gate is `faq check`, not just parsing: a broken link also keeps the old FAQ."""
    holder = await opened(faq_dir)
    edit(faq_dir / "fees.yaml", "related: [fees-filing]", "related: [fees-filling]")
    result = await holder.reload()
    assert not result.ok and "related entry 'fees-filling' does not exist" in result.errors[0].message
    assert holder.current.version == 1


async def test_a_crash_while_building_is_a_rejected_reload(faq_dir):
    calls = []

    def flaky(faq, settings):
        calls.append(faq)
        if len(calls) > 1:
            raise RuntimeError("matcher bug")
        return Matcher.build(faq, settings)

    holder = await opened(faq_dir, matcher_factory=flaky)
    result = await holder.reload()
    assert not result.ok and "internal error: RuntimeError('matcher bug')" in result.errors[0].message
    assert holder.current.version == 1


async def test_a_vanished_directory_is_rejected(faq_dir):
    holder = await opened(faq_dir)
    shutil.rmtree(faq_dir)
    result = await holder.reload()
    assert not result.ok and result.errors[0].message == "FAQ directory does not exist"
    assert len(holder.current.faq) == 4


async def test_a_failing_listener_does_not_stop_the_others(faq_dir):
    holder = await opened(faq_dir)
    recorder = Recorder()

    async def broken(result):
        raise RuntimeError("chat is down")

    holder.add_listener(broken)
    holder.add_listener(recorder)
    assert (await holder.reload()).ok and len(recorder.results) == 1
    holder.remove_listener(recorder)
    await holder.reload()
    assert len(recorder.results) == 1


async def test_questions_are_answered_during_a_swap_from_the_old_or_the_new_faq(faq_dir):
    """The new index is built off the loop: answers keep coming while it builds, each from one whole FAQ."""
    build_started, proceed = threading.Event(), threading.Event()
    builds = []

    def gated(faq, settings):
        builds.append(faq)
        if len(builds) == 2:  # the reload under test: hold it until answers were given meanwhile
            build_started.set()
            assert proceed.wait(WAIT)
        return Matcher.build(faq, settings)

    holder = await opened(faq_dir, matcher_factory=gated)
    edit(faq_dir / "fees.yaml", "fees-annual", "fees-annual-v2")  # the new FAQ renames an entry
    questions = ["annual fee how to pay", "年费怎么交", "filing fee china patent", "转人工", "register a trademark"]
    seen: list[tuple[int, set[str]]] = []

    def ask(i: int) -> None:
        snap = holder.current  # read once, use to the end: that is the contract for handlers
        decision = snap.matcher.decide(questions[i % len(questions)])
        ids = {s.entry_id for s in decision.suggestions} | ({decision.entry_id} if decision.entry_id else set())
        assert ids <= {e.id for e in snap.faq.entries}
        if decision.action == "answer":
            assert decision.answer in {t.answer for t in snap.faq.get(decision.entry_id).texts.values()}
        seen.append((snap.version, ids))

    reload = asyncio.create_task(holder.reload("files changed"))
    i = 0
    while not build_started.is_set():
        ask(i)
        i += 1
        await asyncio.sleep(0)
    during = len(seen)
    for _ in range(20):  # the loop is free while the new matcher is being built
        ask(i)
        i += 1
        await asyncio.sleep(0)
    await asyncio.gather(*(asyncio.to_thread(ask, n) for n in range(10)))  # and from threads, as a web worker might
    assert not reload.done() and all(version == 1 for version, _ in seen)
    proceed.set()
    while not reload.done():
        ask(i)
        i += 1
        await asyncio.sleep(0)
    assert (await reload).ok
    for n in range(10):
        ask(n)
    assert len(seen) >= during + 40
    old = set().union(*(ids for v, ids in seen if v == 1))
    new = set().union(*(ids for v, ids in seen if v == 2))
    assert "fees-annual" in old and "fees-annual-v2" not in old
    assert "fees-annual-v2" in new and "fees-annual" not in new
    assert [v for v, _ in seen] == sorted(v for v, _ in seen)  # once swapped, never back


async def test_concurrent_reloads_are_serialised(faq_dir):
    active, peak = [0], [0]
    lock = threading.Lock()

    def counting(faq, settings):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return Matcher.build(faq, settings)
        finally:
            with lock:
                active[0] -= 1

    holder = await opened(faq_dir, matcher_factory=counting)
    results = await asyncio.gather(*(holder.reload(f"r{n}") for n in range(5)))
    assert peak[0] == 1
    assert sorted(r.version for r in results) == [2, 3, 4, 5, 6] and holder.current.version == 6


async def test_watcher_reloads_an_edited_file_and_rejects_a_broken_one(faq_dir):
    holder = await opened(faq_dir)
    recorder = Recorder()
    holder.add_listener(recorder)
    watcher = asyncio.create_task(holder.watch())
    try:
        edit(faq_dir / "fees.yaml", "online at CNIPA.", "online at CNIPA (any bank also works).")
        result = await recorder.next()
        assert result.ok and result.reason == "files changed" and result.version == 2
        assert holder.current.faq.get("fees-annual").texts["en"].answer.endswith("(any bank also works).")

        break_yaml(faq_dir)
        result = await recorder.next()
        assert not result.ok and holder.current.version == 2 and holder.last_error is result

        (faq_dir / "more.csv").write_text("id,lang,question,answer\n", encoding="utf-8")  # a new file counts too
        result = await recorder.next()
        assert not result.ok  # still broken: fees.yaml
    finally:
        watcher.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watcher
    assert len(recorder.results) == 3  # one reload per settled change, not one per poll


def test_fingerprint_sees_content_names_and_a_missing_directory(faq_dir):
    first = fingerprint(faq_dir)
    assert [name for name, _, _ in first] == ["fees.yaml", "helpdesk.yaml", "referrals.csv", "synonyms.yaml"]
    edit(faq_dir / "helpdesk.yaml", "请稍候", "请稍等一下")
    assert fingerprint(faq_dir) != first
    assert fingerprint(faq_dir / "nope") == (("<missing directory>", 0, 0),)
