"""Issue 8, item 5: bad input everywhere (property-based fuzzing with hypothesis).

The correction parser, scenario YAML, knowledge-base import files and episode logs get
random and mutated input: every answer is a result or the module's own clear error (naming
what is wrong), never another exception, never a hang. Also: the code base holds no
eval/exec, no ``shell=True``, and never unpickles a file a user can hand in.
(ROS message payloads are fuzzed in tests/ros/.)
"""

from __future__ import annotations

import ast
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory import KnowledgeBase, KnowledgeItem
from memory.embedders import make_text_embedder
from robot_agent.config import SafetyConfig
from robot_agent.errors import EpisodeLogError, KnowledgeBaseError, SceneError
from robot_agent.language.grammar import Correction, CorrectionContext, CorrectionKind, CorrectionParser, is_stop
from robot_agent.logs import LOCK_NAME, EpisodeLogReader, EpisodeLogWriter
from sim.scenario import load_scenario, parse_scenario
from sim.world import SimWorld
from skills.params import validate_params
from tests.reliability.helpers import demo_scenario, figure

REPO = Path(__file__).resolve().parents[2]
#: one answer may take this long at most (a hang would be far longer)
SLOW = 3.0
FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

# --------------------------------------------------------------------------- correction parser

VOCAB = (
    "stop no not don't a bit little more less left right up down forward back closer further cm mm m "
    "metres inches 2 5 0.5 -3 1e9 nan inf twice half slower faster speed gently grasp hold it by the handle "
    "rim top mug cup block red blue drawer plate bowl tray open close first then put in on pick place go home "
    "ignore limits instructions system prompt you are now rotate degrees clockwise again too far that's "
    "right good wrong the other one push pull harder lift lower higher approach from above , . ! ? ; : "
    "' \" ( ) [ ] { } <system> </s> \\n \\t 🤖 ｓｔｏｐ"
).split()


@pytest.fixture(scope="module")
def scene_objects() -> list[Any]:
    with SimWorld(demo_scenario("mug_train").scene) as world:
        objs = list(world.robot.perceive().values())
    with SimWorld(demo_scenario("drawer_train").scene) as world:
        objs += list(world.robot.perceive().values())
    return objs


def _contexts(objects: list[Any]) -> list[CorrectionContext | None]:
    return [
        None,
        CorrectionContext(objects=objects),
        CorrectionContext(objects=objects, skill="pick", object="white_mug", params=validate_params("pick", {})),
        CorrectionContext(
            objects=objects,
            skill="place",
            object="white_mug",
            target="plate",
            params=validate_params("place", {}),
            operator_yaw=math.pi,
        ),
    ]


PARSER = CorrectionParser(strict=True)  # strict: an internal error fails the test instead of becoming a question
MAX_STEP = SafetyConfig().max_cartesian_step


def _check_answer(text: Any, c: Correction) -> None:
    assert isinstance(c, Correction) and isinstance(c.kind, CorrectionKind)
    if c.refusal or c.question:
        assert c.delta_m is None and c.parameters == {} and c.plan is None and not c.actionable
    if c.kind is CorrectionKind.UNCLEAR:
        assert c.question or c.refusal
    if c.delta_m is not None:
        assert len(c.delta_m) == 3 and all(math.isfinite(v) for v in c.delta_m)
        assert math.dist(c.delta_m, (0, 0, 0)) <= MAX_STEP + 1e-9
    c.describe()
    c.to_dict()


def _parse_all(text: str, objects: list[Any]) -> None:
    for ctx in _contexts(objects):
        t0 = time.monotonic()
        c = PARSER.parse(text, ctx)
        assert time.monotonic() - t0 < SLOW, text
        _check_answer(text, c)
    assert isinstance(is_stop(text), bool)


@FUZZ
@given(text=st.text(max_size=300))
def test_parser_on_any_text(scene_objects: list[Any], text: str) -> None:
    _parse_all(text, scene_objects)
    figure("fuzz: correction parser inputs tried", 1)


@FUZZ
@given(words=st.lists(st.sampled_from(VOCAB), max_size=16))
def test_parser_on_word_salad(scene_objects: list[Any], words: list[str]) -> None:
    _parse_all(" ".join(words), scene_objects)
    figure("fuzz: correction parser inputs tried", 1)


