"""Measuring the understanding layer on a labelled corpus (``sim/corpus/understanding.yaml``).

The corpus holds operator utterances, each in its scene and (for corrections) its skill context,
with the meaning a person intends. It is written independently of the grammar's word lists, so it
measures what the layer understands, not what the grammar was written for.

Expected meanings (``expect``):

* a task: ``{goal: [atom, ...]}`` with atoms ``{at: [OBJ, TARGET]}``, ``{holding: OBJ}``,
  ``{drawer: [CABINET, open|closed]}``, ``{pushed: OBJ}``, ``{home: true}``; OBJ or TARGET may be a
  list of acceptable alternatives. Or ``{kind: unclear}`` (names what is not there, or impossible).
* a correction: ``{kind: stop}``, ``{kind: confirm}``, ``{kind: unclear}``, ``{kind: refuse}``;
  ``{kind: skill, direction: D | [D, ...], amount_m: A}`` (operator behind the robot: forward = +x,
  left = +y, up = +z); ``{kind: skill, param: NAME, change: increase|decrease}``,
  ``{kind: skill, param: NAME, value: V}`` (optionally ``amount_m``: the size of the change);
  ``{kind: plan, type: TYPE, ...fields}``: the fields given must be in the plan (a list = any of
  them); fields not given are free.
* ``ambiguous: true``: a clarifying question is right too, and ``expect`` may list several meanings.

How an :class:`~robot_agent.language.types.Understanding` is judged (:func:`matches`):

* ``unclear`` and ``refuse`` items: right when the layer asks or refuses (nothing moves);
* ``stop`` items: right when the decision is ``stop``. A stop on any other item is wrong (the
  agent halts and ends the task), except when the words after it ask for the item's meaning
  ("hang on, open the drawer first"): the agent then holds the arm and asks "Shall I do that and
  go on?", so the item counts as asked, neither right nor wrong;
* everything else: right when the decision is ``act`` and the meaning fits. A task's atoms are
  compared as a multiset, order-insensitive; each atom's objects must be a non-empty subset of the
  alternatives; opening a drawer that something is put into is implied, said or not. A direction
  is read from ``delta_m`` (or a push's ``direction``): the signs on the
  named axes, little on the others, ``amount_m`` within 30%. A parameter change is judged by its
  sign against the current value (``CorrectionContext.params``, else the skill's defaults). A plan
  must be of the type and hold the given fields; "X first" (``order``) and "do X next" (``step``)
  count as the same meaning.

Metrics (:func:`summarize`), per kind of right answer (task, skill, plan, stop, confirm, unclear,
refuse) and overall: accuracy, confidently wrong (acted or stopped on a wrong meaning, or acted on
an unclear/refuse item), asked, silent failures (neither an act nor a question or reason), and
latency p50/p95.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sim
from robot_agent.errors import SceneError
from robot_agent.language.grammar import CorrectionContext, CorrectionKind
from robot_agent.language.types import DECISIONS, Understanding
from skills.params import SKILL_ARGS, SKILL_PARAMS, default_params

DEFAULT_CORPUS = Path(sim.__file__).resolve().parent / "corpus" / "understanding.yaml"
#: kinds of right answer, in table order
CATEGORIES = ("task", "skill", "plan", "stop", "confirm", "unclear", "refuse")
CORRECTION_KINDS = ("stop", "confirm", "unclear", "refuse", "skill", "plan")
PLAN_TYPES = ("order", "step", "target", "preference", "avoid", "forbid", "sort", "stack", "retry", "constraint")
#: operator direction -> (base axis, sign), the operator standing behind the robot
DIRECTIONS = {"forward": (0, 1), "back": (0, -1), "left": (1, 1), "right": (1, -1), "up": (2, 1), "down": (2, -1)}
DEV_PERCENT = 40
#: relative tolerance of explicit amounts and numeric values
TOLERANCE = 0.30
# t/c, then four digits, or a batch letter and three digits (t0001, ca042)
_ID = re.compile(r"^[tc](?:\d{4}|[a-z]\d{3})$")
_NAME_KEYS = ("object", "destination", "target", "replaces")


class CorpusError(SceneError):
    """The corpus file is malformed; the message names the file, the item and the field."""


def split_for(item_id: str) -> str:
    """The fixed split of an item: ``dev`` for about 40% of ids (by a hash of the id), else ``test``."""
    h = int(hashlib.sha256(item_id.encode("utf-8")).hexdigest()[:8], 16)
    return "dev" if h % 100 < DEV_PERCENT else "test"


@dataclass(frozen=True)
class Item:
    """One labelled utterance.

    Attributes:
        expect: the acceptable meanings (one, or several for an ambiguous item).
        context: for corrections: ``skill``, ``object``, ``target``, ``last``, ``task``.
    """

    id: str
    split: str
    kind: str
    scene: str
    text: str
    tags: tuple[str, ...]
    expect: tuple[dict[str, Any], ...]
    ambiguous: bool = False
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        """The kind of right answer: ``task`` (a goal), a correction kind, or ``unclear``."""
        first = self.expect[0]
        if self.kind == "task":
            return "unclear" if first.get("kind") == "unclear" else "task"
        return str(first["kind"])


@dataclass
class Corpus:
    """A validated corpus: scenes by name and items in file order."""

    path: Path
    scenes: dict[str, Any]
    items: list[Item]
    _objects: dict[str, list[Any]] = field(default_factory=dict, repr=False)

    def objects(self, scene: str) -> list[Any]:
        """The scene's objects as :class:`skills.types.ObjectInfo` (declared poses, catalog parts)."""
        if scene not in self._objects:
            self._objects[scene] = scene_objects(self.scenes[scene])
        return self._objects[scene]

    def select(self, split: str = "all") -> list[Item]:
        """The items of ``dev``, ``test`` or ``all``."""
        if split not in ("dev", "test", "all"):
            raise ValueError(f"split must be dev, test or all, got {split!r}")
        return [it for it in self.items if split == "all" or it.split == split]


