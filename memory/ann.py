"""The approximate index of a large knowledge base: IVF-Flat, sized and tuned by measurement.

Above ``memory.approx_above`` items an index is an inverted file (``IndexIVFFlat``, inner
product) keyed by SQLite row id: the vectors are split into ``nlist`` lists by k-means and a
query scores, exactly, the items of the ``nprobe`` lists whose centroids are nearest to it.
Candidates are scored with the stored float vectors, so there is nothing to re-rank: a miss
can only come from a neighbour in a list that was not probed.

Why IVF and not HNSW (docs/memory.md, "Scale"): at 1,000,000 items on this 2-core machine HNSW
(M=32, efConstruction=80) took 19 minutes to build and, at efSearch 512, found 81% of the exact
top 10 (isotropic clustered vectors); IVF-Flat builds in one to two minutes, finds 0.988 of it
at 2.7 ms p50 (MiniLM-like vectors; 1.0 on the isotropic ones), and removes deleted items for
real (HNSW could only filter them at query time).

``nprobe`` is chosen when the index is built: the smallest power of two whose recall@10 on a
sample of queries reaches :data:`TARGET_RECALL`, measured against exact search over the same
vectors. The sample's queries are stored vectors pushed to paraphrase distance in random
directions, which is harsher than new sentences: at 1M MiniLM-like items the nprobe picked this
way (64 of 2048 lists, 0.97+ on the sample) found 0.985-0.988 of the exact top 10 for held-out
queries, where 32 lists already gave 0.974 (docs/benchmarks.md). The figure measured is kept with the
index (``kb stats`` shows it).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: the recall@10 the build-time measurement must reach (the requirement is 0.95; this is the margin)
TARGET_RECALL = 0.97
#: queries of the build-time recall measurement
RECALL_QUERIES = 200
#: k-means: training points per list and iterations (more buys little recall and costs minutes at 1M)
TRAIN_PER_LIST, TRAIN_ITERATIONS = 40, 10
#: lists: about 4 x sqrt(n), a power of two, with at least this many items per list, at most this many
MIN_PER_LIST, MAX_LISTS = 39, 2048
#: an index whose size asks for this many times more lists than it has is rebuilt at open
REBUILD_GROWTH = 4


def nlist_for(n: int) -> int:
    """Number of IVF lists for ``n`` vectors: ~4 sqrt(n), a power of two, >= 39 items per list."""
    want = 2 ** round(math.log2(max(4 * math.sqrt(max(n, 1)), 1)))
    cap = 2 ** int(math.log2(max(n // MIN_PER_LIST, 1)))
    return int(max(1, min(want, cap, MAX_LISTS)))


def kind(faiss: Any, index: Any) -> str:
    """``flat``, ``ivf`` or ``hnsw`` (an index file written by an older robot_agent)."""
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    if isinstance(index, faiss.IndexIDMap2):
        inner = faiss.downcast_index(index.index)
        if isinstance(inner, faiss.IndexHNSW):
            return "hnsw"
        if isinstance(inner, faiss.IndexFlat):
            return "flat"
    return "other"


def ids_of(faiss: Any, index: Any) -> np.ndarray:
    """The ids (row ids) an index holds, in no particular order."""
    if not isinstance(index, faiss.IndexIVF):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    inv = index.invlists
    parts = []
    for lst in range(index.nlist):
        size = inv.list_size(lst)
        if size:
            ptr = inv.get_ids(lst)
            parts.append(faiss.rev_swig_ptr(ptr, size).astype(np.int64))
            inv.release_ids(lst, ptr)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def paraphrase_queries(rng: np.random.Generator, vecs: np.ndarray, n: int) -> np.ndarray:
    """Stored vectors moved to cosine ~0.7 of themselves (as far as a paraphrase), unit length."""
    noise = rng.standard_normal((n, vecs.shape[1])).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = vecs[rng.integers(0, len(vecs), n)] + noise
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_top(vecs: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Exact inner-product top ``k`` ids per query, in chunks (bounded memory at 1M vectors)."""
    best_s = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), 0), dtype=np.int64)
    for s in range(0, len(vecs), 65536):
        sc = queries @ vecs[s : s + 65536].T
        top = np.argpartition(-sc, min(k, sc.shape[1] - 1), axis=1)[:, :k] if sc.shape[1] > k else None
        cs = np.take_along_axis(sc, top, 1) if top is not None else sc
        ci = ids[s : s + 65536][top] if top is not None else np.broadcast_to(ids[s : s + 65536], sc.shape)
        best_s, best_i = np.hstack([best_s, cs]), np.hstack([best_i, ci])
        keep = np.argsort(-best_s, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(best_s, keep, 1), np.take_along_axis(best_i, keep, 1)
    return best_i


def recall_at_10(index: Any, queries: np.ndarray, truth: np.ndarray, nprobe: int | None = None) -> float:
    """Mean share of the exact top 10 found in the index's top 10."""
    if nprobe is not None:
        index.nprobe = nprobe
    _, got = index.search(queries, 10)
    return float(np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(got, truth, strict=True)]))


def build_ivf(
    faiss: Any, vecs: np.ndarray, ids: np.ndarray, seed: int = 0, queries: np.ndarray | None = None
) -> tuple[Any, dict[str, Any]]:
    """Train, fill and tune an IVF-Flat index; returns it and what was measured.

    Args:
        vecs / ids: unit float32 rows and their row ids.
        queries: the measurement's queries; default :data:`RECALL_QUERIES` stored vectors moved
            to paraphrase distance (:func:`paraphrase_queries`), drawn with ``seed``.

    Returns:
        ``(index, info)``; ``info`` holds ``nlist``, ``nprobe``, ``recall_at_10`` (measured at the
        chosen ``nprobe`` against exact search), ``recall_queries`` and ``measured_on`` (vectors).
    """
    n, d = vecs.shape
    rng = np.random.default_rng(seed)
    nlist = nlist_for(n)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = TRAIN_ITERATIONS
    index.cp.max_points_per_centroid = TRAIN_PER_LIST
    index.cp.seed = seed
    train = vecs if n <= TRAIN_PER_LIST * nlist else vecs[np.sort(rng.choice(n, TRAIN_PER_LIST * nlist, replace=False))]
    index.train(np.ascontiguousarray(train, dtype=np.float32))
    for s in range(0, n, 200_000):
        index.add_with_ids(np.ascontiguousarray(vecs[s : s + 200_000]), np.ascontiguousarray(ids[s : s + 200_000]))
    if queries is None:
        queries = paraphrase_queries(rng, vecs, min(RECALL_QUERIES, n))
    truth = exact_top(vecs, ids, queries)
    nprobe = 1
    while (recall := recall_at_10(index, queries, truth, nprobe)) < TARGET_RECALL and nprobe < nlist:
        nprobe = min(nlist, nprobe * 2)
    info = {
        "nlist": nlist,
        "nprobe": nprobe,
        "recall_at_10": round(recall, 4),
        "recall_queries": len(queries),
        "measured_on": n,
    }
    return index, info
