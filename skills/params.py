"""Typed, bounded skill parameters: the knobs corrections and knowledge adjust.

Each skill declares a tuple of :class:`ParamSpec`. Parameters travel as plain
dicts (they serialize into the knowledge base and the logs unchanged) and are
validated with :func:`validate_params`, which refuses wrong types and values
outside the bounds. The bounds are the skill's own envelope; the robot-wide
safety limits (workspace, joint speed) are checked again below every skill and
cannot be widened by any parameter.

Object-relative parameters (``grasp_offset``, ``place_offset``, ``pull_axis``) are in
the frame of the object the skill acts on (see :mod:`skills.types`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from robot_agent.errors import ParameterError, UnknownSkillError


@dataclass(frozen=True)
class ParamSpec:
    """One skill parameter.

    Attributes:
        name: parameter name.
        kind: ``"float"``, ``"vec3"`` or ``"choice"``.
        default: default value.
        low/high: bounds for floats and for every component of a vec3.
        choices: allowed values of a choice.
        unit: unit for documentation (``"m"``, ``"rad"``, ``"fraction"``).
        doc: one line the LLM and the operator see.
    """

    name: str
    kind: str
    default: Any
    low: float = -math.inf
    high: float = math.inf
    choices: tuple[str, ...] = ()
    unit: str = ""
    doc: str = ""

    def validate(self, value: Any, skill: str = "") -> Any:
        where = f"{skill}.{self.name}" if skill else self.name
        if self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParameterError(f"{where}: expected a number, got {value!r}")
            v = float(value)
            if not math.isfinite(v) or not (self.low <= v <= self.high):
                raise ParameterError(f"{where}={v:g} is outside [{self.low:g}, {self.high:g}] {self.unit}".rstrip())
            return v
        if self.kind == "vec3":
            if not isinstance(value, (list, tuple)) or len(value) != 3:
                raise ParameterError(f"{where}: expected 3 numbers, got {value!r}")
            out = []
            for c in value:
                if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(float(c)):
                    raise ParameterError(f"{where}: expected 3 finite numbers, got {value!r}")
                if not (self.low <= float(c) <= self.high):
                    bounds = f"[{self.low:g}, {self.high:g}] {self.unit}"
                    raise ParameterError(f"{where}={list(value)} has a component outside {bounds}".rstrip())
                out.append(float(c))
            return out
        if self.kind == "choice":
            if value not in self.choices:
                raise ParameterError(f"{where}: {value!r} is not one of {', '.join(self.choices)}")
            return value
        raise ParameterError(f"{where}: unknown parameter kind {self.kind!r}")  # pragma: no cover

    def clamp(self, value: Any) -> Any:
        """The nearest allowed value (used to bound a correction before refusing it)."""
        if self.kind == "float":
            return float(min(max(float(value), self.low), self.high))
        if self.kind == "vec3":
            return [float(min(max(float(c), self.low), self.high)) for c in value]
        return value if value in self.choices else self.default


SPEED = ParamSpec("speed", "float", 0.5, 0.05, 1.0, unit="fraction", doc="fraction of the robot's maximum joint speed")

SKILL_PARAMS: dict[str, tuple[ParamSpec, ...]] = {
    "pick": (
        ParamSpec(
            "grasp_region",
            "choice",
            "center",
            choices=("center", "handle", "rim", "top", "side"),
            doc="part of the object to grasp",
        ),
        ParamSpec(
            "grasp_offset",
            "vec3",
            [0.0, 0.0, 0.0],
            -0.15,
            0.15,
            unit="m",
            doc="offset of the grasp point from the region's nominal point, object frame",
        ),
        ParamSpec(
            "gripper_yaw",
            "float",
            0.0,
            -math.pi,
            math.pi,
            unit="rad",
            doc="gripper rotation about the vertical, relative to the object's yaw",
        ),
        ParamSpec(
            "approach_height",
            "float",
            0.10,
            0.03,
            0.30,
            unit="m",
            doc="height above the grasp point where the vertical approach starts",
        ),
        ParamSpec("lift_height", "float", 0.15, 0.03, 0.40, unit="m", doc="lift after grasping"),
        SPEED,
    ),
    "place": (
        ParamSpec(
            "place_offset",
            "vec3",
            [0.0, 0.0, 0.0],
            -0.20,
            0.20,
            unit="m",
            doc="offset of the release point from the target's centre, target frame",
        ),
        ParamSpec(
            "place_height",
            "float",
            0.05,
            0.0,
            0.30,
            unit="m",
            doc="height of the held object's bottom above the target surface at release",
        ),
        ParamSpec(
            "approach_height",
            "float",
            0.12,
            0.03,
            0.30,
            unit="m",
            doc="height above the release point where the descent starts",
        ),
        SPEED,
    ),
    "push": (
        ParamSpec(
            "direction",
            "vec3",
            [1.0, 0.0, 0.0],
            -1.0,
            1.0,
            doc="push direction in the base frame (normalized; z ignored)",
        ),
        ParamSpec("distance", "float", 0.10, 0.0, 0.40, unit="m", doc="how far to push"),
        ParamSpec(
            "contact_height",
            "float",
            0.02,
            0.005,
            0.15,
            unit="m",
            doc="height of the fingertips above the table while pushing",
        ),
        SPEED,
    ),
    "open": (
        ParamSpec(
            "grasp_offset",
            "vec3",
            [0.0, 0.0, 0.0],
            -0.10,
            0.10,
            unit="m",
            doc="offset of the grasp point from the handle, object frame",
        ),
        ParamSpec(
            "pull_axis", "vec3", [1.0, 0.0, 0.0], -1.0, 1.0, doc="pull direction in the object's frame (normalized)"
        ),
        ParamSpec("pull_distance", "float", 0.15, 0.02, 0.40, unit="m", doc="how far to pull"),
        SPEED,
    ),
    "close": (
        ParamSpec("push_distance", "float", 0.20, 0.02, 0.40, unit="m", doc="how far to push the drawer in"),
        SPEED,
    ),
    "move_by": (
        ParamSpec(
            "delta",
            "vec3",
            [0.0, 0.0, 0.0],
            -0.30,
            0.30,
            unit="m",
            doc="displacement of the gripper, in the frame named by `frame`",
        ),
        ParamSpec("frame", "choice", "base", choices=("base", "gripper"), doc="frame of `delta`"),
        SPEED,
    ),
    "go_home": (SPEED,),
}

#: Object arguments each skill takes (names of scene objects).
SKILL_ARGS: dict[str, tuple[str, ...]] = {
    "pick": ("object",),
    "place": ("object", "target"),
    "push": ("object",),
    "open": ("object",),
    "close": ("object",),
    "move_by": (),
    "go_home": (),
}


def param_specs(skill: str) -> tuple[ParamSpec, ...]:
    """The parameter specs of ``skill``.

    Raises:
        UnknownSkillError: naming the valid skills.
    """
    try:
        return SKILL_PARAMS[skill]
    except KeyError:
        raise UnknownSkillError(f"unknown skill {skill!r}; valid skills: {', '.join(sorted(SKILL_PARAMS))}") from None


def spec(skill: str, name: str) -> ParamSpec:
    for s in param_specs(skill):
        if s.name == name:
            return s
    raise ParameterError(f"{skill} has no parameter {name!r}; valid: {', '.join(p.name for p in param_specs(skill))}")


def default_params(skill: str) -> dict[str, Any]:
    """A fresh dict of the skill's default parameters."""
    return {s.name: (list(s.default) if isinstance(s.default, list) else s.default) for s in param_specs(skill)}


def validate_params(skill: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with ``params``, every value validated.

    Raises:
        UnknownSkillError: the skill is not registered.
        ParameterError: an unknown name, a wrong type or a value out of bounds.
    """
    out = default_params(skill)
    for name, value in dict(params or {}).items():
        out[name] = spec(skill, name).validate(value, skill)
    return out


def format_value(v: Any, digits: int = 3) -> str:
    """A parameter value for people: floats to ``digits`` significant digits, lists element by element."""
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    if isinstance(v, list):
        return "[" + ", ".join(format_value(x, digits) for x in v) + "]"
    return str(v)
