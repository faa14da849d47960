"""Speed of the matcher at one git revision against the working tree, interleaved in one process.

The machine these run on is shared, so figures taken minutes apart are not comparable;
this alternates the two builds and the two question passes so both see the same load.

    .venv/bin/python -m bench.side_by_side c4e6d39 --phrasings 15000
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from bench import datasets  # noqa: E402
from bot.faq.evaluate import percentile  # noqa: E402
from bot.faq.matcher import Matcher  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def old_matcher(rev: str, tmp: Path):
    """Load bot/faq/{index,matcher}.py of `rev` as a private package (its own index module)."""
    pkg = tmp / "oldfaq"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("index", "matcher", "normalize"):
        src = subprocess.run(["git", "show", f"{rev}:bot/faq/{name}.py"], cwd=ROOT, check=True, capture_output=True,
                             text=True).stdout
        (pkg / f"{name}.py").write_text(src.replace(f"from bot.faq.{'index'}", "from oldfaq.index")
                                        .replace("from bot.faq.normalize", "from oldfaq.normalize"))
    sys.path.insert(0, str(tmp))
    return importlib.import_module("oldfaq.matcher").Matcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--phrasings", type=int, default=15000)
    args = parser.parse_args()
    faq = datasets.faq_from_pairs(datasets.scale_pairs(args.phrasings))
    probe = [q.text for q in datasets.clinc()[1][:1000]] + [q.text for q in datasets.banking()[1][:500]]
    with tempfile.TemporaryDirectory() as tmp:
        classes = {"old": old_matcher(args.rev, Path(tmp)), "new": Matcher}
        builds: dict[str, list[float]] = {k: [] for k in classes}
        built = {}
        for _ in range(3):
            for name, cls in classes.items():
                t0 = time.perf_counter()
                built[name] = cls.build(faq)
                builds[name].append(time.perf_counter() - t0)
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
                  f"p99 median-of-3 {percentile(med, 99) * 1000:.2f} ms, p99 best-of-3 {percentile(best, 99) * 1000:.2f} ms")


if __name__ == "__main__":
    main()
