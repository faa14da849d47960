"""A sparse TF-IDF index over phrasings and over entries (centroids), in plain numpy.

Why not rapidfuzz alone: scoring a question against 15,000 phrasings with a fuzzy ratio
costs 14-22 ms and treats "the" like "patent". An inverted index touches only the
phrasings that share a feature with the question (well under a millisecond) and weights
rare, telling words above common ones. Why not scipy: two small CSR-like arrays and
`np.bincount` do all that is needed, and scipy would add ~35 MB for it.

Every score can also be computed "leaving one phrasing out" (as if the index had been
built without it), cheaply and exactly for the centroid and naive-Bayes terms: that is
what the matcher's build-time calibration scores its held-out phrasings with.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections import Counter
from collections.abc import Sequence

import numpy as np

NB_ALPHA = 0.03  # tuned on CLINC150 train/val and a BANKING77 train hold-out (docs/matcher.md)
# Features in more than this share of the phrasings are stored as dense rows for the phrasing scores
# (at 15,000 phrasings: 112 features, +4 MB; a question's doc scores 0.29 -> 0.12 ms; 0.04 was no faster and
# took twice the memory).
DENSE_SHARE = 0.08
# The same for the entries' centroid and naive-Bayes pairs: features of more than this share of the entries are
# dense float64 rows (both weights side by side; at 15,000 phrasings 763 features of 227 entries, +2.6 MB).
GROUP_DENSE_SHARE = 0.2
# Dense rows gathered past this size are multiplied in blocks of this many columns (round 6).
DENSE_BLOCK_BYTES = 1 << 21  # 35 rows of 15,000 floats: below that one gather is as fast (measured 8-90 rows)
DENSE_BLOCK = 1024
# A postings walk joins per-feature slices when the lists average at least this many entries, else gathers one
# index range (a Python step per feature costs about what a vector pass over ~60 entries does).
SLICE_MIN = 64
# A question's phrasing cosines use at most this many of its features, those of highest tf x idf (round 7): a long
# message's common words ("the", "<th", 的) walk tens of thousands of postings entries and dense rows for scores
# they barely move. The dropped features still count in the norm. Centroids, naive Bayes and the regression use all.
MAX_QUERY_FEATURES = 96


class TfidfIndex:
    """Rows are documents (phrasings), each belonging to one group (an entry).

    Document vectors use sublinear tf times smoothed idf and unit length, so a dot product
    is a cosine. Each group also gets a centroid: the normalised mean of its documents,
    which is what a nearest-centroid (Rocchio) classifier compares against.
    """

    def __init__(self, docs: Sequence[Sequence[str]], groups: Sequence[int], n_groups: int):
        # One dict look-up per feature occurrence, then numpy: (row, feature) pairs counted by `np.unique`.
        flat = list(itertools.chain.from_iterable(docs))
        vocab = {feat: i for i, feat in enumerate(dict.fromkeys(flat))}  # ids in order of first appearance
        # One C call maps every occurrence to its id (round 6; itemgetter of one key returns the id, not a tuple).
        ids = operator.itemgetter(*flat)(vocab) if len(flat) > 1 else [vocab[f] for f in flat]
        occurrences = np.fromiter(ids, dtype=np.int64, count=len(flat))
        self.vocab = vocab
        self.n_docs = n_docs = len(docs)
        self.n_groups = n_groups
        self.n_features = n_feat = max(len(vocab), 1)
        self.groups = np.asarray(groups, dtype=np.int32)
        owner = np.repeat(np.arange(n_docs, dtype=np.int64), [len(feats) for feats in docs])
        pairs, counts = np.unique(owner * n_feat + occurrences, return_counts=True)  # sorted: by row, then feature
        row = (pairs // n_feat).astype(np.int32)
        col = (pairs % n_feat).astype(np.int32)
        tf = 1.0 + np.log(counts)
        df = np.bincount(col, minlength=len(vocab))
        self.idf = np.log((n_docs + 1) / (df + 1)) + 1.0
        self.unknown_idf = math.log(n_docs + 1) + 1.0
        w = tf * self.idf[col]
        norms = np.sqrt(np.bincount(row, weights=w * w, minlength=n_docs))
        w /= np.maximum(norms[row], 1e-12)
        self._doc = _Postings(col, row, w, len(vocab), n_docs, DENSE_SHARE)
        # The rows as CSR (rows were appended in order), for models fitted on the phrasings (bot.faq.linear).
        self.csr = (np.concatenate(([0], np.cumsum(np.bincount(row, minlength=n_docs)))), col, w.astype(np.float32))
        # Centroids: sum each group's unit vectors feature by feature, then normalise.
        grp = self.groups[row] if len(row) else row
        key = grp.astype(np.int64) * n_feat + col
        uniq, inv = np.unique(key, return_inverse=True)
        csum = np.bincount(inv, weights=w, minlength=len(uniq)).astype(np.float64)
        c_grp = (uniq // n_feat).astype(np.int32)
        c_col = (uniq % n_feat).astype(np.int32)
        # Multinomial naive Bayes on the same tf-idf "counts" (Rennie et al. 2003): log P(f|e) with
        # additive smoothing splits into a sparse part (features the entry has) and a per-entry constant.
        self._totals = np.bincount(c_grp, weights=csum, minlength=n_groups)
        self._nb_const = math.log(NB_ALPHA) - np.log(self._totals + NB_ALPHA * n_feat)
        self._cnorm = np.sqrt(np.bincount(c_grp, weights=csum * csum, minlength=n_groups))
        self._key, self._csum = uniq, csum  # (group, feature) -> summed weight, for leave-one-out
        # Centroid cosines and naive-Bayes terms share their (feature, entry) pairs: one postings list with two
        # weights, so a question walks it once (round 5).
        # Features of many entries are dense rows (round 6: a long message walked ~23,000 of these pairs).
        self._groups_postings = _Postings(c_col, c_grp, csum / np.maximum(self._cnorm[c_grp], 1e-12), len(vocab),
                                          n_groups, GROUP_DENSE_SHARE, second=np.log(csum + NB_ALPHA) - math.log(NB_ALPHA),
                                          dense_dtype=np.float64)

    def vector(self, feats: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The question's unit vector as (feature ids, weights); unknown features count in the norm.

        Keeping unknown words in the norm matters for out-of-scope questions: a question
        that shares one word with the FAQ and brings five new ones should score low.
        """
        ids: list[int] = []
        tfs: list[float] = []
        unknown = 0.0
        get = self.vocab.get
        for feat, count in Counter(feats).items():
            tf = 1.0 + math.log(count) if count > 1 else 1.0
            i = get(feat)
            if i is None:
                unknown += (tf * self.unknown_idf) ** 2
            else:
                ids.append(i)
                tfs.append(tf)
        idx = np.asarray(ids, dtype=np.int64)
        w = np.asarray(tfs, dtype=np.float64) * self.idf[idx]
        norm = math.sqrt(float(w @ w) + unknown)
        if norm > 0:
            w /= norm
        return idx, w

    def doc_scores(self, ids: np.ndarray, w: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Cosine of the question with every phrasing, or only with the phrasings `rows` (sorted; round 7).

        With `rows`, the other phrasings' values are partial (the common features' dense rows are
        multiplied only over `rows`) and must not be read.
        (Scoring only candidates that share a rare feature with the question was measured and
        dropped: 0.1 ms faster at 15,000 phrasings, 0.6-0.8 points of top-1 lost; docs/matcher.md.)
        """
        if len(ids) > MAX_QUERY_FEATURES:  # the heaviest features, in their order (the sums add in the same order)
            keep = np.sort(np.argpartition(-w, MAX_QUERY_FEATURES - 1)[:MAX_QUERY_FEATURES])
            ids, w = ids[keep], w[keep]
        return self._doc.dot(ids, w, self.n_docs, rows)

    def entry_scores(self, ids: np.ndarray, w: np.ndarray, leave_out: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per entry, the question's cosine with the entry's centroid and the naive-Bayes log P(entry |
        question) with a uniform prior, from one walk of the postings (round 5). Naive Bayes is a fitted,
        discriminative view that learns which features tell close entries apart, where cosines only
        measure overlap.

        `leave_out`: the question IS one of this group's phrasings (same vector); score it as
        if that phrasing had not been counted in the group's statistics.
        """
        cos, nb = self._groups_postings.dot_pair(ids, w, self.n_groups)
        return self._centroid_cosines(cos, leave_out), self._nb_posterior(nb, ids, w, leave_out)

    def _nb_posterior(self, s: np.ndarray, ids: np.ndarray, w: np.ndarray, leave_out: int | None) -> np.ndarray:
        total_w = float(w.sum())
        s += self._nb_const * total_w
        if leave_out is not None and len(ids):
            g = leave_out
            pos = np.searchsorted(self._key, g * self.n_features + ids)
            csum = self._csum[np.minimum(pos, len(self._csum) - 1)]
            kept = np.maximum(csum - w, 0.0)
            s[g] += float(w @ (np.log(kept + NB_ALPHA) - np.log(csum + NB_ALPHA)))
            rest = max(self._totals[g] - total_w, 0.0)
            s[g] += (-math.log(rest + NB_ALPHA * self.n_features) - self._nb_const[g] + math.log(NB_ALPHA)) * total_w
        s -= s.max()
        return s - math.log(float(np.exp(s).sum()))

    def _centroid_cosines(self, s: np.ndarray, leave_out: int | None) -> np.ndarray:
        if leave_out is not None:
            # |c - x|^2 = |c|^2 - 2 c.x + 1 and q = x, so cos(q, c - x) = (c.x - 1) / |c - x|.
            g = leave_out
            cx = float(s[g]) * self._cnorm[g]
            rest2 = self._cnorm[g] ** 2 - 2 * cx + 1.0
            s[g] = (cx - 1.0) / math.sqrt(rest2) if rest2 > 1e-9 else 0.0
        return s


