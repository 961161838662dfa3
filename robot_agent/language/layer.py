"""The understanding layer: one entry point for tasks and corrections (grammar first, models next)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from robot_agent.corrections import Correction, CorrectionContext, CorrectionKind, CorrectionParser
from robot_agent.errors import PolicyError
from robot_agent.language.types import Understanding
from skills.types import ObjectInfo

MODES = ("grammar", "full")


def _decision(c: Correction) -> str:
    if c.kind is CorrectionKind.STOP:
        return "stop"
    if c.refusal:
        return "refuse"
    if c.kind is CorrectionKind.UNCLEAR or c.question:
        return "ask"
    return "act"


def goal_atoms(goal: Any) -> list[dict[str, Any]]:
    """A :class:`robot_agent.policy.goals.Goal`'s atoms as data (see :attr:`Understanding.atoms`)."""
    out: list[dict[str, Any]] = []
    for a in goal.atoms:
        d: dict[str, Any] = {"kind": a.kind}
        if a.kind != "home":
            d["objects"] = list(a.objects)
        if a.kind == "at":
            d["targets"] = list(a.targets)
        if a.kind == "drawer":
            d["open"] = bool(a.open)
        out.append(d)
    return out


class LanguageLayer:
    """Understands operator utterances in the context of the scene, the skill and the plan.

    Args:
        parser: the grammar (:class:`CorrectionParser`), the fast path.
        embedder: a text embedder (``memory.embedders``) for the model path; None = grammar only.
        mode: ``"grammar"`` (the grammar alone, as before) or ``"full"``.
    """

    def __init__(self, parser: CorrectionParser | None = None, embedder: Any = None, mode: str = "full") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.parser = parser or CorrectionParser()
        self.embedder = embedder
        self.mode = mode

    def understand_correction(self, text: str, ctx: CorrectionContext | None = None) -> Understanding:
        t0 = time.perf_counter()
        c = self.parser.parse(text, ctx)
        return Understanding(text, "correction", _decision(c), correction=c, question=c.question,
                             reason=c.refusal or "", confidence=c.confidence, source="grammar",
                             latency_ms=(time.perf_counter() - t0) * 1e3)

    def understand_task(self, text: str, objects: Sequence[ObjectInfo]) -> Understanding:
        from robot_agent.policy.goals import parse_goal

        t0 = time.perf_counter()
        try:
            goal = parse_goal(text, list(objects))
        except PolicyError as exc:
            return Understanding(text, "task", "ask", question=f"{exc}. What should I do?", reason=str(exc),
                                 latency_ms=(time.perf_counter() - t0) * 1e3)
        if goal is None or not goal.atoms:
            why = "I could not tell what the task asks for"
            return Understanding(text, "task", "ask", question=f"{why}. Could you say it in other words?",
                                 reason=why, latency_ms=(time.perf_counter() - t0) * 1e3)
        return Understanding(text, "task", "act", task=text, goal=goal.describe(), atoms=goal_atoms(goal),
                             confidence=1.0,
                             source="grammar", latency_ms=(time.perf_counter() - t0) * 1e3)

    def parse(self, text: str, ctx: CorrectionContext | None = None) -> Correction:
        """Drop-in for :meth:`CorrectionParser.parse`: the correction the agent acts on."""
        u = self.understand_correction(text, ctx)
        assert u.correction is not None
        return u.correction
