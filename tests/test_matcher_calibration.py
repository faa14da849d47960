"""The calibrated confidence: monotone, fitted on the FAQ itself, leave-one-out done right, floors and bands."""


import numpy as np
import pytest

from bot.faq.calibration import PRIOR, Calibration, fit
from bot.faq.index import TfidfIndex
from bot.faq.matcher import Matcher, MatchSettings
from bot.faq.normalize import features, normalize

# The fixtures `faq` (tests/fixtures/matcher/faq) and `matcher` come from conftest.py.


def test_confidence_rises_with_score_and_margin():
    grid = np.linspace(0, 1, 21)
    for cal in (PRIOR, Calibration(-2.0, 0.5, 0.5)):
        by_raw = cal.confidence(grid, 0.1)
        by_margin = cal.confidence(0.4, grid)
        assert np.all(np.diff(by_raw) > 0) and np.all(np.diff(by_margin) > 0)
        assert np.all((by_raw >= 0) & (by_raw <= 100))


def test_fit_recovers_a_known_model_and_stays_monotone():
    rng = np.random.default_rng(0)
    raw, margin = rng.uniform(0, 1, 4000), rng.uniform(0, 0.5, 4000)
    truth = Calibration(-5.0, 6.0, 10.0)
    right = rng.uniform(0, 100, 4000) < truth.confidence(raw, margin)
    got = fit(raw, margin, right)
    assert got.samples == 4000 and 0 < got.heldout_top1 < 1
    assert abs(got.raw_coef - 6.0) < 1.0 and abs(got.margin_coef - 10.0) < 2.0 and abs(got.bias + 5.0) < 0.6
    # Data where a higher score is *less* often right must not give a falling confidence.
    flipped = fit(raw, margin, ~right)
    assert flipped.raw_coef > 0 and flipped.margin_coef > 0


def test_fit_on_little_or_one_sided_data_leans_on_the_prior():
    assert fit(np.array([]), np.array([]), np.array([], dtype=bool)) == PRIOR
    few = fit(np.array([0.5, 0.6, 0.7]), np.array([0.1, 0.2, 0.3]), np.array([True, True, True]))
    assert all(np.isfinite([few.bias, few.raw_coef, few.margin_coef]))
    assert abs(few.raw_coef - PRIOR.raw_coef) < 3 and few.samples == 3


def test_leave_one_out_matches_an_index_built_without_the_phrasing(matcher, faq):
    """The cheap leave-one-out scores equal (to 0.03) those of a matcher really built without the phrasing."""
    for r in range(0, len(matcher._texts), 3):
        text = matcher._texts[r]
        ids, w = matcher._index.vector(features(text))
        cheap = dict(matcher._ranked(text, ids, w, leave_out=r))
        keep = [i for i in range(len(matcher._texts)) if i != r]
        texts, groups = [matcher._texts[i] for i in keep], matcher._groups[keep]
        index = TfidfIndex([features(t) for t in texts], groups, len(faq.entries))
        real = Matcher(faq, matcher.settings, matcher._synonyms, texts, groups, index)
        ids2, w2 = index.vector(features(text))
        ranked = real._ranked(text, ids2, w2)
        assert ranked[0][0] == max(cheap, key=lambda g: (cheap[g], -g)), text
        for g, score in ranked[:3]:
            assert cheap[g] == pytest.approx(score, abs=0.03), (text, g)


def test_each_faq_is_calibrated_on_its_own_phrasings(faq, matcher):
    cal = matcher.calibration
    assert 0 < cal.samples <= len(matcher._texts) and 0 < cal.heldout_top1 <= 1
    assert cal != PRIOR
    again = Matcher.build(faq)
    assert again.calibration == cal  # seeded: the same FAQ gives the same bands
    assert Matcher.build(faq, MatchSettings(calibration_sample=0)).calibration == PRIOR


