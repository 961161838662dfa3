"""The high-level planner: SayCan-style choice of the next skill call, step by step.

At each step the planner

1. generates every call of the plannable skills over the scene objects (``SKILL_ARGS``),
2. keeps those whose preconditions hold on the symbolic state (the affordance),
3. drops those a hard constraint forbids (order, avoid, preference, required-last),
4. when the task's goal was understood, keeps the calls that start a shortest plan to
   it (a breadth-first search over the symbolic state, under the same constraints), plus
   preparatory calls that start a valid plan one step longer (``open`` of a closed drawer
   the goal puts something into), ranked with ``detour_penalty`` off their score,
5. asks the LLM backend to rank what is left when more than one call remains (the
   likelihood of each call as the next line of the plan, after a prompt with the task,
   scene, rules and steps so far), and takes the best,
6. applies the call's effects and repeats until the goal holds.

So every call is valid by construction, the constraints hold, and the plan ends when
the goal does; the LLM decides between equally good alternatives ("a block" when there
are three) and, for tasks no goal pattern understands, drives the plan on its own
(with ``done()`` as a candidate). See docs/policy.md for why the small model is kept
on this short leash.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from robot_agent.config import AgentConfig, PolicyConfig
from robot_agent.errors import ParameterError, PolicyError, UnknownSkillError
from robot_agent.policy.backends import PolicyBackend, RankRequest, make_backend, policy_config
from robot_agent.policy.constraints import (
    AvoidConstraint,
    NamePattern,
    OrderConstraint,
    ParamConstraint,
    PlanConstraint,
    PreferenceConstraint,
    RequireStepConstraint,
    StackConstraint,
    compile_knowledge,
    parse_call_phrase,
    resolve_pattern,
    skill_word,
)
from robot_agent.policy.goals import Goal, parse_goal, rewrite_goal
from robot_agent.policy.grounding import ground, parse_mention
from robot_agent.policy.prompts import DONE, PromptContext, object_lines
from robot_agent.policy.state import PLANNABLE, SymbolicState, generate_calls, initial_state, precondition_failure
from robot_agent.policy.types import Plan, ScoredCandidate, SkillCall, StepTrace
from skills.library import CONTAINERS, GRASPABLE, SUPPORTS
from skills.params import SKILL_ARGS, validate_params
from skills.types import ObjectInfo

log = logging.getLogger(__name__)

#: search nodes expanded before the planner gives up on one step
SEARCH_LIMIT = 50_000
#: score taken off a candidate per step its plan is longer than the shortest (the local backend's
#: scores are mean token log-probs; see docs/policy.md for how this value was measured)
DETOUR_PENALTY = 0.3
#: goal clauses the search looks ahead (a task's clauses are reached in order, so a long task
#: is planned a couple of clauses at a time instead of searching its whole length at every step)
LOOKAHEAD = 2

Key = tuple[str, tuple[tuple[str, str], ...]]


# --------------------------------------------------------------------------- compiled constraints


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


# --------------------------------------------------------------------------- search


@dataclass
class _Node:
    state: SymbolicState
    stage: int
    flags: frozenset[tuple[int, str]]
    req: frozenset[int]
    firsts: frozenset[Key]

    def key(self) -> tuple:
        return (self.state.core(), self.stage, self.flags, self.req)


class _Search:
    """Shortest constrained plans to the goal: which first calls start one, and how long it is."""

    def __init__(
        self, goal: Goal, cc: CompiledConstraints, objects: Sequence[ObjectInfo], state: SymbolicState, max_depth: int
    ) -> None:
        self.atoms = goal.atoms
        self.cc = cc
        self.by_name = {o.name: o for o in objects}
        self.max_depth = max_depth
        receptacles = [o.name for o in objects if o.category in CONTAINERS | SUPPORTS and o.category not in GRASPABLE]
        goal_objs = {n for a in self.atoms for n in a.objects if a.kind in ("at", "holding", "pushed")}
        goal_tgts = {n for a in self.atoms for n in a.targets}
        self.put_targets = list(dict.fromkeys(receptacles + sorted(goal_tgts)))
        self.cabinets = [o.name for o in objects if o.category == "cabinet"]
        relevant = set(goal_objs)
        for _c, first, then in cc.orders:
            for p in (first, then):
                if p is not None and p.skill in ("pick", "place", "") and p.objects:
                    relevant |= set(p.objects)
        self.push_objs: set[str] = {n for a in self.atoms if a.kind == "pushed" for n in a.objects}
        self.home = any(a.kind == "home" for a in self.atoms)
        graspable = {o.name for o in objects if o.category in GRASPABLE}
        for _c, pat in cc.required:
            objs = set(pat.objects) if pat.objects is not None else graspable
            if pat.skill in ("pick", "place"):
                relevant |= objs & graspable
            elif pat.skill == "push":
                self.push_objs |= objs & graspable
            elif pat.skill == "go_home":
                self.home = True
        # Whatever rests on a relevant object or destination may have to move first.
        grow = True
        while grow:
            grow = False
            for o, t in state.located:
                if (t in relevant or t in goal_tgts) and o not in relevant:
                    relevant.add(o)
                    grow = True
        if state.holding:
            relevant.add(state.holding)
        self.pickable = [n for n in self.by_name if n in relevant and n in graspable]
        self.all_graspable = [n for n in self.by_name if n in graspable]
        self.held_at_start = {i for i, a in enumerate(self.atoms) if a.holds(state)}

    def advance(self, stage: int, state: SymbolicState, call: SkillCall | None) -> int:
        """The goal stage after ``call``: clauses are reached in the order the task says them.

        A clause counts when a call achieves it in its turn, or when it already held as
        planning started (a later clause made true early does not count: "open the
        drawer, put the block in it" must open first).
        """
        n = len(self.atoms)
        if call is not None and stage < n and self.atoms[stage].achieved_by(call.skill, call.args):
            stage += 1
        while stage < n and stage in self.held_at_start and self.atoms[stage].holds(state):
            stage += 1
        return stage

    def initial_stage(self, state: SymbolicState, history: Sequence[SkillCall]) -> int:
        n = len(self.atoms)
        stage = 0
        while stage < n:
            a = self.atoms[stage]
            if a.holds(state):
                stage += 1
                continue
            last = stage == n - 1
            if not last and any(a.achieved_by(c.skill, c.args) for c in history):
                stage += 1
                continue
            if last and a.kind == "pushed" and any(a.achieved_by(c.skill, c.args) for c in history):
                stage += 1
                continue
            break
        return stage

    def describe(self) -> str:
        return " then ".join(a.describe() for a in self.atoms)

    def reached(self, stage: int, req: frozenset[int]) -> bool:
        return stage >= len(self.atoms) and self.cc.required_done(req)

    def calls(self, state: SymbolicState, wide: bool) -> list[SkillCall]:
        if state.holding:
            h = state.holding
            return [SkillCall("place", {"object": h, "target": t}) for t in self.put_targets if t != h]
        out = [SkillCall("pick", {"object": n}) for n in (self.all_graspable if wide else self.pickable)]
        out += [SkillCall(s, {"object": c}) for c in self.cabinets for s in ("open", "close")]
        out += [SkillCall("push", {"object": n}) for n in sorted(self.push_objs)]
        if self.home:
            out.append(SkillCall("go_home"))
        return out

    def preparatory(
        self,
        state: SymbolicState,
        stage: int,
        flags: frozenset[tuple[int, str]],
        req: frozenset[int],
        depth: int,
        allowed: Sequence[SkillCall],
        firsts: frozenset[Key],
    ) -> list[SkillCall]:
        """Opening calls worth offering next to the shortest plans' first calls.

        The goal puts something into a cabinet whose drawer is closed. The symbolic state
        lets ``place`` into a closed drawer (only the operator knows it must be opened), so
        ``open`` is on no shortest plan; but a plan that opens the drawer first is valid and
        one step longer, and it is often what the operator wants. It is offered so the
        backend can choose it (the planner charges it ``detour_penalty`` per extra step).

        Returns:
            ``open(cabinet)`` calls that are allowed now, are not already first steps of a
            shortest plan, and start a valid plan of ``depth + 1`` steps or fewer.
        """
        pending = {
            t
            for i, a in enumerate(self.atoms)
            if i >= stage and a.kind == "at" and not a.holds(state)
            for t in a.targets
        }
        by_key = {c.key(): c for c in allowed}
        out: list[SkillCall] = []
        for cab in self.cabinets:
            if cab not in pending or state.drawer_open(cab):
                continue
            call = by_key.get(SkillCall("open", {"object": cab}).key())
            if call is None or call.key() in firsts:
                continue
            after = state.apply(call)
            found = self.first_steps(
                after,
                self.advance(stage, after, call),
                flags | self.cc.new_flags(call),
                req | self.cc.new_required(call),
            )
            if found is not None and found[0] + 1 <= depth + 1:
                out.append(call)
        return out

    def first_steps(
        self, state: SymbolicState, stage: int, flags: frozenset[tuple[int, str]], req: frozenset[int]
    ) -> tuple[int, frozenset[Key]] | None:
        """(length of the shortest plan through the next ``LOOKAHEAD`` goal clauses (and, at the
        end, the required steps), keys of the first calls that start one), or None."""
        target = min(len(self.atoms), stage + LOOKAHEAD)
        for wide in (False, True):
            found = self._bfs(state, stage, flags, req, wide, target)
            if found is not None:
                return found
        return None

    def _hit(self, stage: int, req: frozenset[int], target: int) -> bool:
        return stage >= target and (target < len(self.atoms) or self.cc.required_done(req))

    def _bfs(
        self,
        state: SymbolicState,
        stage: int,
        flags: frozenset[tuple[int, str]],
        req: frozenset[int],
        wide: bool,
        target: int,
    ) -> tuple[int, frozenset[Key]] | None:
        start = _Node(state, stage, flags, req, frozenset())
        if self._hit(stage, req, target):
            return 0, frozenset()
        visited = {start.key()}
        layer = [start]
        expanded = 0
        for depth in range(1, self.max_depth + 1):
            nxt: dict[tuple, _Node] = {}
            for node in layer:
                goal_done = node.stage >= len(self.atoms)
                for call in self.calls(node.state, wide):
                    if precondition_failure(call, node.state, self.by_name):
                        continue
                    if self.cc.forbidden(call, node.state, node.flags, node.req, goal_done):
                        continue
                    expanded += 1
                    st = node.state.apply(call)
                    child = _Node(
                        st,
                        self.advance(node.stage, st, call),
                        node.flags | self.cc.new_flags(call),
                        node.req | self.cc.new_required(call),
                        node.firsts if depth > 1 else frozenset([call.key()]),
                    )
                    k = child.key()
                    if k in visited:
                        continue
                    if k in nxt:
                        nxt[k].firsts = nxt[k].firsts | child.firsts
                    else:
                        nxt[k] = child
            if expanded > SEARCH_LIMIT:
                raise PolicyError(
                    f"the plan search expanded over {SEARCH_LIMIT} states; the scene or goal is "
                    f"too large for the symbolic planner"
                )
            hits = [n for n in nxt.values() if self._hit(n.stage, n.req, target)]
            if hits:
                return depth, frozenset().union(*(n.firsts for n in hits))
            visited |= nxt.keys()
            layer = list(nxt.values())
            if not layer:
                return None
        return None


# --------------------------------------------------------------------------- planner


class Planner:
    """The high-level policy: plans and replans skill calls for a task on a perceived scene.

    Args:
        backend: ranks equally good candidates (see :func:`make_backend`).
        max_steps: longest plan produced.
        timeout_s: LLM time budget per planning call.
    """

    def __init__(
        self,
        backend: PolicyBackend,
        *,
        max_steps: int = 12,
        timeout_s: float = 10.0,
        detour_penalty: float = DETOUR_PENALTY,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        if not (detour_penalty >= 0.0 and detour_penalty != float("inf")):
            raise ValueError(f"detour_penalty must be a finite number >= 0, got {detour_penalty!r}")
        self.backend = backend
        self.max_steps = max_steps
        self.timeout_s = timeout_s
        self.detour_penalty = detour_penalty

    @classmethod
    def from_config(cls, config: PolicyConfig | AgentConfig, *, backend: PolicyBackend | None = None) -> Planner:
        """A planner with the configured backend (loaded now) and limits."""
        cfg = policy_config(config)
        return cls(
            backend or make_backend(cfg),
            max_steps=cfg.max_steps,
            timeout_s=cfg.timeout_s,
            detour_penalty=float(getattr(cfg, "detour_penalty", DETOUR_PENALTY)),
        )

    # -- public API -----------------------------------------------------------------------
    def plan(
        self,
        task: str,
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        knowledge: Iterable[Any] | None = None,
        *,
        holding: str | None | object = ...,
    ) -> Plan:
        """Plan ``task`` from scratch.

        Args:
            task: the operator's words, e.g. "put the red block in the drawer".
            objects: the perceived scene.
            knowledge: retrieved plan knowledge and corrections: :class:`PlanConstraint`
                objects, constraint dicts (any accepted format) or text rules.
            holding: what the gripper holds, when known (default: inferred from the poses).

        Returns:
            The plan; ``plan.calls`` are valid calls on this scene.

        Raises:
            PolicyError: the task names something not in the scene, no valid plan reaches
                the goal under the constraints, or the backend failed (local timeout).
        """
        return self._plan(task, objects, [], knowledge, holding)

    def replan(
        self,
        task: str,
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        done_steps: Sequence[Any] = (),
        constraints: Iterable[Any] | None = None,
        *,
        holding: str | None | object = ...,
    ) -> Plan:
        """Plan the remaining steps from the current state.

        Args:
            task: the task text.
            objects: the scene as perceived now.
            done_steps: calls that succeeded so far in this episode (SkillCall, dicts, or
                objects with ``skill``/``args``/``params``); they set the symbolic state's
                history (order constraints, required steps) and, with the poses, what is held.
            constraints: knowledge plus the corrections received so far.
            holding: what the gripper holds when the caller knows (``robot.holding()``);
                by default it is inferred from ``done_steps`` and checked against the poses.

        Returns:
            The remaining calls (none when the goal already holds).

        Raises:
            PolicyError: as for :meth:`plan`.
        """
        return self._plan(task, objects, [SkillCall.coerce(d) for d in done_steps], constraints, holding)

    def check_plan(
        self,
        raw: str | Sequence[Any],
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        knowledge: Iterable[Any] | None = None,
        *,
        done_steps: Sequence[Any] = (),
        holding: str | None | object = ...,
    ) -> Plan:
        """Validate a plan written elsewhere (an LLM's text, a log), repairing what is safe to repair.

        Each line or item is parsed into a call (skill synonyms, object names grounded
        from words), then simulated on the symbolic state. Repairs: a ``place`` of an
        object not in hand gets the missing ``pick`` before it; an exact repeat of the
        previous call is dropped. Anything else invalid is refused.

        Raises:
            PolicyError: a line names an unknown skill or object, an ambiguous object, a
                call whose preconditions fail, or a call a constraint forbids; the message
                names the step and the reason.
        """
        objs = _object_list(objects)
        by_name = {o.name: o for o in objs}
        items = parse_calls(raw) if isinstance(raw, str) else list(raw)
        done = [SkillCall.coerce(d) for d in done_steps]
        constraints, hints, warnings = compile_knowledge(knowledge)
        cc = CompiledConstraints(constraints, objs, warnings)
        state = initial_state(objs, done, holding)
        flags, req = cc.history(done)
        out: list[SkillCall] = []
        repairs: list[str] = []
        for n, item in enumerate(items, 1):
            call = repair_call(item, objs)
            if out and call.key() == out[-1].key():
                repairs.append(f"step {n}: dropped a repeat of {call.text()}")
                continue
            if call.skill == "place" and state.holding != call.args["object"] and state.holding is None:
                pick = SkillCall("pick", {"object": call.args["object"]})
                if precondition_failure(pick, state, by_name) is None and not cc.forbidden(
                    pick, state, flags, req, False
                ):
                    out.append(pick)
                    state = state.apply(pick)
                    flags |= cc.new_flags(pick)
                    repairs.append(f"step {n}: inserted {pick.text()} before {call.text()}")
            why = precondition_failure(call, state, by_name)
            if why:
                raise PolicyError(f"step {n} {call.text()} is invalid: {why}")
            why = cc.forbidden(call, state, flags, req, True)
            if why:
                raise PolicyError(f"step {n} {call.text()} breaks a constraint: {why}")
            try:
                call.params = {**cc.params_for(call), **call.params}
                validate_params(call.skill, call.params)
            except ParameterError as exc:
                raise PolicyError(f"step {n} {call.text()}: {exc}") from exc
            out.append(call)
            state = state.apply(call)
            flags |= cc.new_flags(call)
            req |= cc.new_required(call)
        return Plan(
            out,
            constraints=[c.to_dict() for c in constraints],
            hints=hints,
            warnings=warnings + repairs,
            backend="check",
        )

    # -- internals ------------------------------------------------------------------------
    def _plan(
        self,
        task: str,
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        done: list[SkillCall],
        knowledge: Iterable[Any] | None,
        holding: str | None | object,
    ) -> Plan:
        t0 = time.monotonic()
        deadline = t0 + self.timeout_s
        if not isinstance(task, str) or not task.strip():
            raise PolicyError("the task is empty")
        objs = _object_list(objects)
        by_name = {o.name: o for o in objs}
        constraints, hints, warnings = compile_knowledge(knowledge)
        goal = parse_goal(task, objs)
        if goal is not None:
            goal = rewrite_goal(goal, constraints, objs, warnings)
        cc = CompiledConstraints(constraints, objs, warnings)
        if goal is not None:
            _check_goal_conflicts(goal, cc, warnings)
        state = initial_state(objs, done, holding)
        flags, req = cc.history(done)
        search = _Search(goal, cc, objs, state, self.max_steps) if goal is not None else None
        stage = search.initial_stage(state, done) if search else 0
        ctx = PromptContext(task, object_lines(objs), [c.describe() for c in constraints] + hints)
        steps = [c.text() for c in done]
        plan = Plan(
            goal=goal.describe() if goal else "",
            constraints=[c.to_dict() for c in constraints],
            hints=hints,
            warnings=warnings,
            backend=self.backend.describe(),
        )
        seen = {state.core()}
        all_calls = generate_calls(objs, PLANNABLE)
        for _ in range(self.max_steps):
            if search is not None and search.reached(stage, req):
                break
            goal_done = search is None or stage >= len(search.atoms)
            valid = [c for c in all_calls if precondition_failure(c, state, by_name) is None]
            allowed = [c for c in valid if cc.forbidden(c, state, flags, req, goal_done) is None]
            nxt = [c for c in allowed if any(p.matches(c) for p in cc.pending_next(req))]
            steps_to_goal: dict[Key, int] = {}
            if nxt:
                tier = nxt
            elif search is not None:
                found = search.first_steps(state, stage, flags, req)
                if found is None:
                    raise PolicyError(self._no_plan_message(goal, constraints, state))  # type: ignore[arg-type]
                depth, firsts = found
                tier = [c for c in allowed if c.key() in firsts]
                steps_to_goal = {c.key(): depth for c in tier}
                # Longer by a step, after the shortest ones: the symbolic order still picks a shortest plan.
                for c in search.preparatory(state, stage, flags, req, depth, allowed, firsts):
                    tier.append(c)
                    steps_to_goal[c.key()] = depth + 1
            else:
                tier = [c for c in allowed if state.apply(c).core() not in seen]
            texts = [c.text() for c in tier]
            if search is None and cc.required_done(req):
                texts.append(DONE)
            if not texts:
                break
            shortest = min(steps_to_goal.values()) if steps_to_goal else 0
            extra = [
                steps_to_goal.get(tier[i].key(), shortest) - shortest if i < len(tier) else 0 for i in range(len(texts))
            ]
            how, idx, scores = self._choose(
                ctx, steps, texts, deadline, plan, open_ended=search is None, extra_steps=extra
            )
            plan.trace.append(
                StepTrace(
                    texts[idx],
                    how,
                    [
                        ScoredCandidate(
                            t,
                            steps_to_goal.get(tier[i].key()) if i < len(tier) else None,
                            scores[i] if scores else None,
                        )
                        for i, t in enumerate(texts)
                    ],
                    len(all_calls),
                    len(valid),
                )
            )
            if texts[idx] == DONE:
                break
            call = tier[idx]
            call = SkillCall(call.skill, dict(call.args), cc.params_for(call))
            plan.calls.append(call)
            steps.append(call.text())
            state = state.apply(call)
            seen.add(state.core())
            flags |= cc.new_flags(call)
            req |= cc.new_required(call)
            if search is not None:
                stage = search.advance(stage, state, call)
        if search is not None and not search.reached(stage, req):
            raise PolicyError(f"no plan of at most {self.max_steps} steps reaches the goal ({search.describe()})")
        if search is None and not plan.calls and not done:
            raise PolicyError(
                f"could not understand the task {task!r} as a goal, and the "
                f"{self.backend.name} backend proposed no step"
            )
        plan.latency_s = time.monotonic() - t0
        log.info("planned %s in %.3f s: %s", task, plan.latency_s, ", ".join(plan.texts()) or "(nothing to do)")
        return plan

    def _choose(
        self,
        ctx: PromptContext,
        steps: list[str],
        texts: list[str],
        deadline: float,
        plan: Plan,
        open_ended: bool,
        extra_steps: Sequence[int] = (),
    ) -> tuple[str, int, list[float] | None]:
        """(how, index of the chosen text, the backend's raw scores). A candidate that starts a plan
        longer than the shortest by k steps ranks with ``k * detour_penalty`` taken off its score."""
        if len(texts) == 1:
            return "forced", 0, None
        res = self.backend.rank(RankRequest(ctx, list(steps), list(texts), deadline))
        if res.method in ("loglik", "choice", "fallback"):
            plan.llm_calls += 1
        if res.scores is None or len(res.scores) != len(texts):
            if res.method == "fallback":
                plan.warnings.append(f"backend gave no usable ranking ({res.detail}); symbolic order used")
            # Symbolic order: the generation order; with no goal, stopping is the safe default.
            idx = texts.index(DONE) if open_ended and DONE in texts else 0
            return ("fallback" if res.method == "fallback" else "symbolic"), idx, None
        extra = list(extra_steps) or [0] * len(texts)
        ranked = [res.scores[i] - self.detour_penalty * extra[i] for i in range(len(texts))]  # type: ignore[index]
        best = max(range(len(texts)), key=lambda i: (ranked[i], -i))
        return ("llm" if res.method == "loglik" else "choice"), best, list(res.scores)

    @staticmethod
    def _no_plan_message(goal: Goal, constraints: Sequence[PlanConstraint], state: SymbolicState) -> str:
        rules = "; ".join(c.describe() for c in constraints) or "none"
        return (
            f"no valid plan reaches the goal ({goal.describe()}) from the current state ({state.describe()}) "
            f"under the constraints ({rules})"
        )


def _check_goal_conflicts(goal: Goal, cc: CompiledConstraints, warnings: list[str] | None = None) -> None:
    """Refuse a goal whose every alternative object is one a constraint says to keep off.

    A remembered constraint (``source == "memory"``) yields instead: the operator's task
    names the object now, and knowledge generalized from another scene ("keep away from
    glasses" learned while moving a block past a glass) must not veto it. It is dropped
    with a warning. The operator's own words in this episode still refuse the goal.
    """
    for a in goal.atoms:
        if not a.objects:
            continue
        for entry in list(cc.avoids):
            c, pat, any_role = entry
            if any_role and pat.objects and set(a.objects) <= pat.objects:
                if c.source == "memory":
                    cc.avoids.remove(entry)
                    if warnings is not None:
                        warnings.append(
                            f"remembered '{c.describe()}' not applied: the task asks for {', '.join(a.objects)}"
                        )
                    continue
                raise PolicyError(f"the task needs {', '.join(a.objects)} but a constraint says: {c.describe()}")


def _object_list(objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo]) -> list[ObjectInfo]:
    objs = list(objects.values()) if isinstance(objects, Mapping) else list(objects)
    names = [o.name for o in objs]
    if len(set(names)) != len(names):
        raise PolicyError(f"object names must be unique, got {names}")
    return objs


# --------------------------------------------------------------------------- parsing LLM text

_CALL_RE = re.compile(r"^\s*(?:\d+\s*[.):]\s*|[-*]\s*)?(?P<skill>[A-Za-z_ ]+?)\s*\((?P<args>[^()]*)\)\s*[.;,]?\s*$")


def parse_calls(text: str) -> list[str | dict[str, Any]]:
    """Split an LLM's plan text into one raw item per non-empty line (``repair_call`` reads each)."""
    return [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.strip().lower().startswith(("plan:", "here", "sure", "steps:")) and ln.strip() != DONE
    ]


def repair_call(raw: Any, objects: Sequence[ObjectInfo]) -> SkillCall:
    """A valid-shaped call on this scene from an LLM's item, or PolicyError.

    Accepts ``SkillCall``/dicts, ``skill(arg, arg)`` text (numbered or bulleted, ``target=``
    keywords, spaces for underscores), or plain words ("pick up the red block",
    "put the red block in the drawer"). Skill synonyms map to skills; object words are
    grounded on the scene and must name exactly one object.

    Raises:
        PolicyError: unknown skill, unknown or ambiguous object, wrong arguments, bad params.
    """
    names = {o.name for o in objects}
    if isinstance(raw, str):
        m = _CALL_RE.match(raw)
        if m:
            skill = skill_word(m.group("skill").strip()) or m.group("skill").strip()
            parts = [p.strip() for p in m.group("args").split(",") if p.strip()]
            parts = [re.sub(r"^\w+\s*=\s*", "", p).strip("'\" ") for p in parts]
            args_list = parts
        else:
            pat = parse_call_phrase(raw)
            if pat is None:
                raise PolicyError(f"cannot read a skill call in {raw!r}")
            skill = pat.skill
            args_list = [r.text or r.name for r in (pat.object, pat.target) if r is not None]
        params: dict[str, Any] = {}
    else:
        call = SkillCall.coerce(raw)
        skill = skill_word(call.skill) or call.skill
        roles = SKILL_ARGS.get(skill, tuple(call.args))
        args_list = [call.args[r] for r in roles if r in call.args]
        params = dict(call.params)
    if skill not in SKILL_ARGS:
        raise PolicyError(f"unknown skill {skill!r} in {raw!r}; valid: {', '.join(sorted(SKILL_ARGS))}")
    roles = SKILL_ARGS[skill]
    if len(args_list) != len(roles):
        raise PolicyError(f"{skill} takes ({', '.join(roles) or 'no arguments'}), got {args_list} in {raw!r}")
    args: dict[str, str] = {}
    for role, word in zip(roles, args_list):
        if word in names:
            args[role] = word
            continue
        cats = GRASPABLE if role == "object" and skill in ("pick", "place", "push") else None
        if skill in ("open", "close"):
            cats = {"cabinet"}
        found = ground(parse_mention(word), objects, categories=cats)
        if role == "object" and skill in ("open", "close"):
            found = [o for o in found if o.category == "cabinet"]
        if len(found) != 1:
            what = "no object" if not found else f"several objects ({', '.join(o.name for o in found)})"
            raise PolicyError(f"{word!r} in {raw!r} matches {what} in the scene ({', '.join(sorted(names))})")
        args[role] = found[0].name
    try:
        validate_params(skill, params)
    except ParameterError as exc:
        raise PolicyError(f"{raw!r}: {exc}") from exc
    return SkillCall(skill, args, params)


def make_planner(config: PolicyConfig | AgentConfig | None = None, *, backend: PolicyBackend | None = None) -> Planner:
    """The configured planner (default config: the embedded local model), loaded and ready."""
    return Planner.from_config(config if config is not None else PolicyConfig(), backend=backend)
