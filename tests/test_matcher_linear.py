"""The logistic regression fitted at load time: it learns which shared-vocabulary word decides the entry."""

import numpy as np

from bot.faq.index import TfidfIndex
from bot.faq.linear import fit
from bot.faq.matcher import Matcher, MatchSettings
from bot.faq.model import Entry, Faq, LangText
from bot.faq.normalize import features

FREEZE = ["how do i freeze my card", "please freeze my bank card now", "can you freeze my card today",
          "i want to freeze my card", "freeze the card i lost"]
REPLACE = ["how do i replace my card", "please replace my bank card now", "can you replace my card today",
           "i want to replace my card", "replace the card i lost"]


def toy_index():
    docs = [features(t) for t in FREEZE + REPLACE]
    groups = np.array([0] * len(FREEZE) + [1] * len(REPLACE), dtype=np.int32)
    return TfidfIndex(docs, groups, 2), groups


def test_it_separates_two_entries_that_share_most_words():
    index, groups = toy_index()
    model = fit(*index.csr, groups, index.n_features, 2, epochs=20)
    for text, want in (("freeze my card", 0), ("replace my card", 1), ("could you freeze it", 0)):
        post = model.log_posterior(*index.vector(features(text)))
        assert int(np.argmax(post)) == want, text
        assert abs(np.exp(post).sum() - 1) < 1e-6
    # The deciding word weighs more than the shared ones.
    freeze, card = model.feature_weights(index.vocab["freeze"]), model.feature_weights(index.vocab["card"])
    assert freeze[0] - freeze[1] > abs(card[0] - card[1])


def test_fit_is_deterministic_and_skips_rows():
    index, groups = toy_index()
    a = fit(*index.csr, groups, index.n_features, 2, seed=7)
    b = fit(*index.csr, groups, index.n_features, 2, seed=7)
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
    # A feature seen only in skipped rows is never updated.
    only = index.vocab["c:<lo"]  # "lost" appears in the last phrasing of each entry only
    c = fit(*index.csr, groups, index.n_features, 2, skip=np.array([4, 9]))
    assert not c.feature_weights(only).any() and a.feature_weights(only).any()


def test_matcher_uses_the_model_and_zero_weight_turns_it_off():
    entries = tuple(Entry(id=i, texts={"en": LangText(ts[0], f"answer {i}", tuple(ts[1:]))})
                    for i, ts in (("freeze", FREEZE), ("replace", REPLACE)))
    faq = Faq(entries=entries)
    on = Matcher.build(faq)
    off = Matcher.build(faq, MatchSettings(linear_weight=0.0))
    assert on.model is not None and off.model is None
    assert on.scores("freeze it please")[0][0] == 0
    assert on.decide("replace my card").suggestions[0].entry_id == "replace"


def test_features_seen_in_one_phrasing_are_left_out_of_the_fit():
    index, groups = toy_index()
    once = index.vocab["b:please freeze"]  # only in "please freeze my bank card now"
    pruned = fit(*index.csr, groups, index.n_features, 2, epochs=5)
    full = fit(*index.csr, groups, index.n_features, 2, epochs=5, min_df=1)
    assert not pruned.feature_weights(once).any() and full.feature_weights(once).any()
    assert pruned.row_of[once] == -1 and len(pruned.weights) < len(full.weights)  # no row kept for it
    freeze = pruned.feature_weights(index.vocab["freeze"])
    assert freeze[0] > freeze[1]  # what several phrasings share is still learnt
    # A question made only of unfitted features gets the bias alone, not an error.
    assert np.allclose(pruned.logits(np.array([once]), np.array([1.0])), pruned.bias)
