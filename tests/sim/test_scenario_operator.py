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
    op.after_call(Call("open", {"object": "cabinet"}, {"pull_distance": 0.2}), SkillResult(SkillStatus.SUCCEEDED), objs)
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


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda d: d.pop("task"), "task: missing"),
        (lambda d: d.update(split="test"), "split"),
        (lambda d: d["hidden"]["requirements"].append({"type": "telepathy"}), "hidden.requirements[2].type"),
        (
            lambda d: d["hidden"]["requirements"].append(
                {"type": "param_max", "skill": "place", "param": "warp", "value": 1}
            ),
            "hidden.requirements[2].param",
        ),
        (
            lambda d: d["hidden"]["success"].append({"type": "in", "object": "ghost", "target": "cabinet"}),
            "hidden.success[1].object",
        ),
        (lambda d: d["hidden"]["success"].append({"type": True}), "quote"),
    ],
)
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
    from robot_agent.language.grammar import CorrectionContext, CorrectionParser

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
    c = _parse(
        u.text, objs, skill="place", object="yellow_mug", target="gray_rack", params={"place_offset": [0.0, 0.0, 0.0]}
    )
    new = c.parameters["place_offset"]["add"]
    assert new[1] > 0.03 and abs(new[0]) < 1e-9  # +y in the rack's frame
    fixed = Call("place", call.args, {"place_offset": new})
    assert op.before_call(fixed, objs) is None
    assert check_success(sc, objs, [("place", call.args, {"place_offset": [0.0, 0.0, 0.0]})])[1][-1].startswith(
        "place.place_offset"
    )
    assert not [
        w for w in check_success(sc, objs, [("place", call.args, {"place_offset": new})])[1] if "place_offset" in w
    ]


@pytest.mark.parametrize(
    "req, field",
    [
        (
            {"type": "param_near", "skill": "place", "param": "place_offset", "value": [0, 1], "tolerance": 0.05},
            ".value",
        ),
        ({"type": "param_near", "skill": "place", "param": "place_offset", "value": [0, 0.1, 0]}, ".tolerance"),
        ({"type": "stack", "key": "size", "bottom": "middle"}, "bottom"),
    ],
)
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


# -- phrase banks (issue 13) ----------------------------------------------------------------------

from sim.phrases import BUILTIN_BANK, PHRASE_KEYS, PHRASES_DIR, PhraseBankError, load_phrase_bank  # noqa: E402

BANK_B = PHRASES_DIR / "bank_b.yaml"


def _fill(template: str, key: str) -> str:
    return template.format(**{name: f"<{name}>" for name in PHRASE_KEYS[key]})


@pytest.mark.parametrize("path", [BUILTIN_BANK, BANK_B])
def test_shipped_banks_have_every_key_and_valid_placeholders(path: Path) -> None:
    bank = load_phrase_bank(path)
    assert bank.name == path.stem and set(bank.phrases) == set(PHRASE_KEYS)
    for key, templates in bank.phrases.items():
        assert templates, key
        for t in templates:
            _fill(t, key)  # every placeholder is one the operator fills for this key


def test_builtin_phrases_are_bank_a() -> None:
    assert {k: list(v) for k, v in load_phrase_bank("bank_a").phrases.items()} == PHRASES


def test_bank_b_is_worded_apart_from_bank_a() -> None:
    """Bank B has 4+ phrasings per key, none of bank A's sentences and none of its key words."""
    a, b = load_phrase_bank(BUILTIN_BANK), load_phrase_bank(BANK_B)
    avoided = {
        "order_open": ["open"],
        "grasp_region": ["grasp", "pick", "hold", "use the", " by "],
        "max_speed": ["slow"],
        "max_place_height": ["lower", "place it", "set it down", "put it down"],
        "min_pull_distance": ["pull it further", "pull harder", "pull it out", "open"],
        "target": ["goes in", "belongs", "put the"],
        "target_on": ["goes on", "put the"],
        "target_color": ["go in", "belong", "always put"],
        "target_color_on": ["go on", "always put"],
        "stack_largest": ["biggest", "bottom", "big one", "goes on top"],
        "stack_smallest": ["bottom"],
        "near": ["more to the", "further"],
        "near_small": ["a bit more", "further"],
        "avoid": ["go over", "keep away", "avoid"],
        "retry": ["didn't work", "try again"],
    }
    for key in PHRASE_KEYS:
        assert len(b[key]) >= 4, key
        assert not set(a[key]) & set(b[key]), key
        for t in b[key]:
            for word in avoided.get(key, []):
                assert word not in t.lower(), (key, t, word)


