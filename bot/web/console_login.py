"""The console's login and logout pages."""

from __future__ import annotations

import logging
import secrets

from aiohttp import web

from bot.web.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_login,
    close_session,
    form_with_csrf,
    login_csrf,
    open_session,
    session_staff,
    set_session_cookie,
)
from bot.web.i18n import translator
from bot.web.keys import LANG, SERVICES
from bot.web.pages import render

log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Only a path inside the console: never an open redirect to another site."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _render(request: web.Request, nonce: str, error: str = "", status: int = 200) -> web.Response:
    response = render("console/login.html", request, {
        "csrf": login_csrf(request, nonce), "error": error, "next": _safe_next(request.query.get("next")),
    }, status=status)
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="Strict", path="/console")
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    """Show the login form (or go straight to the queue when already signed in)."""
    if await session_staff(request.app[SERVICES], request.cookies.get(SESSION_COOKIE)):
        raise web.HTTPSeeOther("/console")
    return _render(request, request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24))


async def login(request: web.Request) -> web.StreamResponse:
    """Check the password (argon2) under the failed-login limit; start a session."""
    services = request.app[SERVICES]
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    form = await form_with_csrf(request, login_csrf(request, nonce) if nonce else "")
    _ = translator(request[LANG])
    username, password = form.get("username", "")[:128], form.get("password", "")
    result = await check_login(services, username, password, request.remote)
    if result == "limited":
        log.warning("console login refused: too many failures for %r from %s", username, request.remote)
        minutes = services.settings.web.login_window_minutes
        return _render(request, nonce, _("too_many", minutes=minutes), status=429)
    if result is None:
        log.info("console login failed for %r from %s", username, request.remote)
        return _render(request, nonce, _("bad_login"), status=401)
    token, _csrf = await open_session(services, result)
    log.info("console login: %s", result.username)
    response = web.HTTPSeeOther(_safe_next(form.get("next")))
    set_session_cookie(request, response, token)
    response.del_cookie(LOGIN_COOKIE, path="/console")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """End the session (the row is deleted, so the cookie is worthless even if copied)."""
    token = request.cookies.get(SESSION_COOKIE)
    found = await session_staff(request.app[SERVICES], token)
    if found is None or token is None:
        raise web.HTTPSeeOther("/console/login")
    await form_with_csrf(request, found[1])
    await close_session(request.app[SERVICES], token)
    response = web.HTTPSeeOther("/console/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
