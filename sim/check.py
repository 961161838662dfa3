"""Every skill on its nominal scene, headless: the check behind ``robot-agent sim check``
(:mod:`robot_agent.cli.sim` prints the table).

Each check builds a fresh world from ``sim/scenes/tabletop.yaml``, runs the setup
steps the skill needs (place needs a held object), then the skill itself;
:func:`run_checks` returns one row per skill.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from robot_agent.config import AgentConfig

Step = tuple[str, dict[str, str], dict[str, Any]]
#: (skill, args, params, setup steps)
CHECKS: list[tuple[str, dict[str, str], dict[str, Any], list[Step]]] = [
    ("pick", {"object": "red_block"}, {}, []),
    ("place", {"object": "red_block", "target": "bowl"}, {}, [("pick", {"object": "red_block"}, {})]),
    ("push", {"object": "apple"}, {"direction": [0.0, -1.0, 0.0], "distance": 0.08}, []),
    ("open", {"object": "cabinet"}, {}, []),
    ("close", {"object": "cabinet"}, {}, [("open", {"object": "cabinet"}, {})]),
    ("move_by", {}, {"delta": [0.0, 0.05, -0.05]}, []),
    ("go_home", {}, {}, [("move_by", {}, {"delta": [0.1, 0.1, -0.2]})]),
]


@dataclass
class CheckRow:
    skill: str
    args: dict[str, str]
    status: str
    reason: str
    sim_s: float
    wall_s: float
    facts: dict[str, Any] = field(default_factory=dict)


def run_checks(scene: str = "tabletop", config: AgentConfig | None = None) -> list[CheckRow]:
    """Run every check in a fresh world; returns one row per skill."""
    from sim.scene import builtin_scene
    from sim.world import SimWorld
    from skills.library import get_skill
    from skills.safety import SafetyChecker

    cfg = config or AgentConfig()
    spec = builtin_scene(scene)
    safety = SafetyChecker(cfg.safety)
    rows = []
    for skill, args, params, setup in CHECKS:
        with SimWorld(spec, cfg.sim, cfg.safety) as world:
            robot = world.robot
            status, reason = "succeeded", ""
            for s_skill, s_args, s_params in setup:
                res = get_skill(s_skill).execute(robot, s_args, s_params, None, safety)
                if not res.ok:
                    status, reason = "setup_failed", f"{s_skill}: {res.reason}"
                    break
            t0, s0 = time.perf_counter(), world.sim_time
            facts: dict[str, Any] = {}
            if status == "succeeded":
                res = get_skill(skill).execute(robot, args, params, None, safety)
                status, reason, facts = res.status.value, res.reason, res.facts
            rows.append(CheckRow(skill, args, status, reason, world.sim_time - s0, time.perf_counter() - t0, facts))
    return rows
