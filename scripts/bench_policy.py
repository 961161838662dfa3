#!/usr/bin/env python3
"""High-level policy latency: plan and replan times, p50/p95, for the local backend (and openai).

Usage:
    python scripts/bench_policy.py [--rounds N] [--backend local|symbolic] [--threads T]
                                   [--base-url URL --model NAME] [--json]

Cases are the demo scenarios' scenes (sim/scenarios/demo) and the built-in tabletop,
planned from scratch and replanned mid-task after a correction. The cases run round-robin,
so every call sees another prompt than the one before (the prefix KV cache keeps only
what the prompts share). The first call of each case after loading is reported apart
("cold"). Figures are wall time of ``Planner.plan``/``Planner.replan`` including goal
parsing, search and every LLM pass. With ``--base-url``, the same cases run again on the
openai backend against that server. docs/policy.md quotes the output.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from robot_agent.config import PolicyConfig
from robot_agent.policy import Plan, Planner, SkillCall, make_planner
from sim.scenario import SCENARIOS_DIR, Scenario, load_scenario
from sim.scene import builtin_scene
from skills.types import ObjectInfo, Pose

PICK_RED = SkillCall("pick", {"object": "red_block"})
LEARNED_DRAWER = {
    "type": "order",
    "first": {"skill": "open", "object_category": "cabinet"},
    "then": {"skill": "place", "target_category": "cabinet"},
}
LEARNED_MUG = {"type": "param", "skill": "pick", "category": "mug", "params": {"grasp_region": "handle"}}


@dataclass
class Case:
    name: str
    objects: Callable[[], list[ObjectInfo]]
    task: str
    knowledge: list[Any] = field(default_factory=list)
    done: list[SkillCall] = field(default_factory=list)

    @property
    def replan(self) -> bool:
        return bool(self.done)

    def run(self, planner: Planner) -> Plan:
        if self.done:
            return planner.replan(self.task, self.objects(), done_steps=self.done, constraints=self.knowledge)
        return planner.plan(self.task, self.objects(), self.knowledge)


def _scenario(name: str) -> Callable[[], list[ObjectInfo]]:
    sc = load_scenario(SCENARIOS_DIR / "demo" / f"{name}.yaml")
    return lambda: sc.objects


def _tabletop() -> list[ObjectInfo]:
    return Scenario("tabletop", "", "", "", builtin_scene("tabletop")).objects


def _tabletop_red_in_tray() -> list[ObjectInfo]:
    """The tabletop after pick(red_block), place(red_block, tray): the block rests in the tray."""
    objs = _tabletop()
    tray = next(o for o in objs if o.name == "tray")
    x, y, z = tray.pose.position
    return [replace(o, pose=Pose((x, y, z + 0.01), o.pose.yaw)) if o.name == "red_block" else o for o in objs]


CASES = [
    Case("drawer: plan, no knowledge", _scenario("drawer_train"), "put the red block in the drawer"),
    Case(
        "drawer: replan after 'open the drawer first'",
        _scenario("drawer_train"),
        "put the red block in the drawer",
        ["open the drawer first"],
        [PICK_RED],
    ),
    Case(
        "drawer novel: plan with learned order",
        _scenario("drawer_novel"),
        "place the blue cylinder inside the cabinet drawer",
        [LEARNED_DRAWER],
    ),
    Case(
        "mug: plan with 'grasp mugs by the handle'",
        _scenario("mug_train"),
        "put the mug on the plate",
        ["grasp mugs by the handle"],
    ),
    Case(
        "mug novel: plan with learned grasp", _scenario("mug_novel"), "place the blue cup onto the plate", [LEARNED_MUG]
    ),
    Case("tabletop: 'a block' in the tray (LLM picks)", _tabletop, "put a block in the tray"),
    Case(
        "tabletop: replan after 'no, the blue one'",
        _tabletop,
        "put the red block in the tray",
        ["no, the blue one"],
        [PICK_RED],
    ),
    Case("tabletop: tidy up, fruit->bowl", _tabletop, "tidy up the table", ["fruit goes in the bowl"]),
    Case(
        "tabletop: replan tidy-up after 'fruit goes in the bowl'",
        _tabletop_red_in_tray,
        "tidy up the table",
        ["fruit goes in the bowl"],
        [PICK_RED, SkillCall("place", {"object": "red_block", "target": "tray"})],
    ),
]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def bench(planner: Planner, rounds: int) -> dict[str, Any]:
    cold: dict[str, float] = {}
    times: dict[str, list[float]] = {c.name: [] for c in CASES}
    plans: dict[str, Plan] = {}
    for case in CASES:
        t0 = time.perf_counter()
        plans[case.name] = case.run(planner)
        cold[case.name] = time.perf_counter() - t0
    for _ in range(rounds):
        for case in CASES:
            t0 = time.perf_counter()
            case.run(planner)
            times[case.name].append(time.perf_counter() - t0)
    rows = []
    for case in CASES:
        ts = times[case.name]
        p = plans[case.name]
        rows.append(
            {
                "case": case.name,
                "replan": case.replan,
                "plan": p.texts(),
                "llm_calls": p.llm_calls,
                "cold_s": round(cold[case.name], 3),
                "p50_s": round(_pct(ts, 50), 3),
                "p95_s": round(_pct(ts, 95), 3),
                "max_s": round(max(ts), 3) if ts else None,
            }
        )
    every = [t for ts in times.values() for t in ts]
    replans = [t for c in CASES if c.replan for t in times[c.name]]
    llm = [t for c in CASES if plans[c.name].llm_calls for t in times[c.name]]
    return {
        "backend": planner.backend.describe(),
        "rounds": rounds,
        "rows": rows,
        "all_p50_s": round(_pct(every, 50), 3),
        "all_p95_s": round(_pct(every, 95), 3),
        "replan_p95_s": round(_pct(replans, 95), 3),
        "llm_cases_p95_s": round(_pct(llm, 95), 3),
    }


def show(result: dict[str, Any]) -> None:
    print(f"\nbackend: {result['backend']}  ({result['rounds']} rounds, round-robin over {len(result['rows'])} cases)")
    print(f"{'case':58s} {'llm':>3s} {'cold s':>7s} {'p50 s':>7s} {'p95 s':>7s}  plan")
    for r in result["rows"]:
        print(
            f"{r['case']:58s} {r['llm_calls']:3d} {r['cold_s']:7.3f} {r['p50_s']:7.3f} {r['p95_s']:7.3f}  "
            f"{', '.join(r['plan'])}"
        )
    print(
        f"all calls: p50 {result['all_p50_s']:.3f} s, p95 {result['all_p95_s']:.3f} s; "
        f"replans p95 {result['replan_p95_s']:.3f} s; cases that ask the LLM p95 {result['llm_cases_p95_s']:.3f} s"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="timed rounds over all cases (default 10)")
    ap.add_argument("--backend", default="local", choices=("local", "symbolic"), help="first backend to time")
    ap.add_argument("--threads", type=int, default=None, help="override policy.threads for the local model")
    ap.add_argument("--base-url", default="", help="also time an OpenAI-compatible server at this URL")
    ap.add_argument("--model", default="", help="model name for --base-url")
    ap.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = ap.parse_args()
    cfg = PolicyConfig(backend=args.backend)
    if args.threads is not None:
        cfg.threads = args.threads
    t0 = time.perf_counter()
    planner = make_planner(cfg)
    load_s = time.perf_counter() - t0
    load = os.getloadavg()
    machine = (
        f"{platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} at start"
    )
    print(f"machine: {machine}\nbackend loaded in {load_s:.2f} s")
    results = [bench(planner, args.rounds)]
    show(results[0])
    if args.base_url:
        if not args.model:
            print("--model is required with --base-url", file=sys.stderr)
            return 2
        remote = make_planner(PolicyConfig(backend="openai", base_url=args.base_url, model=args.model))
        results.append(bench(remote, args.rounds))
        show(results[-1])
    if args.json:
        print(json.dumps({"machine": machine, "load_s": round(load_s, 2), "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
