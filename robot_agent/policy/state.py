"""Symbolic state the planner tracks: what is held, drawers, where objects are, what was done.

The small LLM does not track state (see docs/policy.md), so the planner does. Each
skill has preconditions and effects on this state, mirroring what the skills
themselves check before moving (``skills.library``): pick needs an empty hand and a
graspable object that nothing sits on; place needs the object in hand and a support or
container; open/close need an empty hand and a cabinet in the other drawer state.
The drawer's being closed does *not* block ``place`` here: that is a requirement only
the operator knows until they say it, and then it becomes an order constraint.

The initial state comes from perception (poses, drawer states), reconciled with the
calls already done in this episode.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from robot_agent.policy.types import SkillCall
from skills.library import CONTAINERS, GRASPABLE, SUPPORTS
from skills.params import SKILL_ARGS
from skills.types import ObjectInfo

#: skills the planner proposes; ``move_by`` is parameter-only (a correction's business)
PLANNABLE = ("pick", "place", "open", "close", "push", "go_home")
#: an object whose base is this high above the table and on nothing is taken to be in the hand (m)
LIFTED_Z = 0.03
#: an object whose base is below this is resting on the table (m)
ON_TABLE_Z = 0.02


@dataclass(frozen=True)
class SymbolicState:
    """What holds now, in symbols.

    Attributes:
        holding: the object in the gripper, or None.
        drawers: cabinet name -> True when its drawer is open.
        located: object name -> the object it is in/on (absent: on the table or in hand).
        at_home: the arm is at its home pose.
        history: the calls done so far (executed and planned), as SkillCalls.
    """

    holding: str | None = None
    drawers: tuple[tuple[str, bool], ...] = ()
    located: tuple[tuple[str, str], ...] = ()
    at_home: bool = False
    history: tuple[SkillCall, ...] = field(default=(), compare=False, hash=False)

    # -- queries ------------------------------------------------------------------------
    def drawer_open(self, name: str) -> bool:
        return dict(self.drawers).get(name, False)

    def location(self, name: str) -> str | None:
        return dict(self.located).get(name)

    def on_top_of(self, name: str) -> list[str]:
        """Objects resting in or on ``name``."""
        return [o for o, t in self.located if t == name]

    def core(self) -> tuple:
        """The state without history (for search)."""
        return (self.holding, self.drawers, self.located, self.at_home)

    # -- transitions --------------------------------------------------------------------
    def apply(self, call: SkillCall) -> SymbolicState:
        """The state after ``call`` (assumes its preconditions hold)."""
        located = dict(self.located)
        drawers = dict(self.drawers)
        holding = self.holding
        obj = call.args.get("object")
        if call.skill == "pick" and obj:
            holding = obj
            located.pop(obj, None)
        elif call.skill == "place" and obj:
            holding = None
            located[obj] = call.args["target"]
        elif call.skill == "open" and obj:
            drawers[obj] = True
        elif call.skill == "close" and obj:
            drawers[obj] = False
        return SymbolicState(
            holding,
            tuple(sorted(drawers.items())),
            tuple(sorted(located.items())),
            call.skill == "go_home",
            self.history + (call,),
        )

    def describe(self) -> str:
        parts = [f"holding {self.holding}" if self.holding else "hand empty"]
        parts += [f"{n} drawer {'open' if o else 'closed'}" for n, o in self.drawers]
        parts += [f"{o} in/on {t}" for o, t in self.located]
        return "; ".join(parts)


def precondition_failure(call: SkillCall, state: SymbolicState, objects: Mapping[str, ObjectInfo]) -> str | None:
    """Why ``call`` cannot run in ``state`` (None when it can).

    The checks mirror what the skills refuse as INVALID, plus two facts a symbolic
    planner must respect: nothing can be picked from under another object, nor from a
    closed drawer.
    """
    if call.skill not in SKILL_ARGS:
        return f"unknown skill {call.skill!r}"
    roles = SKILL_ARGS[call.skill]
    if set(call.args) != set(roles):
        return f"{call.skill} takes ({', '.join(roles) or 'no arguments'}), got {sorted(call.args)}"
    for role, name in call.args.items():
        if name not in objects:
            return f"{role} {name!r} is not in the scene"
    obj = objects.get(call.args.get("object", ""))
    if call.skill == "pick":
        if state.holding:
            return f"already holding {state.holding}"
        if obj.category not in GRASPABLE:
            return f"{obj.name} ({obj.category}) cannot be picked up"
        if state.on_top_of(obj.name):
            return f"{', '.join(state.on_top_of(obj.name))} is on {obj.name}"
        where = state.location(obj.name)
        if where and objects[where].category == "cabinet" and not state.drawer_open(where):
            return f"{obj.name} is inside the closed drawer of {where}"
    elif call.skill == "place":
        target = objects[call.args["target"]]
        if state.holding != obj.name:
            return f"not holding {obj.name}"
        if target.name == obj.name or target.category not in CONTAINERS | SUPPORTS:
            return f"cannot place on or in {target.name} ({target.category})"
        if target.category in SUPPORTS - CONTAINERS and target.category in GRASPABLE and state.on_top_of(target.name):
            return f"{target.name} already has {', '.join(state.on_top_of(target.name))} on it"
        if state.location(target.name) == obj.name:
            return f"{target.name} rests on {obj.name}"
    elif call.skill in ("open", "close"):
        if state.holding:
            return f"holding {state.holding}"
        if obj.category != "cabinet":
            return f"{obj.name} ({obj.category}) has no drawer"
        if state.drawer_open(obj.name) == (call.skill == "open"):
            return f"the drawer of {obj.name} is already {'open' if call.skill == 'open' else 'closed'}"
    elif call.skill == "push":
        if state.holding:
            return f"holding {state.holding}"
        if obj.category not in GRASPABLE:
            return f"{obj.name} ({obj.category}) cannot be pushed"
        if state.location(obj.name):
            return f"{obj.name} is not on the table"
    elif call.skill == "go_home":
        if state.at_home:
            return "already at home"
    return None


def generate_calls(objects: Sequence[ObjectInfo], skills: Iterable[str] = PLANNABLE) -> list[SkillCall]:
    """Every call of ``skills`` over the scene objects (before any check), in a stable order."""
    out: list[SkillCall] = []
    names = [o.name for o in objects]
    for skill in skills:
        roles = SKILL_ARGS[skill]
        if not roles:
            out.append(SkillCall(skill))
        elif roles == ("object",):
            out.extend(SkillCall(skill, {"object": n}) for n in names)
        elif roles == ("object", "target"):
            out.extend(SkillCall(skill, {"object": a, "target": b}) for a in names for b in names if a != b)
    return out


def relation(obj: ObjectInfo, target: ObjectInfo) -> bool:
    """Is ``obj`` resting in or on ``target``, from their poses (what a camera would judge)?"""
    local = target.pose.to_local(obj.pose.position)
    if target.category == "cabinet":
        opening = float(target.state.get("opening", 0.0))
        sx, sy = target.size[0], target.size[1]
        return bool(
            -sx / 2 + opening <= local[0] <= sx / 2 + opening and abs(local[1]) <= sy / 2 and -0.01 < local[2] < 0.08
        )
    half = np.asarray(target.size[:2]) / 2 + 0.005
    return (
        bool(np.all(np.abs(local[:2]) <= half))
        and 0.0 < local[2] < target.size[2] + 0.08
        and obj.pose.position[2] > target.pose.position[2] + 0.005
    )


def initial_state(
    objects: Sequence[ObjectInfo],
    done: Sequence[SkillCall] = (),
    holding: str | None | object = ...,
    at_home: bool = False,
) -> SymbolicState:
    """The symbolic state from perception and the calls done so far.

    Args:
        objects: the perceived scene.
        done: calls that succeeded in this episode, in order.
        holding: what the gripper holds when the caller knows it (``robot.holding()``);
            omitted (``...``): inferred from ``done`` and checked against the poses.
        at_home: the arm is at its home pose.
    """
    by_name = {o.name: o for o in objects}

    def resting(o: ObjectInfo) -> bool:
        return o.pose.position[2] < ON_TABLE_Z or any(
            relation(o, t) for t in objects if t is not o and t.category in CONTAINERS | SUPPORTS
        )

    if holding is ...:
        held = None
        for c in done:
            if c.skill == "pick":
                held = c.args.get("object")
            elif c.skill == "place" and c.args.get("object") == held:
                held = None
        if held is not None and (held not in by_name or resting(by_name[held])):
            held = None  # the calls say it was picked, but it rests somewhere: it was put down since
        if held is None:
            # Not from the calls: an object high above the table on nothing is in the hand.
            for o in objects:
                if o.category in GRASPABLE and o.pose.position[2] > LIFTED_Z and not resting(o):
                    held = o.name
                    break
    else:
        held = holding if holding in by_name else None  # type: ignore[assignment]
    drawers = []
    for o in objects:
        if o.category == "cabinet":
            drawers.append((o.name, o.drawer_open()))
    located = []
    for o in objects:
        if o.name == held or o.category not in GRASPABLE:
            continue
        hosts = [t for t in objects if t is not o and t.category in CONTAINERS | SUPPORTS and relation(o, t)]
        if hosts:
            # The highest host is the one it rests on (a block on a block on a plate).
            host = max(hosts, key=lambda t: t.pose.position[2] + t.size[2])
            located.append((o.name, host.name))
    last_home = bool(done) and done[-1].skill == "go_home"
    return SymbolicState(held, tuple(sorted(drawers)), tuple(sorted(located)), at_home or last_home, tuple(done))
