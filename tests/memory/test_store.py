"""Knowledge base: real MiniLM, real FAISS, real SQLite in tmp dirs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from memory import KnowledgeBase, KnowledgeItem
from robot_agent.config import MemoryConfig
from robot_agent.errors import KnowledgeBaseError, KnowledgeBaseLockedError


def skill_item(desc: str, params: dict, skill: str = "pick", cat: str = "mug", rule: str = "") -> KnowledgeItem:
    return KnowledgeItem("skill", rule or f"{skill} the {desc}", scope={"skill": skill, "object_category": cat,
                                                                       "object_description": desc},
                         parameters=params, provenance={"episode_ids": ["e1"], "corrections": [rule or "x"]})


@pytest.fixture
def kb(tmp_path: Path, text_embedder):
    with KnowledgeBase(tmp_path / "kb", text_embedder) as k:
        yield k


def test_paraphrase_ranks_first(kb: KnowledgeBase) -> None:
    kb.add(skill_item("white mug", {"grasp_region": "handle"}, rule="grasp the mug by its handle"))
    kb.add(skill_item("wood drawer cabinet", {"pull_distance": 0.2}, skill="open", cat="cabinet",
                      rule="pull the drawer out further"))
    kb.add(KnowledgeItem("plan", "fruit goes in the bowl", scope={"task_family": "put fruit away"}))
    kb.add(KnowledgeItem("plan", "open the cabinet before placing something in it",
                         scope={"task_family": "put block in drawer"}))
    hits = kb.search("how should I pick up the cup?")
    assert hits[0][0].rule == "grasp the mug by its handle"
    plan = kb.retrieve_for_task("place the blue cylinder inside the cabinet drawer")
    assert plan and plan[0][0].rule.startswith("open the cabinet")


def test_skill_retrieval_transfers_to_new_instances_and_rejects_unrelated(kb: KnowledgeBase) -> None:
    kb.add(skill_item("white standard mug", {"grasp_region": "handle"}))
    hits = kb.retrieve_for_skill("pick", "blue tall mug")
    assert hits and hits[0][0].parameters == {"grasp_region": "handle"}
    assert kb.retrieve_for_skill("pick", "red cube block") == []   # unrelated object: below threshold
    assert kb.retrieve_for_skill("place", "white standard mug") == []  # another skill: never transferred


def test_merge_supersedes_contradiction_and_keeps_provenance(kb: KnowledgeBase) -> None:
    old = kb.add(skill_item("white standard mug", {"grasp_region": "rim", "speed": 0.3}, rule="by the rim"))
    kb.record_outcome(old.id, True)
    new = kb.add(skill_item("white standard mug", {"grasp_region": "handle"}, rule="by the handle"))
    active = kb.list(kind="skill")
    assert [i.id for i in active] == [new.id]
    assert active[0].parameters == {"grasp_region": "handle", "speed": 0.3}  # newer wins, the rest is kept
    assert set(active[0].provenance["corrections"]) == {"by the rim", "by the handle"}
    assert active[0].provenance["supersedes"] == [old.id] and active[0].use_count == 1
    assert kb.get(old.id).superseded_by == new.id
    assert len(kb.list(include_superseded=True)) == 2
    assert [h[0].id for h in kb.retrieve_for_skill("pick", "white standard mug")] == [new.id]


def test_crud_and_outcomes(kb: KnowledgeBase) -> None:
    it = kb.add(skill_item("white mug", {"grasp_region": "handle"}))
    kb.record_outcome(it.id, True)
    kb.record_outcome(it.id, False)
    got = kb.get(it.id)
    assert (got.use_count, got.success_count) == (2, 1)
    kb.update(it.id, rule="always by the handle", parameters={"grasp_region": "handle", "speed": 0.4})
    assert kb.get(it.id).parameters["speed"] == 0.4
    with pytest.raises(KnowledgeBaseError, match="outside"):
        kb.update(it.id, parameters={"speed": 7.0})
    kb.delete(it.id)
    with pytest.raises(KnowledgeBaseError, match="no knowledge item"):
        kb.get(it.id)
    assert kb.retrieve_for_skill("pick", "white mug") == []


def test_item_validation() -> None:
    with pytest.raises(KnowledgeBaseError, match="kind"):
        KnowledgeItem("vibe", "x")
    with pytest.raises(KnowledgeBaseError, match="scope.skill"):
        KnowledgeItem("skill", "x", scope={"skill": "fly"}, parameters={"speed": 0.5})
    with pytest.raises(KnowledgeBaseError, match="pick.speed"):
        KnowledgeItem("skill", "x", scope={"skill": "pick"}, parameters={"speed": 9})
    with pytest.raises(KnowledgeBaseError, match="unknown field"):
        KnowledgeItem.from_dict({"kind": "plan", "rule": "x", "evil": 1})
    it = KnowledgeItem("plan", "open first", parameters={"constraint": {"type": "order"}})
    assert KnowledgeItem.from_dict(json.loads(json.dumps(it.to_dict()))) == it


def test_persistence_and_truncated_index_rebuilt(tmp_path: Path, text_embedder) -> None:
    d = tmp_path / "kb"
    with KnowledgeBase(d, text_embedder) as kb:
        a = kb.add(skill_item("white mug", {"grasp_region": "handle"}))
    with KnowledgeBase(d, text_embedder) as kb:
        assert kb.open_report == [] and kb.get(a.id).parameters == {"grasp_region": "handle"}
    (d / "skill_text.faiss").write_bytes((d / "skill_text.faiss").read_bytes()[:20])
    with KnowledgeBase(d, text_embedder) as kb:
        assert any("skill_text.faiss" in m and "rebuilt" in m for m in kb.open_report)
        assert kb.retrieve_for_skill("pick", "white mug")[0][0].id == a.id
    with KnowledgeBase(d, text_embedder) as kb:
        assert kb.open_report == []  # the rebuilt index was saved


def test_garbage_database_is_a_clear_error_and_untouched(tmp_path: Path, text_embedder) -> None:
    d = tmp_path / "kb"
    d.mkdir()
    junk = b"this is not sqlite at all" * 100
    (d / "kb.sqlite").write_bytes(junk)
    with pytest.raises(KnowledgeBaseError) as info:
        KnowledgeBase(d, text_embedder)
    assert "kb.sqlite" in str(info.value)
    assert (d / "kb.sqlite").read_bytes() == junk
    # A lock is not left behind by the failed open.
    (d / "kb.sqlite").unlink()
    KnowledgeBase(d, text_embedder).close()


def test_newer_schema_refused(tmp_path: Path, text_embedder) -> None:
    d = tmp_path / "kb"
    KnowledgeBase(d, text_embedder).close()
    con = sqlite3.connect(d / "kb.sqlite")
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(KnowledgeBaseError, match="schema version 99 is newer"):
        KnowledgeBase(d, text_embedder)


WRITER = """
import sys
from memory import KnowledgeBase, KnowledgeItem
from memory.embedders import TextEmbedder
import numpy as np, zlib

