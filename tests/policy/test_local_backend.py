"""The embedded SmolLM2 backend, for real: cache, chat generation, scoring with prefix reuse, planning."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from robot_agent.errors import PolicyError
from robot_agent.policy import LocalBackend, LocalChatModel, Planner, RankRequest, smollm2_gguf
from robot_agent.policy.prompts import PromptContext, object_lines

MESSAGES = [("system", "You are the planner of a robot arm."), ("user", "Task: put a block in the tray")]


def test_the_dequantized_model_is_cached_as_safetensors(smollm2: LocalChatModel) -> None:
    d = smollm2.model_dir
    assert d is not None and (d / "model.safetensors").is_file() and (d / "config.json").is_file()
    assert (d / "tokenizer.json").is_file()
    manifest = json.loads((d / "source.json").read_text())
    assert manifest["gguf"] == str(smollm2_gguf().resolve())
    assert manifest["size"] == smollm2_gguf().stat().st_size
    # The cached directory is a plain HF model directory: loading it by path works too.
    again = LocalChatModel(model_path=str(d)).load()
    assert again.model_dir == d


def test_two_installs_keep_their_own_cache_entries(tmp_path) -> None:
    """Two copies of the GGUF file (two venvs) map to two cache entries: they never rebuild one
    entry in turn (three fresh clones run side by side once raced deleting a shared one)."""
    from robot_agent.policy.backends import cache_entry

    a, b = tmp_path / "a" / "m.gguf", tmp_path / "b" / "m.gguf"
    for p in (a, b):
        p.parent.mkdir()
        p.write_bytes(b"gguf")
    root = tmp_path / "cache"
    assert cache_entry(a, root) != cache_entry(b, root)
    assert cache_entry(a, root) == cache_entry(a, root) and cache_entry(a, root).parent == root
    assert cache_entry(a, root).name.startswith("m-")


def test_entries_whose_source_is_gone_or_changed_are_evicted(tmp_path) -> None:
    """Every throw-away clone leaves a half-gigabyte entry keyed on its own GGUF path: entries that
    no install can load again are deleted, the rest (and any entry in the making) are kept."""
    from robot_agent.policy.backends import _manifest, cache_entry, evict_stale_entries

    root = tmp_path / "cache"
    kept_src, gone_src, changed_src = (tmp_path / n / "m.gguf" for n in ("kept", "gone", "changed"))
    entries = {}
    for src in (kept_src, gone_src, changed_src):
        src.parent.mkdir()
        src.write_bytes(b"gguf")
        e = cache_entry(src, root)
        e.mkdir(parents=True)
        (e / "source.json").write_text(json.dumps(_manifest(src)))
        entries[src.parent.name] = e
    gone_src.unlink()
    changed_src.write_bytes(b"gguf, reinstalled")
    in_making = root / ".m-123.tmp"
    in_making.mkdir()
    no_manifest = root / "m-unreadable"
    no_manifest.mkdir()

    removed = evict_stale_entries(root)
    assert sorted(removed) == sorted([entries["gone"], entries["changed"]])
    assert not entries["gone"].exists() and not entries["changed"].exists()
    assert entries["kept"].is_dir() and in_making.is_dir() and no_manifest.is_dir()
    assert not [p for p in root.iterdir() if ".old." in p.name]  # nothing left aside
    assert evict_stale_entries(root) == []  # idempotent
    assert evict_stale_entries(tmp_path / "no-such-cache") == []


def test_langchain_chat_generation(smollm2: LocalChatModel) -> None:
    assert isinstance(smollm2, BaseChatModel)
    reply = smollm2.invoke([SystemMessage("Answer in one word."), HumanMessage("What colour is the sky?")])
    assert isinstance(reply, AIMessage) and reply.content.strip()
    assert "<|im_end|>" not in reply.content
    cut = smollm2.invoke("Count: one, two, three, four", stop=["three"])
    assert "three" not in cut.content


def test_generation_timeout_raises_policy_error(smollm2: LocalChatModel) -> None:
    with pytest.raises(PolicyError, match="timeout"):
        smollm2.invoke("Write a long story about a robot.", timeout_s=1e-4, max_new_tokens=64)


def test_cached_scores_equal_full_forward_passes(smollm2: LocalChatModel) -> None:
    cands = ["pick(red_block)", "pick(blue_block)", "place(red_block, tray)", "go_home()"]
    smollm2._prefix = None
    cold = smollm2.score_continuations(MESSAGES, "", cands)
    merged = smollm2.score_continuations(MESSAGES, "open(cabinet)\n", cands)  # prompt extended: one merged pass
    warm = smollm2.score_continuations(MESSAGES, "open(cabinet)\n", cands)  # prompt fully cached
    ref = smollm2.reference_scores(MESSAGES, "open(cabinet)\n", cands)  # no cache at all
    ref0 = smollm2.reference_scores(MESSAGES, "", cands)
    for a, b, c in zip(merged, warm, ref, strict=True):
        assert a.n_tokens == b.n_tokens == c.n_tokens > 1
        assert a.sum_logprob == pytest.approx(c.sum_logprob, abs=2e-3)
        assert b.sum_logprob == pytest.approx(c.sum_logprob, abs=2e-3)
        assert a.mean_logprob == pytest.approx(a.sum_logprob / a.n_tokens)
    for a, c in zip(cold, ref0, strict=True):
        assert a.sum_logprob == pytest.approx(c.sum_logprob, abs=2e-3)
    # Different prompts give different scores: the context matters.
    assert [round(s.sum_logprob, 3) for s in cold] != [round(s.sum_logprob, 3) for s in merged]


def test_shared_candidate_starts_and_large_batches_score_exactly(smollm2: LocalChatModel) -> None:
    # All candidates start "place(red_block, ": those tokens are computed once, in the prompt's pass.
    places = [f"place(red_block, {t})" for t in ("tray", "bowl", "cabinet")]
    for prefix in ("pick(red_block)\n", "pick(red_block)\n" + "open(cabinet)\n" * 6):
        got = smollm2.score_continuations(MESSAGES, prefix, places)
        ref = smollm2.reference_scores(MESSAGES, prefix, places)
        assert [g.n_tokens for g in got] == [r.n_tokens for r in ref]
        assert [g.sum_logprob for g in got] == pytest.approx([r.sum_logprob for r in ref], abs=2e-3)
    # More candidates than one batch holds: the groups agree with full passes at their edges.
    many = [f"pick(obj{i})" for i in range(18)]
    got = smollm2.score_continuations(MESSAGES, "go_home()\n", many)
    edge = [0, 15, 16, 17]
    ref = smollm2.reference_scores(MESSAGES, "go_home()\n", [many[i] for i in edge])
    assert [got[i].sum_logprob for i in edge] == pytest.approx([r.sum_logprob for r in ref], abs=2e-3)


def test_prefix_is_reused_across_calls(smollm2: LocalChatModel) -> None:
    smollm2._prefix = None
    before = smollm2.stats
    smollm2.score_continuations(MESSAGES, "", ["pick(a)", "pick(b)"])
    first = smollm2.stats
    computed_first = first["prefix_tokens_computed"] - before["prefix_tokens_computed"]
    assert computed_first > 20 and first["prefix_tokens_reused"] == before["prefix_tokens_reused"]
    smollm2.score_continuations(MESSAGES, "pick(a)\n", ["place(a, tray)", "place(a, bowl)", "go_home()"])
    second = smollm2.stats
    # Only the new line was computed; everything before it came from the kept cache.
    assert second["prefix_tokens_computed"] - first["prefix_tokens_computed"] < 10
    assert second["prefix_tokens_reused"] - first["prefix_tokens_reused"] == computed_first
    # A prompt that diverges early keeps the shared start.
    other = [("system", MESSAGES[0][1]), ("user", "Task: stack the blocks")]
    smollm2.score_continuations(other, "", ["pick(a)"])
    third = smollm2.stats
    assert third["prefix_tokens_reused"] - second["prefix_tokens_reused"] > 10


def test_scoring_respects_its_deadline(smollm2: LocalChatModel) -> None:
    smollm2._prefix = None
    with pytest.raises(PolicyError, match="time budget"):
        smollm2.score_continuations(MESSAGES, "", ["pick(a)"], deadline=time.monotonic() - 1.0)
    with pytest.raises(PolicyError, match="no candidates"):
        smollm2.score_continuations(MESSAGES, "", [])
    # A failed call leaves the model usable.
    assert len(smollm2.score_continuations(MESSAGES, "", ["pick(a)"])) == 1


def test_local_backend_ranks_ties_and_the_plan_follows_the_best_score(
    smollm2: LocalChatModel, scenes: SimpleNamespace
) -> None:
    planner = Planner(LocalBackend(smollm2, "mean"), timeout_s=60.0)
    objects = scenes.blocks()
    plan = planner.plan("put a block in the tray", objects, ["go home at the end"])
    scenes.assert_valid(plan, objects)
    first = plan.trace[0]
    assert first.how == "llm" and len(first.candidates) == 3 and plan.llm_calls >= 1
    scores = [c.llm for c in first.candidates]
    assert all(isinstance(s, float) and s < 0 for s in scores)
    assert first.chosen == first.candidates[max(range(3), key=lambda i: scores[i])].call
    assert plan.texts()[1] == f"place({first.chosen[5:-1]}, tray)" and plan.texts()[-1] == "go_home()"
    # The backend's own ranking agrees with the trace.
    ctx = PromptContext("put a block in the tray", object_lines(objects), ["go_home(*) at the end"])
    res = planner.backend.rank(RankRequest(ctx, [], [c.call for c in first.candidates]))
    assert res.method == "loglik" and res.scores == pytest.approx(scores, abs=2e-3)


def test_local_backend_keeps_constraints_whatever_it_prefers(smollm2: LocalChatModel, scenes: SimpleNamespace) -> None:
    planner = Planner(LocalBackend(smollm2, "sum"), timeout_s=60.0)
    plan = planner.plan("put the red block in the drawer", scenes.drawer(), ["open the drawer first"])
    assert plan.texts() == ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"]
    assert plan.llm_calls == 0  # every step was forced: the model was not needed
    plan = planner.plan("tidy up", scenes.fruit(), ["fruit goes in the bowl"])
    assert plan.texts() == ["pick(apple)", "place(apple, bowl)", "pick(banana)", "place(banana, bowl)"]


def test_local_backend_with_a_missing_model_path() -> None:
    with pytest.raises(PolicyError, match="neither a Hugging Face model directory"):
        LocalChatModel(model_path="/nonexistent/model").load()
