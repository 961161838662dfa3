"""Does retraining the high-level policy on episode logs reduce plan-level corrections?

1. Round 1: every *train* instance of the suite runs once with the simulated operator, each
   episode logged (rosbag2 / MCAP). By default without memory (``--round1-memory``), so every
   instance is a first encounter and is corrected as such.
2. Export the logs (SFT examples: the context before each plan-level correction and the
   corrected step, the hindsight relabelling of corrected episodes, plus the executed steps)
   and train a LoRA adapter on the CPU (timed; SFT plus the pairwise term, see docs/training.md).
3. Run every *novel* instance with the knowledge base switched off (memory mode
   ``no-memory``), once with the untrained policy and once with the adapter, and count
   plan-level corrections (those the agent answered by replanning), all corrections and
   successes.

    .venv/bin/python scripts/bench_train.py [--suite public|demo|DIR] [--out DIR] [--epochs N]

The suite defaults to ``sim/scenarios/public`` when it exists, else ``sim/scenarios/demo``.
Prints a table and writes ``bench_train.json`` under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_suite(suite: str) -> tuple[str, list, list]:
    from sim.scenario import SCENARIOS_DIR, load_scenario

    if suite in ("", "auto"):
        suite = "public" if (SCENARIOS_DIR / "public").is_dir() else "demo"
    path = SCENARIOS_DIR / suite if (SCENARIOS_DIR / suite).is_dir() else Path(suite)
    if not path.is_dir():
        raise SystemExit(f"error: suite {suite!r}: no such directory (public, demo, or a path)")
    scenarios = [load_scenario(p) for p in sorted(path.rglob("*.yaml"))]
    train = [s for s in scenarios if s.split == "train"]
    novel = [s for s in scenarios if s.split == "novel"]
    if not train or not novel:
        raise SystemExit(f"error: {path}: needs train and novel scenarios ({len(train)} and {len(novel)} found)")
    return str(path), train, novel


def plan_corrections(outcome) -> int:
    """Corrections the agent answered by replanning: the high-level policy's mistakes."""
    return sum(1 for c in outcome.result.corrections if c.understood.get("kind") == "plan" and c.outcome == "replanned")


def evaluate(novel: list, cfg, seed: int) -> list[dict]:
    from robot_agent.scenarios import build_components, run_rounds

    components = build_components(cfg, None, memory=False)
    (outs,) = run_rounds(
        [novel],
        config=cfg,
        kb_dir=Path(tempfile.mkdtemp()),
        seed=seed,
        memory_mode="no-memory",
        quiet=True,
        components=components,
    )
    return [
        {
            "scenario": o.scenario,
            "family": o.family,
            "plan_corrections": plan_corrections(o),
            "corrections": o.corrections,
            "success": o.success,
        }
        for o in outs
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--suite", default="auto", help="public, demo, or a directory of scenarios (default: public if present)"
    )
    ap.add_argument("--out", help="work directory (logs, data, adapter, results); default: a new temporary one")
    ap.add_argument(
        "--round1-memory",
        default="no-memory",
        choices=("no-memory", "full"),
        help="memory mode of the logged round 1 (default no-memory: every instance a first encounter)",
    )
    ap.add_argument("--logs", help="reuse round-1 logs from this directory instead of running round 1")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (default: --epochs passes)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument(
        "--correction-weight", type=int, default=6, help="repeats of each correction and hindsight example per epoch"
    )
    ap.add_argument("--pairwise-weight", type=float, default=1.0, help="weight of the pairwise term (0: plain SFT)")
    ap.add_argument("--beta", type=float, default=5.0, help="scale inside the pairwise term")
    ap.add_argument("--rename", type=int, default=1, help="renamed copies of each example per epoch")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads for training (0: torch's default)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from robot_agent.config import AgentConfig
    from robot_agent.learning.training import TrainSettings, train_policy
    from robot_agent.logs.export import export_sft, read_examples
    from robot_agent.scenarios import run_rounds

    suite, train, novel = load_suite(args.suite)
    work = Path(args.out or tempfile.mkdtemp(prefix="bench-train-"))
    work.mkdir(parents=True, exist_ok=True)
    cfg = AgentConfig.load()
    print(f"suite {suite}: {len(train)} train, {len(novel)} novel instances; work dir {work}", flush=True)

    t0 = time.monotonic()
    logs = Path(args.logs) if args.logs else work / "logs"
    r1_plan = None
    if not args.logs:
        (r1,) = run_rounds(
            [train],
            config=cfg,
            kb_dir=work / "kb",
            seed=args.seed,
            memory_mode=args.round1_memory,
            quiet=True,
            log_dir=logs,
        )
        r1_plan = sum(plan_corrections(o) for o in r1)
        print(
            f"round 1: {r1_plan} plan-level / {sum(o.corrections for o in r1)} corrections "
            f"on {len(r1)} train instances, logged in {time.monotonic() - t0:.0f} s",
            flush=True,
        )
    r1_s = time.monotonic() - t0

    counts = export_sft([logs], work / "data", val_fraction=0.0)
    examples = read_examples(work / "data" / "train.jsonl")
    print(
        f"exported {counts['train']} examples ({counts['correction']} corrections, {counts['hindsight']} hindsight)",
        flush=True,
    )
    settings = TrainSettings(
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        correction_weight=args.correction_weight,
        pairwise_weight=args.pairwise_weight,
        beta=args.beta,
        rename=args.rename,
        seed=args.seed,
        threads=args.threads,
    )
    report = train_policy(examples, work / "adapter", config=cfg, settings=settings, progress=True)
    print(
        f"trained {report['steps']} steps in {report['seconds']:.0f} s "
        f"(loss {report['train_loss_before']:.3f} -> {report['train_loss_after']:.3f})",
        flush=True,
    )

    base = evaluate(novel, cfg, args.seed)
    cfg.policy.adapter_path = str(work / "adapter")
    tuned = evaluate(novel, cfg, args.seed)

    print(
        f"\n{'scenario':<22} {'plan corr. untrained':>20} {'trained':>8} {'all corr. untrained':>20} {'trained':>8}"
        f"  success untrained/trained"
    )
    for b, t in zip(base, tuned, strict=True):
        print(
            f"{b['scenario']:<22} {b['plan_corrections']:>20} {t['plan_corrections']:>8} {b['corrections']:>20} "
            f"{t['corrections']:>8}  {b['success']}/{t['success']}"
        )
    tot = {
        k: (sum(r[k] for r in base), sum(r[k] for r in tuned)) for k in ("plan_corrections", "corrections", "success")
    }
    print(
        f"{'total':<22} {tot['plan_corrections'][0]:>20} {tot['plan_corrections'][1]:>8} {tot['corrections'][0]:>20} "
        f"{tot['corrections'][1]:>8}  {tot['success'][0]}/{tot['success'][1]}"
    )
    print(
        f"training: {report['examples']} examples, {report['steps']} steps, {report['seconds']:.0f} s on "
        f"{report['cpu_threads']} CPU threads"
    )
    result = {
        "suite": suite,
        "round1_memory": args.round1_memory,
        "round1_s": round(r1_s, 1),
        "round1_plan_corrections": r1_plan,
        "logs": str(logs),
        "export": counts,
        "training": report,
        "untrained": base,
        "trained": tuned,
        "totals": tot,
    }
    (work / "bench_train.json").write_text(json.dumps(result, indent=2))
    print(f"results: {work / 'bench_train.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
