"""The matcher's decisions: each band, margins and ties, cross-language, robustness."""


import numpy as np
import pytest

from bot.faq.matcher import Decision, Matcher, MatchSettings
from bot.faq.model import Entry, Faq, LangText

# The fixtures `faq` (tests/fixtures/matcher/faq) and `matcher` come from conftest.py.


def entry(id_, en=None, zh=None, handoff=False):
    texts = {}
    if zh:
        texts["zh"] = LangText(zh[0], f"{id_} 的回答", tuple(zh[1:]))
    if en:
        texts["en"] = LangText(en[0], f"answer of {id_}", tuple(en[1:]))
    return Entry(id=id_, texts=texts, handoff=handoff)


def test_exact_phrasing_is_answered(matcher):
    d = matcher.decide("发明专利的申请费用是多少")
    assert (d.action, d.entry_id, d.lang) == ("answer", "fee_invention", "zh")
    assert d.answer.startswith("发明专利的申请费")
    assert d.suggestions[0].entry_id == "fee_invention"
    assert d.score >= matcher.settings.answer_threshold


def test_middle_band_suggests(faq):
    m = Matcher.build(faq, MatchSettings(answer_threshold=100, suggest_threshold=10, margin=0))
    d = m.decide("invention patent fee")
    assert d.action == "suggest" and d.entry_id is None and d.answer is None
    assert d.suggestions[0].entry_id == "fee_invention"
    assert len(d.suggestions) == 3


def test_low_score_escalates(matcher):
    d = matcher.decide("what is the weather in beijing tomorrow")
    assert d.action == "escalate" and d.entry_id is None and d.answer is None
    assert d.score < matcher.settings.suggest_threshold
    assert len(d.suggestions) == 3  # staff still see the top guesses


def test_margin_turns_a_close_call_into_suggest(faq):
    loose = Matcher.build(faq, MatchSettings(answer_threshold=10, suggest_threshold=5, margin=0))
    strict = Matcher.build(faq, MatchSettings(answer_threshold=10, suggest_threshold=5, margin=99))
    assert loose.decide("patent fee").action == "answer"
    d = strict.decide("patent fee")
    assert d.action == "suggest"
    assert d.score - d.suggestions[1].score < 99


def test_tie_is_never_answered_and_keeps_faq_order():
    faq = Faq(entries=(entry("a", en=["how do i renew my licence"]), entry("b", en=["how do i renew my licence"])))
    m = Matcher.build(faq, MatchSettings(answer_threshold=1, suggest_threshold=1, margin=0.5))
    d = m.decide("how do i renew my licence")
    assert d.action == "suggest"
    assert [s.entry_id for s in d.suggestions] == ["a", "b"]
    assert d.suggestions[0].score == d.suggestions[1].score


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("how long until my invention is granted", "en", "exam_duration"),
        ("PCT国际申请", "zh", "pct_filing"),
        ("小专利的费用", "zh", "fee_utility"),
    ],
)
def test_finds_entries(matcher, text, lang, expected):
    d = matcher.decide(text)
    assert d.lang == lang
    assert d.suggestions[0].entry_id == expected


def test_cross_language_english_question_chinese_entry():
    """An English question finds an entry whose phrasings are all Chinese, through the bilingual synonyms."""
    faq = Faq(
        entries=(
            entry("fee", zh=["发明专利申请费用是多少", "发明专利要交多少费用"], en=["Invention fees"]),
            entry("duration", zh=["审查需要多长时间", "多久能授权"], en=["Examination time"]),
        ),
        synonyms=(("费用", "fee", "fees", "cost"), ("发明", "invention"), ("专利", "patent")),
    )
    m = Matcher.build(faq)
    d = m.decide("what is the cost of an invention patent")
    assert d.lang == "en"
    assert d.suggestions[0].entry_id == "fee"
    d = m.decide("发明专利的费用", lang="en")  # the user chose English: the answer comes in English
    assert d.suggestions[0].entry_id == "fee"
    assert d.lang == "en"
    assert d.suggestions[0].question == "Invention fees"


def test_cross_language_chinese_question_english_entry(matcher):
    faq = Faq(
        entries=(entry("reduction", en=["fee reduction for small companies", "how to reduce patent fees"]),
                 entry("abroad", en=["filing a patent abroad", "patent in other countries"])),
        synonyms=(("专利", "patent"), ("费用", "fee", "fees"), ("减缴", "reduction", "reduce"), ("国外", "abroad")),
    )
    m = Matcher.build(faq)
    d = m.decide("专利费用减缴")
    assert d.lang == "zh" and d.suggestions[0].entry_id == "reduction"
    assert d.suggestions[0].question == "fee reduction for small companies"  # falls back to the language the entry has


