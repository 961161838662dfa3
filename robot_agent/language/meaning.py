"""Meaning keys: what a grounded correction or goal means, in the candidates' terms.

A key ("move:left", "grasp:handle", "order:open:cabinet", "put:apple:bowl") lets the layer
compare what the grammar read with what the scene allows and with what the model heard.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from robot_agent.language.grammar import Correction, CorrectionKind

log = logging.getLogger(__name__)

#: families that change the plan (a replan), not a parameter of the running skill
PLAN_FAMILIES = {
    "order",
    "order_first",
    "step",
    "swap_object",
    "swap_target",
    "avoid",
    "forbid",
    "stack",
    "stack_key",
    "retry",
}
#: families the candidates enumerate; a grammar reading in one of these must be a candidate
ENUMERATED = {
    "move",
    "speed",
    "grasp",
    "pull",
    "push",
    "place_height",
    "lift",
    "approach",
    "rotate",
    "confirm",
} | PLAN_FAMILIES
_DIRS = (("forward", "back"), ("left", "right"), ("up", "down"))


def _sign(change: Mapping[str, Any], default: float) -> float:
    ((op, v),) = change.items()
    try:
        if op == "scale":
            return float(v) - 1.0
        if op == "add":
            return float(v) if not isinstance(v, (list, tuple)) else float(np.sum(v))
        if op == "set" and isinstance(v, (int, float)):
            return float(v) - default
    except (TypeError, ValueError):
        return 0.0
    return 0.0


def _direction(delta: Any) -> str | None:
    try:
        d = np.asarray(delta, dtype=float)
    except (TypeError, ValueError):
        return None
    if d.shape != (3,) or not np.any(np.abs(d) > 1e-6):
        return None
    i = int(np.argmax(np.abs(d)))
    return _DIRS[i][0] if d[i] > 0 else _DIRS[i][1]


def correction_keys(c: Correction, defaults: Mapping[str, Any] | None = None) -> set[str]:
    """The meaning keys of an actionable correction (empty for stop/unclear/refused)."""
    defaults = defaults or {}
    if c.kind is CorrectionKind.CONFIRM:
        return {"confirm"}
    if not c.actionable:
        return set()
    keys: set[str] = set()
    if c.plan:
        keys |= plan_keys(c.plan)
    for name, change in c.parameters.items():
        if not isinstance(change, Mapping) or len(change) != 1:
            continue
        ((op, v),) = change.items()
        s = _sign(change, float(defaults.get(name, 0.0)) if isinstance(defaults.get(name, 0.0), (int, float)) else 0.0)
        if name == "grasp_region" and op == "set":
            keys.add(f"grasp:{v}")
        elif name == "speed":
            keys.add("speed:slower" if s < 0 else "speed:faster")
        elif name == "pull_distance":
            keys.add("pull:more" if s > 0 else "pull:less")
        elif name in ("distance", "push_distance"):
            keys.add("push:more" if s > 0 else "push:less")
        elif name == "place_height":
            keys.add("place_height:lower" if s < 0 else "place_height:higher")
            keys.add("move:down" if s < 0 else "move:up")
        elif name == "lift_height":
            keys.add("lift:higher" if s > 0 else "lift:lower")
        elif name == "approach_height":
            keys.add("approach:higher" if s > 0 else "approach:lower")
        elif name == "gripper_yaw":
            keys.add("rotate:clockwise" if s < 0 else "rotate:counterclockwise")
        else:
            keys.add(f"other:{name}")
    d = _direction(c.delta_m)
    if d is not None:
        keys.add(f"move:{d}")
        if d in ("up", "down"):
            keys.add(f"place_height:{'higher' if d == 'up' else 'lower'}")
    return keys


def plan_keys(plan: Mapping[str, Any]) -> set[str]:
    t = plan.get("type")
    call = plan.get("call") or {}
    first = plan.get("first") or {}
    if t == "order" and first.get("skill") == "open" and first.get("object"):
        return {f"order:open:{first['object']}"}
    if t == "order" and first.get("skill") in ("pick", "push") and first.get("object"):
        return {f"order_first:{first['object']}"}
    if t == "step" and call.get("skill") == "open" and call.get("object"):
        return {f"order:open:{call['object']}"}  # "you forgot to open the drawer": open it before going on
    if t == "step" and call.get("skill") == "close" and call.get("object"):
        return {f"step:close:{call['object']}"}
    if t == "target":
        out = set()
        if plan.get("role") in ("object", "both") and plan.get("object"):
            out.add(f"swap_object:{plan['object']}")
        if plan.get("role") in ("destination", "both") and plan.get("destination"):
            out.add(f"swap_target:{plan['destination']}")
        return out or {"other:target"}
    if t == "forbid" and call.get("skill") in ("open", "close") and call.get("object"):
        return {f"forbid:{call['skill']}:{call['object']}"}  # a drawer's step, as the candidates name it
    if t == "forbid" and call.get("object"):
        return {f"forbid:{call['object']}"}
    if t == "avoid" and isinstance(plan.get("object"), Mapping):
        return {kind_key(plan["object"])}
    if t == "avoid" and plan.get("object"):
        return {f"avoid:{plan['object']}"}
    if t == "stack" and plan.get("object") and plan.get("position") == "bottom":
        return {f"stack_bottom:{plan['object']}"}
    if t == "stack" and plan.get("key") == "size" and plan.get("bottom") in ("largest", "smallest"):
        return {f"stack_key:{plan['bottom']}"}
    if t == "retry":
        return {"retry"}
    if t == "preference":
        sel = plan.get("selector") or {}
        if sel.get("category") and plan.get("target"):
            return {f"prefer:{sel['category']}:{sel.get('color', '')}:{plan['target']}"}
    return {f"other:{t}"}


def kind_key(ref: Mapping[str, Any]) -> str:
    """The key of keeping away from every object of a kind ("the glasses"): category, colour, shape."""
    return "avoid_all:" + ":".join(str(ref.get(k) or "") for k in ("category", "color", "shape"))


def family(key: str) -> str:
    return key.split(":", 1)[0]


def goal_keys(atoms: list[dict[str, Any]], categories: Mapping[str, str]) -> set[str]:
    """Candidate keys a goal's atoms amount to (empty when it is not one candidate's meaning)."""
    if not atoms:
        return set()
    ats = [a for a in atoms if a["kind"] == "at"]
    if len(atoms) == 1:
        a = atoms[0]
        objs = a.get("objects", [])
        if a["kind"] == "at" and len(objs) == 1 and len(a["targets"]) == 1:
            return {f"put:{objs[0]}:{a['targets'][0]}"}
        if a["kind"] == "at" and len(objs) == 1:
            return {f"away:{objs[0]}"}
        if a["kind"] == "holding" and len(objs) == 1:
            return {f"pick:{objs[0]}"}
        if a["kind"] == "pushed" and len(objs) == 1:
            return {f"push:{objs[0]}"}
        if a["kind"] == "drawer" and len(objs) == 1:
            return {f"{'open' if a['open'] else 'close'}:{objs[0]}"}
        if a["kind"] == "home":
            return {"home"}
    if ats and len(ats) == len(atoms):
        targets = {tuple(a["targets"]) for a in ats}
        objs = [o for a in ats for o in a["objects"]]
        cats = {categories.get(o, "") for o in objs}
        if len(targets) == 1 and len(cats) == 1 and len(next(iter(targets))) == 1:
            return {f"put_all:{cats.pop()}:{next(iter(targets))[0]}"}
        if len(cats) == 1 and any(set(a["objects"]) == set(a["targets"]) for a in ats):
            return {f"stack:{cats.pop()}"}
    if len(ats) == 1 and len(atoms) == 2 and atoms[0]["kind"] == "drawer":
        return goal_keys(ats, categories)  # "open the drawer and put the apple in it": the put is the point
    return set()


def acted_keys(u: Any) -> tuple[str, frozenset[str]]:
    """(what acting on an ``Understanding`` of a correction is, its meaning keys): ("skill",
    {"move:left"}) for "a bit to the left", ("ask", {}) for a question. Two readings with the same
    pair would do the same thing; speech uses it to tell a transcript that means another motion."""
    c = u.correction
    if u.decision != "act" or c is None:
        return u.decision, frozenset()
    keys = frozenset(correction_keys(c))
    if not keys:
        keys = frozenset({c.kind.value, *sorted(c.parameters), *(sorted(c.plan) if c.plan else [])})
    return c.kind.value, keys


def goal_atoms(goal: Any) -> list[dict[str, Any]]:
    """A :class:`robot_agent.policy.goals.Goal`'s atoms as data (see :attr:`Understanding.atoms`)."""
    out: list[dict[str, Any]] = []
    for a in goal.atoms:
        d: dict[str, Any] = {"kind": a.kind}
        if a.kind != "home":
            d["objects"] = list(a.objects)
        if a.kind == "at":
            d["targets"] = list(a.targets)
        if a.kind == "drawer":
            d["open"] = bool(a.open)
        out.append(d)
    return out


def goal_act(text: str, canonical: str, objects: Any, confidence: float, source: str) -> Any:
    """An act :class:`~robot_agent.language.types.Understanding` of the goal ``canonical`` (the
    grammar's words on scene names) reads as, or None when it reads as no goal."""
    from robot_agent.errors import PolicyError
    from robot_agent.language.types import Understanding
    from robot_agent.policy.goals import parse_goal

    try:
        goal = parse_goal(canonical, list(objects))
    except PolicyError as exc:
        log.info("task reading %r did not parse: %s", canonical, exc)
        return None
    if goal is None:
        return None
    return Understanding(
        text,
        "task",
        "act",
        task=canonical,
        goal=goal.describe(),
        atoms=goal_atoms(goal),
        confidence=confidence,
        source=source,
    )


def decision(c: Correction) -> str:
    """What the layer does with a correction the grammar built: stop, refuse, ask or act."""
    if c.kind is CorrectionKind.STOP:
        return "stop"
    if c.refusal:
        return "refuse"
    if c.kind is CorrectionKind.UNCLEAR or c.question:
        return "ask"
    return "act"
