"""``robot-agent run`` as a user runs it: a real process, the simulated or a typing operator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sim.scenario import SCENARIOS_DIR

EXE = str(Path(sys.executable).with_name("robot-agent"))
MUG = str(SCENARIOS_DIR / "demo" / "mug_train.yaml")


def test_run_two_rounds_with_the_simulated_operator(tmp_path: Path) -> None:
    out = subprocess.run(
        [EXE, "run", "--scenario", MUG, "--rounds", "2", "--kb", str(tmp_path / "kb"), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last == {"rounds": [{"corrections": 1, "success": True}, {"corrections": 0, "success": True}]}


def test_human_operator_types_a_correction(tmp_path: Path) -> None:
    # The operator types while the pick is under way, as a person watching the arm would: the
    # test waits for the transcript to show the pick starting (the sim runs in real time here).
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [EXE, "run", "--scenario", MUG, "--operator", "human", "--kb", str(tmp_path / "kb")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "step 1: pick(white_mug)" in line:
                proc.stdin.write("grasp it by the handle\n")
                proc.stdin.flush()
                break
        proc.stdin.close()
        lines += proc.stdout.readlines()
        assert proc.wait(timeout=600) == 0, "".join(lines)[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines)
    assert 'operator (typed): "grasp it by the handle"' in out
    assert "grasp_region = handle [applied]" in out
    assert "knowledge distilled: [skill] pick the mug: grasp_region=handle" in out


def test_bad_scenario_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: do it\nscene: {objects: [{name: x, type: dragon, pose: {position: [0.5, 0]}}]}\n")
    out = subprocess.run([EXE, "run", "--scenario", str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "objects[0].type" in out.stderr and "dragon" in out.stderr


def test_episode_is_recorded_as_a_rosbag(tmp_path: Path) -> None:
    from rosbags.highlevel import AnyReader

    from robot_agent.logs import EpisodeLogReader

    out = subprocess.run(
        [EXE, "run", "--scenario", MUG, "--kb", str(tmp_path / "kb"), "--log-dir", str(tmp_path / "logs"), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (bag,) = list((tmp_path / "logs").iterdir())
    reader = EpisodeLogReader(bag)
    kinds = [e.topic for e in reader.events()]
    for topic in (
        "/episode/task",
        "/episode/plan",
        "/episode/skill_call",
        "/episode/skill_result",
        "/episode/correction",
        "/episode/understood",
        "/episode/knowledge",
        "/episode/outcome",
        "/joint_states",
        "/camera/image_raw",
    ):
        assert topic in kinds, topic
    events = {e.topic: e.data for e in reader.events() if e.topic.startswith("/episode/")}
    assert events["/episode/correction"]["source"] == "simulated"
    assert events["/episode/understood"]["kind"] == "skill"
    assert events["/episode/outcome"]["success"] is True and events["/episode/outcome"]["corrections"] == 1
    # Standard tools read it too.
    with AnyReader([bag]) as any_reader:
        assert {c.topic for c in any_reader.connections} >= {"/joint_states", "/episode/plan"}
        assert sum(1 for _ in any_reader.messages()) == len(kinds)