def scene_objects(spec: Any) -> list[Any]:
    """ObjectInfo for a :class:`sim.scene.SceneSpec`, as :attr:`sim.scenario.Scenario.objects` builds them."""
    from sim.catalog import geometry
    from skills.types import ObjectInfo

    out = []
    for o in spec.objects:
        geo = geometry(o.type, o.shape, o.size)
        out.append(
            ObjectInfo(
                o.name, o.type, o.pose, o.size, o.color, o.shape, dict(o.state), {**geo.parts, **geo.drawer_parts}
            )
        )
    return out


# --------------------------------------------------------------------------- loading


def _footprint(o: Any) -> tuple[float, float, float, float]:
    c, s = abs(math.cos(o.pose.yaw)), abs(math.sin(o.pose.yaw))
    hx = (c * o.size[0] + s * o.size[1]) / 2
    hy = (s * o.size[0] + c * o.size[1]) / 2
    x, y = o.pose.position[0], o.pose.position[1]
    return x - hx, x + hx, y - hy, y + hy


def _check_overlaps(spec: Any, where: str) -> None:
    boxes = [(o.name, _footprint(o)) for o in spec.objects]
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1 :]:
            if ba[0] < bb[1] and bb[0] < ba[1] and ba[2] < bb[3] and bb[2] < ba[3]:
                raise CorpusError(f"{where}: {a} and {b} overlap on the table")


def _alts(v: Any) -> list[Any]:
    return list(v) if isinstance(v, list) else [v]


