"""Goals parsed from the task text, grounded on the scene, so a plan knows when it is done.

"put the red block in the drawer" -> ``at(red_block, cabinet)``; "pick up the cup" ->
``holding(white_mug)``; "open the drawer and put the apple in it" -> ``drawer_open(cabinet)``
then ``at(apple, cabinet)``. Clauses are reached in the order given. An atom may list
several objects when the words fit several ("a block" with three blocks): any of them
satisfies it, and the LLM picks which. A task no pattern understands has no goal; the
planner then lets the LLM decide when it is done.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from robot_agent.errors import PolicyError
from robot_agent.policy.constraints import RECEPTACLES, PreferenceConstraint, TargetConstraint
from robot_agent.policy.grounding import Mention, ground, normalize, parse_mention
from robot_agent.policy.state import SymbolicState
from skills.library import CONTAINERS, GRASPABLE, SUPPORTS
from skills.types import ObjectInfo


@dataclass(frozen=True)
class Atom:
    """One condition of a goal.

    Attributes:
        kind: ``"at"`` (one of ``objects`` in/on one of ``targets``), ``"holding"`` (one of
            ``objects`` in hand), ``"drawer"`` (one of ``objects`` open when ``open`` else
            closed), ``"pushed"`` (one of ``objects`` pushed in this episode), ``"home"``.
        objects/targets: alternative object names.
        open: the wanted drawer state.
        text: the words it came from.
    """

    kind: str
    objects: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    open: bool = False
    text: str = ""

    def holds(self, state: SymbolicState) -> bool:
        if self.kind == "at":
            return any(state.location(o) in self.targets for o in self.objects)
        if self.kind == "holding":
            return state.holding in self.objects
        if self.kind == "drawer":
            return any(state.drawer_open(o) == self.open for o in self.objects)
        if self.kind == "home":
            return state.at_home
        return False  # "pushed": history-based, see achieved_by

    def achieved_by(self, call_skill: str, call_args: dict[str, str]) -> bool:
        """Does this call achieve the atom by itself (for history-based atoms and replans)?"""
        obj = call_args.get("object")
        if self.kind == "pushed":
            return call_skill == "push" and obj in self.objects
        if self.kind == "drawer":
            return call_skill == ("open" if self.open else "close") and obj in self.objects
        if self.kind == "home":
            return call_skill == "go_home"
        if self.kind == "at":
            return call_skill == "place" and obj in self.objects and call_args.get("target") in self.targets
        if self.kind == "holding":
            return call_skill == "pick" and obj in self.objects
        return False

    def describe(self) -> str:
        alt = "|".join
        if self.kind == "at":
            return f"{alt(self.objects)} in/on {alt(self.targets)}"
        if self.kind == "holding":
            return f"holding {alt(self.objects)}"
        if self.kind == "drawer":
            return f"{alt(self.objects)} {'open' if self.open else 'closed'}"
        if self.kind == "pushed":
            return f"pushed {alt(self.objects)}"
        return "at home"


@dataclass
class Goal:
    """Atoms to reach in order; ``text`` is the task."""

    atoms: list[Atom] = field(default_factory=list)
    text: str = ""
    #: clauses done on the way to a later atom ("grab the lemon" before "set it down on the plate")
    en_route: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return " then ".join(a.describe() for a in self.atoms)


_VERBS_PLACE = (
    "put|place|move|set|drop|stack|transfer|bring|load|store|insert|pack|return|get|take|lay|"
    "carry|deliver|relocate|slide|sort"
)
_PREP = r"inside of|inside|into|in to|within|in|on top of|onto|on to|on|to|at|over|onto the top of"
_LEAD = (
    r"^(?:(?:please|can you|could you|would you|will you|robot|now|then|and|first|next|finally|"
    r"i want you to|i would like you to|go and|try to)\s+)*"
)
_VERB_START = re.compile(
    rf"^(?:{_VERBS_PLACE}|pick|grab|grasp|lift|hold|open|close|shut|push|nudge|shove|"
    r"go|return|come|head|tidy|clean|pile|make)\b"
)

# "stack the blocks", "pile the cubes on each other", "make a stack of the two blocks",
# "put one block on top of the other": the objects end up on one another, in an order the
# task leaves open (a stacking-order constraint or the LLM picks it).
_STACK = (
    re.compile(
        r"^(?:stack|pile)\s+(?:up\s+)?(?P<o>.+?)(?:\s+(?:on|onto|on top of)\s+"
        r"(?:each other|one another))?$"
    ),
    re.compile(r"^(?:make|build)\s+(?:a|one)\s+(?:stack|pile|tower)\s+(?:of|with|from|out of)\s+(?P<o>.+)$"),
    re.compile(
        rf"^(?:{_VERBS_PLACE})\s+one\s+(?P<o>[a-z]+)\s+(?:on top of|onto|on)\s+(?:the\s+)?other"
        r"(?:\s+one)?$"
    ),
)


def _clauses(task: str) -> list[str]:
    parts = re.split(r"\s*(?:,|;|\.)\s*|\s+(?:and then|then|after that|afterwards|and|finally)\s+", task.lower())
    out: list[str] = []
    for p in parts:
        # ", and then close it": the comma split leaves the joining words at the part's start
        p = re.sub(r"^(?:(?:and|then|after that|afterwards|finally)(?:\s+|$))+", "", p.strip())
        p = re.sub(_LEAD, "", normalize(p))
        if not p:
            continue
        if out and not _VERB_START.match(p):
            out[-1] = f"{out[-1]} and {p}"  # "the red and blue blocks": not a new clause
        else:
            out.append(p)
    return out


_SINGULAR_OK = {
    "block",
    "cube",
    "cylinder",
    "apple",
    "banana",
    "lemon",
    "mug",
    "cup",
    "glass",
    "bowl",
    "plate",
    "tray",
    "shelf",
    "cabinet",
    "drawer",
    "fruit",
}


class _Grounder:
    def __init__(self, objects: Sequence[ObjectInfo]) -> None:
        self.objects = list(objects)
        self.recent: list[tuple[str, tuple[str, ...]]] = []  # (role, names)

    def names(self, text: str, role: str, exclude: Iterable[str] = ()) -> list[tuple[str, ...]]:
        """Groups of alternatives: one group per atom ("all blocks" -> one group per block)."""
        if " and " in f" {text} ":
            # "the red and blue blocks": each part is a mention, sharing the last part's noun.
            parts = [p.strip() for p in re.split(r"\band\b", text) if p.strip(" ,.;")]
            if not parts:
                return []  # ", and" alone names nothing
            head = parse_mention(parts[-1]).noun
            groups: list[tuple[str, ...]] = []
            for part in parts:
                pm = parse_mention(part)
                if not pm.noun and head:
                    part = f"{part} {head.rstrip('s') if head.rstrip('s') in _SINGULAR_OK else head}"
                groups.extend(self.names(part, role, exclude))
            return groups
        m: Mention = parse_mention(text)
        if m.pronoun:
            want = GRASPABLE if role == "object" else CONTAINERS | SUPPORTS
            skip = set(exclude)
            # Same role first ("open the drawer and put the block in it": "it" is the drawer).
            ordered = [x for x in reversed(self.recent) if x[0] == role] + [
                x for x in reversed(self.recent) if x[0] != role
            ]
            for _r, names in ordered:
                if all(self._cat(n) in want for n in names) and not set(names) & skip:
                    return [names]
            raise PolicyError(f"cannot tell what {text!r} refers to in the task")
        cats = GRASPABLE if role == "object" else RECEPTACLES | SUPPORTS
        found = ground(m, self.objects, categories=cats)
        if not found:
            scene = ", ".join(o.name for o in self.objects)
            raise PolicyError(f"the task mentions {text!r} but the scene has no such object (scene: {scene})")
        names = tuple(o.name for o in found)
        self.recent.append((role, names))
        if m.plural or m.quantifier == "all":
            return [(n,) for n in names]
        return [names]

    def _cat(self, name: str) -> str:
        return next((o.category for o in self.objects if o.name == name), "")


def parse_goal(task: str, objects: Sequence[ObjectInfo]) -> Goal | None:
    """The goal a task states, grounded on ``objects``; None when no pattern understands it.

    Raises:
        PolicyError: the task is understood but names something the scene does not have,
            or a pronoun with nothing to refer to.
    """
    g = _Grounder(objects)
    atoms: list[Atom] = []
    understood = False
    for clause in _clauses(task):
        if re.match(
            r"^(?:go|return|move|come|head|get)\s+(?:back\s+)?(?:to\s+)?(?:the\s+)?home(?:\s+position)?$", clause
        ) or clause in ("home", "go back"):
            atoms.append(Atom("home", text=clause))
            understood = True
            continue
        stack = next((mm for mm in (r.match(clause) for r in _STACK) if mm), None)
        explicit_target = rf"\s(?:{_PREP})\s+(?!each other|one another|top of the other|the other)"
        if stack is not None and not re.search(explicit_target, stack.group("o")):
            what = stack.group("o")
            if re.fullmatch(r"[a-z]+", what):  # "one block on the other": every block of that kind
                what = f"the {what}s"
            names = tuple(n for grp in g.names(what, "object") for n in grp)
            if len(set(names)) < 2:
                raise PolicyError(
                    f"{clause!r}: stacking needs at least two objects, the scene has "
                    f"{', '.join(names) or 'none'} for {stack.group('o')!r}"
                )
            # With n objects, n - 1 of them must end up on another one of them.
            atoms.extend(Atom("at", names, names, text=clause) for _ in range(len(names) - 1))
            understood = True
            continue
        # "place the cube inside", "pop it in there": inside the place just named ("it")
        clause = re.sub(rf"^((?:{_VERBS_PLACE})\s+.+?\s+(?:inside|in))(?:\s+there)?$", r"\1 it", clause)
        m = re.match(rf"^(?:{_VERBS_PLACE})\s+(?P<o>.+?)\s+(?:back\s+|down\s+)?(?P<p>{_PREP})\s+(?P<t>.+)$", clause)
        if m:
            objs = g.names(m.group("o"), "object")
            tgts = g.names(m.group("t"), "target", exclude=[n for grp in objs for n in grp])
            targets = tuple(n for grp in tgts for n in grp)
            atoms.extend(Atom("at", grp, targets, text=clause) for grp in objs)
            understood = True
            continue
        m = re.match(
            rf"^(?:(?:{_VERBS_PLACE}|tidy|clean|clear)\s+(?:up\s+|away\s+)?(?P<o>.+?)(?:\s+(?:away|up))?|"
            r"(?:put|tidy|clean|clear)\s+(?:away|up)\s+(?P<o2>.+)|(?:tidy|clean|clear)(?:\s+up)?)$",
            clause,
        )
        if m and re.search(r"\b(?:away|tidy|clean|clear)\b", clause):
            what = m.group("o") or m.group("o2") or "everything"
            if re.fullmatch(
                r"(?:the\s+)?(?:table|desk|workspace|scene|surface|area|mess|table top|tabletop)|up|away", what
            ):
                what = "everything"
            objs = g.names(what, "object")
            receptacles = tuple(o.name for o in objects if o.category in CONTAINERS)
            if not receptacles:
                raise PolicyError(f"{clause!r}: the scene has nowhere to put things away")
            atoms.extend(Atom("at", grp, receptacles, text=clause) for grp in objs)
            understood = True
            continue
        m = re.match(r"^(?:pick up|pick|grab|grasp|lift|hold|take|get)\s+(?P<o>.+?)(?:\s+up)?$", clause)
        if m:
            for grp in g.names(m.group("o"), "object"):
                atoms.append(Atom("holding", grp, text=clause))
            understood = True
            continue
        m = re.match(r"^(?P<v>open|close|shut)\s+(?:up\s+)?(?P<o>.+)$", clause)
        if m:
            found = [o for o in ground(m.group("o"), objects, categories=("cabinet",)) if o.category == "cabinet"]
            if not found:
                raise PolicyError(
                    f"the task asks to {m.group('v')} {m.group('o')!r} but the scene has no drawer "
                    f"(scene: {', '.join(o.name for o in objects)})"
                )
            names = tuple(o.name for o in found)
            g.recent.append(("target", names))
            atoms.append(Atom("drawer", names, open=m.group("v") == "open", text=clause))
            understood = True
            continue
        m = re.match(
            r"^(?:push|nudge|shove|slide)\s+(?P<o>.+?)(?:\s+(?:to the|towards|toward|forward|back|left|"
            r"right|away|aside|over)\b.*)?$",
            clause,
        )
        if m:
            for grp in g.names(m.group("o"), "object"):
                atoms.append(Atom("pushed", grp, text=clause))
            understood = True
            continue
    if not understood:
        return None
    # "grab the lemon and set it down on the plate": picking it up is the way to placing it, not
    # a state to end in; an object put somewhere later in the task is not held at the end.
    # "grab the mug and hold it": one holding said twice is held once.
    on_the_way = [
        i
        for i, a in enumerate(atoms)
        if a.kind == "holding"
        and any(
            (b.kind == "at" and set(a.objects) <= set(b.objects)) or (b.kind == "holding" and b.objects == a.objects)
            for b in atoms[i + 1 :]
        )
    ]
    kept = [a for i, a in enumerate(atoms) if i not in on_the_way]

    # "take the apple to the drawer and put it inside": one placement said twice is done once;
    # "open the drawer, open the drawer!": a step said again at once is one step
    def same(a: Atom, b: Atom) -> bool:
        return (a.kind, a.objects, a.targets, a.open) == (b.kind, b.objects, b.targets, b.open)

    kept = [
        a
        for i, a in enumerate(kept)
        if not (i and same(a, kept[i - 1])) and not any(a.kind == "at" and same(a, b) for b in kept[:i])
    ]
    return Goal(kept, task, en_route=[atoms[i].text for i in on_the_way])


def rewrite_goal(goal: Goal, constraints: Iterable[object], objects: Sequence[ObjectInfo], warnings: list[str]) -> Goal:
    """The goal with target and preference constraints applied, in the order given.

    * A target constraint swaps the object ("no, the blue one": the goal's block becomes
      the blue one; a bare "blue one" stays within the replaced object's category) and/or
      the destination.
    * A preference sends the goal objects it selects to its target ("fruit goes in the bowl").
    Constraints that do not resolve on this scene are reported in ``warnings`` and skipped.
    """
    by_name = {o.name: o for o in objects}
    atoms = list(goal.atoms)
    for c in constraints:
        if isinstance(c, TargetConstraint):
            atoms = _apply_target(c, atoms, objects, by_name, warnings)
        elif isinstance(c, PreferenceConstraint):
            sel = {o.name for o in c.selector.resolve(objects, categories=GRASPABLE)}
            tgt = tuple(
                o.name
                for o in c.target.resolve(objects, categories=RECEPTACLES | SUPPORTS)
                if o.category in CONTAINERS | SUPPORTS
            )
            if not tgt:
                warnings.append(f"preference '{c.describe()}': no {c.target.describe()} in this scene")
                continue
            new = []
            for a in atoms:
                # a remembered preference never overrides a destination the task names
                explicit = c.source == "memory" and len(a.targets) == 1
                if a.kind == "at" and set(a.objects) & sel and not explicit:
                    a = replace(a, objects=tuple(n for n in a.objects if n in sel), targets=tgt)
                new.append(a)
            atoms = new
    return Goal(atoms, goal.text)


def _apply_target(
    c: TargetConstraint,
    atoms: list[Atom],
    objects: Sequence[ObjectInfo],
    by_name: dict[str, ObjectInfo],
    warnings: list[str],
) -> list[Atom]:
    out = list(atoms)
    movable = [i for i, a in enumerate(out) if a.kind in ("at", "holding")]
    if c.object is not None and c.role in ("object", "both"):
        replaced = {o.name for o in c.replaces.resolve(objects)} if c.replaces else set()
        idx = [i for i in movable if replaced & set(out[i].objects)] or movable[:1]
        if not idx:
            warnings.append(f"target '{c.describe()}': the goal moves no object")
        for i in idx:
            cats = {by_name[n].category for n in out[i].objects if n in by_name}
            found = c.object.resolve(objects, categories=cats or GRASPABLE)
            if c.object.category == "" and cats:
                found = [o for o in found if o.category in cats] or found
            found = [o for o in found if o.category in GRASPABLE]
            if not found:
                warnings.append(f"target '{c.describe()}': nothing in the scene fits")
                continue
            out[i] = replace(out[i], objects=tuple(o.name for o in found))
    if c.destination is not None and c.role in ("destination", "both"):
        found = [
            o
            for o in c.destination.resolve(objects, categories=RECEPTACLES | SUPPORTS)
            if o.category in CONTAINERS | SUPPORTS
        ]
        ats = [i for i, a in enumerate(out) if a.kind == "at"]
        if c.replaces is not None and c.role == "destination":
            replaced = {o.name for o in c.replaces.resolve(objects)}
            ats = [i for i in ats if replaced & set(out[i].targets)] or ats
        if not found:
            warnings.append(f"target '{c.describe()}': no such destination in the scene")
        elif not ats:
            holding = [i for i in movable if out[i].kind == "holding"]
            for i in holding[:1]:
                out[i] = Atom("at", out[i].objects, tuple(o.name for o in found), text=out[i].text)
            if not holding:
                warnings.append(f"target '{c.describe()}': the goal puts nothing anywhere")
        else:
            for i in ats:
                out[i] = replace(out[i], targets=tuple(o.name for o in found))
    return out
