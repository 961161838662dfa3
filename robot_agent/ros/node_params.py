"""The agent node's own parameters: the episode log's, which ones may change at run time, all defaults.

:data:`NODE_PARAMETERS` are the node's parameters beyond the agent config and the ROS robot's;
:data:`DYNAMIC` names those that may change while the node runs; :func:`agent_parameter_defaults`
gives every parameter of the node with its default (``config/agent.yaml``, the robot's, the node's).
"""

from __future__ import annotations

import array
import math
import os
from collections.abc import Mapping
from typing import Any

from robot_agent.config import AGENT_NODE, default_config_path, load_node_params
from robot_agent.errors import ConfigError
from robot_agent.ros.ros_robot import RosRobotConfig

#: node parameters beyond the agent config and the robot config
NODE_PARAMETERS: dict[str, tuple[Any, str]] = {
    "log_dir": ("", "record every episode as a rosbag2 (MCAP) directory in it; empty = off"),
    "log_image_hz": (2.0, "camera frames per second in the episode log; 0 = none"),
    "log_joint_state_hz": (50.0, "joint states per second in the episode log (sampled at each control tick)"),
}
#: parameters that may change while the node runs (read at each use); every other one is read-only:
#: safety limits are never changed at run time, models and the knowledge base are set up once
DYNAMIC = frozenset({"memory.text_weight", "memory.image_weight", "memory.skill_threshold", "memory.plan_threshold"})


def _plain(value: Any) -> Any:
    """Parameter values as plain Python (rclpy may hand arrays back as ``array.array``)."""
    if isinstance(value, (array.array, tuple)):
        return list(value)
    return value


def agent_parameter_defaults(path: str | None = None) -> dict[str, Any]:
    """Every parameter of the agent node with its default: ``config/agent.yaml``, the robot's, the node's."""
    params = dict(load_node_params(path or default_config_path("agent.yaml"), AGENT_NODE))
    for name, value in RosRobotConfig().to_params().items():
        params.setdefault(name, value)
    for name, (value, _) in NODE_PARAMETERS.items():
        params.setdefault(name, value)
    return params


def _log_params(flat: Mapping[str, Any]) -> tuple[str, float, float]:
    """(log_dir, image_hz, joint_state_hz) from the node parameters.

    Raises:
        ConfigError: a rate that is not a finite number in range.
    """
    log_dir = str(flat.get("log_dir", "") or "").strip()
    rates = []
    for name, lo, hi in (("log_image_hz", 0.0, 60.0), ("log_joint_state_hz", 0.1, 1000.0)):
        v = flat.get(name)
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float))
            or not math.isfinite(float(v))
            or not lo <= float(v) <= hi
        ):
            raise ConfigError(f"{name} must be a number in [{lo:g}, {hi:g}], got {v!r}")
        rates.append(float(v))
    return (os.path.expanduser(log_dir) if log_dir else ""), rates[0], rates[1]
