"""What the understanding layer returns: one typed result for tasks and corrections alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from robot_agent.language.grammar import Correction

#: what the agent should do with an utterance
DECISIONS = ("act", "ask", "refuse", "stop")


@dataclass
class Choice:
    """One meaning offered in a clarifying question ("1. open the drawer further").

    Attributes:
        label: the words shown and spoken to the operator.
        canonical: the meaning in the grammar's own words, on scene names (the grammar parses
            it exactly: "pull it further", "put green_apple in cabinet").
        score: the model's similarity of the utterance to this meaning (0..1).
        meaning: the meaning as data: a correction's ``Correction.to_dict()``, or for a task
            ``{"atoms": [...]}`` as in :attr:`Understanding.atoms`.
    """

    label: str
    canonical: str
    score: float = 0.0
    meaning: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "canonical": self.canonical,
            "score": round(float(self.score), 3),
            "meaning": self.meaning,
        }


@dataclass
class Understanding:
    """How one utterance (a task or a correction) was understood, and what to do with it.

    Attributes:
        text: the utterance as received.
        what: ``"task"`` or ``"correction"``.
        decision: ``"act"`` (do it), ``"ask"`` (``question`` and ``choices``; nothing moves),
            ``"refuse"`` (``reason``; nothing moves) or ``"stop"`` (halt now).
        correction: for a correction: the grounded :class:`Correction` (for ``ask``, an
            ``unclear`` one carrying the question).
        task: for a task: the canonical task text the goal parser understands (scene names).
        goal: for a task: the goal in words ("green_apple in/on cabinet").
        atoms: for a task: the goal's conditions as data, in order: ``{"kind": "at", "objects":
            [...], "targets": [...]}`` (any of ``objects`` in/on any of ``targets``), ``{"kind":
            "holding", "objects": [...]}``, ``{"kind": "drawer", "objects": [...], "open": bool}``,
            ``{"kind": "pushed", "objects": [...]}``, ``{"kind": "home"}``.
        question: what to ask the operator (``ask``), else None.
        choices: the meanings offered with the question, best first (answer by number or words).
        reason: why nothing is done (``refuse``), or why a question is asked.
        confidence: 0..1, how sure the layer is of the meaning it acts on.
        source: what decided: ``"grammar"``, ``"model"``, ``"exemplar"`` (a phrase the operator
            taught earlier), ``"llm"`` (the OpenAI backend), ``"answer"`` (an answer to a question).
        latency_ms: time spent understanding.
    """

    text: str
    what: str
    decision: str
    correction: Correction | None = None
    task: str | None = None
    goal: str | None = None
    atoms: list[dict[str, Any]] = field(default_factory=list)
    question: str | None = None
    choices: list[Choice] = field(default_factory=list)
    reason: str = ""
    confidence: float = 0.0
    source: str = "grammar"
    latency_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "what": self.what,
            "decision": self.decision,
            "correction": None if self.correction is None else self.correction.to_dict(),
            "task": self.task,
            "goal": self.goal,
            "atoms": self.atoms,
            "question": self.question,
            "choices": [c.to_dict() for c in self.choices],
            "reason": self.reason,
            "confidence": round(float(self.confidence), 3),
            "source": self.source,
            "latency_ms": round(float(self.latency_ms), 2),
        }


@dataclass
class Thresholds:
    """The decision's calibration (tuned on the corpus's dev split).

    Attributes:
        act: the best meaning's score needed to act on it.
        margin: how far ahead of the next meaning it must be.
        ask: below this nothing is close enough to offer as a choice.
        clear_lead: a meaning above ``ask`` that leads the next by this much is acted on too.
        task_margin: a task the grammar read is overruled only when the model prefers another
            goal by more than this.
        answer: the score a worded answer needs against one offered choice.
        home_act, home_lead: going home, the one goal that moves no object, is acted on from
            this score when it leads every other goal by ``home_lead``. Said in the robot's
            own words ("park yourself", "back to base", "your sleeping position"), it shares
            few words with its renderings and scores low, while no object meaning comes near.
    """

    act: float = 0.62
    margin: float = 0.05
    ask: float = 0.40
    clear_lead: float = 0.16
    task_margin: float = 0.08
    answer: float = 0.45
    home_act: float = 0.28
    home_lead: float = 0.11
