"""``robot-agent sim check``: run every skill on its nominal scene, headless, and report
(:func:`sim.check.run_checks`)."""

from __future__ import annotations

import argparse
import json


def _cmd_check(args: argparse.Namespace) -> int:
    from robot_agent.config import AgentConfig
    from sim.check import run_checks

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
        print(
            json.dumps(
                {
                    "skills": [
                        {
                            "skill": r.skill,
                            "args": r.args,
                            "status": r.status,
                            "reason": r.reason,
                            "sim_s": round(r.sim_s, 3),
                            "wall_s": round(r.wall_s, 3),
                        }
                        for r in rows
                    ],
                    "succeeded": ok,
                    "total": len(rows),
                    "sim_speed": round(speed, 2),
                }
            )
        )
    print(f"skills: {ok}/{len(rows)} succeeded, sim speed: {speed:.1f}x real time")
    return 0 if ok == len(rows) else 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``sim check`` to the ``robot-agent`` parser."""
    sim = sub.add_parser("sim", help="simulation tools", description="PyBullet simulation tools.")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sim_sub.required = True
    chk = sim_sub.add_parser(
        "check",
        help="run every skill on its nominal scene and report",
        description="Run each skill headless on its nominal scene; print a table and "
        "'skills: N/N succeeded, sim speed: X.Yx real time'.",
    )
    chk.add_argument("--scene", default="tabletop", help="built-in scene name (default: tabletop)")
    chk.add_argument("--params", help="parameter YAML (default: config/agent.yaml defaults)")
    chk.add_argument("--gui", action="store_true", help="show the PyBullet GUI")
    chk.add_argument("--json", action="store_true", help="also print the rows as one JSON line")
    chk.set_defaults(func=_cmd_check)
