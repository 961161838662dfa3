"""``robot-agent run`` and ``robot-agent demo``: scenarios in PyBullet with a simulated or human operator."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

DEMO_SCENARIOS = (("drawer_train", "drawer_novel"), ("mug_train", "mug_novel"))


def _fmt_call(c: dict[str, Any]) -> str:
    args = ", ".join(c.get("args", {}).values())
    return f"{c['skill']}({args})"


def transcript_printer(out: Callable[[str], None] = print) -> Callable[[dict[str, Any]], None]:
    """An event callback that prints a readable transcript."""

    def on_event(e: dict[str, Any]) -> None:
        t = e.get("type")
        if t == "plan":
            head = "replan" if e.get("replanned") else "plan"
            out(f"  {head}: " + " -> ".join(_fmt_call(c) for c in e["plan"]))
        elif t == "status" and e.get("state") == "executing":
            out(f"  step {e.get('step', 0) + 1}: {_fmt_call(e['skill'])}")
        elif t == "skill_result" and e["status"] != "succeeded":
            out(f"    -> {e['status']}: {e['reason']}")
        elif t == "understood":
            out(f"  operator ({e['source']}): \"{e['text']}\"\n    understood as {e['summary']} [{e['outcome']}]")
            if e.get("question"):
                out(f"    robot asks: {e['question']}")
        elif t == "task_understood":
            if e.get("decision") == "act":
                out(f"  task understood as: {e.get('goal')} ({e.get('source')}, confidence {e.get('confidence')})")
            elif e.get("answer_to"):
                out(f"  answer: \"{e.get('text')}\" -> {e.get('decision')}")
        elif t == "question" and e.get("about") == "task":
            out(f"  robot asks: {e.get('question')}")
        elif t == "knowledge":
            if e.get("event") == "used":
                what = f"{e.get('skill')}({e.get('object')})" if e.get("skill") else "plan"
                out(f"  knowledge used for {what}: {e.get('rule')} (score {e.get('score')})")
            elif e.get("event") == "distilled":
                out(f"  knowledge distilled: [{e.get('kind')}] {e.get('rule')}")
            elif e.get("event") == "error":
                out(f"  knowledge base error: {e.get('error')}")
        elif t == "dropped":
            out(f"  dropped: {e.get('text')} ({e.get('reason')})")

    return on_event


def build_components(config: Any, kb_dir: str | Path | None, *, memory: bool = True) -> tuple[Any, Any, Any]:
    """The default policy, knowledge base and understanding layer from config (models loaded once)."""
    from memory import open_knowledge_base
    from robot_agent.language import make_language_layer
    from robot_agent.policy import make_planner

    policy = make_planner(config)
    kb = None
    if memory:
        if kb_dir is not None:
            config.memory.kb_dir = str(kb_dir)
        kb = open_knowledge_base(config.memory)
    return policy, kb, make_language_layer(config, embedder=getattr(kb, "text", None), kb=kb)


def run_rounds(scenarios_per_round: list[list[Any]], *, config: Any, kb_dir: Path, seed: int = 0,
               memory_mode: str = "full", operator: str = "sim", gui: bool = False, quiet: bool = False,
               components: tuple[Any, Any, Any] | None = None, log_dir: str | Path | None = None,
               phrases: Any = None) -> list[list[Any]]:
    """Run rounds of scenarios with one knowledge base; returns outcomes per round (``phrases``: the
    simulated operator's phrase bank, ``sim.phrases.PhraseBank``; None: the built-in one)."""
    from sim.runner import run_scenario

    policy, kb, parser = components or build_components(config, kb_dir, memory=memory_mode != "no-memory")
    printer = transcript_printer((lambda s: None) if quiet else print)
    rounds = []
    try:
        for r, scenarios in enumerate(scenarios_per_round, 1):
            outs = []
            for sc in scenarios:
                if not quiet:
                    print(f"\n== round {r}: {sc.name} ({sc.split}) — task: \"{sc.task}\"")
                o = run_scenario(sc, policy=policy, kb=kb, parser=parser, config=config, seed=seed,
                                 memory_mode=memory_mode, operator=operator, gui=gui, on_event=printer,
                                 log_dir=log_dir, phrases=phrases)
                if not quiet:
                    verdict = "succeeded" if o.success else f"FAILED ({'; '.join(o.why_failed)})"
                    print(f"  => {verdict} with {o.corrections} correction(s) in {o.wall_s:.1f} s")
                outs.append(o)
            rounds.append(outs)
    finally:
        if kb is not None and components is None:
            kb.close()
    return rounds


def _cmd_run(args: argparse.Namespace) -> int:
    from robot_agent.config import AgentConfig
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
    rounds = run_rounds([[sc]] * args.rounds, config=cfg, kb_dir=kb_dir, seed=args.seed,
                        memory_mode=args.memory, operator=args.operator, gui=args.gui, quiet=args.json,
                        log_dir=args.log_dir, phrases=bank)
    summary = [{"corrections": o.corrections, "success": o.success,
                **({} if o.success else {"why_failed": o.why_failed}),
                **({"questions": o.result.questions} if o.result.questions else {})}
               for outs in rounds for o in outs]
    if args.json:
        print(json.dumps({"rounds": summary}))
    else:
        print("\nround  corrections  success")
        for i, s in enumerate(summary, 1):
            print(f"{i:>5}  {s['corrections']:>11}  {s['success']}")
    return 0 if all(s["success"] for s in summary) else 1


def _cmd_demo(args: argparse.Namespace) -> int:
    from robot_agent.config import AgentConfig
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
    for j, (a, b) in enumerate(zip(rounds[0], rounds[1])):
        ok &= a.success and b.success
        print(f"{a.family:<8} {a.corrections:>16} {b.corrections:>16}  {a.success}/{b.success}")
    t1 = sum(o.corrections for o in rounds[0])
    t2 = sum(o.corrections for o in rounds[1])
    print(f"{'total':<8} {t1:>16} {t2:>16}")
    print(f"demo: round 1 {t1} correction(s), round 2 {t2} correction(s), "
          f"{'all tasks succeeded' if ok else 'some tasks FAILED'}")
    return 0 if ok and t2 < t1 else 1


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a scenario with a simulated or human operator",
                         description="Run a scenario in PyBullet. The simulated operator corrects the robot "
                                     "when it breaks the scenario's hidden requirements; with --operator human, "
                                     "type corrections while the robot moves (the sim then runs at wall-clock speed).")
    run.add_argument("--scenario", required=True, help="scenario YAML file")
    run.add_argument("--operator", choices=("sim", "human"), default="sim",
                     help="sim: the simulated operator; human: type corrections on stdin, sim in real time")
    run.add_argument("--rounds", type=int, default=1, help="run the scenario N times with one knowledge base")
    run.add_argument("--kb", help="knowledge base directory (default: memory.kb_dir from config)")
    run.add_argument("--memory", choices=("full", "no-memory", "raw-memory", "text-only"), default="full")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--params", help="parameter YAML (default: config/agent.yaml)")
    run.add_argument("--gui", action="store_true", help="show the PyBullet GUI")
    run.add_argument("--json", action="store_true", help="print only a JSON summary line")
    run.add_argument("--log-dir", help="record each episode as a rosbag2 (MCAP) directory here")
    run.add_argument("--phrases", help="the simulated operator's phrase bank: a YAML file or a shipped bank's name "
                                       "(bank_a, bank_b; default: bank_a)")
    run.set_defaults(func=_cmd_run)
    demo = sub.add_parser("demo", help="the correction demo: drawer and mug, 2 rounds",
                          description="Drawer and mug scenarios for 2 rounds (round 2 on novel instances) with the "
                                      "simulated operator and the embedded model; prints corrections per round.")
    demo.add_argument("--kb", help="knowledge base directory (default: a fresh temporary one)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--params", help="parameter YAML (default: config/agent.yaml)")
    demo.set_defaults(func=_cmd_demo)
