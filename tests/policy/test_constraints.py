"""Plan value types and constraints: round trips, every accepted dict format, and free-text rules."""

from __future__ import annotations

import pytest

from robot_agent.errors import PolicyError
from robot_agent.policy import (
    KINDS,
    AvoidConstraint,
    CallPattern,
    ObjectRef,
    OrderConstraint,
    ParamConstraint,
    Plan,
    PlanConstraint,
    PreferenceConstraint,
    RequireStepConstraint,
    ScoredCandidate,
    SkillCall,
    StepTrace,
    TargetConstraint,
    compile_knowledge,
    constraint_from_dict,
    parse_rule,
)


def test_skill_call_round_trip_text_and_coerce() -> None:
    call = SkillCall("place", {"object": "red_block", "target": "cabinet"}, {"place_height": 0.02})
    assert call.text() == "place(red_block, cabinet)"
    assert SkillCall.from_dict(call.to_dict()) == call
    assert SkillCall("go_home").text() == "go_home()"

    class AgentCall:  # the agent's own call type: duck-typed
        skill, args, params = "pick", {"object": "red_block"}, {"speed": 0.3}

    assert SkillCall.coerce(AgentCall()) == SkillCall("pick", {"object": "red_block"}, {"speed": 0.3})
    assert SkillCall.coerce({"skill": "open", "args": {"object": "cabinet"}}).text() == "open(cabinet)"
    with pytest.raises(PolicyError, match="skill"):
        SkillCall.from_dict({"args": {}})
    with pytest.raises(PolicyError, match="args"):
        SkillCall.from_dict({"skill": "pick", "args": {"object": 3}})
    with pytest.raises(PolicyError):
        SkillCall.coerce(42)


def test_plan_round_trip() -> None:
    plan = Plan(
        [SkillCall("pick", {"object": "a"})],
        goal="holding a",
        constraints=[{"kind": "avoid"}],
        hints=["be nice"],
        warnings=["w"],
        trace=[StepTrace("pick(a)", "llm", [ScoredCandidate("pick(a)", 1, -0.5)], 12, 3)],
        backend="local",
        llm_calls=1,
        latency_s=0.25,
    )
    again = Plan.from_dict(plan.to_dict())
    assert again.to_dict() == plan.to_dict()
    assert again.texts() == ["pick(a)"] and len(again) == 1 and again.fallbacks == 0


@pytest.mark.parametrize(
    "constraint",
    [
        OrderConstraint(
            first=CallPattern("open", ObjectRef(category="cabinet")),
            then=CallPattern("place", None, ObjectRef(category="cabinet")),
            text="open it first",
        ),
        OrderConstraint(first=CallPattern("go_home"), then=None),
        TargetConstraint(
            role="object", object=ObjectRef(color="blue", text="the blue one"), replaces=ObjectRef(name="red_block")
        ),
        TargetConstraint(role="destination", destination=ObjectRef(category="bowl")),
        PreferenceConstraint(selector=ObjectRef(category="fruit"), target=ObjectRef(category="bowl"), relation="in"),
        AvoidConstraint(object=ObjectRef(name="glass")),
        AvoidConstraint(object=None, skill="place", target=ObjectRef(category="bowl")),
        RequireStepConstraint(call=CallPattern("go_home"), position="last", source="knowledge"),
        ParamConstraint(skill="pick", object=ObjectRef(category="mug"), params={"grasp_region": "handle"}),
    ],
)
def test_every_kind_round_trips_through_its_dict(constraint: PlanConstraint) -> None:
    d = constraint.to_dict()
    assert d["kind"] == constraint.kind and d["kind"] in KINDS
    again = PlanConstraint.from_dict(d)
    assert again == constraint
    assert again.describe() == constraint.describe()


def test_short_dict_forms_from_the_brief() -> None:
    order = constraint_from_dict({"type": "order", "first": "open", "object": "drawer"})
    assert isinstance(order, OrderConstraint) and order.first.skill == "open" and order.then is None
    assert order.first.object == ObjectRef(name="drawer")
    target = constraint_from_dict({"type": "target", "object": "blue_block"})
    assert isinstance(target, TargetConstraint) and target.role == "object"
    assert target.object == ObjectRef(name="blue_block")
    pref = constraint_from_dict({"type": "preference", "category": "fruit", "target": "bowl"})
    assert isinstance(pref, PreferenceConstraint) and pref.selector.category == "fruit"
    avoid = constraint_from_dict({"type": "avoid", "object": "glass"})
    assert isinstance(avoid, AvoidConstraint) and avoid.object == ObjectRef(name="glass") and not avoid.skill