class _Checker:
    def __init__(self, where: str, names: set[str], cats: dict[str, str]) -> None:
        self.where, self.names, self.cats = where, names, cats

    def fail(self, msg: str) -> CorpusError:
        return CorpusError(f"{self.where}: {msg}")

    def name(self, v: Any, field_: str, category: str | None = None) -> None:
        alts = _alts(v)
        if not alts:
            raise self.fail(f"{field_}: an empty list of alternatives")
        for n in alts:
            if not isinstance(n, str) or n not in self.names:
                raise self.fail(f"{field_}: {n!r} is not an object of the scene ({', '.join(sorted(self.names))})")
            if category and self.cats[n] != category:
                raise self.fail(f"{field_}: {n!r} is a {self.cats[n]}, not a {category}")

    def atom(self, a: Any, field_: str) -> None:
        if not isinstance(a, Mapping) or len(a) != 1:
            raise self.fail(f"{field_}: an atom is one of at, holding, drawer, pushed, home, got {a!r}")
        ((k, v),) = a.items()
        if k == "at":
            if not isinstance(v, list) or len(v) != 2:
                raise self.fail(f"{field_}.at: expected [OBJECT, TARGET], got {v!r}")
            self.name(v[0], f"{field_}.at[0]")
            self.name(v[1], f"{field_}.at[1]")
        elif k in ("holding", "pushed"):
            self.name(v, f"{field_}.{k}")
        elif k == "drawer":
            if not isinstance(v, list) or len(v) != 2 or v[1] not in ("open", "closed"):
                raise self.fail(f"{field_}.drawer: expected [CABINET, open|closed], got {v!r}")
            self.name(v[0], f"{field_}.drawer[0]", "cabinet")
        elif k == "home":
            if v is not True:
                raise self.fail(f"{field_}.home: expected true")
        else:
            raise self.fail(f"{field_}: unknown atom {k!r}; valid: at, holding, drawer, pushed, home")

    def plan_fields(self, node: Any, field_: str) -> None:
        if isinstance(node, list):
            for i, v in enumerate(node):
                self.plan_fields(v, f"{field_}[{i}]")
            return
        if not isinstance(node, Mapping):
            return
        for k, v in node.items():
            if k in _NAME_KEYS and v is not None:
                self.name(v, f"{field_}.{k}")
            elif k == "skill" and v not in SKILL_PARAMS:
                raise self.fail(f"{field_}.skill: unknown skill {v!r}; valid: {', '.join(SKILL_PARAMS)}")
            elif k == "selector" and (not isinstance(v, Mapping) or not set(v) <= {"category", "color", "shape"}):
                raise self.fail(f"{field_}.selector: expected a mapping of category, color, shape, got {v!r}")
            else:
                self.plan_fields(v, f"{field_}.{k}")

    def correction(self, e: Mapping[str, Any], skill: str | None) -> None:
        kind = e.get("kind")
        if kind not in CORRECTION_KINDS:
            raise self.fail(f"expect.kind: {kind!r}; valid: {', '.join(CORRECTION_KINDS)}")
        if kind == "skill":
            if "direction" not in e and "param" not in e:
                raise self.fail("expect: a skill correction needs direction and/or param")
            for d in _alts(e.get("direction", [])):
                if d not in DIRECTIONS:
                    raise self.fail(f"expect.direction: {d!r}; valid: {', '.join(DIRECTIONS)}")
            if "param" in e:
                known = {p.name for p in SKILL_PARAMS.get(skill or "", ())}
                if e["param"] not in known:
                    raise self.fail(
                        f"expect.param: {e['param']!r} is not a parameter of {skill}; valid: {', '.join(sorted(known))}"
                    )
            if e.get("change") not in (None, "increase", "decrease"):
                raise self.fail(f"expect.change: {e['change']!r}; valid: increase, decrease")
            a = e.get("amount_m")
            if a is not None and (isinstance(a, bool) or not isinstance(a, (int, float)) or a <= 0):
                raise self.fail(f"expect.amount_m: expected a positive number of metres, got {a!r}")
        elif kind == "plan":
            if e.get("type") not in PLAN_TYPES:
                raise self.fail(f"expect.type: {e.get('type')!r}; valid: {', '.join(PLAN_TYPES)}")
            self.plan_fields({k: v for k, v in e.items() if k not in ("kind", "type")}, "expect")