def test_no_phrase_of_either_bank_would_stop_the_arm() -> None:
    from robot_agent.language.grammar import is_stop

    kw = {
        "first": "drawer",
        "first_skill": "open",
        "region": "handle",
        "category": "fruit",
        "noun": "apple",
        "target": "bowl",
        "color": "red",
        "plural": "blocks",
        "dir": "left",
        "obj": "glass",
    }
    for path in (BUILTIN_BANK, BANK_B):
        for key, templates in load_phrase_bank(path).phrases.items():
            for t in templates:
                text = t.format(**kw)
                assert not is_stop(text), (path.name, key, text)


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d.update(max_sped=["too fast"]), ["unknown key", "max_sped"]),
        (lambda d: d.pop("avoid"), ["missing key", "avoid"]),
        (lambda d: d.update(avoid=["mind the {thing}"]), ["avoid[0]", "{thing}", "{obj}"]),
        (lambda d: d.update(near=["go {dir} by {amount}"]), ["near[0]", "{amount}"]),
        (lambda d: d.update(near=["go {} please"]), ["near[0]", "placeholder"]),
        (lambda d: d.update(near=["go {dir please"]), ["near[0]", "not a valid template"]),
        (lambda d: d.update(near=["go {dir!r}"]), ["near[0]", "plain"]),
        (lambda d: d.update(grasp_region=["grab it there"]), ["grasp_region[0]", "{region}"]),
        (lambda d: d.update(target=["in the {target} please"]), ["target[0]", "{category} or {noun}"]),
        (lambda d: d.update(max_speed=[]), ["max_speed", "non-empty list"]),
        (lambda d: d.update(max_speed="slower"), ["max_speed", "list"]),
        (lambda d: d.update(max_speed=["slower", 3]), ["max_speed[1]", "string"]),
        (lambda d: d.update(max_speed=["slower", "slower"]), ["max_speed[1]", "twice"]),
    ],
)
def test_a_bad_bank_is_a_clear_error_naming_the_key(tmp_path: Path, edit, words: list[str]) -> None:
    data = yaml.safe_load(BUILTIN_BANK.read_text())
    edit(data)
    p = tmp_path / "mine.yaml"
    p.write_text(yaml.safe_dump(data))
    with pytest.raises(PhraseBankError) as info:
        load_phrase_bank(p)
    for w in [str(p), *words]:
        assert w in str(info.value), (w, str(info.value))


@pytest.mark.parametrize("text, words", [("- just\n- a list\n", ["mapping"]), ("avoid: [unclosed\n", ["cannot read"])])
def test_a_bank_that_is_not_a_mapping_or_not_yaml_is_an_error(tmp_path: Path, text: str, words: list[str]) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(PhraseBankError, match="|".join(words)):
        load_phrase_bank(p)
    with pytest.raises(PhraseBankError, match="no such phrase bank.*bank_a, bank_b"):
        load_phrase_bank(tmp_path / "absent.yaml")


def test_operator_speaks_from_the_given_bank_seeded() -> None:
    sc = load_scenario(DEMO / "mug_train.yaml")
    objs = {o.name: o for o in sc.objects}
    bank = load_phrase_bank(BANK_B)
    call = Call("pick", {"object": "white_mug"}, {"grasp_region": "center"})
    said = lambda seed: SimulatedOperator(sc, seed=seed, phrases=bank).before_call(call, objs).text  # noqa: E731
    allowed = {t.format(region="handle") for t in bank["grasp_region"]}
    texts = [said(s) for s in range(30)]
    assert set(texts) <= allowed and len(set(texts)) > 2
    assert [said(s) for s in range(30)] == texts  # seeded
    assert not set(texts) & {t.format(region="handle") for t in PHRASES["grasp_region"]}


