"""Fixtures of the reliability suite, and the figures it prints at the end of a run."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from robot_agent.config import AgentConfig
from robot_agent.language.grammar import CorrectionParser
from robot_agent.policy import make_planner
from sim.world import SimWorld
from tests.reliability.helpers import FIGURES, demo_scenario


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.write_sep("=", "reliability figures")
    for name in sorted(FIGURES):
        terminalreporter.write_line(f"{name:<75} {FIGURES[name]:g}")
    out = os.environ.get("RELIABILITY_FIGURES")
    if out:
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(dict(sorted(FIGURES.items())), fh, indent=1)


@pytest.fixture(scope="session")
def symbolic_config() -> AgentConfig:
    """The shipped configuration with the symbolic planner (no LLM: fast and deterministic)."""
    return AgentConfig.from_params({"policy.backend": "symbolic"})


@pytest.fixture(scope="session")
def symbolic_planner(symbolic_config: AgentConfig) -> Any:
    return make_planner(symbolic_config)


@pytest.fixture(scope="session")
def parser() -> CorrectionParser:
    return CorrectionParser()


@pytest.fixture
def drawer_world(symbolic_config: AgentConfig) -> Iterator[SimWorld]:
    sc = demo_scenario("drawer_train")
    with SimWorld(sc.scene, symbolic_config.sim, symbolic_config.safety) as w:
        yield w
