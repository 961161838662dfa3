#!/usr/bin/env python3
"""Knowledge-base retrieval benchmark: latency p50/p99, recall@10, build time and memory.

Usage: python scripts/bench_kb.py [--sizes 1000,100000,1000000] [--queries 200] [--json]

Synthetic unit vectors (384-d text, 512-d image) stand in for embeddings; the indexes are
the ones the knowledge base builds (``memory.store.KnowledgeBase._new_index``): exact
inner-product search (flat) and HNSW (M=32, efSearch=128) wrapped in an ID map.
Recall@10 is measured against exact search on the same vectors. Query embedding time is
not included (MiniLM takes about 5-10 ms per query on this machine, measured separately
below as `embed_ms`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time

import numpy as np


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    # Clustered like real embeddings: mix in a few shared directions.
    centers = rng.standard_normal((64, d), dtype=np.float32)
    x += 2.0 * centers[rng.integers(0, 64, n)]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def build(faiss, kind: str, d: int, vecs: np.ndarray):  # noqa: ANN001, ANN201
    if kind == "flat":
        inner = faiss.IndexFlatIP(d)
    else:
        inner = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 80
        inner.hnsw.efSearch = 128
    index = faiss.IndexIDMap2(inner)
    index.add_with_ids(vecs, np.arange(len(vecs), dtype=np.int64))
    return index


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--kinds", default="flat,hnsw")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import faiss

    faiss.omp_set_num_threads(1)  # one query at a time, as the agent asks
    rng = np.random.default_rng(0)
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        for d, what in ((384, "text"), (512, "image")):
            vecs = unit(rng, n, d)
            queries = vecs[rng.integers(0, n, args.queries)] + 0.05 * unit(rng, args.queries, d)
            queries /= np.linalg.norm(queries, axis=1, keepdims=True)
            truth = None
            for kind in args.kinds.split(","):
                rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                t0 = time.perf_counter()
                index = build(faiss, kind, d, vecs)
                build_s = time.perf_counter() - t0
                lat = []
                found = []
                for q in queries:
                    t = time.perf_counter()
                    _, ids = index.search(q[None, :], 10)
                    lat.append((time.perf_counter() - t) * 1000)
                    found.append(ids[0])
                if kind == "flat":
                    truth = found
                recall = (float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
                          if truth is not None else float("nan"))
                mem_mb = len(faiss.serialize_index(index)) / 2**20
                row = {"items": n, "modality": what, "dim": d, "index": kind, "build_s": round(build_s, 2),
                       "p50_ms": round(float(np.percentile(lat, 50)), 3), "p99_ms": round(float(np.percentile(lat, 99)), 3),
                       "recall_at_10": round(recall, 4), "index_mb": round(mem_mb, 1),
                       "peak_rss_mb": round(max(rss0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024, 0)}
                rows.append(row)
                print(f"{n:>8} {what:<5} {kind:<5} build {build_s:7.2f} s  p50 {row['p50_ms']:8.3f} ms  "
                      f"p99 {row['p99_ms']:8.3f} ms  recall@10 {row['recall_at_10']:.3f}  index {mem_mb:8.1f} MB",
                      flush=True)
                del index
            del vecs
    from memory.embedders import MiniLMTextEmbedder

    emb = MiniLMTextEmbedder()
    emb.embed(["warm up"])
    t = time.perf_counter()
    for i in range(50):
        emb.embed([f"pick the blue tall mug number {i}"])
    embed_ms = (time.perf_counter() - t) / 50 * 1000
    print(f"MiniLM query embedding: {embed_ms:.1f} ms per query")
    out = {"rows": rows, "embed_ms": round(embed_ms, 2),
           "machine": f"{platform.machine()} {os.cpu_count()} cores, faiss {faiss.__version__}"}
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