def test_operator_module_imports_nothing_of_the_agent() -> None:
    import ast

    import sim.operator

    tree = ast.parse(Path(sim.operator.__file__).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert names and not [m for m in names if m.split(".")[0] == "robot_agent"], names


# -- answering the robot's clarifying questions ---------------------------------------------------


def _skill(skill: str, obj: str, **params: dict) -> dict:
    return {"kind": "skill", "delta_m": None, "parameters": params, "skill": skill, "object": obj, "plan": None}


def _plan(plan: dict) -> dict:
    return {"kind": "plan", "delta_m": None, "parameters": {}, "skill": None, "object": None, "plan": plan}


def _choices(*meanings: dict) -> list[dict]:
    return [
        {"label": f"meaning {i}", "canonical": f"meaning {i}", "score": 0.5, "meaning": m}
        for i, m in enumerate(meanings, 1)
    ]


def _op(path: Path, call: Call, seed: int = 0) -> tuple[SimulatedOperator, dict]:
    sc = load_scenario(path)
    objs = {o.name: o for o in sc.objects}
    op = SimulatedOperator(sc, seed=seed)
    assert op.before_call(call, objs) is not None  # it said something: a requirement is pending
    return op, objs


def test_answer_picks_the_grasp_region_it_asked_for() -> None:
    op, _ = _op(DEMO / "mug_train.yaml", Call("pick", {"object": "white_mug"}, {"grasp_region": "center"}))
    u = op.answer(
        "Do you mean: 1. grasp it by the rim, 2. grasp it by the handle?",
        _choices(
            _skill("pick", "white_mug", grasp_region={"set": "rim"}),
            _skill("pick", "white_mug", grasp_region={"set": "handle"}),
        ),
    )
    assert u is not None and u.text == "2" and u.when == "answer" and u.requirement["type"] == "grasp_region"
    assert op.corrections() == 1 and op.answers == [u]  # a reply by number is not another correction


def test_answer_judges_a_speed_change_by_the_value_it_gives() -> None:
    """Placing a glass needs speed <= 0.3 from 0.5: x0.75 gives 0.375 (not enough), x0.5 gives 0.25."""
    call = Call("place", {"object": "glass", "target": "plate"}, {"speed": 0.5, "place_height": 0.01})
    op, _ = _op(PUBLIC / "fragile" / "fragile_train_1.yaml", call)
    assert op.pending.requirement["param"] == "speed"
    faster, bit, half = (_skill("place", "glass", speed={"scale": s}) for s in (1.5, 0.75, 0.5))
    assert op.answer("Do you mean?", _choices(faster, bit, half)).text == "3"
    op, _ = _op(PUBLIC / "fragile" / "fragile_train_1.yaml", call)
    assert op.answer("Do you mean?", _choices(_skill(None, None, speed={"set": 0.2}), bit)).text == "1"


def test_answer_judges_a_pull_distance_and_ignores_plan_changes() -> None:
    op, _ = _op(DEMO / "drawer_train.yaml", Call("open", {"object": "cabinet"}, {"pull_distance": 0.15}))
    u = op.answer(
        "Do you mean: 1. open the drawer first, 2. pull it a bit further, 3. pull it further?",
        _choices(
            _plan({"type": "order", "first": {"skill": "open", "object": "cabinet", "target": None}, "then": None}),
            _skill("open", "cabinet", pull_distance={"add": 0.01}),
            _skill("open", "cabinet", pull_distance={"add": 0.05}),
        ),
    )
    assert u.text == "3"  # 0.15 + 0.05 reaches the hidden 0.18; 0.16 does not


def test_answer_picks_the_step_order_it_asked_for() -> None:
    op, _ = _op(DEMO / "drawer_train.yaml", Call("place", {"object": "red_block", "target": "cabinet"}))
    first_open = {"skill": "open", "object": "cabinet", "target": None, "description": "open the drawer"}
    u = op.answer(
        "Do you mean: 1. close the drawer next, 2. open the drawer first?",
        _choices(
            _plan({"type": "step", "call": {**first_open, "skill": "close"}, "position": "next"}),
            _plan({"type": "order", "first": first_open, "then": None}),
        ),
    )
    assert u.text == "2" and u.requirement["type"] == "order"
    op, _ = _op(DEMO / "drawer_train.yaml", Call("place", {"object": "red_block", "target": "cabinet"}))
    assert (
        op.answer(
            "?",
            _choices(
                _skill("place", "red_block", speed={"scale": 0.5}),
                _plan({"type": "step", "call": first_open, "position": "next"}),
            ),
        ).text
        == "2"
    )


def test_answer_picks_the_right_destination_and_rule() -> None:
    op, _ = _op(PUBLIC / "fruit_bowl" / "fruit_bowl_train_1.yaml", Call("place", {"object": "apple", "target": "tray"}))
    u = op.answer(
        "Where should it go: 1. the tray, 2. the bowl?",
        _choices(
            _plan({"type": "preference", "selector": {"category": "fruit"}, "target": "tray", "relation": "in"}),
            _plan(
                {"type": "target", "role": "destination", "object": "apple", "destination": "bowl", "relation": "in"}
            ),
        ),
    )
    assert u.text == "2"
    # A colour rule: the rule must name the colour and the right bin.
    sc_path = PUBLIC / "sorting" / "sorting_novel_2.yaml"  # red blocks go in bin_right
    op, _ = _op(sc_path, Call("place", {"object": "crimson_block", "target": "bin_left"}))
    rule = lambda sel, target: _plan({"type": "preference", "selector": sel, "target": target})  # noqa: E731
    u = op.answer(
        "Which rule?",
        _choices(
            rule({"color": "green", "category": "block"}, "bin_right"),
            rule({"category": "block"}, "bin_right"),
            rule({"color": "red", "category": "block"}, "bin_left"),
            rule({"color": "red", "category": "block"}, "bin_right"),
        ),
    )
    assert u.text == "4"


def test_answer_when_nothing_fits_says_it_again_in_other_words_at_most_twice() -> None:
    op, _ = _op(DEMO / "mug_train.yaml", Call("pick", {"object": "white_mug"}, {"grasp_region": "center"}))
    first = op.said[-1].text
    wrong = _choices(
        _skill("pick", "white_mug", grasp_region={"set": "rim"}), _skill("pick", "white_mug", speed={"scale": 0.5})
    )
    bank = {t.format(region="handle") for t in PHRASES["grasp_region"]}
    again = op.answer("Do you mean: 1. by the rim, 2. slower?", wrong)
    assert again is not None and again.text in bank and again.text != first and again.when == "answer"
    assert op.corrections() == 2  # said again: it counts as a correction
    third = op.answer("Do you mean: 1. by the rim, 2. slower?", wrong)
    assert third is not None and third.text in bank and third.text not in (first, again.text)
    # Two replies about the grasp: a third question about it gets none, even a fitting one.
    assert op.answer("?", _choices(_skill("pick", "white_mug", grasp_region={"set": "handle"}))) is None


def test_answer_without_anything_pending_is_silence() -> None:
    sc = load_scenario(DEMO / "mug_train.yaml")
    objs = {o.name: o for o in sc.objects}
    op = SimulatedOperator(sc, seed=0)
    choice = _choices(_skill("pick", "white_mug", grasp_region={"set": "handle"}))
    assert op.answer("Do you mean: 1. grasp it by the handle?", choice) is None
    # After the corrected pick is done right, the correction is no longer pending.
    assert op.before_call(Call("pick", {"object": "white_mug"}, {"grasp_region": "center"}), objs) is not None
    assert op.before_call(Call("pick", {"object": "white_mug"}, {"grasp_region": "handle"}), objs) is None
    assert op.pending is None and op.answer("Do you mean: 1. grasp it by the handle?", choice) is None


def test_answer_a_task_question_from_the_hidden_success_conditions() -> None:
    sc = load_scenario(PUBLIC / "fruit_bowl" / "fruit_bowl_train_1.yaml")  # success: apple in bowl
    op = SimulatedOperator(sc, seed=0)
    at = lambda objs, tgts: {"kind": "at", "objects": objs, "targets": tgts}  # noqa: E731
    task = lambda *atoms: {"atoms": list(atoms)}  # noqa: E731
    u = op.answer(
        "Do you mean: 1. put the apple on the tray, 2. put the apple in the bowl?",
        _choices(task(at(["apple"], ["tray"])), task(at(["apple"], ["bowl"]))),
    )
    assert u.text == "2" and u.when == "answer" and u.requirement["type"] == "task"
    # Pinning the apple to the bowl beats allowing the bowl or the tray; either beats the tray alone.
    assert op.answer("?", _choices(task(at(["apple"], ["bowl", "tray"])), task(at(["apple"], ["bowl"])))).text == "2"
    assert op.answer("?", _choices(task(at(["apple"], ["tray"])), task(at(["apple"], ["bowl", "tray"])))) is None  # 3rd
    op = SimulatedOperator(sc, seed=0)
    assert op.answer("?", _choices(task(at(["apple"], ["tray"])), task(at(["bowl"], ["tray"])))) is None
    assert op.answer("?", _choices(task(at(["apple"], ["tray"])), task(at(["apple"], ["bowl", "tray"])))).text == "2"
    # Two conditions: both must be met, and nothing else moved.
    sc = load_scenario(PUBLIC / "sorting" / "sorting_novel_2.yaml")  # crimson -> bin_right, lime -> bin_left
    op = SimulatedOperator(sc, seed=0)
    swapped = task(at(["crimson_block"], ["bin_left"]), at(["lime_block"], ["bin_right"]))
    right = task(at(["crimson_block"], ["bin_right"]), at(["lime_block"], ["bin_left"]))
    half = task(at(["crimson_block"], ["bin_right"]))
    assert op.answer("?", _choices(swapped, half, right)).text == "3"


def test_answer_understands_what_the_parser_makes_of_bank_a() -> None:
    """The operator judges the parser's real output: every bank A phrasing of the requirement it
    voiced, parsed in context, is a choice it would pick."""
    cases = [
        (DEMO / "mug_train.yaml", Call("pick", {"object": "white_mug"}, {"grasp_region": "center"})),
        (DEMO / "drawer_train.yaml", Call("open", {"object": "cabinet"}, {"pull_distance": 0.15})),
        (DEMO / "drawer_train.yaml", Call("place", {"object": "red_block", "target": "cabinet"})),
        (
            PUBLIC / "fragile" / "fragile_train_1.yaml",
            Call("place", {"object": "glass", "target": "plate"}, {"speed": 0.5, "place_height": 0.01}),
        ),
        (
            PUBLIC / "fragile" / "fragile_train_1.yaml",
            Call("place", {"object": "glass", "target": "plate"}, {"speed": 0.2, "place_height": 0.05}),
        ),
        (PUBLIC / "fruit_bowl" / "fruit_bowl_train_1.yaml", Call("place", {"object": "apple", "target": "tray"})),
        (PUBLIC / "stacking" / "stacking_train_1.yaml", Call("place", {"object": "red_block", "target": "blue_block"})),
        (
            PUBLIC / "shelf_side" / "shelf_side_train_1.yaml",
            Call("place", {"object": "white_mug", "target": "shelf"}, {"place_offset": [0.0, 0.0, 0.0]}),
        ),
    ]
    for path, call in cases:
        op, objs = _op(path, call)
        p = op.pending
        for template in PHRASES[p.key]:
            meaning = _parse(
                template.format(**p.kw),
                objs,
                skill=call.skill,
                object=call.args.get("object"),
                target=call.args.get("target"),
                params=call.params,
            ).to_dict()
            op._answered.clear()
            u = op.answer("Do you mean?", _choices(_skill("pick", None, speed={"scale": 2.0}), meaning))
            assert u is not None and u.text == "2", (path.name, template, meaning["summary"])