def test_calibration_holds_out_the_entries_own_questions(faq, matcher):
    """The sample is the entries' titles (one per language), never an entry's only phrasing, seeded when capped."""
    rows = matcher._calibration_rows()
    titles = {(i, matcher._synonyms.apply(normalize(t.question)))
              for i, e in enumerate(faq.entries) for t in e.texts.values()}
    assert len(rows) > 0 and matcher.calibration.samples == len(rows)
    for r in rows.tolist():
        g = int(matcher._groups[r])
        assert (g, matcher._texts[r]) in titles
        assert matcher._sizes[g] >= 2
    assert len(rows) == sum(1 for g, _ in titles if matcher._sizes[g] >= 2)
    capped = Matcher.build(faq, MatchSettings(calibration_sample=3))._calibration_rows()
    assert len(capped) == 3 and set(capped.tolist()) <= set(rows.tolist())
    assert np.array_equal(capped, Matcher.build(faq, MatchSettings(calibration_sample=3))._calibration_rows())


def test_score_is_the_calibrated_confidence(matcher):
    d = matcher.decide("how much does an invention patent cost")
    raws = dict((matcher.faq.entries[g].id, r) for g, r in matcher.scores("how much does an invention patent cost"))
    top, second = d.suggestions[0], d.suggestions[1]
    expected = matcher.calibration.confidence(raws[top.entry_id] / 100, (raws[top.entry_id] - raws[second.entry_id]) / 100)
    assert d.score == pytest.approx(float(expected), abs=0.01)
    assert d.raw == pytest.approx(raws[top.entry_id], abs=0.01)


def test_raw_floor_keeps_a_confident_guess_from_being_answered(faq):
    loose = Matcher.build(faq, MatchSettings(answer_threshold=1, suggest_threshold=1, margin=0, min_raw=0, suggest_min_raw=0))
    d = loose.decide("patent fee reduction")
    assert d.action == "answer"
    floored = Matcher.build(faq, MatchSettings(answer_threshold=1, suggest_threshold=1, margin=0, min_raw=d.raw + 1,
                                               suggest_min_raw=0))
    d2 = floored.decide("patent fee reduction")
    assert d2.action == "suggest" and d2.score == d.score


def test_below_the_suggest_floor_the_score_is_the_raw_similarity(faq):
    m = Matcher.build(faq, MatchSettings(suggest_threshold=1, suggest_min_raw=60, min_raw=60))
    d = m.decide("how do i cook rice with a patent")
    assert d.raw < 60
    assert d.action == "escalate" and d.score <= d.raw
    assert [s.score for s in d.suggestions] == sorted((s.score for s in d.suggestions), reverse=True)


def test_the_floors_follow_the_script_the_question_is_written_in(faq):
    """Chinese questions have their own raw floors (round 11): a floor of 100 for one script leaves the other alone."""
    zh, en = "小企业能减缴专利费吗", "patent fee reduction"
    zh_shut = Matcher.build(faq, MatchSettings(min_raw_zh=100, suggest_min_raw_zh=100))
    en_shut = Matcher.build(faq, MatchSettings(min_raw=100, suggest_min_raw=100))
    assert zh_shut.decide(zh).action == "escalate" and zh_shut.decide(en).action == "answer"
    assert en_shut.decide(en).action == "escalate" and en_shut.decide(zh).action == "answer"
    assert en_shut.decide(zh, "en").action == "answer"  # the language asked for the answer does not pick the floors


def test_calibration_settings_are_validated():
    with pytest.raises(ValueError):
        MatchSettings(min_raw=10, suggest_min_raw=20)
    with pytest.raises(ValueError):
        MatchSettings(min_raw_zh=10, suggest_min_raw_zh=20)
    with pytest.raises(ValueError):
        MatchSettings(min_raw_zh="24")
    with pytest.raises(ValueError):
        MatchSettings(calibration_sample=-1)
    with pytest.raises(ValueError):
        MatchSettings(min_raw=101)
