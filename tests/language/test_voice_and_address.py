"""A request said in the passive or as a wish about a thing (a protocol's "shall be", everyday "I'd
like it moved", "that needs closing"), the person addressed ("..., chef"), and everything but the
things made an exception of. Batches 28 and 29 of the corpus showed the gaps; every sentence here
is written for this test. Real grammar, WordNet and the embedded sentence model (MiniLM)."""

from __future__ import annotations

from robot_agent.language import LanguageLayer
from robot_agent.language.grammar import CorrectionContext
from robot_agent.language.steps import without_address
from robot_agent.language.voice import active
from sim.catalog import object_info

BENCH = [
    object_info("green_cube", "block", "cube", "green", (0.4, 0.16), (0.05, 0.05, 0.05)),
    object_info("blue_cylinder", "block", "cylinder", "blue", (0.5, 0.02), (0.05, 0.05, 0.08)),
    object_info("beaker", "glass", "tumbler", "clear", (0.36, -0.14), (0.07, 0.07, 0.1)),
    object_info("lemon", "fruit", "lemon", "yellow", (0.46, -0.24), (0.06, 0.06, 0.06)),
    object_info("gray_tray", "tray", "flat", "gray", (0.64, 0.2), (0.2, 0.2, 0.03)),
    object_info("cabinet", "cabinet", "drawer", "wood", (0.7, -0.2), (0.3, 0.4, 0.3)),
]


def _placed(u) -> set[tuple[str, str]]:
    return {(o, t) for a in u.atoms if a["kind"] == "at" for o in a["objects"] for t in a["targets"]}


def test_a_passive_of_obligation_is_said_as_the_imperative() -> None:
    assert active("The beaker must be transferred to the tray.") == "transfer the beaker to the tray."
    # what leads the clause stays in front; what is said about the thing stays with it
    assert active("Following that, the drawer, now empty, is to be shut.") == (
        "Following that, shut the drawer, now empty."
    )
    assert active("Afterwards the lemon should be lifted slightly.") == "Afterwards lift the lemon slightly."
    assert active("It should not be tilted.") == "don't tilt it."
    # a need said with a gerund, and a wish about a thing
    assert active("That cube needs moving to the tray.") == "move that cube to the tray."
    assert active("We'd like the cylinder stood on the tray.") == "stand the cylinder on the tray."


def test_what_asks_for_nothing_is_left_as_it_is() -> None:
    for said in (
        "It will be knocked over if you go that way.",  # a prediction
        "The lemon can be squashed.",  # a possibility
        "That should be fine.",  # no participle
        "Which one should be moved?",  # a question about the thing
        "The cube is placed in the tray.",  # a description
        "I want the green cube.",  # a wish with no act said
    ):
        assert active(said) == said


def test_a_protocols_task_is_understood(layer: LanguageLayer) -> None:
    layer.forget_question()
    u = layer.understand_task("The beaker is to be deposited in the drawer.", BENCH)
    assert u.decision == "act" and _placed(u) == {("beaker", "cabinet")}, u.question
    u = layer.understand_task("I'd like the lemon put on the tray, please.", BENCH)
    assert u.decision == "act" and _placed(u) == {("lemon", "gray_tray")}, u.question


def test_a_protocols_correction_is_understood(layer: LanguageLayer) -> None:
    layer.forget_question()
    ctx = CorrectionContext(skill="pick", object="beaker", objects=BENCH)
    u = layer.understand_correction("The approach is to be performed more slowly.", ctx)
    assert u.decision == "act" and u.correction.parameters.get("speed", {}).get("scale", 1.0) < 1, u.question


def test_the_person_addressed_is_no_thing() -> None:
    words = {"beaker", "lemon", "tumbler"}
    assert without_address("Right then, into the tray with it, boss.", words) == "Right then, into the tray with it."
    assert without_address("Doctor, close the drawer please", words) == "close the drawer please"
    assert without_address("That's it, cheers, buddy! Now the lemon.", words) == "That's it, cheers! Now the lemon."
    # a way is no person ("down"), a word of the scene is none ("tumbler" is also an acrobat)
    for said in ("Lower, down, down.", "Not the lemon, the tumbler.", "In the tray, please"):
        assert without_address(said, words) == said


