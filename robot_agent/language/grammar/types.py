"""What an utterance was understood as (:class:`Correction`, :class:`CorrectionKind`) and what the
robot knew when it arrived (:class:`CorrectionContext`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from robot_agent.language.grammar.describe import _describe_change, describe_delta, describe_plan
from skills.types import ObjectInfo

FallbackFn = Callable[[str, "CorrectionContext | None"], "Correction | None"]


class CorrectionKind(enum.Enum):
    """What an utterance asks for."""

    STOP = "stop"
    PLAN = "plan"
    SKILL = "skill"
    CONFIRM = "confirm"
    UNCLEAR = "unclear"


@dataclass
class Correction:
    """One understood utterance.

    When ``refusal`` or ``question`` is set, nothing is to be executed: ``delta_m``,
    ``parameters`` and ``plan`` are then empty whatever the kind. ``stop`` is never
    refused.

    Attributes:
        text: the utterance as received.
        kind: what it asks for.
        delta_m: for a translational skill correction, ``[dx, dy, dz]`` in metres in
            the robot base frame; else None.
        parameters: parameter changes ``{name: {"set"|"add"|"scale": value}}`` for
            ``skill`` (translations are already included here, expressed in the
            skill's own frame, when the skill has an offset parameter for them).
            An empty dict with a ``delta_m`` means: move the gripper by ``delta_m``.
        skill: the skill the parameters are for; None = the current skill or, for
            a speed change, every skill.
        object: the scene object the correction is about, when known.
        plan: for ``plan``: a structured constraint (see ``docs/corrections.md``).
        question: for ``unclear``: the clarifying question to ask the operator.
        refusal: why the request was refused (safety limits, prompt injection).
        confidence: 0..1, how sure the parser is (0 for unclear).
        followup: for ``stop``: what the rest of the utterance asks, once halted.
    """

    text: str
    kind: CorrectionKind
    delta_m: list[float] | None = None
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    skill: str | None = None
    object: str | None = None
    plan: dict[str, Any] | None = None
    question: str | None = None
    refusal: str | None = None
    confidence: float = 1.0
    followup: Correction | None = None

    @property
    def actionable(self) -> bool:
        """True when the agent should act on it (adjust or replan)."""
        return (
            self.kind in (CorrectionKind.SKILL, CorrectionKind.PLAN) and self.refusal is None and self.question is None
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``understand --json`` line)."""
        return {
            "text": self.text,
            "kind": self.kind.value,
            "delta_m": None if self.delta_m is None else [float(v) for v in self.delta_m],
            "parameters": {k: dict(v) for k, v in self.parameters.items()},
            "skill": self.skill,
            "object": self.object,
            "plan": self.plan,
            "question": self.question,
            "refusal": self.refusal,
            "confidence": float(self.confidence),
            "followup": None if self.followup is None else self.followup.to_dict(),
            "summary": self.describe(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Correction:
        """Inverse of :meth:`to_dict` (episode logs store corrections that way)."""
        follow = data.get("followup")
        return cls(
            text=str(data.get("text", "")),
            kind=CorrectionKind(data["kind"]),
            delta_m=None if data.get("delta_m") is None else [float(v) for v in data["delta_m"]],
            parameters={str(k): dict(v) for k, v in dict(data.get("parameters") or {}).items()},
            skill=data.get("skill"),
            object=data.get("object"),
            plan=data.get("plan"),
            question=data.get("question"),
            refusal=data.get("refusal"),
            confidence=float(data.get("confidence", 1.0)),
            followup=None if follow is None else cls.from_dict(follow),
        )

    def describe(self) -> str:
        """One readable line: how the utterance was understood."""
        kind = self.kind.value
        if self.kind is CorrectionKind.STOP:
            out = "stop: halt the arm now"
            if self.followup is not None:
                out += f"; then {self.followup.describe()}"
            return out
        if self.refusal:
            return f"{kind}: refused: {self.refusal}"
        if self.kind is CorrectionKind.UNCLEAR:
            return f"unclear: {self.question or 'no action'}"
        if self.kind is CorrectionKind.CONFIRM:
            return "confirm: keep going as is"
        parts: list[str] = []
        if self.plan is not None:
            parts.append(describe_plan(self.plan))
        if self.delta_m is not None:
            parts.append(f"move {describe_delta(self.delta_m)}")
        for name, change in self.parameters.items():
            parts.append(_describe_change(name, change))
        where = ""
        if self.skill or self.object:
            where = f" ({self.skill or 'current skill'}{' on ' + self.object if self.object else ''})"
        return f"{kind}{where}: " + "; ".join(parts or ["no change"])


@dataclass
class CorrectionContext:
    """What the robot knows when a correction arrives.

    Attributes:
        objects: the scene objects (names, categories, poses, sizes, parts).
        skill: the skill being executed or just executed, if any.
        object: name of the object that skill acts on (for place: the held object).
        target: for place: the name of the target object.
        params: the current parameters of ``skill`` (defaults when None); used to
            check that a change stays within the parameter bounds.
        operator_yaw: yaw (rad) of the operator's forward direction in the base
            frame; 0 = standing behind the robot, pi = facing it across the table.
        last: the previous correction (for "more", "again", "too far").
    """

    objects: list[ObjectInfo] = field(default_factory=list)
    skill: str | None = None
    object: str | None = None
    target: str | None = None
    params: dict[str, Any] | None = None
    operator_yaw: float = 0.0
    last: Correction | None = None

    def find(self, name: str | None) -> ObjectInfo | None:
        """The scene object called ``name``, or None."""
        if not name:
            return None
        for o in self.objects:
            if o.name == name:
                return o
        return None
