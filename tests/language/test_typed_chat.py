"""Typed in a hurry (batch 19 of the corpus showed the gap; every sentence here is written for this
test): typos are respelled to the English word they most likely came from, chat shorthand is
spelled out, and nothing that is English already, a name, a sound or a British spelling is touched.
Real pyspellchecker dictionary, WordNet, grammar and the embedded sentence model (MiniLM)."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer, spelling
from robot_agent.language.grammar import CorrectionContext, CorrectionKind
from sim.catalog import object_info

SHELF = [
    object_info("lemon", "fruit", "lemon", "yellow", (0.40, 0.10), (0.06, 0.06, 0.06)),
    object_info("green_cylinder", "block", "cylinder", "green", (0.44, -0.12), (0.05, 0.05, 0.08)),
    object_info("tumbler", "glass", "tumbler", "clear", (0.36, -0.24), (0.07, 0.07, 0.1)),
    object_info("gray_tray", "tray", "flat", "gray", (0.64, 0.18), (0.24, 0.18, 0.02)),
    object_info("cabinet", "cabinet", "drawer", "wood", (0.68, -0.1), (0.3, 0.4, 0.3)),
]
WORDS = {"lemon", "yellow", "green", "cylinder", "tumbler", "glass", "clear", "tray", "gray", "drawer", "cabinet"}


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("plz slide teh lemon left", "please slide the lemon left"),  # shorthand, two letters swapped
        ("put it in the drwaer", "put it in the drawer"),
        ("lowerr it a bit", "lower it a bit"),  # a letter doubled
        ("the yelow one", "the yellow one"),  # a doubled letter left single
        ("grsb the gren cylinder", "grab the green cylinder"),  # a neighbouring key, a vowel left out
        ("its stil stickin out", "its still sticking out"),  # "its" is English: not "it's"
        ("doesnt matter, u can go", "doesn't matter, you can go"),  # an apostrophe left out
        ("ur going way too fast", "you're going way too fast"),
        ("tilt ur gripper", "tilt your gripper"),
        ("the cyl next to teh tray", "the cylinder next to the tray"),  # a word of the scene cut short
        ("grab it lol", "grab it"),  # a chat marker carries no request
    ],
)
def test_typos_and_shorthand_are_respelled(typed: str, meant: str) -> None:
    assert spelling.respelled(typed, WORDS) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "three centimetres to the left, the grey one",  # British spellings are English
        "erm, mhm, uhh the lemon",  # sounds, not typos
        "Mr Okafor's tumbler",  # a name
        "lift the flute",  # English words, whatever they mean
        "sooo slow",  # stretched: read by checks.clean
    ],
)
def test_english_names_sounds_and_british_spellings_stay(typed: str) -> None:
    assert spelling.respelled(typed, WORDS) == typed


def test_a_typo_between_two_words_stays_as_typed_unless_the_scene_decides() -> None:
    # "glas": "glass" (an s left single) or "glad" (a neighbouring key): too close to choose...
    assert spelling.respelled_word("glas") == "glas"
    # ...unless a glass is in the scene
    assert spelling.respelled_word("glas", frozenset(WORDS)) == "glass"
    # a word cut short that starts two scene words is no reading
    assert spelling.respelled_word("cyl", frozenset({"cylinder", "cylindrical"})) == "cyl"


def test_typing_costs_follow_how_people_mistype() -> None:
    assert spelling.typing_cost("teh", "the") < spelling.typing_cost("teh", "ten")  # swap < other key
    assert spelling.typing_cost("drwer", "drawer") < spelling.typing_cost("drwer", "dryer")  # vowel left out
    assert spelling.typing_cost("lemonn", "lemon") < 0.5


def test_a_typed_task_with_typos_is_planned(layer: LanguageLayer) -> None:
    u = layer.understand_task("pls put teh lemmon in teh drawr", SHELF)
    assert u.decision == "act", u.question
    assert u.atoms == [{"kind": "at", "objects": ["lemon"], "targets": ["cabinet"]}]
    assert u.text == "pls put teh lemmon in teh drawr"  # the operator's words are kept as typed


def test_typed_corrections_with_typos(layer: LanguageLayer) -> None:
    ctx = CorrectionContext(skill="move_by", objects=SHELF)
    u = layer.understand_correction("bak 3 cm pls", ctx)
    assert u.decision == "act" and u.correction.delta_m[0] == pytest.approx(-0.03), u.question
    u = layer.understand_correction("stpo", CorrectionContext(skill="pick", object="lemon", objects=SHELF))
    assert u.decision == "stop"  # a mistyped stop halts the arm
    u = layer.understand_correction("w8 w8", CorrectionContext(skill="pick", object="lemon", objects=SHELF))
    assert u.decision == "stop"


def test_the_grammar_only_baseline_reads_text_as_typed() -> None:
    u = LanguageLayer(mode="grammar").understand_task("put teh lemmon in teh drawr", SHELF)
    assert not (u.decision == "act" and u.atoms == [{"kind": "at", "objects": ["lemon"], "targets": ["cabinet"]}])


def test_pushing_another_amount_adds_it(layer: LanguageLayer) -> None:
    ctx = CorrectionContext(skill="close", object="cabinet", objects=SHELF)
    layer.forget_question()
    u = layer.understand_correction("shove it in another 4cm", ctx)
    assert u.decision == "act" and u.correction.kind is CorrectionKind.SKILL, u.question
    assert u.correction.parameters["push_distance"] == {"add": pytest.approx(0.04)}


def test_a_transcript_is_read_as_heard(layer: LanguageLayer) -> None:
    # a recogniser writes only words of its dictionary: a rare one ("rhome") is no typo of "home"
    ctx = CorrectionContext(skill="move_by", objects=SHELF)
    assert layer.understand_correction("bak 3 cm", ctx).decision == "act"
    layer.forget_question()
    u = layer.understand_correction("bak 3 cm", ctx, typed=False)
    assert not (u.decision == "act" and u.correction.delta_m and u.correction.delta_m[0] < 0), u.correction
    layer.forget_question()
