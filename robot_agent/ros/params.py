"""Parameter declaration for the agent and sim nodes: descriptors with ranges and read-only flags.

A parameter used only at start-up is declared ``read_only`` (ROS refuses any later change
with its own reason); a number gets a ``FloatingPointRange`` or ``IntegerRange`` (ROS
refuses a value outside it, at start-up from a parameter file as well as at run time). The
nodes still validate the whole configuration themselves (``AgentConfig.from_params``), since
some rules span several parameters or have open ends a ROS range cannot say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from robot_agent.deps import require
from robot_agent.errors import ConfigError

require("rclpy", "the ROS 2 nodes")

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor  # noqa: E402
from rclpy.exceptions import (  # noqa: E402
    InvalidParameterTypeException,
    InvalidParameterValueException,
    ParameterException,
)

#: closed ranges ROS enforces on the agent node's numeric parameters (the config's own checks may be
#: stricter: an open end such as "(0, 3]" is given here as [0, 3] and refused by AgentConfig)
AGENT_RANGES: dict[str, tuple[float, float]] = {
    "safety.min_tool_height": (0.0, 0.2),
    "safety.max_joint_speed": (0.0, 3.0),
    "safety.max_cartesian_step": (0.0, 1.0),
    "safety.joint_state_timeout": (0.0, 5.0),
    "sim.physics_hz": (1.0, 10000.0),
    "sim.control_hz": (1.0, 1000.0),
    "sim.camera_width": (16, 1920),
    "sim.camera_height": (16, 1080),
    "memory.text_weight": (0.0, 1.0),
    "memory.image_weight": (0.0, 1.0),
    "memory.skill_threshold": (-1.0, 1.0),
    "memory.plan_threshold": (-1.0, 1.0),
    "memory.approx_above": (1000, 2**31 - 1),
    "memory.merge_threshold": (0.5, 1.0),
    "memory.hnsw_ef_search": (16, 8192),
    "policy.timeout_s": (0.0, 600.0),
    "policy.max_steps": (1, 50),
    "policy.max_new_tokens": (1, 4096),
    "policy.threads": (0, 256),
    "policy.detour_penalty": (0.0, 100.0),
    "policy.retries": (0, 10),
    "policy.retry_backoff_s": (0.0, 10.0),
    "speech.stop_threshold": (0.0, 1.0),
    "speech.noise_floor": (0.0, 1000.0),
    "speech.vad_threshold_db": (3.0, 40.0),
    "speech.end_silence_s": (0.1, 5.0),
    "speech.max_utterance_s": (0.1, 60.0),
    "speech.min_confidence": (0.0, 1.0),
    "robot.control_hz": (5.0, 1000.0),
    "robot.trajectory_lead": (0.0, 1.0),
    "robot.connect_timeout": (0.0, 600.0),
    "robot.gripper_max_width": (0.01, 0.3),
    "robot.grasp_min_width": (0.0, 0.15),
    "log_image_hz": (0.0, 60.0),
    "log_joint_state_hz": (0.1, 1000.0),
}


def descriptor(
    name: str, value: Any, description: str, *, dynamic: bool, ranges: Mapping[str, tuple[float, float]]
) -> ParameterDescriptor:
    """The descriptor of one parameter: its text, ``read_only`` unless ``dynamic``, and its range."""
    desc = ParameterDescriptor(
        name=name, description=description + ("" if dynamic else " (fixed at start-up)"), read_only=not dynamic
    )
    if name in ranges and not isinstance(value, bool):
        lo, hi = ranges[name]
        if isinstance(value, int):
            desc.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=1)]
        elif isinstance(value, float):
            desc.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi), step=0.0)]
    return desc


def declare_all(
    node: Any,
    defaults: Mapping[str, Any],
    docs: Mapping[str, str],
    dynamic: frozenset[str],
    ranges: Mapping[str, tuple[float, float]],
) -> None:
    """Declare every parameter of ``defaults`` on ``node`` with its descriptor.

    Raises:
        ConfigError: a value from a parameter file (or an override) is out of range or of the wrong type.
    """
    for name, value in defaults.items():
        try:
            node.declare_parameter(
                name, value, descriptor(name, value, docs.get(name, ""), dynamic=name in dynamic, ranges=ranges)
            )
        except (InvalidParameterValueException, InvalidParameterTypeException, ParameterException) as exc:
            rng = ranges.get(name)
            where = f" (allowed: [{rng[0]:g}, {rng[1]:g}])" if rng else ""
            raise ConfigError(f"parameter {name}{where}: {exc}") from None
