"""``robot-agent kb rebuild``: a knowledge base recreated from episode logs alone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from memory import open_knowledge_base
from robot_agent.cli.kb import rebuild_from_logs

EXE = str(Path(sys.executable).with_name("robot-agent"))


def _items(kb_dir: Path, config) -> list[tuple]:
    config.memory.kb_dir = str(kb_dir)
    kb = open_knowledge_base(config.memory, read_only=True)
    try:
        return sorted(
            (
                i.kind,
                i.rule,
                json.dumps(i.parameters, sort_keys=True),
                json.dumps(i.scope, sort_keys=True),
                tuple(i.provenance.get("episode_ids", [])),
                tuple(i.provenance.get("corrections", [])),
            )
            for i in kb.list()
        )
    finally:
        kb.close()


def test_rebuild_recreates_the_live_knowledge(recorded_episodes, tmp_path):
    from robot_agent.config import AgentConfig

    live = _items(recorded_episodes["kb"], AgentConfig.load())
    assert {k[0] for k in live} == {"plan", "skill"} and len(live) == 3
    out = subprocess.run(
        [EXE, "kb", "rebuild", "--logs", str(recorded_episodes["logs_dir"]), "--kb", str(tmp_path / "kb"), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout)
    assert report["episodes"] == 2 and report["active"] == 3
    assert _items(tmp_path / "kb", AgentConfig.load()) == live


def test_rebuild_refuses_a_knowledge_base_with_items(recorded_episodes):
    from robot_agent.config import AgentConfig

    cfg = AgentConfig.load()
    cfg.memory.kb_dir = str(recorded_episodes["kb"])
    kb = open_knowledge_base(cfg.memory, read_only=True)
    try:
        with pytest.raises(ValueError, match="holds 3 item"):
            rebuild_from_logs(kb, [str(recorded_episodes["logs_dir"])])
    finally:
        kb.close()


def test_rebuild_from_a_missing_directory_is_a_clear_error(tmp_path):
    out = subprocess.run(
        [EXE, "kb", "rebuild", "--logs", str(tmp_path / "none"), "--kb", str(tmp_path / "kb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2 and "none" in out.stderr and "Traceback" not in out.stderr
