"""Console and Telegram staff accounts: add, list, remove, verify a password (argon2)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Staff
from bot.errors import HelpdeskError, NotFound

ROLES = ("staff", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD = 8
_hasher = PasswordHasher()
# Verifying against this keeps a failed login for an unknown name as slow as for a known one.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class AccountError(HelpdeskError):
    pass


async def add_staff(sessions: async_sessionmaker[AsyncSession], username: str, password: str | None, role: str = "staff",
                    display_name: str = "", telegram_user_id: int | None = None) -> Staff:
    """Create an account; the password is stored only as an argon2 hash."""
    if not USERNAME.match(username):
        raise AccountError("username: 2-64 letters, digits or _ . @ -")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    async with sessions.begin() as s:
        if await s.scalar(select(Staff).where(Staff.username == username)):
            raise AccountError(f"username {username!r} is taken")
        staff = Staff(username=username, display_name=display_name or username, role=role,
                      password_hash=_hasher.hash(password) if password else None, telegram_user_id=telegram_user_id)
        s.add(staff)
    return staff


async def list_staff(sessions: async_sessionmaker[AsyncSession], active_only: bool = True) -> Sequence[Staff]:
    async with sessions() as s:
        q = select(Staff).order_by(Staff.username)
        if active_only:
            q = q.where(Staff.active.is_(True))
        return (await s.scalars(q)).all()


async def remove_staff(sessions: async_sessionmaker[AsyncSession], username: str) -> None:
    """Deactivate (not delete) the account, so the tickets it handled keep their history."""
    async with sessions.begin() as s:
        staff = await s.scalar(select(Staff).where(Staff.username == username, Staff.active.is_(True)))
        if staff is None:
            raise NotFound(f"no active account {username!r}")
        staff.active = False


async def verify_login(sessions: async_sessionmaker[AsyncSession], username: str, password: str) -> Staff | None:
    """Return the account when the password is right; None otherwise (same timing either way)."""
    async with sessions() as s:
        staff = await s.scalar(select(Staff).where(Staff.username == username, Staff.active.is_(True)))
    stored = staff.password_hash if staff is not None and staff.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return staff if stored is not _DUMMY_HASH else None


async def staff_by_telegram_id(sessions: async_sessionmaker[AsyncSession], telegram_user_id: int) -> Staff | None:
    async with sessions() as s:
        return await s.scalar(select(Staff).where(Staff.telegram_user_id == telegram_user_id, Staff.active.is_(True)))
