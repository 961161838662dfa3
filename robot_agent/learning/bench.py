"""The correction benchmark: how many corrections the agent needs on novel instances, per method.

Protocol (issue 7, after DROC's evaluation):

* A suite is a directory of scenario files (``sim/scenarios/public`` by default) grouped by
  ``family`` and ``split`` (``train`` / ``novel``), see :func:`sim.scenario.load_split`.
* For every method and seed the agent starts from a **fresh knowledge base**. Round 1 runs
  training instances of every family; rounds 2, 3, ... run novel instances (another colour,
  size, shape or model of the same category, phrased differently). Which instances, and in
  which order, is a seeded choice (:func:`plan_rounds`), the same for every method.
* The simulated operator (``SimulatedOperator`` in ``sim/operator.py``, seeded, driven by
  :func:`robot_agent.scenarios.run_scenario`) corrects on every
  violation of the scenario's hidden requirements, up to ``cap`` corrections per task, in the
  words of a phrase bank (``settings.phrases``; bank A by default; the output names the bank).
* Methods (:data:`METHODS`) are the agent's memory modes: ``full`` (distillation, text and
  visual retrieval), ``no-memory`` (corrections used only within the episode), ``raw-memory``
  (raw correction texts retrieved by text, no distillation), ``text-only`` (full without
  visual retrieval). The policy backend is a parameter (``policy.backend``).

Metrics per method and round: corrections per task (mean, and a 95% t-interval over the seeds'
means), success rate, share of tasks done with zero corrections, knowledge-caused corrections (the
operator corrected a parameter, destination, order or stacking choice that a remembered item made;
attribution in :mod:`robot_agent.applicability`), false transfers (remembered items that changed a
decision the operator then corrected, once per item and episode), wall time per episode.
Outputs: the JSON object (every number, every episode), a Markdown table and a PNG plot.

The models load once (:func:`robot_agent.scenarios.build_components` without a KB, and one text
embedder shared by every fresh KB), so a method or a seed costs only its episodes.
"""

from __future__ import annotations

import json
import math
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from robot_agent.agent import MEMORY_MODES

METHODS = MEMORY_MODES
DEFAULT_SUITE = Path(__file__).resolve().parents[2] / "sim" / "scenarios" / "public"

#: Two-sided 95% Student t quantiles by degrees of freedom (1..30); above 30 the normal 1.96.
_T95 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


@dataclass
class BenchSettings:
    """What one benchmark run does.

    Attributes:
        suite: directory of scenario files.
        rounds: round 1 on training instances, the rest on novel ones (at least 1).
        methods: memory modes to compare.
        seeds: seeds 0 .. seeds-1 (instance choice and the operator's phrasing).
        per_round: novel instances per family per round (rounds 2 and later).
        train_per_round: training instances per family in round 1; 0 (the default) runs every
            training instance, as DROC's first round does: each rule the operator states there is
            a rule the later rounds can reuse.
        cap: most corrections the operator gives per task.
        families: only these families (empty: all).
        phrases: the simulated operator's phrase bank: a YAML file, or the name of a shipped one
            (``bank_b``: ``sim/phrases/bank_b.yaml``); empty: the built-in bank A.
    """

    suite: str = str(DEFAULT_SUITE)
    rounds: int = 3
    methods: tuple[str, ...] = METHODS
    seeds: int = 2
    per_round: int = 1
    train_per_round: int = 0
    cap: int = 8
    families: tuple[str, ...] = ()
    phrases: str = ""

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if self.rounds < 1:
            raise ValueError(f"--rounds must be at least 1, got {self.rounds}")
        if self.seeds < 1:
            raise ValueError(f"--seeds must be at least 1, got {self.seeds}")
        if self.per_round < 1:
            raise ValueError(f"--per-round must be at least 1, got {self.per_round}")
        if self.train_per_round < 0:
            raise ValueError(f"--train-instances must be 0 (all) or more, got {self.train_per_round}")
        if self.cap < 1:
            raise ValueError(f"--cap must be at least 1, got {self.cap}")
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValueError(f"unknown method(s) {', '.join(bad) or '(none given)'}; valid: {', '.join(METHODS)}")


