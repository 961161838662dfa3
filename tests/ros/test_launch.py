"""``robot-agent up`` as a process: both nodes start in a namespace with the parameter files; the console
commands say clearly when no agent listens. (The launch files and ``up``'s composition: tests/test_launch.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("robot-agent"))


def test_up_refuses_bad_arguments_with_a_reason(tmp_path: Path) -> None:
    from robot_agent.ros.up import up

    with pytest.raises(FileNotFoundError, match="not found"):
        up("sim", tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="valid: sim, hardware"):
        up("moon")
    with pytest.raises(ValueError, match="namespace '1robot' is not valid"):
        up("sim", namespace="1robot")
    out = subprocess.run([EXE, "up", "sim", "--namespace", "robot one"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "is not valid" in out.stderr, out.stderr


def test_up_sim_starts_both_nodes_in_a_namespace_with_the_parameter_files(tmp_path: Path, ros_context) -> None:
    """``robot-agent up sim --namespace robot9 --params FILE`` in a subprocess: the sim streams joint states on
    /robot9/joint_states, both nodes carry values from sim.yaml and from FILE, the agent publishes a status on
    /robot9/robot_agent/status, nothing appears outside the namespace, and SIGINT stops it cleanly."""
    from rclpy.node import Node
    from rclpy.parameter_client import AsyncParameterClient
    from sensor_msgs.msg import JointState

    from robot_agent.ros import qos
    from robot_agent_interfaces.msg import AgentStatus

    from .conftest import Spinner, wait_for

    extra = tmp_path / "override.yaml"
    extra.write_text(
        f"/**/sim:\n  ros__parameters:\n    publish.scene_hz: 7.0\n    publish.camera_hz: 0.0\n"
        f"/**/robot_agent:\n  ros__parameters:\n    memory.plan_threshold: 0.4\n"
        f"    memory.kb_dir: {tmp_path / 'kb'}\n"
    )
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "robot_agent.ros.up",
            "sim",
            "--namespace",
            "robot9",
            "--params",
            str(extra),
            "--log-level",
            "debug",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    spinner = Spinner()
    try:
        node = spinner.add(Node("test_up_probe"))
        states: list = []
        status: list = []
        node.create_subscription(JointState, "/robot9/joint_states", states.append, qos.JOINT_STATES_IN)
        node.create_subscription(AgentStatus, "/robot9/robot_agent/status", status.append, qos.LATCHED)
        wait_for(lambda: states and status, 40.0, "joint states from /robot9/sim and a status from /robot9/robot_agent")
        names = {(ns, n) for n, ns in node.get_node_names_and_namespaces()}
        assert {("/robot9", "sim"), ("/robot9", "robot_agent")} <= names, names
        topics = {t for t, _ in node.get_topic_names_and_types()}
        assert "/joint_states" not in topics and "/robot9/scene/objects" in topics
        assert "/robot9/robot_agent/run_task/_action/status" in topics  # the RunTask action server

        def get(node_name: str, names: list[str]) -> list:
            client = AsyncParameterClient(node, node_name)
            assert client.wait_for_services(timeout_sec=10.0)
            future = client.get_parameters(names)
            wait_for(future.done, 10.0, "parameters")
            return [v for v in future.result().values]

        sim_vals = get("/robot9/sim", ["publish.scene_hz", "scene", "sim.control_hz", "use_sim_time"])
        assert sim_vals[0].double_value == 7.0  # from --params
        assert sim_vals[1].string_value == "tabletop" and sim_vals[2].double_value == 60.0  # from sim.yaml
        assert sim_vals[3].bool_value is False
        agent_vals = get(
            "/robot9/robot_agent", ["memory.plan_threshold", "robot.trajectory_lead", "memory.skill_threshold"]
        )
        assert agent_vals[0].double_value == 0.4  # --params
        assert agent_vals[1].double_value == 0.05  # sim.yaml
        assert agent_vals[2].double_value == 0.55  # agent.yaml
    finally:
        spinner.close()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait(10)
        log.close()
    out = (tmp_path / "up.log").read_text(errors="replace")
    assert code == 0, out[-3000:]
    assert "robot-agent up sim: /robot9/sim, /robot9/robot_agent running" in out
    assert "[robot9.sim]" in out  # the node's own logger, as ROS prints it


def test_console_commands_say_clearly_when_no_agent_listens() -> None:
    """``robot-agent say`` and ``robot-agent task`` as a user runs them, with nothing on the domain."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(int(os.environ["ROS_DOMAIN_ID"]) + 100))
    for argv, where in (
        (["say", "a bit to the left", "--timeout", "1"], "/robot_agent/correction"),
        (["task", "open the drawer", "--ready-timeout", "1", "--namespace", "robot3"], "/robot3/robot_agent/run_task"),
    ):
        out = subprocess.run([EXE, *argv], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
        assert out.returncode == 2, out.stdout + out.stderr
        assert f"no agent node is listening on {where}" in out.stderr, out.stderr
        assert f"ROS_DOMAIN_ID (here {env['ROS_DOMAIN_ID']})" in out.stderr
