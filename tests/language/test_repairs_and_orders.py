"""A task the speaker repairs halfway ("... in the tray, no wait, on the shelf"), a drawer that a scene
reports only by its opening, a definite phrase two things fit ("the glass" with two glasses),
a colour before a bare noun ("yellow one on the plate"), a pause inside a phrase, "A before B",
a contrast inside a standing rule, "keep going" after a complaint, stops said with a bare verb
of ceasing or a bare "don't", "no rush", what a place already holds ("on the shelf with the other
mug"), "it" in a second step, and counts with a colour. Real grammar, WordNet and the embedded
sentence model (MiniLM), on a scene written here."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.candidates import correction_candidates
from robot_agent.language.checks import clean, task_repaired
from robot_agent.language.grammar import CorrectionContext, CorrectionKind
from robot_agent.language.guards import one_meant
from robot_agent.language.steps import before_cue
from robot_agent.language.structure import placement_phrases
from skills.types import ObjectInfo, Pose

SHED = [
    ObjectInfo("lime", "fruit", Pose((0.40, 0.20, 0.0)), (0.06, 0.06, 0.06), color="green", shape="lemon"),
    ObjectInfo("gold_cube", "block", Pose((0.44, 0.02, 0.0)), (0.05, 0.05, 0.05), color="yellow", shape="cube"),
    ObjectInfo("wine_glass", "glass", Pose((0.36, -0.12, 0.0)), (0.07, 0.07, 0.2), color="clear", shape="flute"),
    ObjectInfo("short_glass", "glass", Pose((0.48, -0.24, 0.0)), (0.08, 0.08, 0.1), color="clear", shape="tumbler"),
    ObjectInfo("tray", "tray", Pose((0.64, 0.22, 0.0)), (0.3, 0.2, 0.02), color="gray", shape="flat"),
    ObjectInfo("rack", "shelf", Pose((0.68, -0.04, 0.0)), (0.2, 0.4, 0.2), color="wood", shape="rack"),
    ObjectInfo(
        "cabinet",
        "cabinet",
        Pose((0.66, -0.26, 0.0), 3.14159),
        (0.24, 0.3, 0.14),
        color="wood",
        shape="drawer",
        state={"opening": 0.15},
    ),
]


@pytest.mark.parametrize(
    "said, meant",
    [
        ("put the lime on the tray, no wait, into the cabinet", "put the lime into the cabinet"),
        ("set the lime on the tray - sorry, the rack", "set the lime on the rack"),
        ("set the lime on the tray - sorry, the gold one", "set the gold one on the tray"),
        ("put the lime on the tray, sorry, just give it to me", "just give it to me"),
        ("put the lime on the tray", "put the lime on the tray"),
    ],
)
def test_a_repair_inside_a_task_replaces_its_own_part(said: str, meant: str) -> None:
    assert task_repaired(said, SHED) == meant


def test_a_repaired_task_goes_where_the_repair_says(layer: LanguageLayer) -> None:
    u = layer.understand_task("drop the lime in the tray, no wait, onto the rack", SHED)
    assert u.decision == "act"
    assert u.atoms == [{"kind": "at", "objects": ["lime"], "targets": ["rack"]}]


def test_a_drawer_reported_only_by_its_opening_is_open() -> None:
    cab = SHED[-1]
    assert cab.drawer_open()
    shut = ObjectInfo("c", "cabinet", cab.pose, cab.size, state={"opening": 0.02})
    told = ObjectInfo("c", "cabinet", cab.pose, cab.size, state={"opening": 0.2, "drawer": "closed"})
    assert not shut.drawer_open() and not told.drawer_open()  # the reported state wins
    keys = {c.key for c in correction_candidates(CorrectionContext(skill="pick", object="lime", objects=SHED))}
    assert "step:close:cabinet" in keys  # closing it at the end is a meaning only an open drawer has


def test_closing_an_open_drawer_when_done_is_a_step(layer: LanguageLayer) -> None:
    ctx = CorrectionContext(skill="pick", object="lime", objects=SHED)
    c = layer.understand_correction("and shut the cabinet when you're through", ctx).correction
    assert c.kind is CorrectionKind.PLAN
    assert c.plan["type"] in ("step", "order") and (c.plan.get("call") or {}).get("skill") == "close"


@pytest.mark.parametrize(
    "said, one",
    [
        ("nudge the tall glass a little", True),
        ("slide the glass over a bit", True),
        ("give me a glass", False),
        ("hand me either glass", False),
    ],
)
def test_an_amount_after_the_phrase_does_not_make_it_any_of_them(said: str, one: bool) -> None:
    assert one_meant(said) is one


def test_a_definite_phrase_two_things_fit_asks_with_the_verb_kept(layer: LanguageLayer) -> None:
    u = layer.understand_task("nudge the glass along a little", SHED)
    assert u.decision == "ask"
    offered = [c.canonical for c in u.choices]
    assert len(offered) == 2 and all(t.startswith("push") for t in offered)


@pytest.mark.parametrize(
    "said, phrases",
    [
        ("yellow one on the tray", ("yellow one", "the tray")),
        ("green lemon into the cabinet", ("green lemon", "the cabinet")),
        ("clear the lime onto the tray", ("the lime", "the tray")),  # a colour word used as a verb
    ],
)
def test_a_colour_before_a_bare_noun_belongs_to_the_noun(said: str, phrases: tuple[str, str]) -> None:
    assert placement_phrases(said) == phrases


def test_the_colour_one_picks_the_thing_of_that_colour(layer: LanguageLayer) -> None:
    u = layer.understand_task("yellow one on the tray", SHED)
    assert u.decision == "act" and u.atoms == [{"kind": "at", "objects": ["gold_cube"], "targets": ["tray"]}]


@pytest.mark.parametrize(
    "said, plain",
    [("put it into, uh, the tray", "put it into the tray"), ("move the lime onto the, um, gray tray", None)],
)
def test_a_pause_inside_a_phrase_leaves_no_comma(said: str, plain: str | None) -> None:
    out = clean(said)
    assert "," not in out
    if plain is not None:
        assert out == plain


def test_a_before_b_puts_what_a_names_first(text_embedder) -> None:
    ctx = CorrectionContext(skill="pick", object="short_glass", objects=SHED)
    cands = [c for c in correction_candidates(ctx) if c.family == "order_first"]
    flat = [0.5] * len(cands)
    for said, first, then in (
        ("glasses before the fruit", "wine_glass", "lime"),
        ("the lime after the cube", "gold_cube", "lime"),
    ):
        scored = dict(zip((c.value for c in cands), before_cue(said, cands, flat, SHED), strict=True))
        assert scored[first] > 0.5 > scored[then], said
    assert before_cue("turn it before you lift it", cands, flat, SHED) == flat  # names nothing here


def test_a_rule_with_its_place_ruled_out_goes_to_the_other_place(layer: LanguageLayer) -> None:
    ctx = CorrectionContext(skill="pick", object="lime", objects=SHED)
    c = layer.understand_correction("fruit belongs on the rack, not the tray", ctx).correction
    assert c.kind is CorrectionKind.PLAN and c.plan["type"] == "preference"
    assert c.plan["target"] == "rack"


@pytest.mark.parametrize("said", ["you hardly moved it, carry on", "you barely shifted it, keep going"])
def test_keep_going_after_a_complaint_is_no_approval(layer: LanguageLayer, said: str) -> None:
    ctx = CorrectionContext(skill="push", object="gold_cube", objects=SHED)
    u = layer.understand_correction(said, ctx)
    assert u.correction.kind is not CorrectionKind.CONFIRM
    if u.decision == "act":
        assert "distance" in u.correction.parameters  # further, if acted on at all
    else:
        assert u.decision == "ask" and "further" in u.choices[0].label


@pytest.mark.parametrize("said", ["knock it off!", "pause, please", "quit it right now", "cease", "lay off"])
def test_a_bare_verb_of_ceasing_halts(layer: LanguageLayer, said: str) -> None:
    ctx = CorrectionContext(skill="push", object="gold_cube", objects=SHED)
    u = layer.understand_correction(said, ctx)
    assert u.decision == "stop" and u.correction.kind is CorrectionKind.STOP


@pytest.mark.parametrize(
    "said", ["close it", "finish it", "don't stop", "put it down", "hold it higher", "keep going", "knock it over"]
)
def test_a_verb_that_does_not_cease_is_no_stop(said: str) -> None:
    from robot_agent.language.verbs import halting

    assert halting(said) is None


@pytest.mark.parametrize("said", ["nooo, don't!!", "please don't do that", "don't you dare", "hey, don't"])
def test_dont_with_no_verb_after_it_halts(said: str) -> None:
    from robot_agent.language.grammar import is_stop

    assert is_stop(said)


@pytest.mark.parametrize("said", ["don't stop", "don't drop it", "no, don't go left", "don't push it so far"])
def test_dont_before_a_verb_is_no_stop(said: str) -> None:
    from robot_agent.language.grammar import is_stop

    assert not is_stop(said)


@pytest.mark.parametrize("said", ["no rush, set it down", "there's no hurry", "no faster than this please"])
def test_no_said_of_the_manner_word_asks_for_slower(layer: LanguageLayer, said: str) -> None:
    ctx = CorrectionContext(skill="place", object="lime", target="tray", objects=SHED)
    c = layer.understand_correction(said, ctx).correction
    assert c.kind is CorrectionKind.SKILL and c.parameters["speed"]["scale"] < 1.0


def test_what_the_place_already_holds_is_no_object_to_use_instead(layer: LanguageLayer) -> None:
    from robot_agent.language.checks import without_company

    assert without_company("that belongs in the cabinet with the other fruit") == "that belongs in the cabinet"
    assert without_company("grasp it with the handle") == "grasp it with the handle"  # no place before "with"
    ctx = CorrectionContext(skill="place", object="wine_glass", target="tray", objects=SHED)
    c = layer.understand_correction("hmm, that one lives on the rack with the short glass", ctx).correction
    assert c.kind is CorrectionKind.PLAN and c.plan["type"] == "target" and c.plan.get("destination") == "rack"


def test_it_in_a_second_step_is_what_the_first_one_took() -> None:
    from robot_agent.language.steps import sequence

    assert sequence("could you grab that lime and pop it on the tray?") == [
        "could you grab that lime",
        "pop that lime on the tray",
    ]


def test_a_count_of_a_colour_and_a_noun_counts_the_noun_in_that_colour() -> None:
    from robot_agent.language.checks import impossible_goal

    pair = [
        *SHED,
        ObjectInfo("blue_cube", "block", Pose((0.5, 0.1, 0.0)), (0.05, 0.05, 0.05), color="blue", shape="cube"),
    ]
    assert impossible_goal("put the two blue cubes on the tray", [], pair) == (
        "you asked for 2 blue cubes but I can see only 1"
    )
    assert impossible_goal("everything except the two glasses", [], pair) == ""


@pytest.mark.parametrize(
    "said",
    ["careful, you'll spill it coming in that fast", "you'll drop it going that fast", "it's gonna tip, so fast"],
)
def test_a_warning_makes_the_manner_said_the_fault(layer: LanguageLayer, said: str) -> None:
    ctx = CorrectionContext(skill="pick", object="lime", objects=SHED)
    u = layer.understand_correction(said, ctx)
    layer.forget_question()
    if u.decision == "act":
        assert u.correction.kind is CorrectionKind.SKILL and u.correction.parameters["speed"]["scale"] < 1.0
    else:  # asked: slowing down is what it offers first
        assert u.decision == "ask" and u.choices and u.choices[0].label.startswith("slower")


def test_a_request_about_the_future_is_no_warning() -> None:
    from robot_agent.language.polarity import describes_fault

    assert describes_fault("you'll knock it over like that")
    assert not describes_fault("you'll need to go faster")
    assert not describes_fault("it'll be fine, go faster")


@pytest.mark.parametrize("said", ["sooo slow.", "why is it so slow today", "ugh, so slow"])
def test_so_in_an_exclamation_is_an_excess(said: str) -> None:
    from robot_agent.language.polarity import read_value

    assert read_value(said, None, "speed", None) == "faster"


def test_so_joining_two_clauses_still_splits_them() -> None:
    from robot_agent.language.polarity import read_value

    # "too far right" asks for left, and so does "go left": one request
    assert read_value("it's too far right, so go left", None, "move", None) == "left"


@pytest.mark.parametrize(
    "said, meant",
    [
        ("the gold cube, put it on the tray", "put the gold cube on the tray"),
        ("that lime - could you pop it in the cabinet", "could you pop that lime in the cabinet"),
        # a clause first, not a thing: left as said
        ("the lime and the cube go on the tray, then close it", "the lime and the cube go on the tray, then close it"),
    ],
)
def test_the_thing_said_first_is_what_the_request_is_about(said: str, meant: str) -> None:
    from robot_agent.language.steps import restated

    assert restated(said) == meant


def test_a_thing_said_first_is_acted_on(layer: LanguageLayer) -> None:
    u = layer.understand_task("the glass nearest the rack, pop it on the tray", SHED)
    assert u.decision == "act" and u.atoms == [{"kind": "at", "objects": ["short_glass"], "targets": ["tray"]}]


def test_a_kind_said_first_is_an_order_on_any_of_that_kind(layer: LanguageLayer) -> None:
    from robot_agent.language.steps import said_order

    assert said_order("glasses first, then the fruit", SHED) == ({"wine_glass", "short_glass"}, {"lime"})
    assert said_order("the lime after the cube", SHED) == ({"gold_cube"}, {"lime"})
    assert said_order("lift it first", SHED) is None  # names nothing here
    ctx = CorrectionContext(skill="pick", object="lime", objects=SHED)
    c = layer.understand_correction("do the glasses first, then the rest", ctx).correction
    assert c.kind is CorrectionKind.PLAN and c.plan["type"] == "order"  # either glass: no question
    assert c.plan["first"]["object"] in ("wine_glass", "short_glass")


@pytest.mark.parametrize(("said", "sign"), [("right, no actually left", 1), ("up a touch, no, actually, down", -1)])
def test_no_actually_repairs_the_direction(layer: LanguageLayer, said: str, sign: int) -> None:
    from robot_agent.language.checks import repaired

    assert "actually" not in repaired(said) and "no" not in repaired(said).split()
    ctx = CorrectionContext(skill="place", object="gold_cube", target="tray", objects=SHED)
    u = layer.understand_correction(said, ctx)
    assert u.decision == "act" and u.correction.delta_m is not None, u.to_dict()
    axis = 1 if "left" in said else 2
    assert u.correction.delta_m[axis] * sign > 0, u.correction.delta_m
