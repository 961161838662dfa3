"""``robot-agent sim check``: run every skill on its nominal scene, headless, and report.

Each check builds a fresh world from ``sim/scenes/tabletop.yaml``, runs the setup
steps the skill needs (place needs a held object), then the skill itself. The last
line is ``skills: N/N succeeded, sim speed: X.Yx real time``; the exit code is
non-zero if any skill failed.
"""

from __future__ import annotations

import argparse
import json
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


def _cmd_check(args: argparse.Namespace) -> int:
    cfg = AgentConfig.load(args.params) if args.params else AgentConfig()
    if args.gui:
        cfg.sim.gui = True
    rows = run_checks(args.scene, cfg)
    ok = sum(r.status == "succeeded" for r in rows)
    sim_s = sum(r.sim_s for r in rows)
    wall_s = sum(r.wall_s for r in rows)
    speed = sim_s / wall_s if wall_s > 0 else float("inf")
    print(f"{'skill':<9} {'args':<34} {'result':<13} {'sim s':>6} {'wall s':>7}  reason")
    for r in rows:
        a = ", ".join(f"{k}={v}" for k, v in r.args.items()) or "-"
        print(f"{r.skill:<9} {a:<34} {r.status:<13} {r.sim_s:>6.2f} {r.wall_s:>7.2f}  {r.reason}")
    if args.json:
        print(json.dumps({"skills": [{"skill": r.skill, "args": r.args, "status": r.status, "reason": r.reason,
                                      "sim_s": round(r.sim_s, 3), "wall_s": round(r.wall_s, 3)} for r in rows],
                          "succeeded": ok, "total": len(rows), "sim_speed": round(speed, 2)}))
    print(f"skills: {ok}/{len(rows)} succeeded, sim speed: {speed:.1f}x real time")
    return 0 if ok == len(rows) else 1


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("sim", help="simulation tools", description="PyBullet simulation tools.")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sim_sub.required = True
    chk = sim_sub.add_parser("check", help="run every skill on its nominal scene and report",
                             description="Run each skill headless on its nominal scene; print a table and "
                                         "'skills: N/N succeeded, sim speed: X.Yx real time'.")
    chk.add_argument("--scene", default="tabletop", help="built-in scene name (default: tabletop)")
    chk.add_argument("--params", help="parameter YAML (default: config/agent.yaml defaults)")
    chk.add_argument("--gui", action="store_true", help="show the PyBullet GUI")
    chk.add_argument("--json", action="store_true", help="also print the rows as one JSON line")
    chk.set_defaults(func=_cmd_check)
