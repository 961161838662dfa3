"""Referring expressions resolved on the scene's geometry, with the real sentence model (MiniLM).

The scene is made here (not the corpus's): what the words pick must follow from sizes and
positions, so moving an object changes the answer.
"""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.reference import Resolver, placement
from robot_agent.language.scorer import Scorer
from skills.types import ObjectInfo, Pose


def obj(name: str, category: str, x: float, y: float, color: str, shape: str, size: float = 0.045) -> ObjectInfo:
    return ObjectInfo(name, category, Pose((x, y, 0.0)), (size, size, size), color=color, shape=shape)


def scene(**moves: tuple[float, float]) -> list[ObjectInfo]:
    base = {
        "a": ("block", 0.42, 0.20, "purple", "cube", 0.07),
        "b": ("block", 0.50, 0.02, "orange", "cube", 0.045),
        "c": ("block", 0.36, -0.16, "teal", "cube", 0.03),
        "d": ("mug", 0.34, 0.04, "gray", "standard", 0.08),
        "e": ("mug", 0.46, -0.28, "yellow", "wide", 0.08),
        "tray": ("tray", 0.62, 0.30, "black", "flat", 0.2),
        "rack": ("shelf", 0.60, -0.30, "wood", "rack", 0.25),
    }
    out = []
    for name, (cat, x, y, col, shape, size) in base.items():
        x, y = moves.get(name, (x, y))
        out.append(obj(name, cat, x, y, col, shape, size))
    return out


@pytest.fixture(scope="module")
def scorer(text_embedder):
    return Scorer(text_embedder)


def picks(phrase: str, objects, scorer, pool=None) -> list[str]:
    ref = Resolver(objects, scorer).resolve(phrase, pool)
    return [] if ref is None else ref.names


def test_size_words_pick_by_measured_size(scorer) -> None:
    objs = scene()
    assert picks("the largest cube", objs, scorer) == ["a"]
    assert picks("the tiniest block", objs, scorer) == ["c"]


def test_position_words_follow_the_objects(scorer) -> None:
    objs = scene()
    assert picks("the cube on the left", objs, scorer) == ["a"]
    assert picks("the rightmost cube", objs, scorer) == ["c"]
    assert picks("the cube in the middle", objs, scorer) == ["b"]
    assert picks("the mug closest to me", objs, scorer) == ["d"]
    # Move the mugs: the same words pick the other one.
    moved = scene(d=(0.55, 0.04), e=(0.30, -0.28))
    assert picks("the mug closest to me", moved, scorer) == ["e"]


def test_a_landmark_and_between(scorer) -> None:
    objs = scene()
    assert picks("the cube nearest the tray", objs, scorer) == ["a"]
    assert picks("the cube closest to the rack", objs, scorer) == ["c"]
    assert picks("the block between the purple and the teal one", objs, scorer) == ["b"]


def test_counts_exceptions_and_conjunctions(scorer) -> None:
    objs = scene()
    both = Resolver(objs, scorer).resolve("both mugs")
    assert both is not None and both.plural and sorted(both.names) == ["d", "e"]
    every = Resolver(objs, scorer).resolve("every cube except the orange one")
    assert every is not None and sorted(every.names) == ["a", "c"] and every.excluded == ["b"]
    assert sorted(picks("the gray and the yellow mug", objs, scorer)) == ["d", "e"]
    assert sorted(picks("the cubes", objs, scorer)) == ["a", "b", "c"]
    # "both" with three of a kind does not decide which two.
    both_cubes = Resolver(objs, scorer).resolve("both cubes")
    assert both_cubes is not None and not both_cubes.decisive


def test_placement_of_a_referring_expression(scorer) -> None:
    objs = scene()
    p = placement("stack the biggest cube onto the rack please", objs, scorer)
    assert p is not None and p.movers == ["a"] and p.target == "rack"
    p = placement("the gray and yellow mugs, into the tray with them", objs, scorer)
    assert p is not None and sorted(p.movers) == ["d", "e"] and p.target == "tray"
    # A plain name decides nothing beyond the head noun: left to the layer's ranking.
    assert placement("put the orange cube on the rack", objs, scorer) is None


def test_the_layer_acts_on_it_and_names_the_right_objects(text_embedder) -> None:
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_task("the cube closest to the rack goes on the tray", scene())
    assert u.decision == "act", u.to_dict()
    assert [a["objects"] for a in u.atoms] == [["c"]] and u.atoms[0]["targets"] == ["tray"]
    u = layer.understand_task("every cube but the purple one on the rack", scene())
    assert u.decision == "act", u.to_dict()
    assert sorted(a["objects"][0] for a in u.atoms) == ["b", "c"]


