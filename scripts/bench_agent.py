#!/usr/bin/env python3
"""Agent latency benchmark: plan latency, and correction-to-reaction latency for stop,
skill-level and plan-level corrections.

Usage: python scripts/bench_agent.py [--trials 10] [--json]

Reaction latency is wall time from ``Agent.submit_correction`` (the moment a correction
arrives) to the first changed motion command sent to the robot:
* stop: the first ``hold`` command;
* skill-level ("grasp it by the handle" during the pick approach): the first joint target of
  the retried pick with the new parameters (parse, cancel, IK of the new approach included);
* plan-level ("open the drawer first" during the pick approach): the first joint target of
  the replanned first step (parse, replan with the embedded model, IK included).
The correction arrives from another thread at a random control tick of the running skill,
as a person's would. Plan latency is ``Planner.plan`` on each demo scenario (embedded SmolLM2).

The correction's own cost on the hot path is timed too (the unit tests check what these do, not
how long they take): ``is_stop``, which every utterance passes first (budget: 100 us per call),
and the grammar's parse of a composite correction (budget: 20 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import threading
import time

import numpy as np

from robot_agent.agent import Agent
from robot_agent.config import AgentConfig
from robot_agent.language.grammar import CorrectionContext, CorrectionParser, is_stop
from robot_agent.policy import make_planner
from sim.scenario import SCENARIOS_DIR, load_scenario
from sim.world import SimWorld

DEMO = SCENARIOS_DIR / "demo"


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def reaction(planner, parser, scenario: str, text: str, kind: str, rng: random.Random) -> float:  # noqa: ANN001
    sc = load_scenario(DEMO / f"{scenario}.yaml")
    with SimWorld(sc.scene) as world:
        robot = world.robot
        agent = Agent(robot, planner, None, parser, AgentConfig())
        marks: dict[str, float] = {}
        inner_step, inner_hold = robot.step, robot.hold
        fire_at = robot.ticks + rng.randint(15, 45)

        def step(q):  # noqa: ANN001, ANN202
            if "sent" in marks and "react" not in marks and kind != "stop" and marks.get("held"):
                marks["react"] = time.perf_counter()
            inner_step(q)
            if robot.ticks == fire_at:
                threading.Thread(
                    target=lambda: (
                        marks.__setitem__("sent", time.perf_counter()),
                        agent.submit_correction(text, "typed"),
                    )
                ).start()
                time.sleep(0.002)  # the person speaks while the arm moves

        def hold():  # noqa: ANN202
            if "sent" in marks:
                marks["held"] = 1.0
                if kind == "stop" and "react" not in marks:
                    marks["react"] = time.perf_counter()
            inner_hold()

        robot.step, robot.hold = step, hold  # type: ignore[method-assign]
        agent.run_task(sc.task)
    return (marks["react"] - marks["sent"]) * 1000 if "react" in marks and "sent" in marks else float("nan")


def hot_path(parser: CorrectionParser, trials: int) -> tuple[list[float], list[float]]:
    """Microseconds per ``is_stop`` call (means over batches) and milliseconds per grammar parse."""
    said = ["stop", "a bit to the left please", "first open the drawer, then put the block inside it"] * 100
    drawer = load_scenario(DEMO / "drawer_train.yaml")
    ctx = CorrectionContext(objects=drawer.objects, skill="pick", object="red_block")
    stop_us, parse_ms = [], []
    for _ in range(max(trials, 1) * 5):
        t = time.perf_counter()
        for text in said:
            is_stop(text)
        stop_us.append((time.perf_counter() - t) / len(said) * 1e6)
        t = time.perf_counter()
        parser.parse("first open the drawer, then put the block inside and go a bit slower", ctx)
        parse_ms.append((time.perf_counter() - t) * 1000)
    return stop_us, parse_ms


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    planner = make_planner(AgentConfig().policy)
    load_s = time.perf_counter() - t0
    parser = CorrectionParser()
    rng = random.Random(0)  # noqa: S311 - seeded benchmark inputs, not security
    plan_ms = []
    for _ in range(args.trials):
        for name in ("drawer_train", "drawer_novel", "mug_train", "mug_novel"):
            sc = load_scenario(DEMO / f"{name}.yaml")
            t = time.perf_counter()
            planner.plan(sc.task, sc.objects, [])
            plan_ms.append((time.perf_counter() - t) * 1000)
    stop_us, parse_ms = hot_path(parser, args.trials)
    cases = {
        "stop": ("mug_train", "stop"),
        "skill": ("mug_train", "grasp it by the handle"),
        "plan": ("drawer_train", "open the drawer first"),
    }
    out: dict[str, object] = {
        "planner_load_s": round(load_s, 2),
        "plan_ms": {"p50": round(pct(plan_ms, 50), 2), "p95": round(pct(plan_ms, 95), 2)},
    }
    print(
        f"planner load: {load_s:.1f} s; plan latency p50 {pct(plan_ms, 50):.1f} ms, p95 {pct(plan_ms, 95):.1f} ms "
        f"({len(plan_ms)} plans, backend {planner.backend.name if hasattr(planner.backend, 'name') else 'local'})"
    )
    out["is_stop_us"] = {"p50": round(pct(stop_us, 50), 2), "p95": round(pct(stop_us, 95), 2)}
    out["parse_ms"] = {"p50": round(pct(parse_ms, 50), 2), "p95": round(pct(parse_ms, 95), 2)}
    print(
        f"is_stop per call: p50 {pct(stop_us, 50):.2f} us, p95 {pct(stop_us, 95):.2f} us (budget 100 us); "
        f"grammar parse of a composite correction: p50 {pct(parse_ms, 50):.2f} ms, "
        f"p95 {pct(parse_ms, 95):.2f} ms (budget 20 ms)"
    )
    for kind, (scen, text) in cases.items():
        xs = [reaction(planner, parser, scen, text, kind, rng) for _ in range(args.trials)]
        xs = [x for x in xs if x == x]
        out[f"reaction_{kind}_ms"] = {"p50": round(pct(xs, 50), 2), "p95": round(pct(xs, 95), 2), "n": len(xs)}
        print(
            f"{kind:>5}-level correction -> first changed motion command: p50 {pct(xs, 50):7.2f} ms, "
            f"p95 {pct(xs, 95):7.2f} ms (n={len(xs)})"
        )
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["machine"] = f"{platform.machine()} {os.cpu_count()} cores"
    print(f"peak memory of the agent process: {out['peak_rss_mb']} MB")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
