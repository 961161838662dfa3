"""The operator's ``robot-agent kb`` commands, on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from memory import KnowledgeBase, KnowledgeItem
from robot_agent.cli import main


@pytest.fixture
def store(tmp_path: Path, text_embedder) -> tuple[Path, str, str]:
    d = tmp_path / "kb"
    with KnowledgeBase(d, text_embedder) as kb:
        a = kb.add(KnowledgeItem("skill", "grasp the mug by its handle",
                                 scope={"skill": "pick", "object_category": "mug", "object_description": "white mug"},
                                 parameters={"grasp_region": "handle"}))
        b = kb.add(KnowledgeItem("plan", "open the cabinet before placing something in it"))
    return d, a.id, b.id


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_list_show_search_stats(store, capsys) -> None:
    d, a, b = store
    code, out = run(capsys, "kb", "list", "--kb", str(d))
    assert code == 0 and "grasp the mug by its handle" in out and "2 item(s)" in out
    code, out = run(capsys, "kb", "list", "--kb", str(d), "--kind", "plan", "--json")
    assert [i["id"] for i in json.loads(out)] == [b]
    code, out = run(capsys, "kb", "show", a, "--kb", str(d), "--json")
    assert json.loads(out)["parameters"] == {"grasp_region": "handle"}
    code, out = run(capsys, "kb", "search", "how do I hold a cup", "--kb", str(d), "--json")
    assert json.loads(out)[0]["id"] == a
    code, out = run(capsys, "kb", "stats", "--kb", str(d), "--json")
    assert json.loads(out)["items"] == 2


def test_edit_delete_export_import(store, capsys, tmp_path: Path) -> None:
    d, a, b = store
    code, out = run(capsys, "kb", "edit", a, "--kb", str(d), "--set", "speed=0.3", "--rule", "hold mugs by the handle")
    assert code == 0 and "updated" in out
    code, out = run(capsys, "kb", "show", a, "--kb", str(d), "--json")
    assert json.loads(out)["parameters"] == {"grasp_region": "handle", "speed": 0.3}
    assert main(["kb", "edit", a, "--kb", str(d), "--set", "speed=9"]) == 2  # refused, clear error
    assert "outside" in capsys.readouterr().err
    code, out = run(capsys, "kb", "export", str(tmp_path / "x.jsonl"), "--kb", str(d), "--json")
    assert json.loads(out)["exported"] == 2
    code, out = run(capsys, "kb", "delete", b, "--kb", str(d))
    assert code == 0
    assert main(["kb", "show", b, "--kb", str(d)]) == 2
    assert "no knowledge item" in capsys.readouterr().err
    code, out = run(capsys, "kb", "import", str(tmp_path / "x.jsonl"), "--kb", str(tmp_path / "fresh"), "--json")
    assert json.loads(out) == {"imported": 2}


def test_missing_store_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["kb", "list", "--kb", str(tmp_path / "nothing")]) == 2
    assert "no knowledge base here" in capsys.readouterr().err