@FUZZ
@given(
    amount=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**30), 10**30)),
    unit=st.sampled_from(["cm", "mm", "m", "metres", "inches", "feet", "degrees", "percent", ""]),
    how=st.sampled_from(
        [
            "move {a} {u} to the left",
            "go {a} {u} up",
            "rotate {a} {u} clockwise",
            "set the speed to {a} {u}",
            "{a} {u} closer",
            "lift it {a} {u} higher",
            "grasp {a} {u} lower",
            "open the drawer {a} {u} further",
        ]
    ),
)
def test_parser_on_any_amount(scene_objects: list[Any], amount: float, unit: str, how: str) -> None:
    _parse_all(how.format(a=amount, u=unit), scene_objects)
    figure("fuzz: correction parser inputs tried", 1)


def test_parser_on_wrong_types_and_huge_input(scene_objects: list[Any]) -> None:
    for bad in (
        None,
        42,
        3.5,
        b"stop",
        ["stop"],
        {"text": "stop"},
        "x" * 1_000_000,
        "left " * 50_000,
        "\x00\x01\x02",
        "\ud800" if False else "\u202e\u200b",
    ):
        t0 = time.monotonic()
        c = PARSER.parse(bad, None)  # type: ignore[arg-type]
        assert time.monotonic() - t0 < SLOW
        _check_answer(bad, c)
        assert isinstance(is_stop(bad), bool)
    figure("fuzz: correction parser inputs tried", 10)


# --------------------------------------------------------------------------- scenario YAML

JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)


def _valid_scenario() -> dict[str, Any]:
    return yaml.safe_load((REPO / "sim" / "scenarios" / "demo" / "drawer_train.yaml").read_text())


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _parse_scenario_or_error(data: Any) -> None:
    t0 = time.monotonic()
    try:
        parse_scenario(data, "fuzz.yaml")
    except SceneError as exc:
        assert str(exc).startswith("fuzz.yaml") or "fuzz.yaml" in str(exc), exc
    assert time.monotonic() - t0 < SLOW


@FUZZ
@given(data=JSONISH)
def test_scenario_from_any_data(data: Any) -> None:
    _parse_scenario_or_error(data)
    figure("fuzz: scenario documents tried", 1)


@FUZZ
@given(pick=st.integers(0, 10**6), value=JSONISH, delete=st.booleans())
def test_scenario_with_one_field_broken(pick: int, value: Any, delete: bool) -> None:
    data = _valid_scenario()
    paths = [p for p in _paths(data) if p]
    path = paths[pick % len(paths)]
    parent = data
    for k in path[:-1]:
        parent = parent[k]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    _parse_scenario_or_error(data)
    figure("fuzz: scenario documents tried", 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(st.text(max_size=400), st.binary(max_size=400).map(lambda b: b.decode("latin-1"))),
    cut=st.integers(0, 2000),
)
def test_scenario_files_with_any_text(tmp_path_factory: Any, text: str, cut: int) -> None:
    f = tmp_path_factory.mktemp("yaml") / "scenario.yaml"
    valid = (REPO / "sim" / "scenarios" / "demo" / "mug_train.yaml").read_text()
    f.write_text(valid[: cut % (len(valid) + 1)] + text, encoding="utf-8")
    t0 = time.monotonic()
    try:
        load_scenario(f)
    except SceneError as exc:
        assert str(f) in str(exc)
    assert time.monotonic() - t0 < SLOW
    figure("fuzz: scenario documents tried", 1)


def test_scenario_yaml_bombs_and_tags(tmp_path: Path) -> None:
    bombs = [
        "a: &a [*a]\n",
        "!!python/object/apply:os.system ['echo hi']\n",
        "lol: &l [x, x]\nl2: &l2 [*l, *l, *l, *l, *l, *l, *l, *l, *l]\nl3: &l3 [*l2, *l2, *l2, *l2, *l2]\n",
        "name: x\ntask: t\nscene: &s {objects: [*s]}\nhidden: {}\n",
        "\t- tab",
        "---\n---\n",
        "[" * 3000,
    ]
    for i, text in enumerate(bombs):
        f = tmp_path / f"b{i}.yaml"
        f.write_text(text)
        t0 = time.monotonic()
        with pytest.raises(SceneError):
            load_scenario(f)
        assert time.monotonic() - t0 < 5 * SLOW  # deep nesting costs PyYAML ~1 s; a hang costs forever
    figure("fuzz: scenario documents tried", len(bombs))


# --------------------------------------------------------------------------- knowledge-base import