def plan_rounds(
    split: dict[str, dict[str, list[Any]]], rounds: int, seed: int, per_round: int = 1, train_per_round: int = 1
) -> list[list[Any]]:
    """The scenarios of each round: round 1 from ``train``, later rounds from ``novel``.

    Per family, the instances are a seeded permutation of that split. Round 1 takes
    ``train_per_round`` training instances (0: all of them); round r > 1 takes the next
    ``per_round`` novel ones (cycling when the split is shorter), so rounds 2 and 3 see different
    novel instances whenever the family has enough. Families without novel (or training)
    instances are skipped in those rounds. The result depends only on the suite and the seed.
    """
    out: list[list[Any]] = [[] for _ in range(rounds)]
    for family, parts in sorted(split.items()):
        rng = random.Random(f"{seed}:{family}")  # noqa: S311 - seeded, reproducible split, not security
        train = list(parts.get("train", []))
        novel = list(parts.get("novel", []))
        rng.shuffle(train)
        rng.shuffle(novel)
        for k in range(train_per_round or len(train)):
            if train:
                out[0].append(train[k % len(train)])
        for r in range(1, rounds):
            for k in range(per_round):
                if novel:
                    out[r].append(novel[((r - 1) * per_round + k) % len(novel)])
    return out


def mean_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and the 95% t-interval of the mean (the interval is the mean itself for one value)."""
    xs = [float(v) for v in values]
    if not xs:
        return float("nan"), float("nan"), float("nan")
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, m, m
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    t = _T95[len(xs) - 2] if len(xs) - 1 <= len(_T95) else 1.96
    half = t * sd / math.sqrt(len(xs))
    return m, m - half, m + half


@dataclass
class Episode:
    """One benchmark episode, as stored in the JSON."""

    method: str
    seed: int
    round: int
    scenario: str
    family: str
    split: str
    corrections: int
    success: bool
    false_transfers: int
    wall_s: float
    why_failed: list[str] = field(default_factory=list)
    knowledge_used: list[str] = field(default_factory=list)
    knowledge_distilled: list[str] = field(default_factory=list)
    knowledge_caused: int = 0  # corrections of a decision a remembered item made (harm)
    knowledge_skipped: list[str] = field(default_factory=list)


def summarize(episodes: Sequence[Episode], methods: Sequence[str], rounds: int, seeds: int) -> dict[str, Any]:
    """Every metric per method (see the module docstring) from the episodes."""
    out: dict[str, Any] = {}
    for m in methods:
        eps = [e for e in episodes if e.method == m]
        per_round: dict[str, list[Any]] = {
            k: []
            for k in (
                "corrections_per_round",
                "corrections_ci95",
                "success_per_round",
                "zero_correction_share_per_round",
                "false_transfers_per_round",
                "knowledge_caused_per_round",
                "tasks_per_round",
            )
        }
        for r in range(1, rounds + 1):
            er = [e for e in eps if e.round == r]
            seed_means = [
                sum(e.corrections for e in er if e.seed == s) / n
                for s in range(seeds)
                if (n := sum(1 for e in er if e.seed == s))
            ]
            mean, lo, hi = mean_ci(seed_means)
            lo = max(lo, 0.0)  # a count: the t-interval of few seeds can reach below zero
            per_round["corrections_per_round"].append(round(mean, 3))
            per_round["corrections_ci95"].append([round(lo, 3), round(hi, 3)])
            per_round["success_per_round"].append(round(sum(e.success for e in er) / len(er), 3) if er else None)
            per_round["zero_correction_share_per_round"].append(
                round(sum(e.corrections == 0 for e in er) / len(er), 3) if er else None
            )
            per_round["false_transfers_per_round"].append(sum(e.false_transfers for e in er))
            per_round["knowledge_caused_per_round"].append(sum(e.knowledge_caused for e in er))
            per_round["tasks_per_round"].append(len(er))
        walls = sorted(e.wall_s for e in eps)
        families: dict[str, list[float]] = {}
        for fam in sorted({e.family for e in eps}):
            families[fam] = []
            for r in range(1, rounds + 1):
                fr = [e.corrections for e in eps if e.family == fam and e.round == r]
                families[fam].append(round(sum(fr) / len(fr), 3) if fr else None)
        total = sum(e.corrections for e in eps)
        out[m] = {
            **per_round,
            "corrections_total": total,
            "corrections_per_task_all_rounds": round(total / len(eps), 3) if eps else None,
            "success_all_rounds": round(sum(e.success for e in eps) / len(eps), 3) if eps else None,
            "false_transfers_total": sum(e.false_transfers for e in eps),
            "knowledge_caused_total": sum(e.knowledge_caused for e in eps),
            "wall_s_per_episode": {
                "mean": round(sum(walls) / len(walls), 2) if walls else None,
                "p95": round(walls[min(len(walls) - 1, int(0.95 * len(walls)))], 2) if walls else None,
            },
            "corrections_per_round_by_family": families,
        }
    return out


def check_targets(methods: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets against the measured values (None where a method was not run)."""
    full, nomem = methods.get("full"), methods.get("no-memory")
    out: dict[str, Any] = {}
    if full:
        later = [c for c in full["corrections_per_round"][1:] if c == c]
        succ = [s for s in full["success_per_round"][1:] if s is not None]
        out["full_corrections_rounds_2_3_max"] = {
            "target": 0.1,
            "measured": max(later) if later else None,
            "met": bool(later) and max(later) <= 0.1,
        }
        harm = [
            (full.get("knowledge_caused_per_round") or [0])[r] + full["false_transfers_per_round"][r]
            for r in range(1, len(full["false_transfers_per_round"]))
        ]
        out["full_knowledge_caused_and_false_transfers_rounds_2_3"] = {
            "target": 0,
            "measured": sum(harm) if harm else None,
            "met": bool(harm) and sum(harm) == 0,
        }
        out["full_success_rounds_2_3_min"] = {
            "target": 0.95,
            "measured": min(succ) if succ else None,
            "met": bool(succ) and min(succ) >= 0.95,
        }
    if full and nomem:
        ratio = full["corrections_total"] / nomem["corrections_total"] if nomem["corrections_total"] else None
        out["full_vs_no_memory_ratio"] = {
            "target": 0.5,
            "measured": None if ratio is None else round(ratio, 3),
            "met": ratio is not None and ratio <= 0.5,
        }
    return out


