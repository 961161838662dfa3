"""Constraints compiled for planning: knowledge split into constraints and hints, then resolved on a scene.

:func:`compile_knowledge` turns knowledge and corrections (constraint objects, dicts, text
rules) into checkable :class:`~robot_agent.policy.constraints.PlanConstraint` objects and
prompt-only hints; :func:`resolve_pattern` and :class:`CompiledConstraints` resolve them on one
scene (names instead of refs), so the planner and its search check calls quickly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from robot_agent.errors import ParameterError, PolicyError, UnknownSkillError
from robot_agent.policy.constraints import (
    RECEPTACLES,
    AvoidConstraint,
    CallPattern,
    OrderConstraint,
    ParamConstraint,
    PlanConstraint,
    PreferenceConstraint,
    RequireStepConstraint,
    StackConstraint,
    constraint_from_dict,
    parse_rule,
)
from robot_agent.policy.grounding import ObjectRef
from robot_agent.policy.state import SymbolicState
from robot_agent.policy.types import SkillCall
from skills.library import CONTAINERS, GRASPABLE, SUPPORTS
from skills.params import SKILL_ARGS, validate_params
from skills.types import ObjectInfo

# the planner's logger: the compiled constraints' warnings read as the planner's, as before the split
log = logging.getLogger("robot_agent.policy.planner")


# --------------------------------------------------------------------------- compiling


def compile_knowledge(
    items: Iterable[Any] | None, *, source: str = ""
) -> tuple[list[PlanConstraint], list[str], list[str]]:
    """Split knowledge/corrections into checkable constraints and prompt-only hints.

    Args:
        items: PlanConstraint objects, dicts (any accepted format) or text rules.
        source: default ``source`` for constraints built here.

    Returns:
        (constraints, hints, warnings): hints are the texts no rule understood (still shown
        to the LLM); warnings say which items were refused and why.
    """
    constraints: list[PlanConstraint] = []
    hints: list[str] = []
    warnings: list[str] = []
    for item in items or ():
        if item is None:
            continue
        if isinstance(item, PlanConstraint):
            constraints.append(item)
            continue
        if isinstance(item, Mapping):
            try:
                c = constraint_from_dict(item)
            except PolicyError as exc:
                warnings.append(str(exc))
                continue
            if c is None:
                text = str(item.get("text") or item.get("description") or item.get("rule") or "")
                c = parse_rule(text, source=str(item.get("source") or source)) if text else None
                if c is None:
                    if text:
                        hints.append(text)
                    else:
                        warnings.append(f"constraint {dict(item)!r} is not checkable and has no text")
                    continue
            if not c.source:
                c.source = source
            constraints.append(c)
            continue
        if isinstance(item, str):
            for sentence in _sentences(item):
                c = parse_rule(sentence, source=source)
                if c is None:
                    hints.append(sentence)
                else:
                    constraints.append(c)
            continue
        text = getattr(item, "rule", None) or getattr(item, "text", None)
        if isinstance(text, str):
            hints.append(text)
            continue
        warnings.append(f"ignored knowledge of type {type(item).__name__}")
    return constraints, hints, warnings


def _sentences(text: str) -> list[str]:
    parts = [p.strip() for p in re.split(r"(?<=[.;!?])\s+|\n+", text) if p.strip()]
    return parts or ([text.strip()] if text.strip() else [])


@dataclass(frozen=True)
class NamePattern:
    """A :class:`CallPattern` resolved on one scene: names instead of refs (None = any)."""

    skill: str
    objects: frozenset[str] | None
    targets: frozenset[str] | None

    def matches(self, call: SkillCall) -> bool:
        if self.skill and call.skill != self.skill:
            return False
        if self.objects is not None and call.args.get("object") not in self.objects:
            return False
        return self.targets is None or call.args.get("target") in self.targets

    def names(self) -> frozenset[str]:
        return (self.objects or frozenset()) | (self.targets or frozenset())


def resolve_pattern(p: CallPattern, objects: Sequence[ObjectInfo]) -> NamePattern:
    """Names the refs of ``p`` mean on this scene (an unresolvable ref matches nothing)."""

    def names(ref: ObjectRef | None, cats: Iterable[str] | None = None) -> frozenset[str] | None:
        if ref is None:
            return None
        return frozenset(o.name for o in ref.resolve(objects, categories=cats))

    skill = p.skill
    obj_cats = {"open": ("cabinet",), "close": ("cabinet",)}.get(skill)
    return NamePattern(skill, names(p.object, obj_cats), names(p.target, RECEPTACLES if skill == "place" else None))


def _stack_pairs(c: StackConstraint, objects: Sequence[ObjectInfo]) -> frozenset[tuple[str, str]]:
    """The (object, target) place calls a stacking-order constraint forbids on this scene."""
    movable = [o for o in objects if o.category in GRASPABLE]
    out: set[tuple[str, str]] = set()
    if c.bottom:
        sel = {o.name for o in c.selector.resolve(movable)} if c.selector is not None else {o.name for o in movable}

        def area(o: ObjectInfo) -> float:
            return float(o.size[0] * o.size[1])

        for a in movable:
            for b in movable:
                if a.name == b.name or a.name not in sel or b.name not in sel:
                    continue
                # bottom=largest: a may go on b only when b is larger (and the other way round)
                if (c.bottom == "largest" and area(b) < area(a)) or (c.bottom == "smallest" and area(b) > area(a)):
                    out.add((a.name, b.name))
    elif c.object is not None:
        named = {o.name for o in c.object.resolve(movable)}
        for n in named:
            for b in movable:
                if b.name == n:
                    continue
                out.add((b.name, n) if c.position == "top" else (n, b.name))
    return frozenset(out)


class CompiledConstraints:
    """Constraints resolved on one scene: names instead of refs, ready to check calls quickly."""

    def __init__(
        self, constraints: Sequence[PlanConstraint], objects: Sequence[ObjectInfo], warnings: list[str]
    ) -> None:
        self.orders: list[tuple[OrderConstraint, NamePattern, NamePattern | None]] = []
        self.avoids: list[tuple[AvoidConstraint, NamePattern, bool]] = []
        self.prefs: list[tuple[PreferenceConstraint, frozenset[str], frozenset[str]]] = []
        self.required: list[tuple[RequireStepConstraint, NamePattern]] = []
        self.params: list[tuple[ParamConstraint, frozenset[str] | None]] = []
        # (constraint, forbidden (object, target) place pairs)
        self.stacks: list[tuple[StackConstraint, frozenset[tuple[str, str]]]] = []
        for c in constraints:
            if isinstance(c, OrderConstraint):
                first = resolve_pattern(c.first, objects)
                then = resolve_pattern(c.then, objects) if c.then is not None else None
                if _empty(first) or (then is not None and _empty(then)):
                    log.debug("order constraint %s does not apply to this scene", c.describe())
                    continue
                self.orders.append((c, first, then))
            elif isinstance(c, AvoidConstraint):
                any_role = not c.skill and c.target is None
                objs = frozenset(o.name for o in c.object.resolve(objects)) if c.object is not None else None
                tgts = frozenset(o.name for o in c.target.resolve(objects)) if c.target is not None else None
                pat = NamePattern(c.skill, objs, tgts)
                if _empty(pat):
                    continue
                self.avoids.append((c, pat, any_role))
            elif isinstance(c, PreferenceConstraint):
                sel = frozenset(
                    o.name for o in c.selector.resolve(objects, categories=GRASPABLE) if o.category in GRASPABLE
                )
                tgt = frozenset(
                    o.name
                    for o in c.target.resolve(objects, categories=CONTAINERS | SUPPORTS)
                    if o.category in CONTAINERS | SUPPORTS
                )
                if sel and tgt:
                    self.prefs.append((c, sel, tgt))
            elif isinstance(c, RequireStepConstraint):
                if c.call.skill not in SKILL_ARGS:
                    warnings.append(f"required step '{c.describe()}': unknown skill {c.call.skill!r}")
                    continue
                pat = resolve_pattern(c.call, objects)
                if _empty(pat):
                    warnings.append(f"required step '{c.describe()}': no such object in this scene")
                    continue
                self.required.append((c, pat))
            elif isinstance(c, StackConstraint):
                pairs = _stack_pairs(c, objects)
                if pairs:
                    self.stacks.append((c, pairs))
            elif isinstance(c, ParamConstraint):
                try:
                    validate_params(c.skill, c.params)
                except (ParameterError, UnknownSkillError) as exc:
                    warnings.append(f"parameter constraint '{c.describe()}' refused: {exc}")
                    continue
                objs = frozenset(o.name for o in c.object.resolve(objects)) if c.object is not None else None
                if objs is not None and not objs:
                    continue
                self.params.append((c, objs))

    # -- history flags --------------------------------------------------------------------
    def new_flags(self, call: SkillCall) -> frozenset[tuple[int, str]]:
        """Order-constraint ``first`` parts this call performs: (constraint index, object)."""
        return frozenset(
            (i, call.args.get("object", "")) for i, (_c, first, _t) in enumerate(self.orders) if first.matches(call)
        )

    def new_required(self, call: SkillCall) -> frozenset[int]:
        return frozenset(j for j, (_c, pat) in enumerate(self.required) if pat.matches(call))

    def history(self, calls: Iterable[SkillCall]) -> tuple[frozenset[tuple[int, str]], frozenset[int]]:
        flags: frozenset[tuple[int, str]] = frozenset()
        req: frozenset[int] = frozenset()
        for c in calls:
            flags |= self.new_flags(c)
            req |= self.new_required(c)
        return flags, req

    # -- checks ---------------------------------------------------------------------------
    def _first_holds(self, i: int, call: SkillCall, state: SymbolicState, flags: frozenset[tuple[int, str]]) -> bool:
        _c, first, _t = self.orders[i]
        if first.objects is None:
            if any(f[0] == i for f in flags):  # "first" names no object: any matching call did it
                return True
            bound: Iterable[str] = [""]
        else:
            named = first.objects & set(call.objects())
            bound = named or first.objects
        for b in bound:
            if (i, b) in flags:
                return True
            if first.skill == "open" and state.drawer_open(b):
                return True
            if first.skill == "close" and b and not state.drawer_open(b):
                return True
            if first.skill == "pick" and state.holding == b:
                return True
            if (
                first.skill == "place"
                and b
                and state.location(b) is not None
                and (first.targets is None or state.location(b) in first.targets)
            ):
                return True
            if first.skill == "go_home" and state.at_home:
                return True
        return False

    def forbidden(
        self,
        call: SkillCall,
        state: SymbolicState,
        flags: frozenset[tuple[int, str]],
        req_done: frozenset[int],
        goal_done: bool,
    ) -> str | None:
        """Why a constraint forbids ``call`` now (None when none does)."""
        for c, pat, any_role in self.avoids:
            if any_role:
                if pat.objects and pat.objects & set(call.objects()):
                    return c.describe()
            elif pat.matches(call):
                return c.describe()
        if call.skill == "place":
            obj, tgt = call.args.get("object"), call.args.get("target")
            for c, sel, tgts in self.prefs:
                if obj in sel and tgt not in tgts:
                    return c.describe()
            for c, pairs in self.stacks:
                if (obj, tgt) in pairs:
                    return c.describe()
        for i, (c, first, then) in enumerate(self.orders):
            if first.matches(call):
                continue
            if then is not None:
                applies = then.matches(call)
            elif first.objects is None:
                applies = True
            else:
                applies = bool(first.objects & set(call.objects()))
            if applies and not self._first_holds(i, call, state, flags):
                return c.describe()
        for j, (c, pat) in enumerate(self.required):
            if c.position == "last" and pat.matches(call) and j not in req_done:
                others = {k for k, (cc, _p) in enumerate(self.required) if cc.position != "last"}
                if not goal_done or not others <= req_done:
                    return f"{c.describe()} (not yet)"
        return None

    def params_for(self, call: SkillCall) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for c, objs in self.params:
            if c.skill == call.skill and (objs is None or call.args.get("object") in objs):
                out.update(c.params)
        return out

    def required_done(self, req: frozenset[int]) -> bool:
        return all(j in req for j in range(len(self.required)))

    def pending_next(self, req: frozenset[int]) -> list[NamePattern]:
        return [pat for j, (c, pat) in enumerate(self.required) if c.position == "next" and j not in req]


def _empty(p: NamePattern) -> bool:
    return (p.objects is not None and not p.objects) or (p.targets is not None and not p.targets)
