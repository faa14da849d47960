"""Sweep the decision bands on development data (CLINC150 val + oos_val, a BANKING77 train hold-out).

Runs the matcher once per data set with every band open, keeps (best entry right?, score,
margin) per question, then replays any thresholds without re-running. Never touches a test split.

    .venv/bin/python -m bench.tune
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools

import numpy as np

from bench import datasets
from bot.faq.matcher import Matcher, MatchSettings

OPEN = dict(answer_threshold=0.0, suggest_threshold=0.0, margin=0.0)


def collect(name: str, settings: MatchSettings) -> dict[str, np.ndarray]:
    faq, queries = {"clinc": datasets.clinc, "clinc10": lambda: datasets.clinc(10),
                    "banking": datasets.banking, "banking10": lambda: datasets.banking(10)}[name]()
    m = Matcher.build(faq, dataclasses.replace(settings, **OPEN))
    rows = []
    for q in queries:
        d = m.decide(q.text)
        top = d.suggestions[0].entry_id if d.suggestions else None
        among = q.expected in {s.entry_id for s in d.suggestions}
        rows.append((q.expected is None, top == q.expected, among, d.score, d.margin))
    a = np.array(rows, dtype=float)
    return {"oos": a[:, 0] == 1, "right": a[:, 1] == 1, "among": a[:, 2] == 1, "score": a[:, 3], "margin": a[:, 4]}


def replay(r: dict[str, np.ndarray], answer: float, suggest: float, margin: float) -> dict[str, float]:
    ans = (r["score"] >= answer) & (r["margin"] >= margin)
    sug = ~ans & (r["score"] >= suggest)
    esc = ~ans & ~sug
    ins, oos = ~r["oos"], r["oos"]
    out = {
        "in_acc": float((ans & r["right"])[ins].mean()),
        "wrong": float((ans & ~r["right"]).mean()),
        "suggest_right": float((sug & r["among"] & ins).mean()),
        "esc_in": float(esc[ins].mean()),
    }
    if oos.any():
        out |= {"oos_recall": float(esc[oos].mean()), "oos_answered": float(ans[oos].mean())}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="clinc,banking,clinc10,banking10")
    parser.add_argument("--answer", type=float, nargs="+", default=[30, 35, 40, 45, 50])
    parser.add_argument("--margin", type=float, nargs="+", default=[0, 2, 4, 8])
    parser.add_argument("--suggest", type=float, nargs="+", default=[20, 25, 30])
    args = parser.parse_args()
    base = MatchSettings()
    results = {name: collect(name, base) for name in args.sets.split(",")}
    print("score quantiles (right / wrong best guess / out of scope):")
    for name, r in results.items():
        qs = [np.quantile(r["score"][sel], [0.1, 0.5, 0.9]).round(1).tolist() if sel.any() else None
              for sel in (r["right"] & ~r["oos"], ~r["right"] & ~r["oos"], r["oos"])]
        print(f"  {name:10s} {qs}")
    for name, r in results.items():  # the paper's setting: one threshold, answer or escalate
        if r["oos"].any():
            t = float(np.quantile(r["score"][r["oos"]], 0.55))
            x = replay(r, t, t, 0)
            print(f"  {name}: one threshold at OOS recall 55% on this data: t={t:.1f} in-scope accuracy {x['in_acc']:.4f}")
    print("\nanswer  margin  suggest | " + " | ".join(results))
    for answer, margin, suggest in itertools.product(args.answer, args.margin, args.suggest):
        cells = []
        for r in results.values():
            x = replay(r, answer, suggest, margin)
            cell = f"acc {x['in_acc']:.3f} wrong {x['wrong']:.3f}"
            if "oos_recall" in x:
                cell += f" oosR {x['oos_recall']:.2f} oosA {x['oos_answered']:.2f}"
            cells.append(cell)
        print(f"{answer:6} {margin:6} {suggest:8} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
