#!/usr/bin/env python3
"""Knowledge-base retrieval benchmark: latency p50/p99, recall@10, build time and memory.

Usage::

    python scripts/bench_kb.py                      # 1k and 100k items (about 5 min on 2 cores)
    python scripts/bench_kb.py --full               # adds 1M items (docs/benchmarks.md for the time)
    python scripts/bench_kb.py --sizes 1000 --kb-sizes 1000 --json

Two parts:

1. **Indexes** (``--sizes``): synthetic unit vectors, 384-d (text) and 512-d (image), in the
   index kinds the store builds (:meth:`memory.indexes._Indexes._build`): exact inner product
   (``flat``) and the IVF index of :func:`memory.ann.build_ivf` (``ivf``: lists, training and
   the nprobe it picks by its own recall measurement, all as in the store; its build time
   includes that measurement). ``hnsw`` (M=32, efConstruction=80, efSearch from
   ``--ef-search``; what the store built before) can be added for comparison. Vectors
   (``--vectors``): ``minilm-like`` (default, :class:`memory.synthetic.MiniLMLike`: clustered
   and anisotropic like MiniLM sentence embeddings; queries are new draws from the same
   process, never stored vectors) or ``noise`` (64 isotropic Gaussian clusters, each query a
   stored vector moved to cosine ~0.7: what this benchmark used before; no text model makes it).
   Recall@10 is measured against exact search over the same vectors.
2. **Store** (``--kb-sizes``): a real :class:`memory.store.KnowledgeBase` on disk with that
   many plan items and as many skill items (bulk-added with precomputed vectors), closed
   and opened again (the index kind follows the size at open), then ``retrieve_for_task``
   and ``retrieve_for_skill`` timed end to end: index search, filters, SQLite reads and item
   parsing. The query embedding is excluded here (the store caches it); the MiniLM
   embedding time of a fresh query is measured separately at the end (``embed_ms``).

Searches run on one thread (one query at a time, as the agent asks); builds use
``--build-threads`` (default: every core).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def unit(rng: np.random.Generator, n: int, d: int, centers: np.ndarray | None = None) -> np.ndarray:
    """Unit vectors around 64 shared directions (real embeddings are clustered, not uniform)."""
    if centers is None:
        centers = rng.standard_normal((64, d), dtype=np.float32)
    out = np.empty((n, d), dtype=np.float32)
    for s in range(0, n, 100_000):  # in chunks: bounded temporary memory at 1M
        m = min(100_000, n - s)
        x = rng.standard_normal((m, d), dtype=np.float32)
        x += 2.0 * centers[rng.integers(0, len(centers), m)]
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s : s + m] = x
    return out


def queries_near(rng: np.random.Generator, vecs: np.ndarray, n: int) -> np.ndarray:
    """Queries about as far from their nearest item as a paraphrase: cosine ~0.7 to a stored vector.

    (MiniLM: "how should I pick up the cup?" vs "grasp the mug by its handle" is 0.58.) A query
    that nearly repeats a stored vector would make approximate search look better than it is.
    """
    noise = rng.standard_normal((n, vecs.shape[1]), dtype=np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = vecs[rng.integers(0, len(vecs), n)] + noise
    return q / np.linalg.norm(q, axis=1, keepdims=True)


#: the HNSW settings the store used before IVF (comparison only)
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 80


def build(faiss: Any, kind: str, vecs: np.ndarray) -> tuple[Any, dict[str, Any]]:
    from memory.ann import build_ivf

    d, ids = vecs.shape[1], np.arange(len(vecs), dtype=np.int64)
    if kind == "ivf":
        return build_ivf(faiss, vecs, ids)
    if kind == "flat":
        inner = faiss.IndexFlatIP(d)
    else:
        inner = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(vecs, ids)
    return index, {}


def make_vectors(rng: np.random.Generator, how: str, n: int, d: int, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Items and held-out queries: ``minilm-like`` (default) or ``noise`` (see the module docstring)."""
    if how == "minilm-like":
        from memory.synthetic import MiniLMLike

        gen = MiniLMLike(n, d, seed=int(rng.integers(2**31)))
        return gen.draw(n), gen.draw(n_queries)
    vecs = unit(rng, n, d)
    return vecs, queries_near(rng, vecs, n_queries)


