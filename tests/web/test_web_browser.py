"""End to end in headless Chromium (Debian's package, driven by Playwright; no browser download).

The journey: an SME asks on the web chat, gets an answer, asks something unknown and asks
for a person; a staff member, already watching the queue, sees the ticket appear live,
claims it and replies; the SME's open page shows the reply without a reload.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.staff_accounts import add_staff
from bot.web.app import build_app
from bot.workers import start_workers, stop_workers

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.browser


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("HELPDESK_TEST_REQUIRE_BROWSER"):
        pytest.fail(f"HELPDESK_TEST_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        _skip_or_fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _skip_or_fail("the playwright package is not installed (pip install -e '.[test]')")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def site(services) -> AsyncIterator[str]:
    """The real application on a real TCP port, with the queue's workers (outbox delivery) running."""
    server = TestServer(build_app(services), host="127.0.0.1")
    await server.start_server()
    tasks = await start_workers(services)
    try:
        yield str(server.make_url("")).rstrip("/")
    finally:
        await stop_workers(tasks)
        await server.close()


async def test_sme_asks_staff_claims_and_replies_live(services, site, browser):
    from playwright.async_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    await add_staff(services.sessions, "alice", PASSWORD, "staff", display_name="Alice")
    await add_staff(services.sessions, "root", PASSWORD, "admin", display_name="Admin")
    db = "pg" if services.engine.dialect.name == "postgresql" else "sqlite"

    staff_ctx = await browser.new_context(locale="en-GB", viewport={"width": 1200, "height": 800})
    staff = await staff_ctx.new_page()
    await staff.goto(site + "/console")
    await expect(staff).to_have_url(site + "/console/login?next=/console")
    await staff.fill("input[name=username]", "alice")
    await staff.fill("input[name=password]", PASSWORD)
    await staff.click("form.login button[type=submit]")
    await expect(staff.locator("h1")).to_have_text("Queue")
    await expect(staff.locator("#queue-rows")).to_contain_text("No tickets.")

    sme_ctx = await browser.new_context(locale="zh-CN", viewport={"width": 800, "height": 900})
    sme = await sme_ctx.new_page()
    errors: list[str] = []
    sme.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await sme.goto(site + "/")
    await expect(sme.locator("h1")).to_have_text("专利服务助手")
    await sme.fill("#text", "小专利保护几年")
    await sme.click("#send")
    answer = sme.locator("#log li.answer").first
    await expect(answer).to_contain_text("10年")
    await expect(answer.locator("a.source")).to_have_attribute("href", "https://www.cnipa.gov.cn/")
    await expect(answer.locator(".reviewed")).to_contain_text("2026-11-01")

    question = "我们的产品在广交会上被人仿冒了，<b>能</b>马上起诉吗？"
    await sme.fill("#text", question)
    await sme.click("#send")
    await expect(sme.locator("#log li.bot")).to_have_count(2)  # the bot has answered the second question
    await sme.click("#human")
    await expect(sme.locator("#log li.escalated, #log li.joined").last).to_contain_text("#")

    # the queue page (never reloaded) shows the new ticket
    row = staff.locator("#queue-rows tr[data-ticket]")
    await expect(row).to_have_count(1, timeout=15_000)
    await expect(row).to_contain_text("<b>能</b>")  # shown as text, not as markup
    await staff.screenshot(path=str(ARTIFACTS / f"queue-{db}.png"), full_page=True)
    await row.locator("a").first.click()
    await staff.click("button[value=claim]")
    await expect(staff.locator(".meta")).to_contain_text("Alice")
    await staff.fill("form.reply textarea", "您好，可以先做证据保全。请提供专利号。")
    await staff.click("form.reply button[type=submit]")
    await expect(staff.locator("#conversation")).to_contain_text("请提供专利号")
    await staff.fill("form.note-form textarea", "Internal: ask for the exhibition photos.")
    await staff.click("form.note-form button[type=submit]")
    await expect(staff.locator("#conversation li.note")).to_contain_text("exhibition photos")
    await staff.screenshot(path=str(ARTIFACTS / f"ticket-{db}.png"), full_page=True)

    reply = sme.locator("#log li.staff")
    await expect(reply).to_contain_text("请提供专利号", timeout=15_000)
    # and back: the SME's follow-up appears on the staff member's open ticket page
    await sme.fill("#text", "专利号是 ZL202420001234.5")
    await sme.click("#send")
    await expect(staff.locator("#conversation")).to_contain_text("ZL202420001234.5", timeout=15_000)
    await sme.screenshot(path=str(ARTIFACTS / f"chat-{db}.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e], errors

    admin_ctx = await browser.new_context(locale="en-GB", viewport={"width": 1200, "height": 1000})
    admin = await admin_ctx.new_page()
    await admin.goto(site + "/console/login")
    await admin.fill("input[name=username]", "root")
    await admin.fill("input[name=password]", PASSWORD)
    await admin.click("form.login button[type=submit]")
    await admin.goto(site + "/console/admin/dashboard?days=7")
    await expect(admin.locator("svg.chart")).to_have_count(3)
    await admin.screenshot(path=str(ARTIFACTS / f"dashboard-{db}.png"), full_page=True)
    await admin.goto(site + "/console/admin/unanswered")
    await expect(admin.locator("table.report")).to_contain_text("广交会")
    await admin.goto(site + "/console/admin/faq")
    await admin.click("form[action=\"/console/admin/faq/reload\"] button")
    await expect(admin.locator(".flash.ok")).to_contain_text("FAQ reloaded (console): version 2")
    await admin.screenshot(path=str(ARTIFACTS / f"faq-{db}.png"), full_page=True)
    assert "exhibition photos" not in await sme.locator("#log").inner_text()  # the note never reaches the SME
    # "forget my data", after the confirmation dialog
    sme.once("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await sme.click("#forget")
    await expect(sme.locator("#log li")).to_have_count(1)
    await expect(sme.locator("#log li")).to_contain_text("已删除")
    for ctx in (staff_ctx, sme_ctx, admin_ctx):
        await ctx.close()


async def test_a_question_that_meets_a_database_outage_is_kept_and_answered_once_it_returns(services, site, browser):
    """The server answers 503 (nothing stored); the page says so once, sends again, and the answer arrives."""
    from playwright.async_api import expect
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.db.engine import make_sessionmaker
    from bot.db.models import QuestionLog

    ctx = await browser.new_context(locale="en-GB")
    page = await ctx.new_page()
    await page.goto(site + "/")
    good = services.conversation.sessions
    dead = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    services.conversation.sessions = make_sessionmaker(dead)  # every question now meets a refused connection
    try:
        await page.fill("#text", "how long does a utility model patent last")
        await page.click("#send")
        notice = page.locator("#log li.delay")
        await expect(notice).to_contain_text("Your question is kept")
        await expect(page.locator("#text")).to_have_value("")
    finally:
        services.conversation.sessions = good
        await dead.dispose()
    answer = page.locator("#log li.answer")
    await expect(answer).to_have_count(1, timeout=20_000)
    await expect(answer).to_contain_text("10")
    await expect(notice).to_have_count(0)
    await expect(page.locator("#log li.error")).to_have_count(0)
    async with services.sessions() as s:
        asked = await s.scalar(select(func.count()).select_from(QuestionLog)
                               .where(QuestionLog.text == "how long does a utility model patent last"))
    assert asked == 1
    await ctx.close()
