"""Scenarios run end to end: the world, the camera, the operator and the agent wired together.

:func:`run_scenario` runs one scenario once; :func:`run_rounds` runs rounds of them with one
knowledge base (``robot-agent run``, ``demo``, the benchmark, the tests);
:func:`transcript_printer` turns the agent's events into a readable transcript. The scenario
files, the world and the simulated operator themselves are in ``sim/``.
"""

from robot_agent.scenarios.runner import EpisodeOutcome, build_components, run_rounds, run_scenario
from robot_agent.scenarios.transcript import transcript_printer

__all__ = ["EpisodeOutcome", "build_components", "run_rounds", "run_scenario", "transcript_printer"]