def percentiles(ms: Sequence[float]) -> tuple[float, float]:
    return round(float(np.percentile(ms, 50)), 3), round(float(np.percentile(ms, 99)), 3)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_indexes(
    faiss: Any,
    sizes: Sequence[int],
    kinds: Sequence[str],
    n_queries: int,
    build_threads: int,
    rng: np.random.Generator,
    ef_values: Sequence[int],
    modalities: Sequence[str] = ("text", "image"),
    vectors: str = "minilm-like",
) -> list[dict[str, Any]]:
    from memory.ann import exact_top

    rows = []
    for n in sizes:
        for d, what in [m for m in ((384, "text"), (512, "image")) if m[1] in modalities]:
            vecs, queries = make_vectors(rng, vectors, n, d, n_queries)
            truth = exact_top(vecs, np.arange(n, dtype=np.int64), queries)  # recall needs the exact answer
            for kind in kinds:
                faiss.omp_set_num_threads(build_threads)
                t0 = time.perf_counter()
                index, info = build(faiss, kind, vecs)
                build_s = time.perf_counter() - t0
                faiss.omp_set_num_threads(1)
                for ef in ef_values if kind == "hnsw" else [0]:
                    if ef:
                        faiss.downcast_index(index.index).hnsw.efSearch = ef
                    lat, found = [], []
                    for q in queries:
                        t = time.perf_counter()
                        _, ids = index.search(q[None, :], 10)
                        lat.append((time.perf_counter() - t) * 1000)
                        found.append(ids[0])
                    recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)]))
                    p50, p99 = percentiles(lat)
                    row = {
                        "part": "index",
                        "items": n,
                        "modality": what,
                        "dim": d,
                        "vectors": vectors,
                        "index": kind,
                        "ef_search": ef or None,
                        "nlist": info.get("nlist"),
                        "nprobe": info.get("nprobe"),
                        "build_recall_at_10": info.get("recall_at_10"),
                        "build_s": round(build_s, 2),
                        "p50_ms": p50,
                        "p95_ms": round(float(np.percentile(lat, 95)), 3),
                        "p99_ms": p99,
                        "recall_at_10": round(recall, 4),
                        "index_mb": round(len(faiss.serialize_index(index)) / 2**20, 1),
                        "peak_rss_mb": round(rss_mb()),
                    }
                    rows.append(row)
                    label = f"{kind} ef{ef}" if ef else f"{kind} nprobe{info['nprobe']}" if info else kind
                    print(
                        f"{n:>8} {what:<5} {label:<12} build {build_s:8.2f} s  p50 {p50:8.3f} ms  "
                        f"p95 {row['p95_ms']:8.3f} ms  p99 {p99:8.3f} ms  recall@10 {recall:.3f}"
                        + (f" (at build: {info['recall_at_10']})" if info else "")
                        + f"  index {row['index_mb']:8.1f} MB  peak RSS {row['peak_rss_mb']} MB",
                        flush=True,
                    )
                del index
            del vecs
    return rows


def _table_embedder() -> Any:
    from memory.embedders import TextEmbedder

    class TableTextEmbedder(TextEmbedder):
        """Stands in for MiniLM in the store benchmark: queries map to precomputed vectors."""

        name = "all-MiniLM-L6-v2"
        dim = 384

        def __init__(self) -> None:
            self.table: dict[str, np.ndarray] = {}

        def embed(self, texts: Sequence[str]) -> np.ndarray:
            return np.vstack([self.table[t] for t in texts])

    return TableTextEmbedder()


