"""Console sign-in: DB-backed sessions, per-session CSRF tokens, the failed-login limit, roles.

The session cookie holds a random token; the table keeps only its SHA-256, so a copy of the
database does not let anyone in. Sessions live `web.session_hours`; logout deletes the row.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, func, select

from bot.db.models import LoginAttempt, Staff, WebSession, utcnow
from bot.services import Services
from bot.staff_accounts import verify_login
from bot.web.keys import CSRF, FORM, SERVICES, STAFF

SESSION_COOKIE = "hd_console"
LOGIN_COOKIE = "hd_login"  # a random value the login form's CSRF token is bound to
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _secure(request: web.Request) -> bool:
    return request.app[SERVICES].settings.web.public_url.startswith("https://") or request.secure


async def open_session(services: Services, staff: Staff) -> tuple[str, str]:
    """Store a new session for this account; return (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    async with services.sessions.begin() as s:
        s.add(WebSession(token_hash=_hash(token), staff_id=staff.id, csrf_token=csrf, created_at=now,
                         expires_at=now + timedelta(hours=services.settings.web.session_hours)))
        await s.execute(delete(WebSession).where(WebSession.expires_at < now))
    return token, csrf


async def session_staff(services: Services, token: str | None) -> tuple[Staff, str] | None:
    """The active account and CSRF token of a live session, or None."""
    if not token:
        return None
    async with services.sessions() as s:
        row = (await s.execute(select(Staff, WebSession.csrf_token, WebSession.expires_at)
                               .join(WebSession, WebSession.staff_id == Staff.id)
                               .where(WebSession.token_hash == _hash(token), Staff.active.is_(True)))).first()
    if row is None:
        return None
    staff, csrf, expires = row
    if expires.tzinfo is None:  # SQLite hands back naive UTC
        expires = expires.replace(tzinfo=utcnow().tzinfo)
    return (staff, csrf) if expires > utcnow() else None


async def close_session(services: Services, token: str) -> None:
    async with services.sessions.begin() as s:
        await s.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Strict", path="/",
                        secure=_secure(request), max_age=request.app[SERVICES].settings.web.session_hours * 3600)


# ---- the failed-login limit -------------------------------------------------------------------
def attempt_key(username: str, address: str | None) -> str:
    return f"{username.strip().lower()[:128]}|{address or '-'}"


async def too_many_failures(services: Services, key: str) -> bool:
    web_settings = services.settings.web
    since = utcnow() - timedelta(minutes=web_settings.login_window_minutes)
    async with services.sessions() as s:
        count = await s.scalar(select(func.count()).select_from(LoginAttempt)
                               .where(LoginAttempt.key == key, LoginAttempt.created_at >= since))
    return (count or 0) >= web_settings.login_attempts


async def record_failure(services: Services, key: str) -> None:
    """Count one failure; failures older than a day (longer than any window) are dropped on the way."""
    now = utcnow()
    horizon = now - timedelta(minutes=max(24 * 60, services.settings.web.login_window_minutes))
    async with services.sessions.begin() as s:
        s.add(LoginAttempt(key=key, created_at=now))
        await s.execute(delete(LoginAttempt).where(LoginAttempt.created_at < horizon))


async def check_login(services: Services, username: str, password: str, address: str | None) -> Staff | str | None:
    """The account on success, None for a wrong name or password, "limited" when over the limit."""
    key = attempt_key(username, address)
    if await too_many_failures(services, key):
        return "limited"
    staff = await verify_login(services.sessions, username.strip(), password)
    if staff is None:
        await record_failure(services, key)
        return None
    async with services.sessions.begin() as s:
        await s.execute(delete(LoginAttempt).where(LoginAttempt.key == key))
    return staff


# ---- CSRF -------------------------------------------------------------------------------------
def login_csrf(request: web.Request, nonce: str) -> str:
    """The login form has no session yet: its token is an HMAC of a random cookie (double submit)."""
    key = request.app[SERVICES].settings.web.secret_key.encode()
    return hmac.new(key, f"login:{nonce}".encode(), hashlib.sha256).hexdigest()


async def form_with_csrf(request: web.Request, expected: str) -> dict[str, str]:
    """Read the posted form; a missing or wrong token is 403 before anything else happens."""
    form = await request.post()
    given = form.get("csrf")
    given = given if isinstance(given, str) else request.headers.get("X-CSRF-Token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPForbidden(reason="Missing or wrong CSRF token; reload the page and try again.")
    return {k: v for k, v in form.items() if isinstance(v, str)}


# ---- the gate on every console view -----------------------------------------------------------
def require(role: str = "staff", api: bool = False) -> Callable[[Handler], Handler]:
    """Let the view run only for a signed-in account with `role` (admin passes every gate).

    Without a session: pages redirect to the login page, APIs and streams answer 401.
    A POST must carry the session's CSRF token (checked here, before the view reads anything).
    """

    def wrap(view: Handler) -> Handler:
        @functools.wraps(view)
        async def gated(request: web.Request) -> web.StreamResponse:
            found = await session_staff(request.app[SERVICES], request.cookies.get(SESSION_COOKIE))
            if found is None:
                if api or request.method != "GET":
                    raise web.HTTPUnauthorized(reason="Not signed in.")
                raise web.HTTPSeeOther("/console/login?next=" + _quote(request.path_qs))
            staff, csrf = found
            if role == "admin" and staff.role != "admin":
                raise web.HTTPForbidden(reason="This page is for administrators.")
            request[STAFF], request[CSRF] = staff, csrf
            if request.method == "POST":
                request[FORM] = await form_with_csrf(request, csrf)
            return await view(request)

        return gated

    return wrap


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
