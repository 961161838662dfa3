"""``robot-agent export`` and ``robot-agent train``: training examples from episode logs, and
retraining the local high-level policy on them (:mod:`robot_agent.learning.training`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, TextIO

from robot_agent.logs.export import EXPORT_FORMATS, export_sft, read_examples


def _cmd_export(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    errors: list[str] = []
    counts = export_sft(args.logs, args.out, val_fraction=args.val_fraction, errors=errors)
    for e in errors:
        print(f"skipped: {e}", file=sys.stderr)
    print(
        f"{args.out}: {counts['train']} train and {counts['val']} held-out examples "
        f"({counts['correction']} corrections, {counts['hindsight']} hindsight, {counts['step']} executed steps) "
        f"from {counts['logs']} logs",
        file=out,
    )
    if counts["train"] + counts["val"] == 0:
        print("error: no examples: the logs hold no executed plan step", file=sys.stderr)
        return 2
    return 0


def _cmd_train(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from robot_agent.config import AgentConfig
    from robot_agent.learning.training import TrainSettings, train_policy

    out = out or sys.stdout
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    cfg = AgentConfig.load(args.params) if args.params else AgentConfig.load()
    dest = Path(args.out)
    data = dest / "data"
    if args.data:
        train_ex = read_examples(Path(args.data) / "train.jsonl")
        val_path = Path(args.data) / "val.jsonl"
        val_ex = read_examples(val_path) if val_path.is_file() else []
    else:
        if not args.logs:
            print("error: give --logs DIR (episode logs) or --data DIR (from `robot-agent export`)", file=sys.stderr)
            return 2
        errors: list[str] = []
        counts = export_sft(args.logs, data, val_fraction=args.val_fraction, errors=errors)
        for e in errors:
            print(f"skipped: {e}", file=sys.stderr)
        print(
            f"exported {counts['train']} train / {counts['val']} held-out examples "
            f"({counts['correction']} corrections) from {counts['logs']} logs to {data}",
            file=out,
        )
        train_ex = read_examples(data / "train.jsonl")
        val_ex = read_examples(data / "val.jsonl")
    settings = TrainSettings(
        steps=args.steps,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        rank=args.rank,
        alpha=args.alpha,
        correction_weight=args.correction_weight,
        pairwise_weight=args.pairwise_weight,
        beta=args.beta,
        rename=args.rename,
        seed=args.seed,
        save_every=args.save_every,
        threads=args.threads,
    )
    report = train_policy(train_ex, dest, config=cfg, val=val_ex, settings=settings, progress=not args.quiet)
    if report["resumed_from"]:
        print(f"resumed from the checkpoint at step {report['resumed_from']}", file=out)

    def fmt(v: Any) -> str:
        return "-" if v is None else f"{v:.3f}"

    print(
        f"trained {report['steps']} steps on {report['examples']} examples in {report['seconds_this_run']:.1f} s "
        f"(train loss {fmt(report['train_loss_before'])} -> {fmt(report['train_loss_after'])}, held-out "
        f"{fmt(report['val_loss_before'])} -> {fmt(report['val_loss_after'])})",
        file=out,
    )
    print(f"adapter: {dest}  (plan with it: policy.adapter_path: {dest.resolve()})", file=out)
    return 0


def register(subparsers: Any) -> None:
    """Add ``export`` and ``train`` to the ``robot-agent`` parser."""
    ex = subparsers.add_parser(
        "export",
        help="write training examples for the high-level policy from episode logs",
        description="From episode logs, write SFT examples (JSONL): for each plan-level correction the prompt "
        "the planner had before it and the corrected step, and for each executed plan step its "
        "prompt and the step, and for corrected episodes that succeeded the steps that would have avoided "
        "the correction (hindsight). Episodes are split into train.jsonl and val.jsonl.",
    )
    ex.add_argument("logs", nargs="+", metavar="LOGS", help="episode logs, or directories holding them")
    ex.add_argument("--format", choices=EXPORT_FORMATS, default="sft-jsonl")
    ex.add_argument("--out", required=True, help="output directory (train.jsonl, val.jsonl)")
    ex.add_argument("--val-fraction", type=float, default=0.2, help="share of episodes held out (default 0.2)")
    ex.set_defaults(func=_cmd_export)

    tr = subparsers.add_parser(
        "train",
        help="fine-tune the local high-level policy on episode logs (LoRA, CPU)",
        description="Export the logs (see `export`) and fine-tune the local policy model with a LoRA adapter "
        "on the CPU. Resumable: run it again with the same --out to continue from the last "
        "checkpoint. Set policy.adapter_path to --out to plan with the adapter.",
    )
    tr.add_argument("--logs", nargs="+", metavar="DIR", help="episode logs, or directories holding them")
    tr.add_argument("--data", help="a directory from `robot-agent export` instead of --logs")
    tr.add_argument("--out", required=True, metavar="ADAPTER", help="adapter / checkpoint directory")
    tr.add_argument("--steps", type=int, default=0, help="optimizer steps in all (default: --epochs passes)")
    tr.add_argument("--epochs", type=int, default=3)
    tr.add_argument("--batch-size", type=int, default=4)
    tr.add_argument("--lr", type=float, default=2e-4)
    tr.add_argument("--rank", type=int, default=8, help="LoRA rank")
    tr.add_argument("--alpha", type=int, default=16, help="LoRA alpha")
    tr.add_argument(
        "--correction-weight",
        type=int,
        default=3,
        help="repeats of each correction and hindsight example per epoch (default 3)",
    )
    tr.add_argument(
        "--pairwise-weight",
        type=float,
        default=1.0,
        help="weight of the pairwise term (target over the rejected step) for examples that have "
        "one (default 1; 0: plain SFT)",
    )
    tr.add_argument(
        "--beta", type=float, default=5.0, help="scale of the mean log-prob difference in the pairwise term (default 5)"
    )
    tr.add_argument(
        "--rename",
        type=int,
        default=0,
        help="renamed copies of each example per epoch (object names replaced consistently; default 0)",
    )
    tr.add_argument("--val-fraction", type=float, default=0.2)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--save-every", type=int, default=20, help="checkpoint every N steps")
    tr.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    tr.add_argument("--params", help="parameter YAML naming the base model (default: config/agent.yaml)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=_cmd_train)
