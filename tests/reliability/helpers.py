"""Helpers of the reliability suite: the figures it reports, scenarios, agents, a scripted operator.

Every test adds what it tried to :data:`FIGURES` (inputs tried, faults injected, load held,
data lost); ``conftest.py`` prints them at the end of the run and, when the environment
variable ``RELIABILITY_FIGURES`` names a file, writes them there as JSON.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from robot_agent.agent import Agent
from robot_agent.config import AgentConfig
from robot_agent.language.grammar import CorrectionParser
from sim.scenario import SCENARIOS_DIR, load_scenario
from sim.world import SimWorld

#: figure name -> number, summed over the tests that ran
FIGURES: dict[str, float] = defaultdict(float)


def figure(name: str, value: float = 1, *, keep: str = "sum") -> None:
    """Add ``value`` to a figure (``keep="max"``: keep the largest value seen)."""
    if keep == "max":
        FIGURES[name] = max(FIGURES.get(name, value), value)
    else:
        FIGURES[name] += value


def demo_scenario(name: str) -> Any:
    return load_scenario(SCENARIOS_DIR / "demo" / f"{name}.yaml")


def make_agent(
    world: SimWorld,
    planner: Any,
    parser: CorrectionParser,
    config: AgentConfig,
    events: list[dict[str, Any]] | None = None,
    **kwargs: Any,
) -> Agent:
    """An agent without memory whose events go to ``events``."""
    return Agent(
        world.robot,
        planner,
        None,
        parser,
        config,
        memory_mode="no-memory",
        on_event=events.append if events is not None else None,
        **kwargs,
    )


class Script:
    """The operator, speaking a fixed list of utterances as the robot starts each motion."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)

    def before_call(self, call: Any, objects: Any) -> Any:
        return SimpleNamespace(text=self.lines.pop(0)) if self.lines else None

    def after_call(self, call: Any, result: Any, objects: Any) -> Any:
        return None
