"""Hostile input against the web side: headers, oversized bodies, path traversal, secrets in logs, errors."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.web.app import build_app
from web.webtools import CSRF, PASSWORD


async def test_every_page_has_the_security_headers(services, web, accounts):
    for path in ("/", "/console/login", "/healthz", "/static/chat.js", "/no-such-page"):
        resp = await web.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp, path
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Referrer-Policy"] == "same-origin", path
    resp = await web.get("/console", allow_redirects=False)
    assert resp.status == 303 and resp.headers["X-Frame-Options"] == "DENY"


async def test_pages_have_no_inline_scripts(services, web, accounts):
    from web.webtools import login

    await login(web, "root")
    for path in ("/", "/console/login", "/console", "/console/admin/dashboard", "/console/admin/faq"):
        body = await (await web.get(path)).text()
        assert "<script>" not in body and " on" + "click=" not in body, path


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py",
                                  "/static/%2e%2e%2f%2e%2e%2fconfig.py", "/static//etc/passwd"])
async def test_static_files_cannot_escape_their_folder(services, web, path):
    resp = await web.get(path)
    assert resp.status in (403, 404), path
    assert "build_app" not in await resp.text()


async def test_oversized_bodies_are_refused_with_413(services):
    small = replace(services.settings, web=replace(services.settings.web, max_body_bytes=4096))
    client = TestClient(TestServer(build_app(replace(services, settings=small))))
    await client.start_server()
    try:
        page = await client.get("/")
        csrf = CSRF.search(await page.text()).group(1)
        resp = await client.post("/api/chat/ask", json={"text": "x" * 10_000}, headers={"X-CSRF-Token": csrf})
        assert resp.status == 413
        login = await client.get("/console/login")
        token = CSRF.search(await login.text()).group(1)
        resp = await client.post("/console/login", data={"csrf": token, "username": "a", "password": "p" * 10_000})
        assert resp.status == 413
        assert "Traceback" not in await resp.text()
    finally:
        await client.close()


async def test_a_failed_login_never_logs_the_password(services, web, accounts, caplog):
    secret = "Hunter2-very-secret-pw"
    caplog.set_level(logging.DEBUG)
    page = await web.get("/console/login")
    token = CSRF.search(await page.text()).group(1)
    for username in ("alice", "nobody"):
        resp = await web.post("/console/login", data={"csrf": token, "username": username, "password": secret})
        assert resp.status == 401
        assert secret not in await resp.text()
    resp = await web.post("/console/login", data={"csrf": token, "username": "alice", "password": PASSWORD},
                          allow_redirects=False)
    assert resp.status == 303
    assert "console login failed" in caplog.text  # the failure is logged ...
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert secret not in logged and PASSWORD not in logged  # ... without the password
    assert services.settings.web.secret_key not in logged


async def test_an_internal_error_shows_no_traceback_or_secret(services, web, caplog, monkeypatch):
    async def boom(*args, **kwargs):
        raise RuntimeError("secret internals " + services.settings.web.secret_key)

    monkeypatch.setattr(services.conversation, "ask", boom)
    page = await web.get("/")
    csrf = CSRF.search(await page.text()).group(1)
    resp = await web.post("/api/chat/ask", json={"text": "hi"}, headers={"X-CSRF-Token": csrf})
    assert resp.status == 500
    body = await resp.text()
    assert "Traceback" not in body and "secret internals" not in body and services.settings.web.secret_key not in body
    assert "Internal error" in body
