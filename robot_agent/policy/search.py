"""The plan search: shortest constrained plans from a symbolic state to a task's goal.

:class:`_Search` is the planner's breadth-first search over the symbolic state, under the
scene's compiled constraints: which first calls start a shortest plan to the goal (through
the next ``LOOKAHEAD`` goal clauses), which preparatory calls start one a step longer, and
how long each is. See docs/policy.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from robot_agent.errors import PolicyError
from robot_agent.policy.constraint_compile import CompiledConstraints
from robot_agent.policy.goals import Goal
from robot_agent.policy.state import SymbolicState, precondition_failure
from robot_agent.policy.types import SkillCall
from skills.library import CONTAINERS, GRASPABLE, SUPPORTS
from skills.types import ObjectInfo

#: search nodes expanded before the planner gives up on one step
SEARCH_LIMIT = 50_000
#: goal clauses the search looks ahead (a task's clauses are reached in order, so a long task
#: is planned a couple of clauses at a time instead of searching its whole length at every step)
LOOKAHEAD = 2

Key = tuple[str, tuple[tuple[str, str], ...]]


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
