"""Plan constraints: what corrections and knowledge say a plan must respect, in checkable form.

Kinds (``PlanConstraint.kind``):

* ``order``: a call must come before another ("open the drawer before putting something in it").
* ``target``: use another object or destination ("no, the blue one").
* ``preference``: objects of a kind go to a destination ("fruit goes in the bowl").
* ``avoid``: do not act on an object, or not with a given skill ("don't touch the glass").
* ``require_step``: a call must be in the plan, next, last or anywhere ("go home at the end").
* ``param``: a call on matching objects carries given parameters ("grasp mugs by the handle").
* ``stack``: a stacking order ("the biggest block goes at the bottom", "the red block goes on top").

Constraints refer to objects by :class:`ObjectRef` (name or description), so knowledge
distilled on one scene resolves again on another. They come from dicts (the corrections
module's plan dicts, the distiller's, or :meth:`PlanConstraint.to_dict`) or from free
text (:func:`parse_rule`); text that no rule understands stays a prompt hint.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from robot_agent.errors import PolicyError
from robot_agent.policy.grounding import NOUNS, ObjectRef, normalize, parse_mention

log = logging.getLogger(__name__)

#: categories things are put in or on
RECEPTACLES = {"bowl", "tray", "cabinet", "plate", "shelf"}


# --------------------------------------------------------------------------- call patterns


@dataclass(frozen=True)
class CallPattern:
    """A set of calls: a skill (empty = any) on objects fitting ``object``/``target`` refs (None = any)."""

    skill: str = ""
    object: ObjectRef | None = None
    target: ObjectRef | None = None

    def describe(self) -> str:
        if self.skill == "place" or self.target is not None:
            args = [r.describe() if r is not None else "*" for r in (self.object, self.target)]
        else:
            args = [self.object.describe() if self.object is not None else "*"]
        return f"{self.skill or 'any skill'}({', '.join(args)})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"skill": self.skill}
        if self.object is not None:
            out["object"] = self.object.to_dict()
        if self.target is not None:
            out["target"] = self.target.to_dict()
        return out

    @classmethod
    def from_value(cls, value: Any) -> CallPattern | None:
        """From our dict, a corrections-module call dict, a skill name, or a phrase ("open the drawer")."""
        if value is None:
            return None
        if isinstance(value, CallPattern):
            return value
        if isinstance(value, str):
            return parse_call_phrase(value) if " " in value.strip() else cls(skill=skill_word(value) or value)
        if not isinstance(value, Mapping):
            raise PolicyError(f"a call pattern must be a dict or text, got {value!r}")
        skill = value.get("skill") or ""
        if skill:
            skill = skill_word(str(skill)) or str(skill)
        obj = _ref_from_call(value, "object")
        tgt = _ref_from_call(value, "target")
        return cls(str(skill), obj, tgt)


def _ref_from_call(call: Mapping[str, Any], role: str) -> ObjectRef | None:
    ref = ObjectRef.from_value(call.get(role))
    if ref is not None:
        return ref
    desc = call.get(f"{role}_description")
    cat = call.get(f"{role}_category") or (call.get("category") if role == "object" else None)
    if desc or cat:
        base = ObjectRef.from_mention(parse_mention(str(desc))) if desc else ObjectRef()
        color = str(call.get(f"{role}_color") or base.color)
        return ObjectRef(base.name, str(cat or base.category), color, base.shape, base.text)
    return None


# --------------------------------------------------------------------------- constraints


@dataclass
class PlanConstraint:
    """Base of the constraint kinds. ``text`` keeps the words it came from, ``source`` who said it."""

    kind: ClassVar[str] = ""
    text: str = field(default="", kw_only=True)
    source: str = field(default="", kw_only=True)

    def describe(self) -> str:  # pragma: no cover - every kind overrides it
        return self.text

    def _body(self) -> dict[str, Any]:  # pragma: no cover
        return {}

    def to_dict(self) -> dict[str, Any]:
        d = {"kind": self.kind, **self._body()}
        if self.text:
            d["text"] = self.text
        if self.source:
            d["source"] = self.source
        return d

    def __str__(self) -> str:
        return self.describe()

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> PlanConstraint:
        """Build any kind from :meth:`to_dict` output or from a corrections/distiller plan dict.

        Raises:
            PolicyError: the dict is not a constraint this planner can check (the message
                says which kinds it knows).
        """
        c = constraint_from_dict(data)
        if c is None:
            raise PolicyError(f"not a checkable plan constraint: {dict(data)!r}; kinds: {', '.join(sorted(KINDS))}")
        return c


@dataclass
class OrderConstraint(PlanConstraint):
    """``first`` must have happened (or its effect must hold) before any call matching ``then``.

    ``then`` None means: any other call on the objects ``first`` acts on.
    """

    kind: ClassVar[str] = "order"
    first: CallPattern = field(default_factory=CallPattern)
    then: CallPattern | None = None

    def describe(self) -> str:
        then = self.then.describe() if self.then else f"anything else with {self._first_obj()}"
        return f"{self.first.describe()} before {then}"

    def _first_obj(self) -> str:
        return self.first.object.describe() if self.first.object else "it"

    def _body(self) -> dict[str, Any]:
        return {"first": self.first.to_dict(), "then": self.then.to_dict() if self.then else None}


@dataclass
class TargetConstraint(PlanConstraint):
    """Use ``object`` as the thing to move and/or ``destination`` as where it goes, instead of ``replaces``."""

    kind: ClassVar[str] = "target"
    role: str = "object"  # "object" | "destination" | "both"
    object: ObjectRef | None = None
    destination: ObjectRef | None = None
    replaces: ObjectRef | None = None

    def describe(self) -> str:
        new = " in/on ".join(r.describe() for r in (self.object, self.destination) if r is not None)
        old = f" instead of {self.replaces.describe()}" if self.replaces else ""
        return f"use {new}{old}"

    def _body(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "object": _rd(self.object),
            "destination": _rd(self.destination),
            "replaces": _rd(self.replaces),
        }


@dataclass
class PreferenceConstraint(PlanConstraint):
    """Objects fitting ``selector`` go to ``target`` (in or on it)."""

    kind: ClassVar[str] = "preference"
    selector: ObjectRef = field(default_factory=ObjectRef)
    target: ObjectRef = field(default_factory=ObjectRef)
    relation: str = ""

    def describe(self) -> str:
        return f"{self.selector.describe()} goes {self.relation or 'to'} {self.target.describe()}"

    def _body(self) -> dict[str, Any]:
        return {"selector": self.selector.to_dict(), "target": self.target.to_dict(), "relation": self.relation}


@dataclass
class AvoidConstraint(PlanConstraint):
    """Forbidden calls.

    With neither ``skill`` nor ``target``: no call may name an object fitting ``object``
    in any role ("keep away from the glass"). Otherwise the calls of ``skill`` (any when
    empty) whose object fits ``object`` and whose target fits ``target`` (each None = any)
    are forbidden ("don't open the drawer", "don't put anything in the bowl").
    A planner can only keep the plan's calls off an object; keeping the arm's path away
    from it is the motion layer's business.
    """

    kind: ClassVar[str] = "avoid"
    object: ObjectRef | None = None
    skill: str = ""
    target: ObjectRef | None = None

    def describe(self) -> str:
        what = self.object.describe() if self.object else "anything"
        where = f" in/on {self.target.describe()}" if self.target else ""
        return f"do not {self.skill or 'touch'} {what}{where}"

    def _body(self) -> dict[str, Any]:
        return {"object": _rd(self.object), "skill": self.skill, "target": _rd(self.target)}


@dataclass
class RequireStepConstraint(PlanConstraint):
    """A call matching ``call`` must be in the plan: ``next``, ``last`` or ``any`` position.

    It counts as done once a matching call is in the episode's history.
    """

    kind: ClassVar[str] = "require_step"
    call: CallPattern = field(default_factory=CallPattern)
    position: str = "any"

    def describe(self) -> str:
        where = {"next": "next", "last": "at the end"}.get(self.position, "")
        return f"{self.call.describe()} {where}".strip()

    def _body(self) -> dict[str, Any]:
        return {"call": self.call.to_dict(), "position": self.position}


@dataclass
class ParamConstraint(PlanConstraint):
    """Calls of ``skill`` on objects fitting ``object`` (None = any) carry ``params``."""

    kind: ClassVar[str] = "param"
    skill: str = ""
    object: ObjectRef | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        ps = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.skill} {self.object.describe() if self.object else 'anything'} with {ps}"

    def _body(self) -> dict[str, Any]:
        return {"skill": self.skill, "object": _rd(self.object), "params": dict(self.params)}


@dataclass
class StackConstraint(PlanConstraint):
    """A stacking order: what may be placed on what.

    With ``bottom`` (``largest`` or ``smallest``, by footprint area): an object fitting
    ``selector`` (None = any) may only be placed on a larger (or smaller) one. With ``object``
    and ``position``: ``top`` means nothing is placed on ``object``; ``bottom`` means
    ``object`` is placed on no other graspable object.
    """

    kind: ClassVar[str] = "stack"
    bottom: str = ""  # "largest" | "smallest" | ""
    selector: ObjectRef | None = None
    object: ObjectRef | None = None
    position: str = ""  # "top" | "bottom" | ""

    def describe(self) -> str:
        if self.bottom:
            what = self.selector.describe() if self.selector else "objects"
            return f"stack {what} with the {self.bottom} at the bottom"
        return f"{self.object.describe() if self.object else 'it'} goes at the {self.position}"

    def _body(self) -> dict[str, Any]:
        return {
            "bottom": self.bottom,
            "selector": _rd(self.selector),
            "object": _rd(self.object),
            "position": self.position,
        }


KINDS: dict[str, type[PlanConstraint]] = {
    c.kind: c
    for c in (
        OrderConstraint,
        TargetConstraint,
        PreferenceConstraint,
        AvoidConstraint,
        RequireStepConstraint,
        ParamConstraint,
        StackConstraint,
    )
}


def _rd(ref: ObjectRef | None) -> dict[str, str] | None:
    return ref.to_dict() if ref is not None else None


def _ref(value: Any) -> ObjectRef | None:
    return ObjectRef.from_value(value)


def _ref_key(data: Mapping[str, Any], key: str) -> ObjectRef | None:
    """``data[key]`` (a name, phrase or ref dict), else ``data[key + "_category"]`` (the distiller's form)."""
    ref = _ref(data.get(key))
    if ref is None and data.get(f"{key}_category"):
        # The distiller keeps the colour when the category alone was ambiguous on its scene
        # ("the blue bin" of two bins), so the ref finds the same-coloured one again.
        ref = ObjectRef(category=str(data[f"{key}_category"]), color=str(data.get(f"{key}_color") or ""))
    return ref


# --------------------------------------------------------------------------- from dicts


def constraint_from_dict(data: Mapping[str, Any]) -> PlanConstraint | None:
    """A constraint from a dict in any of the formats in use, or None when it is not checkable.

    Accepted: :meth:`PlanConstraint.to_dict` output (``kind``); the corrections module's
    plan dicts (``type``: order, step, target, preference, avoid, forbid); the short forms
    ``{"type": "order", "first": "open", "object": "drawer"}``,
    ``{"type": "target", "object": "blue_block"}``,
    ``{"type": "preference", "category": "fruit", "target": "bowl"}``,
    ``{"type": "avoid", "object": "glass"}``, ``{"type": "stack", "key": "size", "bottom": "largest"}``.
    Kinds it cannot check (sort, free
    "constraint" text) give None: the caller keeps their words as a prompt hint.

    Raises:
        PolicyError: a known kind with malformed fields.
    """
    if not isinstance(data, Mapping):
        raise PolicyError(f"a constraint must be a dict, got {data!r}")
    kind = str(data.get("kind") or data.get("type") or "")
    text = str(data.get("text") or data.get("description") or "")
    source = str(data.get("source") or "")
    meta = {"text": text, "source": source}
    if kind == "order":
        first_v = data.get("first")
        if isinstance(first_v, str) and " " not in first_v.strip():
            first = CallPattern(skill_word(first_v) or first_v, _ref_key(data, "object"), _ref_key(data, "target"))
        else:
            first = CallPattern.from_value(first_v)
        if first is None:
            raise PolicyError(f"order constraint without 'first': {dict(data)!r}")
        then = CallPattern.from_value(data.get("then"))
        if first.object is None and then is None and not first.skill:
            raise PolicyError(f"order constraint says nothing to order: {dict(data)!r}")
        return OrderConstraint(first=first, then=then, **meta)
    if kind == "target":
        role = str(data.get("role") or "")
        obj = _ref_key(data, "object")
        dest = _ref_key(data, "destination") or (_ref_key(data, "target") if role in ("destination", "both") else None)
        if not role:
            role = "both" if obj and dest else ("destination" if dest else "object")
        if role == "destination" and dest is None:
            dest, obj = obj, None
        if obj is None and dest is None:
            raise PolicyError(f"target constraint names no object: {dict(data)!r}")
        return TargetConstraint(role=role, object=obj, destination=dest, replaces=_ref_key(data, "replaces"), **meta)
    if kind == "preference":
        sel = data.get("selector")
        if isinstance(sel, Mapping):
            selector = ObjectRef(
                category=str(sel.get("category") or ""),
                color=str(sel.get("color") or ""),
                shape=str(sel.get("shape") or ""),
                name=str(sel.get("name") or ""),
                text=str(sel.get("text") or ""),
            )
        else:
            selector = ObjectRef(
                category=str(data.get("category") or ""),
                color=str(data.get("color") or ""),
                shape=str(data.get("shape") or ""),
            )
            if selector.is_empty() and sel:
                selector = _ref(sel) or selector
        target = _ref_key(data, "target")
        if target is None:
            target = _ref({"text": data.get("target_description")})
        if selector.is_empty() or target is None:
            raise PolicyError(f"preference constraint needs a selector and a target: {dict(data)!r}")
        return PreferenceConstraint(selector=selector, target=target, relation=str(data.get("relation") or ""), **meta)
    if kind == "avoid":
        obj = _ref_key(data, "object") or _ref({"text": data.get("description")} if data.get("description") else None)
        tgt = _ref_key(data, "target")
        skill = str(data.get("skill") or "")
        if obj is None and tgt is None and not skill:
            raise PolicyError(f"avoid constraint names no object: {dict(data)!r}")
        return AvoidConstraint(object=obj, skill=skill_word(skill) or skill, target=tgt, **meta)
    if kind == "forbid":
        call = CallPattern.from_value(data.get("call") or {})
        if call is None or (call.object is None and call.target is None and not call.skill):
            raise PolicyError(f"forbid constraint names nothing: {dict(data)!r}")
        return AvoidConstraint(object=call.object, skill=call.skill, target=call.target, **meta)
    if kind in ("step", "require_step"):
        raw = data.get("call")
        if raw is None:
            raw = {k: data.get(k) for k in ("skill", "object", "target") if data.get(k)}
        call = CallPattern.from_value(raw)
        if call is None or not call.skill:
            raise PolicyError(f"required step names no skill: {dict(data)!r}")
        position = str(data.get("position") or "any")
        if position not in ("next", "last", "any"):
            raise PolicyError(f"required step position {position!r}; valid: next, last, any")
        return RequireStepConstraint(call=call, position=position, **meta)
    if kind == "stack":
        bottom = str(data.get("bottom") or "")
        if bottom:
            if bottom not in ("largest", "smallest") or str(data.get("key") or "size") != "size":
                raise PolicyError(f"stack constraint: bottom must be largest or smallest (key size): {dict(data)!r}")
            sel = data.get("selector")
            selector = (
                ObjectRef.from_value(sel)
                if sel
                else (ObjectRef(category=str(data["category"])) if data.get("category") else None)
            )
            return StackConstraint(bottom=bottom, selector=selector, **meta)
        position = str(data.get("position") or "")
        obj = _ref_key(data, "object")
        if position not in ("top", "bottom") or obj is None:
            raise PolicyError(
                f"stack constraint needs bottom (largest/smallest) or object and position (top/bottom): {dict(data)!r}"
            )
        return StackConstraint(object=obj, position=position, **meta)
    if kind in ("param", "params", "parameter"):
        params = data.get("params")
        if params is None and "param" in data:
            params = {str(data["param"]): data.get("value")}
        if not isinstance(params, Mapping) or not data.get("skill"):
            raise PolicyError(f"param constraint needs a skill and params: {dict(data)!r}")
        obj = _ref_key(data, "object") or _ref({"category": data.get("category")} if data.get("category") else None)
        return ParamConstraint(skill=str(data["skill"]), object=obj, params=dict(params), **meta)
    return None


# --------------------------------------------------------------------------- from text

_SKILL_WORDS: dict[str, str] = {}
for _skill, _words in (
    ("open", "open opens opening opened pull pulling"),
    ("close", "close closes closing shut shuts shutting"),
    (
        "pick",
        (
            "pick picks picking grab grabs grabbing take takes taking lift lifts lifting grasp grasps grasping "
            "hold holding"
        ),
    ),
    (
        "place",
        (
            "put puts putting place places placing drop drops dropping set sets setting move moves moving "
            "stack stacks stacking store storing insert inserting"
        ),
    ),
    ("push", "push pushes pushing slide slides sliding nudge nudging shove shoving"),
):
    for _w in _words.split():
        _SKILL_WORDS[_w] = _skill

_PREPS = r"inside of|inside|into|in to|in|on top of|onto|on to|on"
_LEAD = (
    r"^(?:(?:please|always|also|and|then|so|ok|okay|oh|hey|remember to|remember|make sure to|make sure you|"
    r"you need to|you have to|you must|you should|need to|have to|must|should|i want you to|try to|"
    r"next time|from now on|in future|in the future)\s+)*"
)


def skill_word(word: str) -> str:
    """The skill a verb or skill name means ("grab" -> "pick", "go home" -> "go_home"), or ""."""
    w = normalize(word).replace(" ", "_")
    if w in ("go_home", "home", "gohome"):
        return "go_home"
    return _SKILL_WORDS.get(w, w if w in ("pick", "place", "open", "close", "push", "go_home", "move_by") else "")


def _strip_lead(text: str) -> str:
    return re.sub(_LEAD, "", text).strip()


def _mentions(text: str) -> list[str]:
    """Noun phrases of the lexicon in ``text``, in order (for pronoun antecedents)."""
    words = text.split()
    return [w for w in words if w in NOUNS]


def parse_call_phrase(text: str, antecedent: str = "") -> CallPattern | None:
    """A call pattern from words like "open the drawer", "putting something in it", "go home".

    Pronouns resolve to ``antecedent`` (the noun phrase they stand for), generic words
    ("something", "anything") to any object.
    """
    s = _strip_lead(normalize(text))
    s = re.sub(r"\b(?:first|again|now|too|please)\b", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    if re.search(
        r"\b(?:go|going|return|returning|move|moving|come|coming|get|head)\s+(?:back\s+)?(?:to\s+)?"
        r"(?:the\s+)?home\b",
        s,
    ) or s in ("home", "go home"):
        return CallPattern("go_home")
    words = s.split()
    vi = next((i for i, w in enumerate(words) if w in _SKILL_WORDS), None)
    if vi is None:
        return None
    skill = _SKILL_WORDS[words[vi]]
    rest = " ".join(w for w in words[vi + 1 :] if w not in ("up", "down", "back", "away", "out"))
    if (
        skill == "pick"
        and re.search(rf"\b(?:{_PREPS})\b", rest)
        and words[vi] not in ("pick", "picking", "grab", "grasp", "lift")
    ):
        skill = "place"  # "take it into the bowl"
    obj_txt, tgt_txt = rest, ""
    if skill == "place":
        m = re.match(rf"^(?P<o>.*?)\s*\b(?:{_PREPS})\b\s*(?P<t>.*)$", rest)
        if m:
            obj_txt, tgt_txt = m.group("o"), m.group("t")
            if not tgt_txt.strip() and antecedent:
                # "before putting it in": the destination is the thing just named, "it" is whatever is held.
                obj = None if parse_mention(obj_txt).pronoun else _phrase_ref(obj_txt, "")
                return CallPattern(skill, obj, _phrase_ref(antecedent, ""))
    elif skill in ("pick", "push", "open", "close"):
        obj_txt = re.split(rf"\b(?:{_PREPS}|by|with|to|from|toward|towards|before|after)\b", rest)[0]
    return CallPattern(skill, _phrase_ref(obj_txt, antecedent), _phrase_ref(tgt_txt, antecedent))


_ANY_WORDS = {
    "something",
    "anything",
    "things",
    "stuff",
    "everything",
    "objects",
    "object",
    "thing",
    "items",
    "item",
    "",
}


def _phrase_ref(text: str, antecedent: str) -> ObjectRef | None:
    t = text.strip()
    if t in _ANY_WORDS or t in ("any object", "an object", "a thing", "the object"):
        return None
    m = parse_mention(t)
    if m.pronoun:
        return _phrase_ref(antecedent, "") if antecedent else None
    if m.generic and not m.colors and not m.unknown:
        return None
    return ObjectRef.from_mention(m)


def _then_call(text: str, first: CallPattern | None, antecedent: str) -> CallPattern | None:
    """The second call of an order; "the banana" in "pick the apple before the banana" reuses the verb."""
    then = parse_call_phrase(text, antecedent=antecedent)
    if then is None and first is not None and first.skill:
        mention = parse_mention(text)
        if not mention.generic and not mention.pronoun:
            return CallPattern(first.skill, ObjectRef.from_mention(mention), None)
    return then


def _noun_phrase_before(text: str, end: int) -> str:
    """The last lexicon noun phrase (with its adjectives) in ``text[:end]``."""
    words = text[:end].split()
    for i in range(len(words) - 1, -1, -1):
        if words[i] in NOUNS:
            j = i
            while j > 0 and words[j - 1] not in _SKILL_WORDS and words[j - 1] not in ("is", "are", "the", "a", "an"):
                j -= 1
            return " ".join(words[j : i + 1])
    return ""


def parse_rule(text: str, *, source: str = "") -> PlanConstraint | None:
    """A constraint from one sentence of operator or knowledge text, or None when no rule fits.

    Understood phrasings include: "open the drawer first", "first open the drawer",
    "open the drawer before putting something in it", "the drawer is closed, open it first"
    (order); "fruit goes in the bowl", "put fruit in the bowl" (preference); "no, the blue
    one", "use the blue block", "no, in the bowl" (target); "don't touch the glass",
    "keep away from the glass", "don't open the drawer" (avoid); "go home at the end",
    "close the drawer afterwards" (require_step); "grasp mugs by the handle" (param).
    """
    s = normalize(text)
    s = s.replace("don't", "do not").replace("dont", "do not").replace("never ever", "never")
    s = s.replace("i'd", "i would").replace("it's", "it is").replace("that's", "that is")
    meta = {"text": text.strip(), "source": source}
    if not s:
        return None

    # avoid / forbid ("do not forget to ..." is a required step, below)
    m = (
        None
        if re.match(r"^(?:please\s+)?(?:do not|never) forget", s)
        else re.match(
            r"^(?:please\s+)?(?:(?:do not|never|avoid|stop)\s+(?:ever\s+)?|keep away from\s+|stay away from\s+|"
            r"leave\s+)(?P<rest>.+)$",
            s,
        )
    )
    if m:
        rest = m.group("rest")
        rest = re.sub(r"\s+alone$", "", rest)
        vm = re.match(
            r"^(?:touch|touching|use|using|go over|go near|pass over|passing over|go|handle|handling|"
            r"disturb|bump|bump into|hit|knock over|come near)\s+(?P<x>.+)$",
            rest,
        )
        skill = ""
        if vm:
            obj_txt = vm.group("x")
        else:
            call = parse_call_phrase(rest)
            if call is not None and (call.object or call.target):
                return AvoidConstraint(object=call.object, skill=call.skill, target=call.target, **meta)
            obj_txt = re.sub(r"^(?:from|over|near|the)\s+", "", rest)
        mention = parse_mention(re.sub(r"^(?:from|over|near)\s+", "", obj_txt))
        if not mention.generic and not mention.pronoun:
            return AvoidConstraint(object=ObjectRef.from_mention(mention), skill=skill, **meta)
        return None

    # param: "grasp mugs by the handle"
    m = re.search(
        r"\b(?:grasp|grab|pick up|pick|hold|take|lift)\s+(?P<x>.+?)\s+(?:by|at|from)\s+"
        r"(?:the\s+|its\s+|their\s+)?(?P<r>handle|rim|top|side|center|centre|middle)s?\b",
        s,
    )
    if m:
        mention = parse_mention(m.group("x"))
        if mention.pronoun or mention.generic:
            return None  # "grasp it by the handle": a skill correction for the current object
        region = {"centre": "center", "middle": "center"}.get(m.group("r"), m.group("r"))
        return ParamConstraint(
            skill="pick", object=ObjectRef.from_mention(mention), params={"grasp_region": region}, **meta
        )

    # require_step "last"
    m = re.match(
        r"^(?P<a>.+?)\s+(?:at the end|in the end|afterwards|after that|at last|last|when you are done|"
        r"when done|when you are finished|when finished|once done|after you are done|after|"
        r"after everything)$",
        s,
    )
    if m and " before " not in s:
        call = parse_call_phrase(m.group("a"))
        if call is not None:
            return RequireStepConstraint(call=call, position="last", **meta)
    m = re.match(r"^(?:please\s+)?(?:do not forget to|never forget to|remember to|also|and also)\s+(?P<a>.+)$", s)
    if m:
        call = parse_call_phrase(m.group("a"))
        if call is not None:
            return RequireStepConstraint(call=call, position="any", **meta)

    # order
    m = re.match(r"^(?P<a>.+?)\s+(?:first\s+)?before\s+(?P<b>.+)$", s)
    if m:
        first = parse_call_phrase(m.group("a"))
        ante = _noun_phrase_before(m.group("a"), len(m.group("a")))
        then = _then_call(m.group("b"), first, ante)
        if first is not None and then is not None:
            return OrderConstraint(first=first, then=then, **meta)
    m = re.match(r"^(?:first|start by|begin by|firstly)\s+(?P<a>.+?)(?:\s+(?:and then|then|and)\s+(?P<b>.+))?$", s)
    if m:
        first = parse_call_phrase(m.group("a"))
        ante = _noun_phrase_before(m.group("a"), len(m.group("a")))
        then = _then_call(m.group("b"), first, ante) if m.group("b") else None
        if first is not None and (first.object is not None or first.skill == "go_home"):
            return OrderConstraint(first=first, then=then, **meta)
    m = re.match(r"^(?P<a>.+?)\s+first$", s)
    if m:
        a = m.group("a")
        ante = _noun_phrase_before(a, len(a))
        # "the drawer is closed open it first": the call is the last verb phrase.
        verbs = [i for i, w in enumerate(a.split()) if w in _SKILL_WORDS or w == "go"]
        if verbs:
            tail = " ".join(a.split()[verbs[-1] :])
            first = parse_call_phrase(tail, antecedent=ante)
            if first is not None and (first.object is not None or first.skill == "go_home"):
                return OrderConstraint(first=first, then=None, **meta)

    # preference: "<kind> goes in <target>", "put <kind> in <target>"
    m = re.match(
        rf"^(?:no\s+)?(?:(?:always\s+)?(?:put|place|keep|store|drop)\s+)?(?P<sel>.+?)\s+"
        rf"(?:(?:always\s+)?(?:goes|go|belongs|belong|should go|must go|should be|must be|has to go|"
        rf"have to go|needs to go|need to go|are kept|is kept|go back|goes back)\s+)?"
        rf"(?P<prep>{_PREPS})\s+(?P<tgt>.+)$",
        s,
    )
    cue = re.search(r"\b(?:goes|go|belongs|belong|always|should go|must go|are kept|is kept)\b", s)
    if m:
        sel_m = parse_mention(m.group("sel"))
        tgt_m = parse_mention(m.group("tgt"))
        rel = "in" if m.group("prep") in ("in", "into", "inside", "inside of", "in to") else "on"
        if not tgt_m.generic and not tgt_m.pronoun:
            tgt_ref = ObjectRef.from_mention(tgt_m)
            sel_txt = re.sub(r"^(?:no|nope|not there|wrong)\s*", "", m.group("sel")).strip()
            if sel_m.pronoun or sel_txt in ("", "it", "them", "put it", "place it"):
                return TargetConstraint(role="destination", destination=tgt_ref, **meta)
            if sel_m.generic and not sel_m.colors:
                return None
            if (
                cue
                or sel_m.plural
                or sel_m.quantifier
                or not sel_m.text.startswith(("the ", "a ", "an "))
                or s.startswith(("put ", "place ", "keep ", "store ", "drop "))
            ):
                sel = ObjectRef.from_mention(sel_m)
                return PreferenceConstraint(
                    selector=ObjectRef(category=sel.category, color=sel.color, shape=sel.shape, text=sel.text),
                    target=tgt_ref,
                    relation=rel,
                    **meta,
                )

    # target: "no, the blue one", "use the blue block instead", "no, in the bowl"
    m = (
        re.match(
            r"^(?:no|nope|wrong one|not that one|not that|i meant|i mean|i said|use|take|grab|choose|"
            r"pick|get)\b\s*(?:(?:no|not that one|use|i meant|take)\s+)?(?P<x>.+?)(?:\s+instead)?"
            r"(?:\s+not\s+(?P<y>.+))?$",
            s,
        )
        or re.match(r"^not\s+(?P<y>.+?)\s+(?:but\s+|use\s+)?(?P<x>(?:the|a)\s+.+?)(?:\s+instead)?$", s)
        or re.match(r"^(?P<x>(?:the|a)\s+\w+(?:\s+\w+)?\s+one)(?:\s+instead)?(?:\s+not\s+(?P<y>.+))?$", s)
    )
    if m:
        x = m.group("x")
        pm = re.match(rf"^(?:put it\s+|place it\s+)?(?P<prep>{_PREPS})\s+(?P<t>.+)$", x)
        if pm:
            mention = parse_mention(pm.group("t"))
            if not mention.generic:
                return TargetConstraint(role="destination", destination=ObjectRef.from_mention(mention), **meta)
            return None
        mention = parse_mention(x)
        if mention.generic or mention.pronoun:
            return None
        y = m.groupdict().get("y")
        replaces = ObjectRef.from_mention(parse_mention(y)) if y else None
        ref = ObjectRef.from_mention(mention)
        role = "destination" if mention.category in RECEPTACLES else "object"
        if role == "destination":
            return TargetConstraint(role=role, destination=ref, replaces=replaces, **meta)
        return TargetConstraint(role=role, object=ref, replaces=replaces, **meta)
    return None
