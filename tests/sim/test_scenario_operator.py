"""Scenarios and the simulated operator: hidden requirements stay hidden, violations get corrections."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from robot_agent.errors import SceneError
from sim.operator import PHRASES, SimulatedOperator, check_success
from sim.scenario import SCENARIOS_DIR, load_scenario, load_suite
from skills.result import SkillResult, SkillStatus

DEMO = SCENARIOS_DIR / "demo"


@dataclass
class Call:
    skill: str
    args: dict
    params: dict = field(default_factory=dict)


def test_demo_scenarios_load_with_train_and_novel() -> None:
    suite = load_suite(DEMO)
    fams = {}
    for s in suite:
        fams.setdefault(s.family, set()).add(s.split)
    assert fams == {"drawer": {"train", "novel"}, "mug": {"train", "novel"}}


def test_public_view_hides_requirements() -> None:
    sc = load_scenario(DEMO / "drawer_train.yaml")
    pub = sc.public()
    assert set(pub) == {"name", "task", "scene"}
    assert "requirements" not in str(pub) and "hidden" not in str(pub)


def test_operator_corrects_order_violation_and_then_stays_quiet() -> None:
    sc = load_scenario(DEMO / "drawer_train.yaml")
    objs = {o.name: o for o in sc.objects}
    op = SimulatedOperator(sc, seed=1)
    place = Call("place", {"object": "red_block", "target": "cabinet"})
    u = op.before_call(place, objs)
    assert u is not None and "open" in u.text and "drawer" in u.text and u.when == "before"
    assert u.text in [p.format(first="drawer", first_skill="open") for p in PHRASES["order_open"]]
    op.after_call(Call("open", {"object": "cabinet"}, {"pull_distance": 0.2}),
                  SkillResult(SkillStatus.SUCCEEDED), objs)
    assert op.before_call(place, objs) is None


def test_operator_parameter_requirements() -> None:
    sc = load_scenario(DEMO / "drawer_train.yaml")
    objs = {o.name: o for o in sc.objects}
    op = SimulatedOperator(sc, seed=0)
    u = op.before_call(Call("open", {"object": "cabinet"}, {"pull_distance": 0.15}), objs)
    assert u is not None and u.requirement["param"] == "pull_distance"
    assert op.before_call(Call("open", {"object": "cabinet"}, {"pull_distance": 0.2}), objs) is None
    mug = load_scenario(DEMO / "mug_train.yaml")
    mobjs = {o.name: o for o in mug.objects}
    op = SimulatedOperator(mug, seed=0)
    assert op.before_call(Call("pick", {"object": "white_mug"}, {"grasp_region": "center"}), mobjs) is not None
    assert op.before_call(Call("pick", {"object": "white_mug"}, {"grasp_region": "handle"}), mobjs) is None


def test_phrase_choice_is_seeded() -> None:
    sc = load_scenario(DEMO / "mug_train.yaml")
    objs = {o.name: o for o in sc.objects}
    call = Call("pick", {"object": "white_mug"}, {"grasp_region": "center"})
    seq = lambda seed: [SimulatedOperator(sc, seed=seed).before_call(call, objs).text for _ in range(1)]  # noqa: E731
    assert seq(3) == seq(3)
    texts = {SimulatedOperator(sc, seed=s).before_call(call, objs).text for s in range(20)}
    assert len(texts) > 1  # several phrasings are used


def test_operator_cap() -> None:
    sc = load_scenario(DEMO / "mug_train.yaml")
    objs = {o.name: o for o in sc.objects}
    op = SimulatedOperator(sc, seed=0, cap=2)
    call = Call("pick", {"object": "white_mug"}, {"grasp_region": "center"})
    assert op.before_call(call, objs) and op.before_call(call, objs)
    assert op.before_call(call, objs) is None and op.exhausted


def test_check_success_uses_hidden_requirements() -> None:
    sc = load_scenario(DEMO / "mug_train.yaml")
    objs = {o.name: o for o in sc.objects}
    ok, why = check_success(sc, objs, [])
    assert not ok and "not on plate" in why[0]
    from skills.types import Pose

    objs["white_mug"].pose = Pose((objs["plate"].pose.position[0], objs["plate"].pose.position[1], 0.015))
    assert check_success(sc, objs, [("pick", {"object": "white_mug"}, {"grasp_region": "handle"})]) == (True, [])
    ok, why = check_success(sc, objs, [("pick", {"object": "white_mug"}, {"grasp_region": "center"})])
    assert not ok and "handle" in why[0]


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d.pop("task"), "task: missing"),
    (lambda d: d.update(split="test"), "split"),
    (lambda d: d["hidden"]["requirements"].append({"type": "telepathy"}), "hidden.requirements[2].type"),
    (lambda d: d["hidden"]["requirements"].append({"type": "param_max", "skill": "place", "param": "warp",
                                                  "value": 1}), "hidden.requirements[2].param"),
    (lambda d: d["hidden"]["success"].append({"type": "in", "object": "ghost", "target": "cabinet"}),
     "hidden.success[1].object"),
    (lambda d: d["hidden"]["success"].append({"type": True}), "quote"),
])
def test_scenario_errors_name_file_and_field(tmp_path: Path, mutate, field: str) -> None:
    data = yaml.safe_load((DEMO / "drawer_train.yaml").read_text())
    mutate(data)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(SceneError) as info:
        load_scenario(p)
    assert str(p) in str(info.value) and field in str(info.value), str(info.value)


# -- the public suite's requirement kinds (issue 7) ------------------------------------------------

PUBLIC = SCENARIOS_DIR / "public"


def _parse(text: str, objs: dict, **ctx):  # noqa: ANN003, ANN202 - a thin helper
    from robot_agent.corrections import CorrectionContext, CorrectionParser

    return CorrectionParser().parse(text, CorrectionContext(objects=list(objs.values()), **ctx))


def test_stacking_order_is_corrected_in_words_the_parser_understands() -> None:
    sc = load_scenario(PUBLIC / "stacking" / "stacking_train_1.yaml")  # red 5 cm cube, blue 3.5 cm cube
    objs = {o.name: o for o in sc.objects}
    for seed in range(6):
        op = SimulatedOperator(sc, seed=seed)
        u = op.before_call(Call("place", {"object": "red_block", "target": "blue_block"}), objs)
        assert u is not None and u.requirement["type"] == "stack"
        assert _parse(u.text, objs).plan == {"type": "stack", "key": "size", "bottom": "largest"}, u.text
        assert op.before_call(Call("place", {"object": "blue_block", "target": "red_block"}), objs) is None


def test_colour_rule_names_the_bin_by_colour_and_parses_to_a_preference() -> None:
    sc = load_scenario(PUBLIC / "sorting" / "sorting_novel_2.yaml")  # bin_left yellow, bin_right blue
    objs = {o.name: o for o in sc.objects}
    op = SimulatedOperator(sc, seed=0)
    u = op.before_call(Call("place", {"object": "crimson_block", "target": "bin_left"}), objs)
    assert u is not None and "red blocks" in u.text and "blue tray" in u.text
    plan = _parse(u.text, objs).plan
    assert plan["type"] == "preference" and plan["selector"] == {"color": "red", "category": "block"}
    assert plan["target"] == "bin_right"
    assert op.before_call(Call("place", {"object": "crimson_block", "target": "bin_right"}), objs) is None
    # the other colour's rule is its own requirement
    assert op.before_call(Call("place", {"object": "lime_block", "target": "bin_right"}), objs) is not None


def test_side_of_a_turned_rack_is_said_in_the_operators_frame() -> None:
    """The rack is turned 180 degrees: its +y side (the wanted one) is the operator's right. The
    parser turns "right" back into +y in the rack's frame, so one correction fixes the offset."""
    sc = load_scenario(PUBLIC / "shelf_side" / "shelf_side_novel_2.yaml")
    objs = {o.name: o for o in sc.objects}
    op = SimulatedOperator(sc, seed=0)
    call = Call("place", {"object": "yellow_mug", "target": "gray_rack"}, {"place_offset": [0.0, 0.0, 0.0]})
    u = op.before_call(call, objs)
    assert u is not None and "right" in u.text
    c = _parse(u.text, objs, skill="place", object="yellow_mug", target="gray_rack",
               params={"place_offset": [0.0, 0.0, 0.0]})
    new = c.parameters["place_offset"]["add"]
    assert new[1] > 0.03 and abs(new[0]) < 1e-9  # +y in the rack's frame
    fixed = Call("place", call.args, {"place_offset": new})
    assert op.before_call(fixed, objs) is None
    assert check_success(sc, objs, [("place", call.args, {"place_offset": [0.0, 0.0, 0.0]})])[1][-1].startswith(
        "place.place_offset")
    assert not [w for w in check_success(sc, objs, [("place", call.args, {"place_offset": new})])[1]
                if "place_offset" in w]


@pytest.mark.parametrize("req, field", [
    ({"type": "param_near", "skill": "place", "param": "place_offset", "value": [0, 1], "tolerance": 0.05}, ".value"),
    ({"type": "param_near", "skill": "place", "param": "place_offset", "value": [0, 0.1, 0]}, ".tolerance"),
    ({"type": "stack", "key": "size", "bottom": "middle"}, "bottom"),
])
def test_new_requirement_kinds_are_validated(tmp_path: Path, req: dict, field: str) -> None:
    data = yaml.safe_load((DEMO / "drawer_train.yaml").read_text())
    data["hidden"]["requirements"].append(req)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(SceneError, match=r"hidden.requirements\[2\]"):
        load_scenario(p)
    with pytest.raises(SceneError) as info:
        load_scenario(p)
    assert field in str(info.value)
