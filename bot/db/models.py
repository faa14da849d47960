"""The schema. Changes go through Alembic migrations in `bot/db/migrations/versions/`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Ticket statuses: open -> claimed -> answered (waiting for the user) -> closed; reopen goes back to open.
OPEN, CLAIMED, ANSWERED, CLOSED = "open", "claimed", "answered", "closed"
ACTIVE_STATUSES = (OPEN, CLAIMED, ANSWERED)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}


class Staff(Base):
    """A helpdesk staff member or administrator (console account and/or Telegram user)."""

    __tablename__ = "staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="staff")  # staff | admin
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    """Someone asking questions, on one channel (a Telegram chat or a web-chat browser)."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_channel_external", "channel", "external_id", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # telegram | web
    external_id: Mapped[str] = mapped_column(String(128))  # Telegram chat id, or the web chat's visitor id
    display_name: Mapped[str] = mapped_column(String(256), default="")
    lang: Mapped[str | None] = mapped_column(String(8))  # chosen language; None: follow each message
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)  # the user blocked the bot
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class Ticket(Base):
    """One escalated conversation; a user has at most one that is not closed."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index(
            "uq_tickets_one_active_per_user", "user_id", unique=True,
            sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'"),
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8))
    question: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(32), default="no_match")  # no_match | asked | not_helpful | handoff
    guesses: Mapped[list[Any]] = mapped_column(default=list)  # [{entry_id, question, score}]
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    waiting_since: Mapped[datetime] = mapped_column(default=utcnow)  # when the ball went to staff's side
    reminder_level: Mapped[int] = mapped_column(Integer, default=0)  # reminders already sent in this wait
    delivery_failed: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None]


class Message(Base):
    """Every message in both directions, with who sent it; notes are internal and never shown to users."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_ticket", "ticket_id", "id"), Index("ix_messages_user", "user_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # in | out | internal
    sender: Mapped[str] = mapped_column(String(16))  # user | bot | staff | system
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16), default="text")  # text | note | file | answer | suggest
    text: Mapped[str] = mapped_column(Text, default="")
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Inbound(Base):
    """An accepted incoming message, stored before it is acknowledged and processed exactly once."""

    __tablename__ = "inbound"
    __table_args__ = (Index("ix_inbound_status", "status", "id"), Index("ix_inbound_order", "order_key", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)  # e.g. tg:<update_id>, web:<client id>
    order_key: Mapped[str | None] = mapped_column(String(160))  # rows with one key are processed in id order (a chat)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]


class Outbox(Base):
    """A message to deliver (to a user or to staff), retried until sent once, in order per destination."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"), Index("ix_outbox_dest", "channel", "destination", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # telegram | web
    destination: Mapped[str] = mapped_column(String(128))  # chat id / visitor id
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))  # who to tell on failure
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"text": ..., "buttons": ..., "parse_mode": ...}
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class TicketEvent(Base):
    """The audit trail of a ticket: created, claimed, released, replied, closed, reopened, transferred, reminded."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class QuestionLog(Base):
    """Every question the matcher saw and what it decided: the source of the dashboard and the unanswered report."""

    __tablename__ = "question_log"
    __table_args__ = (Index("ix_question_log_created", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))  # answer | suggest | escalate
    entry_id: Mapped[str | None] = mapped_column(String(128))
    score: Mapped[float] = mapped_column(default=0.0)
    helpful: Mapped[bool | None]
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RelayLink(Base):
    """Links a staff-side Telegram message (a ticket card or a relayed user message) to its ticket."""

    __tablename__ = "relay_links"
    __table_args__ = (Index("ix_relay_links_staff_msg", "staff_chat_id", "staff_message_id", unique=True),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    staff_chat_id: Mapped[int] = mapped_column(BigInteger)
    staff_message_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), default="card")  # card | relay | topic
    topic_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A staff console login; the cookie holds a random token, the table only its hash."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class LoginAttempt(Base):
    """Failed console logins, for the rate limit (shared by all processes)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key", "key", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(256))  # username and/or client address
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
