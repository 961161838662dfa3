"""Where remembered knowledge applies, which decision it changed, and which corrections it caused.

Retrieval proposes items by similarity; this module decides, per item and per task, whether the
item *applies*, and records what it did:

* **Role and condition** (:func:`describe`, stored in the item's scope at distill time): the role
  the item constrains (``destination``, ``manipulated`` object, ``obstacle`` / tool path,
  ``order`` of calls, ``parameter`` of a skill, ``plan`` step) and when it applies (a destination
  preference only when the task leaves the destination open: "put away", "tidy up").
* **Explicit words win** (:func:`assess_plan_items`): what the task names (its destination, the
  object it moves) overrides remembered knowledge; an avoid rule never constrains the object the
  task manipulates; of two remembered items that contradict each other the operator's latest word
  wins, and a correction in this episode overrides any remembered item it contradicts
  (:func:`yield_to_episode`). Each overridden item is reported with the reason.
* **Attribution**: an item counts as ``used`` only when it changed a decision (a destination, a
  call order, a keep-out, a parameter value); the record names that decision and the calls it
  affects. Items retrieved but without effect are ``irrelevant`` (with the reason), hints stay
  ``hint``. :func:`knowledge_caused` finds the corrections that changed a decision an item made
  (the harm metric; the false-transfer count of the benchmark uses it too).
* **Crossing categories**: skill knowledge goes to another object category only when the operator
  said it generally ("anything fragile") or the retrieval score is at least
  :data:`CROSS_CATEGORY_SCORE`; the decision is logged with the score.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skills.library import CONTAINERS, GRASPABLE, SUPPORTS
from skills.params import default_params, format_value
from skills.types import ObjectInfo

#: a skill item learned on another object category applies only from this retrieval score on
#: (unless the operator said it generally)
CROSS_CATEGORY_SCORE = 0.85

#: words by which an operator states a rule for everything, not for the object at hand
_GENERAL = re.compile(r"\b(?:any|anything|everything|all|every|whatever|whichever)\b", re.I)

_ROLE = {
    "preference": ("destination", "the task leaves the destination open (put away, tidy up)"),
    "order": ("order", "a step of the plan matches the later call"),
    "stack": ("destination", "the task leaves the stacking order open"),
    "require_step": ("plan", "always"),
    "param": ("parameter", "calls on matching objects"),
}


def describe(kind: str, constraint: Mapping[str, Any] | None, texts: Iterable[str] = ()) -> dict[str, str]:
    """The applicability an item states: ``role``, ``applies_when`` and ``generality``.

    Args:
        kind: ``plan`` or ``skill``.
        constraint: a plan item's generalized constraint (None for skill items and free text).
        texts: the operator's words the item came from.
    """
    general = any(_GENERAL.search(t or "") for t in texts)
    if kind == "skill":
        role, when = "parameter", "the same skill on the same object category"
    elif not isinstance(constraint, Mapping):
        role, when = "plan", "a hint to the planner"
    else:
        t = constraint.get("type") or constraint.get("kind")
        if t == "target":
            if constraint.get("role") == "object":
                role, when = "manipulated", "the task leaves the object to move open"
            else:
                role, when = "destination", "the task leaves the destination open"
        elif t in ("avoid", "forbid"):
            if constraint.get("skill") or constraint.get("target") or constraint.get("target_category"):
                role, when = "manipulated", "the task leaves the object open"
            else:
                role, when = "obstacle", "the object is on the scene; never for moves of the object itself"
        else:
            role, when = _ROLE.get(str(t), ("plan", "always"))
    return {"role": role, "applies_when": when, "generality": "general" if general else "category"}


@dataclass
class Assessment:
    """What became of one retrieved item in one episode.

    ``status``: ``used`` (it changed ``decision``), ``pending`` (handed to the planner; decided by
    :func:`attribute_plan`), ``overridden`` / ``irrelevant`` (with ``reason``), ``hint`` (free text
    shown to the planner, no checkable effect).
    """

    item: Any
    score: float
    status: str
    role: str = ""
    reason: str = ""
    decision: str = ""
    constraint: Any = None
    affects: list[dict[str, Any]] = field(default_factory=list)
    pc: Any = None  # the compiled PlanConstraint

    def record(self, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event": self.status,
            "id": self.item.id,
            "kind": self.item.kind,
            "rule": self.item.rule,
            "score": round(float(self.score), 3),
            "role": self.role,
        }
        if self.decision:
            out["decision"] = self.decision
        if self.reason:
            out["reason"] = self.reason
        if self.affects:
            out["affects"] = self.affects
        if getattr(self.item, "status", "active") != "active":
            out["item_status"] = self.item.status
        out.update(extra)
        return out


def _names(objs: Iterable[ObjectInfo]) -> list[str]:
    return sorted(o.name for o in objs)


def _latest(item: Any) -> float:
    ts = item.provenance.get("timestamps") if isinstance(item.provenance, Mapping) else None
    vals = [float(t) for t in ts or [] if isinstance(t, (int, float))]
    return max(vals) if vals else float(getattr(item, "created", 0.0))


def _compile(item: Any) -> Any:
    from robot_agent.policy.constraint_compile import compile_knowledge

    c = item.parameters.get("constraint")
    raw: Any = {**c, "source": "memory"} if isinstance(c, Mapping) else item.rule
    cs, _hints, _w = compile_knowledge([raw], source="memory")
    return (cs[0] if cs else None), raw


def assess_plan_items(
    hits: Sequence[tuple[Any, float]], task: str, objects: Mapping[str, ObjectInfo]
) -> list[Assessment]:
    """Decide, before planning, what each retrieved plan item may do on this task and scene."""
    from robot_agent.policy.constraints import AvoidConstraint, PreferenceConstraint, StackConstraint, TargetConstraint
    from robot_agent.policy.goals import parse_goal

    objs = list(objects.values())
    try:
        goal = parse_goal(task, objs)
    except Exception:  # noqa: BLE001 - the planner reports an ungroundable task; here: no goal known
        goal = None
    atoms = list(goal.atoms) if goal is not None else []
    at_atoms = [a for a in atoms if a.kind == "at"]
    moved = {n for a in atoms if a.kind in ("at", "holding", "pushed") for n in a.objects}
    out: list[Assessment] = []
    for item, score in hits:
        role = str(item.scope.get("role") or describe(item.kind, item.parameters.get("constraint"))["role"])
        pc, raw = _compile(item)
        a = Assessment(item, score, "pending", role, constraint=raw, pc=pc)
        out.append(a)
        if pc is None:
            a.status, a.reason = "hint", "free text: shown to the planner, no checkable decision"
            continue
        if isinstance(pc, (PreferenceConstraint, TargetConstraint)) and (
            isinstance(pc, PreferenceConstraint) or pc.role in ("destination", "both")
        ):
            dest_ref = pc.target if isinstance(pc, PreferenceConstraint) else pc.destination
            sel_ref = pc.selector if isinstance(pc, PreferenceConstraint) else pc.object
            if dest_ref is None:
                a.status, a.reason = "irrelevant", "names no destination"
                continue
            tgts = {
                o.name
                for o in dest_ref.resolve(objs, categories=CONTAINERS | SUPPORTS)
                if o.category in CONTAINERS | SUPPORTS
            }
            sel = {o.name for o in (sel_ref.resolve(objs, categories=GRASPABLE) if sel_ref else objs)}
            sel = {n for n in sel if objects[n].category in GRASPABLE}
            if not tgts:
                a.status, a.reason = "irrelevant", f"no {dest_ref.describe()} on this scene"
                continue
            if not sel:
                what = sel_ref.describe() if sel_ref else "object"
                a.status, a.reason = "irrelevant", f"about {what}: none on this scene"
                continue
            if goal is None:
                continue  # pending: attributed from the plan
            mine = [t for t in at_atoms if set(t.objects) & sel]
            if not mine:
                a.status, a.reason = "irrelevant", "the task moves none of the objects it is about"
                continue
            open_ = [t for t in mine if len(t.targets) > 1]
            explicit = [t for t in mine if len(t.targets) == 1]
            if not open_:
                if all(t.targets[0] in tgts for t in explicit):
                    a.status, a.reason = "irrelevant", "the task already sends it there"
                else:
                    named = ", ".join(f"{'/'.join(t.objects)} -> {t.targets[0]}" for t in explicit)
                    a.status, a.reason = "overridden", f"the task names the destination ({named})"
                continue
            a.status = "used"
            dests = sorted(tgts)
            movers = sorted({n for t in open_ for n in t.objects if n in sel})
            a.decision = f"destination of {', '.join(movers)}: {' or '.join(dests)} (the task left it open)"
            a.affects = [{"what": "destination", "skill": "place", "object": n, "targets": dests} for n in movers]
            if explicit:
                a.reason = "not for " + ", ".join(
                    f"{'/'.join(t.objects)} (the task names its destination)" for t in explicit
                )
            continue
        if isinstance(pc, TargetConstraint):  # the object to move
            if goal is not None and all(len(t.objects) == 1 for t in atoms if t.kind in ("at", "holding")):
                a.status, a.reason = "overridden", "the task names the object to move"
            continue
        if isinstance(pc, AvoidConstraint):
            avoided = {o.name for o in pc.object.resolve(objs)} if pc.object is not None else set()
            if pc.object is not None and not avoided:
                a.status, a.reason = "irrelevant", f"no {pc.object.describe()} on this scene"
                continue
            if pc.skill or pc.target is not None:  # "don't push the mug": about what the calls act on
                if goal is not None and avoided & moved:
                    a.status, a.reason = "overridden", f"the task asks for {', '.join(sorted(avoided & moved))}"
                continue
            if goal is not None and moved and moved <= avoided:
                a.status = "overridden"
                a.reason = f"the task moves the {', '.join(sorted(moved))} itself: an avoid rule never constrains it"
                continue
            a.status, a.role = "used", "obstacle"
            a.decision = f"keep-out around {', '.join(sorted(avoided))} for the tool path"
            a.affects = [{"what": "keep_out", "object": n} for n in sorted(avoided)]
            if avoided & moved:
                a.reason = f"not a veto on moving the {', '.join(sorted(avoided & moved))}: the task moves it"
            continue
        if isinstance(pc, StackConstraint) and goal is not None:
            from robot_agent.policy.constraint_compile import _stack_pairs

            pairs = _stack_pairs(pc, objs)
            named = [(t.objects[0], t.targets[0]) for t in at_atoms if len(t.objects) == 1 and len(t.targets) == 1]
            if any(p in pairs for p in named):
                a.status, a.reason = "overridden", "the task names what goes on what"
            elif not pairs:
                a.status, a.reason = "irrelevant", "nothing to stack on this scene"
    _resolve_contradictions(out, objects)
    return out


def _resolve_contradictions(out: list[Assessment], objects: Mapping[str, ObjectInfo]) -> None:
    """Two remembered items that send the same object to different places: the latest word wins."""
    dest = [a for a in out if a.status == "used" and a.affects and a.affects[0].get("what") == "destination"]
    for a in dest:
        for b in dest:
            if a is b or b.status != "used" or a.status != "used":
                continue
            shared = {e["object"] for e in a.affects} & {e["object"] for e in b.affects}
            if not shared:
                continue
            ta = {tuple(e["targets"]) for e in a.affects if e["object"] in shared}
            tb = {tuple(e["targets"]) for e in b.affects if e["object"] in shared}
            if ta == tb:
                continue
            old, new = (a, b) if _latest(a.item) < _latest(b.item) else (b, a)
            if getattr(new.item, "status", "active") == "demoted" and getattr(old.item, "status", "active") == "active":
                old, new = new, old  # a demoted item yields to an active one
            old.status = "overridden"
            old.reason = f"contradicted by the operator's later word: {new.item.rule!r} ({new.item.id})"
            old.affects, old.decision = [], ""


def attribute_plan(assessed: Sequence[Assessment], calls: Sequence[Any], objects: Mapping[str, ObjectInfo]) -> None:
    """Settle the ``pending`` items from the plan made: ``used`` with the decision they changed, or ``irrelevant``."""
    from robot_agent.policy.constraint_compile import resolve_pattern
    from robot_agent.policy.constraints import (
        AvoidConstraint,
        OrderConstraint,
        ParamConstraint,
        PreferenceConstraint,
        RequireStepConstraint,
        StackConstraint,
        TargetConstraint,
    )
    from robot_agent.policy.types import SkillCall

    objs = list(objects.values())
    sc = [SkillCall(c.skill, dict(c.args), dict(getattr(c, "params", {}) or {})) for c in calls]
    for a in assessed:
        if a.status != "pending":
            continue
        pc = a.pc
        if isinstance(pc, OrderConstraint):
            first = resolve_pattern(pc.first, objs)
            then = resolve_pattern(pc.then, objs) if pc.then is not None else None
            hits = [c for c in sc if then is not None and then.matches(c)]
            firsts = [c for c in sc if first.matches(c)]
            if hits and firsts:
                a.status = "used"
                a.decision = f"{firsts[0].text()} before {hits[0].text()}"
                a.affects = [
                    {"what": "order", "skill": c.skill, "object": c.args.get("object"), "target": c.args.get("target")}
                    for c in (firsts[0], hits[0])
                ]
            else:
                a.status, a.reason = "irrelevant", "no step of the plan is one it orders"
        elif isinstance(pc, StackConstraint):
            places = [c for c in sc if c.skill == "place" and objects.get(c.args.get("target", "")) is not None]
            on_movable = [c for c in places if objects[c.args["target"]].category in GRASPABLE]
            if on_movable:
                a.status = "used"
                a.decision = "stacking order: " + ", ".join(c.text() for c in on_movable)
                a.affects = [{"what": "stack", "skill": "place", "object": c.args.get("object")} for c in on_movable]
            else:
                a.status, a.reason = "irrelevant", "the plan stacks nothing"
        elif isinstance(pc, (ParamConstraint, RequireStepConstraint)):
            pat = resolve_pattern(pc.call, objs) if isinstance(pc, RequireStepConstraint) else None
            hit = [c for c in sc if (pat.matches(c) if pat is not None else c.skill == pc.skill)]
            if hit:
                a.status, a.decision = "used", f"{pc.describe()}: {hit[0].text()}"
                a.affects = [{"what": pc.kind, "skill": hit[0].skill, "object": hit[0].args.get("object")}]
            else:
                a.status, a.reason = "irrelevant", "no step of the plan is one it is about"
        elif isinstance(pc, (PreferenceConstraint, TargetConstraint)):
            dest = pc.target if isinstance(pc, PreferenceConstraint) else pc.destination
            tg = {o.name for o in dest.resolve(objs)} if dest is not None else set()
            hit = [c for c in sc if c.skill == "place" and c.args.get("target") in tg]
            if hit:
                a.status, a.decision = "used", f"destination: {hit[0].text()}"
                a.affects = [
                    {"what": "destination", "skill": "place", "object": c.args.get("object"), "targets": sorted(tg)}
                    for c in hit
                ]
            else:
                a.status, a.reason = "irrelevant", "the plan places nothing where it says"
        elif isinstance(pc, AvoidConstraint):
            a.status, a.decision = "used", f"forbids {pc.describe()}"
        else:
            a.status, a.reason = "irrelevant", "no effect on this plan"


def yield_to_episode(
    constraints: list[Any], new: Mapping[str, Any], objects: Mapping[str, ObjectInfo]
) -> list[tuple[Any, str]]:
    """Remove from ``constraints`` the remembered ones that the episode's correction ``new`` contradicts.

    The operator's words in this episode win over remembered knowledge: a correction of the
    destination (target / preference) removes remembered destination rules about the same objects,
    one about the order of two calls removes the remembered order of the same calls.

    Returns:
        (removed constraint, why) pairs.
    """
    from robot_agent.policy.constraint_compile import compile_knowledge

    mine = compile_knowledge([new])[0]
    if not mine:
        return []
    n = mine[0]
    objs = list(objects.values())
    removed: list[tuple[Any, str]] = []
    for c in list(constraints):
        if not (isinstance(c, Mapping) and c.get("source") == "memory"):
            continue
        cs = compile_knowledge([c])[0]
        if not cs or not _contradicts(cs[0], n, objs):
            continue
        constraints.remove(c)
        removed.append((c, f"the operator's correction in this episode says otherwise: {n.describe()}"))
    return removed


def _contradicts(old: Any, new: Any, objs: list[ObjectInfo]) -> bool:
    from robot_agent.policy.constraints import OrderConstraint, PreferenceConstraint, StackConstraint, TargetConstraint

    def dest(c: Any) -> tuple[set[str], set[str]] | None:
        if isinstance(c, PreferenceConstraint):
            return {o.name for o in c.selector.resolve(objs)}, {o.name for o in c.target.resolve(objs)}
        if isinstance(c, TargetConstraint) and c.role in ("destination", "both") and c.destination is not None:
            sel = {o.name for o in c.object.resolve(objs)} if c.object is not None else {o.name for o in objs}
            return sel, {o.name for o in c.destination.resolve(objs)}
        return None

    a, b = dest(old), dest(new)
    if a is not None and b is not None:
        return bool(a[0] & b[0]) and a[1] != b[1]
    if isinstance(old, OrderConstraint) and isinstance(new, OrderConstraint):
        return old.first.describe() == (new.then.describe() if new.then else "") or (
            old.then is not None and old.then.describe() == new.first.describe()
        )
    return isinstance(old, StackConstraint) and isinstance(new, StackConstraint)


def cross_category(item: Any, score: float, category: str) -> tuple[bool, str]:
    """May a skill item learned on another object category apply to ``category``? (yes/no, why)."""
    learned = item.scope.get("object_category")
    if not learned or learned == category:
        return True, ""
    if item.scope.get("generality") == "general":
        return True, f"learned on a {learned}, said generally: applied to the {category} (score {score:.2f})"
    if score >= CROSS_CATEGORY_SCORE:
        return True, (
            f"learned on a {learned}, applied to the {category}: strong evidence "
            f"(score {score:.2f} >= {CROSS_CATEGORY_SCORE})"
        )
    return (
        False,
        f"learned on a {learned}; the {category} is another category (score {score:.2f} < {CROSS_CATEGORY_SCORE})",
    )


def assess_skill_item(
    item: Any,
    score: float,
    call: Any,
    learned: Mapping[str, Any],
    plan_params: Mapping[str, Any],
    episode_params: Mapping[str, Any],
    crossed: str = "",
) -> Assessment:
    """Did a skill item change a parameter of this call? ``used`` names the values it set."""
    defaults = default_params(call.skill)
    obj = call.args.get("object", "")
    mine = {k: v for k, v in learned.items() if k not in plan_params and k not in episode_params}
    changed = {k: v for k, v in mine.items() if v != defaults.get(k)}
    over = sorted(k for k in learned if k in episode_params and episode_params[k] != learned[k])
    a = Assessment(item, score, "used", "parameter", reason=crossed)
    if changed:
        vals = ", ".join(f"{k}={format_value(v)}" for k, v in changed.items())
        a.decision = f"{call.skill}({obj}): {vals}"
        a.affects = [{"what": "parameter", "skill": call.skill, "object": obj, "params": sorted(changed)}]
    elif over:
        a.status, a.reason = "overridden", f"this episode's correction set {', '.join(over)}"
    else:
        a.status, a.reason = "irrelevant", "its values are what the call would use anyway"
    return a


def _within(plan: Mapping[str, Any], affect: Mapping[str, Any]) -> bool:
    """Did a destination correction pick one of several destinations the item left open?

    Then the item did not make the choice it corrects ("blocks go in a tray" with two trays, and the
    operator says which): the choice was the planner's.
    """
    new = plan.get("destination") or plan.get("target")
    targets = list(affect.get("targets") or [])
    return isinstance(new, str) and len(targets) > 1 and new in targets


def knowledge_caused(result: Any) -> list[tuple[int, str]]:
    """Corrections that changed a decision a remembered item made: (index in ``result.corrections``, item id).

    A skill correction is caused by an item that set one of the parameters it changes on the same
    call; a destination correction (target / preference) during a place of an object whose
    destination an item chose (not one that picks among several destinations the item left open);
    an order correction on a call an item ordered; a stacking correction on a place an item's
    stacking order decided.
    """
    out: list[tuple[int, str]] = []
    used = [r for r in getattr(result, "knowledge_used", []) if r.get("affects")]
    for i, c in enumerate(result.corrections):
        if c.outcome not in ("applied", "replanned") or not c.call:
            continue
        skill, obj = c.call.get("skill"), c.call.get("args", {}).get("object")
        kind = c.understood.get("kind")
        plan = c.understood.get("plan") if isinstance(c.understood.get("plan"), Mapping) else {}
        ptype = plan.get("type")
        params = set(dict(c.understood.get("parameters") or {}))
        for r in used:
            hit = False
            for e in r["affects"]:
                if e.get("skill") not in (None, skill) or e.get("object") not in (None, obj):
                    continue
                what = e.get("what")
                if kind == "skill" and what == "parameter" and params & set(e.get("params", [])):
                    hit = True
                elif kind == "plan" and (
                    (what == "destination" and ptype in ("target", "preference") and not _within(plan, e))
                    or (what == "order" and ptype in ("order", "step"))
                    or (what == "stack" and ptype == "stack")
                ):
                    hit = True
            if hit:
                out.append((i, r["id"]))
    return out