def test_the_place_is_the_last_phrase_that_names_something(scorer) -> None:
    objs = scene()
    p = placement("the cube closest to the rack goes on the tray", objs, scorer)
    assert p is not None and p.movers == ["c"] and p.target == "tray"
    p = placement("put the cube on the left in the tray", objs, scorer)
    assert p is not None and p.movers == ["a"] and p.target == "tray"
    # Two placements in one sentence are not one placement of two objects.
    assert placement("put the gray mug on the rack and the teal cube in the tray", objs, scorer) is None


def test_words_that_rule_out_a_place_or_an_object(scorer) -> None:
    objs = scene()
    p = placement("set the teal cube on the rack, not in the tray", objs, scorer)
    assert p is not None and p.target == "rack" and p.movers == ["c"]
    p = placement("the orange and the teal cubes, both of them, onto the tray", objs, scorer)
    assert p is not None and sorted(p.movers) == ["b", "c"]
    # The layer's own negation rules a cube out; what remains of "the blocks" is decided.
    p = placement("the blocks, not the purple one, in the tray", objs, scorer)
    assert p is not None and sorted(p.movers) == ["b", "c"]
    # A target said by its size decides; a plain object phrase then suffices.
    p = placement("balance the gray mug on the larger cube", scene(b=(0.5, 0.02)), scorer)
    assert p is not None and p.movers == ["d"] and p.target == "a"


def test_a_task_on_one_object_takes_it_from_the_referring_words(text_embedder) -> None:
    layer = LanguageLayer(embedder=text_embedder)
    for text, kind, name in (
        ("pick up the tiniest block", "holding", "c"),
        ("grab the mug that isn't gray", "holding", "e"),
        ("pick up the cube nearest the tray", "holding", "a"),
    ):
        u = layer.understand_task(text, scene())
        layer.forget_question()
        assert u.decision == "act", (text, u.to_dict())
        assert [(a["kind"], a["objects"]) for a in u.atoms] == [(kind, [name])], (text, u.atoms)
    # The same words on another arrangement pick another object.
    u = layer.understand_task("pick up the cube nearest the tray", scene(b=(0.55, 0.28)))
    assert u.decision == "act" and u.atoms[0]["objects"] == ["b"], u.to_dict()


def _shapes() -> list[ObjectInfo]:
    """Objects told apart only by their measured dimensions."""

    def o(name, cat, x, y, color, shape, size):
        return ObjectInfo(name, cat, Pose((x, y, 0.0)), size, color=color, shape=shape)

    return [
        o("c1", "block", 0.40, 0.20, "purple", "cube", (0.03, 0.03, 0.03)),
        o("c2", "block", 0.45, 0.00, "teal", "cube", (0.045, 0.045, 0.045)),
        o("c3", "block", 0.40, -0.20, "orange", "cube", (0.06, 0.06, 0.06)),
        o("m1", "mug", 0.55, 0.25, "gray", "standard", (0.07, 0.07, 0.09)),
        o("m2", "mug", 0.55, -0.25, "white", "wide", (0.10, 0.10, 0.08)),
        o("b1", "bowl", 0.65, 0.30, "blue", "round", (0.15, 0.15, 0.04)),
        o("b2", "bowl", 0.65, -0.30, "red", "round", (0.14, 0.14, 0.09)),
        o("ban", "fruit", 0.35, 0.00, "yellow", "banana", (0.18, 0.04, 0.04)),
        o("lem", "fruit", 0.32, 0.10, "yellow", "lemon", (0.06, 0.05, 0.05)),
    ]


def test_dimension_words_pick_by_measured_width_depth_length_and_the_middle_size(scorer) -> None:
    objs = _shapes()
    assert picks("the medium cube", objs, scorer) == ["c2"]
    assert picks("the middle-sized block", objs, scorer) == ["c2"]
    assert picks("the deeper bowl", objs, scorer) == ["b2"]
    assert picks("the shallow bowl", objs, scorer) == ["b1"]
    assert picks("the wide mug", objs, scorer) == ["m2"]
    assert picks("the narrow mug", objs, scorer) == ["m1"]
    assert picks("the long yellow one", objs, scorer) == ["ban"]
    # Make the white mug the narrower one: the same words pick the other mug.
    objs = [o if o.name != "m2" else ObjectInfo("m2", "mug", o.pose, (0.06, 0.06, 0.08), color="white") for o in objs]
    assert picks("the wide mug", objs, scorer) == ["m1"]
    # Two cubes: no middle one.
    assert len(picks("the medium cube", [o for o in objs if o.name != "c3"], scorer)) == 2  # undecided


