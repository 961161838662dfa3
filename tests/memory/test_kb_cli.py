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
        a = kb.add(
            KnowledgeItem(
                "skill",
                "grasp the mug by its handle",
                scope={"skill": "pick", "object_category": "mug", "object_description": "white mug"},
                parameters={"grasp_region": "handle"},
                provenance={"episode_ids": ["ep-7"], "corrections": ["no, by the handle"]},
            )
        )
        b = kb.add(
            KnowledgeItem(
                "plan", "open the cabinet before placing something in it", scope={"task_family": "put block in cabinet"}
            )
        )
    return d, a.id, b.id


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_list_show_search_stats(store, capsys) -> None:
    d, a, b = store
    code, out = run(capsys, "kb", "list", "--kb", str(d))
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:4] == ["id", "kind", "scope", "category"]
    assert any(a in ln and "grasp the mug by its handle" in ln and "mug" in ln for ln in lines)
    assert lines[-1] == "2 item(s)"
    code, out = run(capsys, "kb", "list", "--kb", str(d), "--kind", "plan", "--json")
    assert [i["id"] for i in json.loads(out)] == [b]
    code, out = run(capsys, "kb", "list", "--kb", str(d), "--category", "mug", "--json")
    assert [i["id"] for i in json.loads(out)] == [a]
    code, out = run(capsys, "kb", "show", a, "--kb", str(d), "--json")
    assert json.loads(out)["parameters"] == {"grasp_region": "handle"}
    code, out = run(capsys, "kb", "show", a, "--kb", str(d))
    assert 'grasp_region: "handle"' in out and "- no, by the handle" in out and "ep-7" in out
    code, out = run(capsys, "kb", "search", "how do I hold a cup", "--kb", str(d), "--json")
    assert json.loads(out)[0]["id"] == a and json.loads(out)[0]["score"] > 0.3
    code, out = run(capsys, "kb", "search", "how do I hold a cup", "--kb", str(d), "--kind", "plan", "--json")
    assert [h["id"] for h in json.loads(out)] == [b]
    code, out = run(capsys, "kb", "search", "how do I hold a cup", "--kb", str(d))
    assert out.splitlines()[0].split()[:2] == ["score", "id"] and a in out.splitlines()[1]
    code, out = run(capsys, "kb", "stats", "--kb", str(d), "--json")
    st = json.loads(out)
    assert st["items"] == 2 and st["indexes"]["skill_text"] == {"vectors": 1, "type": "flat", "recall_at_10": 1.0}
    code, out = run(capsys, "kb", "stats", "--kb", str(d))
    assert "active items:  2" in out and "text-only" in out and "(flat, exact: recall@10 1.0)" in out


def test_edit_delete_export_import(store, capsys, tmp_path: Path) -> None:
    d, a, b = store
    code, out = run(capsys, "kb", "edit", a, "--kb", str(d), "--set", "speed=0.3", "--rule", "hold mugs by the handle")
    assert code == 0 and out.startswith(f"updated {a}")
    code, out = run(
        capsys,
        "kb",
        "edit",
        a,
        "--kb",
        str(d),
        "--set",
        "parameters.grasp_offset=[0, 0.01, 0]",
        "--set",
        "scope.object_description=white standard mug",
        "--json",
    )
    item = json.loads(out)
    assert item["parameters"] == {"grasp_region": "handle", "speed": 0.3, "grasp_offset": [0, 0.01, 0]}
    assert item["scope"]["object_description"] == "white standard mug" and item["rule"] == "hold mugs by the handle"
    code, out = run(
        capsys,
        "kb",
        "edit",
        a,
        "--kb",
        str(d),
        "--unset",
        "parameters.grasp_offset",
        "--set",
        "rule=mugs: by the handle",
        "--json",
    )
    assert json.loads(out)["parameters"] == {"grasp_region": "handle", "speed": 0.3}
    assert json.loads(out)["rule"] == "mugs: by the handle"
    # Refusals: an out-of-range value, an unknown field, nothing to do. The item is unchanged.
    assert main(["kb", "edit", a, "--kb", str(d), "--set", "speed=9"]) == 2
    assert "outside" in capsys.readouterr().err
    assert main(["kb", "edit", a, "--kb", str(d), "--set", "use_count.x=9"]) == 2
    assert "cannot edit" in capsys.readouterr().err
    assert main(["kb", "edit", a, "--kb", str(d)]) == 2
    assert "nothing to change" in capsys.readouterr().err
    code, out = run(capsys, "kb", "show", a, "--kb", str(d), "--json")
    assert json.loads(out)["parameters"]["speed"] == 0.3
    code, out = run(capsys, "kb", "export", str(tmp_path / "x.jsonl"), "--kb", str(d), "--json")
    assert json.loads(out)["exported"] == 2
    code, out = run(capsys, "kb", "delete", b, "--kb", str(d))
    assert code == 0 and out.strip() == f"deleted {b}"
    assert main(["kb", "show", b, "--kb", str(d)]) == 2
    assert "no knowledge item" in capsys.readouterr().err
    code, out = run(capsys, "kb", "import", str(tmp_path / "x.jsonl"), "--kb", str(tmp_path / "fresh"), "--json")
    assert json.loads(out) == {"imported": 2}
    code, out = run(capsys, "kb", "migrate", "--kb", str(tmp_path / "fresh"))
    assert code == 0 and "up to date" in out


def test_writes_refused_while_a_writer_holds_the_store(store, capsys, text_embedder) -> None:
    d, a, _ = store
    with KnowledgeBase(d, text_embedder):  # the agent, say
        assert main(["kb", "delete", a, "--kb", str(d)]) == 2
        assert "locked by another writer" in capsys.readouterr().err
        code, out = run(capsys, "kb", "show", a, "--kb", str(d), "--json")  # reading still works
        assert code == 0 and json.loads(out)["id"] == a


def test_missing_store_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["kb", "list", "--kb", str(tmp_path / "nothing")]) == 2
    assert "no knowledge base here" in capsys.readouterr().err


def test_every_subcommand_has_help(capsys) -> None:
    for sub in ("list", "show", "search", "edit", "delete", "export", "import", "stats", "migrate"):
        with pytest.raises(SystemExit) as info:
            main(["kb", sub, "--help"])
        assert info.value.code == 0
        assert "--kb DIR" in capsys.readouterr().out
