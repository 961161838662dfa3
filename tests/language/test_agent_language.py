"""The agent with the understanding layer in PyBullet: tasks it cannot read get a question, an
answer continues the task, nothing fails silently, and only trusted corrections are distilled."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from memory import KnowledgeBase, KnowledgeItem
from robot_agent.agent import Agent
from robot_agent.config import AgentConfig
from robot_agent.distill import distill_episode, trusted
from robot_agent.episode import AgentState, CorrectionRecord, EpisodeResult, StepRecord
from robot_agent.language import LanguageLayer
from robot_agent.policy import make_planner
from sim.operator import check_success
from sim.scenario import SCENARIOS_DIR, load_scenario
from sim.world import SimWorld

MUG = SCENARIOS_DIR / "demo" / "mug_train.yaml"


@pytest.fixture(scope="module")
def planner():
    cfg = AgentConfig()
    cfg.policy.backend = "symbolic"
    return make_planner(cfg)


def _agent(world, planner, layer, events, kb=None, timeout=5.0) -> Agent:
    cfg = AgentConfig()
    cfg.language.answer_timeout_s = timeout
    return Agent(world.robot, planner, kb, layer, cfg, on_event=events.append)


def test_an_unreadable_task_is_asked_about_and_the_answer_continues_it(planner, text_embedder) -> None:
    sc = load_scenario(MUG)
    layer = LanguageLayer(embedder=text_embedder)
    events: list[dict] = []
    with SimWorld(sc.scene) as world:
        agent = _agent(world, planner, layer, events, timeout=30.0)

        def answer_when_asked() -> None:
            for _ in range(300):
                if any(e["type"] == "question" for e in events):
                    agent.submit_correction("put the white mug on the plate", "typed")
                    return
                threading.Event().wait(0.05)

        t = threading.Thread(target=answer_when_asked)
        t.start()
        result = agent.run_task("put the vase on the plate")
        t.join()
        assert result.state is AgentState.DONE, (result.reason, result.questions)
        assert result.questions and any(e["type"] == "question" and e["about"] == "task" for e in events)
        assert check_success(sc, world.robot.perceive())[0]


def test_no_answer_ends_the_task_with_the_reason_and_the_question(planner, text_embedder) -> None:
    sc = load_scenario(MUG)
    layer = LanguageLayer(embedder=text_embedder)
    events: list[dict] = []
    with SimWorld(sc.scene) as world:
        agent = _agent(world, planner, layer, events, timeout=0.5)
        result = agent.run_task("blorp the wibble onto the frobnicator")
    assert result.state is AgentState.FAILED
    assert "not understood" in result.reason and "asked" in result.reason
    assert result.questions
    states = [e.get("state") for e in events if e["type"] == "status"]
    assert "waiting" in states and states[-1] == "failed"
    assert not result.steps  # nothing moved


def test_an_unfamiliar_phrasing_is_planned_with_the_right_goal(planner, text_embedder) -> None:
    sc = load_scenario(MUG)
    layer = LanguageLayer(embedder=text_embedder)
    events: list[dict] = []
    with SimWorld(sc.scene) as world:
        agent = _agent(world, planner, layer, events)
        result = agent.run_task("park the white mug on the yellow plate")
        assert result.state is AgentState.DONE, result.reason
        assert check_success(sc, world.robot.perceive())[0]
    understood = [e for e in events if e["type"] == "task_understood"]
    assert understood[0]["decision"] == "act"
    assert understood[0]["atoms"] == [{"kind": "at", "objects": ["white_mug"], "targets": ["plate"]}]


def _episode(corrections: list[CorrectionRecord], steps: list[StepRecord]) -> EpisodeResult:
    r = EpisodeResult("e1", "put the mug on the plate", AgentState.DONE, True)
    r.corrections, r.steps = corrections, steps
    return r


def _rec(text: str, at: float, understood: dict, outcome: str, call: dict) -> CorrectionRecord:
    return CorrectionRecord(text, "typed", at, understood, 0, call, outcome)


PICK = {"skill": "pick", "args": {"object": "white_mug"}, "params": {}}
PLACE = {"skill": "place", "args": {"object": "white_mug", "target": "plate"}, "params": {}}


def test_an_unsure_reading_corrected_again_at_once_is_not_learned() -> None:
    unsure = _rec(
        "do the thing with the plate",
        1.0,
        {"kind": "plan", "confidence": 0.65, "understood_by": "model", "plan": {"type": "avoid", "object": "plate"}},
        "replanned",
        PLACE,
    )
    then = _rec(
        "put it on the plate gently",
        2.0,
        {"kind": "skill", "confidence": 1.0, "parameters": {"speed": {"scale": 0.5}}},
        "applied",
        PLACE,
    )
    steps = [StepRecord(PLACE, "succeeded", "", {"params": {"speed": 0.25}}, [], 2.5, 3.0)]
    ep = _episode([unsure, then], steps)
    assert not trusted(unsure, ep) and trusted(then, ep)
    # Had a step succeeded in between, the first reading would have stood.
    ep2 = _episode([unsure, then], [StepRecord(PICK, "succeeded", "", {}, [], 1.2, 1.5)] + steps)
    assert trusted(unsure, ep2)


def test_answers_and_confirmed_corrections_are_learned_with_their_confidence(tmp_path: Path, text_embedder) -> None:
    sc = load_scenario(MUG)
    objs = {o.name: o for o in sc.objects}
    answered = _rec(
        "2",
        1.0,
        {
            "kind": "skill",
            "confidence": 1.0,
            "understood_by": "answer",
            "parameters": {"grasp_region": {"set": "handle"}},
        },
        "applied",
        PICK,
    )
    steps = [
        StepRecord(
            {**PICK, "params": {"grasp_region": "handle"}},
            "succeeded",
            "",
            {"params": {"grasp_region": "handle"}},
            [],
            1.5,
            2.0,
        )
    ]
    items = distill_episode(_episode([answered], steps), objs)
    (item,) = items
    assert item["parameters"] == {"grasp_region": "handle"}
    assert item["provenance"]["corrections"] == ["2"] and item["provenance"]["confidences"] == [1.0]
    with KnowledgeBase(tmp_path / "kb", text_embedder) as kb:
        stored = kb.add(KnowledgeItem.from_dict(item))
        assert kb.get(stored.id).provenance["confidences"] == [1.0]


def test_two_changes_of_different_parameters_in_a_row_are_both_learned() -> None:
    slower = _rec(
        "slower", 1.0, {"kind": "skill", "confidence": 1.0, "parameters": {"speed": {"scale": 0.5}}}, "applied", PLACE
    )
    lower = _rec(
        "place it lower",
        2.0,
        {"kind": "skill", "confidence": 1.0, "parameters": {"place_height": {"add": -0.03}}},
        "applied",
        PLACE,
    )
    ep = _episode([slower, lower], [StepRecord(PLACE, "succeeded", "", {}, [], 2.5, 3.0)])
    assert trusted(slower, ep) and trusted(lower, ep)
