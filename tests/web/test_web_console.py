"""The staff console through aiohttp's test client: sign-in, refusals, the queue and ticket actions."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import timedelta

from markupsafe import escape
from sqlalchemy import func, select, update

from bot.db.models import LoginAttempt, Outbox, Ticket, WebSession, utcnow
from web.webtools import CSRF, PASSWORD, login, login_session, other_browser


async def ticket(services, question: str = "我的专利被人抄袭了怎么办", visitor: str = "v1") -> int:
    user = await services.conversation.user("web", visitor, display_name="Visitor")
    t, _ = await services.tickets.escalate(user.id, question, "zh", "asked")
    return t.id


async def test_login_sets_a_strict_httponly_cookie_and_stores_only_its_hash(services, web, accounts):
    page = await web.get("/console/login")
    token = CSRF.search(await page.text()).group(1)
    resp = await web.post("/console/login", data={"csrf": token, "username": "alice", "password": PASSWORD},
                          allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/console"
    set_cookie = resp.headers["Set-Cookie"]
    assert set_cookie.startswith("hd_console=") and "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    cookie = resp.cookies["hd_console"]
    async with services.sessions() as s:
        row = (await s.scalars(select(WebSession))).one()
    assert row.token_hash == hashlib.sha256(cookie.value.encode()).hexdigest()
    assert cookie.value not in (row.token_hash, row.csrf_token)


async def test_a_wrong_password_is_refused_and_counted(services, web, accounts):
    page = await web.get("/console/login")
    token = CSRF.search(await page.text()).group(1)
    resp = await web.post("/console/login", data={"csrf": token, "username": "alice", "password": "wrong-password"})
    assert resp.status == 401
    assert "Wrong username or password" in await resp.text() or "用户名或密码错误" in await resp.text()
    assert (await web.get("/console", allow_redirects=False)).status == 303
    async with services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(LoginAttempt)) == 1


async def test_failed_logins_are_rate_limited_even_for_the_right_password(services, web, accounts):
    page = await web.get("/console/login", headers={"Accept-Language": "en"})
    token = CSRF.search(await page.text()).group(1)
    limit = services.settings.web.login_attempts
    for _ in range(limit):
        resp = await web.post("/console/login", data={"csrf": token, "username": "alice", "password": "nope-nope"})
        assert resp.status == 401
    resp = await web.post("/console/login", data={"csrf": token, "username": "alice", "password": PASSWORD},
                          headers={"Accept-Language": "en"})
    assert resp.status == 429
    assert "Too many failed logins" in await resp.text()
    # another account from the same address is not locked out by alice's failures
    resp = await web.post("/console/login", data={"csrf": token, "username": "root", "password": PASSWORD},
                          allow_redirects=False)
    assert resp.status == 303


async def test_failures_older_than_the_window_do_not_count(services, web, accounts):
    old = utcnow() - timedelta(minutes=services.settings.web.login_window_minutes + 1)
    async with services.sessions.begin() as s:
        for _ in range(services.settings.web.login_attempts):
            s.add(LoginAttempt(key="alice|127.0.0.1", created_at=old))
    await login(web, "alice")


async def test_logout_ends_the_session_in_the_database(services, web, accounts):
    csrf = await login(web, "alice")
    resp = await web.post("/console/logout", data={"csrf": csrf}, allow_redirects=False)
    assert resp.status == 303
    async with services.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(WebSession)) == 0
    assert (await web.get("/console", allow_redirects=False)).status == 303


async def test_an_expired_session_sends_you_back_to_login(services, web, accounts):
    await login(web, "alice")
    async with services.sessions.begin() as s:
        await s.execute(update(WebSession).values(expires_at=utcnow() - timedelta(minutes=1)))
    resp = await web.get("/console/tickets/1", allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"].startswith("/console/login?next=/console/tickets/1")


PAGES = ["/console", "/console/tickets/{t}", "/console/tickets/{t}/draft", "/console/admin/faq",
         "/console/admin/unanswered", "/console/admin/dashboard"]
FRAGMENTS = ["/console/queue/rows", "/console/events", "/console/tickets/{t}/conversation"]
POSTS = ["/console/tickets/{t}/claim", "/console/tickets/{t}/release", "/console/tickets/{t}/close",
         "/console/tickets/{t}/reopen", "/console/tickets/{t}/transfer", "/console/tickets/{t}/reply",
         "/console/tickets/{t}/note", "/console/tickets/{t}/draft", "/console/admin/faq/reload"]
ADMIN_ONLY = ["/console/admin/faq", "/console/admin/unanswered", "/console/admin/dashboard"]


async def test_without_a_session_pages_redirect_and_apis_answer_401(services, web, accounts):
    t = await ticket(services)
    for path in PAGES:
        resp = await web.get(path.format(t=t), allow_redirects=False)
        assert resp.status == 303, path
        assert resp.headers["Location"].startswith("/console/login"), path
    for path in FRAGMENTS:
        assert (await web.get(path.format(t=t), allow_redirects=False)).status == 401, path
    for path in POSTS:
        assert (await web.post(path.format(t=t), data={"csrf": "x", "text": "hi"}, allow_redirects=False)).status == 401, path
    async with services.sessions() as s:
        assert (await s.get(Ticket, t)).status == "open"


async def test_staff_get_403_on_admin_pages_and_admins_get_in(services, web, accounts):
    csrf = await login(web, "alice")
    for path in ADMIN_ONLY:
        assert (await web.get(path)).status == 403, path
    assert (await web.post("/console/admin/faq/reload", data={"csrf": csrf}, allow_redirects=False)).status == 403
    async with other_browser(web) as admin:
        admin_csrf = await login_session(admin, "root")
        for path in ADMIN_ONLY:
            async with admin.get(path) as resp:
                assert resp.status == 200, path
        async with admin.post("/console/admin/faq/reload", data={"csrf": admin_csrf}, allow_redirects=False) as resp:
            assert resp.status == 303


async def test_every_console_post_needs_the_session_csrf_token(services, web, accounts):
    t = await ticket(services)
    csrf = await login(web, "root")
    for path in [*POSTS, "/console/logout"]:
        url = path.format(t=t)
        assert (await web.post(url, data={"text": "hi", "to": "1"}, allow_redirects=False)).status == 403, url
        assert (await web.post(url, data={"csrf": csrf[:-2] + "xx", "text": "hi"}, allow_redirects=False)).status == 403, url
    async with other_browser(web) as other:  # another session's token is no good here either
        other_csrf = await login_session(other, "alice")
    assert (await web.post(f"/console/tickets/{t}/claim", data={"csrf": other_csrf}, allow_redirects=False)).status == 403
    detail = await services.tickets.get(t)
    assert detail.ticket.status == "open" and [m.sender for m in detail.messages] == ["user"]
    assert (await web.get("/console")).status == 200  # still signed in: the refusals did not log us out


async def test_the_login_form_needs_its_csrf_token(services, web, accounts):
    await web.get("/console/login")
    resp = await web.post("/console/login", data={"username": "alice", "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 403
    resp = await web.post("/console/login", data={"csrf": "0" * 64, "username": "alice", "password": PASSWORD},
                          allow_redirects=False)
    assert resp.status == 403


async def test_the_ticket_page_shows_the_matchers_guesses(services, web, accounts):
    user = await services.conversation.user("web", "g")
    guess = {"entry_id": "fee-reduction-who", "question": "谁可以申请专利费用减缴？", "score": 61.5}
    t, _ = await services.tickets.escalate(user.id, "专利费", "zh", "asked", [guess])
    await login(web, "alice")
    body = await (await web.get(f"/console/tickets/{t.id}")).text()
    assert "谁可以申请专利费用减缴？ <small>fee-reduction-who · 61.5</small>" in body


async def test_user_text_is_escaped_on_the_queue_and_ticket_pages(services, web, accounts):
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    t = await ticket(services, question=evil)
    await login(web, "alice")
    for path in ("/console", f"/console/tickets/{t}", f"/console/tickets/{t}/conversation", "/console/queue/rows"):
        body = await (await web.get(path)).text()
        assert "<script>alert" not in body and "<img src=x" not in body, path
        assert "&lt;script&gt;alert(" in body, path


async def test_claim_reply_note_release_transfer_close_reopen(services, web, accounts):
    staff, admin = accounts
    t = await ticket(services)
    csrf = await login(web, "alice")

    async def act(action: str, **data) -> int:
        resp = await web.post(f"/console/tickets/{t}/{action}", data={"csrf": csrf, **data}, allow_redirects=False)
        return resp.status

    assert await act("claim") == 303
    assert (await services.tickets.get(t)).ticket.claimed_by == staff.id
    assert await act("reply", text="请提供申请号。") == 303
    assert await act("note", text="internal: check the file") == 303
    detail = await services.tickets.get(t)
    assert detail.ticket.status == "answered"
    assert [(m.sender, m.direction) for m in detail.messages][-2:] == [("staff", "out"), ("staff", "internal")]
    async with services.sessions() as s:
        outbox = (await s.scalars(select(Outbox))).one()
    assert (outbox.channel, outbox.destination, outbox.payload["text"]) == ("web", "v1", "请提供申请号。")
    page = await (await web.get(f"/console/tickets/{t}")).text()
    assert "internal: check the file" in page and 'class="msg internal staff note"' in page
    assert await act("release") == 303
    assert (await services.tickets.get(t)).ticket.claimed_by is None
    assert await act("transfer", to=str(admin.id)) == 303
    assert (await services.tickets.get(t)).ticket.claimed_by == admin.id
    assert await act("release") == 403  # it is the admin's now
    async with other_browser(web) as b:
        admin_csrf = await login_session(b, "root")
        async with b.post(f"/console/tickets/{t}/close", data={"csrf": admin_csrf}, allow_redirects=False) as resp:
            assert resp.status == 303
    assert (await services.tickets.get(t)).ticket.status == "closed"
    assert await act("reopen") == 303
    assert (await services.tickets.get(t)).ticket.status == "open"


async def test_domain_errors_become_a_flash_and_an_http_status(services, web, accounts):
    t = await ticket(services)
    csrf = await login(web, "alice")
    async with other_browser(web) as b:
        admin_csrf = await login_session(b, "root")
        async with b.post(f"/console/tickets/{t}/claim", data={"csrf": admin_csrf}, allow_redirects=False) as resp:
            assert resp.status == 303
    resp = await web.post(f"/console/tickets/{t}/claim", data={"csrf": csrf})
    assert resp.status == 409
    body = await resp.text()
    assert "already claimed by Admin" in body and "Traceback" not in body
    resp = await web.post(f"/console/tickets/{t}/reopen", data={"csrf": csrf})
    assert resp.status == 409 and "is not closed" in await resp.text()
    resp = await web.post(f"/console/tickets/{t}/reply", data={"csrf": csrf, "text": "   "})
    assert resp.status == 409
    resp = await web.post(f"/console/tickets/{t}/transfer", data={"csrf": csrf, "to": "nobody"})
    assert resp.status == 409
    resp = await web.post("/console/tickets/9999/claim", data={"csrf": csrf})
    assert resp.status == 404
    assert (await web.get("/console/tickets/9999")).status == 404
    resp = await web.post(f"/console/tickets/{t}/explode", data={"csrf": csrf})
    assert resp.status == 404


async def test_queue_views_and_search(services, web, accounts):
    staff, _ = accounts
    mine = await ticket(services, "费减备案怎么做", visitor="a")
    other = await ticket(services, "商标和专利有什么区别", visitor="b")
    await services.tickets.claim(mine, staff.id)
    await login(web, "alice")

    async def ids(query: str) -> set[int]:
        body = await (await web.get("/console/queue/rows" + query)).text()
        return {int(x) for x in re.findall(r'data-ticket="(\d+)"', body)}

    assert await ids("?view=all") == {mine, other}
    assert await ids("?view=mine") == {mine}
    assert await ids("?view=unclaimed") == {other}
    assert await ids("?q=商标") == {other}
    assert await ids("?q=%25") == set()  # a LIKE wildcard is searched as text
    await services.tickets.close(other, staff.id)
    assert await ids("?view=all") == {mine}
    assert await ids("?view=all&closed=1") == {mine, other}


async def test_a_hundred_concurrent_console_clients(services, web, accounts):
    for i in range(20):
        await ticket(services, f"问题 {i}", visitor=f"v{i}")
    await login(web, "alice")
    responses = await asyncio.gather(*(web.get("/console") for _ in range(100)))
    assert [r.status for r in responses] == [200] * 100
    bodies = await asyncio.gather(*(r.text() for r in responses))
    assert all(body.count("data-ticket=") == 20 for body in bodies)


async def test_faq_draft_renders_yaml_and_saves_under_the_data_dir(services, web, accounts):
    import yaml

    t = await ticket(services, "How long does a design patent last?")
    csrf = await login(web, "alice")
    await web.post(f"/console/tickets/{t}/reply", data={"csrf": csrf, "text": "15 years from filing."})
    page = await web.get(f"/console/tickets/{t}/draft")
    text = CSRF.sub("", await page.text())
    draft = __import__("html").unescape(text.split('spellcheck="false">', 1)[1].split("</textarea>", 1)[0])
    parsed = yaml.safe_load(draft)
    entry = parsed["entries"][0]
    assert entry["zh"]["question"] == "How long does a design patent last?"
    assert entry["zh"]["answer"] == "15 years from filing."
    resp = await web.post(f"/console/tickets/{t}/draft", data={"csrf": csrf, "yaml": draft}, allow_redirects=False)
    assert resp.status == 303
    saved = services.settings.data_path / "faq_drafts" / f"ticket-{t}.yaml"
    assert yaml.safe_load(saved.read_text(encoding="utf-8")) == parsed
    resp = await web.post(f"/console/tickets/{t}/draft", data={"csrf": csrf, "yaml": "a: [unclosed"})
    assert resp.status == 400 and "Not a valid FAQ file" in await resp.text()


async def test_login_never_redirects_off_the_console(services, web, accounts):
    for target, expected in (("//evil.example/x", "/console"), ("https://evil.example/", "/console"),
                             ("/console/tickets/1", "/console/tickets/1"), ("/\\evil.example", "/console")):
        web.session.cookie_jar.clear()
        page = await web.get("/console/login", params={"next": target})
        text = await page.text()
        token = CSRF.search(text).group(1)
        nxt = re.search(r'name="next" value="([^"]*)"', text).group(1)
        resp = await web.post("/console/login", data={"csrf": token, "username": "alice", "password": PASSWORD, "next": nxt},
                              allow_redirects=False)
        assert resp.headers["Location"] == expected, target


async def test_a_removed_account_loses_its_session_at_once(services, web, accounts):
    from bot.staff_accounts import remove_staff

    await login(web, "alice")
    await remove_staff(services.sessions, "alice")
    assert (await web.get("/console", allow_redirects=False)).status == 303


async def test_the_console_stream_hints_which_ticket_changed(services, web, accounts):
    staff, _ = accounts
    t = await ticket(services, "秘密内容 secret text")
    await login(web, "alice")
    stream = await web.get("/console/events")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    await stream.content.readuntil(b"\n\n")
    await services.tickets.claim(t, staff.id)
    hint = await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 10)
    stream.close()
    assert hint.startswith(b"event: update") and b'"ticket_id": %d' % t in hint
    assert "秘密".encode() not in hint and b"secret" not in hint  # hints carry no user text


async def test_sql_metacharacters_are_stored_and_shown_as_typed(services, web, accounts):
    typed = "'; DROP TABLE tickets; -- 50% off_\\ \"quoted\""
    t = await ticket(services, typed)
    await login(web, "alice")
    body = await (await web.get(f"/console/tickets/{t}")).text()
    assert str(escape(typed)) in body
    rows = await (await web.get("/console/queue/rows", params={"q": "DROP TABLE"})).text()
    assert f'data-ticket="{t}"' in rows
    assert (await services.tickets.get(t)).ticket.question == typed
