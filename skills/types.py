"""World-model value types shared by skills, the agent, memory and the sim.

Frames: the robot base frame has x forward (away from the robot base, toward the
table centre), y to the robot's left, z up; the table top is z = 0. An object's
frame is its pose: origin at the object's base centre on its support surface, rotated
by ``yaw`` about z. Object-relative parameters (grasp offsets, pull axes) are
expressed in that frame, so they transfer when the object moves or turns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Pose:
    """A planar-yaw pose: position in metres (base frame) and yaw in radians about z."""

    position: tuple[float, float, float]
    yaw: float = 0.0

    def __post_init__(self) -> None:
        if len(self.position) != 3 or not all(math.isfinite(float(v)) for v in self.position):
            raise ValueError(f"Pose.position must be 3 finite numbers, got {self.position!r}")
        if not math.isfinite(float(self.yaw)):
            raise ValueError(f"Pose.yaw must be finite, got {self.yaw!r}")
        object.__setattr__(self, "position", tuple(float(v) for v in self.position))
        object.__setattr__(self, "yaw", float(self.yaw))

    def rotation(self) -> np.ndarray:
        """3x3 rotation matrix of the yaw."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def to_world(self, local: np.ndarray | tuple[float, float, float] | list[float]) -> np.ndarray:
        """A point given in this pose's frame, expressed in the base frame."""
        return np.asarray(self.position) + self.rotation() @ np.asarray(local, dtype=float)

    def vector_to_world(self, local: np.ndarray | tuple[float, float, float] | list[float]) -> np.ndarray:
        """A direction given in this pose's frame, expressed in the base frame."""
        return self.rotation() @ np.asarray(local, dtype=float)

    def to_local(self, world: np.ndarray | tuple[float, float, float] | list[float]) -> np.ndarray:
        """A base-frame point expressed in this pose's frame."""
        return self.rotation().T @ (np.asarray(world, dtype=float) - np.asarray(self.position))

    def vector_to_local(self, world: np.ndarray | tuple[float, float, float] | list[float]) -> np.ndarray:
        """A base-frame direction expressed in this pose's frame."""
        return self.rotation().T @ np.asarray(world, dtype=float)

    def to_dict(self) -> dict[str, Any]:
        return {"position": list(self.position), "yaw": self.yaw}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Pose:
        return cls(tuple(data["position"]), float(data.get("yaw", 0.0)))


#: Opening above which a drawer counts as open (m); the simulator reports the same (sim.catalog).
DRAWER_OPEN_AT = 0.10


@dataclass
class ObjectInfo:
    """What perception reports about one object: all the agent may know of it.

    Attributes:
        name: unique name in the scene, e.g. ``"red_block"``.
        category: catalog type, e.g. ``"block"``, ``"mug"``, ``"cabinet"``.
        pose: current pose (base of the object, base frame).
        size: bounding-box extents (x, y, z) in the object's frame, metres.
        color: colour name, e.g. ``"red"``.
        shape: shape variant, e.g. ``"cube"``, ``"cylinder"``, ``"tall"``.
        state: articulated or semantic state, e.g. ``{"drawer": "closed", "opening": 0.0}``.
        parts: named parts with their positions in the object's frame, e.g.
            ``{"handle": [0.0, 0.06, 0.05]}`` (what a part detector would report).
    """

    name: str
    category: str
    pose: Pose
    size: tuple[float, float, float]
    color: str = ""
    shape: str = ""
    state: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, list[float]] = field(default_factory=dict)

    def description(self) -> str:
        """Short text used to retrieve knowledge by object, e.g. ``"red cube block"``."""
        words = [w for w in (self.color, self.shape, self.category) if w]
        return " ".join(dict.fromkeys(words))

    def drawer_open(self) -> bool:
        """Whether this object's drawer is open: the reported ``drawer`` state, else its
        ``opening`` (a scene file or a detector may give only the opening, in metres)."""
        st = self.state.get("drawer")
        if st is not None:
            return str(st) == "open"
        return float(self.state.get("opening", 0.0)) >= DRAWER_OPEN_AT

    def characteristic_size(self) -> float:
        """Largest horizontal extent: scales "a bit" to the object."""
        return float(max(self.size[0], self.size[1]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "category": self.category,
            "pose": self.pose.to_dict(),
            "size": list(self.size),
            "color": self.color,
            "shape": self.shape,
            "state": dict(self.state),
            "parts": {k: list(v) for k, v in self.parts.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObjectInfo:
        return cls(
            name=str(data["name"]),
            category=str(data["category"]),
            pose=Pose.from_dict(data["pose"]),
            size=tuple(float(v) for v in data["size"]),
            color=str(data.get("color", "")),
            shape=str(data.get("shape", "")),
            state=dict(data.get("state", {})),
            parts={k: [float(x) for x in v] for k, v in dict(data.get("parts", {})).items()},
        )
