"""Members of the staff group as staff (`telegram.staff_group_members`), checked with getChatMember.

Telegram tells the bot nothing when someone leaves a group, so membership is asked for and kept
for a few minutes only: a person removed from the group loses the right to act within that time.
"""

from __future__ import annotations

import logging
import time

from telegram import Bot, ChatMember
from telegram.error import TelegramError

log = logging.getLogger(__name__)

_IN_GROUP = {ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER}
_MAX_REMEMBERED = 1_000


class StaffGroupMembers:
    """Answers "is this user in the staff group now?", remembering each answer for `ttl` seconds."""

    def __init__(self, bot: Bot, chat_id: int, ttl: float = 300.0) -> None:
        self.bot, self.chat_id, self.ttl = bot, chat_id, ttl
        self._answers: dict[int, tuple[float, bool]] = {}

    async def includes(self, user_id: int) -> bool:
        """True for the group's owner, administrators and members (restricted members too); False on errors."""
        now = time.monotonic()
        known = self._answers.get(user_id)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        try:
            member = await self.bot.get_chat_member(self.chat_id, user_id)
        except TelegramError as exc:  # not cached: the next press asks again
            log.warning("could not check staff group membership of %s: %s", user_id, type(exc).__name__)
            return False
        inside = member.status in _IN_GROUP or (member.status == ChatMember.RESTRICTED
                                                and bool(getattr(member, "is_member", False)))
        if len(self._answers) >= _MAX_REMEMBERED:
            self._answers.clear()
        self._answers[user_id] = (now, inside)
        return inside