def bench_store(
    faiss: Any,
    sizes: Sequence[int],
    n_queries: int,
    build_threads: int,
    rng: np.random.Generator,
    vectors: str = "minilm-like",
) -> list[dict[str, Any]]:
    from memory import KnowledgeBase, KnowledgeItem
    from robot_agent.config import MemoryConfig

    rows = []
    skills = ("pick", "place", "push", "open", "close")
    for n in sizes:
        tmp = tempfile.mkdtemp(prefix="bench_kb_")
        try:
            emb = _table_embedder()
            plan_vecs, tq = make_vectors(rng, vectors, n, 384, n_queries)
            skill_vecs, sq = make_vectors(rng, vectors, n, 384, n_queries)
            cfg = MemoryConfig(plan_threshold=-1.0, skill_threshold=-1.0)  # time the search, not the threshold
            faiss.omp_set_num_threads(build_threads)
            t0 = time.perf_counter()
            with KnowledgeBase(tmp, emb, config=cfg) as kb:
                for s in range(0, n, 20_000):
                    m = min(20_000, n - s)
                    kb.add_many(
                        [
                            KnowledgeItem("plan", f"synthetic rule {s + i}", scope={"task_family": "bench"})
                            for i in range(m)
                        ],
                        merge=False,
                        text_embs=plan_vecs[s : s + m],
                    )
                    kb.add_many(
                        [
                            KnowledgeItem(
                                "skill",
                                f"synthetic skill rule {s + i}",
                                scope={
                                    "skill": skills[(s + i) % 5],
                                    "object_category": "thing",
                                    "object_description": f"thing {s + i}",
                                },
                                parameters={"speed": 0.5},
                            )
                            for i in range(m)
                        ],
                        merge=False,
                        text_embs=skill_vecs[s : s + m],
                    )
            insert_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            KnowledgeBase(tmp, emb, config=cfg).close()  # first open: builds the right index kind and saves it
            first_open_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            kb = KnowledgeBase(tmp, emb, config=cfg)
            open_s = time.perf_counter() - t0
            faiss.omp_set_num_threads(1)
            try:
                kind = kb.stats()["indexes"]["plan_text"]["type"]
                for i in range(n_queries):
                    emb.table[f"task {i}"] = tq[i]
                    emb.table[f"pick the thing {i}"] = sq[i]
                    kb.retrieve_for_task(f"task {i}", k=5)  # warm the query cache: embedding is timed apart
                    kb.retrieve_for_skill("pick", f"thing {i}", k=3)
                task_ms, skill_ms, recall = [], [], []
                for i in range(n_queries):
                    t = time.perf_counter()
                    hits = kb.retrieve_for_task(f"task {i}", k=10)
                    task_ms.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    kb.retrieve_for_skill("pick", f"thing {i}", k=3)
                    skill_ms.append((time.perf_counter() - t) * 1000)
                    exact = set(np.argsort(-(plan_vecs @ tq[i]))[:10].tolist())
                    got = {int(h.rule.rsplit(" ", 1)[1]) for h, _ in hits}
                    recall.append(len(exact & got) / 10)
            finally:
                kb.close()
            size_mb = sum(f.stat().st_size for f in os.scandir(tmp) if f.is_file()) / 2**20
            for what, lat in (("retrieve_for_task", task_ms), ("retrieve_for_skill", skill_ms)):
                p50, p99 = percentiles(lat)
                row = {
                    "part": "store",
                    "items": 2 * n,
                    "call": what,
                    "index": kind,
                    "p50_ms": p50,
                    "p99_ms": p99,
                    "recall_at_10": round(float(np.mean(recall)), 4) if what == "retrieve_for_task" else None,
                    "insert_s": round(insert_s, 1),
                    "first_open_s": round(first_open_s, 1),
                    "open_s": round(open_s, 2),
                    "disk_mb": round(size_mb, 1),
                    "peak_rss_mb": round(rss_mb()),
                }
                rows.append(row)
                print(
                    f"store {2 * n:>8} items ({kind}) {what:<18} p50 {p50:7.3f} ms  p99 {p99:7.3f} ms  "
                    f"recall@10 {row['recall_at_10']}  insert {insert_s:.1f} s  first open {first_open_s:.1f} s  "
                    f"open {open_s:.2f} s  disk {size_mb:.0f} MB",
                    flush=True,
                )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


def bench_embedding(n: int = 50) -> float:
    from memory.embedders import MiniLMTextEmbedder

    emb = MiniLMTextEmbedder()
    emb.embed(["warm up"])
    t = time.perf_counter()
    for i in range(n):
        emb.embed([f"pick the blue tall mug number {i}"])
    ms = (time.perf_counter() - t) / n * 1000
    print(f"MiniLM query embedding: {ms:.1f} ms per query", flush=True)
    return ms


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000", help="index part: item counts (default 1000,100000)")
    ap.add_argument(
        "--kb-sizes",
        default="1000,50000",
        help="store part: plan items (as many skill items again) (default 1000,50000 = 2k and 100k items in all)",
    )
    ap.add_argument("--full", action="store_true", help="add 1,000,000 items to the index part (docs/benchmarks.md)")
    ap.add_argument("--kinds", default="flat,ivf", help="index kinds: flat, ivf, hnsw (default flat,ivf)")
    ap.add_argument(
        "--vectors", choices=("minilm-like", "noise"), default="minilm-like", help="synthetic vectors (docstring)"
    )
    ap.add_argument("--queries", type=int, default=200, help="queries per configuration (default 200)")
    ap.add_argument("--ef-search", default="512", help="hnsw: efSearch values to compare (default 512)")
    ap.add_argument("--modalities", default="text,image", help="index part: text, image or both (default)")
    ap.add_argument("--build-threads", type=int, default=os.cpu_count() or 1, help="threads for index builds")
    ap.add_argument("--no-embed", action="store_true", help="skip the MiniLM embedding timing")
    ap.add_argument("--json", action="store_true", help="print every figure as one JSON object at the end")
    args = ap.parse_args(argv)
    import faiss

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    rng = np.random.default_rng(0)
    sizes = [int(s) for s in args.sizes.split(",") if s] + ([1_000_000] if args.full else [])
    kb_sizes = [int(s) for s in args.kb_sizes.split(",") if s]
    ef_values = [int(e) for e in args.ef_search.split(",") if e] or [512]
    rows = bench_indexes(
        faiss,
        sizes,
        args.kinds.split(","),
        args.queries,
        args.build_threads,
        rng,
        ef_values,
        args.modalities.split(","),
        args.vectors,
    )
    rows += bench_store(faiss, kb_sizes, args.queries, args.build_threads, rng, args.vectors)
    embed_ms = None if args.no_embed else round(bench_embedding(), 2)
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
        f"faiss {faiss.__version__}, build threads {args.build_threads}"
    )
    print(f"machine: {machine}")
    if args.json:
        print(json.dumps({"rows": rows, "embed_ms": embed_ms, "machine": machine}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