def _item(raw: Any, i: int, path: Path, scenes: dict[str, Any], seen: set[str]) -> Item:
    where = f"{path}: items[{i}]"
    if not isinstance(raw, Mapping):
        raise CorpusError(f"{where}: expected a mapping")
    allowed = {"id", "split", "kind", "scene", "context", "text", "tags", "expect", "ambiguous"}
    extra = sorted(set(map(str, raw)) - allowed)
    if extra:
        raise CorpusError(f"{where}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}")
    iid = raw.get("id")
    if not isinstance(iid, str) or not _ID.match(iid):
        raise CorpusError(f"{where}.id: expected t0001 or ta001 (task), c0001 or ca001 (correction), got {iid!r}")
    where = f"{path}: items[{i}] ({iid})"
    if iid in seen:
        raise CorpusError(f"{where}.id: duplicate id")
    seen.add(iid)
    kind = raw.get("kind")
    if kind not in ("task", "correction") or iid[0] != kind[0]:
        raise CorpusError(f"{where}.kind: expected {'task' if iid[0] == 't' else 'correction'}, got {kind!r}")
    if raw.get("split") != split_for(iid):
        raise CorpusError(f"{where}.split: {raw.get('split')!r}, but the fixed rule gives {split_for(iid)!r}")
    scene = raw.get("scene")
    if scene not in scenes:
        raise CorpusError(f"{where}.scene: unknown scene {scene!r}")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}.text: expected a non-empty string")
    tags = raw.get("tags")
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) and t for t in tags):
        raise CorpusError(f"{where}.tags: expected a non-empty list of words")
    amb = raw.get("ambiguous", False)
    if not isinstance(amb, bool):
        raise CorpusError(f"{where}.ambiguous: expected true or false")
    objs = scenes[scene].objects
    chk = _Checker(where, {o.name for o in objs}, {o.name: o.type for o in objs})
    ctx = raw.get("context") or {}
    if kind == "task" and ctx:
        raise CorpusError(f"{where}.context: tasks have no skill context")
    if not isinstance(ctx, Mapping):
        raise CorpusError(f"{where}.context: expected a mapping")
    ctx = dict(ctx)
    if kind == "correction":
        bad = sorted(set(ctx) - {"skill", "object", "target", "last", "task"})
        if bad:
            raise CorpusError(f"{where}.context: unknown field(s) {', '.join(bad)}")
        skill = ctx.get("skill")
        if skill not in SKILL_PARAMS:
            raise CorpusError(f"{where}.context.skill: {skill!r}; valid: {', '.join(SKILL_PARAMS)}")
        for role in SKILL_ARGS[skill]:
            if role not in ctx:
                raise CorpusError(f"{where}.context.{role}: {skill} needs its {role}")
        for role in ("object", "target"):
            if role in ctx:
                chk.name(ctx[role], f"context.{role}")
        for key in ("last", "task"):
            if key in ctx and (not isinstance(ctx[key], str) or not ctx[key].strip()):
                raise CorpusError(f"{where}.context.{key}: expected an utterance")
    exp = raw.get("expect")
    meanings = exp if isinstance(exp, list) else [exp]
    if isinstance(exp, list) and not amb:
        raise CorpusError(f"{where}.expect: a list of meanings is for ambiguous items only")
    if not meanings or not all(isinstance(m, Mapping) for m in meanings):
        raise CorpusError(f"{where}.expect: expected a mapping (or, when ambiguous, a list of them)")
    for m in meanings:
        if kind == "task":
            if m.get("kind") == "unclear" and len(m) == 1:
                continue
            goal = m.get("goal")
            if set(m) != {"goal"} or not isinstance(goal, list) or not goal:
                raise CorpusError(f"{where}.expect: a task expects {{goal: [atoms]}} or {{kind: unclear}}")
            for j, a in enumerate(goal):
                chk.atom(a, f"expect.goal[{j}]")
        else:
            chk.correction(m, ctx.get("skill"))
    return Item(iid, raw["split"], kind, scene, text, tuple(tags), tuple(dict(m) for m in meanings), amb, ctx)


