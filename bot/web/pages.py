"""Render a template with what every page uses: the words in the page language, the account, its CSRF token.

Done at render time (not in a context-processor middleware), because the account is only
known after the view's `auth.require` gate has run.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.web.i18n import translator
from bot.web.keys import CSRF, LANG, STAFF


def render(template: str, request: web.Request, context: dict, status: int = 200) -> web.Response:
    lang = request.get(LANG, "zh")
    common = {"_": translator(lang), "lang": lang, "me": request.get(STAFF), "csrf": request.get(CSRF, ""),
              "path": request.path, "query_string": request.query_string}
    return aiohttp_jinja2.render_template(template, request, {**common, **context}, status=status)
