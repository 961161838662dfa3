"""Applying a correction's parameter changes to a skill's parameters: :func:`apply_parameter_changes`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from robot_agent.errors import ParameterError
from skills.params import ParamSpec, validate_params
from skills.params import spec as param_spec


def _is_angle(ps: ParamSpec) -> bool:
    return ps.kind == "float" and ps.unit == "rad" and ps.low <= -math.pi + 1e-9 and ps.high >= math.pi - 1e-9


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def apply_parameter_changes(
    skill: str, current: Mapping[str, Any] | None, changes: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The skill's parameters after ``changes``, every value validated.

    Args:
        skill: skill name (a key of ``skills.params.SKILL_PARAMS``).
        current: the current parameters (missing ones take their defaults).
        changes: ``{name: {"set": v}}``, ``{name: {"add": v}}`` (number, or a
            3-vector for vec3 parameters) or ``{name: {"scale": f}}`` (numbers only).
            Angles (``gripper_yaw``) wrap into [-pi, pi].

    Returns:
        The complete, validated parameter dict.

    Raises:
        UnknownSkillError: the skill is not registered.
        ParameterError: an unknown parameter or operation, or a result out of bounds.
    """
    params = validate_params(skill, current)
    for name, change in changes.items():
        ps = param_spec(skill, name)
        if not isinstance(change, Mapping) or len(change) != 1:
            raise ParameterError(
                f"{skill}.{name}: a change must be one of {{'set': v}}, {{'add': v}}, {{'scale': f}}, got {change!r}"
            )
        ((op, value),) = change.items()
        old = params[name]
        try:
            if op == "set":
                new = value
            elif op == "add" and ps.kind == "float":
                new = float(old) + float(value)
            elif op == "add" and ps.kind == "vec3":
                if len(value) != 3:
                    raise ParameterError(f"{skill}.{name}: 'add' needs 3 numbers, got {value!r}")
                new = [float(a) + float(b) for a, b in zip(old, value, strict=True)]
            elif op == "scale" and ps.kind == "float":
                new = float(old) * float(value)
            else:
                raise ParameterError(f"{skill}.{name}: cannot {op!r} a {ps.kind} parameter")
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError(f"{skill}.{name}: bad value for {op!r}: {value!r}") from None
        if _is_angle(ps) and isinstance(new, (int, float)) and math.isfinite(float(new)):
            new = _wrap(float(new))
        params[name] = ps.validate(new, skill)
    return params
