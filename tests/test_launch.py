"""The launch files and ``robot-agent up``'s composition, checked by what they build, not by their text.

Both read ``robot_agent.ros.up.LAUNCH_PLANS``. Where ROS 2's ``launch`` package is importable (a
ROS install; it is not on PyPI), each launch file is loaded with importlib and its description is
checked: arguments, nodes, parameter files and remappings. Everywhere, ``up``'s composition builds the
real nodes in a private ROS context, in a namespace and with an extra parameter file, and the test
reads back what a launch user relies on: full node names, parameter values and their precedence,
topic names after namespace and remapping, and read-only descriptors.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"

rclpy = pytest.importorskip("rclpy", reason="ROS 2 (rclpy) is not installed")
pytest.importorskip("robot_agent_interfaces", reason="robot_agent_interfaces is not built (make interfaces)")

from robot_agent.config import AGENT_NODE, AgentConfig, load_node_params  # noqa: E402
from robot_agent.ros.up import LAUNCH_PLANS, NODE_CLASSES, compose, param_files  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARGUMENTS = {"namespace", "params_file", "log_level", "use_sim_time"}


def _load_launch_file(mode: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"{mode}_launch", ROOT / "launch" / f"{mode}.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize("mode", sorted(LAUNCH_PLANS))
def test_launch_description_has_the_plans_nodes_and_arguments(mode: str) -> None:
    pytest.importorskip("launch_ros", reason="ROS 2's launch_ros is not installed (not on PyPI)")
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import Node

    description = _load_launch_file(mode)
    args = {e.name for e in description.entities if isinstance(e, DeclareLaunchArgument)}
    assert args == ARGUMENTS
    nodes = [e for e in description.entities if isinstance(e, Node)]
    assert [(n.node_package, n.node_executable) for n in nodes] == [
        (s.package, s.executable) for s in LAUNCH_PLANS[mode]
    ]
    for node, spec in zip(nodes, LAUNCH_PLANS[mode], strict=True):
        assert len(node._Node__parameters) == len(spec.param_files) + 2  # files, params_file, use_sim_time
        assert [tuple(r) for r in node._Node__remappings] == list(spec.remappings)


def test_node_executables_are_installed_console_scripts() -> None:
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    for exe, (module, cls) in NODE_CLASSES.items():
        assert scripts.get(exe) == f"{module}:main", exe
        mod = importlib.import_module(module)  # noqa: TID251 - the fixed NODE_CLASSES table
        assert callable(mod.main) and hasattr(mod, cls)


@pytest.fixture(scope="module")
def context() -> Iterator[Any]:
    from rclpy.context import Context

    ctx = Context()
    rclpy.init(args=[], context=ctx)
    yield ctx
    rclpy.try_shutdown(context=ctx)


@pytest.fixture
def extra(tmp_path: Path) -> Path:
    path = tmp_path / "override.yaml"
    path.write_text(
        "/**/sim:\n  ros__parameters:\n    publish.camera_hz: 0.0\n"
        "/**/robot_agent:\n  ros__parameters:\n    memory.plan_threshold: 0.4\n"
        "    robot.connect_timeout: 12.0\n"
    )
    return path


def _values(node: Any, names: list[str]) -> list[Any]:
    return [node.get_parameter(n).value for n in names]


def test_up_sim_composition_in_a_namespace(context: Any, extra: Path) -> None:
    nodes = compose("sim", extra, namespace="robot1", use_sim_time=True, context=context)
    try:
        sim, agent = nodes
        assert [n.get_fully_qualified_name() for n in nodes] == ["/robot1/sim", "/robot1/robot_agent"]
        # precedence: agent.yaml < sim.yaml < the extra file (memory.skill_threshold only in agent.yaml)
        assert _values(
            agent,
            [
                "memory.skill_threshold",
                "robot.trajectory_lead",
                "memory.plan_threshold",
                "robot.connect_timeout",
                "use_sim_time",
            ],
        ) == [0.55, 0.05, 0.4, 12.0, True]
        assert _values(sim, ["scene", "publish.camera_hz", "use_sim_time"]) == ["tabletop", 0.0, True]
        # the sim and the agent meet on the same topics, inside the namespace
        assert agent.robot.joint_trajectory_topic == "/robot1/joint_trajectory_controller/joint_trajectory"
        assert agent.robot.scene_topic == "/robot1/scene/objects" and agent.camera.topic == "/robot1/camera/image_raw"
        topics = {name for name, _ in sim.get_publisher_names_and_types_by_node("sim", "/robot1")}
        assert {"/robot1/joint_states", "/robot1/scene/objects", "/robot1/camera/image_raw"} <= topics
        served = {name for name, _ in agent.get_service_names_and_types_by_node("robot_agent", "/robot1")}
        assert {
            "/robot1/robot_agent/stop",
            "/robot1/robot_agent/search_knowledge",
            "/robot1/robot_agent/run_task/_action/send_goal",
        } <= served
        speed = agent.describe_parameter("safety.max_joint_speed")
        assert speed.read_only and speed.floating_point_range[0].to_value == 3.0
        assert not agent.describe_parameter("memory.skill_threshold").read_only
        assert sim.describe_parameter("sim.physics_hz").read_only and not sim.describe_parameter("scene").read_only
    finally:
        nodes[0].shutdown()
        for node in nodes:
            node.destroy_node()


def test_up_hardware_composition_remaps_to_the_arms_topics(context: Any, extra: Path) -> None:
    (agent,) = compose("hardware", extra, namespace="/arm_left", context=context)
    try:
        assert agent.get_fully_qualified_name() == "/arm_left/robot_agent"
        assert agent.robot.joint_trajectory_topic == "/arm_left/panda_arm_controller/joint_trajectory"
        assert agent.robot.gripper_command_topic == "/arm_left/panda_gripper/width_command"
        assert agent.robot.scene_topic == "/arm_left/perception/objects"
        assert agent.robot.joint_states_topic == "/arm_left/joint_states"
        # hardware.yaml narrows the limits over agent.yaml; the extra file comes last
        assert _values(
            agent, ["safety.max_joint_speed", "robot.control_hz", "memory.plan_threshold", "use_sim_time"]
        ) == [0.5, 50.0, 0.4, False]
    finally:
        agent.destroy_node()


def test_parameter_files_name_every_node_and_only_declared_parameters() -> None:
    from robot_agent.ros.node_params import agent_parameter_defaults
    from robot_agent.ros.ros_robot import RosRobotConfig
    from sim.ros.sim_node import PARAMETERS

    agent_defaults = agent_parameter_defaults()
    for mode, plan in LAUNCH_PLANS.items():
        for spec in plan:
            merged: dict = {}
            for f in param_files(spec):
                params = load_node_params(f, spec.name)  # each file has a /**/<node> section
                known = PARAMETERS if spec.name == "sim" else agent_defaults
                unknown = sorted(set(params) - set(known))
                assert not unknown, f"{f.name} /{spec.name}: undeclared parameter(s) {unknown}"
                for k, v in params.items():
                    default = known[k][0] if spec.name == "sim" else known[k]
                    assert type(v) is type(default), (
                        f"{f.name}: {k} is {type(v).__name__}, declared {type(default).__name__}"
                    )
                merged.update(params)
            if spec.name == AGENT_NODE:
                cfg = AgentConfig.from_params({**agent_defaults, **merged})  # valid together
                RosRobotConfig.from_params({**agent_defaults, **merged})
                if mode == "hardware":  # the hardware file only narrows the limits
                    base = AgentConfig.load()
                    assert cfg.safety.max_joint_speed < base.safety.max_joint_speed
                    assert all(a >= b for a, b in zip(cfg.safety.workspace_min, base.safety.workspace_min, strict=True))
                    assert all(a <= b for a, b in zip(cfg.safety.workspace_max, base.safety.workspace_max, strict=True))
