"""Grounding words on the scene, goals parsed from task text, and the symbolic state's rules."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from robot_agent.errors import PolicyError
from robot_agent.policy import (
    ObjectRef,
    SkillCall,
    ground,
    initial_state,
    parse_goal,
    parse_mention,
    precondition_failure,
)


@pytest.mark.parametrize(
    "words, names",
    [
        ("the red block", ["red_block"]),
        ("red block", ["red_block"]),  # an object's own name in words
        ("the cup", ["white_mug"]),  # synonym
        ("the drawer", ["cabinet"]),
        ("the cabinet drawer", ["cabinet"]),
        ("the apple", ["apple"]),
        ("the red thing", ["red_block", "apple"]),
        ("a block", ["red_block", "blue_block"]),
        ("the dish", ["plate"]),
        ("the purple block", []),
        ("the hammer", []),
    ],
)
def test_ground_words_on_the_tabletop(scenes: SimpleNamespace, words: str, names: list[str]) -> None:
    assert [o.name for o in ground(words, scenes.tabletop())] == names


def test_mentions_colour_versus_fruit_and_size(scenes: SimpleNamespace) -> None:
    assert parse_mention("the orange").category == "fruit"
    m = parse_mention("the orange one")
    assert m.colors == {"orange"} and m.category == ""
    assert parse_mention("all the blocks").plural and parse_mention("it").pronoun
    objs = [
        scenes.obj("small", "block", 0.4, 0, color="red"),
        scenes.obj("big", "block", 0.5, 0, color="red", shape="cylinder"),
    ]
    assert [o.name for o in ground("the big red block", objs)] == ["big"]
    # A generic mention stays within the categories the context allows.
    assert [o.name for o in ground("the blue one", scenes.tabletop(), categories={"block"})] == ["blue_block"]


def test_object_refs_resolve_again_on_a_new_scene(scenes: SimpleNamespace) -> None:
    learned = ObjectRef(name="cabinet")  # learned on the training scene
    assert [o.name for o in learned.resolve(scenes.drawer_novel())] == ["white_cabinet"]
    assert [o.name for o in ObjectRef(category="mug").resolve(scenes.mug_novel())] == ["blue_mug"]
    assert ObjectRef(name="red_block").resolve(scenes.drawer_novel()) == []
    assert ObjectRef.from_value({"category": "fruit"}) == ObjectRef(category="fruit")
    assert ObjectRef.from_value("") is None


@pytest.mark.parametrize(
    "task, goal",
    [
        ("put the red block in the drawer", "red_block in/on cabinet"),
        ("Place the blue cup onto the plate.", "white_mug in/on plate"),  # grounding is by category: one mug here
        ("put the cup on the plate", "white_mug in/on plate"),
        ("pick up the apple", "holding apple"),
        ("pick up the apple and put it in the bowl", "apple in/on bowl"),  # picked up on the way: not held at the end
        ("open the drawer and put the red block in it", "cabinet open then red_block in/on cabinet"),
        (
            "Open the drawer, put the red block in it, then close the drawer",
            "cabinet open then red_block in/on cabinet then cabinet closed",
        ),
        ("take the apple over to the drawer and put it inside", "apple in/on cabinet"),  # one placement, said twice
        ("put a block in the tray", "red_block|blue_block in/on tray"),
        ("put all the blocks in the tray", "red_block in/on tray then blue_block in/on tray"),
        ("put the red and blue blocks on the plate", "red_block in/on plate then blue_block in/on plate"),
        ("put the apple away", "apple in/on bowl|tray|cabinet"),
        ("stack the red block on the blue block", "red_block in/on blue_block"),
        ("push the apple to the left", "pushed apple"),
        ("go home", "at home"),
    ],
)
def test_goal_parsing(scenes: SimpleNamespace, task: str, goal: str) -> None:
    scene = scenes.tabletop()
    if "blue cup" in task:
        scene = [o for o in scene if o.name != "white_mug"] + [scenes.obj("white_mug", "mug", 0.3, 0.2, color="blue")]
    g = parse_goal(task, scene)
    assert g is not None and g.describe() == goal


def test_steps_joined_by_comma_and_then_do_not_break_grounding(scenes: SimpleNamespace) -> None:
    # ", and then" left an empty phrase for the grounder ("... inside, and then close it"): an IndexError
    g = parse_goal(
        "First open the drawer, then place the red block inside, and then close the drawer.", scenes.tabletop()
    )
    assert g is not None and g.describe() == "cabinet open then red_block in/on cabinet then cabinet closed"


def test_goal_novel_phrasing_on_the_novel_scenes(scenes: SimpleNamespace) -> None:
    g = parse_goal("place the blue cylinder inside the cabinet drawer", scenes.drawer_novel())
    assert g.describe() == "blue_cylinder in/on white_cabinet"
    assert (
        parse_goal("place the blue cup onto the plate", scenes.mug_novel()).describe() == "blue_mug in/on green_plate"
    )


def test_goal_errors_and_unknown_tasks(scenes: SimpleNamespace) -> None:
    with pytest.raises(PolicyError, match="no such object"):
        parse_goal("put the banana in the bowl", scenes.tabletop())
    with pytest.raises(PolicyError, match="no drawer"):
        parse_goal("open the drawer", scenes.mug())
    assert parse_goal("dance a little", scenes.tabletop()) is None


def test_preconditions_mirror_the_skills(scenes: SimpleNamespace) -> None:
    objs = {o.name: o for o in scenes.tabletop()}
    s0 = initial_state(list(objs.values()))
    assert s0.holding is None and s0.drawer_open("cabinet") is False
    assert precondition_failure(SkillCall("pick", {"object": "bowl"}), s0, objs) == "bowl (bowl) cannot be picked up"
    place = SkillCall("place", {"object": "red_block", "target": "bowl"})
    assert "not holding" in precondition_failure(place, s0, objs)
    assert precondition_failure(SkillCall("close", {"object": "cabinet"}), s0, objs).endswith("already closed")
    assert "has no drawer" in precondition_failure(SkillCall("open", {"object": "bowl"}), s0, objs)
    assert "not in the scene" in precondition_failure(SkillCall("pick", {"object": "ghost"}), s0, objs)
    assert "takes" in precondition_failure(SkillCall("place", {"object": "red_block"}), s0, objs)
    s1 = s0.apply(SkillCall("pick", {"object": "red_block"}))
    assert s1.holding == "red_block"
    assert "holding red_block" in precondition_failure(SkillCall("open", {"object": "cabinet"}), s1, objs)
    assert "already holding" in precondition_failure(SkillCall("pick", {"object": "apple"}), s1, objs)
    # The drawer being shut does not block placing into it: only the operator knows it matters.
    assert precondition_failure(SkillCall("place", {"object": "red_block", "target": "cabinet"}), s1, objs) is None
    s2 = s1.apply(SkillCall("place", {"object": "red_block", "target": "cabinet"}))
    assert s2.location("red_block") == "cabinet" and s2.holding is None
    assert "closed drawer" in precondition_failure(SkillCall("pick", {"object": "red_block"}), s2, objs)
    s3 = s2.apply(SkillCall("open", {"object": "cabinet"}))
    assert s3.drawer_open("cabinet")
    assert precondition_failure(SkillCall("pick", {"object": "red_block"}), s3, objs) is None
    # Stacked: the bottom block cannot be picked from under the top one.
    s4 = s0.apply(SkillCall("pick", {"object": "red_block"})).apply(
        SkillCall("place", {"object": "red_block", "target": "blue_block"})
    )
    assert "is on blue_block" in precondition_failure(SkillCall("pick", {"object": "blue_block"}), s4, objs)


def test_initial_state_from_perception_and_done_steps(scenes: SimpleNamespace) -> None:
    pick = SkillCall("pick", {"object": "red_block"})
    # Picked and still up in the air: held.
    assert initial_state(scenes.drawer(block_z=0.15), [pick]).holding == "red_block"
    # Picked, but it lies on the table again (the agent put it back): not held.
    assert initial_state(scenes.drawer(), [pick]).holding is None
    # Lifted with no record of a pick: perception says it is in the hand.
    assert initial_state(scenes.drawer(block_z=0.2)).holding == "red_block"
    # The caller's word wins.
    assert initial_state(scenes.drawer(block_z=0.2), holding=None).holding is None
    # An open drawer with the block inside it.
    cab = scenes.obj("cabinet", "cabinet", 0.74, -0.10, yaw=3.14159, opening=0.15)
    inside = cab.pose.to_world([0.12 - 0.15 + 0.15, 0.0, 0.03])
    block = scenes.obj("red_block", "block", float(inside[0]), float(inside[1]), 0.03, color="red")
    st = initial_state([block, cab])
    assert st.drawer_open("cabinet") and st.location("red_block") == "cabinet" and st.holding is None
    # A block resting on a plate.
    plate = scenes.obj("plate", "plate", 0.3, -0.3)
    on = scenes.obj("blue_block", "block", 0.31, -0.29, 0.015, color="blue")
    assert initial_state([plate, on]).location("blue_block") == "plate"
