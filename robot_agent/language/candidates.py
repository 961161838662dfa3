"""The meanings a scene, a skill and a plan allow, each rendered as sentences a person might say.

The layer does not classify free text into a fixed label set: it enumerates what could be
meant *here* (every parameter of the running skill up or down, the grasp regions this object
has, directions, the other objects it could have meant, the receptacles it could go in, the
drawers that could be opened first, ...) and asks which of these the operator's words are
closest to. A meaning the scene does not allow is never a candidate, so the layer cannot land
on "use the red block instead of the red block" or "open the drawer first" while it is already
opening that drawer.

Every candidate has a ``canonical`` form in the grammar's own words on scene names ("pull it
further", "put green_apple in cabinet"): the grammar turns it into the exact :class:`Correction`
or goal (magnitudes, frames, plan dicts), so both paths share one executor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from robot_agent.language import scene_words as sw
from robot_agent.language.grammar import CorrectionContext
from robot_agent.language.grammar.object_words import kind_ref
from robot_agent.language.meaning import kind_key
from skills.params import SKILL_PARAMS
from skills.types import ObjectInfo

#: (family, value) -> (canonical words, [renderings]). Renderings name the request and the
#: complaint it answers, so "that's too quick" is near "slower" by its content, not its polarity alone.
_SKILL_FAMILIES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("move", "left"): (
        "move {mag} to the left",
        ("move it a bit to the left", "shift it left", "more to the left", "a little leftwards"),
    ),
    ("move", "right"): (
        "move {mag} to the right",
        ("move it a bit to the right", "shift it right", "more to the right", "a little rightwards"),
    ),
    ("move", "forward"): (
        "move {mag} forward",
        ("move it forward, away from me", "a bit further away from me", "push it forward"),
    ),
    ("move", "back"): ("move {mag} back", ("move it back towards me", "bring it closer to me", "a bit backwards")),
    ("move", "up"): ("move {mag} up", ("move it up", "a bit higher", "raise it")),
    ("move", "down"): ("move {mag} down", ("move it down", "a bit lower", "lower it")),
    ("speed", "slower"): (
        "slower",
        (
            "go slower",
            "slow down",
            "move more slowly",
            "you are going too fast",
            "take it easy, gently",
            "take your time, there is no rush",
        ),
    ),
    ("speed", "faster"): (
        "faster",
        ("go faster", "speed up", "move more quickly", "you are going too slowly", "hurry up"),
    ),
    ("pull", "more"): (
        "pull it further",
        ("open the drawer further", "pull it out more", "the drawer is not open enough", "open it wider"),
    ),
    ("pull", "less"): ("pull less", ("do not pull it out so far", "the drawer is opened too far", "open it less")),
    ("push", "more"): ("push it further", ("push it further", "push it farther along", "it did not go far enough")),
    ("push", "less"): ("push it less far", ("do not push it so far", "you pushed it too far")),
    ("place_height", "lower"): (
        "place it lower",
        ("put it down lower", "release it closer to the surface", "you let go of it too high"),
    ),
    ("place_height", "higher"): ("place it higher", ("release it higher up", "you let go of it too low")),
    ("lift", "higher"): ("lift it higher", ("lift it higher", "raise it more after grasping")),
    ("lift", "lower"): ("lift it lower", ("do not lift it so high", "lift it less after grasping")),
    ("approach", "higher"): (
        "start the approach higher",
        ("come down from higher up", "start the descent from higher above it", "approach it from higher"),
    ),
    ("approach", "lower"): (
        "start the approach lower",
        ("start the descent closer to it", "come down from lower", "approach it from lower down"),
    ),
    ("rotate", "clockwise"): (
        "rotate the gripper clockwise",
        ("turn the gripper clockwise", "twist your hand to the right"),
    ),
    ("rotate", "counterclockwise"): (
        "rotate the gripper counterclockwise",
        ("turn the gripper counterclockwise", "twist your hand to the left"),
    ),
}

#: more ways to say a meaning while one skill runs: closing a drawer is pushing it, and what is
#: said is about the drawer ("it is still a bit open"), not about pushing
_SKILL_RENDERINGS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("close", "push", "more"): ("close it all the way", "it is still a bit open", "push the drawer in further"),
    ("close", "push", "less"): ("do not shut it so hard", "you pushed the drawer in too far"),
    ("open", "pull", "more"): ("it is only open a little", "pull the drawer out further"),
}

#: which families each skill's parameters allow
_SKILL_ALLOWS = {
    "pick": ("move", "speed", "grasp", "lift", "approach", "rotate"),
    "place": ("move", "speed", "place_height", "approach"),
    "open": ("move", "speed", "pull"),
    "close": ("speed", "push"),
    "push": ("move", "speed", "push"),
    "move_by": ("move", "speed"),
    "go_home": ("move", "speed"),
    None: ("move", "speed"),
}


@dataclass
class Candidate:
    """One meaning the context allows.

    Attributes:
        key: unique id of the meaning ("move:left", "grasp:handle", "swap_object:blue_block").
        family: what it changes ("move", "speed", "grasp", "order", "swap_object", "put", ...).
        value: the family's value (a direction, "slower", a region, an object name).
        label: short words for a question ("pull it further").
        canonical: the meaning in the grammar's words on scene names.
        renderings: natural sentences carrying the meaning.
        atoms: for a task meaning, the goal atoms (as in ``Understanding.atoms``).
        what: ``"correction"`` or ``"task"``.
    """

    key: str
    family: str
    value: str
    label: str
    canonical: str
    renderings: list[str] = field(default_factory=list)
    atoms: list[dict[str, Any]] = field(default_factory=list)
    what: str = "correction"


def _the(p: str) -> str:
    return f"the {p}"


def correction_candidates(ctx: CorrectionContext) -> list[Candidate]:
    """Every correction the context allows, with renderings."""
    objs = list(ctx.objects)
    by_name = {o.name: o for o in objs}
    cur = by_name.get(ctx.object or "")
    tgt = by_name.get(ctx.target or "")
    out: list[Candidate] = []
    fams = _SKILL_ALLOWS.get(ctx.skill, _SKILL_ALLOWS[None])
    noun = sw.phrase(cur) if cur is not None else "it"
    for (fam, val), (canon, rends) in _SKILL_FAMILIES.items():
        if fam not in fams or (ctx.skill == "place" and fam == "move" and val in ("up", "down")):
            continue  # placing: up and down are the release height (place_height), one meaning
        rends = (*rends, *_SKILL_RENDERINGS.get((ctx.skill or "", fam, val), ()))
        out.append(
            Candidate(f"{fam}:{val}", fam, val, canon.format(mag="a bit"), canon.format(mag="a bit"), list(rends))
        )
    if "grasp" in fams and ctx.skill is not None:
        allowed = next((p.choices for p in SKILL_PARAMS[ctx.skill] if p.name == "grasp_region"), ())
        # Every region the object offers, the current one too: "hold it round the middle" while it
        # already does is still that meaning (and the context may not say which one is current).
        # The skill grasps any object by its centre or from its side (skills.library._part).
        regions = [r for r in allowed if cur is None or r in cur.parts or r in ("center", "side")]
        for r in regions:
            words = sw.PART_WORDS.get(r, (f"the {r}",))
            rends = [f"grasp the {noun} by {words[0]}", f"hold it by {words[-1]}", f"pick the {noun} up by {words[0]}"]
            if r in ("top", "side"):
                rends = [f"grasp the {noun} {words[-1]}", f"grab it {words[-1]}", f"hold it by {words[0]}"]
            out.append(
                Candidate(
                    f"grasp:{r}",
                    "grasp",
                    r,
                    f"grasp it by the {r}",
                    f"grasp it {'from' if r in ('top', 'side') else 'by'} the {r}",
                    rends,
                )
            )
    # plan-level meanings
    if ctx.skill != "go_home":
        # "once that's in, back to your rest spot": a step after the task's own
        out.append(
            Candidate(
                "step:go_home",
                "step",
                "go_home",
                "go back home at the end",
                "go home at the end",
                ["go back home when you are done", "return to the rest position afterwards", "park the arm at the end"],
            )
        )
    for c in (o for o in objs if o.category == "cabinet"):
        busy = ctx.object == c.name and ctx.skill in ("open", "close")
        is_open = c.drawer_open()
        p = _the(sw.phrase(c))
        if not busy and not is_open:
            out.append(
                Candidate(
                    f"order:open:{c.name}",
                    "order",
                    c.name,
                    f"open {p} first",
                    f"open the {c.name} first",
                    [
                        f"open {p} first",
                        f"{p} has to be opened before that",
                        f"you need to open {p} before putting things in it",
                        f"{p} is still closed",
                    ],
                )
            )
        # "don't close the drawer afterwards", "leave the drawer shut": a step of the plan forbidden;
        # while the arm opens or closes it, that very step ("don't shut it, I'm still in there")
        verbs = (("close", "open"), ("open", "shut"))
        for verb, state in verbs if not busy else [v for v in verbs if v[0] == ctx.skill]:
            rends = [f"don't {verb} {p}", f"do not {verb} {p} afterwards", f"no need to {verb} {p}"]
            if is_open == (verb == "close") or busy:
                rends.append(f"leave {p} {state}")
            out.append(
                Candidate(f"forbid:{verb}:{c.name}", "forbid", c.name, rends[0], f"don't {verb} the {c.name}", rends)
            )
        if not busy and (is_open or ctx.target == c.name):  # placing into it: shut or open by then
            out.append(
                Candidate(
                    f"step:close:{c.name}",
                    "step",
                    c.name,
                    f"close {p} at the end",
                    f"close the {c.name} at the end",
                    [f"close {p} when you are done", f"shut {p} afterwards"],
                )
            )
    if cur is not None and cur.category in sw.GRASPABLE_CATEGORIES:
        for o in sw.graspable(objs):
            if o.name == cur.name:
                continue
            ph = sw.phrases(o, objs)
            rends = [
                f"use {_the(ph[0])} instead",
                f"no, {_the(ph[0])}",
                f"I meant {_the(ph[0])}",
                f"not {_the(sw.phrase(cur))}, {_the(ph[0])}",
                f"wrong one, take {_the(ph[0])}",
            ]
            rends += [f"no, {_the(p)}" for p in ph[1:]]
            out.append(
                Candidate(
                    f"swap_object:{o.name}",
                    "swap_object",
                    o.name,
                    f"use {_the(ph[0])} instead",
                    f"no, use the {o.name} instead",
                    rends,
                )
            )
    if ctx.skill in ("pick", "push", "place") and cur is not None:
        # "do the white mug first": another object of the task before this one (the plan is re-ordered)
        verb = "push" if ctx.skill == "push" else "pick up"
        for o in sw.graspable(objs):
            if o.name in (cur.name, ctx.target):
                continue
            p = _the(sw.phrase(o))
            out.append(
                Candidate(
                    f"order_first:{o.name}",
                    "order_first",
                    o.name,
                    f"do {p} first",
                    f"{verb} the {o.name} first",
                    [f"do {p} first", f"start with {p}", f"{p} before this one", f"deal with {p} before that"],
                )
            )
    if ctx.skill in ("pick", "push", "place"):
        # "don't touch the white cube", "the apple stays on the table": no manipulating it at all
        # (a keep-out, "keep away from it", is a path rule: the candidates tell them apart)
        verb = "push" if ctx.skill == "push" else "pick up"
        for o in sw.graspable(objs):
            p = _the(sw.phrase(o))
            out.append(
                Candidate(
                    f"forbid:{o.name}",
                    "forbid",
                    o.name,
                    f"don't {verb} {p}",
                    f"don't {verb} the {o.name}",
                    [f"don't touch {p}", f"leave {p} alone", f"{p} stays where it is", f"do not {verb} {p}"],
                )
            )
    if ctx.skill in ("place", "pick") and cur is not None:
        for t in sw.receptacles(objs):
            if t.name in (ctx.target, ctx.object):
                continue
            ph = sw.phrases(t, objs)
            prep = sw.preposition(t)
            rends = [
                f"put it {prep} {_the(ph[0])} instead",
                f"no, {prep} {_the(ph[0])}",
                f"it goes {prep} {_the(ph[0])}",
                f"the {sw.noun(cur)} belongs {prep} {_the(ph[0])}",
            ]
            if tgt is not None:
                rends.append(f"not {prep} {_the(sw.phrase(tgt))}, {prep} {_the(ph[0])}")
            out.append(
                Candidate(
                    f"swap_target:{t.name}",
                    "swap_target",
                    t.name,
                    f"put it {prep} {_the(ph[0])}",
                    f"put it {prep} the {t.name} instead",
                    rends,
                )
            )
    out += _preferences(objs)
    for o in objs:
        if o.name in (ctx.object, ctx.target):
            continue
        p = _the(sw.phrase(o))
        out.append(
            Candidate(
                f"avoid:{o.name}",
                "avoid",
                o.name,
                f"keep away from {p}",
                f"keep away from the {o.name}",
                [
                    f"keep away from {p}",
                    f"do not go over {p}",
                    f"be careful around {p}",
                    f"stay clear of {p}",
                    f"go around {p}, take a wider path",
                    f"do not move the arm above {p}",
                    f"mind {p} on the way, don't knock it",
                ],
            )
        )
    out += _avoid_kinds(objs)
    blocks = [o for o in objs if o.category == "block"]
    if len(blocks) >= 2:
        for b in blocks:
            p = _the(sw.phrase(b))
            out.append(
                Candidate(
                    f"stack_bottom:{b.name}",
                    "stack",
                    b.name,
                    f"{p} goes at the bottom",
                    f"the {b.name} goes at the bottom",
                    [f"{p} goes at the bottom", f"{p} should be the base of the stack", f"start the stack with {p}"],
                )
            )
        for key, words, other in (("largest", "biggest", "smaller"), ("smallest", "smallest", "bigger")):
            out.append(
                Candidate(
                    f"stack_key:{key}",
                    "stack_key",
                    key,
                    f"the {words} block goes at the bottom",
                    f"the {words} block goes at the bottom",
                    [
                        f"the {words} block goes at the bottom",
                        f"start the pile with the {words} block",
                        f"{other} blocks go on top",
                        f"the {key} one should be underneath",
                    ],
                )
            )
    if ctx.skill is not None:
        out.append(
            Candidate(
                "retry",
                "retry",
                "",
                "try again",
                "try again",
                [
                    "try again",
                    "that did not work, do it again",
                    "have another go",
                    "give it one more time",
                    "you missed it, go again",
                ],
            )
        )
    out.append(
        Candidate(
            "confirm",
            "confirm",
            "",
            "keep going",
            "yes",
            [
                "yes, that is right",
                "good, keep going",
                "that looks fine",
                "perfect, carry on",
                "that works, well done",
                "great, that is the one",
            ],
        )
    )
    out.append(
        Candidate(
            "stop",
            "stop",
            "",
            "stop",
            "stop",
            ["stop", "wait a moment", "hold on", "halt, do not move", "stop right there"],
        )
    )
    return out


def _avoid_kinds(objs: list[ObjectInfo]) -> list[Candidate]:
    """Keeping away from every object of a kind ("mind the glasses", "stay clear of the apples"):
    for each category with two or more objects here, and each shape within one ("apples" among
    fruit). The kind is what the rule keeps: the object handled now is never kept away from."""
    groups: dict[str, list[ObjectInfo]] = {}
    for o in objs:
        groups.setdefault(sw.CATEGORY_NOUN.get(o.category, o.category), []).append(o)
        if sw.noun(o) != sw.CATEGORY_NOUN.get(o.category, o.category):
            groups.setdefault(sw.noun(o), []).append(o)
    out: list[Candidate] = []
    seen: set[frozenset[str]] = set()
    for word, group in sorted(groups.items()):
        names = frozenset(o.name for o in group)
        if len(group) < 2 or names in seen:
            continue
        seen.add(names)
        many = sw.plural(word)
        out.append(
            Candidate(
                kind_key(kind_ref(group, many)),
                "avoid_all",
                "+".join(sorted(names)),
                f"keep away from all the {many}",
                f"keep away from the {many}",
                [
                    f"keep away from the {many}",
                    f"be careful around the {many}",
                    f"do not bump into the {many}",
                    f"stay clear of all the {many}",
                    f"mind the {many} on the way, don't knock them",
                ],
            )
        )
    return out


def _preferences(objs: list[ObjectInfo]) -> list[Candidate]:
    """Standing rules about where a kind of thing goes: by colour within a category ("the red
    blocks go in the blue bin") and by category ("fruit goes in the bowl")."""
    out: list[Candidate] = []
    kinds = {(o.category, o.color) for o in sw.graspable(objs)}
    recs = sw.receptacles(objs)
    for cat in sorted({c for c, _ in kinds}):
        many = sw.plural(sw.CATEGORY_NOUN.get(cat, cat))
        colours = sorted({col for c, col in kinds if c == cat and col})
        for t in recs:
            if t.category == cat:
                continue
            prep, p = sw.preposition(t), _the(sw.phrase(t))
            if len(colours) > 1:
                for col in colours:
                    out.append(
                        Candidate(
                            f"prefer:{cat}:{col}:{t.name}",
                            "preference",
                            f"{col} {cat}>{t.name}",
                            f"{col} {many} go {prep} {p}",
                            f"{col} {many} go {prep} the {t.name}",
                            [
                                f"the {col} {many} go {prep} {p}",
                                f"{p} is for the {col} {many}",
                                f"always put {col} {many} {prep} {p}",
                                f"{col} ones belong {prep} {p}",
                            ],
                        )
                    )
            # The whole category too, whatever its colours ("from now on all fruit ends up in the bowl").
            one = sw.CATEGORY_NOUN.get(cat, cat)
            out.append(
                Candidate(
                    f"prefer:{cat}::{t.name}",
                    "preference",
                    f"{cat}>{t.name}",
                    f"{many} go {prep} {p}",
                    f"{many} go {prep} the {t.name}",
                    [
                        f"{many} go {prep} {p}",
                        f"{p} is where the {many} are kept",
                        f"always put {many} {prep} {p}",
                        f"all the {many} go {prep} {p}, whatever their colour",
                        f"every {one} goes {prep} {p}",
                    ],
                )
            )
    return out


def task_candidates(objects: Sequence[ObjectInfo]) -> list[Candidate]:
    """Every goal the scene allows, with renderings (the canonical form is a task the goal parser reads)."""
    objs = list(objects)
    out: list[Candidate] = []
    movable = sw.graspable(objs)
    recs = sw.receptacles(objs)
    for o in movable:
        po = sw.phrases(o, objs)
        for t in recs:
            if t.name == o.name:
                continue
            pt = sw.phrases(t, objs)
            prep = sw.preposition(t)
            rends = [f"put {_the(po[0])} {prep} {_the(pt[0])}", f"place {_the(po[0])} {prep} {_the(pt[0])}"]
            rends += [f"move {_the(a)} {prep} {_the(b)}" for a in po[1:2] for b in pt[:1]]
            rends += [f"put {_the(po[0])} {prep} {_the(b)}" for b in pt[1:2]]
            out.append(
                Candidate(
                    f"put:{o.name}:{t.name}",
                    "put",
                    f"{o.name}>{t.name}",
                    f"put {_the(po[0])} {prep} {_the(pt[0])}",
                    f"put {o.name} {prep} {t.name}",
                    rends,
                    [{"kind": "at", "objects": [o.name], "targets": [t.name]}],
                    "task",
                )
            )
        if any(r.category in sw.CONTAINER_CATEGORIES for r in recs):
            out.append(
                Candidate(
                    f"away:{o.name}",
                    "away",
                    o.name,
                    f"put {_the(po[0])} away",
                    f"put away {o.name}",
                    [f"put {_the(po[0])} away", f"clear away {_the(po[0])}"],
                    [
                        {
                            "kind": "at",
                            "objects": [o.name],
                            "targets": [r.name for r in recs if r.category in sw.CONTAINER_CATEGORIES],
                        }
                    ],
                    "task",
                )
            )
        out.append(
            Candidate(
                f"pick:{o.name}",
                "pick",
                o.name,
                f"pick up {_the(po[0])}",
                f"pick up {o.name}",
                [f"pick up {_the(po[0])}", f"lift {_the(po[0])} and hold it"],
                [{"kind": "holding", "objects": [o.name]}],
                "task",
            )
        )
        out.append(
            Candidate(
                f"push:{o.name}",
                "push",
                o.name,
                f"push {_the(po[0])}",
                f"push {o.name}",
                [f"push {_the(po[0])}", f"slide {_the(po[0])} along the table"],
                [{"kind": "pushed", "objects": [o.name]}],
                "task",
            )
        )
    cats: dict[str, list[ObjectInfo]] = {}
    for o in movable:
        cats.setdefault(o.category, []).append(o)
    for cat, members in cats.items():
        if len(members) < 2:
            continue
        many = sw.plural(sw.CATEGORY_NOUN.get(cat, cat))
        names = " and ".join(m.name for m in members)
        for t in recs:
            if t.category == cat:
                continue
            prep = sw.preposition(t)
            p = _the(sw.phrase(t))
            out.append(
                Candidate(
                    f"put_all:{cat}:{t.name}",
                    "put_all",
                    f"{cat}>{t.name}",
                    f"put all the {many} {prep} {p}",
                    f"put {names} {prep} {t.name}",
                    [f"put all the {many} {prep} {p}", f"put every {sw.CATEGORY_NOUN.get(cat, cat)} {prep} {p}"],
                    [{"kind": "at", "objects": [m.name], "targets": [t.name]} for m in members],
                    "task",
                )
            )
        if cat == "block":
            out.append(
                Candidate(
                    f"stack:{cat}",
                    "stack",
                    cat,
                    f"stack the {many}",
                    f"stack {names}",
                    [f"stack the {many}", f"make a tower of the {many}", f"pile the {many} on top of each other"],
                    [],
                    "task",
                )
            )
    for c in (o for o in objs if o.category == "cabinet"):
        p = _the(sw.phrase(c))
        out.append(
            Candidate(
                f"open:{c.name}",
                "open",
                c.name,
                f"open {p}",
                f"open {c.name}",
                [f"open {p}", f"pull {p} open"],
                [{"kind": "drawer", "objects": [c.name], "open": True}],
                "task",
            )
        )
        out.append(
            Candidate(
                f"close:{c.name}",
                "close",
                c.name,
                f"close {p}",
                f"close {c.name}",
                [f"close {p}", f"shut {p}"],
                [{"kind": "drawer", "objects": [c.name], "open": False}],
                "task",
            )
        )
    out.append(
        Candidate(
            "home",
            "home",
            "",
            "go back home",
            "go home",
            # "park": robotics' own word for the arm's rest pose
            ["go back to the home position", "return home", "park the arm in its rest pose"],
            [{"kind": "home"}],
            "task",
        )
    )
    return out
