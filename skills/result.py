"""Skill outcomes: an Enum plus measured facts."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class SkillStatus(enum.Enum):
    """How a skill ended."""

    SUCCEEDED = "succeeded"
    UNREACHABLE = "unreachable"  # target outside workspace / no IK solution; refused before motion
    GRASP_MISSED = "grasp_missed"  # gripper closed on nothing
    COLLISION = "collision"  # planned motion would hit the table / itself; refused
    INTERRUPTED = "interrupted"  # cancel token set (stop or correction) mid-motion
    INVALID = "invalid"  # bad arguments or parameters; refused before motion
    FAILED = "failed"  # executed but the goal was not reached (e.g. drawer stuck)

    @property
    def ok(self) -> bool:
        return self is SkillStatus.SUCCEEDED


@dataclass
class SkillResult:
    """Outcome of one skill execution.

    Attributes:
        status: how it ended.
        reason: human-readable reason for any status but SUCCEEDED.
        facts: measured facts, e.g. ``object_pose``, ``gripper_width``, ``holding``,
            ``grasp_point_local`` (where the object was grasped, object frame),
            ``max_speed_fraction``, ``release_height``, ``pull_vector_local``,
            ``path_xy`` (the end-effector path, for keep-away checks), ``ticks``.
    """

    status: SkillStatus
    reason: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status.ok

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "reason": self.reason, "facts": self.facts}