class HashEmbedder(TextEmbedder):
    name = "all-MiniLM-L6-v2"; dim = 384
    def embed(self, texts):
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, zlib.crc32(t.encode()) % 384] = 1.0
        return out

kb = KnowledgeBase(sys.argv[1], HashEmbedder())
print("open", flush=True)
if len(sys.argv) > 2:
    import time; time.sleep(60)
for n in range(100000):
    it = kb.add(KnowledgeItem("plan", f"rule number {n}", scope={"task_family": "t"}), merge=False)
    print(it.id, flush=True)
"""


def _writer(tmp_path: Path, *extra: str) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "kb"), *extra], stdout=subprocess.PIPE,
                            text=True)


def test_kill_9_mid_add_loses_nothing_committed(tmp_path: Path, text_embedder) -> None:
    proc = _writer(tmp_path)
    assert proc.stdout.readline().strip() == "open"
    committed = []
    deadline = time.time() + 30
    while len(committed) < 40 and time.time() < deadline:
        committed.append(proc.stdout.readline().strip())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with KnowledgeBase(tmp_path / "kb", text_embedder) as kb:
        ids = {i.id for i in kb.list(include_superseded=True)}
        assert set(committed) <= ids
        assert kb.stats()["indexes"]["plan_text"] == len(ids)  # the index was rebuilt to match


def test_second_writer_gets_locked_error(tmp_path: Path, text_embedder) -> None:
    proc = _writer(tmp_path, "hold")
    try:
        assert proc.stdout.readline().strip() == "open"
        with pytest.raises(KnowledgeBaseLockedError, match="locked by another writer"):
            KnowledgeBase(tmp_path / "kb", text_embedder)
        ro = KnowledgeBase(tmp_path / "kb", text_embedder, read_only=True)  # readers are welcome
        with pytest.raises(KnowledgeBaseError, match="read-only"):
            ro.add(KnowledgeItem("plan", "x"))
        ro.close()
    finally:
        proc.kill()
        proc.wait()


def test_export_import_round_trip(tmp_path: Path, text_embedder) -> None:
    with KnowledgeBase(tmp_path / "a", text_embedder) as a:
        a.add(skill_item("white mug", {"grasp_region": "rim"}))
        a.add(skill_item("white mug", {"grasp_region": "handle"}))
        a.add(KnowledgeItem("plan", "fruit goes in the bowl"))
        a.export(tmp_path / "kb.jsonl")
        before = sorted((i.to_dict() for i in a.list(include_superseded=True)), key=lambda d: d["id"])
        hits_a = [(i.id, round(s, 5)) for i, s in a.search("mug")]
    with KnowledgeBase(tmp_path / "b", text_embedder) as b:
        assert b.import_file(tmp_path / "kb.jsonl") == 3
        after = sorted((i.to_dict() for i in b.list(include_superseded=True)), key=lambda d: d["id"])
        assert after == before
        assert [(i.id, round(s, 5)) for i, s in b.search("mug")] == hits_a
        with pytest.raises(KnowledgeBaseError, match="already exists"):
            b.import_file(tmp_path / "kb.jsonl")


@pytest.mark.parametrize("content, words", [
    ("", "empty file"), ("hello\n", "not a robot_agent knowledge-base export"),
    ('{"robot_agent_kb_export": 1, "text_model": "all-MiniLM-L6-v2", "text_dim": 384}\n{"item": 5}\n', ":2: bad"),
    ('{"robot_agent_kb_export": 1, "text_model": "all-MiniLM-L6-v2", "text_dim": 384}\n'
     '{"item": {"kind": "plan", "rule": "x"}, "text_emb": "AAAAAAAAAAA="}\n', ":2: text embedding has 2 values"),
])
def test_bad_import_files_are_refused_whole(kb: KnowledgeBase, tmp_path: Path, content: str, words: str) -> None:
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(KnowledgeBaseError, match=words):
        kb.import_file(p)
    assert len(kb) == 0


def test_approximate_index_above_threshold(tmp_path: Path, text_embedder) -> None:
    cfg = MemoryConfig(approx_above=1000)
    with KnowledgeBase(tmp_path / "kb", text_embedder, config=cfg) as kb:
        rng = np.random.default_rng(0)
        vecs = rng.normal(size=(1200, 384)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        for i in range(1200):
            kb.add(KnowledgeItem("plan", f"rule {i}"), merge=False, text_emb=vecs[i])
        kb._refresh(["plan_text"])
        assert "HNSW" in type(kb.faiss.downcast_index(kb._indexes["plan_text"].index)).__name__
        exact = vecs @ vecs[:50].T
        recall = []
        for q in range(50):
            truth = set(np.argsort(-exact[:, q])[:10] + 1)  # rids start at 1
            got = {r for r, _ in kb._search("plan_text", vecs[q], 10)}
            recall.append(len(truth & got) / 10)
        assert np.mean(recall) >= 0.95
