#!/usr/bin/env python3
"""Simulation speed benchmark: full pick-and-place cycles, sim time / wall time.

Usage: python scripts/bench_sim.py [--cycles N] [--json]

Each cycle: pick(red_block) -> place(red_block, bowl) -> pick(red_block) ->
place(red_block, plate) in the built-in ``tabletop`` scene, headless. World
construction is excluded (it happens once); IK, safety checks, collision checks
and physics are included. Prints the ratio; the README quotes it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

from robot_agent.config import AgentConfig
from sim.scene import builtin_scene
from sim.world import SimWorld
from skills.library import get_skill
from skills.safety import SafetyChecker

CYCLE = [
    ("pick", {"object": "red_block"}),
    ("place", {"object": "red_block", "target": "bowl"}),
    ("pick", {"object": "red_block"}),
    ("place", {"object": "red_block", "target": "plate"}),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cfg = AgentConfig()
    safety = SafetyChecker(cfg.safety)
    sim_s = wall_s = 0.0
    failures = 0
    for _ in range(args.cycles):
        with SimWorld(builtin_scene("tabletop"), cfg.sim, cfg.safety) as world:
            s0, t0 = world.sim_time, time.perf_counter()
            for skill, a in CYCLE:
                res = get_skill(skill).execute(world.robot, a, {}, None, safety)
                failures += not res.ok
            sim_s += world.sim_time - s0
            wall_s += time.perf_counter() - t0
    out = {
        "cycles": args.cycles,
        "sim_s": round(sim_s, 2),
        "wall_s": round(wall_s, 3),
        "speed_x_real_time": round(sim_s / wall_s, 1),
        "failures": failures,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
    }
    print(
        f"pick-and-place: {args.cycles} cycles, {sim_s:.1f} s simulated in {wall_s:.2f} s wall "
        f"= {sim_s / wall_s:.1f}x real time ({failures} failed skills)"
    )
    if args.json:
        print(json.dumps(out))
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
