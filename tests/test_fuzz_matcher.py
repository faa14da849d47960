"""Property-based: normalisation and matching never crash on any Unicode, and always decide within the bands."""

from __future__ import annotations

import pytest
from conftest import SAMPLE_FAQ
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.faq.loader import load_faq
from bot.faq.matcher import Matcher, MatchSettings
from bot.faq.normalize import detect_lang, normalize

# Any code point but lone surrogates (they cannot arrive as text from Telegram or the browser),
# with the awkward ones made likely: control characters, right-to-left marks and scripts, emoji,
# combining marks, full-width forms, CJK and zero-width joiners.
AWKWARD = st.sampled_from(["\u202e", "\u200f", "\u200d", "\x00", "\x1b", "\ufeff", "ﬁ", "Ａ", "１", "專利",
                           "ב", "ع", "👨‍👩‍👧", "🏳️‍🌈", "\u0301", "\n", "\t", " ", "？", "！"])
TEXT = st.lists(st.one_of(st.characters(blacklist_categories=("Cs",)), AWKWARD), max_size=300).map("".join)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher.build(load_faq(SAMPLE_FAQ), MatchSettings())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_normalise_is_total_and_idempotent(text):
    once = normalize(text)
    assert isinstance(once, str)
    assert normalize(once) == once
    assert detect_lang(text) in ("zh", "en")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT, lang=st.sampled_from([None, "zh", "en"]))
def test_decide_never_crashes_and_stays_in_its_bands(matcher, text, lang):
    decision = matcher.decide(text, lang=lang)
    assert decision.action in ("answer", "suggest", "escalate")
    assert 0 <= decision.score <= 100
    assert (decision.entry_id is not None) == (decision.action == "answer") == (decision.answer is not None)
    assert decision.lang in ("zh", "en")
    assert list(decision.to_json()) == ["query", "lang", "action", "entry_id", "score", "answer", "suggestions"]


@pytest.mark.parametrize("text", ["", " ", "\x00" * 10, "🙂" * 5000, "专" * 200_000, "patent " * 50_000,
                                  "\u202e" + "fee reduction" + "\u202c", "Ｆｅｅ ｒｅｄｕｃｔｉｏｎ", "費減條件"])
def test_edge_inputs(matcher, text):
    decision = matcher.decide(text)
    assert decision.action in ("answer", "suggest", "escalate")


def test_full_width_and_traditional_find_the_same_entry(matcher):
    assert matcher.decide("費減條件").suggestions[0].entry_id == matcher.decide("费减条件").suggestions[0].entry_id
    plain = matcher.decide("fee reduction eligibility").suggestions[0].entry_id
    assert matcher.decide("Ｆｅｅ ｒｅｄｕｃｔｉｏｎ ｅｌｉｇｉｂｉｌｉｔｙ").suggestions[0].entry_id == plain
