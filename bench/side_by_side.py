"""Speed of the matcher at one git revision against the working tree, interleaved in one process.

The machine these run on is shared, so figures taken minutes apart are not comparable;
this alternates the two builds and the two question passes so both see the same load.

    .venv/bin/python -m bench.side_by_side c4e6d39 --phrasings 15000
    .venv/bin/python -m bench.side_by_side c4e6d39 --faq faq     # the shipped FAQ, probed with the patent questions

Builds start with an empty per-token feature cache (`normalize._token_features`), so a
version with the cache is not flattered by the previous build's words.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from bench import datasets  # noqa: E402
from bot.faq.evaluate import percentile, read_queries  # noqa: E402
from bot.faq.loader import load_faq  # noqa: E402
from bot.faq.matcher import Matcher  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEV_EXTRA = ROOT / "bench" / "data" / "patent_dev_extra.jsonl"


PRIVATE = ("index", "matcher", "normalize", "calibration", "linear", "smalltalk")  # the matcher's own modules, loaded from `rev`


def old_matcher(rev: str, tmp: Path):
    """Load the matcher's modules of `rev` as a private package (its own index, linear model, calibration)."""
    pkg = tmp / "oldfaq"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in PRIVATE:
        shown = subprocess.run(["git", "show", f"{rev}:bot/faq/{name}.py"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode:
            continue  # not there yet at `rev`
        src = shown.stdout
        for other in PRIVATE:
            src = src.replace(f"from bot.faq.{other} ", f"from oldfaq.{other} ")
        (pkg / f"{name}.py").write_text(src)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("oldfaq.matcher").Matcher


def cold(cls) -> None:
    """Empty the per-token feature cache (if that version has one), so every timed build starts cold."""
    module = sys.modules[cls.__module__.rsplit(".", 1)[0] + ".normalize"]
    cached = getattr(module, "_token_features", None)
    if cached is not None:
        cached.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--phrasings", type=int, default=15000)
    parser.add_argument("--faq", help="an FAQ directory instead of the scale FAQ; probed with the labelled patent questions")
    args = parser.parse_args()
    if args.faq:
        faq = load_faq(args.faq)
        probe = [q.text for path in (datasets.PATENT_QUESTIONS, DEV_EXTRA) for q in read_queries(path)]
    else:
        faq = datasets.faq_from_pairs(datasets.scale_pairs(args.phrasings))
        probe = [q.text for q in datasets.clinc()[1][:1000]] + [q.text for q in datasets.banking()[1][:500]]
    with tempfile.TemporaryDirectory() as tmp:
        classes = {"old": old_matcher(args.rev, Path(tmp)), "new": Matcher}
        builds: dict[str, list[float]] = {k: [] for k in classes}
        built = {}
        for _ in range(3):
            for name, cls in classes.items():
                cold(cls)
                t0 = time.perf_counter()
                built[name] = cls.build(faq)
                builds[name].append(time.perf_counter() - t0)
        kept: dict[str, float] = {}
        for name, cls in classes.items():  # memory the built matcher keeps (feature cache included), cold start
            built[name] = None
            gc.collect()
            cold(cls)
            tracemalloc.start()
            built[name] = cls.build(faq)
            kept[name] = tracemalloc.get_traced_memory()[0] / 2**20
            tracemalloc.stop()
        passes: dict[str, list[list[float]]] = {k: [] for k in classes}
        for m in built.values():
            for q in probe[:200]:
                m.decide(q)  # warm-up
        for _ in range(3):
            for name, m in built.items():
                ts = []
                for q in probe:
                    t0 = time.perf_counter()
                    m.decide(q)
                    ts.append(time.perf_counter() - t0)
                passes[name].append(ts)
        for name in classes:
            med = [statistics.median(t) for t in zip(*passes[name], strict=True)]
            best = [min(t) for t in zip(*passes[name], strict=True)]
            print(f"{name}: build median {statistics.median(builds[name]):.2f} s, p50 {percentile(med, 50) * 1000:.2f} ms, "
                  f"p99 median-of-3 {percentile(med, 99) * 1000:.2f} ms, p99 best-of-3 {percentile(best, 99) * 1000:.2f} ms, "
                  f"kept {kept[name]:.1f} MB")


if __name__ == "__main__":
    main()
