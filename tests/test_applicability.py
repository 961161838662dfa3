"""Applicability and attribution of remembered knowledge (robot_agent/applicability.py).

Explicit words in the task override remembered knowledge, an avoid rule never constrains the object
the task moves, contradicting items resolve to the operator's latest word, only items that changed a
decision count as used, and a correction of such a decision is counted as caused by the item.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from memory.item import KnowledgeItem
from robot_agent.applicability import (
    CROSS_CATEGORY_SCORE,
    assess_plan_items,
    assess_skill_item,
    attribute_plan,
    cross_category,
    describe,
    knowledge_caused,
    yield_to_episode,
)
from robot_agent.episode import CorrectionRecord
from skills.types import ObjectInfo
from tests.policy.conftest import obj


def scene(*objs: ObjectInfo) -> dict[str, ObjectInfo]:
    return {o.name: o for o in objs}


def fruit_scene() -> dict[str, ObjectInfo]:
    return scene(
        obj("apple", "fruit", 0.42, 0.0, color="red"),
        obj("bowl", "bowl", 0.4, -0.24, color="white"),
        obj("plate", "plate", 0.4, 0.24, color="white"),
        obj("tray", "tray", 0.6, 0.0, color="gray"),
    )


def plan_item(constraint: dict[str, Any], rule: str, t: float = 1.0, **scope: Any) -> KnowledgeItem:
    cats = sorted({v for k, v in constraint.items() if k.endswith("_category")})
    return KnowledgeItem(
        "plan",
        rule,
        scope={"task_family": "x", "object_categories": cats, **scope},
        parameters={"constraint": constraint},
        provenance={"timestamps": [t], "corrections": [rule]},
    )


FRUIT_BOWL = {"type": "preference", "selector": {"category": "fruit"}, "target_category": "bowl", "relation": "in"}
FRUIT_TRAY = {"type": "preference", "selector": {"category": "fruit"}, "target_category": "tray", "relation": "in"}
AVOID_GLASS = {"type": "avoid", "object_category": "glass"}


def one(hits: list[tuple[Any, float]], task: str, objects: dict[str, ObjectInfo]):
    out = assess_plan_items(hits, task, objects)
    return out[0] if len(out) == 1 else out


def test_a_remembered_destination_yields_to_the_destination_the_task_names() -> None:
    item = plan_item(FRUIT_BOWL, "fruit goes in the bowl")
    a = one([(item, 0.7)], "put the apple on the plate", fruit_scene())
    assert a.status == "overridden" and "plate" in a.reason
    assert a.record()["event"] == "overridden"


def test_a_remembered_destination_applies_when_the_task_leaves_it_open() -> None:
    item = plan_item(FRUIT_BOWL, "fruit goes in the bowl")
    a = one([(item, 0.7)], "put the apple away", fruit_scene())
    assert a.status == "used"
    assert "destination of apple: bowl" in a.decision
    assert a.affects == [{"what": "destination", "skill": "place", "object": "apple", "targets": ["bowl"]}]


def test_a_rule_about_one_category_is_irrelevant_to_another() -> None:
    item = plan_item(
        {"type": "preference", "selector": {"category": "block"}, "target_category": "tray", "relation": "in"},
        "blocks go in the tray",
    )
    a = one([(item, 0.8)], "put the apple away", fruit_scene())
    assert a.status == "irrelevant"


def test_contradicting_items_resolve_to_the_latest_word() -> None:
    old = plan_item(FRUIT_BOWL, "fruit goes in the bowl", t=1.0)
    new = plan_item(FRUIT_TRAY, "fruit goes in the tray", t=2.0)
    a, b = assess_plan_items([(old, 0.7), (new, 0.6)], "tidy up the apple", fruit_scene())
    assert (a.status, b.status) == ("overridden", "used")
    assert new.id in a.reason


def test_an_avoid_rule_never_constrains_the_object_being_moved() -> None:
    objects = scene(
        obj("glass", "glass", 0.46, 0.0, color="clear"),
        obj("plate", "plate", 0.4, -0.2, color="white"),
        obj("block", "block", 0.46, 0.22, color="blue"),
        obj("bowl", "bowl", 0.46, -0.22, color="white"),
    )
    item = plan_item(AVOID_GLASS, "keep away from the glass")
    a = one([(item, 0.6)], "put the glass on the plate", objects)
    assert a.status == "overridden" and "itself" in a.reason
    # an obstacle first, moved later: a keep-out for the other moves, not a veto on moving it
    b = one([(item, 0.6)], "put the block in the bowl, then put the glass on the plate", objects)
    assert b.status == "used" and b.role == "obstacle" and "keep-out around glass" in b.decision
    assert "not a veto" in b.reason
    c = one([(item, 0.6)], "put the block in the bowl", objects)
    assert c.status == "used" and c.affects == [{"what": "keep_out", "object": "glass"}]
    gone = {k: v for k, v in objects.items() if k != "glass"}
    assert one([(item, 0.6)], "put the block in the bowl", gone).status == "irrelevant"


def test_an_order_rule_counts_as_used_only_when_the_plan_has_the_steps_it_orders() -> None:
    objects = scene(
        obj("red_block", "block", 0.42, 0.12, color="red"),
        obj("cabinet", "cabinet", 0.74, -0.1, color="wood", yaw=3.14159),
        obj("plate", "plate", 0.4, -0.24, color="white"),
    )
    order = {
        "type": "order",
        "first": {"skill": "open", "object_category": "cabinet"},
        "then": {"skill": "place", "target_category": "cabinet"},
    }
    item = plan_item(order, "open the cabinet before placing something in or on the cabinet")
    [a] = assess_plan_items([(item, 0.6)], "put the red block in the drawer", objects)
    assert a.status == "pending"
    call = SimpleNamespace
    plan = [
        call(skill="open", args={"object": "cabinet"}, params={}),
        call(skill="pick", args={"object": "red_block"}, params={}),
        call(skill="place", args={"object": "red_block", "target": "cabinet"}, params={}),
    ]
    attribute_plan([a], plan, objects)
    assert a.status == "used" and a.decision.startswith("open(cabinet) before place(red_block, cabinet)")
    [b] = assess_plan_items([(item, 0.6)], "put the red block on the plate", objects)
    attribute_plan([b], plan[1:2] + [call(skill="place", args={"object": "red_block", "target": "plate"})], objects)
    assert b.status == "irrelevant"


def test_a_correction_in_the_episode_overrides_the_remembered_rule_it_contradicts() -> None:
    remembered = {**FRUIT_BOWL, "source": "memory"}
    constraints: list[Any] = [remembered]
    removed = yield_to_episode(
        constraints, {"type": "preference", "selector": {"category": "fruit"}, "target": "plate"}, fruit_scene()
    )
    assert constraints == [] and removed and removed[0][0] is remembered


def _skill_item(params: dict[str, Any], cat: str = "mug", **scope: Any) -> KnowledgeItem:
    return KnowledgeItem(
        "skill",
        "pick the mug: grasp_region=handle",
        scope={"skill": "pick", "object_category": cat, "object_description": f"white {cat}", **scope},
        parameters=params,
    )


def test_a_skill_item_is_used_only_when_it_changes_a_parameter() -> None:
    call = SimpleNamespace(skill="pick", args={"object": "white_mug"}, params={})
    item = _skill_item({"grasp_region": "handle"})
    a = assess_skill_item(item, 0.8, call, item.parameters, {}, {})
    assert a.status == "used" and a.decision == "pick(white_mug): grasp_region=handle"
    b = assess_skill_item(item, 0.8, call, item.parameters, {}, {"grasp_region": "rim"})
    assert b.status == "overridden" and "grasp_region" in b.reason
    default = _skill_item({"grasp_region": "center"})
    assert assess_skill_item(default, 0.8, call, default.parameters, {}, {}).status == "irrelevant"


def test_skill_knowledge_crosses_categories_only_when_said_generally_or_on_strong_evidence() -> None:
    item = _skill_item({"speed": 0.2}, cat="glass")
    ok, why = cross_category(item, 0.7, "mug")
    assert not ok and "another category" in why
    ok, why = cross_category(item, CROSS_CATEGORY_SCORE + 0.01, "mug")
    assert ok and "strong evidence" in why
    general = _skill_item({"speed": 0.2}, cat="glass", generality="general")
    assert cross_category(general, 0.6, "mug")[0]
    assert describe("skill", None, ["handle anything fragile slowly"])["generality"] == "general"
    assert describe("plan", AVOID_GLASS)["role"] == "obstacle"
    assert describe("plan", FRUIT_BOWL)["role"] == "destination"


def test_a_correction_of_a_decision_an_item_made_is_counted_as_caused_by_it() -> None:
    used = [
        {
            "event": "used",
            "id": "abc",
            "kind": "skill",
            "affects": [{"what": "parameter", "skill": "pick", "object": "white_mug", "params": ["grasp_region"]}],
        },
        {
            "event": "used",
            "id": "def",
            "kind": "plan",
            "affects": [{"what": "destination", "skill": "place", "object": "apple", "targets": ["bowl"]}],
        },
    ]
    corrections = [
        CorrectionRecord(
            "use the rim",
            "sim",
            1.0,
            {"kind": "skill", "parameters": {"grasp_region": {"set": "rim"}}},
            0,
            {"skill": "pick", "args": {"object": "white_mug"}},
            outcome="applied",
        ),
        CorrectionRecord(
            "slower",
            "sim",
            2.0,
            {"kind": "skill", "parameters": {"speed": {"scale": 0.5}}},
            0,
            {"skill": "pick", "args": {"object": "white_mug"}},
            outcome="applied",
        ),
        CorrectionRecord(
            "no, on the plate",
            "sim",
            3.0,
            {"kind": "plan", "plan": {"type": "target", "destination": "plate"}},
            1,
            {"skill": "place", "args": {"object": "apple", "target": "bowl"}},
            outcome="replanned",
        ),
    ]
    result = SimpleNamespace(knowledge_used=used, corrections=corrections)
    assert knowledge_caused(result) == [(0, "abc"), (2, "def")]
    # an item that left two trays open did not choose the tray the operator then names
    used[1]["affects"][0]["targets"] = ["blue_tray", "yellow_tray"]
    corrections[2].understood["plan"] = {"type": "preference", "selector": {"color": "red"}, "target": "blue_tray"}
    assert knowledge_caused(result) == [(0, "abc")]


def test_the_benchmark_reports_knowledge_caused_corrections_per_round() -> None:
    from robot_agent.learning.bench import Episode, check_targets, summarize

    eps = [
        Episode("full", 0, 1, "a", "f", "train", 2, True, 0, 1.0),
        Episode("full", 0, 2, "b", "f", "novel", 1, True, 1, 3.0, knowledge_caused=1),
        Episode("full", 0, 3, "c", "g", "novel", 0, True, 0, 2.0),
    ]
    s = summarize(eps, ["full"], rounds=3, seeds=1)["full"]
    assert s["knowledge_caused_per_round"] == [0, 1, 0] and s["knowledge_caused_total"] == 1
    harm = check_targets({"full": s})["full_knowledge_caused_and_false_transfers_rounds_2_3"]
    assert harm["measured"] == 2 and not harm["met"]
