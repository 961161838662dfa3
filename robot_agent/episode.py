"""What an episode is made of: the agent's states, the record of each step and correction, the result.

:class:`EpisodeResult` is what :meth:`robot_agent.agent.Agent.run_task` returns, what the
benchmark scores, what the transcript prints and what :mod:`robot_agent.distill` turns into
knowledge; :mod:`robot_agent.logs.export` rebuilds one from an episode log. :class:`Observer`
is the shape of an in-loop watcher that may speak (the simulated operator).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from skills.result import SkillResult, SkillStatus
from skills.types import ObjectInfo


class AgentState(enum.Enum):
    """Where the agent is (the ROS status topic reports these values)."""

    IDLE = "idle"
    PLANNING = "planning"
    EXECUTING = "executing"
    WAITING = "waiting"  # asked the operator a question / waiting for input
    DONE = "done"
    FAILED = "failed"
    STOPPED = "stopped"


class Observer(Protocol):
    """Something that watches the robot and may speak (the simulated operator)."""

    def before_call(self, call: Any, objects: Mapping[str, ObjectInfo]) -> Any: ...

    def after_call(self, call: Any, result: SkillResult, objects: Mapping[str, ObjectInfo]) -> Any: ...


@dataclass
class CorrectionRecord:
    """One utterance received during an episode, and what became of it."""

    text: str
    source: str
    received_at: float
    understood: dict[str, Any]
    step: int
    call: dict[str, Any] | None
    outcome: str = ""  # "applied" | "replanned" | "stopped" | "asked" | "refused" | "confirmed" | "dropped: ..."


@dataclass
class StepRecord:
    """One executed skill call."""

    call: dict[str, Any]
    status: str
    reason: str
    facts: dict[str, Any]
    knowledge: list[str] = field(default_factory=list)  # ids of items applied
    started_at: float = 0.0
    ended_at: float = 0.0


@dataclass
class EpisodeResult:
    """What happened in one episode."""

    episode_id: str
    task: str
    state: AgentState
    success: bool
    plan: list[dict[str, Any]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    corrections: list[CorrectionRecord] = field(default_factory=list)
    knowledge_used: list[dict[str, Any]] = field(default_factory=list)  # items that changed a decision
    # retrieved items that did not: overridden (explicit words, a later word), irrelevant, hints
    knowledge_skipped: list[dict[str, Any]] = field(default_factory=list)
    knowledge_distilled: list[dict[str, Any]] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    reason: str = ""

    @property
    def n_corrections(self) -> int:
        """Corrections that asked for a change (confirmations and dropped messages excluded)."""
        return sum(
            1
            for c in self.corrections
            if c.understood.get("kind") not in ("confirm",) and not c.outcome.startswith("dropped")
        )

    def succeeded_calls(self) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
        """(skill, args, params) of the successful calls whose effects stand, in order.

        A call that succeeded and was then done again on the same arguments (a correction that
        came after the motion finished, "no, grasp it by the handle", redoes the pick) is
        superseded by the redo: the final scene is the redo's work, so only the redo counts.
        """
        calls = [
            (s.call["skill"], dict(s.call["args"]), dict(s.facts.get("params", s.call.get("params", {}))))
            for s in self.steps
            if s.status == SkillStatus.SUCCEEDED.value
        ]
        last = {(skill, tuple(sorted(args.items()))): i for i, (skill, args, _) in enumerate(calls)}
        return [c for i, c in enumerate(calls) if last[(c[0], tuple(sorted(c[1].items())))] == i]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        d = asdict(self)
        d["state"] = self.state.value
        d["n_corrections"] = self.n_corrections
        return d
