"""Planner mechanisms the public benchmark suite exercises: stacking goals and stacking order,
colour-specific destinations that transfer to new scenes, and remembered rules yielding to the task."""

from __future__ import annotations

import pytest

from robot_agent.config import PolicyConfig
from robot_agent.distill import generalize_constraint
from robot_agent.errors import PolicyError
from robot_agent.policy import Planner
from sim.scenario import SCENARIOS_DIR, load_scenario, load_split

PUBLIC = SCENARIOS_DIR / "public"


@pytest.fixture(scope="module")
def symbolic() -> Planner:
    return Planner.from_config(PolicyConfig(backend="symbolic"))


def _placed(plan) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(c.args["object"], c.args["target"]) for c in plan.calls if c.skill == "place"]


@pytest.mark.parametrize(
    "task",
    [
        "stack the blocks",
        "pile the blocks on each other",
        "make a stack of the two blocks",
        "put one block on top of the other",
        "stack the two blocks",
    ],
)
def test_stacking_tasks_are_understood(symbolic: Planner, task: str) -> None:
    sc = load_scenario(PUBLIC / "stacking" / "stacking_train_1.yaml")
    plan = symbolic.plan(task, sc.objects)
    ((obj, tgt),) = _placed(plan)
    assert {obj, tgt} == {"red_block", "blue_block"}


def test_stacking_with_a_named_target_is_a_plain_place(symbolic: Planner) -> None:
    sc = load_scenario(PUBLIC / "stacking" / "stacking_train_1.yaml")
    assert _placed(symbolic.plan("stack the red block on the blue block", sc.objects)) == [("red_block", "blue_block")]


def test_stacking_order_constraint_puts_the_smaller_on_the_larger_everywhere(symbolic: Planner) -> None:
    for fam in ("train", "novel"):
        for sc in load_split(PUBLIC)["stacking"][fam]:
            by = {o.name: o for o in sc.objects}
            for bottom in ("largest", "smallest"):
                plan = symbolic.plan(sc.task, sc.objects, [{"type": "stack", "key": "size", "bottom": bottom}])
                ((obj, tgt),) = _placed(plan)
                bigger = by[tgt].size[0] * by[tgt].size[1] > by[obj].size[0] * by[obj].size[1]
                assert bigger == (bottom == "largest"), (sc.name, bottom, obj, tgt)


def test_a_stack_constraint_with_a_bad_bottom_is_refused(symbolic: Planner) -> None:
    sc = load_scenario(PUBLIC / "stacking" / "stacking_train_1.yaml")
    plan = symbolic.plan(sc.task, sc.objects, [{"type": "stack", "key": "size", "bottom": "middle"}])
    assert any("bottom must be largest or smallest" in w for w in plan.warnings)


def test_colour_of_an_ambiguous_destination_is_kept_and_found_again(symbolic: Planner) -> None:
    """Learned on a scene with a blue and a yellow bin ("red blocks go in the blue bin"), applied to
    a scene where the bins have other names and places: the red block goes to the blue one."""
    train = load_scenario(PUBLIC / "sorting" / "sorting_train_1.yaml")
    tobjs = {o.name: o for o in train.objects}
    rules = [
        generalize_constraint(
            {
                "type": "preference",
                "selector": {"color": c, "category": "block"},
                "target": t,
                "target_category": "tray",
                "relation": "in",
            },
            tobjs,
        )
        for c, t in (("red", "blue_bin"), ("green", "yellow_bin"))
    ]
    assert rules[0]["target_category"] == "tray" and rules[0]["target_color"] == "blue"
    for sc in load_split(PUBLIC)["sorting"]["novel"]:
        by = {o.name: o for o in sc.objects}
        placed = dict(_placed(symbolic.plan(sc.task, sc.objects, [{**r, "source": "memory"} for r in rules])))
        for block, tray in placed.items():
            assert by[tray].color == {"red": "blue", "green": "yellow"}[by[block].color], sc.name


def test_a_remembered_keep_away_rule_yields_to_a_task_that_names_the_object(symbolic: Planner) -> None:
    sc = load_scenario(PUBLIC / "fragile" / "fragile_train_1.yaml")  # "put the glass on the plate"
    rule = {"type": "avoid", "object_category": "glass"}
    plan = symbolic.plan(sc.task, sc.objects, [{**rule, "source": "memory"}])
    assert [c.text() for c in plan.calls] == ["pick(glass)", "place(glass, plate)"]
    assert any("not applied" in w for w in plan.warnings)
    with pytest.raises(PolicyError, match="keep off|do not touch|constraint says"):
        symbolic.plan(sc.task, sc.objects, [rule])  # the operator's own words in this episode still hold