def markdown_table(result: dict[str, Any]) -> str:
    """The results as Markdown: corrections per task per round with the 95% interval, success, and more."""
    methods = result["methods"]
    rounds = result["settings"]["rounds"]
    head = (
        "| method | "
        + " | ".join(f"round {r} corrections/task" for r in range(1, rounds + 1))
        + " | "
        + " | ".join(f"round {r} success" for r in range(1, rounds + 1))
        + " | zero-correction tasks | knowledge-caused corrections per round | false transfers per round"
        + " | wall s/episode |"
    )
    bank = result.get("phrase_bank") or {}
    lines = [
        f"Operator phrase bank: {bank.get('name', '?')} ({bank.get('path', '?')})",
        "",
        head,
        "|" + "---|" * (1 + 2 * rounds + 4),
    ]
    for m, d in methods.items():
        cells = []
        for r in range(rounds):
            c, (lo, hi) = d["corrections_per_round"][r], d["corrections_ci95"][r]
            cells.append(f"{c:.2f}" + (f" [{lo:.2f}, {hi:.2f}]" if hi > lo else ""))
        cells += [f"{100 * s:.0f}%" if s is not None else "-" for s in d["success_per_round"]]
        zero = [z for z in d["zero_correction_share_per_round"] if z is not None]
        cells.append(" / ".join(f"{100 * z:.0f}%" for z in zero))
        cells.append(" / ".join(str(x) for x in d.get("knowledge_caused_per_round", [])))
        cells.append(" / ".join(str(x) for x in d["false_transfers_per_round"]))
        cells.append(f"{d['wall_s_per_episode']['mean']}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    fams = sorted({f for d in methods.values() for f in d["corrections_per_round_by_family"]})
    lines += [
        "",
        "Corrections per task by family (round 1 / round 2 / ...):",
        "",
        "| family | " + " | ".join(methods) + " |",
        "|" + "---|" * (1 + len(methods)),
    ]
    for f in fams:
        row = []
        for d in methods.values():
            v = d["corrections_per_round_by_family"].get(f, [])
            row.append(" / ".join("-" if x is None else f"{x:.2f}" for x in v))
        lines.append(f"| {f} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def write_plot(result: dict[str, Any], path: str | Path) -> Path:
    """Corrections per task per round, one line per method with its 95% interval, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on the bench machine
    import matplotlib.pyplot as plt

    rounds = result["settings"]["rounds"]
    xs = list(range(1, rounds + 1))
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=110)
    for i, (m, d) in enumerate(result["methods"].items()):
        ys = d["corrections_per_round"]
        lo = [c[0] for c in d["corrections_ci95"]]
        hi = [c[1] for c in d["corrections_ci95"]]
        off = (i - (len(result["methods"]) - 1) / 2) * 0.04  # keep overlapping lines apart
        ax.errorbar(
            [x + off for x in xs],
            ys,
            yerr=[[y - a for y, a in zip(ys, lo, strict=True)], [b - y for y, b in zip(ys, hi, strict=True)]],
            marker="o",
            capsize=3,
            label=m,
        )
    ax.set_xticks(xs, [f"round {x}\n({'train' if x == 1 else 'novel'})" for x in xs])
    ax.set_ylabel("corrections per task")
    ax.set_ylim(bottom=0)
    s = result["settings"]
    ax.set_title(f"corrections per round ({s['seeds']} seed(s), backend {result.get('backend', '?')})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def run_bench(
    settings: BenchSettings,
    config: Any,
    *,
    components: tuple[Any, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the benchmark; returns the result object (``settings``, ``methods``, ``targets``, ``episodes``).

    Args:
        settings: what to run (validated here).
        config: the agent configuration (``policy.backend`` selects the backend).
        components: an already-built (policy, parser) to reuse; built from config otherwise.
        progress: called with one line per episode.

    Raises:
        ValueError: a bad setting. SceneError: a bad suite.
    """
    from memory import open_knowledge_base
    from memory.embedders import make_image_embedder, make_text_embedder
    from robot_agent.scenarios import build_components, run_scenario
    from sim.phrases import DEFAULT_BANK, load_phrase_bank
    from sim.scenario import load_split

    settings.validate()
    # A bad phrase bank fails here, before the models load.
    bank = load_phrase_bank(settings.phrases) if settings.phrases else DEFAULT_BANK
    split = load_split(settings.suite)
    if settings.families:
        unknown = sorted(set(settings.families) - set(split))
        if unknown:
            raise ValueError(
                f"unknown famil{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                f"the suite has: {', '.join(split)}"
            )
        split = {f: v for f, v in split.items() if f in settings.families}
    say = progress or (lambda s: None)
    t_load = time.perf_counter()
    if components is None:
        policy, _kb, parser = build_components(config, None, memory=False)
    else:
        policy, parser = components
    needs_kb = any(m != "no-memory" for m in settings.methods)
    text_emb = make_text_embedder(config.memory.text_model) if needs_kb else None
    image_emb = (
        make_image_embedder(config.memory.image_model, config.memory.image_weights, config.memory.image_model_config)
        if needs_kb
        else None
    )
    load_s = time.perf_counter() - t_load
    episodes: list[Episode] = []
    t0 = time.perf_counter()
    for method in settings.methods:
        for seed in range(settings.seeds):
            rounds = plan_rounds(split, settings.rounds, seed, settings.per_round, settings.train_per_round)
            with tempfile.TemporaryDirectory(prefix="robot-agent-bench-") as tmp:
                kb = None
                if method != "no-memory":
                    from dataclasses import replace

                    kb = open_knowledge_base(
                        replace(config.memory, kb_dir=str(Path(tmp) / "kb")),
                        text_embedder=text_emb,
                        image_embedder=image_emb,
                    )
                try:
                    for r, scenarios in enumerate(rounds, 1):
                        for sc in scenarios:
                            o = run_scenario(
                                sc,
                                policy=policy,
                                kb=kb,
                                parser=parser,
                                config=config,
                                seed=seed,
                                memory_mode=method,
                                cap=settings.cap,
                                phrases=bank,
                            )
                            s = o.summary()
                            e = Episode(
                                method,
                                seed,
                                r,
                                sc.name,
                                sc.family,
                                sc.split,
                                o.corrections,
                                o.success,
                                o.false_transfers,
                                round(o.wall_s, 3),
                                list(o.why_failed),
                                [k for k in s["knowledge_decisions"] if k],
                                [k for k in s["knowledge_distilled"] if k],
                                o.knowledge_caused,
                                list(s["knowledge_skipped"]),
                            )
                            episodes.append(e)
                            say(
                                f"{method:<10} seed {seed} round {r} {sc.name:<22} corrections {o.corrections} "
                                f"{'ok' if o.success else 'FAILED ' + '; '.join(o.why_failed)} ({o.wall_s:.1f} s)"
                            )
                finally:
                    if kb is not None:
                        kb.close()
    methods = summarize(episodes, settings.methods, settings.rounds, settings.seeds)
    return {
        "settings": {**asdict(settings), "methods": list(settings.methods), "families": sorted(split)},
        "backend": config.policy.backend,
        "phrase_bank": bank.describe(),
        "visual_retrieval": bool(config.memory.image_weights),
        "models_load_s": round(load_s, 2),
        "episodes_wall_s": round(time.perf_counter() - t0, 1),
        "methods": methods,
        "targets": check_targets(methods),
        "episodes": [asdict(e) for e in episodes],
    }


def summary_line(result: dict[str, Any]) -> str:
    """The last line ``robot-agent bench --json`` prints: per method, the per-round series."""
    keep = (
        "corrections_per_round",
        "corrections_ci95",
        "success_per_round",
        "zero_correction_share_per_round",
        "false_transfers_per_round",
        "knowledge_caused_per_round",
        "corrections_total",
        "wall_s_per_episode",
    )
    return json.dumps(
        {
            "methods": {m: {k: d[k] for k in keep} for m, d in result["methods"].items()},
            "targets": result["targets"],
            "backend": result["backend"],
            "phrase_bank": result.get("phrase_bank"),
        }
    )