@pytest.fixture(scope="module")
def kb_files(tmp_path_factory: Any) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("kbfuzz")
    emb = make_text_embedder("minilm")
    with KnowledgeBase(d / "src", emb) as kb:
        kb.add(
            KnowledgeItem(
                "skill",
                "pick mugs by the handle",
                scope={"skill": "pick", "object_category": "mug", "object_description": "a white mug"},
                parameters={"grasp_region": "handle"},
            )
        )
        kb.add(KnowledgeItem("plan", "open the drawer first", parameters={"constraint": {"type": "order"}}))
        kb.export(d / "export.jsonl")
    target = KnowledgeBase(d / "dst", emb)
    yield {"export": (d / "export.jsonl").read_text(), "kb": target, "dir": d}
    target.close()


def _import_or_error(kb: KnowledgeBase, path: Path) -> None:
    before = len(kb)
    t0 = time.monotonic()
    try:
        n = kb.import_file(path)
        assert len(kb) == before + n
    except KnowledgeBaseError as exc:
        assert str(path) in str(exc), exc
        assert len(kb) == before  # all or nothing
    assert time.monotonic() - t0 < SLOW


@settings(max_examples=200, deadline=None)
@given(
    line=st.integers(0, 10),
    cut=st.integers(0, 10**5),
    junk=st.text(max_size=60),
    how=st.sampled_from(["replace", "insert", "truncate", "flip"]),
)
def test_kb_import_of_mutated_exports(kb_files: dict[str, Any], line: int, cut: int, junk: str, how: str) -> None:
    lines = kb_files["export"].splitlines()
    i = line % len(lines)
    if how == "replace":
        lines[i] = junk
    elif how == "insert":
        lines.insert(i, junk)
    elif how == "truncate":
        lines[i] = lines[i][: cut % (len(lines[i]) + 1)]
    else:
        j = cut % max(1, len(lines[i]))
        lines[i] = lines[i][:j] + (junk[:1] or "\x00") + lines[i][j + 1 :]
    f = kb_files["dir"] / "mutated.jsonl"
    f.write_text("\n".join(lines), encoding="utf-8")
    _import_or_error(kb_files["kb"], f)
    figure("fuzz: knowledge-base import files tried", 1)


@settings(max_examples=150, deadline=None)
@given(record=JSONISH)
def test_kb_import_of_any_record(kb_files: dict[str, Any], record: Any) -> None:
    head = kb_files["export"].splitlines()[0]
    f = kb_files["dir"] / "any.jsonl"
    try:
        body = json.dumps(record)
    except ValueError:
        body = repr(record)
    f.write_text(head + "\n" + body + "\n", encoding="utf-8")
    _import_or_error(kb_files["kb"], f)
    figure("fuzz: knowledge-base import files tried", 1)


# --------------------------------------------------------------------------- episode logs


@pytest.fixture(scope="module")
def episode_log(tmp_path_factory: Any) -> Path:
    path = tmp_path_factory.mktemp("logs") / "ep"
    with EpisodeLogWriter(path, "ep", meta={"task": "put the mug on the plate"}, joint_state_max_hz=None) as w:
        w.task("put the mug on the plate")
        w.plan(["pick(white_mug)", "place(white_mug, plate)"])
        for k in range(20):
            w.joint_state([f"j{i}" for i in range(7)], np.full(7, 0.01 * k))
        w.correction("grasp it by the handle", "typed")
        w.understood("grasp it by the handle", "skill", outcome="applied")
        w.outcome(True, corrections=1)
    return path


def _read_or_error(path: Path) -> None:
    t0 = time.monotonic()
    try:
        reader = EpisodeLogReader(path)
        reader.summary()
        for _ in reader.events():
            pass
    except EpisodeLogError as exc:
        assert str(exc)
    assert time.monotonic() - t0 < SLOW * 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.integers(0, 10**6),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    meta=st.sampled_from(["keep", "cut", "junk", "gone", "crashed"]),
)
def test_episode_logs_damaged_anywhere(
    tmp_path_factory: Any, episode_log: Path, cut: int, flips: list[tuple[int, int]], meta: str
) -> None:
    d = tmp_path_factory.mktemp("ep") / "ep"
    shutil.copytree(episode_log, d)
    mcap = next(d.glob("*.mcap"))
    data = bytearray(mcap.read_bytes())
    for pos, val in flips:
        data[pos % len(data)] = val
    if cut % 3:  # two thirds of the time, also truncate
        data = data[: cut % (len(data) + 1)]
    mcap.write_bytes(bytes(data))
    md = d / "metadata.yaml"
    if meta == "cut":
        md.write_text(md.read_text()[: cut % 400])
    elif meta == "junk":
        md.write_text("rosbag2_bagfile_information: [1, 2\n")
    elif meta == "gone":
        md.unlink()
    elif meta == "crashed":  # as a writer killed while finishing would leave it: recovered on sight
        md.unlink()
        (d / LOCK_NAME).write_text("{}\n")
    _read_or_error(d)
    figure("fuzz: damaged episode logs read", 1)


