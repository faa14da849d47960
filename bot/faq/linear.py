"""A multinomial logistic regression over the index's sparse tf-idf rows, fitted when the FAQ loads.

Why: cosines and naive Bayes measure overlap; they cannot learn that in "how do I freeze
my card" the word "freeze" decides the entry and "card" does not, when two entries share
most of their words. A linear model fitted on the FAQ's own phrasings learns exactly those
weights. numpy only: a few epochs of mini-batch Adagrad over the sparse rows (float32), and
a question then costs one small gather (its few features' rows of W) and a sum.
"""

from __future__ import annotations

import math

import numpy as np

from bot.faq.index import ranges


class SoftmaxModel:
    """log P(entry | question) = log softmax(x . W + b), x the question's unit tf-idf vector.

    W holds rows only for the features the fit used (`row_of` maps a feature id to its row, -1
    for none): at 15,000 phrasings about half the features occur in a single phrasing, so this
    halves the model's memory.
    """

    def __init__(self, weights: np.ndarray, bias: np.ndarray, row_of: np.ndarray):
        self.weights, self.bias, self.row_of = weights, bias, row_of

    def feature_weights(self, feature: int) -> np.ndarray:
        """One feature's weight per entry (zeros for a feature the fit did not use)."""
        r = int(self.row_of[feature])
        return self.weights[r] if r >= 0 else np.zeros(len(self.bias), dtype=np.float32)

    def logits(self, ids: np.ndarray, w: np.ndarray) -> np.ndarray:
        rows = self.row_of[ids] if len(ids) else ids
        known = rows >= 0
        if not known.any():
            return self.bias.astype(np.float64)
        return (w[known].astype(np.float32) @ self.weights[rows[known]]).astype(np.float64) + self.bias

    def log_posterior(self, ids: np.ndarray, w: np.ndarray) -> np.ndarray:
        z = self.logits(ids, w)
        z -= z.max()
        return z - math.log(float(np.exp(z).sum()))


def fit(indptr: np.ndarray, cols: np.ndarray, vals: np.ndarray, labels: np.ndarray, n_features: int, n_groups: int,
        epochs: int = 4, batch: int = 64, rate: float = 0.5, seed: int = 20261121,
        skip: np.ndarray | None = None, min_df: int = 2) -> SoftmaxModel:
    """Mini-batch Adagrad on the cross-entropy; rows given as CSR (`indptr`, `cols`, `vals`), one label each.

    `skip`: rows left out of the fit (the matcher's calibration sample, which must be scored as
    unseen questions). `min_df`: features found in fewer of the fitted rows get no weights (a
    question's feature without a row counts for nothing); a word seen in one phrasing teaches the
    model nothing that naive Bayes and the nearest phrasings do not already know (same accuracy
    on the development sets, ~25 % faster fit and half the memory at 15,000 phrasings).
    Deterministic for a given seed.
    """
    bias = np.zeros(n_groups, dtype=np.float64)
    lengths = np.diff(indptr)
    rows = np.flatnonzero(lengths > 0)
    if skip is not None and len(skip):
        rows = np.setdiff1d(rows, skip)
    empty = SoftmaxModel(np.zeros((0, n_groups), dtype=np.float32), bias, np.full(n_features, -1, dtype=np.int32))
    if len(rows) == 0 or n_groups < 2:
        return empty
    owner = np.repeat(np.arange(len(lengths)), lengths)
    used = np.zeros(len(lengths), dtype=bool)
    used[rows] = True
    df = np.bincount(cols[used[owner]], minlength=n_features)
    kept = np.flatnonzero(df >= max(min_df, 1))
    row_of = np.full(n_features, -1, dtype=np.int32)
    row_of[kept] = np.arange(len(kept))
    keep = used[owner] & (row_of[cols] >= 0)
    indptr = np.concatenate(([0], np.cumsum(np.bincount(owner[keep], minlength=len(lengths)))))
    cols, vals = row_of[cols[keep]], vals[keep]  # cols are now rows of W
    rows = rows[np.diff(indptr)[rows] > 0]
    if len(rows) == 0:
        return empty
    n_features = len(kept)
    weights = np.zeros((n_features, n_groups), dtype=np.float32)
    accum = np.zeros((n_features, n_groups), dtype=np.float32)
    bias_accum = np.zeros(n_groups)
    rng = np.random.default_rng(seed)
    vals32 = vals.astype(np.float32)
    seen = np.zeros(n_features, dtype=bool)
    slot = np.zeros(n_features, dtype=np.int64)
    # Work arrays for the batch's rows of W, sized for the largest batch and reused (round 6: a fresh ~1 MB array
    # per step and per batch cost page faults; `take` into a buffer needs mode="clip", "raise" buffers it again).
    cap = min(n_features, int(np.sort(np.diff(indptr))[-batch:].sum()))
    buf_w, buf_a, buf_g, buf_t = (np.empty((cap, n_groups), dtype=np.float32) for _ in range(4))
    for _ in range(epochs):
        order = rng.permutation(rows)
        for start in range(0, len(order), batch):
            b = order[start:start + batch]
            s, e = indptr[b], indptr[b + 1]
            pos = ranges(s, e)
            # The batch as a small dense matrix over the features it uses: two BLAS products do the work.
            # The batch's features, sorted, and each position's slot among them (what `np.unique(...,
            # return_inverse=True)` gives, without its sort: a mark per feature, then a look-up).
            c = cols[pos]
            seen[c] = True
            uf = np.flatnonzero(seen)
            seen[uf] = False
            slot[uf] = np.arange(len(uf))
            inv = slot[c]
            n = len(uf)
            xb = np.zeros((len(b), n), dtype=np.float32)
            xb[np.repeat(np.arange(len(b)), e - s), inv] = vals32[pos]
            wu = np.take(weights, uf, axis=0, out=buf_w[:n], mode="clip")  # take beats fancy indexing for whole rows
            p = xb @ wu
            p += bias.astype(np.float32)
            p -= p.max(axis=1, keepdims=True)
            np.exp(p, out=p)
            p /= p.sum(axis=1, keepdims=True)
            p[np.arange(len(b)), labels[b]] -= 1.0
            p /= len(b)
            g = np.matmul(xb.T, p, out=buf_g[:n])
            # Adagrad, in place (the same values as `w - rate * g / (sqrt(acc) + 1e-6)`, fewer temporaries):
            # the update over the batch's rows of W was ~45 % of the fit at 15,000 phrasings.
            acc = np.take(accum, uf, axis=0, out=buf_a[:n], mode="clip")
            acc += np.multiply(g, g, out=buf_t[:n])
            accum[uf] = acc
            np.sqrt(acc, out=acc)
            acc += 1e-6
            g *= rate
            g /= acc
            wu -= g
            weights[uf] = wu
            gb = p.sum(axis=0)
            bias_accum += gb * gb
            bias -= rate * gb / (np.sqrt(bias_accum) + 1e-6)
    return SoftmaxModel(weights, bias, row_of)
