"""Parameterized low-level skills over a :class:`skills.robot.Robot` interface.

Skills never call pybullet (or ROS) directly: they plan Cartesian waypoints,
ask the robot for inverse kinematics, check the safety limits, and stream joint
targets one control tick at a time, checking a cancel token at every tick.
"""

from skills.result import SkillResult, SkillStatus
from skills.robot import CancelToken, Robot
from skills.types import ObjectInfo, Pose

__all__ = ["ObjectInfo", "Pose", "SkillResult", "SkillStatus", "CancelToken", "Robot"]
