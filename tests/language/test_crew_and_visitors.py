"""A kitchen or film crew and children at an exhibit (batches 20 and 21 of the corpus showed the
gaps; every sentence here is written for this test): up or down while pushing is the height of the
push; switching the safety limits off is refused however it is said; "watch the X" keeps clear of
it; "with no red on it" rules out the red one; "next do X, on Y" is a step; a step shouted three
times is done once; "give it a push" is "push it". Real grammar, WordNet and the embedded sentence model (MiniLM)."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.grammar import CorrectionContext, CorrectionKind, CorrectionParser
from robot_agent.policy import parse_goal
from sim.catalog import object_info

BAR = [
    object_info("red_mug", "mug", "standard", "red", (0.36, 0.2), (0.08, 0.08, 0.1)),
    object_info("white_mug", "mug", "standard", "white", (0.44, 0.02), (0.08, 0.08, 0.1)),
    object_info("tumbler", "glass", "tumbler", "clear", (0.40, -0.18), (0.07, 0.07, 0.1)),
    object_info("tray", "tray", "flat", "black", (0.64, 0.18), (0.24, 0.18, 0.02)),
    object_info("shelf", "shelf", "board", "wood", (0.66, -0.16), (0.3, 0.12, 0.2)),
    object_info("cabinet", "cabinet", "drawer", "wood", (0.7, 0.0), (0.3, 0.4, 0.3)),
]


@pytest.mark.parametrize(("said", "sign"), [("push a bit higher up on it", 1), ("push lower down on it", -1)])
def test_up_or_down_while_pushing_is_the_height_of_the_push(said: str, sign: int) -> None:
    c = CorrectionParser().parse(said, CorrectionContext(skill="push", object="red_mug", objects=BAR))
    assert c.kind is CorrectionKind.SKILL, c.question
    assert sign * c.parameters["contact_height"]["add"] > 0, c.parameters


@pytest.mark.parametrize("said", ["turn the speed limiter off and go", "knock your safety guards out for this one"])
def test_switching_the_safety_off_is_refused_with_the_particle_after(said: str) -> None:
    c = CorrectionParser().parse(said, CorrectionContext(skill="pick", object="red_mug", objects=BAR))
    assert c.refusal and not c.parameters


def test_watch_the_thing_keeps_clear_of_it() -> None:
    c = CorrectionParser().parse("watch the tumbler", CorrectionContext(skill="place", object="red_mug", objects=BAR))
    assert c.plan is not None and c.plan["type"] == "avoid" and c.plan["object"] == "tumbler", c.plan


def test_with_no_colour_rules_that_colour_out(layer: LanguageLayer) -> None:
    u = layer.understand_task("the mug with no red on it goes on the shelf", BAR)
    assert not (u.decision == "act" and any("red_mug" in a.get("objects", []) for a in u.atoms)), u.atoms


def test_next_then_an_object_and_a_place_is_a_step() -> None:
    ctx = CorrectionContext(skill="place", object="red_mug", target="tray", objects=BAR)
    c = CorrectionParser().parse("next do the white mug, on the shelf", ctx)
    assert c.plan is not None and c.plan["type"] == "step", c.plan
    assert c.plan["call"]["object"] == "white_mug" and c.plan["call"]["target"] == "shelf"


def test_a_step_said_again_at_once_is_one_step() -> None:
    g = parse_goal("open the drawer, open the drawer, open the drawer!", BAR)
    assert g is not None and g.describe() == "cabinet open"
    # the same step later in the task is another step
    g = parse_goal("open the drawer, put the white mug in it, close the drawer, then open the drawer", BAR)
    assert g.describe().count("cabinet open") == 2


def test_an_action_said_as_a_noun_is_its_verb(layer: LanguageLayer) -> None:
    from robot_agent.language.checks import light_verb

    assert light_verb("give the white mug a gentle shove") == "shove the white mug"
    assert light_verb("give me a hand") == "give me a hand"  # no object of the scene's kind of phrase
    u = layer.understand_task("give the tumbler a quick nudge", BAR)
    assert u.decision == "act" and u.atoms == [{"kind": "pushed", "objects": ["tumbler"]}], u.question
