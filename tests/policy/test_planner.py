"""The planner on the symbolic backend: valid plans, constraints obeyed, replans, repair or refusal.

The symbolic backend keeps the planner's own order among equally good calls, so these
tests check what the planner guarantees whatever the LLM says; the LLM backends are
tested in test_local_backend.py and test_openai_backend.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from robot_agent.errors import PolicyError
from robot_agent.policy import (
    AvoidConstraint,
    CallPattern,
    ObjectRef,
    OrderConstraint,
    Planner,
    SkillCall,
    SymbolicBackend,
    parse_calls,
)


@pytest.fixture
def planner() -> Planner:
    return Planner(SymbolicBackend(), max_steps=12, timeout_s=5.0)


@pytest.mark.parametrize(
    "scene, task, expected",
    [
        ("drawer", "put the red block in the drawer", ["pick(red_block)", "place(red_block, cabinet)"]),
        (
            "drawer_novel",
            "place the blue cylinder inside the cabinet drawer",
            ["pick(blue_cylinder)", "place(blue_cylinder, white_cabinet)"],
        ),
        ("mug", "put the mug on the plate", ["pick(white_mug)", "place(white_mug, plate)"]),
        ("mug_novel", "place the blue cup onto the plate", ["pick(blue_mug)", "place(blue_mug, green_plate)"]),
        (
            "tabletop",
            "open the drawer, put the red block in it, then close the drawer",
            ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)", "close(cabinet)"],
        ),
        ("tabletop", "pick up the apple and put it in the bowl", ["pick(apple)", "place(apple, bowl)"]),
        ("tabletop", "stack the red block on the blue block", ["pick(red_block)", "place(red_block, blue_block)"]),
        (
            "blocks",
            "put all the blocks in the tray",
            [
                "pick(red_block)",
                "place(red_block, tray)",
                "pick(blue_block)",
                "place(blue_block, tray)",
                "pick(green_block)",
                "place(green_block, tray)",
            ],
        ),
        ("tabletop", "push the apple", ["push(apple)"]),
        ("tabletop", "go home", ["go_home()"]),
    ],
)
def test_plans_are_valid_and_reach_the_goal(
    planner: Planner, scenes: SimpleNamespace, scene: str, task: str, expected: list[str]
) -> None:
    objects = getattr(scenes, scene)()
    plan = planner.plan(task, objects)
    assert plan.texts() == expected
    scenes.assert_valid(plan, objects)
    assert plan.goal and plan.latency_s < 1.0
    assert all(t.how in ("forced", "symbolic") for t in plan.trace)
    assert len(plan.trace) == len(plan.calls) and all(t.n_valid <= t.n_generated for t in plan.trace)


def test_drawer_naive_first_then_corrected(planner: Planner, scenes: SimpleNamespace) -> None:
    task = "put the red block in the drawer"
    # No knowledge: the drawer's closedness is a requirement nobody told the robot about.
    assert planner.plan(task, scenes.drawer()).texts() == ["pick(red_block)", "place(red_block, cabinet)"]
    # The operator's correction, in each form it can arrive in.
    for correction in (
        "open the drawer first",
        {"type": "order", "first": "open", "object": "drawer"},
        {"type": "order", "first": {"skill": "open", "object": "cabinet", "target": None}, "then": None},
        OrderConstraint(
            first=CallPattern("open", ObjectRef(category="cabinet")),
            then=CallPattern("place", None, ObjectRef(category="cabinet")),
        ),
    ):
        plan = planner.plan(task, scenes.drawer(), [correction])
        assert plan.texts() == ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"], correction
        scenes.assert_valid(plan, scenes.drawer())
        assert plan.constraints[0]["kind"] == "order"
    # Learned on the training scene, applied to the novel one (other cabinet, other object).
    plan = planner.plan(
        "place the blue cylinder inside the cabinet drawer",
        scenes.drawer_novel(),
        ["always open the drawer before putting something in it"],
    )
    assert plan.texts() == ["open(white_cabinet)", "pick(blue_cylinder)", "place(blue_cylinder, white_cabinet)"]
    # An already open drawer satisfies "open it first".
    plan = planner.plan(task, scenes.drawer(opening=0.15), ["open the drawer first"])
    assert plan.texts() == ["pick(red_block)", "place(red_block, cabinet)"]


def test_preference_target_avoid_and_param_constraints(planner: Planner, scenes: SimpleNamespace) -> None:
    fruit = scenes.fruit()
    assert planner.plan("put the apple in the tray", fruit).texts() == ["pick(apple)", "place(apple, tray)"]
    plan = planner.plan("put the apple in the tray", fruit, ["fruit goes in the bowl"])
    assert plan.texts() == ["pick(apple)", "place(apple, bowl)"]
    plan = planner.plan(
        "put the fruit away",
        fruit,
        [
            {
                "type": "preference",
                "selector": {"category": "fruit"},
                "target": None,
                "target_category": "bowl",
                "relation": "in",
            }
        ],
    )
    assert plan.texts() == ["pick(apple)", "place(apple, bowl)"]
    blocks = scenes.blocks()
    for correction in (
        "no, the blue one",
        {"type": "target", "object": "blue_block"},
        {"type": "target", "role": "object", "object": "blue_block", "replaces": "red_block"},
    ):
        plan = planner.plan("put the red block in the tray", blocks, [correction])
        assert plan.texts() == ["pick(blue_block)", "place(blue_block, tray)"], correction
    plan = planner.plan("put a block in the tray", blocks, ["don't touch the red block"])
    assert plan.texts() == ["pick(blue_block)", "place(blue_block, tray)"]
    assert all("red_block" not in c.objects() for c in plan)
    # "Away" means into a container: the bowl or the tray here; each avoid rules one out.
    assert planner.plan("put the apple away", fruit, [{"type": "avoid", "object": "bowl"}]).texts() == [
        "pick(apple)",
        "place(apple, tray)",
    ]
    assert planner.plan(
        "put the apple away", fruit, [AvoidConstraint(skill="place", target=ObjectRef(name="bowl"))]
    ).texts() == ["pick(apple)", "place(apple, tray)"]
    with pytest.raises(PolicyError, match="no valid plan"):
        planner.plan("put the apple away", fruit, ["don't put anything in the bowl", "keep away from the tray"])
    plan = planner.plan("put the mug on the plate", scenes.mug(), ["grasp mugs by the handle"])
    assert plan.calls[0].params == {"grasp_region": "handle"} and plan.calls[1].params == {}
    plan = planner.plan(
        "put the cup on the plate",
        scenes.mug_novel(),
        [{"type": "param", "skill": "pick", "category": "mug", "params": {"grasp_region": "handle"}}],
    )
    assert plan.calls[0].params == {"grasp_region": "handle"}


def test_required_steps(planner: Planner, scenes: SimpleNamespace) -> None:
    plan = planner.plan("put the red block in the tray", scenes.blocks(), ["go home at the end"])
    assert plan.texts() == ["pick(red_block)", "place(red_block, tray)", "go_home()"]
    plan = planner.plan(
        "put the red block in the drawer", scenes.drawer(), ["open the drawer first", "close the drawer afterwards"]
    )
    assert plan.texts() == ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)", "close(cabinet)"]
    plan = planner.plan(
        "put the apple in the bowl",
        scenes.tabletop(),
        [{"type": "step", "call": {"skill": "go_home"}, "position": "next"}],
    )
    assert plan.texts()[0] == "go_home()" and plan.texts()[-1] == "place(apple, bowl)"


def test_constraints_that_cannot_hold_are_refused_clearly(planner: Planner, scenes: SimpleNamespace) -> None:
    with pytest.raises(PolicyError, match="needs red_block but a constraint says: do not touch red block"):
        planner.plan("put the red block in the tray", scenes.blocks(), ["don't touch the red block"])
    with pytest.raises(PolicyError, match="no valid plan reaches the goal"):
        planner.plan(
            "put the red block in the drawer", scenes.drawer(), ["don't open the drawer", "open the drawer first"]
        )
    plan = planner.plan(
        "put the apple in the tray", scenes.fruit(), [{"type": "param", "skill": "pick", "params": {"speed": 7.0}}]
    )
    assert any("refused" in w for w in plan.warnings) and plan.calls[0].params == {}
    with pytest.raises(PolicyError, match="empty"):
        planner.plan("  ", scenes.fruit())
    with pytest.raises(PolicyError, match="could not understand the task"):
        planner.plan("dance a little", scenes.fruit())


@dataclass
class AgentCall:
    """What robot_agent.agent passes as done steps."""

    skill: str
    args: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)


def test_replan_from_a_mid_task_state(planner: Planner, scenes: SimpleNamespace) -> None:
    task = "put the red block in the drawer"
    pick = AgentCall("pick", {"object": "red_block"})
    # Block in hand, drawer closed, then "open the drawer first". With nowhere to set the block
    # down, no valid plan exists: refused, with the state and constraint named.
    with pytest.raises(PolicyError, match="holding red_block"):
        planner.replan(task, scenes.drawer(block_z=0.15), done_steps=[pick], constraints=["open the drawer first"])
    # The agent put the block back down (it lies on the table): open, pick, place.
    plan = planner.replan(task, scenes.drawer(), done_steps=[pick], constraints=["open the drawer first"])
    assert plan.texts() == ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"]
    # With a plate to set it on, the held block goes there first.
    scene = scenes.drawer(block_z=0.15) + [scenes.obj("plate", "plate", 0.35, -0.25)]
    plan = planner.replan(task, scene, done_steps=[pick], constraints=["open the drawer first"])
    assert plan.texts() == ["place(red_block, plate)", "open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"]
    scenes.assert_valid(plan, scene, done=[SkillCall.coerce(pick)])
    # Drawer already opened earlier in the episode: only the rest remains.
    opened = scenes.drawer(opening=0.15)
    plan = planner.replan(
        task,
        opened,
        done_steps=[{"skill": "open", "args": {"object": "cabinet"}}],
        constraints=["open the drawer first"],
    )
    assert plan.texts() == ["pick(red_block)", "place(red_block, cabinet)"]
    # Goal already holds: nothing left to do.
    cab = opened[1]
    inside = cab.pose.to_world([0.12, 0.0, 0.03])
    done_scene = [scenes.obj("red_block", "block", float(inside[0]), float(inside[1]), 0.03, color="red"), cab]
    assert planner.replan(task, done_scene, done_steps=[pick]).calls == []
    # Mid-task target correction while holding the wrong block (a place to put it exists).
    blocks = [
        o if o.name != "red_block" else scenes.obj("red_block", "block", 0.45, 0.05, 0.15, color="red")
        for o in scenes.blocks()
    ]
    plan = planner.replan("put the red block in the tray", blocks, done_steps=[pick], constraints=["no, the blue one"])
    assert plan.texts()[-2:] == ["pick(blue_block)", "place(blue_block, tray)"]
    assert plan.texts()[0].startswith("place(red_block, ")
    scenes.assert_valid(plan, blocks, done=[SkillCall.coerce(pick)])


def test_check_plan_repairs_or_refuses_llm_output(planner: Planner, scenes: SimpleNamespace) -> None:
    objects = scenes.drawer()
    text = "Plan:\n1. open(drawer)\n2. place(red block, target=cabinet)\n3. place(red block, target=cabinet)\n"
    plan = planner.check_plan(text, objects)
    # "drawer" grounded to cabinet; the missing pick inserted; the repeat dropped.
    assert plan.texts() == ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"]
    assert any("inserted pick(red_block)" in w for w in plan.warnings)
    assert any("dropped a repeat" in w for w in plan.warnings)
    assert planner.check_plan(
        ["grab the red block", {"skill": "put", "args": {"object": "red_block", "target": "cabinet"}}], objects
    ).texts() == ["pick(red_block)", "place(red_block, cabinet)"]
    assert parse_calls("Sure!\n- pick(red_block)\ndone()\n") == ["- pick(red_block)"]
    refusals = [
        ("fly(red_block)", "unknown skill"),
        ("pick(green_block)", "no object"),
        ("pick(red_block, cabinet)", "takes"),
        ("place(red_block)", "takes"),
        ("open(red_block)", "has no drawer"),
        ("pick(cabinet)", "cannot be picked up"),
        ("import os; os.system('rm -rf /')", "cannot read a skill call"),
    ]
    for raw, why in refusals:
        with pytest.raises(PolicyError, match=why):
            planner.check_plan(raw, objects)
    with pytest.raises(PolicyError, match="several objects"):
        planner.check_plan("pick(block)", scenes.blocks())
    with pytest.raises(PolicyError, match="breaks a constraint: open\\(cabinet\\) before"):
        planner.check_plan("pick(red_block)\nplace(red_block, cabinet)", objects, ["open the drawer first"])
    with pytest.raises(PolicyError, match="speed"):
        planner.check_plan([{"skill": "pick", "args": {"object": "red_block"}, "params": {"speed": 3}}], objects)


def test_planner_accepts_a_dict_scene_and_rejects_duplicate_names(planner: Planner, scenes: SimpleNamespace) -> None:
    objs = {o.name: o for o in scenes.mug()}
    assert planner.plan("put the mug on the plate", objs).texts() == ["pick(white_mug)", "place(white_mug, plate)"]
    with pytest.raises(PolicyError, match="unique"):
        planner.plan("put the mug on the plate", scenes.mug() + scenes.mug())


def test_plans_are_deterministic_and_serializable(planner: Planner, scenes: SimpleNamespace) -> None:
    a = planner.plan("put a block in the tray", scenes.blocks(), ["go home at the end"])
    b = planner.plan("put a block in the tray", scenes.blocks(), ["go home at the end"])
    assert a.texts() == b.texts()
    d = a.to_dict()
    assert d["calls"][0] == {"skill": "pick", "args": {"object": "red_block"}, "params": {}}
    assert d["trace"][0]["how"] == "symbolic" and len(d["trace"][0]["candidates"]) == 3
    assert {c["steps_to_goal"] for c in d["trace"][0]["candidates"]} == {3}
