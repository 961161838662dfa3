"""``robot-agent bench``: the correction benchmark, and ``robot-agent bench perf``: the performance suite.

``robot-agent bench --suite DIR --rounds 3 --methods full,no-memory,raw-memory,text-only --seeds 3 --json``
prints one line per episode, the Markdown table, and as its last line the JSON summary
(``{"methods": {"full": {"corrections_per_round": [...], "success_per_round": [...]}, ...}}``).
``--out DIR`` also writes ``bench.json`` (every number and episode), ``bench.md`` and
``bench_corrections.png``.

``robot-agent bench perf`` runs the measurement scripts under ``scripts/`` (each in its own
process, so each one's peak memory is its own) and prints all figures, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: the platform string is what we have
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def _cmd_bench(args: argparse.Namespace) -> int:
    if args.what == "perf":
        return _cmd_perf(args)
    if args.what == "understanding":
        from robot_agent.language.bench import cmd_understanding

        return cmd_understanding(args)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from robot_agent.config import AgentConfig
    from robot_agent.errors import SceneError
    from robot_agent.learning.bench import BenchSettings, markdown_table, run_bench, summary_line, write_plot

    cfg = AgentConfig.load(args.params) if args.params else AgentConfig.load()
    if args.base_url:  # an OpenAI-compatible endpoint: the openai backend unless told otherwise
        cfg.policy.base_url = args.base_url
        cfg.policy.backend = args.backend or "openai"
    if args.model:
        cfg.policy.model = args.model
    if args.backend:
        cfg.policy.backend = args.backend
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    families = tuple(f.strip() for f in args.families.split(",") if f.strip()) if args.families else ()
    settings = BenchSettings(
        suite=args.suite,
        rounds=args.rounds,
        methods=methods,
        seeds=args.seeds,
        per_round=args.per_round,
        train_per_round=args.train_instances,
        cap=args.cap,
        families=families,
        phrases=args.phrases,
    )
    try:
        result = run_bench(settings, cfg, progress=print)
    except (ValueError, SceneError) as exc:
        print(f"robot-agent bench: {exc}", file=sys.stderr)
        return 2
    result["machine"] = _machine()
    table = markdown_table(result)
    print()
    print(table)
    for name, t in result["targets"].items():
        print(f"target {name}: {t['measured']} (target {t['target']}) {'met' if t['met'] else 'MISSED'}")
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "bench.json").write_text(json.dumps(result, indent=1))
        (out / "bench.md").write_text(table)
        png = write_plot(result, out / "bench_corrections.png")
        print(f"wrote {out / 'bench.json'}, {out / 'bench.md'}, {png}")
    if args.json:
        print(summary_line(result))
    return 0


def _run_script(name: str, extra: list[str], timeout_s: float) -> dict[str, Any]:
    """Run ``scripts/<name>`` with ``--json``; its output is shown; its last JSON line is returned."""
    cmd = [sys.executable, str(SCRIPTS / name), *extra, "--json"]
    print(f"\n$ {' '.join(cmd[1:])}", flush=True)
    t = time.perf_counter()
    try:
        proc = subprocess.run(  # noqa: S603 - an argument list: this Python, one of our scripts, the user's flags
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        )
    except subprocess.TimeoutExpired:
        print(f"  {name}: no result within {timeout_s:.0f} s")
        return {"error": f"timed out after {timeout_s:.0f} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    for ln in lines[:-1]:
        print(f"  {ln}")
    if proc.returncode != 0 or not lines:
        print(f"  {name} failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
        return {"error": f"exit {proc.returncode}"}
    try:
        data = json.loads(lines[-1])
    except json.JSONDecodeError:
        return {"error": f"no JSON line at the end of {name}'s output"}
    data["wall_s"] = round(time.perf_counter() - t, 1)
    return data


def _cmd_perf(args: argparse.Namespace) -> int:
    sizes = "1000,100000,1000000" if args.kb_full else "1000,100000"
    results: dict[str, Any] = {"machine": _machine()}
    rounds = str(max(2, args.trials // 2))
    results["agent"] = _run_script("bench_agent.py", ["--trials", str(args.trials)], 1200)
    endpoint = ["--base-url", args.base_url, "--model", args.model] if args.base_url else []
    results["policy"] = _run_script("bench_policy.py", ["--rounds", rounds, *endpoint], 1800)
    results["policy_symbolic"] = _run_script("bench_policy.py", ["--rounds", rounds, "--backend", "symbolic"], 600)
    results["kb"] = _run_script(
        "bench_kb.py",
        ["--sizes", sizes, "--kb-sizes", "1000", "--queries", "200", "--modalities", "text", "--kinds", "flat,ivf"],
        7200 if args.kb_full else 1800,
    )
    results["sim"] = _run_script("bench_sim.py", ["--cycles", "3"], 600)
    print("\n== performance figures")
    print(f"machine: {results['machine']}")
    for line in perf_lines(results):
        print(line)
    print(json.dumps(_finite(results)))
    return 0 if not any("error" in v for v in results.values() if isinstance(v, dict)) else 1


def _finite(node: Any) -> Any:
    """NaN (a percentile of no samples) and infinities as null, so the line is strict JSON."""
    from robot_agent.fsutil import json_safe

    return json_safe(node, "results", strict=False)


def perf_lines(results: dict[str, Any]) -> list[str]:
    """The headline figures of a perf run, one per line (what docs/benchmarks.md quotes)."""
    out = []
    a = results.get("agent", {})
    for kind, target in (("stop", "one control tick"), ("skill", "< 50 ms p95"), ("plan", "< 2 s p95")):
        r = a.get(f"reaction_{kind}_ms")
        if r:
            out.append(
                f"{kind:>5}-level correction -> first changed motion command: p50 {r['p50']} ms, "
                f"p95 {r['p95']} ms (n={r.get('n')}; target {target})"
            )
    if a.get("is_stop_us") and a.get("parse_ms"):
        out.append(
            f"stop check per utterance: p95 {a['is_stop_us']['p95']} us (budget 100 us); grammar parse of a "
            f"composite correction: p95 {a['parse_ms']['p95']} ms (budget 20 ms)"
        )
    if "peak_rss_mb" in a:
        out.append(f"peak memory of the agent process (planner + parser + simulator): {a['peak_rss_mb']} MB")
    for key in ("policy", "policy_symbolic"):
        for r in results.get(key, {}).get("results", []):
            out.append(
                f"plan/replan latency, backend {r['backend']}: p50 {r['all_p50_s']} s, p95 {r['all_p95_s']} s, "
                f"replans p95 {r['replan_p95_s']} s"
            )
    for r in results.get("kb", {}).get("rows", []):
        if r.get("part") == "index":
            tuned = f", nprobe {r['nprobe']} of {r['nlist']} lists" if r.get("nprobe") else ""
            p95 = f", p95 {r['p95_ms']} ms" if r.get("p95_ms") is not None else ""
            out.append(
                f"KB index {r['items']:>9,} items {r['index']:<5} ({r['modality']}{tuned}): "
                f"search p50 {r['p50_ms']} ms{p95}, p99 {r['p99_ms']} ms, recall@10 {r['recall_at_10']}, "
                f"build {r['build_s']} s, index {r.get('index_mb')} MB, peak RSS {r.get('peak_rss_mb')} MB"
            )
        else:
            out.append(f"KB store {r['items']:>9,} items {r['call']}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
    if results.get("kb", {}).get("embed_ms") is not None:
        out.append(f"query embedding (MiniLM): {results['kb']['embed_ms']} ms")
    sim = results.get("sim", {})
    if "speed_x_real_time" in sim:
        out.append(f"sim speed: {sim['speed_x_real_time']}x real time ({sim['cycles']} pick-and-place cycles)")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    from robot_agent.learning.bench import DEFAULT_SUITE, METHODS

    b = sub.add_parser(
        "bench",
        help="the correction benchmark (or 'bench perf': the performance suite)",
        description="Run the correction benchmark: a fresh knowledge base per method and seed, "
        "round 1 on training instances, later rounds on novel ones, the simulated "
        "operator correcting every violation. 'robot-agent bench perf' runs the "
        "performance suite instead.",
    )
    b.add_argument(
        "what",
        nargs="?",
        choices=("corrections", "perf", "understanding"),
        default="corrections",
        help="corrections (default), perf, or understanding (the language layer on the labelled corpus)",
    )
    b.add_argument(
        "--suite", default=str(DEFAULT_SUITE), help="directory of scenario files (default: the public suite)"
    )
    b.add_argument("--rounds", type=int, default=3, help="rounds: 1 on training instances, the rest novel (default 3)")
    b.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated (default: {','.join(METHODS)})")
    b.add_argument("--seeds", type=int, default=2, help="seeds 0..N-1 (default 2)")
    b.add_argument(
        "--per-round", type=int, default=1, help="novel instances per family in each round after the first (default 1)"
    )
    b.add_argument(
        "--train-instances",
        type=int,
        default=0,
        help="training instances per family in round 1 (default 0: all of them)",
    )
    b.add_argument("--cap", type=int, default=8, help="most corrections per task (default 8)")
    b.add_argument("--families", default="", help="only these families (comma-separated; default all)")
    b.add_argument(
        "--phrases",
        default="",
        help="the simulated operator's phrase bank: a YAML file or a shipped bank's name (bank_a, bank_b; "
        "default: bank_a, built in)",
    )
    b.add_argument("--backend", default="", help="policy backend (default: policy.backend from config)")
    b.add_argument("--params", help="parameter YAML (default: config/agent.yaml)")
    b.add_argument("--out", help="write bench.json, bench.md and bench_corrections.png here")
    b.add_argument("--json", action="store_true", help="print the JSON summary as the last line")
    b.add_argument("--trials", type=int, default=10, help="perf: trials per latency figure (default 10)")
    b.add_argument("--kb-full", action="store_true", help="perf: add 1,000,000 KB items (about 20 min, ~7 GB)")
    b.add_argument(
        "--base-url", default="", help="an OpenAI-compatible endpoint: the benchmark's backend; perf: timed too"
    )
    b.add_argument("--model", default="", help="the endpoint's model name (with --base-url)")
    from robot_agent.language.bench import add_arguments as add_understanding_arguments

    add_understanding_arguments(b)
    b.set_defaults(func=_cmd_bench)
