"""Greetings before a question and thanks after it: the matcher scores the question without them.

Users wrap questions in small talk ("您好，请问……", "hi, …", "……，谢谢"). Those words are the
phrasings of the FAQ's greeting and thanks entries, so a wrapped question shared them with the wrong
entry and had a lower raw similarity with the right one: on 384 in-scope development questions,
"您好，请问" in front cost 20 % of the right answers and "在吗？ … ，谢谢了" 26 % (docs/matcher.md,
"Round 8"). Stripping them from every question changed nothing on the unwrapped ones.

Only the edges are stripped, and only these words: a plain list, not a model, because what people
say to open and close a chat is a short, closed set and must not eat a question's content. The
words are normalised like questions (`normalize`), so full-width and traditional forms match too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.faq.normalize import normalize, words_pattern

# Chinese ones match whatever follows or precedes them (no spaces in Chinese); Latin ones only as whole
# words ("hi" must not eat "hiring").
OPENERS = (
    "你好", "您好", "你们好", "在吗", "在不在", "哈喽", "嗨", "早上好", "上午好", "下午好", "晚上好",
    "请问", "请问一下", "请问下", "我想问一下", "我想问下", "想问一下", "想问下", "问一下",
    "hi", "hello", "hey", "hi there", "hello there", "hey there", "good morning", "good afternoon", "good evening",
)
CLOSERS = (
    "谢谢", "谢谢了", "谢谢你", "谢谢您", "多谢", "感谢", "谢啦",
    "thanks", "thank you", "thanks a lot", "many thanks", "thx",
)


def _pattern(words: Iterable[str]) -> str:
    return words_pattern({normalize(w) for w in words})


class SmallTalk:
    """Strips opening greetings and closing thanks from a normalised question."""

    def __init__(self, openers: Iterable[str] = OPENERS, closers: Iterable[str] = CLOSERS):
        self._lead = re.compile(rf"^(?:(?:{_pattern(openers)})\s*)+")
        self._tail = re.compile(rf"(?:\s*(?:{_pattern(closers)}))+$")

    def strip(self, normalized: str) -> str:
        """The question without its small talk; the text itself when it is nothing but small talk."""
        core = self._tail.sub("", self._lead.sub("", normalized)).strip()
        return core or normalized