def test_a_request_with_a_person_addressed_is_understood(layer: LanguageLayer) -> None:
    layer.forget_question()
    u = layer.understand_task("Shut that drawer for me, sweetheart.", BENCH)
    assert u.decision == "act" and u.atoms == [{"kind": "drawer", "objects": ["cabinet"], "open": False}], u.question
    ctx = CorrectionContext(skill="place", object="lemon", target="gray_tray", objects=BENCH)
    u = layer.understand_correction("That's perfect, captain.", ctx)
    assert u.decision == "act" and u.correction.kind.value == "confirm", u.question


def test_everything_but_the_exceptions_is_placed(layer: LanguageLayer) -> None:
    layer.forget_question()
    u = layer.understand_task("put all the blocks in the tray with the exception of the cylinder", BENCH)
    assert u.decision == "act" and _placed(u) == {("green_cube", "gray_tray")}, u.question
    u = layer.understand_task("everything except the lemon and the beaker goes on the tray", BENCH)
    assert u.decision == "act" and _placed(u) == {("green_cube", "gray_tray"), ("blue_cylinder", "gray_tray")}, (
        u.question
    )


def test_a_command_to_stop_with_an_activity_a_reason_or_everyone_as_subject() -> None:
    from robot_agent.language.verbs import halting

    for said in (
        "Cease all movement until the inspector arrives.",
        "Halt the procedure.",
        "Cease. The tray is cracked.",  # the command on its own, then why
        "Everything pauses here while I fetch the calipers.",
        "We'll stop there for now.",
        "Leave off, leave off!",  # one command said over and over
    ):
        assert halting(said) is not None, said
    # a thing named is no activity; a complaint about stopping is no command; other verbs stay
    for said in ("stop the lemon", "It stops too early.", "We put the beaker down.", "Close it until it clicks."):
        assert halting(said) is None, said


def test_a_stop_said_formally_halts_the_arm(layer: LanguageLayer) -> None:
    layer.forget_question()
    ctx = CorrectionContext(skill="pick", object="beaker", objects=BENCH)
    u = layer.understand_correction("Discontinue the operation pending a check of the gripper.", ctx)
    assert u.decision == "stop", u.question


def test_where_the_arm_is_said_with_way_or_well_is_a_fault() -> None:
    from robot_agent.language.polarity import describes_fault

    assert describes_fault("you're way over to the right")
    assert describes_fault("you are well out to the left there")
    assert not describes_fault("go way over to the right")


def test_a_value_negated_at_its_verb_is_never_acted_on(layer: LanguageLayer) -> None:
    ctx = CorrectionContext(skill="place", object="lemon", target="gray_tray", objects=BENCH)
    for said, sign in (("don't lower it", -1), ("do not raise it any higher", 1), ("never bring it down", -1)):
        layer.forget_question()
        u = layer.understand_correction(said, ctx)
        c = u.correction
        height = (c.parameters or {}).get("place_height", {}).get("add", 0.0) if c is not None else 0.0
        dz = c.delta_m[2] if c is not None and c.delta_m is not None else 0.0
        assert u.decision != "act" or (height * sign <= 0 and dz * sign <= 0), (said, c.describe())


def test_closing_the_drawer_being_filled_is_a_later_step(layer: LanguageLayer) -> None:
    # the scene says the drawer is shut, but the arm is placing into it: it was opened first
    layer.forget_question()
    ctx = CorrectionContext(skill="place", object="lemon", target="cabinet", objects=BENCH)
    u = layer.understand_correction("Afterwards, shut the drawer.", ctx)
    assert u.decision == "act" and u.correction.plan is not None, u.question
    assert u.correction.plan.get("type") == "step" and u.correction.plan["call"]["skill"] == "close", u.correction.plan