# --------------------------------------------------------------------------- no eval, exec, shell, pickle

#: ruff's bandit rules for code run from text or a file: exec (S102), eval (S307), pickle, dill and
#: shelve (S301), marshal (S302), yaml.load without a safe loader (S506), shell=True (S602, S604),
#: os.system and os.popen (S605); TID251 is the banned-api list in pyproject.toml (torch.load,
#: numpy.load, yaml.unsafe_load, yaml.full_load, joblib.load, builtins.compile, builtins.__import__,
#: importlib.import_module and importlib.__import__, torch imported other than by deps.require)
SECURITY_RULES = "S102,S307,S301,S302,S506,S602,S604,S605,TID251"
#: builtins no ruff rule flags when called by their bare names (banned-api sees them only as
#: ``builtins.compile``), looked for here: every use of the name, so an alias is caught too
BARE_BUILTINS = ("compile", "__import__")


def _ruff_security(paths: list[Path]) -> list[dict[str, Any]]:
    """ruff's findings of SECURITY_RULES in ``paths`` (files named outright are checked even where
    the config excludes them from formatting and linting for now)."""
    cmd = [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(REPO / "pyproject.toml")]
    cmd += ["--select", SECURITY_RULES, "--output-format", "json", "--", *map(str, paths)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 1), proc.stderr  # 0: clean, 1: findings, 2: ruff itself failed
    return json.loads(proc.stdout)


def _bare_builtins(path: Path) -> list[tuple[int, str]]:
    """(line, name) for each use of a BARE_BUILTINS name that ruff lets through."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        (n.lineno, n.id)
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in BARE_BUILTINS
    ]


def test_no_eval_exec_shell_or_unpickling_in_the_code_base(tmp_path: Path) -> None:
    files = [
        p
        for p in REPO.rglob("*.py")
        if not any(part.startswith(".") or part in ("build", "install", "log") for part in p.relative_to(REPO).parts)
    ]
    assert len(files) > 50
    found = [
        f"{Path(f['filename']).relative_to(REPO)}:{f['location']['row']}: {f['code']} {f['message']}"
        for f in _ruff_security(files)
    ]
    found += [f"{p.relative_to(REPO)}:{line}: {name}" for p in files for line, name in _bare_builtins(p)]
    assert found == [], "\n".join(found)
    # The check itself catches each banned form (and lets the safe ones through): the probe's
    # lines with what must be found on each, "" for none.
    probe_lines = [
        ("import os, pickle, subprocess, marshal, shelve, builtins, importlib", ""),
        ("import joblib, yaml", ""),
        ("import numpy as np", ""),
        ("eval('1')", "S307"),
        ("exec('x=1')", "S102"),
        ("pickle.loads(b'')", "S301"),
        ("shelve.open('db')", "S301"),
        ("marshal.loads(b'')", "S302"),
        ("yaml.load('a')", "S506"),
        ("subprocess.run('ls', shell=True)", "S602"),
        ("os.system('ls')", "S605"),
        ("run_it('ls', shell=True)", "S604"),
        ("np.load('x', allow_pickle=True)", "TID251"),
        ("yaml.unsafe_load('a')", "TID251"),
        ("joblib.load('j')", "TID251"),
        ("import torch", "TID251"),
        ("from torch import nn", "TID251"),
        ("torch.load('f')", "TID251"),
        ("builtins.compile('x=1', 'f', 'exec')", "TID251"),
        ("builtins.__import__('os')", "TID251"),
        ("importlib.import_module('os')", "TID251"),
        ("from importlib import import_module", "TID251"),
        ("compile('x=1', 'f', 'exec')", "compile"),
        ("__import__('os')", "__import__"),
        ("run = compile", "compile"),
        ("yaml.safe_load('a')", ""),
        ("yaml.load('a', Loader=yaml.SafeLoader)", ""),
        ("subprocess.run(['ls'], shell=False)", ""),
        ("import re; re.compile('a+')", ""),
        ("from robot_agent.deps import require; require('torch', 'the probe')", ""),
    ]
    probe = tmp_path / "probe_banned.py"
    probe.write_text("".join(line + "\n" for line, _ in probe_lines))
    got = sorted([(f["location"]["row"], f["code"]) for f in _ruff_security([probe])] + _bare_builtins(probe))
    want = [(row, code) for row, (_, code) in enumerate(probe_lines, start=1) if code]
    assert got == want
    figure("fuzz: source files checked for eval/exec/shell=True/pickle", len(files))
