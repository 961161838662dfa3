"""``robot-agent run`` and ``robot-agent demo``: scenarios in PyBullet with a simulated or human operator."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

DEMO_SCENARIOS = (("drawer_train", "drawer_novel"), ("mug_train", "mug_novel"))


def _cmd_run(args: argparse.Namespace) -> int:
    from robot_agent.config import AgentConfig
    from robot_agent.scenarios import run_rounds
    from sim.phrases import PhraseBankError, load_phrase_bank
    from sim.scenario import load_scenario

    cfg = AgentConfig.load(args.params) if args.params else AgentConfig.load()
    sc = load_scenario(args.scenario)
    try:
        bank = load_phrase_bank(args.phrases) if args.phrases else None
    except PhraseBankError as exc:
        print(f"robot-agent run: {exc}", file=sys.stderr)
        return 2
    kb_dir = Path(args.kb) if args.kb else cfg.memory.kb_path
    rounds = run_rounds(
        [[sc]] * args.rounds,
        config=cfg,
        kb_dir=kb_dir,
        seed=args.seed,
        memory_mode=args.memory,
        operator=args.operator,
        gui=args.gui,
        quiet=args.json,
        log_dir=args.log_dir,
        phrases=bank,
    )
    summary = [
        {
            "corrections": o.corrections,
            "success": o.success,
            **({} if o.success else {"why_failed": o.why_failed}),
            **({"questions": o.result.questions} if o.result.questions else {}),
        }
        for outs in rounds
        for o in outs
    ]
    if args.json:
        print(json.dumps({"rounds": summary}))
    else:
        print("\nround  corrections  success")
        for i, s in enumerate(summary, 1):
            print(f"{i:>5}  {s['corrections']:>11}  {s['success']}")
    return 0 if all(s["success"] for s in summary) else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from robot_agent.config import AgentConfig
    from robot_agent.scenarios import run_rounds
    from sim.scenario import SCENARIOS_DIR, load_scenario

    cfg = AgentConfig.load(args.params) if args.params else AgentConfig.load()
    demo = SCENARIOS_DIR / "demo"
    r1 = [load_scenario(demo / f"{a}.yaml") for a, _ in DEMO_SCENARIOS]
    r2 = [load_scenario(demo / f"{b}.yaml") for _, b in DEMO_SCENARIOS]
    with tempfile.TemporaryDirectory(prefix="robot-agent-demo-") as tmp:
        kb_dir = Path(args.kb) if args.kb else Path(tmp) / "kb"
        print("robot_agent demo: drawer and mug tasks; round 1 on training instances, round 2 on novel ones.")
        print(f"knowledge base: {kb_dir} (fresh)" if not args.kb else f"knowledge base: {kb_dir}")
        rounds = run_rounds([r1, r2], config=cfg, kb_dir=kb_dir, seed=args.seed)
    print("\nsummary: corrections per task")
    print(f"{'family':<8} {'round 1 (train)':>16} {'round 2 (novel)':>16}  success")
    ok = True
    for a, b in zip(rounds[0], rounds[1], strict=True):
        ok &= a.success and b.success
        print(f"{a.family:<8} {a.corrections:>16} {b.corrections:>16}  {a.success}/{b.success}")
    t1 = sum(o.corrections for o in rounds[0])
    t2 = sum(o.corrections for o in rounds[1])
    print(f"{'total':<8} {t1:>16} {t2:>16}")
    print(
        f"demo: round 1 {t1} correction(s), round 2 {t2} correction(s), "
        f"{'all tasks succeeded' if ok else 'some tasks FAILED'}"
    )
    return 0 if ok and t2 < t1 else 1


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run",
        help="run a scenario with a simulated or human operator",
        description="Run a scenario in PyBullet. The simulated operator corrects the robot "
        "when it breaks the scenario's hidden requirements; with --operator human, "
        "type corrections while the robot moves (the sim then runs at wall-clock speed).",
    )
    run.add_argument("--scenario", required=True, help="scenario YAML file")
    run.add_argument(
        "--operator",
        choices=("sim", "human"),
        default="sim",
        help="sim: the simulated operator; human: type corrections on stdin, sim in real time",
    )
    run.add_argument("--rounds", type=int, default=1, help="run the scenario N times with one knowledge base")
    run.add_argument("--kb", help="knowledge base directory (default: memory.kb_dir from config)")
    run.add_argument("--memory", choices=("full", "no-memory", "raw-memory", "text-only"), default="full")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--params", help="parameter YAML (default: config/agent.yaml)")
    run.add_argument("--gui", action="store_true", help="show the PyBullet GUI")
    run.add_argument("--json", action="store_true", help="print only a JSON summary line")
    run.add_argument("--log-dir", help="record each episode as a rosbag2 (MCAP) directory here")
    run.add_argument(
        "--phrases",
        help="the simulated operator's phrase bank: a YAML file or a shipped bank's name "
        "(bank_a, bank_b; default: bank_a)",
    )
    run.set_defaults(func=_cmd_run)
    demo = sub.add_parser(
        "demo",
        help="the correction demo: drawer and mug, 2 rounds",
        description="Drawer and mug scenarios for 2 rounds (round 2 on novel instances) with the "
        "simulated operator and the embedded model; prints corrections per round.",
    )
    demo.add_argument("--kb", help="knowledge base directory (default: a fresh temporary one)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--params", help="parameter YAML (default: config/agent.yaml)")
    demo.set_defaults(func=_cmd_demo)
