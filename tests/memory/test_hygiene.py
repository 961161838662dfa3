"""Knowledge hygiene: per-item record, demotion and retirement after corrected uses, restore, merging."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory import KnowledgeBase, KnowledgeItem
from robot_agent.errors import KnowledgeBaseError


def mug_item(region: str = "handle") -> KnowledgeItem:
    return KnowledgeItem(
        "skill",
        f"pick the mug: grasp_region={region}",
        scope={"skill": "pick", "object_category": "mug", "object_description": "white standard mug"},
        parameters={"grasp_region": region},
        provenance={"corrections": ["by the handle"], "timestamps": [1.0]},
    )


@pytest.fixture
def kb(tmp_path: Path, text_embedder):
    with KnowledgeBase(tmp_path / "kb", text_embedder) as k:
        yield k


def test_corrected_uses_demote_then_retire_and_restore_brings_it_back(kb: KnowledgeBase) -> None:
    item = kb.add(mug_item())
    found = lambda: [i.id for i, _ in kb.retrieve_for_skill("pick", "white standard mug", category="mug")]  # noqa: E731
    assert found() == [item.id]
    after = kb.record_outcome(item.id, False, corrected=True)
    assert (after.status, after.corrected_count, after.use_count, after.success_count) == ("demoted", 1, 1, 0)
    assert found() == [item.id]  # demoted: still retrieved, loses conflicts with active items
    assert kb.record_outcome(item.id, True).status == "active"  # a success in between: recovered
    kb.record_outcome(item.id, False, corrected=True)
    retired = kb.record_outcome(item.id, False, corrected=True)
    assert retired.status == "retired" and retired.corrected_count == 3
    assert found() == []  # never retrieved
    assert [i.status for i in kb.list() if i.id == item.id] == ["retired"]  # visible to the operator
    restored = kb.restore(item.id)
    assert restored.status == "active" and restored.provenance["restored"][0]["from"] == "retired"
    assert found() == [item.id]


def test_the_same_knowledge_said_again_is_one_item_with_the_counts_added(kb: KnowledgeBase) -> None:
    first = kb.add(mug_item())
    kb.record_outcome(first.id, True)
    kb.record_outcome(first.id, False, corrected=True)
    again = kb.add(mug_item())
    assert len(kb.list(kind="skill")) == 1
    assert (again.use_count, again.success_count, again.corrected_count) == (2, 1, 1)
    # a contradicting item: the operator's latest word replaces it, its record is history
    rim = kb.add(mug_item("rim"))
    assert [i.id for i in kb.list(kind="skill")] == [rim.id] and rim.use_count == 0


def test_restore_refuses_a_superseded_item_and_an_old_item_loads_as_active(kb: KnowledgeBase) -> None:
    first = kb.add(mug_item())
    kb.add(mug_item("rim"))
    with pytest.raises(KnowledgeBaseError, match="superseded"):
        kb.restore(first.id)
    old = {k: v for k, v in mug_item().to_dict().items() if k not in ("status", "corrected_count")}
    assert KnowledgeItem.from_dict(old).status == "active"


def test_kb_list_shows_the_status_and_kb_restore_undoes_a_retirement(tmp_path: Path, text_embedder, capsys) -> None:
    from robot_agent.cli import main

    d = tmp_path / "kb"
    with KnowledgeBase(d, text_embedder) as kb:
        item = kb.add(mug_item())
        kb.record_outcome(item.id, False, corrected=True)
        kb.record_outcome(item.id, False, corrected=True)
    assert main(["kb", "list", "--kb", str(d)]) == 0
    out = capsys.readouterr().out
    assert "status" in out.splitlines()[0] and "retired" in out
    assert main(["kb", "restore", item.id, "--kb", str(d)]) == 0
    assert "restored" in capsys.readouterr().out
    assert main(["kb", "list", "--kb", str(d), "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["status"], listed["corrected_count"]) == ("active", 2)
