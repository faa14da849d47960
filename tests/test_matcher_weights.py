"""A Chinese question's unknown everyday characters count little in its norm; unknown content keeps its weight."""

from __future__ import annotations

import numpy as np

from bot.faq.common_words import CommonWords, load
from bot.faq.index import TfidfIndex
from bot.faq.normalize import features, normalize

FAQ = ["专利申请费用", "商标注册流程", "实用新型专利年费", "我想申请专利"]


def _index() -> TfidfIndex:
    docs = [features(normalize(t)) for t in FAQ]
    return TfidfIndex(docs, list(range(len(docs))), len(docs))


def _known_weight(index: TfidfIndex, text: str, discount: bool) -> float:
    """The share of the question's unit vector that falls on features the FAQ knows (what the cosines see)."""
    norm = normalize(text)
    _, w = index.vector(features(norm), load().weights(norm) if discount else None)
    return float(np.sqrt(w @ w))


def test_filler_is_discounted():
    weights = load().weights(normalize("我想问一下那个专利怎么申请"))
    for feat in ("我", "想", "问", "一", "下", "那", "个", "b:我想", "b:问一", "b:一下", "b:那个", "b:怎么"):
        assert weights[feat] < 0.1, feat
    index = _index()
    before = _known_weight(index, "我想问一下专利申请费用", discount=False)
    after = _known_weight(index, "我想问一下专利申请费用", discount=True)
    assert after > before + 0.2
    assert after > 0.9  # the filler has all but left the norm


def test_unknown_content_words_keep_their_weight():
    weights = load().weights(normalize("集成电路布图设计"))
    for feat in ("b:集成", "b:电路"):  # rare words (Zipf <= 4.5): not in the discount at all
        assert feat not in weights, feat
    index = _index()
    text = "植物新品种权申请费用"  # out of scope: the unknown words are its content
    before = _known_weight(index, text, discount=False)
    after = _known_weight(index, text, discount=True)
    assert after < 0.8  # still far from a question the FAQ knows
    assert after - before < 0.25


def test_no_change_without_unknown_words_or_chinese():
    index = _index()
    for text in ("专利申请费用", "patent fees"):
        norm = normalize(text)
        ids0, w0 = index.vector(features(norm))
        ids1, w1 = index.vector(features(norm), load().weights(norm))
        assert ids0.tolist() == ids1.tolist()
        assert np.array_equal(w0, w1)
    assert load().weights(normalize("hi there, quick question: how do I file a patent?")) == {}


def test_multiplier_band_and_content_wins_over_filler():
    cw = CommonWords({"我": 7.0, "问": 5.0, "一下": 5.5, "二手": 3.0, "手": 5.2}, lo=4.5, hi=5.5)
    assert cw.multiplier(4.5) == 1.0 and cw.multiplier(5.5) == 0.0 and cw.multiplier(5.0) == 0.5
    w = cw.weights("我问一下二手")
    assert w["我"] == 0.0 and w["b:我问"] == 0.5  # not a word: the larger of its characters'
    assert "b:二手" not in w  # a rare word keeps its weight although 手 is common
    assert w["手"] < 1.0
