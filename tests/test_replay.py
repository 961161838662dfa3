"""Replaying logged episodes in PyBullet, and what a logged sim episode holds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest

from robot_agent.logs import EpisodeLogError, EpisodeLogReader, EpisodeLogWriter
from robot_agent.logs.replay import replay
from sim.scenario import SCENARIOS_DIR, load_scenario

EXE = str(Path(sys.executable).with_name("robot-agent"))


def test_sim_episode_log_reads_back_message_for_message(recorded_episodes):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import Stores, get_typestore

    log = recorded_episodes["logs"]["drawer_train"]
    ours = [(e.topic, e.t_ns) for e in EpisodeLogReader(log).events()]
    with AnyReader([log], default_typestore=get_typestore(Stores.ROS2_KILTED)) as r:
        theirs = sorted(((c.topic, t) for c, t, _raw in r.messages()), key=lambda x: x[1])
        by_topic = {}
        for c, _t, raw in r.messages():
            by_topic.setdefault(c.topic, []).append(r.deserialize(raw, c.msgtype))
    assert sorted(ours, key=lambda x: x[1]) == theirs
    events = [json.loads(m.data) for m in by_topic["/episode/understood"]]
    assert [e["kind"] for e in events] == ["plan", "skill"]
    assert events[0]["correction"]["plan"]["first"]["skill"] == "open"  # the full parse is logged
    assert events[0]["call"]["skill"] == "place" and events[1]["outcome"] == "applied"
    plans = [json.loads(m.data) for m in by_topic["/episode/plan"]]
    assert plans[1]["put_back"] == ["red_block"]  # the agent put the block back before replanning
    assert {o["name"] for o in plans[0]["objects"]} == {"red_block", "cabinet"}
    outcome = json.loads(by_topic["/episode/outcome"][0].data)
    assert outcome["success"] is True and outcome["corrections"] == 2
    assert {o["name"] for o in outcome["final_objects"]} == {"red_block", "cabinet"}


def test_stamps_are_sim_time(recorded_episodes):
    reader = EpisodeLogReader(recorded_episodes["logs"]["drawer_train"])
    js = [e.t_ns for e in reader.events(["/joint_states"])]
    gaps = [b - a for a, b in pairwise(js)]
    assert min(gaps) >= 20_000_000 - 1  # 50 Hz cap, in sim time
    summary = reader.summary()
    # Duration is simulated seconds: the episode's motion, not how fast the machine ran it.
    assert 8.0 < summary.duration_s < 30.0
    assert abs((js[-1] - js[0]) / 1e9 - summary.duration_s) < 1.0
    images = [e.t_ns for e in reader.events(["/camera/image_raw"])]
    assert len(images) >= 0.8 * summary.duration_s * 2.0  # 2 Hz in sim time


@pytest.mark.parametrize("name", ["drawer_train", "mug_train"])
def test_replay_reproduces_the_recorded_outcome(recorded_episodes, name):
    report = replay(recorded_episodes["logs"][name], recorded_episodes["config"])
    assert report.matches, report.to_dict()
    assert report.final_checked and report.recorded_success is True
    recorded = [
        e.data["status"] for e in EpisodeLogReader(recorded_episodes["logs"][name]).events(["/episode/skill_result"])
    ]
    assert [s.replayed for s in report.steps] == recorded


def test_replay_reports_a_mismatch(tmp_path, recorded_episodes):
    """A log that claims a pick succeeded where it cannot: replay says it does not match."""
    sc = load_scenario(SCENARIOS_DIR / "demo" / "drawer_train.yaml")
    log = tmp_path / "tampered"
    with EpisodeLogWriter(log, "tampered", meta={"task": sc.task, "scene": sc.public()["scene"]}) as w:
        w.skill_call("pick", {"object": "red_block"}, {"grasp_offset": [0.0, 0.0, 0.3]}, step=0)
        w.skill_result("pick", {"status": "succeeded", "reason": "", "facts": {}}, step=0)
        w.outcome(True, final_objects=[{"name": "red_block", "pose": {"position": [0.1, 0.1, 0.0]}}])
    report = replay(log, recorded_episodes["config"])
    assert not report.matches
    assert report.steps[0].replayed != "succeeded"
    assert report.object_errors and report.object_errors[0].startswith("red_block: ends at")


def test_replay_cli(recorded_episodes, tmp_path):
    log = recorded_episodes["logs"]["mug_train"]
    out = subprocess.run([EXE, "replay", str(log), "--json"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout)["matches"] is True
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "metadata.yaml").write_text("not: [a, rosbag")
    out = subprocess.run([EXE, "replay", str(bad)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and str(bad) in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run([EXE, "replay", str(log), "--speed", "-1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "speed" in out.stderr


def test_replay_of_a_log_without_scene_is_a_clear_error(tmp_path, recorded_episodes):
    log = tmp_path / "noscene"
    with EpisodeLogWriter(log, "noscene", meta={"task": "t"}) as w:
        w.outcome(True)
    with pytest.raises(EpisodeLogError, match="no scene"):
        replay(log, recorded_episodes["config"])


def test_killed_run_leaves_a_readable_log_that_replays(tmp_path, recorded_episodes):
    """SIGKILL a real `robot-agent run` mid-episode: the log up to the kill reads and replays."""
    logs = tmp_path / "logs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    params = tmp_path / "params.yaml"
    params.write_text(
        (Path(__file__).resolve().parents[1] / "config" / "agent.yaml")
        .read_text()
        .replace("policy.backend: local", "policy.backend: symbolic")
    )
    proc = subprocess.Popen(
        [
            EXE,
            "run",
            "--scenario",
            str(SCENARIOS_DIR / "demo" / "drawer_train.yaml"),
            "--kb",
            str(tmp_path / "kb"),
            "--log-dir",
            str(logs),
            "--params",
            str(params),
            "--json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # wait for the first skill result, then kill mid-episode
            found = list(logs.iterdir()) if logs.exists() else []
            try:
                if found and EpisodeLogReader(found[0], repair=False).topics.get("/episode/skill_result", 0):
                    break
            except EpisodeLogError:
                pass  # not written far enough yet
            time.sleep(0.2)
        else:
            pytest.fail("the run logged no skill result in time")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    (log,) = list(logs.iterdir())
    reader = EpisodeLogReader(log)
    assert reader.recovered
    summary = reader.summary()
    assert summary.task == "put the red block in the drawer" and summary.outcome is None
    assert summary.skill_calls >= 1 and reader.topics["/episode/skill_result"] >= 1
    report = replay(log, recorded_episodes["config"])
    assert report.steps and report.matches and not report.final_checked


def test_a_bare_nudge_is_logged_and_replayed(tmp_path):
    """ "5 cm up" said while the arm goes home has no skill parameter to adjust: the agent moves the
    arm with move_by. The nudge is logged with the next call, and replay runs it before that call."""
    from robot_agent.agent import Agent
    from robot_agent.config import AgentConfig
    from robot_agent.language.grammar import CorrectionParser
    from robot_agent.logs.recording import EpisodeRecorder
    from robot_agent.policy import make_planner
    from sim.world import SimWorld

    class SaysOnceBeforeGoHome:  # the operator, scripted
        said = False

        def before_call(self, call, objects):
            if call.skill == "go_home" and not self.said:
                self.said = True
                return type("Utterance", (), {"text": "5 cm up"})()
            return None

        def after_call(self, call, result, objects):
            return None

    cfg = AgentConfig.load()
    cfg.policy.backend = "symbolic"
    scen = load_scenario(SCENARIOS_DIR / "demo" / "mug_train.yaml")
    log = tmp_path / "nudge"
    with SimWorld(scen.scene, cfg.sim, cfg.safety) as world:
        world.robot.step(world.robot.joint_positions() + 0.2)  # off home, so go_home has to move
        rec = EpisodeRecorder(log, "nudge-1", task="go home", scene=scen.public()["scene"], robot=world.robot)
        agent = Agent(
            world.robot,
            make_planner(cfg.policy),
            None,
            CorrectionParser(),
            cfg,
            observer=SaysOnceBeforeGoHome(),
            episode_logger=rec,
        )
        result = agent.run_task("go home", episode_id="nudge-1")
        rec.finish(result.success, corrections=result.n_corrections, agent_state=result.state.value)
    assert result.success, result.reason
    (corr,) = result.corrections
    assert corr.outcome == "applied" and corr.understood["delta_m"] == [0.0, 0.0, 0.05]
    calls = [e.data for e in EpisodeLogReader(log).events(["/episode/skill_call"])]
    assert [c["skill"] for c in calls] == ["go_home", "go_home"]
    (nudge,) = calls[1]["nudges"]
    assert nudge["delta"] == [0.0, 0.0, 0.05] and nudge["status"] == "succeeded"
    report = replay(log, cfg)
    assert [(s.skill, s.replayed) for s in report.steps] == [("move_by", "succeeded"), ("go_home", "succeeded")]
    assert report.matches, report.to_dict()