def test_corrections_module_dicts() -> None:
    # Shapes robot_agent.language.grammar emits for plan-level corrections.
    order = constraint_from_dict(
        {
            "type": "order",
            "first": {"skill": "open", "object": "cabinet", "target": None, "description": "open the drawer first"},
            "then": None,
        }
    )
    assert isinstance(order, OrderConstraint) and order.first.object == ObjectRef(name="cabinet")
    step = constraint_from_dict(
        {"type": "step", "call": {"skill": "go_home", "object": None, "target": None}, "position": "next"}
    )
    assert isinstance(step, RequireStepConstraint) and step.position == "next" and step.call.skill == "go_home"
    tgt = constraint_from_dict(
        {
            "type": "target",
            "role": "object",
            "object": "blue_block",
            "destination": None,
            "relation": None,
            "replaces": "red_block",
            "description": "the other one",
        }
    )
    assert isinstance(tgt, TargetConstraint) and tgt.replaces == ObjectRef(name="red_block")
    pref = constraint_from_dict(
        {
            "type": "preference",
            "selector": {"category": "fruit"},
            "target": None,
            "target_category": "bowl",
            "target_description": "the bowl",
            "relation": "in",
        }
    )
    assert isinstance(pref, PreferenceConstraint) and pref.target.category == "bowl" and pref.relation == "in"
    forbid = constraint_from_dict({"type": "forbid", "call": {"skill": "open", "object": "cabinet", "target": None}})
    assert isinstance(forbid, AvoidConstraint) and forbid.skill == "open"
    assert constraint_from_dict({"type": "sort", "key": "color"}) is None  # not checkable: stays a hint


def test_distiller_generalized_dicts() -> None:
    c = constraint_from_dict(
        {
            "type": "order",
            "first": {"skill": "open", "object_category": "cabinet", "instances": {"object": "cabinet"}},
            "then": {"skill": "place", "target_category": "cabinet"},
        }
    )
    assert isinstance(c, OrderConstraint)
    assert c.first.object == ObjectRef(category="cabinet") and c.then.target == ObjectRef(category="cabinet")
    t = constraint_from_dict({"type": "target", "role": "destination", "destination_category": "bowl"})
    assert isinstance(t, TargetConstraint) and t.destination == ObjectRef(category="bowl")


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"type": "order"}, "first"),
        ({"type": "target"}, "names no object"),
        ({"type": "preference", "category": "fruit"}, "selector and a target"),
        ({"type": "step", "call": {"object": "x"}}, "no skill"),
        ({"type": "step", "call": {"skill": "pick"}, "position": "soon"}, "position"),
        ({"type": "param", "skill": "pick"}, "params"),
    ],
)
def test_malformed_known_kinds_are_refused(bad: dict, match: str) -> None:
    with pytest.raises(PolicyError, match=match):
        constraint_from_dict(bad)
    with pytest.raises(PolicyError):
        PlanConstraint.from_dict({"type": "sort", "key": "size"})


RULES = [
    ("open the drawer first", "order", "open(cabinet) before anything else with cabinet"),
    ("First open the drawer.", "order", "open(cabinet) before anything else with cabinet"),
    ("the drawer is closed, open it first", "order", "open(cabinet) before anything else with cabinet"),
    ("you need to open the drawer before putting it in", "order", "open(cabinet) before place(*, cabinet)"),
    ("always open the drawer before putting something in it", "order", "open(cabinet) before place(*, cabinet)"),
    ("pick the apple before the banana", "order", "pick(apple fruit) before pick(banana fruit)"),
    ("fruit goes in the bowl", "preference", "fruit goes in bowl"),
    ("put fruit in the bowl", "preference", "fruit goes in bowl"),
    ("the fruit belongs in the bowl", "preference", "fruit goes in bowl"),
    ("no, the blue one", "target", "use blue"),
    ("use the blue block instead", "target", "use blue block"),
    ("not the red one, the blue one", "target", "use blue instead of red"),
    ("no, in the bowl", "target", "use bowl"),
    ("put it on the plate instead", "target", "use plate"),
    ("don't touch the glass", "avoid", "do not touch glass"),
    ("keep away from the glass", "avoid", "do not touch glass"),
    ("don't open the drawer", "avoid", "do not open cabinet"),
    ("don't put anything in the bowl", "avoid", "do not place anything in/on bowl"),
    ("go home at the end", "require_step", "go_home(*) at the end"),
    ("close the drawer afterwards", "require_step", "close(cabinet) at the end"),
    ("don't forget to push the apple", "require_step", "push(apple fruit)"),
    ("grasp mugs by the handle", "param", "pick mug with grasp_region=handle"),
]


@pytest.mark.parametrize("text, kind, described", RULES)
def test_free_text_rules(text: str, kind: str, described: str) -> None:
    c = parse_rule(text, source="operator")
    assert c is not None, text
    assert c.kind == kind
    assert c.describe() == described
    assert c.text == text and c.source == "operator"


@pytest.mark.parametrize("text", ["grasp it by the handle", "slower please", "a bit to the left", "hmm", ""])
def test_text_no_rule_understands_is_not_a_constraint(text: str) -> None:
    assert parse_rule(text) is None


def test_compile_knowledge_splits_constraints_hints_and_warnings() -> None:
    items = [
        OrderConstraint(first=CallPattern("open", ObjectRef(category="cabinet"))),
        {"type": "avoid", "object": "glass"},
        {"type": "sort", "key": "color", "description": "sort them by colour"},
        {"type": "target"},  # malformed: refused with a warning
        "Open the drawer before putting something in it. Be careful with glass things.",
        None,
    ]
    constraints, hints, warnings = compile_knowledge(items, source="knowledge")
    assert [c.kind for c in constraints] == ["order", "avoid", "order"]
    assert hints == ["sort them by colour", "Be careful with glass things."]
    assert len(warnings) == 1 and "names no object" in warnings[0]
    assert constraints[1].source == "knowledge"