def load_corpus(path: str | Path = DEFAULT_CORPUS) -> Corpus:
    """Read and validate a corpus file.

    Raises:
        CorpusError: naming the file, the item and the field (unknown objects or skills, bad
            scenes, duplicate ids, a split that does not follow :func:`split_for`, ...).
    """
    from sim.scene import load_yaml, parse_scene

    p = Path(path)
    data = load_yaml(p)
    if (
        not isinstance(data, Mapping)
        or not isinstance(data.get("scenes"), Mapping)
        or not isinstance(data.get("items"), list)
    ):
        raise CorpusError(f"{p}: expected a mapping with 'scenes' (a mapping) and 'items' (a list)")
    scenes: dict[str, Any] = {}
    for name, sc in data["scenes"].items():
        where = f"{p}: scenes.{name}"
        spec = parse_scene({"name": str(name), **sc} if isinstance(sc, Mapping) else sc, source=where)
        _check_overlaps(spec, where)
        scenes[str(name)] = spec
    seen: set[str] = set()
    items = [_item(raw, i, p, scenes, seen) for i, raw in enumerate(data["items"])]
    if not items:
        raise CorpusError(f"{p}: items: no items")
    return Corpus(p, scenes, items)


# --------------------------------------------------------------------------- matching


def _subset(names: Iterable[str], alts: Any) -> bool:
    got = set(names)
    return bool(got) and got <= set(_alts(alts))


def _atom_ok(e: Mapping[str, Any], a: Mapping[str, Any]) -> bool:
    ((k, v),) = e.items()
    if a.get("kind") != k:
        return False
    objs = a.get("objects") or []
    if k == "at":
        return _subset(objs, v[0]) and _subset(a.get("targets") or [], v[1])
    if k in ("holding", "pushed"):
        return _subset(objs, v)
    if k == "drawer":
        return _subset(objs, v[0]) and bool(a.get("open")) == (v[1] == "open")
    return k == "home"


def _implied(expected: Sequence[Mapping[str, Any]], atoms: Sequence[Mapping[str, Any]]) -> tuple[list, list]:
    """Both sides without the drawer openings a placement into that drawer implies ("open the
    drawer, put the lemon in": the lemon in the drawer, opened on the way, either way)."""
    into_e = {n for e in expected if "at" in e for n in _alts(e["at"][1])}
    into_a = {n for a in atoms if a.get("kind") == "at" for n in a.get("targets") or []}
    exp = [
        e for e in expected if not ("drawer" in e and e["drawer"][1] == "open" and set(_alts(e["drawer"][0])) & into_e)
    ]
    got = [
        a for a in atoms if not (a.get("kind") == "drawer" and a.get("open") and set(a.get("objects") or []) & into_a)
    ]
    return exp, got


def atoms_match(expected: Sequence[Mapping[str, Any]], atoms: Sequence[Mapping[str, Any]]) -> bool:
    """A one-to-one pairing of expected and understood atoms exists (order does not matter), a
    drawer's opening implied by a placement into it not counted on either side."""
    expected, atoms = _implied(expected, atoms)
    if len(expected) != len(atoms):
        return False
    used = [False] * len(atoms)

    def pair(i: int) -> bool:
        if i == len(expected):
            return True
        for j, a in enumerate(atoms):
            if not used[j] and _atom_ok(expected[i], a):
                used[j] = True
                if pair(i + 1):
                    return True
                used[j] = False
        return False

    return pair(0)


def _fits(exp: Any, act: Any) -> bool:
    """``exp`` is held in ``act``: mappings by subset, a list = any of its alternatives; an
    understood list (the objects of a kind) holds it when each of its items is an alternative."""
    if isinstance(act, list) and not isinstance(exp, Mapping):
        return bool(act) and all(_fits(exp, a) for a in act)
    if isinstance(exp, Mapping):
        return isinstance(act, Mapping) and all(k in act and _fits(v, act[k]) for k, v in exp.items())
    if isinstance(exp, list):
        return any(_fits(e, act) for e in exp)
    if isinstance(exp, (int, float)) and not isinstance(exp, bool) and isinstance(act, (int, float)):
        return abs(float(act) - float(exp)) <= TOLERANCE * max(abs(float(exp)), 1e-9)
    return exp == act


