"""Slow, hedged speech (batch 18 of the corpus showed the gaps; every sentence here is written for
this test): a size said in words and then exactly takes the exact one ("a touch left, about an
inch"); a place that is a position ("at the bottom", "in the middle") is nothing missing from the
scene; "not the X the Y" rules out X only; a stack said with its order is never done in any order;
"..., there are people about" after a request is its reason.
Real grammar, WordNet and the embedded sentence model (MiniLM)."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer, nouns
from robot_agent.language.grammar import CorrectionContext, CorrectionParser
from sim.catalog import object_info

WARD = [
    object_info("white_mug", "mug", "standard", "white", (0.36, 0.2), (0.08, 0.08, 0.1)),
    object_info("green_mug", "mug", "standard", "green", (0.44, -0.06), (0.08, 0.08, 0.1)),
    object_info("pear", "fruit", "pear", "green", (0.40, 0.06), (0.06, 0.06, 0.09)),
    object_info("plate", "plate", "round", "white", (0.62, 0.18), (0.2, 0.2, 0.02)),
    object_info("tray", "tray", "flat", "gray", (0.64, -0.18), (0.24, 0.18, 0.02)),
]
BLOCKS = [
    object_info("large_cube", "block", "cube", "blue", (0.38, 0.2), (0.07, 0.07, 0.07)),
    object_info("medium_cube", "block", "cube", "blue", (0.46, 0.02), (0.05, 0.05, 0.05)),
    object_info("little_cube", "block", "cube", "blue", (0.38, -0.16), (0.03, 0.03, 0.03)),
    object_info("plate", "plate", "round", "white", (0.62, 0.0), (0.2, 0.2, 0.02)),
]


@pytest.mark.parametrize(
    ("said", "axis", "metres"),
    [
        ("a wee bit to the right, maybe three centimetres", 1, -0.03),
        ("up a touch... say an inch", 2, 0.0254),
        ("four millimetres forward, just a hair", 0, 0.004),
    ],
)
def test_an_exact_size_after_a_vague_one_is_the_size(said: str, axis: int, metres: float) -> None:
    c = CorrectionParser().parse(said, CorrectionContext(skill="move_by", objects=WARD))
    assert c.delta_m is not None, c.question
    assert c.delta_m[axis] == pytest.approx(metres, abs=5e-4)


def test_two_directions_keep_their_own_sizes() -> None:
    c = CorrectionParser().parse("right a little and down 3 cm", CorrectionContext(skill="move_by", objects=WARD))
    assert c.delta_m[2] == pytest.approx(-0.03) and -0.04 < c.delta_m[1] < -0.005


def test_a_position_is_no_missing_thing(layer: LanguageLayer) -> None:
    for phrase in ("the bottom", "the middle", "the far corner", "the front"):
        assert nouns.names_a_position(phrase), phrase
    for phrase in ("the plate", "the fridge", "the shelf"):
        assert not nouns.names_a_position(phrase), phrase
    u = layer.understand_task("pile the blue cubes up, the little one at the very top", BLOCKS)
    assert "can't see" not in (u.question or ""), u.question
    # a missing thing is still said to be missing
    u = layer.understand_task("put the green mug in the dishwasher", WARD)
    assert u.decision == "ask" and "dishwasher" in u.question


def test_not_the_one_then_another_rules_out_only_the_first(layer: LanguageLayer) -> None:
    u = layer.understand_task("no not the pear the green mug, onto the tray", WARD)
    assert u.decision == "act", u.question
    assert u.atoms == [{"kind": "at", "objects": ["green_mug"], "targets": ["tray"]}]


def test_a_stack_said_with_its_order_is_not_done_in_any_order(layer: LanguageLayer) -> None:
    u = layer.understand_task("build a tower, smallest one at the base", BLOCKS)
    assert not (u.decision == "act" and any(len(a.get("objects") or []) > 1 for a in u.atoms)), u.atoms


def test_a_reason_about_the_room_after_the_request_is_left_out(layer: LanguageLayer) -> None:
    u = layer.understand_correction(
        "a quarter of full speed please, there's a visitor right beside you",
        CorrectionContext(skill="move_by", objects=WARD),
    )
    assert u.decision == "act" and u.correction.parameters.get("speed") == {"set": pytest.approx(0.25)}, u.question


@pytest.mark.parametrize(
    "said",
    ["and then the white mug on the plate, thanks", "after this one, pop the pear on the tray as well"],
)
def test_another_placement_said_after_this_one_is_a_step(said: str) -> None:
    ctx = CorrectionContext(skill="place", object="green_mug", target="tray", objects=WARD)
    c = CorrectionParser().parse(said, ctx)
    assert c.plan is not None and c.plan["type"] == "step", c.plan
    assert c.plan["call"]["skill"] == "place" and c.plan["call"]["target"] in ("plate", "tray")


def test_the_same_placement_said_with_instead_is_still_a_swap() -> None:
    ctx = CorrectionContext(skill="place", object="green_mug", target="tray", objects=WARD)
    c = CorrectionParser().parse("then put the pear on the plate instead", ctx)
    assert c.plan is not None and c.plan["type"] == "target" and c.plan["object"] == "pear", c.plan
