"""How people talk while the arm moves: stretched words ("stoooop"), a speaker's own repair ("go
right - sorry, left"), one direction said twice ("back towards me, 3 cm"), "an inch and a half",
a request beside a complaint ("slow down, you're making me nervous"), and picking something up on
the way to putting it down. Real grammar, WordNet and the embedded sentence model (MiniLM), on a
scene written here."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.checks import clean, repaired
from robot_agent.language.grammar import CorrectionContext, CorrectionKind, CorrectionParser, is_stop
from robot_agent.policy.goals import parse_goal
from skills.types import ObjectInfo, Pose

TABLE = [
    ObjectInfo("pear", "fruit", Pose((0.42, 0.12, 0.0)), (0.07, 0.07, 0.09), color="green", shape="pear"),
    ObjectInfo("cup", "mug", Pose((0.38, -0.14, 0.0)), (0.08, 0.08, 0.1), color="blue", shape="standard"),
    ObjectInfo("dish", "plate", Pose((0.64, 0.16, 0.0)), (0.2, 0.2, 0.02), color="yellow", shape="round"),
]


def _ctx(skill: str = "pick", obj: str = "pear", target: str | None = None) -> CorrectionContext:
    return CorrectionContext(skill=skill, object=obj, target=target, objects=TABLE)


@pytest.mark.parametrize(
    "said",
    ["stoooop", "STOOOP!", "whoooa", "freeeeze", "haaalt", "hooold on", "wait wait", "hold up!", "hold up a sec"],
)
def test_a_stop_said_with_feeling_halts(said: str) -> None:
    assert is_stop(said)


@pytest.mark.parametrize(
    "said",
    ["don't stoooop", "keep going, no need to waaait", "gooood", "a bit more to the left", "hold up the mug higher"],
)
def test_stretched_words_that_are_no_stop_do_not_halt(said: str) -> None:
    assert not is_stop(said)


@pytest.mark.parametrize(
    "said, plain",
    [("sooo slow", "so slow"), ("goood job", "good job"), ("slooow down", "slow down"), ("yesss", "yes")],
)
def test_stretched_words_are_read_plainly(said: str, plain: str) -> None:
    assert clean(said) == plain


PICNIC = [
    ObjectInfo("plum", "fruit", Pose((0.38, 0.16, 0.0)), (0.06, 0.06, 0.06), color="purple", shape="apple"),
    ObjectInfo("red_pear", "fruit", Pose((0.40, -0.02, 0.0)), (0.07, 0.07, 0.09), color="red", shape="pear"),
    ObjectInfo("green_pear", "fruit", Pose((0.36, -0.20, 0.0)), (0.07, 0.07, 0.09), color="green", shape="pear"),
    ObjectInfo("lime", "fruit", Pose((0.52, 0.06, 0.0)), (0.05, 0.05, 0.05), color="green", shape="lemon"),
    ObjectInfo("platter", "plate", Pose((0.66, 0.18, 0.0)), (0.2, 0.2, 0.02), color="white", shape="round"),
]


@pytest.mark.parametrize(
    "said, atom",
    [
        # the landmark is named, and is neither the thing moved nor the place
        ("pick up the fruit to the right of the red pear", {"kind": "holding", "objects": ["green_pear"]}),
        (
            "put the fruit on the left of the red pear on the platter",
            {"kind": "at", "objects": ["plum"], "targets": ["platter"]},
        ),
    ],
)
def test_a_side_of_a_landmark_picks_the_nearest_object_on_that_side(
    layer: LanguageLayer, said: str, atom: dict
) -> None:
    u = layer.understand_task(said, PICNIC)
    layer.forget_question()
    assert u.decision == "act" and u.atoms == [atom], u.to_dict()


@pytest.mark.parametrize(
    "said, meant",
    [
        ("go right - sorry, left, I mean left", "go left"),
        ("up a bit, or rather down", "down a bit"),
        ("two centimetres, I mean three centimetres", "three centimetres"),
        ("half a centimetre down... no, more like a centimetre down", "a centimetre down"),
        ("left, no, right", "go right"),
        ("up a bit. no wait, down", "down a bit"),
        ("that's it, no more", "that's it, no more"),  # no pause before "no": no repair
        ("no, no, left", "no, no, left"),
        # nothing said before the repair, or nothing after it: one request as it is
        ("no, I meant the green one", "no, I meant the green one"),
        ("sorry, a bit more to the left", "sorry, a bit more to the left"),
        ("left, sorry", "left, sorry"),
        # only the direction repaired: the amount said before stands
        ("a tiny bit more to the left... no, right, sorry, right", "a tiny bit more to the right"),
    ],
)
def test_the_speakers_own_repair_replaces_what_came_before(said: str, meant: str) -> None:
    assert repaired(said) == meant


def test_a_repaired_direction_moves_the_repaired_way(layer: LanguageLayer) -> None:
    u = layer.understand_correction("go right - sorry, left, I mean left", _ctx())
    layer.forget_question()
    assert u.decision == "act" and u.correction is not None and u.correction.kind is CorrectionKind.SKILL
    assert u.correction.delta_m is not None and u.correction.delta_m[1] > 0.01  # left = +y
    assert u.text == "go right - sorry, left, I mean left"  # the record keeps what was said


@pytest.mark.parametrize(
    "said, dx",
    [
        ("back towards me, 3 cm", -0.03),
        ("eh, overshot. come back toward me about two centimetres", -0.02),
        ("back 3 cm and back 2 cm", -0.05),  # two amounts: both
    ],
)
def test_one_direction_said_twice_with_one_amount_moves_once(said: str, dx: float) -> None:
    c = CorrectionParser().parse(said, _ctx("place", "pear", "dish"))
    assert c.kind is CorrectionKind.SKILL and c.delta_m is not None
    assert c.delta_m[0] == pytest.approx(dx, abs=1e-6)


@pytest.mark.parametrize(
    "said",
    ["left an inch and a half", "left by, um, maybe an inch and a half", "left one and a half inches"],
)
def test_an_inch_and_a_half(said: str) -> None:
    c = CorrectionParser().parse(clean(said), _ctx())
    assert c.kind is CorrectionKind.SKILL and c.delta_m is not None
    assert c.delta_m[1] == pytest.approx(0.0381, abs=1e-4)


def test_the_left_one_is_still_an_object() -> None:
    c = CorrectionParser().parse("no, the left one", _ctx())
    assert c.kind is CorrectionKind.PLAN


@pytest.mark.parametrize(
    "said, faster",
    [
        ("slow down, you're making me nervous", False),
        ("go slower, you're making me nervous", False),
        ("you're rushing it", False),  # a complaint still turns its own word around
        ("it's going a bit slow", True),
    ],
)
def test_a_request_beside_a_complaint_is_taken_as_said(layer: LanguageLayer, said: str, faster: bool) -> None:
    u = layer.understand_correction(said, _ctx())
    layer.forget_question()
    assert u.decision == "act" and u.correction is not None
    speed = u.correction.parameters.get("speed", {}).get("scale")
    assert speed is not None and (speed > 1.0) is faster


def test_picking_up_on_the_way_to_a_placement_is_not_held_at_the_end(layer: LanguageLayer) -> None:
    goal = parse_goal("grab the pear and set it down on the dish", TABLE)
    assert goal is not None and goal.describe() == "pear in/on dish"
    assert goal.en_route == ["grab the pear"]
    u = layer.understand_task("grab the pear and set it down on the dish", TABLE)
    assert u.decision == "act" and u.atoms == [{"kind": "at", "objects": ["pear"], "targets": ["dish"]}]
    # one holding said twice is held once, and the layer acts on it
    again = parse_goal("grab the cup and hold it", TABLE)
    assert again is not None and again.describe() == "holding cup" and again.en_route == ["grab the cup"]
    u = layer.understand_task("grab the cup and hold it", TABLE)
    assert u.decision == "act" and u.atoms == [{"kind": "holding", "objects": ["cup"]}]
    # picking up one thing and placing another: both, in order
    two = parse_goal("pick up the cup and put the pear on the dish", TABLE)
    assert two is not None and [a.kind for a in two.atoms] == ["holding", "at"]


DRAWER_TABLE = [
    *TABLE,
    ObjectInfo("chest", "cabinet", Pose((0.66, -0.16, 0.0), yaw=3.1416), (0.3, 0.3, 0.2), color="wood", shape="drawer"),
]


@pytest.mark.parametrize(
    "said, atom",
    [
        ("slide that drawer out", {"kind": "drawer", "objects": ["chest"], "open": True}),
        ("pull the drawer out, please", {"kind": "drawer", "objects": ["chest"], "open": True}),
        ("push the drawer back in", {"kind": "drawer", "objects": ["chest"], "open": False}),
    ],
)
def test_a_drawer_slid_out_is_opened_and_pushed_in_is_closed(layer: LanguageLayer, said: str, atom: dict) -> None:
    u = layer.understand_task(said, DRAWER_TABLE)
    layer.forget_question()
    assert u.decision == "act" and u.atoms == [atom]


def test_a_particle_that_ends_another_clause_says_no_state(layer: LanguageLayer) -> None:
    u = layer.understand_task("shut the drawer, it's sticking out", DRAWER_TABLE)
    layer.forget_question()
    assert u.decision == "act" and u.atoms == [{"kind": "drawer", "objects": ["chest"], "open": False}]


@pytest.mark.parametrize(
    "said, faster",
    [
        ("too slow", True),
        ("way too slow", True),
        ("it's so slow", True),
        ("you're going too slowly", True),
        ("not so slow", True),
        ("too fast", False),
        ("so fast", False),
        ("too quickly", False),
        ("slow", False),
        ("slowly", False),
        ("quick", True),
    ],
)
def test_the_grammar_reads_a_complaint_about_speed_the_other_way(said: str, faster: bool) -> None:
    """'too slow' asks for faster: the bare word must not be read on its own after 'too' or 'so'."""
    c = CorrectionParser().parse(said, _ctx())
    assert c.kind is CorrectionKind.SKILL
    assert (c.parameters["speed"]["scale"] > 1.0) is faster


BLOCKS = [
    ObjectInfo("violet", "block", Pose((0.38, 0.28, 0.0)), (0.05, 0.05, 0.05), color="purple", shape="cube"),
    ObjectInfo("teal", "block", Pose((0.52, 0.14, 0.0)), (0.05, 0.05, 0.05), color="cyan", shape="cylinder"),
    ObjectInfo("amber", "block", Pose((0.52, 0.28, 0.0)), (0.08, 0.04, 0.04), color="orange", shape="cuboid"),
    ObjectInfo("basin", "bowl", Pose((0.66, 0.0, 0.0)), (0.16, 0.16, 0.06), color="blue", shape="deep"),
]


@pytest.mark.parametrize(
    "said, meant",
    [
        ("start with the one furthest away", "amber"),  # furthest from the robot, not the deepest
        ("do the one furthest from me first", "amber"),
        ("the furthest block", "amber"),
        ("the block nearest to me", "violet"),
    ],
)
def test_a_superlative_after_the_noun_picks_by_distance_not_the_object_in_hand(said: str, meant: str) -> None:
    """'the one furthest away' while the violet block is in hand: it named none of its words, and
    resolved to the block in hand (a confident wrong plan)."""
    ctx = CorrectionContext(skill="pick", object="violet", objects=BLOCKS)
    c = CorrectionParser().parse(said, ctx)
    assert c.kind is CorrectionKind.PLAN and c.plan is not None
    named = (c.plan.get("first") or {}).get("object") or c.plan.get("object")
    assert named == meant, c.plan


@pytest.mark.parametrize(
    "said, verdict",
    [
        ("yeah that's lined up nicely", 1),  # a participle says what was done; "nicely" judges it
        ("perfectly placed, cheers", 1),
        ("nicely done", 1),
        ("that's lined up badly", -1),
        ("that's raised too high", 0),  # a fault to correct, not a verdict
        ("that's pushed in too far", 0),
    ],
)
def test_a_judging_adverb_beside_what_was_done_approves_or_disapproves(said: str, verdict: int) -> None:
    from robot_agent.language import judgement

    assert judgement.approval(said) == verdict


def test_approving_what_was_done_confirms(layer: LanguageLayer) -> None:
    u = layer.understand_correction("yeah, that's lined up nicely", _ctx("place", "pear", "dish"))
    layer.forget_question()
    assert u.decision == "act" and u.correction is not None and u.correction.kind is CorrectionKind.CONFIRM


@pytest.mark.parametrize(
    "said, fam, value",
    [
        ("no need to start from all the way up there", "approach", "lower"),
        ("no need to lift it that high", "lift", "lower"),
        ("you don't need to lower it all the way", "place_height", "higher"),
        ("lift it higher", "lift", "higher"),
        ("keep pushing, it's not there yet", "push", "more"),
        ("it's not quite there yet", "pull", "more"),
    ],
)
def test_no_need_for_a_height_asks_for_less_and_not_there_yet_for_more(said: str, fam: str, value: str) -> None:
    from robot_agent.language import polarity

    # the words say the value themselves: no sentence model needed
    assert polarity.read_value(said, None, fam, None) == value


def test_a_rule_about_a_kind_needs_its_place_named(layer: LanguageLayer) -> None:
    """'easy, easy, it's a glass' names a glass, not where glasses go: a standing rule putting them
    somewhere unnamed loses like any meaning on an object no phrase names."""
    from types import SimpleNamespace

    from robot_agent.language import naming

    glass = ObjectInfo("flute", "glass", Pose((0.4, -0.1, 0.0)), (0.06, 0.06, 0.2), color="clear", shape="flute")
    table = [*TABLE, glass]
    rule = SimpleNamespace(family="preference", value="glass>dish")
    slower = SimpleNamespace(family="speed", value="slower")
    out = naming.object_cue("easy, easy, it's a glass", [rule, slower], [0.5, 0.5], table, layer.scorer)
    assert out[0] < 0.5 and out[1] == 0.5
    said = naming.object_cue("glasses go on the dish", [rule, slower], [0.5, 0.5], table, layer.scorer)
    assert said[0] == 0.5  # the place is named: nothing lost


@pytest.mark.parametrize(
    "said", ["tidy up: the pear and the cup onto the dish", "clear the table: put the pear and the cup on the dish"]
)
def test_what_follows_a_colon_says_what_is_meant(layer: LanguageLayer, said: str) -> None:
    u = layer.understand_task(said, TABLE)
    layer.forget_question()
    assert u.decision == "act"
    assert sorted(a["objects"][0] for a in u.atoms) == ["cup", "pear"]
    assert all(a["kind"] == "at" and a["targets"] == ["dish"] for a in u.atoms)


def test_a_landmark_is_not_the_place_of_a_put_all_either() -> None:
    """'hand me the block sitting by the bin': the bin says which block; putting all the blocks in
    it loses like putting that one block in it."""
    from types import SimpleNamespace

    from robot_agent.language import reference

    ranked = [
        (SimpleNamespace(family="put_all", value="block>bin"), 0.8),
        (SimpleNamespace(family="put", value="teal>bin"), 0.75),
        (SimpleNamespace(family="pick", value="teal"), 0.7),
    ]
    out = reference.prefer_object(ranked, "teal", {"bin"})
    assert out[0][0].family == "pick"
    assert dict((c.family, s) for c, s in out)["put_all"] == pytest.approx(0.65)