def test_answer_in_the_users_language(matcher):
    d = matcher.decide("发明专利的申请费用是多少", lang="en")
    assert d.action == "answer" and d.lang == "en"
    assert d.answer.startswith("The filing fee for an invention patent")


def test_handoff_entries_are_matched_like_any_other(matcher):
    d = matcher.decide("别人抄袭我的专利")
    assert d.action == "answer" and d.entry_id == "infringement_help"


ODD = ["", "   ", "😀🎉👍", "?!。，", "a" * 100_000, "专利" * 20_000, "\x00\ufeff\u200b", "ｐａｔｅｎｔ"]


@pytest.mark.parametrize("text", ODD)
def test_odd_input_never_crashes(matcher, text):
    d = matcher.decide(text)
    assert isinstance(d, Decision)
    assert 0 <= d.score <= 100
    assert d.action in ("answer", "suggest", "escalate")
    assert (d.entry_id is not None) == (d.action == "answer")


def test_scores_are_on_the_0_100_scale_and_sorted(matcher):
    d = matcher.decide("patent fee reduction")
    scores = [s.score for s in d.suggestions]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 100 for s in scores)
    assert d.score == scores[0]


def test_empty_faq_escalates():
    m = Matcher.build(Faq(entries=()))
    d = m.decide("anything")
    assert d.action == "escalate" and d.suggestions == ()


@pytest.mark.parametrize(
    "kwargs",
    [dict(answer_threshold=30, suggest_threshold=50), dict(answer_threshold=101), dict(suggest_threshold=-1),
     dict(margin=-1), dict(suggestions=0), dict(neighbours=0), dict(fuzzy_weight=2), dict(rerank=0)],
)
def test_settings_are_validated(kwargs):
    with pytest.raises(ValueError):
        MatchSettings(**kwargs)


def test_one_language_entries_fall_back():
    faq = Faq(entries=(entry("only_en", en=["how to renew a trademark"]),))
    d = Matcher.build(faq).decide("how to renew a trademark", lang="zh")
    assert d.action == "answer" and d.answer == "answer of only_en"


def test_candidate_pruning_keeps_the_ranking(faq, monkeypatch):
    """Phrasing cosines for a few candidate entries only (round 7) rank the re-scored entries like all entries do."""
    from bot.faq import matcher as matcher_module

    monkeypatch.setattr(matcher_module, "PRUNE_MIN_PHRASINGS", 0)
    monkeypatch.setattr(matcher_module, "CANDIDATES", 1)  # at least `rerank`
    pruned = Matcher.build(faq, MatchSettings(rerank=4, suggestions=3))
    monkeypatch.setattr(matcher_module, "PRUNE_MIN_PHRASINGS", 10**9)
    unpruned = Matcher.build(faq, MatchSettings(rerank=4, suggestions=3))
    assert len(faq.entries) > 4  # so the pruning does prune
    for text in ("how much is the patent fee", "专利费多少钱", "how long does protection last", "trademark renewal"):
        a, b = pruned.scores(text), unpruned.scores(text)
        assert [g for g, _ in a] == [g for g, _ in b]
        np.testing.assert_allclose([r for _, r in a], [r for _, r in b], atol=1e-6)


def test_question_features_are_capped_for_phrasing_cosines(monkeypatch):
    """A long question's phrasing cosines use its heaviest features only; they still count in its norm."""
    from bot.faq import index as index_module
    from bot.faq.index import TfidfIndex
    from bot.faq.normalize import features, normalize

    texts = ["patent fee amount", "utility model term", "the fee of the patent office"]
    index = TfidfIndex([features(normalize(t)) for t in texts], np.array([0, 1, 1], dtype=np.int32), 2)
    ids, w = index.vector(features(normalize("the patent fee of the office and the term")))
    full = index.doc_scores(ids, w)
    monkeypatch.setattr(index_module, "MAX_QUERY_FEATURES", 3)
    capped = index.doc_scores(ids, w)
    keep = np.argsort(-w)[:3]
    manual = index.doc_scores(ids[np.sort(keep)], w[np.sort(keep)])
    np.testing.assert_allclose(capped, manual)
    assert np.all(capped <= full + 1e-12) and not np.allclose(capped, full)
