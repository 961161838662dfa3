"""People thinking aloud at a bench, learners of English and an engineer at a demo (batches 22 and
23 of the corpus showed the gaps; every sentence here is written for this test): a quantifier
floated after things joined by "and" keeps them all; articles a learner leaves out are put back;
an axis said without its sign is its positive way; "to the front" is forward; "half of that, same
direction" goes on, where "half that" alone takes half back; "hands off" halts; the drawer step
being run, said not to ("don't close it"), is forbidden and never pushed further. Real grammar,
WordNet and the embedded sentence model (MiniLM)."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.checks import with_articles, without_floating
from robot_agent.language.grammar import CorrectionContext, CorrectionKind, CorrectionParser, is_stop
from sim.catalog import object_info

BENCH = [
    object_info("red_mug", "mug", "standard", "red", (0.36, 0.2), (0.08, 0.08, 0.1)),
    object_info("white_mug", "mug", "standard", "white", (0.44, 0.02), (0.08, 0.08, 0.1)),
    object_info("lemon", "fruit", "lemon", "yellow", (0.40, -0.18), (0.07, 0.05, 0.05)),
    object_info("tray", "tray", "flat", "black", (0.64, 0.18), (0.24, 0.18, 0.02)),
    object_info("cabinet", "cabinet", "drawer", "wood", (0.7, -0.1), (0.3, 0.4, 0.3)),
]


def _placed(u) -> set[tuple[str, str]]:
    return {(o, t) for a in u.atoms if a["kind"] == "at" for o in a["objects"] for t in a["targets"]}


def test_a_quantifier_floated_after_joined_things_keeps_them_all(layer: LanguageLayer) -> None:
    assert without_floating("the lemon and the red mug, both of them, in the drawer") == (
        "the lemon and the red mug in the drawer"
    )
    assert without_floating("all the mugs on the tray") == "all the mugs on the tray"  # nothing joined
    u = layer.understand_task("the red mug and the white mug, the two of them in the drawer", BENCH)
    assert u.decision == "act" and _placed(u) == {("red_mug", "cabinet"), ("white_mug", "cabinet")}, u.question


def test_articles_left_out_are_put_back(layer: LanguageLayer) -> None:
    assert with_articles("red mug on tray, lemon in drawer", BENCH) == "red mug on the tray, lemon in the drawer"
    assert with_articles("put it on top of the tray", BENCH) == "put it on top of the tray"
    u = layer.understand_task("white mug and lemon, both in drawer", BENCH)
    assert u.decision == "act" and _placed(u) == {("white_mug", "cabinet"), ("lemon", "cabinet")}, u.question


@pytest.mark.parametrize(
    ("said", "axis", "metres"),
    [("you're 3 mm short in x", 0, 0.003), ("2 cm along the z axis", 2, 0.02), ("in the y direction, 4 mm", 1, 0.004)],
)
def test_an_axis_without_a_sign_is_its_positive_way(said: str, axis: int, metres: float) -> None:
    c = CorrectionParser().parse(said, CorrectionContext(skill="move_by", objects=BENCH))
    assert c.kind is CorrectionKind.SKILL and c.delta_m is not None, c.question
    assert c.delta_m[axis] == pytest.approx(metres) and sum(abs(v) for v in c.delta_m) == pytest.approx(metres)


def test_a_thing_called_x_is_no_axis() -> None:
    c = CorrectionParser().parse("put it in the x", CorrectionContext(skill="move_by", objects=BENCH))
    assert not (c.delta_m and c.delta_m[0] > 0)


def test_to_the_front_is_forward_unless_it_is_the_front_of_something() -> None:
    ctx = CorrectionContext(skill="place", object="lemon", target="tray", objects=BENCH)
    c = CorrectionParser().parse("1,5 cm to the front", ctx)
    assert c.delta_m is not None and c.delta_m[0] == pytest.approx(0.015), c.question
    c = CorrectionParser().parse("to the front of the tray", ctx)
    assert not (c.delta_m and c.delta_m[0] > 0 and not c.delta_m[1])


def test_half_of_that_the_same_way_goes_on_where_half_that_takes_back() -> None:
    parser = CorrectionParser()
    ctx = CorrectionContext(skill="move_by", objects=BENCH)
    ctx.last = parser.parse("down 4 cm", ctx)
    on = parser.parse("now half of that, in the same direction", ctx)
    assert on.delta_m is not None and on.delta_m[2] == pytest.approx(-0.02), on.question
    back = parser.parse("half that", ctx)
    assert back.delta_m is not None and back.delta_m[2] == pytest.approx(0.02), back.question


@pytest.mark.parametrize("said", ["hands off!", "no no, hands off, it's still wet"])
def test_hands_off_halts(said: str) -> None:
    assert is_stop(said)


@pytest.mark.parametrize("said", ["don't close it", "don't shut it, my hand is still in there"])
def test_the_running_step_negated_is_forbidden_not_pushed_further(layer: LanguageLayer, said: str) -> None:
    ctx = CorrectionContext(skill="close", object="cabinet", objects=BENCH)
    layer.prepare([ctx])
    u = layer.understand_correction(said, ctx)
    c = u.correction
    assert c is not None and not c.parameters, c  # never a further push of the drawer
    if u.decision == "act":
        assert c.plan is not None and c.plan["type"] == "forbid" and c.plan["call"]["skill"] == "close", c.plan
    else:
        assert u.decision in ("ask", "stop"), u.decision
