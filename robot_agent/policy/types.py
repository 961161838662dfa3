"""Value types of the high-level policy: skill calls and plans.

A plan is a list of :class:`SkillCall`. Calls travel as plain dicts
(``{"skill": "pick", "args": {"object": "red_block"}, "params": {}}``) in logs, the
knowledge base and over ROS, so every type here has ``to_dict``/``from_dict``.
``params`` holds only what the plan sets on purpose (from a constraint); the executor
overlays it on the skill's defaults and on retrieved skill knowledge.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from robot_agent.errors import PolicyError


@dataclass
class SkillCall:
    """One call of a registered skill on scene objects.

    Attributes:
        skill: skill name (a key of ``skills.params.SKILL_ARGS``).
        args: object arguments by role, e.g. ``{"object": "red_block", "target": "cabinet"}``.
        params: skill parameters the plan sets explicitly (validated against the skill's schema).
    """

    skill: str
    args: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """The call as the LLM reads and writes it, e.g. ``place(red_block, cabinet)``."""
        from skills.params import SKILL_ARGS

        roles = SKILL_ARGS.get(self.skill, tuple(self.args))
        return f"{self.skill}({', '.join(self.args[r] for r in roles if r in self.args)})"

    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Identity of the call without its parameters."""
        return self.skill, tuple(sorted(self.args.items()))

    def objects(self) -> list[str]:
        """Every object the call names."""
        return list(self.args.values())

    def to_dict(self) -> dict[str, Any]:
        return {"skill": self.skill, "args": dict(self.args), "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SkillCall:
        """Build from ``to_dict`` output.

        Raises:
            PolicyError: the dict has no skill name or its args are not a mapping of strings.
        """
        if not isinstance(data, Mapping) or not isinstance(data.get("skill"), str):
            raise PolicyError(f"a skill call needs a 'skill' name, got {data!r}")
        args = data.get("args") or {}
        params = data.get("params") or {}
        if not isinstance(args, Mapping) or not all(isinstance(v, str) for v in args.values()):
            raise PolicyError(f"skill call args must map roles to object names, got {args!r}")
        if not isinstance(params, Mapping):
            raise PolicyError(f"skill call params must be a mapping, got {params!r}")
        return cls(data["skill"], {str(k): v for k, v in args.items()}, dict(params))

    @classmethod
    def coerce(cls, value: Any) -> SkillCall:
        """A SkillCall from a SkillCall, its dict, or any object with ``skill``/``args``/``params``."""
        if isinstance(value, SkillCall):
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        if hasattr(value, "skill") and hasattr(value, "args"):
            return cls(str(value.skill), dict(value.args), dict(getattr(value, "params", None) or {}))
        raise PolicyError(f"not a skill call: {value!r}")

    def __str__(self) -> str:
        return self.text()


@dataclass
class ScoredCandidate:
    """One candidate next call as the planner weighed it.

    Attributes:
        call: the call's text.
        steps_to_goal: length of the shortest plan through the next goal clauses that starts with
            this call (None: no goal understood, or the step was a required "next" one).
        llm: the backend's score (log-likelihood, or 0/-1 for a remote choice), None if not asked.
    """

    call: str
    steps_to_goal: int | None = None
    llm: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"call": self.call, "steps_to_goal": self.steps_to_goal, "llm": self.llm}


@dataclass
class StepTrace:
    """Why one step of the plan was chosen.

    Attributes:
        chosen: the chosen call's text.
        how: ``"forced"`` (one candidate left), ``"llm"`` (ranked by the backend),
            ``"fallback"`` (the backend gave no usable answer: symbolic order).
        candidates: the candidates left after preconditions and constraints.
        n_generated: calls generated from the skills over the scene objects.
        n_valid: calls whose preconditions hold on the symbolic state.
    """

    chosen: str
    how: str
    candidates: list[ScoredCandidate] = field(default_factory=list)
    n_generated: int = 0
    n_valid: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "how": self.how,
            "candidates": [c.to_dict() for c in self.candidates],
            "n_generated": self.n_generated,
            "n_valid": self.n_valid,
        }


@dataclass
class Plan:
    """A plan: the calls, and what the planner knew and did to make it.

    Attributes:
        calls: the calls to run, in order (for a replan: the remaining ones).
        goal: the goal parsed from the task, in words ("" when none was understood).
        constraints: the compiled constraints in force (``PlanConstraint.to_dict``).
        hints: knowledge that could not be compiled, passed to the LLM as text only.
        warnings: constraints refused or conflicts noticed.
        trace: one entry per planned step.
        backend: the backend that ranked candidates.
        llm_calls: how many ranking requests the backend served.
        latency_s: wall time of the planning call.
    """

    calls: list[SkillCall] = field(default_factory=list)
    goal: str = ""
    constraints: list[dict[str, Any]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    trace: list[StepTrace] = field(default_factory=list)
    backend: str = ""
    llm_calls: int = 0
    latency_s: float = 0.0

    def __iter__(self) -> Iterator[SkillCall]:
        return iter(self.calls)

    def __len__(self) -> int:
        return len(self.calls)

    def texts(self) -> list[str]:
        """The calls as text, e.g. ``["pick(red_block)", "place(red_block, cabinet)"]``."""
        return [c.text() for c in self.calls]

    @property
    def fallbacks(self) -> int:
        """Steps where the backend gave no usable answer."""
        return sum(t.how == "fallback" for t in self.trace)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": [c.to_dict() for c in self.calls],
            "goal": self.goal,
            "constraints": [dict(c) for c in self.constraints],
            "hints": list(self.hints),
            "warnings": list(self.warnings),
            "trace": [t.to_dict() for t in self.trace],
            "backend": self.backend,
            "llm_calls": self.llm_calls,
            "latency_s": self.latency_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        trace = [
            StepTrace(
                t["chosen"],
                t["how"],
                [ScoredCandidate(**c) for c in t.get("candidates", [])],
                int(t.get("n_generated", 0)),
                int(t.get("n_valid", 0)),
            )
            for t in data.get("trace", [])
        ]
        return cls(
            [SkillCall.from_dict(c) for c in data.get("calls", [])],
            str(data.get("goal", "")),
            [dict(c) for c in data.get("constraints", [])],
            list(data.get("hints", [])),
            list(data.get("warnings", [])),
            trace,
            str(data.get("backend", "")),
            int(data.get("llm_calls", 0)),
            float(data.get("latency_s", 0.0)),
        )
