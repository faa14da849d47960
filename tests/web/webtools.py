"""Helpers for the web tests: sign in through the real forms, open a second browser."""

from __future__ import annotations

import re

from aiohttp.test_utils import TestClient

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; return the session's CSRF token (read from the queue page)."""
    page = await client.get("/console/login")
    token = CSRF.search(await page.text()).group(1)
    resp = await client.post("/console/login", data={"csrf": token, "username": username, "password": password},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    queue = await client.get("/console")
    assert queue.status == 200
    return CSRF.search(await queue.text()).group(1)


def other_browser(client: TestClient):
    """A second browser (its own cookie jar) on the same server; use as `async with other_browser(web) as b`."""
    import aiohttp

    return aiohttp.ClientSession(base_url=str(client.server.make_url("/")), cookie_jar=aiohttp.CookieJar(unsafe=True))


async def login_session(session, username: str, password: str = PASSWORD) -> str:
    """`login` for an aiohttp.ClientSession made by other_browser."""
    async with session.get("/console/login") as page:
        token = CSRF.search(await page.text()).group(1)
    async with session.post("/console/login", data={"csrf": token, "username": username, "password": password},
                            allow_redirects=False) as resp:
        assert resp.status == 303
    async with session.get("/console") as queue:
        return CSRF.search(await queue.text()).group(1)
