"""The understanding layer with the real grammar and the real embedded sentence model (MiniLM)."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.grammar import CorrectionContext, CorrectionKind
from sim.scenario import SCENARIOS_DIR, load_scenario

DEMO = SCENARIOS_DIR / "demo"


@pytest.fixture(autouse=True)
def _no_open_question(layer):
    layer.forget_question()
    yield
    layer.forget_question()


def objects(name: str) -> list:
    return list(load_scenario(DEMO / f"{name}.yaml").objects)


def test_grammar_is_the_fast_path_when_it_is_sure(layer) -> None:
    u = layer.understand_correction(
        "move 2 cm to the left", CorrectionContext(objects("mug_train"), "pick", "white_mug")
    )
    assert u.decision == "act" and u.source == "grammar"
    assert u.correction.delta_m == pytest.approx([0.0, 0.02, 0.0])


def test_a_reading_the_scene_does_not_allow_is_overruled(layer) -> None:
    # While the drawer is being opened, "open it first" is no possible meaning: the grammar's
    # missing-step reading is dropped and the models find "pull further".
    ctx = CorrectionContext(objects("drawer_train"), "open", "cabinet")
    u = layer.understand_correction("the drawer isn't open enough", ctx)
    assert u.decision == "act", u.to_dict()
    assert u.correction.plan is None
    assert u.correction.parameters["pull_distance"]["add"] > 0


def test_excess_words_turn_the_value_around(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    for text in ("not so quick", "that's way too fast"):
        u = layer.understand_correction(text, ctx)
        layer.forget_question()
        if u.decision == "act":
            ((op, v),) = u.correction.parameters["speed"].items()
            assert (op == "scale" and v < 1) or (op == "set" and v < 0.5), (text, u.to_dict())
        else:
            assert u.decision == "ask" and "slower" in u.question, (text, u.to_dict())


def test_a_task_with_an_unfamiliar_verb_is_grounded(layer) -> None:
    for text in ("pop the red cube into the cabinet drawer", "keep the red cube in the cabinet"):
        u = layer.understand_task(text, objects("drawer_train"))
        assert u.decision == "act", (text, u.to_dict())
        assert u.atoms == [{"kind": "at", "objects": ["red_block"], "targets": ["cabinet"]}]
        assert u.task  # a task the planner's goal parser reads


def test_something_not_in_the_scene_gets_a_question_never_an_action(layer) -> None:
    u = layer.understand_task("put the vase on the plate", objects("mug_train"))
    assert u.decision == "ask" and u.question
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    for text in ("blorp the wibble", "zorp it over to the frobnicator"):
        c = layer.understand_correction(text, ctx)
        assert c.decision in ("ask", "refuse"), (text, c.to_dict())
        assert c.correction.kind is CorrectionKind.UNCLEAR and c.correction.question
        assert not c.correction.parameters and c.correction.delta_m is None and c.correction.plan is None


def test_a_stop_is_a_stop_whatever_else_is_pending(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    layer.understand_correction("take it by the ear", ctx)
    for text in ("freeze", "whoa whoa", "hold on", "wait, don't move"):
        assert layer.understand_correction(text, ctx).decision == "stop", text


def test_a_question_is_answered_by_number_or_in_words(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    asked = layer.understand_correction("take it by the ear", ctx)
    assert asked.decision == "ask" and len(asked.choices) >= 2, asked.to_dict()
    assert asked.correction.kind is CorrectionKind.UNCLEAR
    labels = [c.label for c in asked.choices]
    assert all(f"{i}." in asked.question for i in range(1, len(labels) + 1))
    second = asked.choices[1]
    got = layer.understand_correction("2", ctx)
    assert got.decision == "act" and got.source == "answer"
    assert got.correction.to_dict()["parameters"] == second.meaning["parameters"]
    assert layer.pending_question is None
    # In words: the answer goes through the same scoring, restricted to the choices offered.
    asked = layer.understand_correction("take it by the ear", ctx)
    handle = next((c for c in asked.choices if "handle" in c.label), None)
    if handle is not None:
        got = layer.understand_correction("the handle", ctx)
        assert got.source == "answer" and got.correction.parameters["grasp_region"] == {"set": "handle"}


def test_neither_closes_the_question_without_acting(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    asked = layer.understand_correction("take it by the ear", ctx)
    assert asked.decision == "ask"
    got = layer.understand_correction("neither", ctx)
    assert got.decision == "ask" and not got.correction.actionable
    assert layer.pending_question is None


def test_grammar_mode_is_the_old_parser() -> None:
    g = LanguageLayer(mode="grammar")
    u = g.understand_correction(
        "the drawer isn't open enough", CorrectionContext(objects("drawer_train"), "open", "cabinet")
    )
    assert u.source == "grammar" and u.correction.plan is not None  # the misreading the full layer fixes
    with pytest.raises(ValueError):
        LanguageLayer(mode="full")  # needs an embedder


def test_an_answered_question_is_learned_and_used_next_time(tmp_path, text_embedder) -> None:
    from memory import KnowledgeBase
    from robot_agent.language.phrases import PhraseMemory

    with KnowledgeBase(tmp_path / "kb", text_embedder) as kb:
        layer = LanguageLayer(embedder=text_embedder, phrases=PhraseMemory(kb))
        ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
        asked = layer.understand_correction("take it by the ear", ctx)
        assert asked.decision == "ask"
        n = next(i for i, c in enumerate(asked.choices, 1) if "handle" in c.label)
        got = layer.understand_correction(str(n), ctx)
        assert got.correction.parameters["grasp_region"] == {"set": "handle"}
        (item,) = kb.list(kind="phrase")
        assert item.parameters["utterance"] == "take it by the ear" and "handle" in item.rule
        assert layer.take_learned() and not layer.take_learned()
        # Another mug, another scene: the same words now act, with no question.
        novel = list(load_scenario(DEMO / "mug_novel.yaml").objects)
        mug = next(o.name for o in novel if o.category == "mug")
        again = layer.understand_correction("take it by the ear", CorrectionContext(novel, "pick", mug))
        assert again.decision == "act", again.to_dict()
        assert again.correction.parameters["grasp_region"] == {"set": "handle"}
        # Deleted like any knowledge: the question comes back.
        kb.delete(item.id)
        layer.forget_question()
        assert (
            layer.understand_correction("take it by the ear", CorrectionContext(novel, "pick", mug)).decision == "ask"
        )


def test_right_that_judges_is_no_motion_and_a_said_direction_beats_a_particle(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "place", "white_mug")
    for text in ("seems about right", "that is exactly right"):
        u = layer.understand_correction(text, ctx)
        layer.forget_question()
        moved = u.decision == "act" and u.correction is not None and u.correction.delta_m is not None
        assert not moved, (text, u.to_dict())
    u = layer.understand_correction("lay it down a little more to the right", ctx)
    layer.forget_question()
    assert u.decision == "act", u.to_dict()
    assert u.correction.delta_m is not None and u.correction.delta_m[1] < 0 and u.correction.delta_m[2] == 0


def test_the_grammar_does_not_win_on_the_opposite_value_by_being_close(layer) -> None:
    # "too slow" spotted by the grammar as "slow" must not become "slower" when the models say faster.
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    u = layer.understand_correction("this is far too slow, get a move on", ctx)
    layer.forget_question()
    if u.decision == "act":
        ((op, v),) = u.correction.parameters["speed"].items()
        assert (op == "scale" and v > 1) or (op == "set" and v > 0.5), u.to_dict()
    else:
        assert u.decision == "ask", u.to_dict()


def test_a_fault_described_asks_for_the_other_way(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    u = layer.understand_correction("you're drifting a touch to the left", ctx)
    layer.forget_question()
    assert not (u.decision == "act" and u.correction.delta_m is not None and u.correction.delta_m[1] > 0), u.to_dict()
    u = layer.understand_correction("it's moving a bit fast", ctx)
    layer.forget_question()
    if u.decision == "act":
        ((op, v),) = u.correction.parameters["speed"].items()
        assert (op == "scale" and v < 1) or (op == "set" and v < 0.5), u.to_dict()
    else:
        assert u.decision == "ask", u.to_dict()


def test_doing_another_object_first_is_a_reorder_not_a_swap(layer) -> None:
    from skills.types import ObjectInfo, Pose

    objs = [
        ObjectInfo("mug_a", "mug", Pose((0.40, 0.18, 0.0)), (0.08, 0.08, 0.09), color="white", shape="standard"),
        ObjectInfo("mug_b", "mug", Pose((0.45, -0.05, 0.0)), (0.08, 0.08, 0.09), color="black", shape="wide"),
        ObjectInfo("shelf", "shelf", Pose((0.68, -0.18, 0.0)), (0.2, 0.4, 0.2), color="wood", shape="board"),
    ]
    ctx = CorrectionContext(objs, "pick", "mug_a")
    u = layer.understand_correction("start with the black mug before this one", ctx)
    layer.forget_question()
    assert u.decision == "act", u.to_dict()
    assert u.correction.plan["type"] == "order" and u.correction.plan["first"]["object"] == "mug_b", u.to_dict()
    # The same object without a time word is a swap (or a question), never a re-order.
    u = layer.understand_correction("the black one", ctx)
    layer.forget_question()
    assert not (u.decision == "act" and u.correction.plan and u.correction.plan["type"] == "order"), u.to_dict()


def test_leaving_an_object_alone_is_not_a_path_rule(layer) -> None:
    from skills.types import ObjectInfo, Pose

    objs = [
        ObjectInfo("cup", "mug", Pose((0.40, 0.18, 0.0)), (0.08, 0.08, 0.09), color="red", shape="standard"),
        ObjectInfo("cube", "block", Pose((0.45, -0.05, 0.0)), (0.045, 0.045, 0.045), color="green", shape="cube"),
        ObjectInfo("tray", "tray", Pose((0.66, -0.18, 0.0)), (0.2, 0.3, 0.03), color="black", shape="flat"),
    ]
    ctx = CorrectionContext(objs, "pick", "cup")
    u = layer.understand_correction("do not touch the green cube", ctx)
    layer.forget_question()
    assert u.decision == "act" and u.correction.plan["type"] == "forbid", u.to_dict()
    assert u.correction.plan["call"]["object"] == "cube"
    u = layer.understand_correction("keep well clear of the green cube", ctx)
    layer.forget_question()
    assert not (u.decision == "act" and u.correction.plan and u.correction.plan["type"] == "forbid"), u.to_dict()


def test_a_placement_onto_something_that_holds_nothing_gets_a_reason(layer) -> None:
    from skills.types import ObjectInfo, Pose

    objs = [
        ObjectInfo("pear", "fruit", Pose((0.40, 0.18, 0.0)), (0.07, 0.07, 0.09), color="green", shape="apple"),
        ObjectInfo("cup", "mug", Pose((0.45, -0.05, 0.0)), (0.08, 0.08, 0.09), color="blue", shape="standard"),
        ObjectInfo("dish", "bowl", Pose((0.66, -0.18, 0.0)), (0.16, 0.16, 0.06), color="white", shape="round"),
    ]
    u = layer.understand_task("put the green apple in the blue mug", objs)
    layer.forget_question()
    assert u.decision == "ask" and "not a container" in u.reason, u.to_dict()
    u = layer.understand_task("put the green apple in the white bowl", objs)
    assert u.decision == "act" and u.atoms[0]["targets"] == ["dish"], u.to_dict()


def test_every_height_of_the_skill_is_a_meaning_both_ways(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    for text, name, sign in (
        ("begin the descent from further up", "approach_height", 1),  # the approach, not a move up
        ("never lift it that high", "lift_height", -1),  # a negated degree asks for the other way
    ):
        u = layer.understand_correction(text, ctx)
        layer.forget_question()
        assert u.decision == "act" and name in u.correction.parameters, (text, u.to_dict())
        ((op, v),) = u.correction.parameters[name].items()
        assert op == "add" and v * sign > 0, (text, u.correction.parameters)


def test_a_part_nobody_calls_that_is_asked_about_with_every_part(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    u = layer.understand_correction("grab it by the doohickey", ctx)
    assert u.decision == "ask", u.to_dict()
    assert len(u.choices) >= 3 and all("grasp" in c.label for c in u.choices), [c.label for c in u.choices]
    layer.forget_question()
    u = layer.understand_correction("hold it round the middle", ctx)
    assert u.decision == "act" and u.correction.parameters.get("grasp_region") == {"set": "center"}, u.to_dict()


def test_parts_by_their_kind_and_a_negated_part(layer) -> None:
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    u = layer.understand_correction("hold it by the grip", ctx)  # WordNet: a grip is a handle
    assert u.decision == "act" and u.correction.parameters.get("grasp_region") == {"set": "handle"}, u.to_dict()
    layer.forget_question()
    u = layer.understand_correction("take it by the brim", ctx)  # a brim is a rim: first, if not sure
    assert (u.decision == "act" and u.correction.parameters.get("grasp_region") == {"set": "rim"}) or (
        u.decision == "ask" and "rim" in u.choices[0].label
    ), u.to_dict()
    layer.forget_question()
    u = layer.understand_correction("use the handle, not the rim", ctx)
    assert u.decision == "act" and u.correction.parameters.get("grasp_region") == {"set": "handle"}, u.to_dict()


def test_a_drawer_motion_that_stopped_short_goes_on(layer) -> None:
    drawer = objects("drawer_train")
    cab = next(o.name for o in drawer if o.category == "cabinet")
    for skill, text, name in (
        ("open", "it's hardly open", "pull_distance"),
        ("open", "still not wide enough", "pull_distance"),
        ("close", "there's still a gap", "push_distance"),
        ("close", "it's still poking out", "push_distance"),
    ):
        u = layer.understand_correction(text, CorrectionContext(drawer, skill, cab))
        layer.forget_question()
        assert u.decision == "act" and name in u.correction.parameters, (text, u.to_dict())
        ((op, v),) = u.correction.parameters[name].items()
        assert op == "add" and v > 0, (text, u.correction.parameters)


def test_words_that_judge_are_read_by_their_kind(layer) -> None:
    """WordNet's adjectives: a word similar to "good" or "pleasing" approves ("keep going"); one
    similar to "bad" does not; a stop word the list knows still stops first."""
    from robot_agent.language import judgement

    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    for text in ("splendid", "that's smashing", "looks lovely", "nice one, mate"):
        assert judgement.approval(text) == 1, text
        u = layer.understand_correction(text, ctx)
        layer.forget_question()
        assert u.decision == "act" and u.correction.kind is CorrectionKind.CONFIRM, (text, u.to_dict())
    for text in ("terrible", "that's not good"):
        assert judgement.approval(text) == -1, text
        u = layer.understand_correction(text, ctx)
        layer.forget_question()
        assert u.correction is None or u.correction.kind is not CorrectionKind.CONFIRM, (text, u.to_dict())
    # Words that name a correction or an object are no mere judgement: "easy" is slower, "the
    # right one" picks an object; "right" that judges still approves.
    for text in ("a bit higher", "the big one", "too fast", "the right one", "easy, that's delicate"):
        assert judgement.approval(text) == 0, text
    assert judgement.approval("looks about right") == 1
    u = layer.understand_correction("stop, lovely", ctx)
    assert u.decision == "stop", u.to_dict()


def test_the_other_one_and_a_whole_category_preference(layer) -> None:
    from skills.types import ObjectInfo, Pose

    def o(name, cat, x, y, color, shape, size=0.05):
        return ObjectInfo(name, cat, Pose((x, y, 0.0)), (size, size, size), color=color, shape=shape)

    scene = [
        o("pear_1", "fruit", 0.40, 0.10, "green", "apple"),
        o("lemon_1", "fruit", 0.45, -0.05, "yellow", "lemon"),
        o("left_tray", "tray", 0.60, 0.30, "black", "flat", 0.2),
        o("right_tray", "tray", 0.60, -0.30, "gray", "flat", 0.2),
    ]
    ctx = CorrectionContext(scene, "place", "pear_1", "left_tray")
    u = layer.understand_correction("no, the other tray", ctx)
    layer.forget_question()
    assert u.decision == "act" and u.correction.plan.get("destination") == "right_tray", u.to_dict()
    u = layer.understand_correction("from now on every fruit goes in the gray tray", ctx)
    layer.forget_question()
    assert u.decision == "act", u.to_dict()
    plan = u.correction.plan
    assert plan["type"] == "preference" and plan["selector"] == {"category": "fruit"}, plan
    assert plan["target"] == "right_tray", plan


def test_each_clause_says_its_part_of_one_request(layer) -> None:
    """A complaint and a request in one breath both ask for faster; a clause that only negates a
    part rules it out and the other clause names the one to use."""
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    u = layer.understand_correction("you're far too slow, speed it up", ctx)
    assert u.decision == "act", u.to_dict()
    ((op, v),) = u.correction.parameters["speed"].items()
    assert (op == "scale" and v > 1) or (op == "set" and v > 0.5), u.to_dict()
    layer.forget_question()
    u = layer.understand_correction("not the rim, the handle", ctx)
    assert u.decision == "act" and u.correction.parameters.get("grasp_region") == {"set": "handle"}, u.to_dict()
    layer.forget_question()
    # clauses that disagree are not one request (the words alone; no vectors needed)
    from robot_agent.language import polarity

    assert polarity.read_value("slower, no, faster", None, "speed", None) is None
    assert polarity.read_value("too slow, hurry", None, "speed", None) == "faster"


def test_a_described_state_then_a_request_is_the_request(layer) -> None:
    """ "The drawer is open, close it": the description's "open" is how things are, the request is
    the goal; the pronoun is what the description was about."""
    from robot_agent.language import steps

    assert steps.restated("the drawer is wide open, please close it") == "close the drawer"
    assert steps.restated("the mug's by the plate, pick it up") == "pick the mug by the plate up"
    assert steps.restated("the drawer is open, put the apple in") == "the drawer is open, put the apple in"
    drawer = objects("drawer_train")
    u = layer.understand_task("the drawer is wide open, please close it", drawer)
    assert u.decision == "act" and u.text == "the drawer is wide open, please close it", u.to_dict()
    assert [a["kind"] for a in u.atoms] == ["drawer"] and u.atoms[0]["open"] is False, u.atoms


def test_a_stacks_order_words_ask_for_a_stacking_order() -> None:
    """The cue alone, on scores the test sets (no sentence model): "X's the base" is a stacking
    order (by size when a size is said), not using X instead; other words change nothing."""
    from robot_agent.language import structure
    from robot_agent.language.candidates import Candidate

    def cand(key: str) -> Candidate:
        fam, _, value = key.partition(":")
        return Candidate(key, fam, value, key, key, [key])

    cands = [cand("swap_object:blue"), cand("swap_object:red"), cand("stack_key:largest"), cand("forbid:blue")]
    flat = [0.5, 0.5, 0.5, 0.5]
    out = structure.stack_cue("the largest one's the base", cands, flat)
    assert out[2] > 0.5 and out[0] < 0.5 and out[1] < 0.5 and out[3] == 0.5
    assert structure.stack_cue("use the red one", cands, flat) == flat


def test_a_contrast_of_two_clauses_weighs_the_named_objects(layer) -> None:
    objs = objects("mug_train")
    mug = next(o for o in objs if o.category == "mug")
    plate = next(o for o in objs if o.category == "plate")
    from robot_agent.language import structure
    from robot_agent.language.candidates import Candidate

    cands = [Candidate(f"swap_object:{n}", "swap_object", n, n, n, [n]) for n in (mug.name, plate.name)]
    said = f"don't pick the {mug.color} mug, take the plate"
    out = structure.contrast_cue(said, cands, [0.5, 0.5], objs, layer.scorer)
    assert out[0] < 0.5 < out[1], out
    assert structure.contrast_cue("take the plate", cands, [0.5, 0.5], objs, layer.scorer) == [0.5, 0.5]


def test_an_amount_with_a_distance_verb_is_the_distance_and_half_that_halves_it(layer) -> None:
    """ "Push it five centimetres" during a push: a 5 cm push (set), "five centimetres further":
    5 cm more (add); then "half that" halves what was said last, whichever it was."""
    from robot_agent.language import polarity

    assert polarity.amount_metres("a couple of centimetres") == pytest.approx(0.02)
    assert polarity.amount_metres("three and a half cm") == pytest.approx(0.035)
    objs = objects("mug_train")
    mug = next(o.name for o in objs if o.category == "mug")
    ctx = CorrectionContext(objs, "push", mug)
    u = layer.understand_correction("push it five centimetres", ctx)
    assert u.decision == "act" and u.correction.parameters == {"distance": {"set": pytest.approx(0.05)}}, u.to_dict()
    first = u.correction
    layer.forget_question()
    u = layer.understand_correction("push it five centimetres further", ctx)
    assert u.decision == "act" and u.correction.parameters == {"distance": {"add": pytest.approx(0.05)}}, u.to_dict()
    layer.forget_question()
    ctx.last = first
    u = layer.understand_correction("half that", ctx)
    assert u.decision == "act" and u.correction.parameters == {"distance": {"set": pytest.approx(0.025)}}, u.to_dict()


def test_a_drawer_step_can_be_forbidden_and_a_described_state_forbids_nothing(layer) -> None:
    """ "Don't shut the drawer afterwards" while putting something in it: a forbidden step (the
    plan must not close it), a meaning the candidates now hold; "you still haven't opened the
    drawer" describes the state and forbids nothing."""
    drawer = objects("drawer_train")
    cab = next(o for o in drawer if o.category == "cabinet")
    thing = next(o for o in drawer if o.category not in ("cabinet",) and o.name != cab.name)
    ctx = CorrectionContext(drawer, "place", thing.name, cab.name)
    u = layer.understand_correction("please don't shut the drawer afterwards", ctx)
    assert u.decision == "act" and u.correction.plan, u.to_dict()
    assert u.correction.plan["type"] == "forbid" and u.correction.plan["call"]["skill"] == "close", u.to_dict()
    layer.forget_question()
    u = layer.understand_correction("you still haven't opened the drawer", ctx)
    assert not (u.decision == "act" and u.correction.plan and u.correction.plan.get("type") == "forbid"), u.to_dict()


def test_approval_with_a_request_to_go_on_is_a_confirmation_not_a_motion_or_a_stop(layer) -> None:
    """ "Looks good to me" is no motion towards the operator; "bang on, carry on" no "hold on"."""
    from robot_agent.language.judgement import approval

    assert approval("looks good to me") == 1 and approval("lovely, crack on") == 1
    assert approval("carry on to the left") == 0  # a direction: a request, not a judgement
    ctx = CorrectionContext(objects("mug_train"), "pick", "white_mug")
    for text in ("looks good to me", "bang on, carry on"):
        layer.forget_question()
        u = layer.understand_correction(text, ctx)
        assert u.decision == "act" and u.correction.kind is CorrectionKind.CONFIRM, (text, u.to_dict())