def test_one_chosen_among_a_number_is_one(layer: LanguageLayer) -> None:
    two_cubes = [
        object_info("big_cube", "block", "cube", "green", (0.4, 0.16), (0.07, 0.07, 0.07)),
        object_info("small_cube", "block", "cube", "green", (0.5, -0.1), (0.035, 0.035, 0.035)),
        object_info("gray_tray", "tray", "flat", "gray", (0.64, 0.2), (0.2, 0.2, 0.03)),
    ]
    layer.forget_question()
    u = layer.understand_task("the larger of the two green cubes goes on the tray", two_cubes)
    assert u.decision == "act" and _placed(u) == {("big_cube", "gray_tray")}, u.question
    u = layer.understand_task("put both green cubes on the tray", two_cubes)  # a count still counts
    assert u.decision == "act" and _placed(u) == {("big_cube", "gray_tray"), ("small_cube", "gray_tray")}, u.question


def test_what_to_stop_doing_is_no_request_after_the_stop(layer: LanguageLayer) -> None:
    layer.forget_question()
    ctx = CorrectionContext(skill="place", object="lemon", target="gray_tray", objects=BENCH)
    u = layer.understand_correction("stop raising it", ctx)
    assert u.decision == "stop" and u.correction.followup is None, u.correction.describe()
    u = layer.understand_correction("don't bother raising it", ctx)
    c = u.correction
    assert u.decision != "act" or (c.delta_m is None or c.delta_m[2] <= 0), c.describe()


def test_the_thing_in_hand_put_elsewhere_is_this_one_not_a_rule(layer: LanguageLayer) -> None:
    layer.forget_question()
    ctx = CorrectionContext(skill="place", object="beaker", target="cabinet", objects=BENCH)
    u = layer.understand_correction("let's put the beaker on the tray instead", ctx)
    best = u.correction.to_dict() if u.decision == "act" else u.choices[0].meaning
    assert best["plan"]["type"] == "target", best
    # said of a kind, or of always: a rule
    u = layer.understand_correction("from now on glasses always go on the tray", ctx)
    assert u.decision == "ask" or u.correction.plan["type"] == "preference", u.correction.describe()


def test_an_act_judged_and_leave_to_go_on_are_approval() -> None:
    from robot_agent.language.judgement import approval

    assert approval("that approach was excellent") == 1  # the act named is what is judged
    assert approval("you can carry on") == 1
    assert approval("the placement is poor") == -1
    # a word of a correction still makes it one; a verb at the front is a request
    assert approval("the lift is fine, go higher") == 0
    assert approval("grasp it, good") == 0


def test_too_far_after_a_correction_takes_it_back_in_part(layer: LanguageLayer) -> None:
    layer.forget_question()
    ctx = CorrectionContext(skill="pick", object="green_cube", objects=BENCH)
    ctx.last = layer.understand_correction("eight centimetres to the right", ctx).correction
    u = layer.understand_correction("hmm, too far", ctx)
    assert u.decision == "act" and u.correction.delta_m[1] > 0.02, u.question  # back left, half of it


def test_where_a_thing_is_then_where_it_belongs(layer: LanguageLayer) -> None:
    layer.forget_question()
    u = layer.understand_task("The lemon is on the wrong side; it belongs in the drawer.", BENCH)
    assert u.decision == "act" and _placed(u) == {("lemon", "cabinet")}, u.question


def test_another_attempt_said_by_any_noun_for_one_is_a_retry(layer: LanguageLayer) -> None:
    from robot_agent.language.verbs import another_try

    assert another_try("go on, give it another whirl") == "go on, try again"
    assert another_try("give it another push") == "give it another push"  # a push is no attempt
    layer.forget_question()
    ctx = CorrectionContext(skill="pick", object="lemon", objects=BENCH)
    u = layer.understand_correction("take a second stab at that", ctx)
    assert u.decision == "act" and u.correction.plan["type"] == "retry", u.question
