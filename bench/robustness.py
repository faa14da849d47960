"""Two development checks of the shipped FAQ that `matcher_bench` does not make (docs/matcher.md, rounds 8 and 11).

Development data only: the dev half of tests/data/patent_questions.jsonl and bench/data/patent_dev_extra.jsonl.

    .venv/bin/python -m bench.robustness wrappers   # in-scope questions wrapped in greetings and thanks: still right?
    .venv/bin/python -m bench.robustness floors     # answered right / wrong / out of scope answered per raw floor,
                                                    # Chinese and English questions apart

Run from a checkout of an older commit (with this file's path) to measure that commit's code and FAQ.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from bench import datasets
from bot.faq.evaluate import read_queries
from bot.faq.loader import load_faq
from bot.faq.matcher import Matcher, MatchSettings
from bot.faq.normalize import detect_lang

DEV_EXTRA = Path(__file__).resolve().parent / "data" / "patent_dev_extra.jsonl"
# (zh head, en head, zh tail, en tail), as measured in round 8
WRAPPERS = (("你好，", "hi, ", "", ""), ("您好，请问", "hello, ", "", ""), ("", "", "，谢谢", " thanks"),
            ("在吗？", "hey there, ", "，谢谢了", ", thank you"))


def dev_questions() -> list:
    half = [q for q in read_queries(datasets.PATENT_QUESTIONS) if datasets.patent_half(q.text) == "dev"]
    return half + read_queries(DEV_EXTRA)


def wrappers(faq_dir: Path) -> None:
    matcher = Matcher.build(load_faq(faq_dir))
    queries = [q for q in dev_questions() if q.expected and not q.expected.startswith("helpdesk-")]

    def right(text: str, expected: str) -> bool:
        d = matcher.decide(text)
        return d.action == "answer" and d.entry_id == expected

    plain = sum(right(q.text, q.expected) for q in queries)
    zh = [detect_lang(q.text) == "zh" for q in queries]
    for head_zh, head_en, tail_zh, tail_en in WRAPPERS:
        n = sum(right((head_zh if z else head_en) + q.text + (tail_zh if z else tail_en), q.expected)
                for q, z in zip(queries, zh, strict=True))
        print(f"{head_zh}…{tail_zh} / {head_en}…{tail_en}: {n} of {len(queries)} answered right (unwrapped {plain})")


def floors(faq_dir: Path) -> None:
    """Every question once with the bands open, then the shipped bands replayed with other raw floors."""
    open_bands = dict(answer_threshold=0.0, suggest_threshold=0.0, margin=0.0, min_raw=0.0, suggest_min_raw=0.0)
    if "min_raw_zh" in {f.name for f in dataclasses.fields(MatchSettings)}:
        open_bands |= dict(min_raw_zh=0.0, suggest_min_raw_zh=0.0)
    base = MatchSettings()
    matcher = Matcher.build(load_faq(faq_dir), dataclasses.replace(base, **open_bands))
    rows = []
    for q in dev_questions():
        d = matcher.decide(q.text)
        top = d.suggestions[0].entry_id if d.suggestions else None
        rows.append((detect_lang(q.text), q.expected is None, top == q.expected, d.score, d.margin, d.raw))
    for lang in ("zh", "en"):
        mine = [r for r in rows if r[0] == lang]
        n_in, n_oos = sum(not r[1] for r in mine), sum(r[1] for r in mine)
        print(f"{lang}: {n_in} in scope, {n_oos} out of scope")
        for floor in (20, 22, 24, 25, 26, 28):
            ans = [r for r in mine if r[3] >= base.answer_threshold and r[4] >= base.margin and r[5] >= floor]
            good = sum(1 for r in ans if not r[1] and r[2])
            wrong = sum(1 for r in ans if not r[1] and not r[2])
            oos = sum(1 for r in ans if r[1])
            print(f"  min_raw {floor}: answered right {100 * good / n_in:.1f} %, wrong {wrong}, out of scope answered {oos}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=("wrappers", "floors"))
    parser.add_argument("--faq", type=Path, default=datasets.PATENT_FAQ)
    args = parser.parse_args()
    (wrappers if args.check == "wrappers" else floors)(args.faq)


if __name__ == "__main__":
    main()
