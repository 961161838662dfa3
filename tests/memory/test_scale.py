"""The approximate (IVF) index of a large store: recall, deletes and edits, save/load, kind by size.

Sizes are small (20,000 items, seconds); the 1,000,000-item figures come from
``robot-agent bench perf --kb-full`` (docs/benchmarks.md), which builds the same index.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from memory import KnowledgeBase, KnowledgeItem, ann
from memory.synthetic import MiniLMLike
from robot_agent.config import MemoryConfig

faiss = pytest.importorskip("faiss")

N = 20_000
CFG = MemoryConfig(approx_above=10_000)


def plan(i: int) -> KnowledgeItem:
    return KnowledgeItem("plan", f"synthetic rule {i}", scope={"task_family": "scale"})


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    gen = MiniLMLike(N, seed=3)
    return gen.draw(N), gen.draw(100)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, text_embedder, data) -> tuple[Path, list[KnowledgeItem]]:
    """A store of N plan items, closed once (flat then), so that the next open builds the IVF index."""
    vecs, _ = data
    d = tmp_path_factory.mktemp("scale") / "kb"
    with KnowledgeBase(d, text_embedder, config=CFG) as kb:
        items = kb.add_many([plan(i) for i in range(N)], merge=False, text_embs=vecs)
    return d, items


@pytest.fixture
def big(tmp_path: Path, built) -> tuple[Path, list[KnowledgeItem]]:
    """A fresh copy of ``built`` for each test."""
    shutil.copytree(built[0], tmp_path / "kb", ignore=shutil.ignore_patterns("writer.lock"))
    return tmp_path / "kb", built[1]


def recall(kb: KnowledgeBase, items: list[KnowledgeItem], vecs: np.ndarray, queries: np.ndarray) -> float:
    found = []
    for q in queries:
        truth = {items[j].id for j in np.argsort(-(vecs @ q))[:10]}
        found.append(len(truth & {i.id for i, _ in kb.search_embedding(q, k=10)}) / 10)
    return float(np.mean(found))


def test_ivf_above_threshold_finds_the_exact_top_10(big, text_embedder, data) -> None:
    d, items = big
    vecs, queries = data
    with KnowledgeBase(d, text_embedder, config=CFG) as kb:
        st = kb.stats()["indexes"]["plan_text"]
        assert st["type"] == "ivf" and st["vectors"] == N and kb.open_report == []
        assert st["recall_at_10"] >= ann.TARGET_RECALL and st["measured_on"] == N and st["nlist"] == 512
        # Held-out queries (new draws, not stored vectors) against exact inner-product search.
        assert recall(kb, items, vecs, queries) >= 0.95
    # The build-time measurement and the tuned nprobe survive save and load (no rebuild).
    with KnowledgeBase(d, text_embedder, config=CFG, read_only=True) as kb:
        assert kb.stats()["indexes"]["plan_text"] == st


def test_deletes_and_edits_leave_the_ivf_index_at_once_and_after_reopening(big, text_embedder, data) -> None:
    d, items = big
    vecs, _ = data
    with KnowledgeBase(d, text_embedder, config=CFG) as kb:
        index = kb._indexes["plan_text"]
        gone = [items[i].id for i in range(5)]
        for item_id in gone:
            kb.delete(item_id)
        edited = kb.update(items[5].id, rule="an edited rule")  # a new row; the old vector goes
        assert kb._indexes["plan_text"] is index and index.ntotal == N - 5  # removed, not rebuilt
        hits = kb.search_embedding(vecs[0], k=10)
        assert items[0].id not in {i.id for i, _ in hits}
        assert sorted(ann.ids_of(faiss, index).tolist()) == sorted(kb._active)
    with KnowledgeBase(d, text_embedder, config=CFG) as kb:
        assert kb.open_report == [] and kb.stats()["indexes"]["plan_text"]["type"] == "ivf"
        assert sorted(ann.ids_of(faiss, kb._indexes["plan_text"]).tolist()) == sorted(kb._active)
        assert not {i.id for i, _ in kb.search_embedding(vecs[1], k=10)} & set(gone)
        rid = kb._sql("SELECT rid FROM items WHERE id=? AND superseded_by IS NULL", [edited.id])[0][0]
        _, stored = kb._vectors("plan_text", [rid])  # the edited item's new vector, as stored
        assert kb.search_embedding(stored[0], k=1)[0][0].id == edited.id


def test_ivf_index_behind_the_database_is_caught_up(big, text_embedder, data) -> None:
    """The writer died before saving: deletes and adds since the saved file are applied at open."""
    d, items = big
    vecs, _ = data
    with KnowledgeBase(d, text_embedder, config=CFG):
        pass  # builds and saves the IVF index
    kb = KnowledgeBase(d, text_embedder, config=CFG)
    kb.delete(items[0].id)
    new = kb.add_many([plan(N)], merge=False, text_embs=vecs[:1])[0]
    kb._dirty.clear()  # as if killed: the index file keeps the old vectors
    kb.close()
    with KnowledgeBase(d, text_embedder, config=CFG) as kb:
        index = kb._indexes["plan_text"]
        assert kb.stats()["indexes"]["plan_text"]["type"] == "ivf" and index.ntotal == N
        assert sorted(ann.ids_of(faiss, index).tolist()) == sorted(kb._active)
        ids = [i.id for i, _ in kb.search_embedding(vecs[0], k=3)]
        assert new.id == ids[0] and items[0].id not in ids


def test_kind_follows_the_size_at_open(tmp_path: Path, text_embedder, data) -> None:
    vecs, _ = data
    cfg = MemoryConfig(approx_above=1000)
    d = tmp_path / "kb"
    with KnowledgeBase(d, text_embedder, config=cfg) as kb:
        items = kb.add_many([plan(i) for i in range(1200)], merge=False, text_embs=vecs[:1200])
        assert kb.stats()["indexes"]["plan_text"]["type"] == "flat"  # grows in the open store: flat
    with KnowledgeBase(d, text_embedder, config=cfg) as kb:
        assert kb.stats()["indexes"]["plan_text"]["type"] == "ivf"
        for item in items[:300]:
            kb.delete(item.id)
    with KnowledgeBase(d, text_embedder, config=cfg) as kb:  # shrank under the threshold: exact again
        assert kb.stats()["indexes"]["plan_text"] == {"vectors": 900, "type": "flat", "recall_at_10": 1.0}


def test_an_hnsw_file_of_an_older_version_is_rebuilt_as_ivf(tmp_path: Path, text_embedder, data) -> None:
    vecs, _ = data
    cfg = MemoryConfig(approx_above=1000)
    d = tmp_path / "kb"
    with KnowledgeBase(d, text_embedder, config=cfg) as kb:
        kb.add_many([plan(i) for i in range(1500)], merge=False, text_embs=vecs[:1500])
        old = faiss.IndexIDMap2(faiss.IndexHNSWFlat(384, 16, faiss.METRIC_INNER_PRODUCT))
        old.add_with_ids(vecs[:1500], np.asarray(sorted(kb._active), dtype=np.int64))
        kb._indexes["plan_text"] = old
        kb._dirty.add("plan_text")  # saved with its checksum, as the older version did
    with KnowledgeBase(d, text_embedder, config=cfg) as kb:
        st = kb.stats()["indexes"]["plan_text"]
        assert st["type"] == "ivf" and st["vectors"] == 1500 and st["recall_at_10"] >= ann.TARGET_RECALL


def test_nlist_grows_with_the_store() -> None:
    assert [ann.nlist_for(n) for n in (1000, 20_000, 100_000, 1_000_000, 10_000_000)] == [16, 512, 1024, 2048, 2048]
