"""Latency of the understanding layer per path, warm (the way the agent runs it).

The agent embeds the renderings of what a correction could mean when it plans
(``LanguageLayer.prepare``); the operator's words are then sentence-model passes (the
utterance, the phrases grounded from it) plus scoring. This script runs the corpus once to warm
the renderings, forgets every utterance and phrase embedded, then times a second run in corpus
order: a phrase is only cached when an earlier, different utterance said it (as "the plate"
recurs in one scene), never from the same utterance's first run. It prints p50/p95 per path
(grammar fast path, grammar checked by the models, model path).

    .venv/bin/python scripts/bench_understanding_latency.py [--split dev|test|all] [--threads N] [--cold]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="dev", choices=("dev", "test", "all"))
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="forget every phrase before each utterance (as the first words heard in a scene)",
    )
    args = ap.parse_args()
    import torch  # noqa: TID251 - this benchmark times the installed text embedder, which needs torch anyway

    if args.threads:
        torch.set_num_threads(args.threads)
    from memory.embedders import make_text_embedder
    from robot_agent.language import LanguageLayer
    from robot_agent.language.evaluate import build_context, load_corpus

    corpus = load_corpus()
    items = [i for i in corpus.items if args.split == "all" or i.split == args.split]
    layer = LanguageLayer(embedder=make_text_embedder("minilm"))
    by_source: dict[str, list[float]] = {}
    for rnd in (0, 1):
        if rnd == 1:
            layer.scorer.forget_queries()  # nothing said in the warm-up run is remembered
        for it in items:
            layer.forget_question()
            if args.cold:
                layer.scorer.forget_queries()
            if it.kind == "task":
                objs = corpus.objects(it.scene)
                t0 = time.perf_counter()
                u = layer.understand_task(it.text, objs)
            else:
                ctx = build_context(layer, it, corpus)
                layer.forget_question()
                t0 = time.perf_counter()
                u = layer.understand_correction(it.text, ctx)
            ms = (time.perf_counter() - t0) * 1e3
            if rnd == 1:
                by_source.setdefault(f"{it.kind}/{u.source}", []).append(ms)
    print(f"{'path':<26} {'n':>4} {'p50 ms':>8} {'p95 ms':>8}")
    for k in sorted(by_source):
        v = sorted(by_source[k])
        p95 = v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]
        print(f"{k:<26} {len(v):>4} {statistics.median(v):>8.2f} {p95:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
