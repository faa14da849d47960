"""The sparse index: dense rows for common features give the same scores as the postings walk, and one walk
with two weights gives the two walks' sums."""

import numpy as np

from bot.faq import index as index_module
from bot.faq.index import TfidfIndex, _Postings
from bot.faq.normalize import features, normalize


def test_dense_rows_score_like_postings():
    rng = np.random.default_rng(3)
    n_rows, n_features, n = 300, 40, 3000
    col = rng.integers(0, n_features, n) ** 2 % n_features  # a skewed spread: some features in most rows
    row = rng.integers(0, n_rows, n)
    col, row = np.unique(np.c_[col, row], axis=0).T
    w = rng.uniform(0.1, 1.0, len(col))
    sparse = _Postings(col, row, w, n_features)
    dense = _Postings(col, row, w, n_features, n_rows, dense_share=0.1)
    assert 0 < len(dense.dense) < n_features  # some features went dense, not all
    for size in (1, 2, 5, 20):
        ids = rng.choice(n_features, size, replace=False)
        q = rng.uniform(0.1, 1.0, size)
        np.testing.assert_allclose(dense.dot(ids, q, n_rows), sparse.dot(ids, q, n_rows), atol=1e-5)
    assert not dense.dot(np.array([], dtype=np.int64), np.array([]), n_rows).any()


def test_index_scores_are_cosines():
    texts = ["how much is the patent fee", "the fee for a utility model", "how long does the patent last", "the the the"]
    docs = [features(normalize(t)) for t in texts]
    index = TfidfIndex(docs, np.array([0, 0, 1, 1], dtype=np.int32), 2)
    ids, w = index.vector(features(normalize(texts[0])))
    scores = index.doc_scores(ids, w)
    assert scores[0] == np.float64(scores.max()) and abs(scores[0] - 1.0) < 1e-5  # a phrasing is its own best match
    assert np.all(scores >= -1e-9) and np.all(scores <= 1 + 1e-5)


def test_dot_pair_is_two_dots():
    rng = np.random.default_rng(5)
    n_rows, n_features, n = 50, 30, 600
    col, row = np.unique(np.c_[rng.integers(0, n_features, n), rng.integers(0, n_rows, n)], axis=0).T
    w1, w2 = rng.uniform(0.1, 1.0, len(col)), rng.uniform(-1.0, 1.0, len(col))
    pair = _Postings(col, row, w1, n_features, second=w2)
    for size in (0, 1, 3, 12):
        ids = rng.choice(n_features, size, replace=False)
        q = rng.uniform(0.1, 1.0, size)
        a, b = pair.dot_pair(ids, q, n_rows)
        assert np.array_equal(a, _Postings(col, row, w1, n_features).dot(ids, q, n_rows))
        assert np.array_equal(b, _Postings(col, row, w2, n_features).dot(ids, q, n_rows))


def test_entry_scores_are_centroid_cosines_and_naive_bayes():
    """Checked against the definitions, computed densely from the phrasings' own vectors."""
    texts = ["how much is the patent fee", "the fee for a utility model", "how long does the patent last", "the the the"]
    groups = np.array([0, 0, 1, 1], dtype=np.int32)
    index = TfidfIndex([features(normalize(t)) for t in texts], groups, 2)
    n_feat = index.n_features

    def dense(text):
        ids, w = index.vector(features(normalize(text)))
        x = np.zeros(n_feat)
        x[ids] = w
        return x

    sums = np.array([sum(dense(t) for t, g in zip(texts, groups, strict=True) if g == k) for k in (0, 1)])
    for text, own in (("patent fee", None), (texts[0], None), (texts[0], 0)):
        q = dense(text)
        c = sums.copy()
        if own is not None:  # the question is one of its entry's phrasings: as if it had not been counted
            c[own] = np.maximum(c[own] - q, 0.0)
        totals = sums.sum(axis=1) - (q.sum() * (np.arange(2) == own))
        cos, nb = index.entry_scores(*index.vector(features(normalize(text))), own)
        np.testing.assert_allclose(cos, c @ q / np.linalg.norm(c, axis=1), atol=1e-5)
        log_p = np.log(c + index_module.NB_ALPHA) - np.log(totals + index_module.NB_ALPHA * n_feat)[:, None]
        joint = log_p @ q
        np.testing.assert_allclose(nb, joint - np.log(np.exp(joint).sum()), atol=1e-5)


def test_dense_rows_pair_and_blocks_score_like_postings(monkeypatch):
    """Dense rows with two weights (the entries' postings), and many dense rows multiplied in column blocks (round 6)."""
    monkeypatch.setattr(index_module, "DENSE_BLOCK_BYTES", 64)
    monkeypatch.setattr(index_module, "DENSE_BLOCK", 16)
    rng = np.random.default_rng(7)
    n_rows, n_features, n = 60, 40, 1500
    col = rng.integers(0, n_features, n) ** 2 % n_features
    col, row = np.unique(np.c_[col, rng.integers(0, n_rows, n)], axis=0).T
    w1, w2 = rng.uniform(0.1, 1.0, len(col)), rng.uniform(-1.0, 1.0, len(col))
    sparse = _Postings(col, row, w1, n_features, second=w2)
    for dtype in (np.float32, np.float64):
        dense = _Postings(col, row, w1, n_features, n_rows, dense_share=0.1, second=w2, dense_dtype=dtype)
        assert 0 < len(dense.dense) < n_features
        for size in (0, 1, 3, 12, 40):  # from 3 features on, some products go by column blocks
            ids = rng.choice(n_features, size, replace=False)
            q = rng.uniform(0.1, 1.0, size)
            for got, want in zip(dense.dot_pair(ids, q, n_rows), sparse.dot_pair(ids, q, n_rows), strict=True):
                np.testing.assert_allclose(got, want, atol=1e-5 if dtype == np.float32 else 1e-12)


def test_postings_walk_by_slices_equals_index_range(monkeypatch):
    """Joining per-feature slices (long lists) and gathering one index range (short lists) add the same terms."""
    rng = np.random.default_rng(11)
    n_rows, n_features, n = 200, 30, 2500
    col, row = np.unique(np.c_[rng.integers(0, n_features, n), rng.integers(0, n_rows, n)], axis=0).T
    postings = _Postings(col, row, rng.uniform(0.1, 1.0, len(col)), n_features)
    for size in (2, 5, 30):
        ids = rng.choice(n_features, size, replace=False)
        q = rng.uniform(0.1, 1.0, size)
        monkeypatch.setattr(index_module, "SLICE_MIN", 0)
        by_slices = postings.dot(ids, q, n_rows)
        monkeypatch.setattr(index_module, "SLICE_MIN", 10**9)
        assert np.array_equal(by_slices, postings.dot(ids, q, n_rows))