def test_a_bare_one_takes_the_noun_of_the_object_phrase_and_short_is_a_height(text_embedder) -> None:
    def o(name, cat, x, y, color, shape, size):
        return ObjectInfo(name, cat, Pose((x, y, 0.0)), size, color=color, shape=shape)

    objs = [
        o("tum", "glass", 0.40, 0.20, "clear", "tumbler", (0.07, 0.07, 0.09)),
        o("flu", "glass", 0.45, -0.10, "clear", "flute", (0.06, 0.06, 0.20)),
        o("small_block", "block", 0.40, 0.00, "green", "cube", (0.03, 0.03, 0.03)),
        o("big_block", "block", 0.50, 0.10, "red", "cube", (0.07, 0.07, 0.07)),
        o("plate", "plate", 0.60, -0.30, "white", "round", (0.20, 0.20, 0.02)),
        o("shelf", "shelf", 0.60, 0.30, "wood", "rack", (0.30, 0.20, 0.20)),
    ]
    layer = LanguageLayer(embedder=text_embedder)
    for text, want in (
        ("set the small cube on top of the big one", [("at", ["small_block"], ["big_block"])]),
        ("put the big cube on the small one", [("at", ["big_block"], ["small_block"])]),
        ("grab the short glass", [("holding", ["tum"], None)]),
        ("um, nudge the, the flute", [("pushed", ["flu"], None)]),  # a repeat across a comma is one word
    ):
        u = layer.understand_task(text, objs)
        layer.forget_question()
        assert u.decision == "act", (text, u.to_dict())
        assert [(a["kind"], a["objects"], a.get("targets")) for a in u.atoms] == want, (text, u.atoms)
    u = layer.understand_task("pick up two flutes", objs)  # one flute (and a tumbler): asked
    assert u.decision == "ask" and "only 1" in u.reason, u.to_dict()


def test_a_colour_no_object_of_that_kind_has_names_nothing(text_embedder) -> None:
    """ "The orange mug" when the mugs are gray and yellow is no mug here: a reason, never the
    nearest mug; a colour that fits one of them, or an unnamed kind ("the teal one"), is no reason."""
    from robot_agent.language import structure
    from robot_agent.language.grammar import CorrectionContext

    objs = scene()
    assert structure.absent_phrase("put it next to the purple mug", objs) == "the purple mug"
    assert structure.absent_phrase("use the yellow mug", objs) is None
    assert structure.absent_phrase("the teal one", objs) is None
    assert structure.absent_phrase("the block by the gray mug, put it on the black tray", objs) is None
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_correction("no, the purple mug", CorrectionContext(objs, "pick", "d"))
    assert u.decision == "ask" and "purple mug" in u.reason, u.to_dict()
    u = layer.understand_task("put the purple mug on the rack", objs)
    assert u.decision == "ask" and "purple mug" in u.reason, u.to_dict()


def test_a_noun_that_is_a_colour_tells_kin_apart_and_a_contrast_said_first(text_embedder) -> None:
    layer = LanguageLayer(embedder=text_embedder)
    objs = [
        obj("lemon", "fruit", 0.40, 0.15, "yellow", "lemon"),
        obj("green_lemon", "fruit", 0.44, -0.10, "green", "lemon"),
        obj("bowl", "bowl", 0.62, 0.20, "white", "round", 0.15),
    ]
    # "lime" is a colour as well as a fruit: the green one of the two lemons
    u = layer.understand_task("drop the lime into the bowl", objs)
    assert u.decision == "act" and u.atoms[0]["objects"] == ["green_lemon"], u.to_dict()
    layer.forget_question()
    # the one ruled out first, the one meant after it, "one" taking the noun of the first
    u = layer.understand_task("not the green lemon, the yellow one, bowl please", objs)
    assert u.decision == "act" and u.atoms[0]["objects"] == ["lemon"], u.to_dict()


def test_a_compound_noun_names_its_kind_and_directions_are_said_from_our_side(text_embedder) -> None:
    """ "The champagne glass" is WordNet's champagne flute (a kind of glass): the flute, not the
    tumbler. "Nearer me" / "further out": the operator stands behind the robot."""
    from robot_agent.language import nouns
    from robot_agent.language.grammar import CorrectionContext

    assert nouns.head_noun("the champagne glass") == "champagne_flute"
    assert nouns.head_noun("the red apple") == "apple"  # a colour is no compound's first word
    layer = LanguageLayer(embedder=text_embedder)
    objs = [
        obj("tumbler", "glass", 0.40, 0.15, "clear", "tumbler"),
        obj("flute", "glass", 0.44, -0.10, "clear", "flute"),
        obj("rack", "shelf", 0.60, -0.30, "wood", "rack", 0.25),
    ]
    u = layer.understand_task("put the champagne glass on the rack", objs)
    assert u.decision == "act" and u.atoms[0]["objects"] == ["flute"], u.to_dict()
    ctx = CorrectionContext(scene(), "pick", "a")
    for text, sign in (("set it a touch nearer me", -1), ("a bit further out", +1)):
        layer.forget_question()
        u = layer.understand_correction(text, ctx)
        assert u.decision == "act" and u.correction.delta_m is not None, (text, u.to_dict())
        assert u.correction.delta_m[0] * sign > 0 and abs(u.correction.delta_m[1]) < 1e-9, (text, u.to_dict())


