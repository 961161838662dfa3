"""The correction benchmark: protocol, metrics and outputs, on a small subset of the public suite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from robot_agent.cli import main
from robot_agent.learning.bench import DEFAULT_SUITE, BenchSettings, Episode, mean_ci, plan_rounds, summarize
from sim.scenario import load_split


def test_public_suite_has_eight_families_with_three_train_and_three_novel_instances() -> None:
    split = load_split(DEFAULT_SUITE)
    assert len(split) >= 8
    for need in ("drawer", "mug", "fruit_bowl", "fragile", "stacking", "sorting", "shelf_side", "keep_away"):
        assert need in split
    for fam, parts in split.items():
        assert len(parts["train"]) >= 3 and len(parts["novel"]) >= 3, fam
        # novel instances are other instances: no scene object set is shared with a training one
        train_sets = {tuple(sorted((o.type, o.color, o.shape) for o in s.scene.objects)) for s in parts["train"]}
        for s in parts["novel"]:
            assert tuple(sorted((o.type, o.color, o.shape) for o in s.scene.objects)) not in train_sets, s.name
        assert len({s.task for s in parts["train"] + parts["novel"]}) == 6, f"{fam}: tasks are phrased differently"


def test_rounds_are_seeded_train_first_then_different_novel_instances() -> None:
    split = load_split(DEFAULT_SUITE)
    a = plan_rounds(split, 3, seed=1)
    assert [[s.name for s in r] for r in a] == [[s.name for s in r] for r in plan_rounds(split, 3, seed=1)]
    assert all(s.split == "train" for s in a[0]) and all(s.split == "novel" for r in a[1:] for s in r)
    assert all(len(r) == len(split) for r in a)  # one instance per family per round
    for x, y in zip(a[1], a[2], strict=True):
        assert x.family == y.family and x.name != y.name  # rounds 2 and 3 see different novel instances
    other = plan_rounds(split, 3, seed=2)
    assert [s.name for r in a for s in r] != [s.name for r in other for s in r]
    # The benchmark's default round 1: every training instance of every family, novel rounds unchanged.
    full = plan_rounds(split, 3, seed=1, train_per_round=0)
    assert sorted(s.name for s in full[0]) == sorted(s.name for p in split.values() for s in p["train"])
    assert [[s.name for s in r] for r in full[1:]] == [[s.name for s in r] for r in a[1:]]


def test_mean_and_95_percent_interval() -> None:
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and hi - m == pytest.approx(4.303 * 1.0 / 3**0.5, rel=1e-6) and m - lo == pytest.approx(hi - m)
    assert mean_ci([0.5]) == (0.5, 0.5, 0.5)


def test_false_transfers_and_zero_correction_share_are_counted() -> None:
    eps = [
        Episode("full", 0, 1, "a", "f", "train", 2, True, 0, 1.0),
        Episode("full", 0, 2, "b", "f", "novel", 1, False, 1, 3.0),
        Episode("full", 0, 2, "c", "g", "novel", 0, True, 0, 2.0),
    ]
    s = summarize(eps, ["full"], rounds=2, seeds=1)["full"]
    assert s["corrections_per_round"] == [2.0, 0.5]
    assert s["success_per_round"] == [1.0, 0.5]
    assert s["zero_correction_share_per_round"] == [0.0, 0.5]
    assert s["false_transfers_per_round"] == [0, 1]
    assert s["corrections_per_round_by_family"] == {"f": [2.0, 1.0], "g": [None, 0.0]}


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="unknown method.*bogus"):
        BenchSettings(methods=("full", "bogus")).validate()
    with pytest.raises(ValueError, match="--rounds"):
        BenchSettings(rounds=0).validate()
    with pytest.raises(ValueError, match="--train-instances"):
        BenchSettings(train_per_round=-1).validate()


def test_cli_rejects_a_missing_suite_with_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["bench", "--suite", str(tmp_path / "nope"), "--backend", "symbolic"]) == 2
    assert "not a directory of scenario files" in capsys.readouterr().err


def test_protocol_on_a_small_subset(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Two families, one training and one novel instance each, full against no-memory, one seed:
    full learns in round 1 and needs no correction on the novel instances; no-memory needs the
    same corrections again. The last line is the JSON summary; --out writes JSON, Markdown, PNG."""
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("mug/mug_train_1", "mug/mug_novel_1", "fragile/fragile_train_1", "fragile/fragile_novel_2"):
        shutil.copy(DEFAULT_SUITE / f"{name}.yaml", suite)
    out = tmp_path / "out"
    rc = main(
        [
            "bench",
            "--suite",
            str(suite),
            "--rounds",
            "2",
            "--methods",
            "full,no-memory",
            "--seeds",
            "1",
            "--backend",
            "symbolic",
            "--out",
            str(out),
            "--json",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text[-3000:]
    last = json.loads(text.strip().splitlines()[-1])
    full, none = last["methods"]["full"], last["methods"]["no-memory"]
    # round 1: mug 1 correction (grasp by the handle) + fragile 2 (slower, lower) = 1.5 per task
    assert full["corrections_per_round"] == [1.5, 0.0]
    assert none["corrections_per_round"] == [1.5, 1.5]
    assert full["success_per_round"] == [1.0, 1.0] and none["success_per_round"] == [1.0, 1.0]
    assert full["zero_correction_share_per_round"] == [0.0, 1.0]
    assert last["targets"]["full_vs_no_memory_ratio"]["measured"] == 0.5
    data = json.loads((out / "bench.json").read_text())
    assert len(data["episodes"]) == 8 and {e["method"] for e in data["episodes"]} == {"full", "no-memory"}
    novel_full = [e for e in data["episodes"] if e["method"] == "full" and e["round"] == 2]
    assert all(e["knowledge_used"] for e in novel_full)  # the novel instances were done from memory
    assert "| full |" in (out / "bench.md").read_text()
    assert (out / "bench_corrections.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_perf_summary_names_every_figure_and_prints_strict_json() -> None:
    from robot_agent.cli.bench import _finite, perf_lines

    results = {
        "agent": {
            "reaction_stop_ms": {"p50": 2.2, "p95": 2.4, "n": 10},
            "reaction_skill_ms": {"p50": 23.0, "p95": 28.0, "n": 10},
            "reaction_plan_ms": {"p50": 28.0, "p95": 36.0, "n": 10},
            "is_stop_us": {"p50": 3.1, "p95": 4.2},
            "parse_ms": {"p50": 1.5, "p95": 2.5},
            "peak_rss_mb": 939.0,
        },
        "policy": {
            "results": [
                {
                    "backend": "local",
                    "all_p50_s": 0.001,
                    "all_p95_s": 1.3,
                    "replan_p95_s": 0.9,
                    "llm_cases_p95_s": float("nan"),
                }
            ]
        },
        "kb": {
            "rows": [
                {
                    "part": "index",
                    "items": 1000000,
                    "index": "hnsw",
                    "modality": "text",
                    "p50_ms": 1.0,
                    "p99_ms": 4.0,
                    "recall_at_10": 0.99,
                    "build_s": 400.0,
                }
            ],
            "embed_ms": 5.0,
        },
        "sim": {"speed_x_real_time": 25.4, "cycles": 3},
    }
    text = "\n".join(perf_lines(results))
    for want in (
        "stop-level",
        "skill-level",
        "plan-level",
        "p95 28.0 ms",
        "939.0 MB",
        "p95 4.2 us",
        "p95 2.5 ms",
        "backend local",
        "1,000,000 items hnsw",
        "25.4x real time",
    ):
        assert want in text, want
    line = json.dumps(_finite(results), allow_nan=False)  # raises on NaN
    assert json.loads(line)["policy"]["results"][0]["llm_cases_p95_s"] is None


def test_bench_speaks_from_the_phrase_bank_it_names(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--phrases: the operator's words come from that bank, and every output says which bank it was."""
    suite = tmp_path / "suite"
    suite.mkdir()
    for name in ("mug/mug_train_1", "mug/mug_novel_1"):
        shutil.copy(DEFAULT_SUITE / f"{name}.yaml", suite)
    out = tmp_path / "out"
    rc = main(
        [
            "bench",
            "--suite",
            str(suite),
            "--rounds",
            "1",
            "--methods",
            "no-memory",
            "--seeds",
            "1",
            "--cap",
            "2",
            "--backend",
            "symbolic",
            "--phrases",
            "bank_b",
            "--out",
            str(out),
            "--json",
        ]
    )
    text = capsys.readouterr().out
    assert rc == 0, text[-3000:]
    last = json.loads(text.strip().splitlines()[-1])
    assert last["phrase_bank"]["name"] == "bank_b" and last["phrase_bank"]["path"].endswith("bank_b.yaml")
    assert "Operator phrase bank: bank_b" in text and "bank_b" in (out / "bench.md").read_text()
    assert json.loads((out / "bench.json").read_text())["phrase_bank"]["name"] == "bank_b"


def test_bench_rejects_a_bad_phrase_bank_before_running(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bank.yaml"
    bad.write_text("max_speed: [slower]\n")
    assert main(["bench", "--backend", "symbolic", "--phrases", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "missing key(s)" in err and "order_open" in err


def test_run_with_the_second_phrase_bank_end_to_end(tmp_path: Path) -> None:
    """robot-agent run --phrases: a real process; the operator's words in the transcript are bank B's."""
    import os
    import subprocess
    import sys

    from sim.phrases import PHRASES_DIR, load_phrase_bank

    exe = str(Path(sys.executable).with_name("robot-agent"))
    mug, bank = str(DEFAULT_SUITE.parent / "demo" / "mug_train.yaml"), str(PHRASES_DIR / "bank_b.yaml")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [exe, "run", "--scenario", mug, "--phrases", bank, "--kb", str(tmp_path / "kb"), "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode in (0, 1), out.stderr[-2000:]
    rounds = json.loads(out.stdout.strip().splitlines()[-1])["rounds"]
    assert len(rounds) == 1 and rounds[0]["corrections"] >= 1  # the mug was not grasped by the handle at first
    shown = subprocess.run(
        [exe, "run", "--scenario", mug, "--phrases", "bank_b", "--memory", "no-memory"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    said = [ln.split('"')[1] for ln in shown.stdout.splitlines() if ln.strip().startswith("operator (simulated)")]
    assert said, shown.stdout[-2000:]
    assert set(said) <= {t.format(region="handle") for t in load_phrase_bank(bank)["grasp_region"]}
    bad = subprocess.run(
        [exe, "run", "--scenario", mug, "--phrases", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert bad.returncode == 2 and "no such phrase bank" in bad.stderr
