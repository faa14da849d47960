"""Turn the matcher's raw similarity into a confidence that means the same on every FAQ.

A raw score of 0.45 is a sure thing on a sparse FAQ of 20 entries and a coin toss on one
with 150 entries of 100 phrasings each, so thresholds on raw scores had to be re-tuned per
FAQ. Instead, each FAQ measures itself when it is built: its entries' own questions (titles;
random phrasings until round 4, which are written to be unlike their siblings and so made the
confidence too low) are scored leave-one-out (as a question, against the index without that
phrasing), and a logistic model P(best guess right | raw score, margin to the next entry) is
fitted on the outcome. The decision bands then apply to that probability, on 0-100.

The fit is penalised towards `PRIOR` (fitted the same way on the public benchmarks), so a
tiny FAQ with a handful of held-out titles, or one where every guess is right, still
gets a sensible, monotone model. numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """P(right) = sigmoid(bias + raw_coef * raw + margin_coef * margin), raw and margin on 0-1."""

    bias: float
    raw_coef: float
    margin_coef: float
    samples: int = 0  # held-out entry titles the model was fitted on (0: the prior alone)
    heldout_top1: float = 0.0  # share of them whose best guess was right

    def confidence(self, raw: np.ndarray | float, margin: np.ndarray | float) -> np.ndarray:
        """0-100; increasing in both raw score and margin (the coefficients are kept >= 0)."""
        raw, margin = np.asarray(raw, dtype=np.float64), np.asarray(margin, dtype=np.float64)
        z = self.bias + self.raw_coef * raw + self.margin_coef * margin
        return 100.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


# The mean of the fits Matcher.build makes on the CLINC150 and BANKING77 training FAQs (bench.tune prints them).
PRIOR = Calibration(bias=-3.45, raw_coef=7.9, margin_coef=11.8)
PRIOR_WEIGHT = 20.0  # the prior counts like this many samples' worth of evidence
MIN_SLOPE = 0.5


def fit(raw: np.ndarray, margin: np.ndarray, right: np.ndarray, prior: Calibration = PRIOR,
        prior_weight: float = PRIOR_WEIGHT, iterations: int = 25) -> Calibration:
    """Penalised logistic regression by Newton's method (three parameters, a few hundred samples)."""
    n = len(raw)
    if n == 0:
        return prior
    x = np.column_stack([np.ones(n), np.asarray(raw, float), np.asarray(margin, float)])
    y = np.asarray(right, dtype=np.float64)
    beta0 = np.array([prior.bias, prior.raw_coef, prior.margin_coef])
    # Ridge towards the prior, scaled so it weighs like `prior_weight` samples spread over the data's range.
    lam = prior_weight * np.diag([0.05, 0.05, 0.05])
    def loss(b: np.ndarray) -> float:
        z = x @ b
        return float(np.logaddexp(0.0, z).sum() - y @ z + 0.5 * (b - beta0) @ lam @ (b - beta0))

    beta = beta0.copy()
    current = loss(beta)
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        grad = x.T @ (p - y) + lam @ (beta - beta0)
        hess = (x * (p * (1 - p))[:, None]).T @ x + lam
        step = np.linalg.solve(hess, grad)
        t = 1.0
        while t > 1e-4 and loss(beta - t * step) > current:  # damped Newton: never let the loss rise
            t /= 2
        beta = beta - t * step
        previous, current = current, loss(beta)
        if previous - current < 1e-9:
            break
    bias, raw_coef, margin_coef = (float(b) for b in beta)
    if not all(math.isfinite(b) for b in beta):
        return prior
    # Confidence must never fall when the score or the margin rises.
    return Calibration(bias, max(raw_coef, MIN_SLOPE), max(margin_coef, MIN_SLOPE), n, float(y.mean()))