def test_a_noun_phrase_said_alone_swaps_to_what_its_words_pick(text_embedder) -> None:
    """ "The one in the middle" while picking the left mug: the middle one of the three mugs (the
    one in hand counts for "middle"), wherever the mugs stand."""
    from robot_agent.language.grammar import CorrectionContext

    layer = LanguageLayer(embedder=text_embedder)
    mugs = [
        obj("m1", "mug", 0.40, 0.20, "white", "standard"),
        obj("m2", "mug", 0.42, 0.00, "black", "standard"),
        obj("m3", "mug", 0.40, -0.20, "red", "standard"),
    ]
    u = layer.understand_correction("the one in the middle", CorrectionContext(mugs, "pick", "m1"))
    assert u.decision == "act" and u.correction.plan and u.correction.plan.get("object") == "m2", u.to_dict()
    # move the black mug to the right end: the red one is in the middle now
    mugs[1] = obj("m2", "mug", 0.42, -0.35, "black", "standard")
    layer.forget_question()
    u = layer.understand_correction("the one in the middle", CorrectionContext(mugs, "pick", "m1"))
    assert u.decision == "act" and u.correction.plan and u.correction.plan.get("object") == "m3", u.to_dict()


def test_a_kind_akin_to_what_is_here_is_asked_about_not_guessed(text_embedder) -> None:
    """ "The teapot" where there are mugs: a vessel like them, not one of them: a question that
    offers the mugs, never a mug moved. "The yellow cup" for the yellow mug is no guess (the colour
    says which), nor is a noun WordNet defines by the object's ("cupboard": "... cabinet ...")."""
    from robot_agent.language import guards

    objs = scene()
    phrase, akin = guards.kin_only("put the teapot on the rack", objs)
    assert phrase == "the teapot" and {"d", "e"} <= set(akin) and not {"a", "b", "c"} & set(akin)
    assert guards.kin_only("put the yellow cup on the rack", objs) is None
    assert guards.kin_only("put the gray mug on the rack", objs) is None
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_task("put the teapot on the rack", objs)
    assert u.decision == "ask" and "teapot" in u.reason, u.to_dict()
    assert {ch.meaning["atoms"][0]["objects"][0] for ch in u.choices} & {"d", "e"}, u.to_dict()


def test_one_object_meant_is_not_read_as_any_of_them(text_embedder) -> None:
    from robot_agent.language import guards

    assert guards.one_meant("grab the teeny one")
    assert not guards.one_meant("grab any block")
    assert not guards.one_meant("put the blocks in the tray")


def test_an_object_phrase_with_a_place_of_its_own_before_goes_on() -> None:
    from robot_agent.language.structure import placement_phrases

    assert placement_phrases("the cube on the far right goes on the tray") == ("cube on the far right", "the tray")
    assert placement_phrases("put the apple in the bowl on the left") == ("the apple", "the bowl on the left")


def test_a_thing_named_that_is_not_here_is_no_reason_to_act_on_another(text_embedder) -> None:
    """ "The tin of beans, not that": no tin here, so neither the akin containers nor anything
    else is swapped to; the operator is asked. A place on a thing ("the bottom") is no such name."""
    from robot_agent.language import guards
    from robot_agent.language.grammar import CorrectionContext

    objs = scene()
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_correction("the tin of beans, not that", CorrectionContext(objs, "pick", "a"))
    assert u.decision == "ask", u.to_dict()
    assert guards.kin_only("the purple one at the bottom", objs) is None


def test_steps_in_order_are_all_understood_with_their_pronouns(text_embedder) -> None:
    """ "The biggest cube on the tray, then the teal one on top of it": both placements, "it" the
    cube placed before; "..., then close it" closes the place before (the drawer), not the thing."""
    from robot_agent.language.steps import sequence

    assert sequence("biggest cube on the tray, then the teal one on top of it") == [
        "biggest cube on the tray",
        "the teal one on top of the biggest cube",
    ]
    assert sequence("put the mug in the cupboard, then close it")[1] == "close the cupboard"
    assert sequence("put the cube on the tray") is None
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_task("biggest cube on the tray, then the teal one on top of it", scene())
    assert u.decision == "act", u.to_dict()
    assert [(a["objects"], a["targets"]) for a in u.atoms] == [(["a"], ["tray"]), (["c"], ["a"])], u.atoms