def _resolved_plan(plan: Mapping[str, Any], objects: Sequence[Any]) -> dict[str, Any]:
    """The plan with a category-only target ("the bowl" when there is one bowl) named, and a stack
    by size with the block it puts at the bottom."""
    out = dict(plan)
    for key in ("target", "destination", "object"):
        ref = out.get(key)
        if isinstance(ref, Mapping):  # a kind ("keep away from the glasses"): every object it finds
            fields = {f: ref[f] for f in ("category", "color", "shape") if ref.get(f)}
            out[key] = [o.name for o in objects if fields and all(getattr(o, f) == v for f, v in fields.items())]
            continue
        cat = out.get(f"{key}_category")
        if out.get(key) is None and cat:
            names = [o.name for o in objects if o.category == cat]
            if len(names) == 1:
                out[key] = names[0]
    blocks = [o for o in objects if o.category == "block"]
    if out.get("type") == "stack" and out.get("bottom") in ("smallest", "largest") and blocks and "object" not in out:
        # a stack by size puts the smallest (largest) block at the bottom: "the little one at the bottom"
        pick = min if out["bottom"] == "smallest" else max
        out["object"], out["position"] = pick(blocks, key=lambda o: math.prod(o.size)).name, "bottom"
    return out


def plan_matches(exp: Mapping[str, Any], plan: Mapping[str, Any] | None, objects: Sequence[Any] = ()) -> bool:
    """A plan dict holds the expected type and fields ("X first" = "do X next")."""
    if not plan:
        return False
    plan = _resolved_plan(plan, objects)
    fields = {k: v for k, v in exp.items() if k not in ("kind", "type")}
    typ = exp["type"]
    if plan.get("type") == typ:
        return _fits(fields, plan)
    if typ == "order" and plan.get("type") == "step" and plan.get("position", "next") != "last":
        return _fits(fields.get("first", {}), plan.get("call"))
    if typ == "step" and plan.get("type") == "order" and plan.get("then") is None:
        return _fits(fields.get("call", {}), plan.get("first"))
    return False


def _direction_ok(exp: Mapping[str, Any], c: Any) -> bool:
    v = c.delta_m
    if v is None:  # a push's direction parameter (base frame)
        d = (c.parameters or {}).get("direction", {})
        v = d.get("set") if isinstance(d, Mapping) else None
    if v is None or len(v) != 3:
        return False
    want = [0, 0, 0]
    for d in _alts(exp["direction"]):
        axis, sign = DIRECTIONS[d]
        want[axis] = sign
    named = [abs(v[a]) for a in range(3) if want[a]]
    if not all(v[a] * want[a] > 0 for a in range(3) if want[a]):
        return False
    if any(abs(v[a]) > 0.5 * min(named) for a in range(3) if not want[a]):
        return False
    amount = exp.get("amount_m")
    if amount is not None and c.delta_m is not None:
        return abs(math.hypot(*c.delta_m) - amount) <= TOLERANCE * amount
    return True


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _param_ok(exp: Mapping[str, Any], c: Any, skill: str | None, params: Mapping[str, Any] | None) -> bool:
    name = exp["param"]
    change = (c.parameters or {}).get(name)
    if not isinstance(change, Mapping) or len(change) != 1:
        return False
    ((op, value),) = change.items()
    owner = c.skill or skill
    old = (params or {}).get(name)
    if old is None and owner in SKILL_PARAMS:
        old = default_params(owner).get(name)
    new: Any = None
    if op == "set":
        new = value
    elif op == "add" and _number(value) and _number(old):
        new = float(old) + float(value)
    elif op == "scale" and _number(value) and _number(old):
        new = float(old) * float(value)
    want = exp.get("change")
    if want is not None:
        if op == "add" and _number(value):
            delta = float(value)  # the sign said, before an angle wraps
        elif op == "scale" and _number(value):
            delta = float(value) - 1.0
        elif _number(new) and _number(old):
            delta = float(new) - float(old)
        else:
            return False
        if (delta > 0) != (want == "increase") or delta == 0:
            return False
    if "value" in exp:
        if _number(exp["value"]):
            if not _number(new) or abs(float(new) - exp["value"]) > TOLERANCE * max(abs(exp["value"]), 1e-9):
                return False
        elif new != exp["value"]:
            return False
    amount = exp.get("amount_m")
    if amount is not None:
        if not (_number(new) and _number(old)) or abs(abs(float(new) - float(old)) - amount) > TOLERANCE * amount:
            return False
    return True


