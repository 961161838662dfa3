"""The simulated operator: watches the robot, and corrects it when it breaks a hidden requirement.

It sees what a person next to the robot sees: which skill starts on which objects and
how (the approach: grasp region, speed, heights: what the motion shows), the outcome
of each skill, and the final scene. It knows the scenario's hidden requirements,
which the agent never sees. When a call would break one, it says a correction
drawn with a seeded random choice from a phrase bank (several phrasings each).

Phrase banks are YAML files (``sim/phrases/``, loaded and checked by :mod:`sim.phrases`):
``bank_a.yaml`` is the built-in one (:data:`PHRASES`), ``bank_b.yaml`` a second operator who
words everything differently. When the robot asks a question instead of acting,
:meth:`SimulatedOperator.answer` replies by number, says its correction again in other
words, or stays silent.

The agent must not import this module, and this module imports nothing of the agent
(it judges the robot's choices as plain dicts): tests check both.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from sim.phrases import (  # the phrase banks' API is re-exported here, where it used to live
    BUILTIN_BANK,  # noqa: F401 - re-exported
    DEFAULT_BANK,
    PHRASE_KEYS,  # noqa: F401 - re-exported
    PHRASES_DIR,  # noqa: F401 - re-exported
    PhraseBank,
    PhraseBankError,  # noqa: F401 - re-exported
    load_phrase_bank,  # noqa: F401 - re-exported
)
from sim.scenario import Scenario
from skills.params import default_params
from skills.result import SkillResult
from skills.types import ObjectInfo

#: spoken names of categories (what a person calls them)
SPOKEN = {
    "cabinet": "drawer",
    "mug": "mug",
    "glass": "glass",
    "block": "block",
    "fruit": "fruit",
    "bowl": "bowl",
    "plate": "plate",
    "tray": "tray",
    "shelf": "shelf",
}

#: the built-in bank's (bank A's) templates as lists
PHRASES: dict[str, list[str]] = {k: list(v) for k, v in DEFAULT_BANK.phrases.items()}


class CallLike(Protocol):
    skill: str
    args: Mapping[str, str]
    params: Mapping[str, Any]


@dataclass
class Utterance:
    """What the operator says, and why (the why is for logs and tests, never for the agent)."""

    text: str
    requirement: dict[str, Any]
    when: str  # "before" | "after" | "end" | "answer" (a reply to the robot's question)


@dataclass
class _Pending:
    """What the operator last asked for: the requirement it voiced, and the situation it saw."""

    key: str
    requirement: dict[str, Any]
    kw: dict[str, str]
    call: CallLike | None
    objects: Mapping[str, ObjectInfo]
    texts: list[str] = field(default_factory=list)  # every phrasing said for it so far

    @property
    def thing(self) -> str:
        obj = self.call.args.get("object") if self.call is not None else None
        return json.dumps([self.requirement, obj], sort_keys=True, default=str)


def _matches(req_obj: Mapping[str, Any], name: str | None, objects: Mapping[str, ObjectInfo]) -> bool:
    if name is None:
        return False
    if "object" in req_obj:
        return req_obj["object"] == name
    if "color" in req_obj and (name not in objects or objects[name].color != req_obj["color"]):
        return False
    if "category" in req_obj:
        return name in objects and objects[name].category == req_obj["category"]
    return True


def _area(o: ObjectInfo) -> float:
    return float(o.size[0] * o.size[1])


def _near_direction(err_target: Sequence[float], target: ObjectInfo) -> str:
    """The operator's word for the main horizontal direction of an error given in the target's frame.

    The operator stands behind the robot (the parser's default frame): +x of the base is
    "forward", +y "left".
    """
    c, s_ = np.cos(target.pose.yaw), np.sin(target.pose.yaw)
    ex, ey = c * err_target[0] - s_ * err_target[1], s_ * err_target[0] + c * err_target[1]
    if abs(ey) >= abs(ex):
        return "left" if ey > 0 else "right"
    return "forward" if ex > 0 else "back"


class SimulatedOperator:
    """Corrects the robot per a scenario's hidden requirements.

    Args:
        scenario: the scenario (its hidden block is read here only).
        seed: seeds the phrase choice.
        cap: the most corrections per task; past it the operator gives up (the task fails).
    """

    def __init__(self, scenario: Scenario, seed: int = 0, cap: int = 8, phrases: PhraseBank | None = None) -> None:
        self.scenario = scenario
        self.rng = random.Random(seed)  # noqa: S311 - the simulated operator's seeded phrase choice
        self.cap = cap
        self.phrases = phrases or DEFAULT_BANK
        self.said: list[Utterance] = []
        self.answers: list[Utterance] = []  # replies to the robot's questions (not corrections)
        self.done: list[tuple[str, dict[str, str]]] = []  # succeeded calls
        self.pending: _Pending | None = None  # what it asked for last
        self._answered: dict[str, int] = {}  # questions replied to, per thing asked about

    @property
    def exhausted(self) -> bool:
        return len(self.said) >= self.cap

    def _say(
        self,
        key: str,
        req: dict[str, Any],
        when: str,
        call: CallLike | None = None,
        objects: Mapping[str, ObjectInfo] | None = None,
        **kw: str,
    ) -> Utterance:
        text = self.rng.choice(self.phrases[key]).format(**kw)
        u = Utterance(text, req, when)
        self.said.append(u)
        self.pending = _Pending(key, req, dict(kw), call, dict(objects or {}), [text])
        return u

    def _described(self, name: str, objects: Mapping[str, ObjectInfo]) -> str:
        """``blue tray`` when the scene has several trays, else ``tray``."""
        o = objects.get(name)
        if o is None:
            return name.replace("_", " ")
        noun = SPOKEN.get(o.category, o.category)
        twins = sum(1 for x in objects.values() if x.category == o.category)
        return f"{o.color} {noun}" if twins > 1 and o.color else noun

    def _noun(self, name: str, objects: Mapping[str, ObjectInfo]) -> str:
        o = objects.get(name)
        return SPOKEN.get(o.category, o.category) if o else name.replace("_", " ")

    # -- watching ------------------------------------------------------------------------
    def before_call(self, call: CallLike, objects: Mapping[str, ObjectInfo]) -> Utterance | None:
        """Called as a skill starts: the operator sees which skill, on what, and how it moves."""
        if self.exhausted:
            return None
        said = self._check_before(call, objects)
        self._settle(call, said, "before")
        return said

    def _settle(self, call: CallLike, said: Utterance | None, when: str) -> None:
        """Forget the pending correction once a call of the skill it was about passes the operator's eye."""
        p = self.pending
        if (
            said is None
            and p is not None
            and p.call is not None
            and call.skill == p.call.skill
            and (p.requirement["type"] == "avoid") == (when == "after")
        ):
            self.pending = None

    def _check_before(self, call: CallLike, objects: Mapping[str, ObjectInfo]) -> Utterance | None:
        obj = call.args.get("object")
        target = call.args.get("target")
        for req in self.scenario.requirements:
            t = req["type"]
            if t == "order":
                then, first = req["then"], req["first"]
                if call.skill != then.get("skill"):
                    continue
                if not all(call.args.get(k) == v for k, v in then.items() if k in ("object", "target")):
                    continue
                if (first["skill"], {"object": first["object"]}) in [
                    (s, {"object": a.get("object")}) for s, a in self.done
                ]:
                    continue
                key = "order_open" if first["skill"] == "open" else "order"
                return self._say(
                    key,
                    req,
                    "before",
                    call,
                    objects,
                    first=self._noun(first["object"], objects),
                    first_skill=first["skill"],
                )
            if t == "target" and call.skill == "place" and _matches(req, obj, objects) and target != req["target"]:
                inside = objects[req["target"]].category in ("bowl", "tray", "cabinet")
                cat = req.get("category") or self._noun(obj, objects)
                if "color" in req:
                    # A rule by colour: the destination is named by its colour when it has look-alikes.
                    return self._say(
                        "target_color" if inside else "target_color_on",
                        req,
                        "before",
                        call,
                        objects,
                        color=req["color"],
                        plural=f"{SPOKEN.get(cat, cat)}s",
                        target=self._described(req["target"], objects),
                    )
                return self._say(
                    "target" if inside else "target_on",
                    req,
                    "before",
                    call,
                    objects,
                    category=cat,
                    noun=self._noun(obj, objects),
                    target=self._noun(req["target"], objects),
                )
            if (
                t == "stack"
                and call.skill == "place"
                and _matches(req, obj, objects)
                and _matches(req, target, objects)
            ):
                a, b = objects[obj], objects[target]
                wrong = _area(b) < _area(a) if req["bottom"] == "largest" else _area(b) > _area(a)
                if wrong:
                    noun = self._noun(obj, objects)
                    return self._say(
                        f"stack_{req['bottom']}", req, "before", call, objects, noun=noun, plural=f"{noun}s"
                    )
            if t == "param_near" and call.skill == req.get("skill") and _matches(req, obj, objects):
                value = call.params.get(req["param"])
                if value is None or target not in objects:
                    continue
                err = np.asarray(req["value"], float) - np.asarray(value, float)
                if np.linalg.norm(err[:2]) > req["tolerance"]:
                    ref = objects[target] if req.get("frame") == "target" else None
                    direction = (
                        _near_direction(err, ref)
                        if ref is not None
                        else (
                            ("left" if err[1] > 0 else "right")
                            if abs(err[1]) >= abs(err[0])
                            else ("forward" if err[0] > 0 else "back")
                        )
                    )
                    key = "near_small" if np.linalg.norm(err[:2]) < 2 * req["tolerance"] else "near"
                    return self._say(key, req, "before", call, objects, dir=direction)
            if t == "grasp_region" and call.skill == "pick" and _matches(req, obj, objects):
                if call.params.get("grasp_region") != req["region"]:
                    return self._say("grasp_region", req, "before", call, objects, region=req["region"])
            if t in ("param_max", "param_min") and call.skill == req.get("skill"):
                who = target if req.get("role") == "target" else obj
                if req.get("role") != "target" and not _matches(req, who, objects):
                    if not (call.skill == "place" and _matches(req, obj, objects)):
                        continue
                value = call.params.get(req["param"])
                if value is None:
                    continue
                bad = value > req["value"] + 1e-9 if t == "param_max" else value < req["value"] - 1e-9
                if bad:
                    key = {
                        ("param_max", "speed"): "max_speed",
                        ("param_max", "place_height"): "max_place_height",
                        ("param_min", "pull_distance"): "min_pull_distance",
                    }.get((t, req["param"]))
                    if key:
                        return self._say(key, req, "before", call, objects)
        return None

    def after_call(self, call: CallLike, result: SkillResult, objects: Mapping[str, ObjectInfo]) -> Utterance | None:
        """Called when a skill ends: the operator sees the outcome and the path it took."""
        if result.ok:
            self.done.append((call.skill, dict(call.args)))
        if self.exhausted:
            return None
        own = set(call.args.values())
        for req in self.scenario.requirements:
            # A call that moves the avoided object itself must reach it: the rule is about passing over it.
            if req["type"] == "avoid" and req["object"] in objects and req["object"] not in own:
                o = objects[req["object"]]
                half = np.array(o.size[:2]) / 2 + req.get("margin", 0.03)
                for p in result.facts.get("path", []):
                    if np.all(np.abs(o.pose.to_local(p)[:2]) <= half):
                        return self._say("avoid", req, "after", call, objects, obj=self._noun(o.name, objects))
        self._settle(call, None, "after")
        return None

    def corrections(self) -> int:
        return len(self.said)

    # -- answering the robot's questions -------------------------------------------------
    def answer(self, question: str, choices: Sequence[Mapping[str, Any]]) -> Utterance | None:
        """Reply to a clarifying question of the robot ("Do you mean: 1. ..., 2. ...?").

        Args:
            question: the question as asked (the operator judges the choices, not the words).
            choices: the meanings offered, best first, each ``{"label", "canonical", "score",
                "meaning"}``; ``meaning`` is a correction as data (``kind``, ``parameters``,
                ``skill``, ``object``, ``plan``, ...) or, for a question about the task,
                ``{"atoms": [{"kind": "at", "objects": [...], "targets": [...]}, ...]}``.

        Returns:
            The number of the choice (``"2"``) that does what the operator last asked for (for a
            task question: what the scenario's hidden success conditions need, a choice that pins
            each object to its place before one that merely allows it); the first such choice
            when several do equally well. When none does, the correction again in another phrasing from
            the bank; None when the operator has nothing to say: no correction pending (or a task
            question that no choice answers), its cap of corrections is reached, or it has already
            replied twice about the same thing.
        """
        del question  # the choices carry the meanings; the wording of the question is the robot's
        if any("atoms" in (c.get("meaning") or {}) for c in choices):
            thing, req = "task", {"type": "task", "success": list(self.scenario.success)}
            levels = [_atoms_fit((c.get("meaning") or {}).get("atoms"), self.scenario.success) for c in choices]
            fits = [i for i, v in enumerate(levels) if v and v == max(levels)]
            pending = None
        else:
            pending = self.pending
            if pending is None:
                return None
            thing, req = pending.thing, pending.requirement
            fits = [i for i, c in enumerate(choices) if _meaning_fits(c.get("meaning") or {}, pending)]
        if self._answered.get(thing, 0) >= MAX_ANSWERS:
            return None
        if fits:
            self._answered[thing] = self._answered.get(thing, 0) + 1
            u = Utterance(str(fits[0] + 1), req, "answer")
            self.answers.append(u)
            return u
        if pending is None or self.exhausted:
            return None
        self._answered[thing] = self._answered.get(thing, 0) + 1
        return self._resay(pending)

    def _resay(self, p: _Pending) -> Utterance:
        """The pending correction again, in a phrasing not yet used for it when there is one."""
        options = [t.format(**p.kw) for t in self.phrases[p.key]]
        fresh = [t for t in options if t not in p.texts] or [t for t in options if t != p.texts[-1]] or options
        text = self.rng.choice(fresh)
        p.texts.append(text)
        u = Utterance(text, p.requirement, "answer")
        self.said.append(u)
        return u


#: the most replies the operator gives to questions about one thing
MAX_ANSWERS = 2


def _current(p: _Pending, param: str) -> Any:
    """The value of ``param`` in the call the operator corrected (the skill's default if it was not shown)."""
    if p.call is not None and p.call.params.get(param) is not None:
        return p.call.params[param]
    skill = p.requirement.get("skill") or (p.call.skill if p.call is not None else None)
    try:
        return default_params(skill).get(param) if skill else None
    except Exception:  # noqa: BLE001 - an unknown skill: the value is unknown, judged by direction below
        return None


def _changed(value: Any, change: Mapping[str, Any] | None) -> Any:
    """``value`` after one parameter change ``{"set"|"add"|"scale": v}`` (None when it cannot tell)."""
    if not isinstance(change, Mapping):
        return None
    if "set" in change:
        return change["set"]
    if value is None:
        return None
    try:
        if "add" in change:
            return (
                (np.asarray(value, float) + np.asarray(change["add"], float)).tolist()
                if isinstance(value, (list, tuple))
                else float(value) + float(change["add"])
            )
        if "scale" in change:
            return float(value) * float(change["scale"])
    except (TypeError, ValueError):
        return None
    return None


def _call_fits(call: Any, skill: str, obj: str) -> bool:
    return isinstance(call, Mapping) and call.get("skill") == skill and call.get("object") == obj


def _meaning_fits(m: Mapping[str, Any], p: _Pending) -> bool:
    """Does a choice's meaning (a correction as data) do what the pending requirement asks?"""
    req, t = p.requirement, p.requirement["type"]
    if m.get("question") or m.get("refusal"):
        return False
    kind, plan, params = m.get("kind"), m.get("plan") or {}, m.get("parameters") or {}
    about = m.get("object")
    if t in ("grasp_region", "param_max", "param_min", "param_near"):
        skill = req.get("skill", "pick" if t == "grasp_region" else None)
        if kind != "skill" or m.get("skill") not in (None, skill, p.call.skill if p.call is not None else None):
            return False
        if about is not None and req.get("role") != "target" and not _matches(req, about, p.objects):
            return False  # it would change how another object is handled
        param = "grasp_region" if t == "grasp_region" else req["param"]
        if t == "grasp_region":
            return (params.get(param) or {}).get("set") == req["region"]
        cur = _current(p, param)
        if t == "param_near":
            new = _changed(cur if cur is not None else [0.0, 0.0, 0.0], params.get(param))
            if new is None and m.get("delta_m") is not None and not params:
                delta = np.asarray(m["delta_m"], float)
                target = p.objects.get(p.call.args.get("target")) if p.call is not None else None
                if req.get("frame") == "target" and target is not None:  # the base-frame move in the target's frame
                    c, s_ = np.cos(target.pose.yaw), np.sin(target.pose.yaw)
                    delta = np.array([c * delta[0] + s_ * delta[1], -s_ * delta[0] + c * delta[1], delta[2]])
                new = (np.asarray(cur if cur is not None else [0.0, 0.0, 0.0], float) + delta).tolist()
            if new is None:
                return False
            err = np.asarray(new, float)[:2] - np.asarray(req["value"], float)[:2]
            return bool(np.linalg.norm(err) <= req["tolerance"] + 1e-9)
        change = params.get(param)
        new = _changed(cur, change)
        if new is None:  # the value is unknown: judge by the direction of the change
            if not isinstance(change, Mapping):
                return False
            up = change.get("add", 0) > 0 if "add" in change else change.get("scale", 1) > 1
            down = change.get("add", 0) < 0 if "add" in change else change.get("scale", 1) < 1
            return down if t == "param_max" else up
        return new <= req["value"] + 1e-9 if t == "param_max" else new >= req["value"] - 1e-9
    if kind != "plan":
        return False
    pt = plan.get("type")
    if t == "order":
        first = req["first"]
        if pt == "order":
            return _call_fits(plan.get("first"), first["skill"], first["object"])
        return (
            pt == "step"
            and plan.get("position", "next") == "next"
            and _call_fits(plan.get("call"), first["skill"], first["object"])
        )
    if t == "target":
        if pt == "preference":
            sel = plan.get("selector") or {}
            if plan.get("target") != req["target"] or not sel or ("color" in req and "color" not in sel):
                return False
            return all(k in req and req[k] == v for k, v in sel.items())
        placed = p.call.args.get("object") if p.call is not None else None
        return (
            pt == "target"
            and plan.get("destination") == req["target"]
            and plan.get("role") in ("destination", "both")
            and plan.get("object") in (None, placed)
        )
    if t == "stack":
        if pt != "stack":
            return False
        if plan.get("key") == "size":
            return plan.get("bottom") == req["bottom"]
        kin = sorted((o for o in p.objects.values() if _matches(req, o.name, p.objects)), key=_area)
        if plan.get("object") not in p.objects or len(kin) < 2:
            return False
        bottom = kin[-1] if req["bottom"] == "largest" else kin[0]
        top = kin[0] if req["bottom"] == "largest" else kin[-1]
        return (plan.get("position"), plan["object"]) in (("bottom", bottom.name), ("top", top.name))
    if t == "avoid":
        return pt == "avoid" and plan.get("object") == req["object"]
    return False


def _atoms_fit(atoms: Any, success: Sequence[Mapping[str, Any]]) -> int:
    """How well a task's goal atoms match the hidden success conditions: 2 exactly, 1 loosely, 0 not.

    Only ``at`` atoms place things (``{"kind": "at", "objects": [...], "targets": [...]}``: any of
    the objects in/on any of the targets); other kinds (open a drawer, go home) are let be. Each
    ``in`` / ``on`` / ``stacked`` condition must be allowed by the atoms that name its object, and
    every ``at`` atom must be about an object that the conditions place. Exactly: each ``at`` atom
    pins one object to one target, as the conditions do ("the apple in the bowl"); loosely: the
    atoms leave a choice that includes it ("the apple in the bowl or on the tray").
    """
    if not isinstance(atoms, list):
        return 0
    wanted = {c["object"]: c.get("target", c.get("below")) for c in success if c["type"] in ("in", "on", "stacked")}
    places = [a for a in atoms if isinstance(a, Mapping) and a.get("kind") == "at"]
    if not wanted or not places:
        return 0
    exact = True
    for a in places:
        objs, tgts = list(a.get("objects") or []), list(a.get("targets") or [])
        if not objs or not any(o in wanted and wanted[o] in tgts for o in objs):
            return 0  # it would move something the operator did not ask to move, or to a wrong place
        exact = exact and len(objs) == 1 and len(tgts) == 1
    for o, t in wanted.items():
        naming = [a for a in places if o in (a.get("objects") or [])]
        if not naming or any(t not in (a.get("targets") or []) for a in naming):
            return 0
    return 2 if exact else 1


def check_success(
    scenario: Scenario,
    objects: Mapping[str, ObjectInfo],
    calls: Sequence[tuple[str, dict[str, str], dict[str, Any]]] = (),
) -> tuple[bool, list[str]]:
    """Does the final scene meet the scenario's hidden success conditions and requirements?

    Args:
        scenario: the scenario.
        objects: the final perceived scene.
        calls: (skill, args, params) of every call that succeeded, in order.

    Returns:
        (success, reasons it failed).
    """
    why: list[str] = []
    for cond in scenario.success:
        t = cond["type"]
        if t in ("in", "on", "stacked"):
            o, tg = objects.get(cond["object"]), objects.get(cond.get("target", cond.get("below", "")))
            if o is None or tg is None:
                why.append(f"{cond}: object missing")
                continue
            local = tg.pose.to_local(o.pose.position)
            if tg.category == "cabinet":
                op = float(tg.state.get("opening", 0.0))
                ok = (
                    -tg.size[0] / 2 + op <= local[0] <= tg.size[0] / 2 + op
                    and abs(local[1]) <= tg.size[1] / 2
                    and local[2] < 0.08
                )
            else:
                half = np.array(tg.size[:2]) / 2 + 0.005
                ok = bool(np.all(np.abs(local[:2]) <= half)) and -0.02 < local[2] < tg.size[2] + 0.08
            if not ok:
                why.append(f"{cond['object']} is not {t} {tg.name}")
        elif t == "state":
            o = objects.get(cond["object"])
            if o is None or o.state.get(cond["key"]) != cond["value"]:
                why.append(f"{cond['object']}.{cond['key']} != {cond['value']}")
    for req in scenario.requirements:
        if req["type"] in ("param_max", "param_min", "grasp_region"):
            for skill, args, params in calls:
                if skill != req.get("skill", "pick" if req["type"] == "grasp_region" else None):
                    continue
                if not _matches(req, args.get("object"), objects):
                    continue
                if req["type"] == "grasp_region" and params.get("grasp_region") != req["region"]:
                    why.append(f"{args.get('object')} was not grasped by the {req['region']}")
                elif req["type"] == "param_max" and params.get(req["param"], 0) > req["value"] + 1e-9:
                    why.append(f"{skill}.{req['param']}={params.get(req['param'])} above {req['value']}")
                elif req["type"] == "param_min" and params.get(req["param"], 1e9) < req["value"] - 1e-9:
                    why.append(f"{skill}.{req['param']}={params.get(req['param'])} below {req['value']}")
        if req["type"] == "param_near":
            for skill, args, params in calls:
                if skill != req.get("skill") or not _matches(req, args.get("object"), objects):
                    continue
                v = params.get(req["param"])
                if (
                    v is None
                    or np.linalg.norm(np.asarray(v, float)[:2] - np.asarray(req["value"], float)[:2])
                    > req["tolerance"] + 1e-9
                ):
                    why.append(f"{skill}.{req['param']}={v} not within {req['tolerance']} of {req['value']}")
    return not why, why
