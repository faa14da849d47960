"""Every response gets the security headers; unexpected errors become a plain page, never a traceback."""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from bot.errors import AlreadyClaimed, Forbidden, HelpdeskError, InvalidState, NotFound
from bot.web.i18n import LANG_COOKIE, LANGS, pick_lang
from bot.web.keys import LANG
from bot.web.pages import render

log = logging.getLogger(__name__)

# Scripts and styles only from our own /static/ files: no inline script can run, even if escaping failed.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
DOMAIN_STATUS = {NotFound: 404, Forbidden: 403, InvalidState: 409, AlreadyClaimed: 409}


def domain_status(exc: HelpdeskError) -> int:
    return next((code for cls, code in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)


@web.middleware
async def security(request: web.Request, handler) -> web.StreamResponse:
    """Pick the page language, run the view, add the headers; hide internals of any failure."""
    request[LANG] = pick_lang(request)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:  # redirects
            exc.headers.update(HEADERS)
            raise
        if (exc.text or "").startswith("{"):
            response = web.Response(status=exc.status, text=exc.text, content_type="application/json")
        else:
            response = _error_page(request, exc.status, exc.reason)
    except HelpdeskError as exc:  # a view forgot to catch a domain error: still a short answer
        response = _error_page(request, domain_status(exc), str(exc))
    except (SQLAlchemyTimeoutError, OperationalError, InterfaceError, OSError) as exc:
        # The database is away or saturated: one request is one transaction, so a retry is safe.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, type(exc).__name__)
        response = _error_page(request, 503, "The service is busy or its database is unavailable. "
                                             "Please try again in a moment.")
        response.headers["Retry-After"] = "5"
    except Exception:
        # The log gets the traceback (no request body, so no password); the visitor gets one sentence.
        log.exception("unhandled error on %s %s", request.method, request.path)
        response = _error_page(request, 500, "Internal error; it has been logged.")
    if not response.prepared:
        response.headers.update(HEADERS)
        if request.query.get("lang") in LANGS:
            response.set_cookie(LANG_COOKIE, request.query["lang"], max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"error": message}, status=status)
    response = render("error.html", request, {"status": status, "message": message}, status=status)
    return response
