"""A task is acted on only as a whole: a thing the operator names that the goal read leaves out
("the orange and both glasses onto the tray" read as the glasses) turns the act into a question,
while landmarks, sources, things ruled out and things taken back are no part left out.
Real grammar, WordNet and the embedded sentence model (MiniLM), on scenes written here."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.guards import left_out, named
from sim.catalog import object_info

CAFE = [
    object_info("orange", "fruit", "orange", "orange", (0.40, -0.20), (0.07, 0.07, 0.07)),
    object_info("tumbler", "glass", "tumbler", "clear", (0.44, 0.02), (0.07, 0.07, 0.1)),
    object_info("flute", "glass", "flute", "clear", (0.38, 0.2), (0.06, 0.06, 0.2)),
    object_info("tray", "tray", "flat", "black", (0.64, -0.12), (0.3, 0.2, 0.02)),
    object_info("plate", "plate", "round", "white", (0.64, 0.2), (0.2, 0.2, 0.02)),
]


def _at(obj: str, target: str) -> dict:
    return {"kind": "at", "objects": [obj], "targets": [target]}


def test_a_named_thing_the_goal_leaves_out_is_found() -> None:
    glasses = [_at("tumbler", "tray"), _at("flute", "tray")]
    assert left_out("the orange and both glasses onto the tray", glasses, CAFE) == "orange"
    assert left_out("tumbler: tray. orange: plate.", [_at("tumbler", "tray")], CAFE) == "orange"
    # every thing named has a part in the goal
    assert left_out("the orange and both glasses onto the tray", [*glasses, _at("orange", "tray")], CAFE) is None


@pytest.mark.parametrize(
    "said",
    [
        "the glass next to the orange goes on the tray",  # a landmark
        "the glass closest to the plate, on the tray",
        "take the tumbler off the plate and put it on the tray",  # a source
        "tumbler on the tray, not on the plate",  # ruled out
        "tumbler on the plate, no wait, on the tray",  # taken back
    ],
)
def test_landmarks_sources_and_things_ruled_out_are_not_left_out(said: str) -> None:
    assert left_out(said, [_at("tumbler", "tray")], CAFE) is None


def test_a_noun_that_is_also_anothers_colour_or_shared_names_nothing() -> None:
    blocks = [
        object_info("orange_cube", "block", "cube", "orange", (0.4, 0.0), (0.05, 0.05, 0.05)),
        object_info("orange", "fruit", "orange", "orange", (0.4, 0.2), (0.07, 0.07, 0.07)),
        object_info("big_red_cube", "block", "cube", "red", (0.5, 0.0), (0.07, 0.07, 0.07)),
        object_info("red_cube", "block", "cube", "red", (0.5, 0.2), (0.04, 0.04, 0.04)),
    ]
    # "orange" is a colour of another thing here; "red cube" is what two cubes are
    assert "orange" not in named("the orange one and the red cube", blocks)
    assert "red_cube" not in named("the big red cube", blocks)
    assert named("the orange cube", blocks) == {"orange_cube": (4, "orange cube")}


def test_a_task_is_never_acted_on_in_part(layer: LanguageLayer) -> None:
    for said in ("the orange and both glasses onto the tray", "tumbler: tray. orange: plate."):
        u = layer.understand_task(said, CAFE)
        if u.decision == "act":  # understood whole, or asked: never done in part
            assert left_out(said, u.atoms, CAFE) is None, u.goal
        else:
            assert u.decision == "ask" and (u.question or u.reason)
    u = layer.understand_task("the glass next to the orange goes on the tray", CAFE)
    assert u.decision == "act" and u.atoms == [_at("tumbler", "tray")]
