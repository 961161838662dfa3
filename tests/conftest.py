"""Session-wide test settings: offline models, no display, isolated ROS domain."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("DISPLAY", None)  # tests never open windows


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def recorded_episodes(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Round 1 of the demo (drawer: a plan- and a skill-level correction; mug: a skill-level
    one) run in PyBullet with the simulated operator, a fresh knowledge base, and every
    episode logged: shared by the replay, export, training and kb rebuild tests."""
    from robot_agent.config import AgentConfig
    from robot_agent.scenarios import run_rounds
    from sim.scenario import SCENARIOS_DIR, load_scenario

    root = tmp_path_factory.mktemp("recorded")
    cfg = AgentConfig.load()
    # Symbolic: the shortest plans, which the untrained local model also picks on these scenes
    # (its one free choice, open-first in the drawer, stays under policy.detour_penalty; docs/policy.md).
    cfg.policy.backend = "symbolic"
    scenarios = [load_scenario(SCENARIOS_DIR / "demo" / f"{n}.yaml") for n in ("drawer_train", "mug_train")]
    rounds = run_rounds([scenarios], config=cfg, kb_dir=root / "kb", quiet=True, log_dir=root / "logs")
    logs = {o.scenario: next((root / "logs").glob(f"{o.scenario}-*")) for o in rounds[0]}
    return {
        "root": root,
        "kb": root / "kb",
        "logs_dir": root / "logs",
        "logs": logs,
        "outcomes": rounds[0],
        "config": cfg,
    }


@pytest.fixture(scope="session")
def text_embedder():
    """all-MiniLM-L6-v2, loaded once for the session (the understanding layer and knowledge bases)."""
    from memory.embedders import make_text_embedder

    return make_text_embedder("minilm")
