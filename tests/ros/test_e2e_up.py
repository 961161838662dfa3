"""The whole ROS 2 flow as a user runs it, in separate processes over real DDS (issue 5's "done when").

``robot-agent up sim`` (sim node + agent node with the real embedded models: SmolLM2 planner,
MiniLM embedder, a fresh knowledge base in a temporary directory, episode recording on), then
``robot-agent task`` following the task, ``robot-agent say`` for a typed correction and
``robot-agent listen --wav`` for a spoken one (a WAV made with espeak-ng). The task must
complete, each correction must be understood, and the episode log must hold both with their
sources. One flow, so the models load once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, Spinner, wait_for

rclpy = pytest.importorskip("rclpy")

EXE = str(Path(sys.executable).with_name("robot-agent"))


def test_up_sim_task_say_and_listen_complete_a_corrected_task(tmp_path: Path, ros_context) -> None:
    from rclpy.node import Node
    from std_msgs.msg import String

    from robot_agent.episode_log import EpisodeLogReader, find_episode_logs
    from robot_agent.ros import messages, qos
    from robot_agent.speech import SpeechError, synthesize, write_wav

    try:
        spoken_wav = write_wav(tmp_path / "left.wav", synthesize("a bit to the left"))
    except SpeechError as exc:
        pytest.skip(f"no speech synthesis: {exc}")
    params = tmp_path / "params.yaml"
    params.write_text(f"/sim:\n  ros__parameters:\n    publish.camera_hz: 1.0\n"
                      f"/robot_agent:\n  ros__parameters:\n    memory.kb_dir: {tmp_path / 'kb'}\n"
                      f"    log_dir: {tmp_path / 'logs'}\n"
                      # A slow arm (the hardware file's limit): the pick lasts long enough for both
                      # corrections, each a process that starts up, to arrive during it even on a busy machine.
                      f"    safety.max_joint_speed: 0.5\n")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    up_log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen([EXE, "up", "sim", "--params", str(params)], cwd=ROOT, env=env, stdout=up_log,
                          stderr=subprocess.STDOUT)
    task: subprocess.Popen | None = None
    spinner = Spinner()
    try:
        probe = spinner.add(Node("test_e2e_probe"))
        status: list[dict] = []
        probe.create_subscription(String, "/robot_agent/status", lambda m: status.append(messages.parse_status(m.data)),
                                  qos.LATCHED_FOLLOW)
        task = subprocess.Popen([EXE, "task", "put the red block in the bowl", "--id", "t-e2e", "--ready-timeout",
                                 "240", "--timeout", "240"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: any(s["task_id"] == "t-e2e" and s["state"] == "executing" for s in status), 240.0,
                 "the agent (models loading) to start executing the task")
        # Typed first, and "slower": the retried pick takes longer, which leaves the spoken correction
        # (a process that starts, reads the scene and builds its recognizer) time to arrive mid-task.
        said = subprocess.run([EXE, "say", "slower", "--timeout", "30"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=90)
        assert said.returncode == 0, said.stdout + said.stderr
        assert "understood as:" in said.stdout, said.stdout
        heard = subprocess.run([EXE, "listen", "--wav", str(spoken_wav), "--timeout", "30"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=90)
        assert heard.returncode == 0, heard.stdout + heard.stderr
        assert 'heard: "a bit to the left"' in heard.stdout and "understood as:" in heard.stdout, heard.stdout
        out, _ = task.communicate(timeout=240)
        assert task.returncode == 0, out
        assert 'operator (typed): "slower"' in out, out
        assert 'operator (spoken): "a bit to the left"' in out, out
        assert "task t-e2e: done" in out, out
        final = [s for s in status if s["task_id"] == "t-e2e" and s["state"] in messages.TERMINAL_STATES]
        assert final and final[-1]["success"] is True
    finally:
        if task is not None and task.poll() is None:
            task.kill()
            task.wait(10)
        spinner.close()
        up.send_signal(signal.SIGINT)
        try:
            code = up.wait(60)
        except subprocess.TimeoutExpired:
            up.kill()
            code = up.wait(10)
        up_log.close()
    log_text = (tmp_path / "up.log").read_text(errors="replace")
    assert code == 0, log_text[-3000:]
    logs = find_episode_logs(tmp_path / "logs")
    assert len(logs) == 1, logs
    events = list(EpisodeLogReader(logs[0]).events())
    corrections = [(e.data["text"], e.data["source"]) for e in events if e.kind == "correction"]
    assert corrections == [("slower", "typed"), ("a bit to the left", "spoken")], corrections
    understood = {e.data["text"]: e.data["kind"] for e in events if e.kind == "understood"}
    assert understood == {"a bit to the left": "skill", "slower": "skill"}, understood
    assert [e.data["success"] for e in events if e.kind == "outcome"] == [True]