def _meaning_ok(
    m: Mapping[str, Any], item: Item, u: Understanding, params: Mapping[str, Any] | None, objects: Sequence[Any]
) -> bool:
    kind = m.get("kind")
    if kind in ("unclear", "refuse"):
        return u.decision in ("ask", "refuse")
    if kind == "stop":
        return u.decision == "stop"
    if u.decision != "act":
        return False
    if item.kind == "task":
        return "goal" in m and atoms_match(m["goal"], u.atoms)
    c = u.correction
    if c is None:
        return False
    if kind == "confirm":
        return c.kind is CorrectionKind.CONFIRM
    if kind == "plan":
        return c.kind is CorrectionKind.PLAN and plan_matches(m, c.plan, objects)
    if kind == "skill" and c.kind is CorrectionKind.SKILL:
        if "direction" in m and not _direction_ok(m, c):
            return False
        return "param" not in m or _param_ok(m, c, item.context.get("skill"), params)
    return False


def matches(item: Item, u: Understanding, params: Mapping[str, Any] | None = None, objects: Sequence[Any] = ()) -> bool:
    """Whether ``u`` is a right answer to ``item`` (see the module doc).

    Args:
        params: the skill's current parameters (the skill's defaults when None).
        objects: the scene's objects (to name a plan target given only by category).
    """
    if item.ambiguous and u.decision == "ask":
        return True
    return any(_meaning_ok(m, item, u, params, objects) for m in item.expect)


def _follow_up_ok(item: Item, u: Understanding, params: Mapping[str, Any] | None, objects: Sequence[Any]) -> bool:
    """A stop's request after it (``Correction.followup``) is the item's meaning."""
    follow = getattr(u.correction, "followup", None) if u.correction is not None else None
    if follow is None:
        return False
    return any(
        _meaning_ok(m, item, dataclasses.replace(u, decision="act", correction=follow), params, objects)
        for m in item.expect
    )


# --------------------------------------------------------------------------- evaluating


def build_context(layer: Any, item: Item, corpus: Corpus) -> CorrectionContext:
    """The :class:`CorrectionContext` a correction item is said in (``last``: the layer's own reading)."""
    c = item.context
    skill = c.get("skill")
    ctx = CorrectionContext(
        objects=list(corpus.objects(item.scene)),
        skill=skill,
        object=c.get("object"),
        target=c.get("target"),
        params=default_params(skill) if skill in SKILL_PARAMS else None,
    )
    if "task" in c and "task" in {f.name for f in dataclasses.fields(CorrectionContext)}:
        ctx.task = c["task"]
    if c.get("last"):
        _forget(layer)
        before = layer.understand_correction(c["last"], dataclasses.replace(ctx))
        if before.decision == "act" and before.correction is not None:
            ctx.last = before.correction
        _forget(layer)
    return ctx


def _forget(layer: Any) -> None:
    """Each item stands alone: no question from an earlier item is pending."""
    forget = getattr(layer, "forget_question", None)
    if callable(forget):
        forget()


def understand(
    layer: Any, item: Item, corpus: Corpus, text: str | None = None, ctx: CorrectionContext | None = None
) -> tuple[Understanding, CorrectionContext | None, float]:
    """The layer's understanding of ``item`` (or of ``text`` heard for it: a transcript, read as
    heard, not respelled), its context, and wall ms."""
    said = item.text if text is None else text
    how = {} if text is None else {"typed": False}
    if item.kind == "task":
        _forget(layer)
        t0 = time.perf_counter()
        u = layer.understand_task(said, corpus.objects(item.scene), **how)
        return u, None, (time.perf_counter() - t0) * 1e3
    ctx = ctx or build_context(layer, item, corpus)
    _forget(layer)
    t0 = time.perf_counter()
    u = layer.understand_correction(said, ctx, **how)
    return u, ctx, (time.perf_counter() - t0) * 1e3


