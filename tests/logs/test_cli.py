"""Finding episode logs and the `logs list|show|recover` command (robot_agent/cli/logs.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from robot_agent.cli import logs as logs_cli
from robot_agent.errors import EpisodeLogError
from robot_agent.logs import IMAGE_TOPIC, find_episode_logs
from tests.logs.helpers import copy_log, foreign_bag, make_crashed


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="robot-agent")
    logs_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    rc = args.func(args)
    return rc, capsys.readouterr().out


@pytest.fixture
def logs_dir(tmp_path: Path, synthetic, crash_image) -> Path:
    root = tmp_path / "logs"
    root.mkdir()
    copy_log(synthetic[0], root / "ep-0001")
    make_crashed(root, "crashed", crash_image[0])
    foreign_bag(root / "nested" / "chatter")
    (root / "notes").mkdir()
    return root


def test_find_episode_logs(logs_dir):
    assert [p.relative_to(logs_dir).as_posix() for p in find_episode_logs(logs_dir)] == [
        "crashed",
        "ep-0001",
        "nested/chatter",
    ]
    with pytest.raises(EpisodeLogError, match="no such directory"):
        find_episode_logs(logs_dir / "nope")


def test_cli_list(logs_dir, capsys):
    rc, out = run_cli(["logs", "list", str(logs_dir)], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["LOG", "EPISODE", "TASK", "CORR", "OUTCOME", "DURATION", "STATUS"]
    crashed, good, chatter = lines[1:]
    assert crashed.split()[:2] == ["crashed", "ep-img"] and crashed.endswith("recovered")
    assert "unfinished" in crashed
    assert good.startswith("ep-0001") and "put the red block in the drawer" in good
    assert good.split()[-4:] == ["2", "success", "1.2s", "ok"]
    assert "error:" in chatter and "no /episode/meta topic" in chatter

    rc, out = run_cli(["logs", "list", str(logs_dir), "--json"], capsys)
    rows = json.loads(out)
    assert [Path(r["path"]).name for r in rows] == ["crashed", "ep-0001", "chatter"]
    assert rows[0]["recovered"] is True and rows[0]["success"] is None and rows[0]["n_corrections"] == 1
    assert rows[1]["success"] is True and rows[1]["n_corrections"] == 2 and rows[1]["duration_s"] == 1.2
    assert rows[1]["counts"][IMAGE_TOPIC] == 5 and rows[1]["status"] == "ok"
    assert "no /episode/meta" in rows[2]["error"]


def test_cli_show(logs_dir, capsys):
    rc, out = run_cli(["logs", "show", str(logs_dir / "ep-0001")], capsys)
    assert rc == 0
    assert "task         put the red block in the drawer" in out
    assert "outcome      success" in out and "corrections  2" in out
    assert '+   0.05s [spoken] "grasp it higher"' in out
    assert "pick(red_block) -> place(red_block, drawer)  (initial)" in out
    assert 'skill-level: "grasp it higher"' in out
    assert "/joint_states 30, /camera/image_raw 5" in out

    rc, out = run_cli(["logs", "show", str(logs_dir / "crashed"), "--json"], capsys)
    doc = json.loads(out)
    assert doc["summary"]["recovered"] is True and doc["recovery"]["messages"] == 11
    assert [e["topic"] for e in doc["events"]] == ["/episode/task", "/episode/correction"]
    assert doc["meta"]["episode_id"] == "ep-img"

    with pytest.raises(EpisodeLogError, match="chatter"):
        run_cli(["logs", "show", str(logs_dir / "nested" / "chatter")], capsys)


def test_cli_recover(tmp_path, crash_image, synthetic, capsys):
    log = make_crashed(tmp_path, "c", crash_image[0][:-20])
    rc, out = run_cli(["logs", "recover", str(log), "--keep-partial"], capsys)
    assert rc == 0 and "recovered" in out and "scan stopped: truncated" in out
    assert (log / "c.mcap.partial").stat().st_size == len(crash_image[0]) - 20
    rc, out = run_cli(["logs", "recover", str(synthetic[0])], capsys)
    assert "nothing to recover" in out
