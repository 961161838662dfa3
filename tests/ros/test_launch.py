"""Launch files, ``robot-agent up`` and the parameter files agree; ``up sim`` really starts both nodes.

The launch files cannot be imported here (ROS 2's launch package is not on PyPI), so they
are read with ``ast``: every ``Node(...)`` with its package, executable, name and parameter
files must match :data:`robot_agent.ros.up.LAUNCH_PLANS`, which ``up`` starts.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from robot_agent.config import AGENT_NODE, AgentConfig, load_node_params
from robot_agent.ros.up import LAUNCH_PLANS, NODE_CLASSES, param_files

ROOT = Path(__file__).resolve().parents[2]
EXTRA = "<params_file>"


def launch_nodes(path: Path) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(package, executable, name, parameter files) of every Node(...) in a launch file."""
    tree = ast.parse(path.read_text())
    nodes = []
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Node"):
            continue
        kw = {k.arg: k.value for k in call.keywords}
        files = []
        for el in kw["parameters"].elts:
            if isinstance(el, ast.Call) and getattr(el.func, "id", "") == "_config":
                files.append(el.args[0].value)
            elif isinstance(el, ast.Name) and el.id == "params_file":
                files.append(EXTRA)
            else:
                pytest.fail(f"{path.name}: unexpected parameters entry {ast.dump(el)}")
        nodes.append((kw["package"].value, kw["executable"].value, kw["name"].value, tuple(files)))
    return nodes


@pytest.mark.parametrize("mode", sorted(LAUNCH_PLANS))
def test_launch_file_and_up_start_the_same_nodes(mode: str) -> None:
    path = ROOT / "launch" / f"{mode}.launch.py"
    text = path.read_text()
    assert "def generate_launch_description" in text and "from launch_ros.actions import Node" in text
    assert 'DeclareLaunchArgument(\n            "params_file"' in text
    # _config() resolves to share/robot_agent/config/<name>, where setup.py installs config/*.yaml.
    assert 'FindPackageShare("robot_agent"), "config", name' in text
    expected = [(s.package, s.executable, s.name, s.param_files + (EXTRA,)) for s in LAUNCH_PLANS[mode]]
    assert launch_nodes(path) == expected


def test_executables_are_console_scripts_with_main() -> None:
    setup = (ROOT / "setup.py").read_text()
    for exe, (module, cls) in NODE_CLASSES.items():
        assert re.search(rf'"{exe} = {re.escape(module)}:main"', setup), exe
        mod = importlib.import_module(module)
        assert callable(mod.main) and hasattr(mod, cls)
    assert 'glob("launch/*.launch.py")' in setup and 'glob("config/*.yaml")' in setup
    for spec in (s for plan in LAUNCH_PLANS.values() for s in plan):
        assert spec.package == "robot_agent" and spec.executable in NODE_CLASSES


def test_parameter_files_name_every_node_and_declared_parameters() -> None:
    from robot_agent.ros.agent_node import agent_parameter_defaults
    from robot_agent.ros.ros_robot import RosRobotConfig
    from sim.ros.sim_node import PARAMETERS

    agent_defaults = agent_parameter_defaults()
    for mode, plan in LAUNCH_PLANS.items():
        for spec in plan:
            merged: dict = {}
            for f in param_files(spec):
                params = load_node_params(f, spec.name)  # each file has a section for the node
                known = PARAMETERS if spec.name == "sim" else agent_defaults
                unknown = sorted(set(params) - set(known))
                assert not unknown, f"{f.name} /{spec.name}: undeclared parameter(s) {unknown}"
                for k, v in params.items():
                    default = known[k][0] if spec.name == "sim" else known[k]
                    assert type(v) is type(default), \
                        f"{f.name}: {k} is {type(v).__name__}, declared {type(default).__name__}"
                merged.update(params)
            if spec.name == AGENT_NODE:
                cfg = AgentConfig.from_params({**agent_defaults, **merged})  # valid together
                RosRobotConfig.from_params({**agent_defaults, **merged})
                if mode == "hardware":  # the hardware file only narrows the limits
                    base = AgentConfig.load()
                    assert cfg.safety.max_joint_speed < base.safety.max_joint_speed
                    assert all(a >= b for a, b in zip(cfg.safety.workspace_min, base.safety.workspace_min))
                    assert all(a <= b for a, b in zip(cfg.safety.workspace_max, base.safety.workspace_max))


def test_up_refuses_a_missing_parameter_file(tmp_path: Path) -> None:
    from robot_agent.ros.up import up

    with pytest.raises(FileNotFoundError, match="not found"):
        up("sim", tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match="valid: sim, hardware"):
        up("moon")


def test_up_sim_starts_both_nodes_with_the_parameter_files(tmp_path: Path, ros_context) -> None:
    """``robot-agent up sim --params FILE`` in a subprocess: the sim streams joint states, both nodes
    carry values from sim.yaml and from FILE, the agent publishes a status, and SIGINT stops it cleanly."""
    from rclpy.node import Node
    from rclpy.parameter_client import AsyncParameterClient
    from sensor_msgs.msg import JointState
    from std_msgs.msg import String

    from robot_agent.ros import qos

    from .conftest import Spinner, wait_for

    extra = tmp_path / "override.yaml"
    extra.write_text(f"/sim:\n  ros__parameters:\n    publish.scene_hz: 7.0\n    publish.camera_hz: 0.0\n"
                     f"/robot_agent:\n  ros__parameters:\n    memory.plan_threshold: 0.4\n"
                     f"    memory.kb_dir: {tmp_path / 'kb'}\n")
    log = open(tmp_path / "up.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "robot_agent.ros.up", "sim", "--params", str(extra)], cwd=ROOT,
                            env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    spinner = Spinner()
    try:
        node = spinner.add(Node("test_up_probe"))
        states: list = []
        status: list = []
        node.create_subscription(JointState, "/joint_states", states.append, qos.JOINT_STATES_IN)
        node.create_subscription(String, "/robot_agent/status", status.append, qos.LATCHED)
        wait_for(lambda: states and status, 40.0, "joint states from /sim and a status from /robot_agent")

        def get(node_name: str, names: list[str]) -> list:
            client = AsyncParameterClient(node, node_name)
            assert client.wait_for_services(timeout_sec=10.0)
            future = client.get_parameters(names)
            wait_for(future.done, 10.0, "parameters")
            return [v for v in future.result().values]

        sim_vals = get("sim", ["publish.scene_hz", "scene", "sim.control_hz"])
        assert sim_vals[0].double_value == 7.0  # from --params
        assert sim_vals[1].string_value == "tabletop" and sim_vals[2].double_value == 60.0  # from sim.yaml
        agent_vals = get("robot_agent", ["memory.plan_threshold", "robot.trajectory_lead", "memory.skill_threshold"])
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
    assert "robot-agent up sim: /sim, /robot_agent running" in out


def test_console_commands_say_clearly_when_no_agent_listens() -> None:
    """``robot-agent say`` and ``robot-agent task`` as a user runs them, with nothing on the domain."""
    env = dict(os.environ, ROS_DOMAIN_ID=str(int(os.environ["ROS_DOMAIN_ID"]) + 100))
    exe = Path(sys.executable).with_name("robot-agent")
    for argv in (["say", "a bit to the left", "--timeout", "1"], ["task", "open the drawer", "--ready-timeout", "1"]):
        out = subprocess.run([str(exe), *argv], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "no agent node is listening on /robot_agent/" in out.stderr
        assert f"ROS_DOMAIN_ID (here {env['ROS_DOMAIN_ID']})" in out.stderr
