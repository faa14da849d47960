"""The project's own labelled patent questions (tests/data/patent_questions.jsonl), scored on the shipped FAQ.

The file is a held-out set: questions written the way SME owners type in a chat (short
keywords, colloquial, typos, 小专利/费减/PCT/UM, traditional characters, mixed Chinese and
English, long messages with context), none of them a copy of an FAQ title or phrasing.
`expected` is the entry that answers the question, or null when no entry does (unrelated
requests, and near-domain questions such as EPO or Japanese fees that the FAQ does not cover).
On 2026-11-21 (round 5) the file was enlarged from 329 to 493 questions: 164 new ones written
the same way (90 Chinese, 74 English by detect_lang; 16 of them out of scope), covering 127 entries.

The floors below are a few points under what the matcher scored when the file was written
(default MatchSettings, matcher of commit 62a0ba4, 2026-11-21): in-scope accuracy 53.2 %,
top-1 89.6 %, wrong-answer rate 0.6 % (2 of 329, both out of scope), out-of-scope recall
81.2 %, 2 of 32 out-of-scope questions answered. Raise them when the matcher improves; a drop
below them is a regression to look at, not to paper over. Do not tune the matcher on this
file: it is the held-out check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.faq.evaluate import read_queries, run, summarize
from bot.faq.normalize import detect_lang

QUESTIONS = Path(__file__).resolve().parent / "data" / "patent_questions.jsonl"

# Measured after round 12 on the 493-question file and the FAQ of commit 239034e (round 5, in brackets). The floors
# leave room for FAQ edits; a drop below them means a change lost what rounds 8-12 gained (docs/matcher.md).
IN_SCOPE_ACCURACY_FLOOR = 0.88   # measured 0.949 (0.863); held-out half 0.910, dev half 0.991
TOP1_ACCURACY_FLOOR = 0.96       # measured 0.980 (0.967)
WRONG_ANSWER_CEILING = 0.015     # measured 0.010, 5 of 493, all on the held-out half (0.010, 5 of 493)
OOS_RECALL_FLOOR = 0.90          # measured 0.927 (0.951)

# Out-of-scope questions the matcher is known to answer confidently (none now). Questions about
# other countries' offices were null until faq/out_of_scope.yaml gained out-of-scope-foreign-offices,
# the referral entry that answers them; they are labelled with it since.
KNOWN_OOS_ANSWERED: set[str] = set()


@pytest.fixture(scope="module")
def faq(shipped_matcher):
    return shipped_matcher.faq  # the shipped FAQ, loaded once for the session's matcher


@pytest.fixture(scope="module")
def queries():
    return read_queries(QUESTIONS)


@pytest.fixture(scope="module")
def scored(faq, queries, shipped_matcher):
    decisions, times = run(shipped_matcher, queries)
    report = summarize(queries, decisions, times, {e.id for e in faq.entries})
    return decisions, report


# ---- the file itself

def test_file_is_well_formed_jsonl():
    lines = [line for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) >= 150
    for n, line in enumerate(lines, 1):
        obj = json.loads(line)
        assert set(obj) == {"text", "expected"}, f"line {n}"
        assert isinstance(obj["text"], str) and obj["text"].strip(), f"line {n}"
        assert obj["expected"] is None or isinstance(obj["expected"], str), f"line {n}"


def test_both_languages_and_no_duplicates(queries):
    langs = [detect_lang(q.text) for q in queries]
    zh, en = langs.count("zh"), langs.count("en")
    assert zh >= 0.35 * len(queries) and en >= 0.35 * len(queries), (zh, en)
    assert any(re.search(r"[A-Za-z]{2,}", q.text) and re.search(r"[\u4e00-\u9fff]", q.text) for q in queries)  # mixed
    norm = [re.sub(r"[\W_]+", "", q.text.lower()) for q in queries]
    assert len(set(norm)) == len(norm)


def test_covers_the_faq(faq, queries):
    ids = {e.id for e in faq.entries}
    expected = [q.expected for q in queries if q.expected is not None]
    assert not sorted(set(expected) - ids), "expected ids missing from the FAQ"
    assert len(set(expected)) >= 100
    assert {e.topic for e in faq.entries if e.id in set(expected)} == {e.topic for e in faq.entries}
    assert any(faq.get(i).handoff for i in expected)
    nulls = sum(q.expected is None for q in queries)
    assert 20 <= nulls <= 0.2 * len(queries)


def test_held_out_from_the_faq_phrasings(faq, queries):
    """No question is an FAQ title or phrasing (after lowercasing and dropping punctuation)."""
    def key(s: str) -> str:
        return re.sub(r"[\W_]+", "", s.lower())

    written = {key(p) for e in faq.entries for t in e.texts.values() for p in t.all_questions}
    copied = [q.text for q in queries if key(q.text) in written]
    assert not copied


# ---- the matcher on it

def test_in_scope_accuracy_floor(scored):
    _, r = scored
    assert r.unknown_expected == ()
    assert r.in_scope_accuracy >= IN_SCOPE_ACCURACY_FLOOR, r.to_json()
    assert r.top1_accuracy >= TOP1_ACCURACY_FLOOR, r.to_json()


def test_wrong_answer_ceiling(scored):
    _, r = scored
    assert r.wrong_answer_rate <= WRONG_ANSWER_CEILING, r.to_json()


def test_out_of_scope_not_answered(queries, scored):
    decisions, r = scored
    answered = {q.text for q, d in zip(queries, decisions, strict=True)
                if q.expected is None and d.action == "answer"}
    new = answered - KNOWN_OOS_ANSWERED
    assert not new, f"out-of-scope questions answered confidently: {sorted(new)}"
    assert len(answered) <= len(KNOWN_OOS_ANSWERED)
    assert r.oos_recall >= OOS_RECALL_FLOOR, r.to_json()


# ---- everyday requests that share a verb with an entry

@pytest.mark.parametrize("text", [
    "帮我写个年终总结", "帮我写一份简历", "帮我写一首诗", "帮我写一封邮件", "帮我写一篇文章", "帮我写个年会主持稿",
    "help me write a cover letter", "write a poem about spring", "help me write an email to a customer",
])
def test_a_writing_request_that_is_not_a_patent_filing_is_not_answered(shipped_matcher, text):
    """handoff-draft-claims is the one entry whose phrasings say 帮我写; a phrasing that ends in a bare 帮我写 made
    any "help me write …" request look like it (round 8)."""
    assert shipped_matcher.decide(text).action != "answer"


@pytest.mark.parametrize("text", ["帮我写权利要求", "能帮我写个实用新型的申请吗", "can you draft my patent claims"])
def test_a_drafting_request_goes_to_the_drafting_handoff(shipped_matcher, text):
    d = shipped_matcher.decide(text)
    assert (d.action, d.entry_id) == ("answer", "handoff-draft-claims")


# ---- the questions everyone asks

CORE = Path(__file__).resolve().parent / "data" / "core_questions.jsonl"


def test_the_questions_everyone_asks_are_answered(shipped_matcher):
    """48 plain questions on the commonest topics, written in session 4 as a guard, not a benchmark: the
    referral entry for foreign offices once took "实用新型保护多少年" because its phrasings asked the same about
    Korea and Japan (docs/matcher.md, "Round 12"). Every one must have its entry first; at most two may be
    offered as a choice instead of answered."""
    queries = read_queries(CORE)
    decisions = [shipped_matcher.decide(q.text) for q in queries]
    not_first = [q.text for q, d in zip(queries, decisions, strict=True) if d.suggestions[0].entry_id != q.expected]
    wrong = [(q.text, d.entry_id) for q, d in zip(queries, decisions, strict=True)
             if d.action == "answer" and d.entry_id != q.expected]
    unanswered = [q.text for q, d in zip(queries, decisions, strict=True) if d.action != "answer"]
    assert not_first == [] and wrong == []
    assert len(unanswered) <= 2, unanswered
