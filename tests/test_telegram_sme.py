"""Scripted conversations of an SME in a private chat, with the real Application against the fake Bot API."""

from __future__ import annotations

from fakes.bot_api import person
from fakes.harness import running
from sqlalchemy import select

from bot.db.models import QuestionLog, Ticket

USER = 4242


async def test_start_welcomes_in_chinese_and_in_english(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        h.api.say(USER, "/start", user=person(USER, "王", language_code="zh-hans"))
        zh = await h.api.wait_sent(USER, "您好")
        assert "不构成法律意见" in zh.text and "新颖性" in zh.text
        h.api.say(USER + 1, "/start junk args <b>", user=person(USER + 1, "Ann", language_code="en"))
        en = await h.api.wait_sent(USER + 1, "Hello Ann")
        assert "not legal advice" in en.text and "novelty" in en.text
        assert {c.params.get("language_code") for c in h.api.sent("setMyCommands")} == {None, "en", "zh"}


async def test_a_known_question_gets_the_answer_with_source_date_and_feedback_buttons(tmp_path, db_url):
    async with running(tmp_path, db_url) as h:
        h.api.say(USER, "小专利保护几年")
        answer = await h.api.wait_sent(USER, "10年")
        assert "https://www.cnipa.gov.cn/" in answer.text and "2026-11-01" in answer.text
        assert answer.params["parse_mode"] == "HTML"
        async with h.services.sessions() as s:
            log = (await s.scalars(select(QuestionLog))).one()
        assert ("👍", f"f:{log.id}:1") in answer.buttons() and ("👎", f"f:{log.id}:0") in answer.buttons()
        mark = h.api.mark()
        h.api.press(USER, 1, f"f:{log.id}:1")
        await h.api.wait_for(lambda c: c.method == "answerCallbackQuery" and h.api.calls.index(c) >= mark)
        async with h.services.sessions() as s:
            assert (await s.get(QuestionLog, log.id)).helpful is True
            assert (await s.scalars(select(Ticket))).first() is None