class _Postings:
    """Feature -> (row, weight) lists, stored as one sorted array with offsets (CSC by feature).

    `dense_share`: features found in more than this share of the rows are kept as dense rows
    instead. A question's few common words ("the", "<th", 的) touched most of the 64,000
    postings entries a question walked at 15,000 phrasings, through a random scatter; as
    dense rows they cost one contiguous multiply-add each. `dense_dtype`: float32 for the
    phrasings (15,000 wide rows, memory traffic), float64 for the entries (narrow rows, the
    sums then agree with the walk's float64 sums to the last digits).
    """

    def __init__(self, col: np.ndarray, row: np.ndarray, w: np.ndarray, n_features: int, n_rows: int = 0,
                 dense_share: float | None = None, second: np.ndarray | None = None,
                 dense_dtype: type = np.float32):
        counts = np.bincount(col, minlength=n_features)
        self.dense_of = np.full(n_features, -1, dtype=np.int64)  # feature -> its dense row, or -1
        self.n_rows = n_rows
        # A dense row holds the feature's weight per row, then (with `second`) its second weight per row.
        width = n_rows if second is None else 2 * n_rows
        self.dense = np.zeros((0, width), dtype=dense_dtype)
        if dense_share is not None and len(col):
            common = np.flatnonzero(counts > max(dense_share * n_rows, 1))
            if len(common):
                self.dense_of[common] = np.arange(len(common))
                self.dense = np.zeros((len(common), width), dtype=dense_dtype)
                sel = self.dense_of[col] >= 0
                at = self.dense_of[col[sel]]
                # The weights the walk would use (float32), so both paths add the same terms.
                self.dense[at, row[sel]] = w[sel].astype(np.float32)
                if second is not None:
                    self.dense[at, n_rows + row[sel]] = second[sel].astype(np.float32)
                    second = second[~sel]
                col, row, w = col[~sel], row[~sel], w[~sel]
                counts[common] = 0
        # By feature, then row: the (feature, row) pairs are unique, so one key sorts them (a stable sort of the
        # features alone took 1.6 times as long).
        order = np.argsort(col.astype(np.int64) * max(n_rows, int(row.max(initial=0)) + 1) + row)
        self.rows = row[order].astype(np.int32)
        self.weights = w[order].astype(np.float32)  # half the memory traffic; scores need ~4 digits
        # `second`: another weight per (feature, row) pair, for `dot_pair`.
        self.second = None if second is None else second[order].astype(np.float32)
        self.indptr = np.zeros(n_features + 1, dtype=np.int64)
        np.cumsum(counts, out=self.indptr[1:])

    def _dense_dot(self, d: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The dense rows `d` times the weights `w`.

        Many wide rows (a long message: 50-70 of 112 rows of 15,000 floats) are gathered and multiplied
        1,024 columns at a time, so the gathered block stays in cache instead of a 4 MB copy being written
        and read back (round 6: 66 rows 0.39-0.53 -> 0.28-0.45 ms; from ~35 rows on). With 1,024-column blocks
        the sums came out equal bit for bit to the one gather's on the questions tried (256 and 512 did not);
        the decisions on the dev sets are the same either way.
        """
        w = w.astype(self.dense.dtype)
        width = self.dense.shape[1]
        if len(d) * width * self.dense.itemsize <= DENSE_BLOCK_BYTES:
            return w @ self.dense[d]
        out = np.empty(width, dtype=self.dense.dtype)
        for lo in range(0, width, DENSE_BLOCK):
            out[lo:lo + DENSE_BLOCK] = w @ self.dense[d, lo:lo + DENSE_BLOCK]
        return out

    def dot(self, ids: np.ndarray, w: np.ndarray, n_rows: int, rows: np.ndarray | None = None) -> np.ndarray:
        """`rows`: the dense rows are multiplied over these rows only (the others get the postings' part alone)."""
        if len(self.dense) and len(ids):
            d = self.dense_of[ids]
            common = d >= 0
            if common.any():
                rare = ~common
                out = self._walk(ids[rare], w[rare], n_rows, self.weights)[0]
                if rows is None:
                    out += self._dense_dot(d[common], w[common])
                elif len(rows):
                    # One flat gather of the rows' columns (2-D fancy indexing took 5 times as long).
                    block = np.take(self.dense.reshape(-1), d[common][:, None] * self.dense.shape[1] + rows)
                    out[rows] += w[common].astype(self.dense.dtype) @ block
                return out
        return self._walk(ids, w, n_rows, self.weights)[0]

    def dot_pair(self, ids: np.ndarray, w: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The dot products with both weights, from one walk (the same sums, in the same order, as two `dot`s
        when there are no dense rows)."""
        d = self.dense_of[ids]
        common = d >= 0
        rare = ~common
        a, b = self._walk(ids[rare], w[rare], n_rows, self.weights, self.second)
        if common.any():
            both = self._dense_dot(d[common], w[common])
            a += both[:n_rows]
            b += both[n_rows:]
        return a, b

    def _walk(self, ids: np.ndarray, w: np.ndarray, n_rows: int, *columns: np.ndarray) -> list[np.ndarray]:
        """The question's dot product with each weight column of the postings, from one walk."""
        if len(ids) == 0:
            return [np.zeros(n_rows) for _ in columns]
        starts, ends = self.indptr[ids], self.indptr[ids + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        if total == 0:
            return [np.zeros(n_rows) for _ in columns]
        if len(ids) == 1:
            s, e = int(starts[0]), int(ends[0])
            return [np.bincount(self.rows[s:e], weights=c[s:e] * w[0], minlength=n_rows) for c in columns]
        if total < SLICE_MIN * len(ids):  # short lists (a small FAQ): one index range
            pos = ranges(starts, ends)
            rows, picked = self.rows[pos], [c[pos] for c in columns]
        else:
            # Each feature's postings are one slice: joining the slices beats gathering an index range when the
            # lists are long (round 6: a long message's ~55,000 entries 0.48 -> 0.33 ms, min of 100 runs; the same
            # values in the same order).
            spans = [slice(a, b) for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
            rows = np.concatenate([self.rows[x] for x in spans])
            picked = [np.concatenate([c[x] for x in spans]) for c in columns]
        ws = np.repeat(w, lengths)
        return [np.bincount(rows, weights=c * ws, minlength=n_rows) for c in picked]


def ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenated index ranges [start, end) without a Python loop."""
    lengths = ends - starts
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    return np.arange(int(lengths.sum())) + offsets
