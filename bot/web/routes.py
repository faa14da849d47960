"""The one routing table of the web application."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.web import admin, chat, console, console_login, health

STATIC = Path(__file__).resolve().parent / "static"


def setup_routes(app: web.Application) -> None:
    add = app.router
    # SME web chat
    add.add_get("/", chat.page, name="chat")
    add.add_post("/api/chat/ask", chat.ask, name="chat-ask")
    add.add_post("/api/chat/choose", chat.choose, name="chat-choose")
    add.add_post("/api/chat/human", chat.human, name="chat-human")
    add.add_post("/api/chat/feedback", chat.feedback, name="chat-feedback")
    add.add_post("/api/chat/status", chat.status, name="chat-status")
    add.add_post("/api/chat/withdraw", chat.withdraw, name="chat-withdraw")
    add.add_post("/api/chat/forget", chat.forget, name="chat-forget")
    add.add_get("/api/chat/messages", chat.messages, name="chat-messages")
    add.add_get("/api/chat/events", chat.events, name="chat-events")
    # Staff console
    add.add_get("/console/login", console_login.login_page, name="login")
    add.add_post("/console/login", console_login.login, name="login-post")
    add.add_post("/console/logout", console_login.logout, name="logout")
    add.add_get("/console", console.queue, name="queue")
    add.add_get("/console/queue/rows", console.queue_rows, name="queue-rows")
    add.add_get("/console/events", console.events, name="console-events")
    add.add_get(r"/console/tickets/{ticket_id:\d+}", console.ticket_page, name="ticket")
    add.add_get(r"/console/tickets/{ticket_id:\d+}/conversation", console.ticket_conversation, name="ticket-conversation")
    add.add_get(r"/console/tickets/{ticket_id:\d+}/draft", admin.draft_page, name="draft")
    add.add_post(r"/console/tickets/{ticket_id:\d+}/draft", admin.draft_save, name="draft-save")
    add.add_post(r"/console/tickets/{ticket_id:\d+}/{action:[a-z]+}", console.ticket_action, name="ticket-action")
    # Admin pages
    add.add_get("/console/admin/faq", admin.faq_status, name="faq")
    add.add_post("/console/admin/faq/reload", admin.faq_reload, name="faq-reload")
    add.add_get("/console/admin/unanswered", admin.unanswered, name="unanswered")
    add.add_get("/console/admin/dashboard", admin.dashboard, name="dashboard")
    # Operations
    add.add_get("/healthz", health.healthz, name="healthz")
    add.add_get("/metrics", health.metrics, name="metrics")
    add.add_static("/static/", STATIC, name="static", follow_symlinks=False)
