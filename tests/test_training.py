"""Export of SFT examples from episode logs, LoRA training of the policy, and planning with the adapter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from robot_agent.errors import PolicyError
from robot_agent.learning.training import (
    TrainSettings,
    encode_example,
    rename_example,
    render_prompt,
    scene_names,
    train_policy,
)
from robot_agent.logs.export import examples_from_log, export_sft, read_examples, undo_put_back
from robot_agent.policy.backends import LocalChatModel

EXE = str(Path(sys.executable).with_name("robot-agent"))


def test_export_gives_the_correction_and_the_executed_steps(recorded_episodes):
    ex = examples_from_log(recorded_episodes["logs"]["drawer_train"])
    assert [(e.kind, e.prefix, e.completion) for e in ex] == [
        ("step", "", "pick(red_block)"),
        # "open the drawer first" came at place(...) with the block picked: the prompt the planner
        # had then, without the new rule, and the step the corrected plan starts with.
        ("correction", "pick(red_block)\n", "open(cabinet)"),
        ("step", "pick(red_block)\n", "open(cabinet)"),
        ("step", "pick(red_block)\nopen(cabinet)\n", "pick(red_block)"),
        ("step", "pick(red_block)\nopen(cabinet)\npick(red_block)\n", "place(red_block, cabinet)"),
        # In hindsight (the put-back pick dropped), the plan that should have been made at the start.
        ("hindsight", "", "open(cabinet)"),
        ("hindsight", "open(cabinet)\n", "pick(red_block)"),
        ("hindsight", "open(cabinet)\npick(red_block)\n", "place(red_block, cabinet)"),
    ]
    corr = ex[1]
    assert corr.correction and "open" in corr.correction
    # What the policy had chosen where it was corrected, and at the start.
    assert [e.rejected for e in ex] == [
        None,
        "place(red_block, cabinet)",
        None,
        None,
        None,
        "pick(red_block)",
        None,
        None,
    ]
    assert ex[5].messages == ex[0].messages  # the first plan's prompt: no rule yet
    user = dict(corr.messages)["user"]
    assert "Task: put the red block in the drawer" in user and "cabinet: wood drawer cabinet, drawer closed" in user
    assert "Rules:" not in user  # the context before the correction
    assert "Rules:" in dict(ex[2].messages)["user"]  # the replanned steps were planned under the rule
    mug = examples_from_log(recorded_episodes["logs"]["mug_train"])
    assert [(e.kind, e.completion) for e in mug] == [("step", "pick(white_mug)"), ("step", "place(white_mug, plate)")]


def test_export_prompt_is_the_planners(recorded_episodes):
    """The exported prompt is what the planner renders for the same scene, rules and steps."""
    from robot_agent.policy.backends import PolicyBackend, RankResult
    from robot_agent.policy.planner import Planner
    from robot_agent.policy.prompts import assistant_prefix
    from skills.types import ObjectInfo

    class Recording(PolicyBackend):
        name = "recording"

        def __init__(self) -> None:
            self.requests = []

        def rank(self, request):
            self.requests.append(request)
            return RankResult(None, "symbolic")

        def describe(self) -> str:
            return "recording"

    ex = examples_from_log(recorded_episodes["logs"]["mug_train"])[0]  # pick(white_mug), the first step
    user = dict(ex.messages)["user"]
    seen = _plan_objects(recorded_episodes["logs"]["mug_train"])
    objects = [ObjectInfo.from_dict(o) for o in seen]
    # A second mug: the planner must ask the backend which one to pick, with the prompt export rebuilds.
    twin = json.loads(json.dumps([o for o in seen if o["name"] == "white_mug"][0]))
    twin["name"] = "white_mug_2"
    twin["pose"]["position"][1] -= 0.2
    backend = Recording()
    Planner(backend).plan(ex.task, objects + [ObjectInfo.from_dict(twin)], [])
    (req,) = backend.requests  # the one free choice: which mug
    assert sorted(req.candidates) == ["pick(white_mug)", "pick(white_mug_2)"]
    assert req.context.system() == dict(ex.messages)["system"]
    assert [ln for ln in req.context.user().splitlines() if "white_mug_2" not in ln] == user.splitlines()
    assert assistant_prefix(req.steps) == ex.prefix


def _plan_objects(log):
    from robot_agent.logs import EpisodeLogReader

    return next(e.data["objects"] for e in EpisodeLogReader(log).events(["/episode/plan"]))


def test_export_cli_splits_by_episode(recorded_episodes, tmp_path):
    out = subprocess.run(
        [
            EXE,
            "export",
            str(recorded_episodes["logs_dir"]),
            "--format",
            "sft-jsonl",
            "--out",
            str(tmp_path / "sft"),
            "--val-fraction",
            "0.5",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for f in ("train.jsonl", "val.jsonl") for line in (tmp_path / "sft" / f).open()]
    assert len(rows) == 10 and sum(r["kind"] == "correction" for r in rows) == 1
    by_episode = {}
    for r in rows:
        by_episode.setdefault(r["episode_id"], set()).add(r["split"])
    assert all(len(s) == 1 for s in by_episode.values())  # no episode in both splits
    assert "(1 corrections, 3 hindsight, 6 executed steps) from 2 logs" in out.stdout
    bad = subprocess.run(
        [EXE, "export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "nowhere" in bad.stderr and "Traceback" not in bad.stderr


def test_read_examples_names_a_bad_line(tmp_path):
    f = tmp_path / "train.jsonl"
    f.write_text('{"schema": "robot_agent/sft/v1"}\nnot json\n')
    with pytest.raises(ValueError, match=r"train.jsonl:1: malformed example"):
        read_examples(f)


@pytest.fixture(scope="module")
def trained(recorded_episodes, tmp_path_factory):
    """A few LoRA steps on the drawer episode, interrupted after 2 and resumed to 4."""
    from robot_agent.config import AgentConfig

    cfg = AgentConfig.load()
    train = examples_from_log(recorded_episodes["logs"]["drawer_train"])
    out = tmp_path_factory.mktemp("adapter")
    first = train_policy(
        train, out, config=cfg, settings=TrainSettings(steps=2, batch_size=2, lr=2e-3, save_every=1), progress=False
    )
    second = train_policy(
        train, out, config=cfg, settings=TrainSettings(steps=4, batch_size=2, lr=2e-3, save_every=1), progress=False
    )
    return {"out": out, "first": first, "second": second, "train": train, "config": cfg}


def test_training_is_resumable(trained):
    out = trained["out"]
    assert trained["first"]["resumed_from"] == 0 and trained["first"]["steps"] == 2
    assert trained["second"]["resumed_from"] == 2 and trained["second"]["steps"] == 4
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    assert state["step"] == 4
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    assert trained["second"]["train_loss_after"] < trained["second"]["train_loss_before"]
    report = json.loads((out / "training.json").read_text())
    assert report["seconds"] > 0 and report["examples"] == 8 and report["corrections"] == 1
    # The pairwise term (target over the rejected step, for the correction and the first hindsight step)
    # pulled the two apart: its loss, -log sigmoid(beta * margin), went down.
    assert report["pairwise_examples"] == 2 and report["hindsight"] == 3
    assert report["pairwise_margin_after"] > report["pairwise_margin_before"]


def test_resuming_with_other_data_is_refused(trained):
    with pytest.raises(ValueError, match="checkpoint was trained with other data"):
        train_policy(
            trained["train"][:2],
            trained["out"],
            config=trained["config"],
            settings=TrainSettings(steps=5, batch_size=2, lr=2e-3),
            progress=False,
        )


def test_adapter_loads_through_config_and_scoring_stays_exact(trained):
    from robot_agent.policy.backends import make_backend

    cfg = trained["config"]
    cfg.policy.adapter_path = str(trained["out"])
    try:
        backend = make_backend(cfg)
    finally:
        cfg.policy.adapter_path = ""
    tuned = backend.model
    corr = next(e for e in trained["train"] if e.kind == "correction")
    cands = ["open(cabinet)", "place(red_block, cabinet)", "close(cabinet)"]
    fast = tuned.score_continuations(corr.messages, corr.prefix, cands)
    fast2 = tuned.score_continuations(corr.messages, corr.prefix + "open(cabinet)\n", cands)  # the prefix cache path
    ref = tuned.reference_scores(corr.messages, corr.prefix, cands)
    ref2 = tuned.reference_scores(corr.messages, corr.prefix + "open(cabinet)\n", cands)
    for a, b in zip(fast + fast2, ref + ref2, strict=True):
        assert a.sum_logprob == pytest.approx(b.sum_logprob, abs=2e-3)
    base = LocalChatModel(cache_dir=cfg.policy.cache_dir).load()
    before = base.score_continuations(corr.messages, corr.prefix, cands)
    # Trained on it: the corrected step became more likely after the context before the correction.
    assert fast[0].sum_logprob > before[0].sum_logprob
    ids, labels = encode_example(base._tok, corr)
    assert render_prompt(base._tok, corr.messages) == base._render(corr.messages)
    assert sum(1 for v in labels if v != -100) == fast[0].n_tokens


def test_bad_adapter_path_is_a_clear_error(tmp_path):
    with pytest.raises(PolicyError, match="not a LoRA adapter"):
        LocalChatModel(adapter_path=str(tmp_path)).load()


def test_train_without_examples_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no training examples"):
        train_policy([], tmp_path / "a", settings=TrainSettings(steps=1))


def test_export_sft_counts(recorded_episodes, tmp_path):
    counts = export_sft([recorded_episodes["logs_dir"]], tmp_path / "d", val_fraction=0.0)
    assert counts == {"logs": 2, "train": 10, "val": 0, "correction": 1, "step": 6, "hindsight": 3}
    rows = [json.loads(line) for line in (tmp_path / "d" / "train.jsonl").open()]
    assert (
        read_examples(tmp_path / "d" / "train.jsonl")[1].rejected == rows[1]["rejected"] == "place(red_block, cabinet)"
    )


def test_undo_put_back_drops_the_picks_that_were_undone():
    assert undo_put_back(["pick(a)", "open(c)", "pick(a)", "place(a, c)"]) == ["open(c)", "pick(a)", "place(a, c)"]
    assert undo_put_back(["pick(a)", "pick(b)", "place(b, t)"]) == ["pick(b)", "place(b, t)"]
    assert undo_put_back(["pick(a)", "place(a, t)", "push(b)"]) == ["pick(a)", "place(a, t)", "push(b)"]


def test_renamed_examples_are_consistent(recorded_episodes):
    import random

    ex = examples_from_log(recorded_episodes["logs"]["drawer_train"])[1]
    assert scene_names(ex) == ["red_block", "cabinet"]
    new = rename_example(ex, random.Random(3))  # noqa: S311 - seeded test input
    user = dict(new.messages)["user"]
    assert "red_block" not in user + new.prefix + new.completion + new.rejected
    ((block, _desc),) = [ln.split(": ", 1) for ln in user.splitlines() if ln.endswith("red cube block")]
    ((cab, _d2),) = [ln.split(": ", 1) for ln in user.splitlines() if "drawer cabinet" in ln]
    assert "block" in block and "cabinet" in cab and block != cab
    assert (new.prefix, new.completion, new.rejected) == (f"pick({block})\n", f"open({cab})", f"place({block}, {cab})")
    assert "Task: put the red block in the drawer" in user  # the task's words are not names
    assert user.split("Objects:")[0] == dict(ex.messages)["user"].split("Objects:")[0]  # skill lines untouched
    assert dict(new.messages)["system"] == dict(ex.messages)["system"]


def test_bad_training_settings_are_refused():
    for bad in ({"beta": 0.0}, {"pairwise_weight": -1.0}, {"rename": 99}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainSettings(**bad).check()


def test_export_skips_the_re_pick_after_a_put_back(tmp_path):
    """'fruit goes in the bowl' during place(apple, tray): the agent puts the apple back and
    replans pick, place(bowl). The lesson is place(apple, bowl) after pick(apple), not the re-pick."""
    from robot_agent.logs import EpisodeLogWriter

    objects = [
        {
            "name": "apple",
            "category": "fruit",
            "pose": {"position": [0.42, 0.0, 0.0], "yaw": 0.0},
            "size": [0.055, 0.055, 0.055],
            "color": "red",
            "shape": "apple",
        },
        {
            "name": "bowl",
            "category": "bowl",
            "pose": {"position": [0.4, -0.24, 0.0], "yaw": 0.0},
            "size": [0.16, 0.16, 0.05],
            "color": "white",
            "shape": "round",
        },
        {
            "name": "tray",
            "category": "tray",
            "pose": {"position": [0.4, 0.24, 0.0], "yaw": 0.0},
            "size": [0.2, 0.16, 0.06],
            "color": "gray",
            "shape": "bin",
        },
    ]
    rule = str({"type": "preference", "category": "fruit", "target": "bowl"})
    log = tmp_path / "fruit"
    ok = {"status": "succeeded", "reason": "", "facts": {}}
    with EpisodeLogWriter(log, "fruit", meta={"task": "put the apple away"}) as w:
        w.plan(["pick(apple)", "place(apple, tray)"], reason="initial", constraints=[], objects=objects)
        w.skill_call("pick", {"object": "apple"}, {}, step=0)
        w.skill_result("pick", ok, step=0)
        w.skill_call("place", {"object": "apple", "target": "tray"}, {}, step=1)
        w.correction("fruit goes in the bowl", "simulated")
        w.understood("fruit goes in the bowl", "plan", outcome="replanned")
        w.plan(
            ["pick(apple)", "place(apple, bowl)"],
            reason="correction",
            constraints=[rule],
            objects=objects,
            put_back=["apple"],
        )
        for step, (skill, args) in enumerate(
            [("pick", {"object": "apple"}), ("place", {"object": "apple", "target": "bowl"})]
        ):
            w.skill_call(skill, args, {}, step=step)
            w.skill_result(skill, ok, step=step)
        w.outcome(True)
    ex = examples_from_log(log)
    assert [(e.kind, e.prefix, e.completion) for e in ex] == [
        ("step", "", "pick(apple)"),
        ("correction", "pick(apple)\n", "place(apple, bowl)"),
        # the re-pick is no example; the place is, after both picks, as the planner rendered it
        ("step", "pick(apple)\npick(apple)\n", "place(apple, bowl)"),
    ]
    assert "Rules:" not in dict(ex[1].messages)["user"] and "fruit" in dict(ex[2].messages)["user"].split("Rules:")[1]
