"""Tune the decision bands on development data, and check that calibrated scores mean the same on every FAQ.

Development data only: CLINC150 val + oos_val (FAQ from train), a seeded hold-out of
BANKING77 train (FAQ from the rest), their 10-per-intent versions, and the dev half of the
patent questions (`bench.datasets.patent_half`). Each set is run once with the bands open;
(raw score, raw margin, confidence, right?) per question is kept and any thresholds are
replayed without re-running. Never touches a test split or the patent held-out half.

    .venv/bin/python -m bench.tune
    .venv/bin/python -m bench.tune --patent-questions /tmp/pq.jsonl --patent-faq /tmp/faq --banking-seeds 1 2 3
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time
from pathlib import Path

import numpy as np

from bench import datasets
from bot.faq.matcher import Matcher, MatchSettings
from bot.faq.normalize import detect_lang

OPEN = dict(answer_threshold=0.0, suggest_threshold=0.0, margin=0.0, min_raw=0.0, suggest_min_raw=0.0, min_raw_zh=0.0,
            suggest_min_raw_zh=0.0)
SETS = {"clinc": datasets.clinc, "clinc10": lambda: datasets.clinc(10), "banking": datasets.banking,
        "banking10": lambda: datasets.banking(10), "patent": lambda: datasets.patent("dev")}


def collect(name: str, settings: MatchSettings) -> dict[str, np.ndarray]:
    faq, queries = SETS[name]()
    t0 = time.perf_counter()
    m = Matcher.build(faq, dataclasses.replace(settings, **OPEN))
    build = time.perf_counter() - t0
    rows = []
    for q in queries:
        d = m.decide(q.text, q.lang)
        top = d.suggestions[0].entry_id if d.suggestions else None
        among = q.expected in {s.entry_id for s in d.suggestions}
        rows.append((q.expected is None, top == q.expected, among, d.score, d.margin, d.raw, detect_lang(q.text) == "zh"))
    a = np.array(rows, dtype=float).reshape(-1, 7)
    c = m.calibration
    print(f"  {name}: build {build:.2f} s, calibration {c}")
    return {"oos": a[:, 0] == 1, "right": a[:, 1] == 1, "among": a[:, 2] == 1, "score": a[:, 3], "margin": a[:, 4],
            "raw": a[:, 5], "zh": a[:, 6] == 1, "cal": c}


def replay(r: dict, answer: float, suggest: float, margin: float, min_raw: float = 0, suggest_raw: float = 0,
           min_raw_zh: float | None = None, suggest_raw_zh: float | None = None) -> dict:
    """The decisions at these bands; the `_zh` floors (default: the same) apply to questions written in Chinese."""
    floor = np.where(r["zh"], min_raw if min_raw_zh is None else min_raw_zh, min_raw)
    sfloor = np.where(r["zh"], suggest_raw if suggest_raw_zh is None else suggest_raw_zh, suggest_raw)
    ans = (r["score"] >= answer) & (r["margin"] >= margin) & (r["raw"] >= floor)
    sug = ~ans & (r["score"] >= suggest) & (r["raw"] >= sfloor)
    esc = ~ans & ~sug
    ins, oos = ~r["oos"], r["oos"]
    out = {"in_acc": float((ans & r["right"])[ins].mean()), "wrong": float((ans & ~r["right"]).mean()),
           "suggest_right": float((sug & r["among"] & ins).mean()), "esc_in": float(esc[ins].mean())}
    if oos.any():
        out |= {"oos_recall": float(esc[oos].mean()), "oos_answered": float(ans[oos].mean())}
    return out


def reliability(r: dict) -> str:
    """Predicted confidence against the observed share of right best guesses, in-scope questions, by band."""
    ins = ~r["oos"]
    cells = []
    for lo, hi in ((0, 25), (25, 50), (50, 75), (75, 90), (90, 101)):
        sel = ins & (r["score"] >= lo) & (r["score"] < hi)
        if sel.sum():
            pred, obs = r["score"][sel].mean(), 100 * r["right"][sel].mean()
            cells.append(f"{lo}-{min(hi, 100)}: n={int(sel.sum())} pred {pred:.0f} obs {obs:.0f}")
    return " | ".join(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="clinc,banking,clinc10,banking10,patent")
    parser.add_argument("--answer", type=float, nargs="+", default=[60, 70, 80, 85, 90])
    parser.add_argument("--margin", type=float, nargs="+", default=[1, 5, 10])
    parser.add_argument("--suggest", type=float, nargs="+", default=[20, 30, 40])
    parser.add_argument("--min-raw", type=float, nargs="+", default=[25, 30, 35])
    parser.add_argument("--suggest-raw", type=float, nargs="+", default=[10, 15, 20])
    parser.add_argument("--patent-questions", help="labelled patent questions (default tests/data/patent_questions.jsonl)")
    parser.add_argument("--patent-faq", help="an FAQ directory for the patent set instead of faq/ (e.g. a frozen copy)")
    parser.add_argument("--banking-seeds", type=int, nargs="*", default=[],
                        help="also judge the bands on BANKING77 train re-split with these seeds (the default split is seed 4)")
    args = parser.parse_args()
    if args.patent_questions:
        datasets.PATENT_QUESTIONS = Path(args.patent_questions)
    if args.patent_faq:
        datasets.PATENT_FAQ = Path(args.patent_faq)
    for seed in args.banking_seeds:  # round 4's lesson: one split can flatter the bands (matcher.md, "Round 4")
        SETS[f"banking@{seed}"] = lambda seed=seed: datasets.banking(seed=seed)
        args.sets += f",banking@{seed}"
    base = MatchSettings()
    results = {name: collect(name, base) for name in args.sets.split(",")}
    print("\nraw-score quantiles 10/50/90 (right / wrong best guess / out of scope):")
    for name, r in results.items():
        qs = [np.quantile(r["raw"][sel], [0.1, 0.5, 0.9]).round(1).tolist() if sel.any() else None
              for sel in (r["right"] & ~r["oos"], ~r["right"] & ~r["oos"], r["oos"])]
        print(f"  {name:10s} {qs}")
    print("\nreliability (calibrated confidence vs observed top-1, in scope):")
    for name, r in results.items():
        print(f"  {name:10s} {reliability(r)}")
    for name, r in results.items():  # the paper's setting: one threshold, answer or escalate
        if r["oos"].any() and name.startswith("clinc"):
            for key in ("raw", "score"):
                t = float(np.quantile(r[key][r["oos"]], 0.55))
                hit = ((r[key] > t) & r["right"] & ~r["oos"]).sum() / (~r["oos"]).sum()
                print(f"  {name}: one threshold on {key} at OOS recall 55%: t={t:.1f} in-scope accuracy {hit:.4f}")
    print("\nanswer margin suggest min_raw sugg_raw | " + " | ".join(results))
    for answer, margin, suggest, min_raw, sraw in itertools.product(args.answer, args.margin, args.suggest, args.min_raw,
                                                                     args.suggest_raw):
        cells = []
        for r in results.values():
            x = replay(r, answer, suggest, margin, min_raw, sraw)
            cell = f"acc {x['in_acc']:.3f} wr {x['wrong']:.3f} sr {x['suggest_right']:.2f}"
            if "oos_recall" in x:
                cell += f" oR {x['oos_recall']:.2f} oA {x['oos_answered']:.2f}"
            cells.append(cell)
        print(f"{answer:5} {margin:4} {suggest:4} {min_raw:4} {sraw:4} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