def is_silent(u: Understanding) -> bool:
    """Neither an act nor a question or a reason: the operator would hear nothing back."""
    if u.decision not in DECISIONS:
        return True
    if u.decision == "ask":
        return not (u.question or u.reason)
    if u.decision == "refuse":
        return not u.reason and not (u.correction is not None and u.correction.refusal)
    if u.decision == "act":
        return not u.atoms if u.what == "task" else u.correction is None
    return False


def describe(u: Understanding) -> str:
    """One line: what the layer made of an utterance."""
    if u.decision == "ask":
        return f"ask: {u.question or u.reason or '(nothing said)'}"
    if u.decision == "refuse":
        return f"refuse: {u.reason}"
    if u.decision == "stop" and (u.correction is None or u.source == "speech"):
        return f"stop: {u.reason or 'halt'}"
    if u.what == "task":
        return f"{u.decision}: {u.goal or u.atoms}"
    return f"{u.decision}: {u.correction.describe() if u.correction is not None else '(no correction)'}"


def score(
    item: Item, u: Understanding, ctx: CorrectionContext | None, latency_ms: float, objects: Sequence[Any] = ()
) -> dict[str, Any]:
    """One item's record: right, confidently wrong, asked, silent, latency."""
    params = ctx.params if ctx is not None else None
    right = matches(item, u, params, objects)
    # A stop with a request after it ("hang on, open the drawer first") halts the arm and asks
    # "Shall I do that and go on?": when the request is the meaning, that is a question, not a
    # wrong act (nothing moves until the operator says yes).
    held = not right and u.decision == "stop" and item.category != "stop" and _follow_up_ok(item, u, params, objects)
    return {
        "id": item.id,
        "split": item.split,
        "kind": item.kind,
        "category": item.category,
        "tags": list(item.tags),
        "ambiguous": item.ambiguous,
        "text": item.text,
        "decision": u.decision,
        "right": right,
        "confidently_wrong": (not right) and not held and u.decision in ("act", "stop"),
        "asked": u.decision == "ask" or held,
        "refused": u.decision == "refuse",
        "silent": is_silent(u),
        "latency_ms": float(latency_ms),
        "got": describe(u),
        "expect": list(item.expect),
        "source": u.source,
        "confidence": round(float(u.confidence), 4),
    }


def _pct(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return float(s[lo] + (s[hi] - s[lo]) * (k - lo))


def _group(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    n = len(records)
    lat = [r["latency_ms"] for r in records]

    def rate(key: str) -> float:
        return round(sum(bool(r[key]) for r in records) / n, 4) if n else float("nan")

    return {
        "n": n,
        "accuracy": rate("right"),
        "confidently_wrong": rate("confidently_wrong"),
        "ask": rate("asked"),
        "refuse": rate("refused"),
        "silent": sum(bool(r["silent"]) for r in records),
        "latency_p50_ms": round(_pct(lat, 0.50), 3),
        "latency_p95_ms": round(_pct(lat, 0.95), 3),
    }


def summarize(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Metrics per kind of right answer, per tag, and overall (see the module doc)."""
    by_kind = {k: _group([r for r in records if r["category"] == k]) for k in CATEGORIES}
    tags = sorted({t for r in records for t in r["tags"]})
    return {
        "overall": _group(records),
        "kinds": {k: v for k, v in by_kind.items() if v["n"]},
        "tags": {t: _group([r for r in records if t in r["tags"]]) for t in tags},
        "ambiguous": _group([r for r in records if r["ambiguous"]]),
    }


def evaluate(
    layer: Any, items: Sequence[Item], *, corpus: Corpus, progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run the layer on ``items`` (contexts built from the corpus's scenes) and measure it.

    Returns:
        ``{"metrics": summarize(...), "records": [one per item]}``.
    """
    records = []
    for item in items:
        u, ctx, ms = understand(layer, item, corpus)
        rec = score(item, u, ctx, ms, corpus.objects(item.scene))
        records.append(rec)
        if progress is not None:
            progress(rec)
    return {"metrics": summarize(records), "records": records}
