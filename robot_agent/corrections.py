"""Operator corrections: classify one utterance and ground it in the scene.

An utterance becomes a :class:`Correction` of one of five kinds:

* ``stop``: halt the arm now (checked first, and cheaply, by :func:`is_stop`);
* ``plan``: a task-level change that needs a replan (order, target, missing step,
  preference, keep-away, sorting or stacking rule), as a structured ``plan`` dict;
* ``skill``: an execution change of the current skill, grounded into a base-frame
  displacement ``delta_m`` and/or named parameter changes of ``skills.params``;
* ``confirm``: the operator approves ("good", "yes");
* ``unclear``: nothing safe to do; ``question`` holds the clarifying question.

The parser is rule-based, pure Python and deterministic: no model is needed to
understand a correction, so a correction is understood in well under a millisecond
and never invents a motion. An optional ``fallback`` (e.g. an LLM) may be given for
utterances the rules do not understand at all; what it returns passes the same
safety checks. ``docs/corrections.md`` describes the grammar with examples.

Direction convention: the operator's frame has forward, left and up; by default the
operator stands behind the robot, so forward = +x, left = +y, up = +z of the base
frame. ``CorrectionContext.operator_yaw`` turns the operator's frame about z (pi for
an operator facing the robot across the table). "your left" / "the robot's left"
always means the robot's own frame.

Parameter changes are a dict ``{parameter: {op: value}}`` for the skill named in
``Correction.skill``, ``op`` being ``"set"`` (absolute value), ``"add"`` (number or
3-vector added to the current value) or ``"scale"`` (factor on a number); apply
them with :func:`apply_parameter_changes`, which validates against the skill's
:class:`skills.params.ParamSpec` bounds.
"""

from __future__ import annotations

import bisect
import enum
import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from robot_agent.config import SafetyConfig
from robot_agent.errors import ParameterError, SkillError
from skills.params import ParamSpec, validate_params
from skills.params import spec as param_spec
from skills.types import ObjectInfo

log = logging.getLogger(__name__)

#: size (m) used to scale "a bit" when the correction's object is unknown
DEFAULT_OBJECT_SIZE = 0.05
#: largest object size (m) that word magnitudes scale with (a cabinet is not a unit of "a bit")
MAX_REFERENCE_SIZE = 0.10
#: word magnitude classes -> multiple of the reference object's size
MAGNITUDE_FACTORS = {"tiny": 0.25, "small": 0.5, "medium": 1.0, "large": 2.0}
#: bounds (m) of a displacement chosen from words ("a bit"), before the safety checks
WORD_STEP_BOUNDS = (0.005, 0.15)
#: rotation (degrees) chosen from words, per magnitude class
ROTATION_DEG = {"tiny": 5.0, "small": 15.0, "medium": 45.0, "large": 90.0}
#: speed factors for "slower" / "faster", per magnitude class
SLOWER = {"tiny": 0.85, "small": 0.75, "medium": 0.5, "large": 0.25}
FASTER = {"tiny": 1.15, "small": 1.25, "medium": 1.5, "large": 2.0}
#: extra pull / push distance (m) chosen from words, per magnitude class
EXTRA_DISTANCE = {"tiny": 0.01, "small": 0.03, "medium": 0.05, "large": 0.10}
#: longest utterance parsed (characters); longer text is answered with a question
MAX_TEXT_CHARS = 600

FallbackFn = Callable[[str, "CorrectionContext | None"], "Correction | None"]


class CorrectionKind(enum.Enum):
    """What an utterance asks for."""

    STOP = "stop"
    PLAN = "plan"
    SKILL = "skill"
    CONFIRM = "confirm"
    UNCLEAR = "unclear"


@dataclass
class Correction:
    """One understood utterance.

    When ``refusal`` or ``question`` is set, nothing is to be executed: ``delta_m``,
    ``parameters`` and ``plan`` are then empty whatever the kind. ``stop`` is never
    refused.

    Attributes:
        text: the utterance as received.
        kind: what it asks for.
        delta_m: for a translational skill correction, ``[dx, dy, dz]`` in metres in
            the robot base frame; else None.
        parameters: parameter changes ``{name: {"set"|"add"|"scale": value}}`` for
            ``skill`` (translations are already included here, expressed in the
            skill's own frame, when the skill has an offset parameter for them).
            An empty dict with a ``delta_m`` means: move the gripper by ``delta_m``.
        skill: the skill the parameters are for; None = the current skill or, for
            a speed change, every skill.
        object: the scene object the correction is about, when known.
        plan: for ``plan``: a structured constraint (see ``docs/corrections.md``).
        question: for ``unclear``: the clarifying question to ask the operator.
        refusal: why the request was refused (safety limits, prompt injection).
        confidence: 0..1, how sure the parser is (0 for unclear).
        followup: for ``stop``: what the rest of the utterance asks, once halted.
    """

    text: str
    kind: CorrectionKind
    delta_m: list[float] | None = None
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    skill: str | None = None
    object: str | None = None
    plan: dict[str, Any] | None = None
    question: str | None = None
    refusal: str | None = None
    confidence: float = 1.0
    followup: Correction | None = None

    @property
    def actionable(self) -> bool:
        """True when the agent should act on it (adjust or replan)."""
        return (self.kind in (CorrectionKind.SKILL, CorrectionKind.PLAN)
                and self.refusal is None and self.question is None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``understand --json`` line)."""
        return {
            "text": self.text, "kind": self.kind.value,
            "delta_m": None if self.delta_m is None else [float(v) for v in self.delta_m],
            "parameters": {k: dict(v) for k, v in self.parameters.items()},
            "skill": self.skill, "object": self.object, "plan": self.plan,
            "question": self.question, "refusal": self.refusal,
            "confidence": float(self.confidence),
            "followup": None if self.followup is None else self.followup.to_dict(),
            "summary": self.describe(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Correction:
        """Inverse of :meth:`to_dict` (episode logs store corrections that way)."""
        follow = data.get("followup")
        return cls(
            text=str(data.get("text", "")), kind=CorrectionKind(data["kind"]),
            delta_m=None if data.get("delta_m") is None else [float(v) for v in data["delta_m"]],
            parameters={str(k): dict(v) for k, v in dict(data.get("parameters") or {}).items()},
            skill=data.get("skill"), object=data.get("object"), plan=data.get("plan"),
            question=data.get("question"), refusal=data.get("refusal"),
            confidence=float(data.get("confidence", 1.0)),
            followup=None if follow is None else cls.from_dict(follow),
        )

    def describe(self) -> str:
        """One readable line: how the utterance was understood."""
        kind = self.kind.value
        if self.kind is CorrectionKind.STOP:
            out = "stop: halt the arm now"
            if self.followup is not None:
                out += f"; then {self.followup.describe()}"
            return out
        if self.refusal:
            return f"{kind}: refused: {self.refusal}"
        if self.kind is CorrectionKind.UNCLEAR:
            return f"unclear: {self.question or 'no action'}"
        if self.kind is CorrectionKind.CONFIRM:
            return "confirm: keep going as is"
        parts: list[str] = []
        if self.plan is not None:
            parts.append(describe_plan(self.plan))
        if self.delta_m is not None:
            parts.append(f"move {describe_delta(self.delta_m)}")
        for name, change in self.parameters.items():
            parts.append(_describe_change(name, change))
        where = ""
        if self.skill or self.object:
            where = f" ({self.skill or 'current skill'}{' on ' + self.object if self.object else ''})"
        return f"{kind}{where}: " + "; ".join(parts or ["no change"])


@dataclass
class CorrectionContext:
    """What the robot knows when a correction arrives.

    Attributes:
        objects: the scene objects (names, categories, poses, sizes, parts).
        skill: the skill being executed or just executed, if any.
        object: name of the object that skill acts on (for place: the held object).
        target: for place: the name of the target object.
        params: the current parameters of ``skill`` (defaults when None); used to
            check that a change stays within the parameter bounds.
        operator_yaw: yaw (rad) of the operator's forward direction in the base
            frame; 0 = standing behind the robot, pi = facing it across the table.
        last: the previous correction (for "more", "again", "too far").
    """

    objects: list[ObjectInfo] = field(default_factory=list)
    skill: str | None = None
    object: str | None = None
    target: str | None = None
    params: dict[str, Any] | None = None
    operator_yaw: float = 0.0
    last: Correction | None = None

    def find(self, name: str | None) -> ObjectInfo | None:
        """The scene object called ``name``, or None."""
        if not name:
            return None
        for o in self.objects:
            if o.name == name:
                return o
        return None


# --------------------------------------------------------------------------- stop

_STOP_RE = re.compile(
    r"\b(?:e ?stop|emergency|stop+|halt|freeze|abort|cease|cancel|whoa+|woah+|hold on|hold still|"
    r"hold it(?= *(?:$|[,.!;?]|right there|now))|stay still|stand still|don'?t move|do not move|"
    r"wait|that'?s enough|that is enough|^ *enough)\b")
_STOP_NEG = re.compile(
    r"(?:\b(?:don'?t|do not|never|no need to|needn'?t|won'?t|shouldn'?t|not|without|didn'?t|"
    r"no reason to)|\bnon) (?:\w+ )?$|\bnon ?$")
#: "no" alone (or "no no", "nope"): the operator rejects what the arm is doing; halting is the safe side
_NO_NO = re.compile(r"^\W*(?:no+|nope|nah)(?:\W+no+)*\W*$")
_STOP_TRANS = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "-": " ", "\u2013": " ", "\u2014": " "})


def _stop_match(text: str) -> re.Match[str] | None:
    low = text.lower().translate(_STOP_TRANS)
    for m in _STOP_RE.finditer(low):
        if not _STOP_NEG.search(low[max(0, m.start() - 24):m.start()]):
            return m
    return None


def is_stop(text: object) -> bool:
    """True when ``text`` asks the arm to stop now ("stop", "halt", "wait", "no", "no no").

    Cheap (one regular-expression search, a few microseconds): meant to run on every
    incoming utterance before full parsing. Negated forms ("don't stop") are not
    stops; anything else containing a stop word is, so an embedded "stop" in a
    longer sentence halts the arm too (the safe side).
    """
    if not isinstance(text, str) or not text:
        return False
    if len(text) > 4 * MAX_TEXT_CHARS:
        text = text[: 4 * MAX_TEXT_CHARS]
    return _stop_match(text) is not None or _NO_NO.match(text.lower()) is not None


# --------------------------------------------------------------------------- parameters

def _is_angle(ps: ParamSpec) -> bool:
    return ps.kind == "float" and ps.unit == "rad" and ps.low <= -math.pi + 1e-9 and ps.high >= math.pi - 1e-9


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2 * math.pi) - math.pi


def apply_parameter_changes(skill: str, current: Mapping[str, Any] | None,
                            changes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The skill's parameters after ``changes``, every value validated.

    Args:
        skill: skill name (a key of ``skills.params.SKILL_PARAMS``).
        current: the current parameters (missing ones take their defaults).
        changes: ``{name: {"set": v}}``, ``{name: {"add": v}}`` (number, or a
            3-vector for vec3 parameters) or ``{name: {"scale": f}}`` (numbers only).
            Angles (``gripper_yaw``) wrap into [-pi, pi].

    Returns:
        The complete, validated parameter dict.

    Raises:
        UnknownSkillError: the skill is not registered.
        ParameterError: an unknown parameter or operation, or a result out of bounds.
    """
    params = validate_params(skill, current)
    for name, change in changes.items():
        ps = param_spec(skill, name)
        if not isinstance(change, Mapping) or len(change) != 1:
            raise ParameterError(f"{skill}.{name}: a change must be one of "
                                 f"{{'set': v}}, {{'add': v}}, {{'scale': f}}, got {change!r}")
        ((op, value),) = change.items()
        old = params[name]
        try:
            if op == "set":
                new = value
            elif op == "add" and ps.kind == "float":
                new = float(old) + float(value)
            elif op == "add" and ps.kind == "vec3":
                if len(value) != 3:
                    raise ParameterError(f"{skill}.{name}: 'add' needs 3 numbers, got {value!r}")
                new = [float(a) + float(b) for a, b in zip(old, value, strict=True)]
            elif op == "scale" and ps.kind == "float":
                new = float(old) * float(value)
            else:
                raise ParameterError(f"{skill}.{name}: cannot {op!r} a {ps.kind} parameter")
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError(f"{skill}.{name}: bad value for {op!r}: {value!r}") from None
        if _is_angle(ps) and isinstance(new, (int, float)) and math.isfinite(float(new)):
            new = _wrap(float(new))
        params[name] = ps.validate(new, skill)
    return params


# --------------------------------------------------------------------------- describing

_AXES = (("forward", "back"), ("left", "right"), ("up", "down"))


def _fmt_len(m: float) -> str:
    a = abs(m)
    if a >= 1.0:
        return f"{a:.2f} m"
    if a < 0.01:
        return f"{a * 1000:.1f} mm"
    return f"{a * 100:.1f} cm"


def describe_delta(delta: Sequence[float]) -> str:
    """``[0, 0.02, 0]`` -> ``"2.0 cm left"`` (base-frame words: +x forward, +y left, +z up)."""
    words = [f"{_fmt_len(v)} {_AXES[i][0] if v > 0 else _AXES[i][1]}"
             for i, v in enumerate(delta) if abs(v) >= 5e-5]
    vec = ", ".join(f"{v:+.3f}" for v in delta)
    return f"{' + '.join(words) or 'nothing'} [base frame: {vec}] m"


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_fmt_value(x) for x in v) + "]"
    return str(v)


def _describe_change(name: str, change: Mapping[str, Any]) -> str:
    ((op, value),) = change.items() if len(change) == 1 else (("?", change),)
    sym = {"set": "=", "add": "+=", "scale": "x="}.get(op, op)
    return f"{name} {sym} {_fmt_value(value)}"


def _describe_call(call: Mapping[str, Any] | None) -> str:
    if not call:
        return "the remaining steps"
    args = [a for a in (call.get("object") or call.get("object_description"),
                        call.get("target") or call.get("target_description")) if a]
    return f"{call.get('skill') or 'handle'}({', '.join(args)})"


def describe_plan(plan: Mapping[str, Any]) -> str:
    """One line for a plan constraint."""
    t = plan.get("type")
    if t == "order":
        return f"order: {_describe_call(plan.get('first'))} before {_describe_call(plan.get('then'))}"
    if t == "step":
        return f"missing step: {_describe_call(plan.get('call'))} ({plan.get('position', 'next')})"
    if t == "target":
        obj = plan.get("object") or plan.get("description") or "it"
        dest = plan.get("destination") or plan.get("description")
        old = f" instead of {plan['replaces']}" if plan.get("replaces") else ""
        if plan.get("role") == "both":
            return f"target: put {plan.get('object') or 'it'} {plan.get('relation') or 'on'} {dest}"
        if plan.get("role") == "destination":
            return f"target: put it {plan.get('relation') or 'on'} {dest}{old}"
        return f"target: use {obj}{old}"
    if t == "preference":
        sel = " ".join(f"{k}={v}" for k, v in dict(plan.get("selector") or {}).items())
        tgt = plan.get("target") or plan.get("target_category") or plan.get("target_description")
        return f"preference: {sel or 'objects'} go {plan.get('relation', 'in')} {tgt}"
    if t == "avoid":
        return f"keep away from {plan.get('object') or plan.get('description')}"
    if t == "forbid":
        return f"do not {_describe_call(plan.get('call'))}"
    if t == "retry":
        return f"retry {_describe_call(plan.get('call'))}"
    if t == "sort":
        return f"sort by {plan.get('key')}"
    if t == "stack":
        if plan.get("key"):
            return f"stack with the {plan.get('bottom')} at the bottom"
        return f"stack {plan.get('object') or plan.get('description')} at the {plan.get('position')}"
    return f"constraint: {plan.get('text', '')}"


# --------------------------------------------------------------------------- lexicon

_SMALL_NUMBERS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_DIST_UNITS = {
    "mm": 0.001, "millimeter": 0.001, "millimeters": 0.001, "millimetre": 0.001, "millimetres": 0.001,
    "mil": 0.001, "mils": 0.001, "mms": 0.001,
    "cm": 0.01, "cms": 0.01, "centimeter": 0.01, "centimeters": 0.01, "centimetre": 0.01,
    "centimetres": 0.01, "centi": 0.01, "centis": 0.01,
    "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
    "inch": 0.0254, "inches": 0.0254, "ft": 0.3048, "foot": 0.3048, "feet": 0.3048,
}
_ANGLE_UNITS = {"deg": math.pi / 180, "degree": math.pi / 180, "degrees": math.pi / 180,
                "rad": 1.0, "rads": 1.0, "radian": 1.0, "radians": 1.0,
                "turn": 2 * math.pi, "turns": 2 * math.pi, "revolution": 2 * math.pi}
_PERCENT = {"percent", "pct"}

_MAGNITUDES: list[tuple[str, str]] = [  # (class, regex); earlier entries win on overlap
    ("tiny", r"a (?:tiny|teeny|wee|teensy|very small|really small|little tiny|weeny) (?:bit|amount)|"
             r"ever so slightly|very slightly|just slightly|a hair(?:'s breadth)?|a smidge(?:n|on)?|"
             r"a fraction|barely|minimally|the tiniest bit|just a touch|a tiny nudge"),
    ("large", r"quite a (?:bit|lot|way)|a fair (?:bit|way)|a good (?:bit|deal|way)|a great deal|"
              r"a whole lot|a long way|a lot|lots|a ton|significantly|considerably|substantially|"
              r"much|way|far|really far|very far|loads|heaps|plenty"),
    ("small", r"just a (?:little )?bit|just a little|a little bit|a bit|a little|a touch|a tad|a few|"
              r"slightly|somewhat|a small amount|a nudge|nudge|marginally|little|bit|some"),
]
_MAGNITUDE_RE = [(cls, re.compile(rf"\b(?:{pat})\b")) for cls, pat in _MAGNITUDES]

_COLORS = {"red", "green", "blue", "yellow", "orange", "purple", "white", "black", "gray", "grey",
           "brown", "pink", "cyan", "wood", "wooden", "clear", "transparent", "violet", "beige", "silver",
           "gold", "golden", "dark", "light", "navy", "teal", "magenta", "lime"}
_COLOR_CANON = {"grey": "gray", "wooden": "wood", "transparent": "clear", "violet": "purple",
                "golden": "gold"}
_SIZE_ADJ = {"big": 1, "bigger": 1, "biggest": 1, "large": 1, "larger": 1, "largest": 1, "huge": 1,
             "small": -1, "smaller": -1, "smallest": -1, "tiny": -1, "little": -1, "mini": -1}
_POS_ADJ = {"left": "left", "leftmost": "left", "right": "right", "rightmost": "right",
            "front": "far", "far": "far", "farthest": "far", "furthest": "far", "back": "near",
            "near": "near", "nearest": "near", "closest": "near", "middle": "middle"}
_SHAPE_ADJ = {"tall", "short", "wide", "narrow", "standard", "round", "deep", "square", "flat", "long",
              "thin", "fat", "plastic", "metal", "ceramic", "coffee", "empty", "full", "open", "closed"}
#: noun -> catalog category; shape nouns also name the shape
_NOUN_CATEGORY = {
    "block": "block", "brick": "block", "cube": "block", "cuboid": "block", "cylinder": "block",
    "fruit": "fruit", "apple": "fruit", "banana": "fruit", "lemon": "fruit", "orange": "fruit",
    "pear": "fruit", "lime": "fruit",
    "mug": "mug", "cup": "mug", "glass": "glass", "tumbler": "glass", "flute": "glass",
    "wineglass": "glass", "bowl": "bowl", "plate": "plate", "dish": "plate", "tray": "tray",
    "bin": "tray", "basket": "tray", "shelf": "shelf", "rack": "shelf", "cabinet": "cabinet",
    "drawer": "cabinet", "cupboard": "cabinet", "dresser": "cabinet",
}
_SHAPE_NOUNS = {"cube": "block", "cuboid": "block", "cylinder": "block", "apple": "fruit",
                "banana": "fruit", "lemon": "fruit", "orange": "fruit", "pear": "fruit", "lime": "fruit",
                "tumbler": "glass", "flute": "glass"}
_RECEPTACLES = {"bowl", "plate", "tray", "shelf", "cabinet", "box", "basket", "bin", "container", "sink",
                "pan", "pot", "crate"}
#: household nouns known to the parser but not in the object catalog
_EXTRA_NOUNS = {"laptop", "bottle", "can", "box", "phone", "book", "pen", "pencil", "sponge", "toy",
                "ball", "spoon", "fork", "knife", "vase", "jar", "lid", "container", "sink", "pan", "pot",
                "crate", "keyboard", "mouse", "monitor", "screen", "towel", "cloth", "bag", "tool",
                "scissors", "tape", "candle", "plant", "remote", "kettle", "teapot", "saucer", "tablet",
                "cable", "wire", "egg", "bread", "carrot", "tomato", "potato", "peach", "grape", "grapes",
                "strawberry", "cookie", "marker", "eraser", "stapler", "wallet", "key", "keys", "coin"}
_GENERIC_HEADS = {"one", "ones", "thing", "things", "object", "objects", "item", "items", "stuff", "piece",
                  "pieces"}
_PARTS = {"handle": "handle", "handles": "handle", "rim": "rim", "edge": "rim", "lip": "rim",
          "top": "top", "side": "side", "sides": "side", "middle": "center", "center": "center",
          "centre": "center", "body": "center"}
_ROBOT_WORDS = {"gripper", "hand", "arm", "robot", "wrist", "fingers", "finger", "claw", "tool", "table",
                "surface", "base", "workspace", "camera", "position", "spot", "place", "way", "side",
                "speed", "pace", "velocity"}
_DETERMINERS = {"the", "a", "an", "that", "this", "those", "these", "my", "your", "its", "another", "each",
                "every", "all", "any", "some", "both"}
_PRONOUNS = {"it", "them"}
#: verb form -> skill ("" = a generic verb that takes its skill from the rest of the clause)
_VERBS = {
    "open": "open", "opens": "open", "opening": "open", "opened": "open",
    "close": "close", "closes": "close", "closing": "close", "shut": "close", "shuts": "close",
    "shutting": "close",
    "pick": "pick", "picks": "pick", "picking": "pick", "grab": "pick", "grabs": "pick",
    "grabbing": "pick", "grasp": "pick", "grasping": "pick", "take": "pick", "takes": "pick",
    "taking": "pick", "get": "pick", "getting": "pick", "fetch": "pick", "lift": "pick", "lifting": "pick",
    "collect": "pick", "grip": "pick", "hold": "pick", "use": "pick", "choose": "pick", "select": "pick",
    "put": "place", "puts": "place", "putting": "place", "place": "place", "places": "place",
    "placing": "place", "drop": "place", "dropping": "place", "set": "place", "setting": "place",
    "stack": "place", "stacking": "place", "bring": "place", "bringing": "place", "transfer": "place",
    "load": "place", "store": "place", "leave": "place",
    "push": "push", "pushing": "push", "pushes": "push", "slide": "push", "sliding": "push",
    "shove": "push",
    "move": "", "moving": "", "pull": "", "pulling": "",
}
_DEST_PREPS = {"in": "in", "into": "in", "inside": "in", "on": "on", "onto": "on", "to": "at",
               "towards": "at", "toward": "at", "next": "near", "beside": "near", "near": "near"}
_CONFIRM_CORE = {"yes", "yeah", "yep", "yup", "yea", "good", "great", "perfect", "ok", "okay", "k", "fine",
                 "correct", "exactly", "nice", "excellent", "awesome", "brilliant", "lovely", "thanks",
                 "thank", "sure", "cool", "bingo", "affirmative", "continue", "proceed", "right",
                 "superb", "wonderful", "works", "better", "alright", "done", "ahead", "carry", "keep"}
_CONFIRM_FILLER = {"that's", "that", "is", "it", "it's", "very", "really", "so", "job", "well", "now", "the",
                   "you", "robot", "on", "spot", "looks", "look", "just", "this", "there", "all", "much",
                   "way", "like", "do", "will", "that'll", "go", "going", "please", "indeed", "more", "or",
                   "less", "and", "a", "lot", "enough", "i", "think", "was", "we're",
                   "got", "good", "keep", "oh", "ah", "hmm", "um", "uh", "wow"}
_NEGATIVE = {"no", "nope", "not", "wrong", "incorrect", "bad", "nah", "don't", "isn't", "wasn't", "never",
             "ugh", "oops", "mistake", "worse"}
#: words that carry no meaning of their own in a correction
_FILLERS = {
    "please", "could", "can", "would", "will", "you", "just", "now", "then", "and", "or", "but", "so",
    "the", "a", "an", "it", "its", "it's", "is", "be", "to", "of", "for", "with", "that", "this", "there",
    "here", "i", "me", "my", "we", "us", "our", "your", "yours", "robot", "hey", "ok", "okay", "um", "uh",
    "hmm", "er", "erm", "oh", "ah", "well", "maybe", "perhaps", "try", "again", "go", "going", "do",
    "make", "let's", "lets", "let", "kindly", "thanks", "thank", "more", "less", "bit", "little", "by",
    "about", "around", "roughly", "approximately", "like", "need", "needs", "want", "wanted", "should",
    "must", "have", "has", "had", "too", "very", "really", "quite", "still", "yet", "also", "as",
    "than", "at", "in", "on", "into", "onto", "from", "over", "under", "up", "down", "out", "off",
    "what", "when", "where", "which", "who", "how", "why", "are", "was", "were", "been", "being", "am",
    "i'm", "you're", "don't", "does", "did", "not", "no", "yes", "one", "ones", "some", "any",
    "all", "same", "other", "another", "instead", "rather", "first", "next", "last", "after", "before",
    "afterwards", "later", "once", "thing", "things", "object", "side", "amount",
    "shift", "nudge", "adjust", "correct", "fix", "change", "tiny", "wee", "further",
    "farther", "way", "direction", "position", "spot", "place", "slightly", "somewhat", "carefully",
    "gently", "alright", "right", "if", "because", "since", "i'd", "i'll", "you'll", "we'll",
    "meant", "mean", "said", "say", "think", "guess", "know", "see", "look", "watch", "good", "great",
    "sorry", "actually", "basically", "anyway", "hm", "huh", "those", "these", "them",
    "they", "their", "he", "she", "him", "her", "his", "hers", "sir", "buddy", "pal", "mate",
}


# --------------------------------------------------------------------------- patterns

_TOKEN_RE = re.compile(r"@\d+|\d+(?:\.\d+)?|\.\d+|[a-z]+(?:'[a-z]+)*|[.,;:!?/]")
_CONTRACTIONS = {"dont": "don't", "doesnt": "doesn't", "cant": "can't", "wont": "won't", "thats": "that's",
                 "im": "i'm", "youre": "you're", "isnt": "isn't", "didnt": "didn't", "shouldnt": "shouldn't",
                 "okey": "okay", "lets": "let's", "whats": "what's", "youve": "you've", "ive": "i've",
                 "colour": "color", "colours": "colors", "centre": "center"}
_TRANS = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u201c": '"', "\u201d": '"',
                        "-": " ", "\u2013": " ", "\u2014": " ", "\u2010": " ", "\u2212": " ", "_": "_",
                        "\u2044": "/", "\u00b0": " deg ", "%": " percent ", "~": " "})

_INJECTION_RE = re.compile("|".join([
    r"\bignore (?:all |any |the |your |my |previous |prior |above |earlier |those |these |every |safety |speed |of )*"
    r"(?:instructions?|rules?|prompts?|limits?|limitations?|constraints?|safety|restrictions?|guidelines?|"
    r"boundar(?:y|ies)|workspace|checks?|warnings?|programming|orders?)",
    r"\bdisregard\b",
    r"\bforget (?:all |your |the |previous |prior |about )*(?:instructions?|rules?|prompt|training|limits?|safety)",
    r"\bsystem prompt\b", r"\byou are now\b", r"\bact as (?:if|an?|the)\b", r"\bpretend (?:to be|you)\b",
    r"\bdeveloper mode\b", r"\bjailbreak", r"\bdan mode\b", r"\bsudo\b", r"\badmin(?:istrator)? mode\b",
    r"\bnew instructions?\b",
    r"\b(?:override|bypass|disable|turn off|switch off|deactivate|remove|circumvent|skip|lift|raise|increase|"
    r"exceed|break|violate|ignore|defeat|relax|loosen|widen|extend)\b(?: \S+){0,4} (?:the |your |all |any )?"
    r"(?:safety|limits?|limiter|limitations?|constraints?|restrictions?|guards?|safety checks?|collision checks?|"
    r"workspace|boundar(?:y|ies)|speed limits?|e ?stop|emergency stop|watchdog)\b",
    r"\b(?:beyond|past|over|above|outside|faster than|quicker than|further than|farther than|more than|exceed(?:ing)?)"
    r"(?: \S+){0,2} (?:the )?(?:limits?|allowed|maximum|max|permitted|safe(?:ty)? (?:limits?|speed|zone)|"
    r"workspace|boundar(?:y|ies)|speed limit)\b",
    r"\bno (?:limits?|safety|restrictions?|rules?)\b",
    r"\b(?:twice|double|triple|thrice|\S+ times) as \w+ as (?:is |it's |you're |you are )?"
    r"(?:allowed|permitted|safe|the limit|the max(?:imum)?|your limit|your max(?:imum)?)\b",
    r"\bwithout (?:any |the )?(?:limits?|safety|restrictions?|checks?)\b",
    r"\bunlimited\b", r"\bunsafe(?:ly)?\b", r"\bdangerous(?:ly)?\b",
    r"\b(?:print|reveal|show|repeat|output|tell me|dump|leak)\b(?: \S+){0,4} "
    r"(?:prompt|instructions|system message|config(?:uration)?|password|secrets?|keys?|credentials?)\b",
    r"<\s*/?\s*(?:script|system|im_start|im_end|s)\s*>", r"\[/?inst\]",
    r"\b(?:exec(?:ute)?|run|eval(?:uate)?)\b(?: \S+){0,3} (?:code|command|script|python|shell|bash)\b",
    r"\bimport os\b", r"\brm rf\b", r"\bos\s*\.\s*system\b", r"__import__", r"\bsubprocess\b",
]))

_DIR_VEC = {"left": (0.0, 1.0, 0.0), "right": (0.0, -1.0, 0.0), "forward": (1.0, 0.0, 0.0),
            "back": (-1.0, 0.0, 0.0), "up": (0.0, 0.0, 1.0), "down": (0.0, 0.0, -1.0)}
_OPPOSITE = {"left": "right", "right": "left", "forward": "back", "back": "forward", "up": "down",
             "down": "up", "high": "down", "low": "up", "higher": "down", "lower": "up"}
_DIR_WORD = {"left": "left", "leftward": "left", "leftwards": "left", "right": "right", "rightward": "right",
             "rightwards": "right", "forward": "forward", "forwards": "forward", "ahead": "forward",
             "frontward": "forward", "frontwards": "forward", "back": "back", "backward": "back",
             "backwards": "back", "up": "up", "upward": "up", "upwards": "up", "higher": "up", "raise": "up",
             "down": "down", "downward": "down", "downwards": "down", "lower": "down", "high": "up",
             "low": "down"}
_DIR_RE = re.compile(
    r"\b(?P<me>(?:towards?|closer to|nearer to|to) me\b|(?:back )?towards? myself\b|"
    r"(?:closer|nearer)(?! (?:to|towards?|than)\b)(?= *(?:$|[,.!?;]|please|now|again)))|"
    r"\b(?P<away_me>away from me\b|(?:further|farther) away(?! from\b)(?= *(?:$|[,.!?;]|please|now|again)))|"
    r"\b(?P<you>(?:towards?|closer to|nearer to) (?:you(?:rself)?|the robot|the base|your base))\b|"
    r"\b(?P<away_you>away from (?:you(?:rself)?|the robot|the base|your base))\b|"
    r"\b(?:(?:to|on|towards?) (?:the |your |my |its |the robot's |robot's )?)?"
    r"(?P<w>leftwards?|left|rightwards?|right|forwards?|ahead|frontwards?|backwards?|back|upwards?|up|"
    r"higher|raise|downwards?|down|lower)\b")
_DIR_MASKS = [re.compile(p) for p in (
    r"\b(?:that's|that is|thats|you're|you are|it's|is|exactly|quite|all|just|yes|yeah|alright|ok|okay|"
    r"good|perfect) (?P<m>right)\b",
    r"\b(?P<m>right) (?:now|away|there|here|above|below|over|under|on|in|at|next|behind|beside|before|after|"
    r"into|onto|where|then|side up|\?|!)",
    r"^(?P<m>right) [,.!]", r"^(?P<m>right) ?[?!.]? ?$",
    r"\b(?:pick|picks|picking|picked|speed|speeds|hurry|open|set|give|line|clean|wake|what's|cheer|sum)"
    r"(?: \S+){0,3}? (?P<m>up)\b",
    r"\b(?P<m>up) to\b", r"\b(?P<m>up) (?:the |your )?(?:speed|pace|velocity)\b",
    r"\b(?:slow|slows|calm|sit|tone|turn|shut|lay|settle)(?: \S+){0,2}? (?P<m>down)\b",
    r"\b(?:put|puts|putting|set|sets|setting|place|places|placing)(?: \S+){0,3}? (?P<m>down)\b"
    r"(?! (?:a |by |\d|more|lower|further))",
    r"\bupside (?P<m>down)\b",
    r"\b(?:put|puts|putting|place|places|placing|bring|set|give|send)(?: \S+){0,3}? (?P<m>back)\b"
    r"(?! (?:a |by |\d|more|further|slightly|some|little|towards?|to me))",
    r"\b(?:go|goes|going|come|get|return|head|move) (?P<m>back) "
    r"(?:home|to (?:the |your )?(?:start|home|beginning|where))\b",
    r"\b(?P<m>back) home\b", r"\b(?:the|its|at the|on the|from the) (?P<m>back)\b", r"\b(?P<m>back) (?:of|side|off)\b",
    r"\bgo (?P<m>ahead)\b", r"\b(?:you|i|we|they|have|has|had|i've|you've|is|are|was) (?P<m>left)\b",
    r"\b(?P<m>left) (?:over|it|them|the|open|behind)\b",
    r"\b(?:lower|higher|raise|reduce|increase) (?:the |your )?(?:speed|pace|velocity|force)\b",
    r"\b(?:high|low|higher|lower|full|top|max(?:imum)?) (?:speed|pace|velocity|force|priority)\b",
    r"\b(?:bottom|top) (?:one|block|shelf)\b",
    r"\b(?P<m>left|right) (?:hand )?(?:side )?of\b",
)]
_TOO_DIR_RE = re.compile(r"\btoo (?:far |much )?(?:(?:to|on|towards) (?:the |your |my )?)?"
                         r"(?P<d>left|right|forward|back|high|low|up|down|far forward|far back)\b")
_TOO_FAR_RE = re.compile(r"\b(?:overshot|overshoot|went too far|gone too far|too far|too much|overdid it|"
                         r"not so (?:much|far)|not that (?:much|far)|not as (?:much|far)|less|back off a bit)\b")
_OTHER_WAY_RE = re.compile(r"\b(?:the )?(?:other|opposite) (?:way|direction|side)\b|\bwrong (?:way|direction)\b|"
                           r"\b(?:reverse|go back the other way)\b")
_RETRY_RE = re.compile(r"\b(?:try (?:it |that )?again|retry|try once more|have another go|give it another (?:go|try)|"
                       r"(?:that|it) didn't work|(?:that|it) did not work|(?:that|it) failed)\b")
_MORE_RE = re.compile(r"\b(?:even )?(?:more|further|farther)\b|\b(?:do (?:that|it|the same) )?again\b|"
                      r"\bonce more\b|\bsame again\b|\bsame (?:thing|amount)\b|\brepeat(?: that| it)?\b|"
                      r"\bone more time\b|\bkeep going (?:that way|in that direction)\b")
_SLOWER_RE = re.compile(
    r"\b(?:slower|slow (?:it |things )?down|more slowly|slowly|not so fast|not as fast|too fast|too quick(?:ly)?|"
    r"less fast|(?:reduce|lower|decrease|drop|cut) (?:the |your )?(?:speed|velocity|pace)|take it easy|"
    r"easy does it|ease off|ease up|slow)\b")
_FASTER_RE = re.compile(
    r"\b(?:faster|quicker|speed (?:it |things )?up|hurry(?: up)?|more quickly|quickly|too slow(?:ly)?|"
    r"not so slow(?:ly)?|(?:increase|raise|up) (?:the |your )?(?:speed|velocity|pace)|pick up the pace|"
    r"get a move on|rapidly|fast|speedier|quick)\b")
_GENTLE_RE = re.compile(
    r"\b(?:gentl[ey]|gentler|more gently|carefully|more carefully|careful|softly|softer|delicately|"
    r"with (?:more )?care|tenderly|smoothly|smoother|"
    r"(?:don't|do not|never) (?:drop|throw|toss|slam|bang) (?:it|that|them)|"
    r"(?:don't|do not) let (?:it|that) (?:fall|drop))\b")
_SPEED_SET_RE = re.compile(
    r"\b(?:(?P<full>full|max(?:imum)?|top|highest) speed|as fast as (?:you can|possible)|"
    r"(?P<min>min(?:imum)?|lowest) speed|as slow(?:ly)? as (?:you can|possible)|"
    r"(?P<norm>normal|default|usual|regular|original) speed|"
    r"(?P<half>half (?:the )?speed|half as fast|twice as slow(?:ly)?)|"
    r"(?P<twice>twice as fast|double (?:the )?speed))\b")
_ROT_VERB_RE = re.compile(r"\b(?:rotate|rotated|rotating|turn|turned|turning|twist|twisting|spin|swivel|"
                          r"angle|orient|re orient|yaw)\b")
_ROT_DIR_RE = re.compile(r"\b(?P<ccw>counter ?clockwise|anti ?clockwise|ccw)\b|\b(?P<cw>clockwise|cw)\b|"
                         r"\b(?:to the |to your |to my )?(?P<lr>left|right)\b|\b(?P<perp>sideways|perpendicular)\b")
_REGION_RE = re.compile(
    r"\b(?:by|at|on|from|around|near|using|with|via|for|use|grab|grasp|hold|take|grip|pick)"
    r"(?: (?:it|that|them|this))?(?: (?:up|by|at|from|on))?(?: (?:the|its|it's|a|their))? "
    r"(?P<r>handles?|rim|edge|lip|top|sides?|middle|center|body)\b(?! of)|"
    r"\bfrom (?P<r2>above|overhead|directly above)\b|\b(?P<r3>sideways)\b")
_GRASP_VERB_RE = re.compile(r"\b(?:grasp|grab|hold|take|grip|pick|catch|get|grasping|grabbing|holding|"
                            r"gripping|picking|use)\b")
_PLACE_VERB_RE = re.compile(r"\b(?:put|place|drop|set|release|let go|lay|putting|placing|dropping|setting|"
                            r"releasing|stack)\b")
_PULL_RE = re.compile(r"\b(?:pull|pulling|pulled|yank|yanking|tug)\b")
_OPEN_MORE_RE = re.compile(r"\bopen(?:ing)? (?:it |that |the (?:drawer|cabinet|cupboard) |@\d+ )?"
                           r"(?:up )?(?:a (?:bit|little|lot) |much |way |even |some |slightly )?"
                           r"(?:more|wider|further|farther|all the way|fully|completely|properly)\b")
_MORE_WORDS_RE = re.compile(r"\b(?:harder|more|further|farther|longer|wider|stronger|all the way|extra|fully|"
                            r"completely|properly|firmer|firmly)\b")
_LESS_WORDS_RE = re.compile(r"\b(?:less|not as far|not so far|shorter|too far|too much|not that far|"
                            r"not as much|not so much|softer|less far)\b")
_STRAIGHT_RE = re.compile(
    r"\b(?:straight(?: out| back| towards? (?:me|you))?|along (?:the |its |it's )?(?:rails?|runners?|axis|"
    r"handle(?:'s)?(?: axis)?|drawer(?:'s)?(?: axis)?|slides?|direction it opens|track)|perpendicular(?: to (?:the )?"
    r"(?:front|cabinet|drawer|handle))?|in line(?: with (?:the )?(?:drawer|rails?|handle))?|head on|"
    r"parallel to (?:the )?(?:rails?|sides?)|directly out|square(?:ly)? out)\b")
_PUSH_RE = re.compile(r"\b(?:push|pushing|shove|shoving|press|pressing)\b")
_CLOSE_MORE_RE = re.compile(r"\b(?:close|shut|closing)(?: it| that| the (?:drawer|cabinet)| @\d+)?"
                            r"(?: (?:all the way|fully|completely|properly|more|further|tight(?:ly)?|firmly))\b")
_LIFT_RE = re.compile(r"\blift(?:ing)?\b")
_APPROACH_RE = re.compile(r"\bapproach(?:ing)?\b|\bstart (?:the )?(?:descent|approach)\b")
_GO_HOME_RE = re.compile(r"\b(?:go|return|come|move|head|get)(?: back)? (?:to )?(?:the |your )?home"
                         r"(?: position| pose)?\b|"
                         r"\bhome (?:position|pose)\b|\bback home\b")
_RESTORE_RE = re.compile(r"\b(?:put|place|bring|set|move)(?: \S+){0,3}? back(?: (?:where (?:it|they) (?:was|were)|"
                         r"to where (?:it|they) (?:was|were)|in (?:its|their) place|to (?:its|their) (?:place|spot)|"
                         r"to the start))?\b")
_CONFIRM_PHRASE_RE = re.compile(r"(?:(?:that'?s |this is )?(?:it|right|good|fine)|keep going|carry on|go on|"
                                r"go ahead|continue|well done|good job|spot on|looks good|that works|thats it)"
                                r"(?: ,)?(?: please| thanks| thank you)?(?: [.!])*")
_NEG_CUE_RE = re.compile(r"^(?:no|nope|nah|not|wrong|incorrect|oops)\b|\b(?:not (?:that|this|the|in|on|into)|"
                         r"wrong (?:one|object|block|item|thing|mug|cup|fruit|bowl|plate|target|place|container)|"
                         r"instead|"
                         r"rather|i meant|i mean|i said|should (?:be|have been)|supposed to|meant)\b|\bthe other\b")
_STEP_CUE_RE = re.compile(r"\b(?:you forgot to|forgot to|you need to|you have to|you must|you should|"
                          r"don't forget to|remember to|you missed|you still need to|make sure (?:to|you)|"
                          r"also|you skipped|you didn't)\b")
_ORDER_PATTERNS = [  # group "a" happens first, then group "b"
    re.compile(r"^(?:first(?: of all)?|to begin with|to start with|start by|begin by|start with|begin with) ,? ?"
               r"(?P<a>.+?) ?,? (?:and )?(?:then|after that|afterwards|next|and only then) (?P<b>.+)$"),
    re.compile(r"^(?P<a>.+?) (?:first|beforehand|before anything else|to begin with|at first) ?,? ?"
               r"(?:(?:and )?(?:then|after that|afterwards|next|and only then) (?P<b>.+))?[.!]?$"),
    re.compile(r"^(?:first(?: of all)?|to begin with|to start with|start by|begin by|start with|begin with) ,? ?"
               r"(?P<a>.+)$"),
    re.compile(r"^before (?P<b>.+?) ,? (?P<a>(?:you |we )?(?:need to |have to |must |should )?"
               r"(?:open|close|shut|pick|grab|take|put|place|push|empty|clear).+)$"),
    re.compile(r"^(?P<a>.+?) before (?P<b>.+)$"),
    re.compile(r"^after (?P<a>.+?) ,? (?P<b>(?:you |we )?(?:need to |have to |must |should |can )?"
               r"(?:open|close|shut|pick|grab|take|put|place|push|go).+)$"),
    re.compile(r"^(?P<b>.+?) (?:only )?after (?P<a>.+)$"),
    re.compile(r"^(?P<a>.+?) ,? (?:and )?(?:then|after that|afterwards|and only then) (?P<b>.+)$"),
]
_LAST_RE = re.compile(r"\b(?:at the end|last|afterwards|when you(?:'re| are) done|when finished|after that|"
                      r"after you(?:'re| are) done)\b")
_AVOID_RE = re.compile(
    r"\b(?:(?:don't|do not|never|try not to|careful not to|make sure (?:not to|you don't)) "
    r"(?:go|move|pass|fly|reach|swing|travel|hover|drive|cross|come|get)(?: \S+)? "
    r"(?:over|above|across|near|past|through|by|close to|around|into)|avoid(?:ing)?|stay away from|keep away from|"
    r"keep clear of|stay clear of|steer clear of|keep (?:your )?distance from|keep off|go around|"
    r"watch out for|look out for|mind|careful around|be careful around|(?:don't|do not|never|careful not to) "
    r"(?:touch|hit|bump|knock|disturb|brush|crash|collide)(?: into| over| against| with)?)\b")
_LEAVE_RE = re.compile(r"\bleave\b(?P<rest>.*?)\b(?:alone|be|where (?:it|they) (?:is|are)|as (?:it|they) (?:is|are))\b")
_FORBID_RE = re.compile(r"\b(?:don't|do not|never|no need to|(?:you )?don't need to|(?:you )?do not need to|"
                        r"don't bother to|you shouldn't|you should not|there's no need to)\b")
#: a negation right before a step phrase ("don't ", "please never ", "no need to just ")
_NEG_BEFORE_RE = re.compile(r"(?:" + _FORBID_RE.pattern + r") *(?:(?:ever|yet|just|now|bother to|try to) )*$")
_SORT_RE = re.compile(r"\b(?:sort|sorted|group|grouped|organi[sz]e|arrange|separate|order)\b(?: \S+){0,4}? by "
                      r"(?P<k>colors?|size|sizes|type|types|kind|kinds|category|categories|shape|shapes|height)\b|"
                      r"\b(?P<same>same|matching) (?P<k2>colors?|shapes?|types?|kinds?) "
                      r"(?:go |goes |together|in the same)")
_PREF_CUE_RE = re.compile(r"\b(?:always )?(?:go|goes|belong|belongs|live|lives|should go|must go|has to go|"
                          r"have to go|needs to go|need to go|are kept|is kept|stay|stays|are stored|is stored)\b")
_PREF_ALWAYS_RE = re.compile(r"\b(?:always|from now on|in general|generally|every time|in future|in the future|"
                             r"by default)\b")
_PREF_WANT_RE = re.compile(r"\b(?:i (?:want|like|prefer)|i'd (?:like|prefer)|i would (?:like|prefer))\b")
_STACK_KEY_RE = re.compile(
    r"\b(?P<adj>biggest|largest|big|large|bigger|larger|heaviest|widest|smallest|small|smaller|little|lightest)"
    r"(?: ones?| blocks?| cubes?| items?| objects?)? (?:goes |go |should go |must go |is |are |)?"
    r"(?:at|on|to|in) (?:the )?(?P<pos>bottom|top)\b")
_STACK_POS_RE = re.compile(r"\b(?:goes |go |should go |must go |needs to go |is |at |on |to |in )?"
                           r"(?:(?:at|on|to|in) )?(?:the )?(?P<pos>bottom|top)\b(?! of)(?! shelf)")

_QUANTIFIERS = {"all", "every", "any", "each", "both"}
_MISC_KNOWN = {
    "rails", "rail", "axis", "front", "limits", "limit", "safety", "floor", "ground", "air", "end", "start",
    "beginning", "bottom", "corner", "wall", "angle", "rest", "task", "step", "steps", "plan", "order",
    "time", "moment", "second", "sec", "way", "same", "idea", "job", "mistake", "problem", "issue", "one",
    "instructions", "instruction", "rules", "rule", "prompt", "speed", "force", "height", "distance",
    "grip", "grasp", "motion", "movement", "move", "path", "trajectory", "drop", "approach", "descent",
    "release", "opening", "rim", "lip", "body", "left", "right", "pace", "velocity", "priority", "sorting",
}
_WORD_MAG_WORDS = {w for _c, pat in _MAGNITUDES for w in re.findall(r"[a-z']+", pat)}
_KNOWN_WORDS = (set(_SMALL_NUMBERS) | set(_TENS) | set(_DIST_UNITS) | set(_ANGLE_UNITS) | _PERCENT | _COLORS
                | set(_SIZE_ADJ) | set(_POS_ADJ) | _SHAPE_ADJ | set(_NOUN_CATEGORY) | _EXTRA_NOUNS
                | _GENERIC_HEADS | set(_PARTS) | _ROBOT_WORDS | _DETERMINERS | _PRONOUNS | set(_VERBS)
                | set(_DEST_PREPS) | _CONFIRM_CORE | _CONFIRM_FILLER | _NEGATIVE | _FILLERS | set(_DIR_WORD)
                | _MISC_KNOWN | _WORD_MAG_WORDS | {"half", "quarter", "point", "hundred", "couple", "few",
                                                   "several", "and", "of"})


@dataclass
class _Mention:
    start: int                       # token span [start, end)
    end: int
    head: str
    words: list[str]                 # content words: colours, nouns, scene-name tokens
    adjs: list[str]
    det: str | None = None
    refs: list[str] = field(default_factory=list)  # scene names this phrase can mean
    pronoun: bool = False
    plural: bool = False
    negated: bool = False
    unknown: bool = False
    other: bool = False
    exact: bool = False              # the object's own name was said
    text: str = ""

    @property
    def generic(self) -> bool:
        """A kind of thing ("fruit", "red blocks", "all cups") rather than one object."""
        return (not self.pronoun and not self.unknown and not self.exact
                and (self.plural or self.det is None or self.det in _QUANTIFIERS))


@dataclass
class _Mag:
    start: int
    end: int
    cls: str | None                  # word class, None for an explicit distance
    metres: float | None = None
    claimed: bool = False


@dataclass
class _Dir:
    tok: int
    name: str
    vec: tuple[float, float, float]  # unit vector, base frame
    mag: _Mag | None = None
    reversed: bool = False


@dataclass
class _Change:
    skill: str | None
    name: str
    op: str
    value: Any
    explicit: bool = False           # from an explicit number: refused, never fitted, when out of bounds
    translational: bool = False      # derived from delta_m: fitted together with it


def _singular(word: str, known: set[str]) -> tuple[str, bool]:
    if word in known:
        return word, False
    for suffix, rep in (("ies", "y"), ("ves", "f"), ("ves", "fe"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            cand = word[: -len(suffix)] + rep
            if cand in known:
                return cand, True
    return word, False


def _a(desc: str) -> str:
    return ("an " if desc[:1] in "aeiou" else "a ") + desc


def _or_list(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def _descriptors(o: ObjectInfo) -> set[str]:
    words = {w for w in re.split(r"[^a-z]+", o.name.lower()) if w}
    cat = o.category.lower()
    words.add(cat)
    words |= {n for n, c in _NOUN_CATEGORY.items() if c == cat and n not in _SHAPE_NOUNS}
    if cat in ("mug", "glass"):
        words.add("cup")
    if o.shape:
        words.add(o.shape.lower())
    if o.color:
        col = o.color.lower()
        words |= {col, _COLOR_CANON.get(col, col)}
        if col == "gray":
            words.add("grey")
        if col == "wood":
            words.add("wooden")
    return words


class _Parse:
    """State of one parse; see :class:`CorrectionParser`."""

    def __init__(self, parser: CorrectionParser, text: str, ctx: CorrectionContext | None,
                 allow_stop: bool = True) -> None:
        self.parser = parser
        self.text = text
        self.ctx = ctx or CorrectionContext()
        self.allow_stop = allow_stop
        self.objects = list(self.ctx.objects)
        self.desc = {o.name: _descriptors(o) for o in self.objects}
        self.scene_words: set[str] = set().union(*self.desc.values()) if self.desc else set()
        not_nouns = _COLORS | _SHAPE_ADJ | set(_SIZE_ADJ) | set(_POS_ADJ) | set(_DIR_WORD) | _FILLERS | _DETERMINERS
        self.nouns = set(_NOUN_CATEGORY) | _EXTRA_NOUNS | {o.category.lower() for o in self.objects} | {
            w for w in self.scene_words if w not in not_nouns}
        self.questions: list[str] = []
        self.changes: list[_Change] = []
        self.dirs: list[_Dir] = []
        self.mags: list[_Mag] = []
        self.angles: list[tuple[int, int, float]] = []
        self.percents: list[tuple[int, int, float]] = []
        self.bare: list[tuple[int, int, float]] = []
        self.mentions: list[_Mention] = []
        self.generic_unclear = False
        self.refusal: str | None = None
        self.object_name: str | None = self.ctx.object
        self.pull_direction_wanted = False  # "pull it to the left": the direction is the pull axis
        self.push_direction_wanted = False  # "push it to the left": the direction is the push direction
        self.drop_delta = False             # the direction became a parameter, not a move

    # ------------------------------------------------------------------ text
    def tokenize(self) -> None:
        t = unicodedata.normalize("NFKC", self.text).lower().translate(_TRANS)
        t = re.sub(r"(\d)\s*(?:\"|'')", r"\1 inch ", t).replace('"', " ")
        t = re.sub(r"(\d),(\d{1,2})(?=\s*(?:mm|cm|m|inch|inches)\b)", r"\1.\2", t)
        self.ref_names: dict[str, str] = {}
        for k, name in sorted(enumerate(o.name for o in self.objects), key=lambda kv: -len(kv[1])):
            if not name or not re.search(r"[a-z]", name.lower()):
                continue
            pat = (r"(?<![a-z0-9_@])" + re.escape(name.lower()).replace("_", "[_ ]").replace(r"\ ", "[_ ]")
                   + r"(?![a-z0-9_])")
            t, n = re.subn(pat, f" @{k} ", t)
            if n:
                self.ref_names[f"@{k}"] = name
        toks = [_CONTRACTIONS.get(m, m) for m in _TOKEN_RE.findall(t)]
        self.tokens = toks
        self.starts: list[int] = []
        pos = 0
        for tok in toks:
            self.starts.append(pos)
            pos += len(tok) + 1
        self.s = " ".join(toks)
        self.used = [False] * len(toks)
        self.masked = list(self.s)

    def tok_of(self, char: int) -> int:
        return max(0, bisect.bisect_right(self.starts, char) - 1)

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Token span [i, j) covering chars [a, b)."""
        if not self.tokens or b <= a:
            return (self.tok_of(a), self.tok_of(a))
        return self.tok_of(a), self.tok_of(max(a, b - 1)) + 1

    def use(self, a: int, b: int) -> None:
        i, j = self.span(a, b)
        for k in range(i, min(j, len(self.used))):
            self.used[k] = True

    def use_toks(self, i: int, j: int) -> None:
        for k in range(max(i, 0), min(j, len(self.used))):
            self.used[k] = True

    def is_used(self, a: int, b: int) -> bool:
        i, j = self.span(a, b)
        return any(self.used[i:j])

    def mask(self, a: int, b: int) -> None:
        for k in range(a, min(b, len(self.masked))):
            self.masked[k] = " "

    def find(self, rx: re.Pattern[str], s: str | None = None, mark: bool = True) -> list[re.Match[str]]:
        """Matches of ``rx`` that touch no token used yet; marks them used."""
        out = []
        for m in rx.finditer(self.s if s is None else s):
            if m.end() <= m.start() or self.is_used(m.start(), m.end()):
                continue
            out.append(m)
            if mark:
                self.use(m.start(), m.end())
        return out

    def has(self, rx: re.Pattern[str]) -> bool:
        return rx.search(self.s) is not None

    # ------------------------------------------------------------------ numbers
    def number_at(self, i: int) -> tuple[float, int] | None:
        toks, n = self.tokens, len(self.tokens)
        if i >= n:
            return None
        t = toks[i]
        val: float | None = None
        j = i + 1
        if re.fullmatch(r"\d+(?:\.\d+)?|\.\d+", t):
            val = float(t)
            if j + 1 < n and toks[j] == "/" and re.fullmatch(r"\d+", toks[j + 1]) and float(toks[j + 1]) > 0:
                val /= float(toks[j + 1])
                j += 2
        elif t in _TENS:
            val = float(_TENS[t])
            if j < n and toks[j] in _SMALL_NUMBERS and 0 < _SMALL_NUMBERS[toks[j]] < 10:
                val += _SMALL_NUMBERS[toks[j]]
                j += 1
        elif t in _SMALL_NUMBERS:
            val = float(_SMALL_NUMBERS[t])
        elif t in ("half", "quarter"):
            val = 0.5 if t == "half" else 0.25
            if j < n and toks[j] == "of":
                j += 1
            if j < n and toks[j] in ("a", "an"):
                j += 1
        elif t in ("a", "an") and j < n and toks[j] in ("half", "quarter", "couple", "few"):
            val = {"half": 0.5, "quarter": 0.25, "couple": 2.0, "few": 3.0}[toks[j]]
            j += 1
            if j < n and toks[j] == "of":
                j += 1
            if j < n and toks[j] in ("a", "an") and val < 1:
                j += 1
        elif t == "several":
            val = 3.0
        if val is None:
            return None
        if j + 1 < n and toks[j] == "point" and re.fullmatch(r"\d+", toks[j + 1]):
            val += float("0." + toks[j + 1])
            j += 2
        elif j + 1 < n and toks[j] == "point" and toks[j + 1] in _SMALL_NUMBERS and _SMALL_NUMBERS[toks[j + 1]] < 10:
            val += _SMALL_NUMBERS[toks[j + 1]] / 10
            j += 2
        if j + 2 < n and toks[j] == "and" and toks[j + 1] in ("a", "one") and toks[j + 2] in ("half", "quarter"):
            val += 0.5 if toks[j + 2] == "half" else 0.25
            j += 3
        if j < n and toks[j] == "hundred":
            val *= 100
            j += 1
        return val, j

    def find_quantities(self) -> None:
        toks, n = self.tokens, len(self.tokens)
        i = 0
        while i < n:
            if self.used[i]:
                i += 1
                continue
            t = toks[i]
            if t in ("a", "an", "one") and i + 1 < n and (toks[i + 1] in _DIST_UNITS or toks[i + 1] in _ANGLE_UNITS):
                num: tuple[float, int] | None = (1.0, i + 1)
            else:
                num = self.number_at(i)
            if num is None:
                i += 1
                continue
            val, j = num
            val = min(val, 1e9) if math.isfinite(val) else 1e9  # absurd amounts stay finite, then get refused
            unit = toks[j] if j < n else ""
            follow = toks[j + 1] if j + 1 < n else ""
            if unit in _DIST_UNITS and not (unit == "m" and follow == "'"):
                self.mags.append(_Mag(i, j + 1, None, val * _DIST_UNITS[unit]))
                self.use_toks(i, j + 1)
                i = j + 1
            elif unit == "in" and (not follow or follow in _DIR_WORD or follow in ",.;!?" or follow in ("to", "and")) \
                    and re.fullmatch(r"[\d.]+", t):
                self.mags.append(_Mag(i, j + 1, None, val * 0.0254))
                self.use_toks(i, j + 1)
                i = j + 1
            elif unit in _ANGLE_UNITS:
                self.angles.append((i, j + 1, val * _ANGLE_UNITS[unit]))
                self.use_toks(i, j + 1)
                i = j + 1
            elif unit in _PERCENT or (unit == "per" and follow == "cent"):
                end = j + (2 if unit == "per" else 1)
                self.percents.append((i, end, val))
                self.use_toks(i, end)
                i = end
            else:
                if re.fullmatch(r"[\d.]+", t) or (t not in ("one", "a", "an") and t in _SMALL_NUMBERS) or t in _TENS:
                    self.bare.append((i, j, val))
                i = j

    def find_magnitudes(self) -> None:
        for cls, rx in _MAGNITUDE_RE:
            for m in rx.finditer(self.s):
                i, j = self.span(m.start(), m.end())
                if any(self.used[i:j]):
                    continue
                prev = self.tokens[i - 1] if i > 0 else ""
                if cls == "small" and m.group() in ("little", "bit") and prev in ("the", "this", "that"):
                    continue  # "the little block" is a size, not an amount
                if m.group() == "far" and prev in ("too", "so", "that", "as", "how"):
                    continue
                if m.group() in ("way", "much") and prev in ("the", "that", "this", "too", "so", "other", "wrong",
                                                             "as", "how"):
                    continue  # "the other way", "too much": not an amount
                self.mags.append(_Mag(i, j, cls))
                self.use_toks(i, j)
        self.mags.sort(key=lambda g: g.start)

    def take_mag(self, tok: int, before: int = 4, after: int = 3) -> _Mag | None:
        """The nearest unclaimed magnitude around token ``tok`` (ties: the one before)."""
        best: tuple[int, int, _Mag] | None = None
        for g in self.mags:
            if g.claimed:
                continue
            if g.end <= tok:
                d = tok - g.end + 1
                if d > before:
                    continue
                key = (d, 0, g)
            elif g.start > tok:
                d = g.start - tok
                if d > after:
                    continue
                key = (d, 1, g)
            else:
                key = (0, 0, g)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            return None
        best[2].claimed = True
        return best[2]

    def word_class(self, tok: int, before: int = 4, after: int = 3) -> tuple[str, _Mag | None]:
        g = self.take_mag(tok, before, after)
        if g is None:
            return "medium", None
        return (g.cls or "medium"), g

    # ------------------------------------------------------------------ objects
    def find_mentions(self) -> None:
        toks, n = self.tokens, len(self.tokens)
        adj_words = _COLORS | set(_SIZE_ADJ) | set(_POS_ADJ) | _SHAPE_ADJ | {"other", "same"}
        i = 0
        while i < n:
            t = toks[i]
            ref_at = i + 1 if t in _DETERMINERS and i + 1 < n and toks[i + 1].startswith("@") else i
            if toks[ref_at].startswith("@"):
                name = self.ref_names.get(toks[ref_at], "")
                det = t if ref_at > i else None
                self.mentions.append(_Mention(i, ref_at + 1, name, [name], [], det=det, refs=[name] if name else [],
                                              exact=True, text=name))
                i = ref_at + 1
                continue
            if t in _PRONOUNS:
                self.mentions.append(_Mention(i, i + 1, t, [], [], pronoun=True, text=t))
                i += 1
                continue
            j = i
            det = None
            if t in _DETERMINERS:
                det = t
                j += 1
            adjs: list[str] = []
            k = j
            phrase_words = adj_words | self.nouns | _GENERIC_HEADS
            while k < n and toks[k] in adj_words:
                if toks[k] in _NOUN_CATEGORY and (k + 1 >= n or toks[k + 1] not in phrase_words):
                    break  # "the orange" alone is the fruit, "the orange block" the colour
                adjs.append(toks[k])
                k += 1
            heads: list[str] = []
            plural = False
            while k < n:
                word, pl = _singular(toks[k], self.nouns | _GENERIC_HEADS)
                if word in self.nouns or word in _GENERIC_HEADS:
                    heads.append(word)
                    plural = pl or word == "ones"
                    k += 1
                    if word in _GENERIC_HEADS:
                        break
                else:
                    break
            if heads:
                head = heads[-1]
                mods = heads[:-1]
            elif adjs and det is not None and any(a in _COLORS or a in _SIZE_ADJ or a == "other" for a in adjs):
                head, mods = "one", []
            elif det is not None and det not in _QUANTIFIERS and j < n and re.fullmatch(r"[a-z]{3,}", toks[j]) \
                    and toks[j] not in _KNOWN_WORDS:
                self.mentions.append(_Mention(i, j + 1, toks[j], [toks[j]], [], det=det, unknown=True,
                                              text=toks[j]))
                i = j + 1
                continue
            else:
                i += 1
                continue
            if head in ("one", "ones") and not adjs and not mods and det in ("that", "this", "those", "these"):
                self.mentions.append(_Mention(i, k, head, [], [], det=det, pronoun=True, text=f"{det} {head}"))
                i = k
                continue
            words = [_COLOR_CANON.get(a, a) for a in adjs
                     if a in _COLORS or (a in self.scene_words and a not in _SIZE_ADJ and a not in _POS_ADJ)]
            words += [w for w in [*mods, head] if w not in _GENERIC_HEADS]
            m = _Mention(i, k, head, words, adjs, det=det, plural=plural, other="other" in adjs or det == "another",
                         text=" ".join(toks[j:k]))
            m.refs = self.match(m)
            self.mentions.append(m)
            i = k
        self.positional_mentions()
        for m in self.mentions:
            back = m.start - 1
            steps = 0
            while back >= 0 and steps < 3 and toks[back] not in (",", ";", ".", "!", "?", "but"):
                if toks[back] in ("not", "never", "wrong") or (toks[back] == "no" and back + 1 == m.start):
                    m.negated = True
                    break
                back -= 1
                steps += 1

    def positional_mentions(self) -> None:
        """ "the one on the left", "the block at the back": a position word after the noun picks the object."""
        for m in self.mentions:
            if m.pronoun or m.exact or m.unknown:
                continue
            after = " ".join(self.tokens[m.end:m.end + 4])
            pos = re.match(r"(?:on|at|in) the (left|right|front|back|far side|near side)\b", after)
            if pos is None:
                continue
            word = {"far side": "far", "near side": "near"}.get(pos.group(1), pos.group(1))
            m.adjs.append(word)
            m.end += len(pos.group().split())
            m.refs = self.match(m)

    def match(self, m: _Mention) -> list[str]:
        """Scene objects a noun phrase can mean, narrowed by size and position words."""
        if not self.objects:
            return []
        words = list(m.words)
        cands = [o for o in self.objects if all(w in self.desc[o.name] for w in words)]
        if not cands and len(words) > 1:
            head = [m.head] if m.head not in _GENERIC_HEADS else []
            colors = [w for w in words if w in _COLORS]
            cands = [o for o in self.objects if all(w in self.desc[o.name] for w in head + colors)]
        if m.head in _GENERIC_HEADS and not m.other and not any(w in _COLORS for w in words):
            base = self.ctx.find(self.ctx.object)
            same = [o for o in cands if base is not None and o.category == base.category]
            if same:
                cands = same  # "the big one" while handling a block: one of the blocks
        if m.other:
            base = self.ctx.find(self.ctx.object)
            cands = [o for o in cands if o.name != self.ctx.object]
            if base is not None and not words:
                cands = [o for o in cands if o.category == base.category]
        for a in m.adjs:
            if len(cands) < 2:
                break
            if a in _SIZE_ADJ:
                sign = _SIZE_ADJ[a]
                cands.sort(key=lambda o: -sign * o.characteristic_size())
                if abs(cands[0].characteristic_size() - cands[1].characteristic_size()) > 1e-6:
                    cands = cands[:1]
            elif a in _POS_ADJ and _POS_ADJ[a] != "middle":
                score = {o.name: self.operator_coord(o, _POS_ADJ[a]) for o in cands}
                cands.sort(key=lambda o: -score[o.name])
                if abs(score[cands[0].name] - score[cands[1].name]) > 1e-3:
                    cands = cands[:1]
        return [o.name for o in cands]

    def operator_coord(self, o: ObjectInfo, pos: str) -> float:
        """How far ``o`` lies toward the operator's left / right / far side / near side."""
        c, s_ = math.cos(self.ctx.operator_yaw), math.sin(self.ctx.operator_yaw)
        x, y = o.pose.position[0], o.pose.position[1]
        fwd, left = c * x + s_ * y, -s_ * x + c * y
        return {"left": left, "right": -left, "far": fwd, "near": -fwd}[pos]

    def resolve(self, m: _Mention) -> tuple[str | None, str | None]:
        """(object name or None, question or None) for a mention."""
        if m.pronoun:
            return self.ctx.object, None
        if not self.objects:
            return None, None
        if len(m.refs) == 1:
            return m.refs[0], None
        if self.ctx.object in m.refs and not m.negated and not m.other and not any(
                a in _SIZE_ADJ or a in _POS_ADJ for a in m.adjs):
            return self.ctx.object, None  # "the block" while handling one of several blocks: that one
        names = [o.name for o in self.objects]
        if not m.refs:
            if m.other and self.ctx.object:
                return None, (f"Which other object do you mean? I can see: {', '.join(names)}.")
            return None, (f"I can't see {_a(m.text or m.head)} here. Which object do you mean? "
                          f"I can see: {', '.join(names)}.")
        what = m.head if m.head not in _GENERIC_HEADS else "one"
        return None, f"Which {what} do you mean: {_or_list(m.refs)}?"

    def dest_relation(self, m: _Mention) -> str | None:
        """How a mention is introduced as a destination: "in", "on", "left_of", "next_to"..., or None."""
        t, k = self.tokens, m.start
        prev = t[k - 1] if k > 0 else ""
        prev2 = t[k - 2] if k > 1 else ""
        if prev in ("in", "into", "inside"):
            return "in"
        if prev in ("on", "onto"):
            return "on"
        if prev == "of":
            return {"top": "on", "left": "left_of", "right": "right_of", "front": "in_front_of",
                    "inside": "in"}.get(prev2)
        if prev == "behind":
            return "behind"
        if prev in ("beside", "near") or (prev == "to" and prev2 == "next"):
            return "next_to"
        return None

    def mention_after(self, tok: int, within: int = 6) -> _Mention | None:
        for m in self.mentions:
            if tok <= m.start <= tok + within:
                return m
        return None

    def mention_before(self, tok: int, within: int = 8) -> _Mention | None:
        best = None
        for m in self.mentions:
            if m.end <= tok and tok - m.end <= within:
                best = m
        return best

    def ref_object(self, name: str | None = None) -> ObjectInfo | None:
        return self.ctx.find(name or self.object_name or self.ctx.object)

    def reference_size(self) -> float:
        if self.ctx.skill in ("open", "close"):
            return DEFAULT_OBJECT_SIZE  # the thing being moved is the handle, not the cabinet
        o = self.ref_object()
        if o is None:
            return DEFAULT_OBJECT_SIZE
        return min(max(o.characteristic_size(), 0.01), MAX_REFERENCE_SIZE)

    # ------------------------------------------------------------------ skill-level
    def add_change(self, skill: str | None, name: str, op: str, value: Any, explicit: bool = False,
                   translational: bool = False) -> None:
        self.changes.append(_Change(skill, name, op, value, explicit, translational))

    def place_context(self) -> bool:
        return self.ctx.skill == "place" or bool(_PLACE_VERB_RE.search(self.s))

    def semantic(self) -> None:
        self.speed()
        self.rotation()
        self.grasp_region()
        self.pull()
        self.push()
        self.lift_and_approach()
        self.place_height()

    def speed(self) -> None:
        skill = self.ctx.skill
        for m in self.find(_SPEED_SET_RE):
            sp = param_spec(skill or "go_home", "speed")
            if m.group("full") or m.group().startswith("as fast"):
                self.add_change(skill, "speed", "set", sp.high)
            elif m.group("min") or m.group().startswith("as slow"):
                self.add_change(skill, "speed", "set", sp.low)
            elif m.group("norm"):
                self.add_change(skill, "speed", "set", sp.default)
            elif m.group("half"):
                self.add_change(skill, "speed", "scale", 0.5, explicit=True)
            else:
                self.add_change(skill, "speed", "scale", 2.0, explicit=True)
        speed_word = re.search(r"\b(?:speed|fast|velocity|pace|slow)\b", self.s)
        if speed_word:
            for i, j, pct in list(self.percents):
                self.add_change(skill, "speed", "set", pct / 100.0, explicit=True)
                self.percents.remove((i, j, pct))
            for i, j, val in list(self.bare):
                near = self.tokens[max(0, i - 3):i]
                if any(w in ("speed", "velocity", "pace") for w in near) and val <= 100:
                    self.add_change(skill, "speed", "set", val / 100.0 if val > 1 else val, explicit=True)
                    self.bare.remove((i, j, val))
                    self.use_toks(i, j)
        for rx, table in ((_SLOWER_RE, SLOWER), (_FASTER_RE, FASTER)):
            for m in self.find(rx):
                tok = self.tok_of(m.start())
                cls, _g = self.word_class(tok, before=3, after=1)
                self.add_change(skill, "speed", "scale", table[cls])
        for m in self.find(_GENTLE_RE):
            if re.match(r" (?:around|near|not to|of)\b", self.s[m.end():]):
                self.used[self.tok_of(m.start())] = False
                continue  # "careful around the glass" is a keep-away, "careful not to hit" too
            with_obj = re.match(r" with\b", self.s[m.end():])
            if with_obj:
                after = self.mention_after(self.tok_of(m.end() + 1), within=2)
                if after is not None:
                    self.use_toks(after.start - 1, after.end)
            tok = self.tok_of(m.start())
            cls, _g = self.word_class(tok, before=3, after=1)
            self.add_change(skill, "speed", "scale", SLOWER[cls])
            if self.place_context():
                self.add_change("place", "place_height", "scale", 0.5)

    def rotation(self) -> None:
        verbs = self.find(_ROT_VERB_RE)
        if not verbs:
            verbs = [m for m in _ROT_DIR_RE.finditer(self.s) if m.group("cw") or m.group("ccw")]
            if not verbs and self.angles:
                i, _j, _v = self.angles[0]
                verbs = [m for m in re.finditer(r"\S+", self.s) if self.tok_of(m.start()) == i][:1]
        if not verbs:
            return
        if re.search(r"\bturn (?:it |that )?(?:off|on|down|up)\b", self.s):
            return
        start = min(verbs[0].start(), self.starts[self.angles[0][0]] if self.angles else verbs[0].start())
        sign = 0.0
        perp = False
        for m in _ROT_DIR_RE.finditer(self.s, start):
            if self.is_used(m.start(), m.end()):
                continue
            if m.group("ccw"):
                sign = 1.0
            elif m.group("cw"):
                sign = -1.0
            elif m.group("lr"):
                sign = 1.0 if m.group("lr") == "left" else -1.0
            else:
                perp = True
            self.use(m.start(), m.end())
            break
        angle: float | None = None
        explicit = False
        tok = self.tok_of(start)
        if self.angles:
            i, j, angle = self.angles.pop(0)
            explicit = True
        else:
            for i, j, val in list(self.bare):
                if i > tok and val >= 5:
                    angle = math.radians(val)
                    explicit = True
                    self.bare.remove((i, j, val))
                    self.use_toks(i, j)
                    break
        if angle is None:
            if perp:
                angle = math.pi / 2
            else:
                cls, g = self.word_class(tok, before=2, after=6)
                angle = math.radians(ROTATION_DEG["large" if g is None and sign == 0 else cls])
        if abs(angle) > 2 * math.pi + 1e-9:
            self.refuse(f"a {math.degrees(angle):.0f} degree turn is more than one full turn; "
                        "ask for at most 360 degrees")
            return
        if sign == 0.0:
            quarter = abs(angle / (math.pi / 2) - round(angle / (math.pi / 2))) < 1e-6
            if not quarter:
                self.questions.append("Which way should I turn the gripper: clockwise or counter-clockwise "
                                      "(seen from above)?")
                return
            sign = 1.0  # a parallel gripper grasps the same after +90 or -90 degrees
        self.add_change("pick", "gripper_yaw", "add", round(sign * angle, 4), explicit=explicit)

    def grasp_region(self) -> None:
        for m in _REGION_RE.finditer(self.s):
            if self.is_used(m.start(), m.end()):
                continue
            word = m.group("r") or m.group("r2") or m.group("r3")
            region = {"above": "top", "overhead": "top", "directly above": "top", "sideways": "side"}.get(
                word, _PARTS.get(word, word))
            grasp_verb = _GRASP_VERB_RE.search(self.s)
            place_verb = _PLACE_VERB_RE.search(self.s[:m.start()])
            if word == "sideways" and not grasp_verb and self.ctx.skill != "pick":
                continue
            loose_prep = m.group().split()[0] in ("at", "on", "around", "near", "for", "with")
            if m.group("r") and loose_prep and not grasp_verb:
                continue  # "stop at the edge", "on the top": not about where to grasp
            if place_verb and not grasp_verb:
                continue
            if not grasp_verb and self.ctx.skill not in (None, "pick"):
                continue
            if region in ("top", "center") and re.search(r"\b(?:on|onto) (?:the )?top\b", m.group()) and not grasp_verb:
                continue
            self.use(m.start(), m.end())
            obj_m = next((x for x in self.mentions if not x.pronoun and not x.unknown and x.refs
                          and len(x.refs) == 1), None)
            obj = self.ctx.find(obj_m.refs[0]) if obj_m else self.ref_object()
            if obj is not None and obj.parts and region in ("handle", "rim") and region not in obj.parts:
                parts = [p for p in obj.parts if p in ("handle", "rim", "top", "center")] + ["side"]
                self.questions.append(f"The {obj.name} has no {region}. Which part should I grasp: "
                                      f"{_or_list(parts)}?")
                return
            if obj_m is not None:
                self.object_name = obj_m.refs[0]
            self.add_change("pick", "grasp_region", "set", region)
            return

    def pull(self) -> None:
        pulls = self.find(_PULL_RE)
        opens = [] if pulls else [m for m in _OPEN_MORE_RE.finditer(self.s) if not self.is_used(m.start(), m.end())]
        if not pulls and not (opens and (self.ctx.skill in (None, "open") or self.cabinet_mentioned())):
            return
        for m in opens:
            self.use(m.start(), m.end())
        tok = self.tok_of((pulls or opens)[0].start())
        if self.find(_STRAIGHT_RE):
            self.add_change("open", "pull_axis", "set", [1.0, 0.0, 0.0])
            return
        more = [m for m in _MORE_WORDS_RE.finditer(self.s)] or [m for m in opens]
        less = [m for m in _LESS_WORDS_RE.finditer(self.s)]
        for m in more + less:
            self.use(m.start(), m.end())
        g = self.take_mag(tok, before=3, after=8)
        if g is not None and g.cls is None:
            q = g.metres or 0.0
            if less:
                self.add_change("open", "pull_distance", "add", -q, explicit=True)
            elif more:
                self.add_change("open", "pull_distance", "add", q, explicit=True)
            else:
                self.add_change("open", "pull_distance", "set", q, explicit=True)
            return
        if more or less:
            all_the_way = re.search(r"\ball the way|fully|completely\b", self.s) is not None
            cls = (g.cls if g is not None else None) or ("large" if all_the_way else "medium")
            if less:
                cls = cls if g is not None else "small"
            step = EXTRA_DISTANCE[cls]
            self.add_change("open", "pull_distance", "add", -step if less else step)
            return
        self.pull_direction_wanted = True

    def articulated_object(self) -> str | None:
        """What "it" means for open/close: a cabinet named in the utterance, the current one, or the only one."""
        for m in self.mentions:
            for name in m.refs:
                o = self.ctx.find(name)
                if o is not None and o.category == "cabinet":
                    return name
        cur = self.ctx.find(self.ctx.object)
        if cur is not None and cur.category == "cabinet":
            return cur.name
        cabinets = [o.name for o in self.objects if o.category == "cabinet"]
        return cabinets[0] if len(cabinets) == 1 else self.ctx.object

    def cabinet_mentioned(self) -> bool:
        for m in self.mentions:
            for name in m.refs:
                o = self.ctx.find(name)
                if o is not None and o.category == "cabinet":
                    return True
            if m.head in ("drawer", "cabinet", "cupboard"):
                return True
        return False

    def push(self) -> None:
        closing = [m for m in _CLOSE_MORE_RE.finditer(self.s) if not self.is_used(m.start(), m.end())]
        pushes = [m for m in _PUSH_RE.finditer(self.s) if not self.is_used(m.start(), m.end())]
        if not closing and not (pushes and (self.ctx.skill in ("push", "close") or _MORE_WORDS_RE.search(self.s)
                                            or _LESS_WORDS_RE.search(self.s))):
            return
        more = list(_MORE_WORDS_RE.finditer(self.s))
        less = list(_LESS_WORDS_RE.finditer(self.s))
        if pushes and not closing and not more and not less:
            self.push_direction_wanted = True
            for m in pushes:
                self.use(m.start(), m.end())
            return
        for m in closing + pushes + more + less:
            self.use(m.start(), m.end())
        skill = "close" if (closing or self.ctx.skill == "close" or self.cabinet_mentioned()) else "push"
        name = "push_distance" if skill == "close" else "distance"
        tok = self.tok_of((closing or pushes)[0].start())
        g = self.take_mag(tok, before=3, after=8)
        if g is not None and g.cls is None:
            q = g.metres or 0.0
            op, val = ("add", -q) if less else ("add", q) if more else ("set", q)
            self.add_change(skill, name, op, val, explicit=True)
            return
        cls = (g.cls if g is not None else None) or ("large" if re.search(r"\ball the way|fully|completely\b", self.s)
                                                     else "small" if less else "medium")
        step = EXTRA_DISTANCE[cls]
        self.add_change(skill, name, "add", -step if less else step)

    def lift_and_approach(self) -> None:
        for rx, skill_default, name in ((_LIFT_RE, "pick", "lift_height"), (_APPROACH_RE, None, "approach_height")):
            hits = [m for m in rx.finditer(self.s) if not self.is_used(m.start(), m.end())]
            if not hits:
                continue
            rest = self.s[hits[0].end():]
            up = re.search(r"\b(?:higher|more|further|farther|up|from higher(?: up)?|further up)\b", rest)
            down = re.search(r"\b(?:lower|less|not so high|down|from lower|closer)\b", rest)
            if not up and not down:
                continue
            skill = skill_default or (self.ctx.skill if self.ctx.skill in ("pick", "place") else "pick")
            self.use(hits[0].start(), hits[0].end())
            word = up if up is not None else down
            if word is not None:
                self.use(hits[0].end() + word.start(), hits[0].end() + word.end())
            tok = self.tok_of(hits[0].start())
            g = self.take_mag(tok, before=3, after=8)
            sign = 1.0 if up else -1.0
            if g is not None and g.cls is None:
                self.add_change(skill, name, "add", sign * (g.metres or 0.0), explicit=True)
            else:
                cls = g.cls if g is not None and g.cls else "medium"
                self.add_change(skill, name, "add", sign * EXTRA_DISTANCE[cls])

    def place_height(self) -> None:
        if not self.place_context():
            return
        for i, (a, b) in enumerate(zip(self.tokens, self.tokens[1:], strict=False)):
            if (a in ("above", "over") and b in ("the", "it", "table", "surface", "plate", "target")) or (
                    a == "above" and b.startswith("@")):
                g = next((g for g in self.mags if g.cls is None and not g.claimed and g.end == i), None)
                if g is not None:
                    g.claimed = True
                    self.use_toks(i, i + 1)
                    self.add_change("place", "place_height", "set", g.metres, explicit=True)
                    return

    # ------------------------------------------------------------------ directions
    def rotate(self, vec: tuple[float, float, float], yaw: float) -> tuple[float, float, float]:
        c, s_ = math.cos(yaw), math.sin(yaw)
        return (c * vec[0] - s_ * vec[1], s_ * vec[0] + c * vec[1], vec[2])

    def directions(self) -> None:
        s = self.s
        for rx in _DIR_MASKS:
            for m in rx.finditer(s):
                if "m" in rx.groupindex and m.group("m") is not None:
                    self.mask(m.start("m"), m.end("m"))
                else:
                    self.mask(m.start(), m.end())
        for k, used in enumerate(self.used):
            if used:
                self.mask(self.starts[k], self.starts[k] + len(self.tokens[k]))
        for mt in self.mentions:
            if mt.start < len(self.starts):
                self.mask(self.starts[mt.start], self.starts[mt.end - 1] + len(self.tokens[mt.end - 1]))
        ms = "".join(self.masked)
        robot_view = re.search(r"\b(?:from )?(?:your|the robot's|its|robot's) "
                               r"(?:point of view|perspective|view|side)\b", s)
        default_yaw = 0.0 if robot_view else self.ctx.operator_yaw
        for m in _TOO_DIR_RE.finditer(ms):
            word = m.group("d").split()[-1]
            name = _DIR_WORD.get(_OPPOSITE.get(word, word), _OPPOSITE.get(word, word))
            name = _DIR_WORD.get(name, name)
            if name not in _DIR_VEC:
                continue
            self.dirs.append(_Dir(self.tok_of(m.start()), name, self.rotate(_DIR_VEC[name], default_yaw),
                                  reversed=True))
            self.use(m.start(), m.end())
            self.mask(m.start(), m.end())
        ms = "".join(self.masked)
        for m in _DIR_RE.finditer(ms):
            text = m.group()
            if m.group("me") or m.group("away_me"):
                name, yaw = ("back" if m.group("me") else "forward"), self.ctx.operator_yaw
            elif m.group("you") or m.group("away_you"):
                name, yaw = ("back" if m.group("you") else "forward"), 0.0
            else:
                name = _DIR_WORD[m.group("w")]
                if re.search(r"\b(?:your|its|robot's)\b", text):
                    yaw = 0.0
                elif re.search(r"\bmy\b", text):
                    yaw = self.ctx.operator_yaw
                else:
                    yaw = default_yaw
            self.dirs.append(_Dir(self.tok_of(m.start("w") if m.group("w") else m.start()), name,
                                  self.rotate(_DIR_VEC[name], yaw)))
            self.use(m.start(), m.end())
        self.object_directions()

    def object_directions(self) -> None:
        for mt in self.mentions:
            if mt.pronoun or mt.start >= len(self.starts):
                continue
            prefix = self.s[: self.starts[mt.start]]
            rel = re.search(r"\b(?:(?P<toward>towards?|closer to|nearer to|in the direction of|over to)|"
                            r"(?P<away>away from|further from|farther from))(?: the)? $", prefix)
            if rel is None or re.search(r"\b(?:keep|stay|steer|keeping|staying)(?: \S+)? $", prefix[:rel.start()]):
                continue  # "keep away from the glass" is a keep-away constraint, not a move
            self.use(rel.start(), rel.end())
            self.use_toks(mt.start, mt.end)
            name, question = self.resolve(mt)
            if question:
                self.questions.append(question)
                return
            goal, ref = self.ctx.find(name), self.ref_object()
            if goal is None or ref is None or goal is ref:
                what = mt.text or "it"
                self.questions.append(f"Which way is {what} from here? "
                                      "Please say left, right, forward, back, up or down.")
                return
            v = [goal.pose.position[0] - ref.pose.position[0], goal.pose.position[1] - ref.pose.position[1]]
            norm = math.hypot(*v)
            if norm < 1e-6:
                continue
            sign = -1.0 if rel.group("away") else 1.0
            self.dirs.append(_Dir(mt.start, f"towards {name}" if sign > 0 else f"away from {name}",
                                  (sign * v[0] / norm, sign * v[1] / norm, 0.0)))

    def assign_magnitudes(self) -> None:
        free = [g for g in self.mags if not g.claimed]
        for d in self.dirs:
            if len(free) == 1:
                d.mag = free[0]
                continue
            best = None
            for g in free:
                dist = (d.tok - g.end + 1, 0) if g.end <= d.tok else (g.start - d.tok, 1)
                if best is None or dist < best[0]:
                    best = (dist, g)
            if best is not None and best[0][0] <= 6:
                d.mag = best[1]
        for d in self.dirs:
            if d.mag is not None:
                d.mag.claimed = True

    def translation(self) -> tuple[list[float] | None, bool]:
        """Sum of the direction vectors times their magnitudes; (delta, explicit)."""
        if not self.dirs:
            return None, False
        self.assign_magnitudes()
        names: dict[str, _Dir] = {}
        dirs: list[_Dir] = []
        for d in self.dirs:
            explicit = d.mag is not None and d.mag.cls is None
            if d.name in names and not explicit:
                continue
            names[d.name] = d
            dirs.append(d)
        for a, b in (("left", "right"), ("forward", "back"), ("up", "down")):
            if a in names and b in names:
                self.questions.append(f"Should I move {a} or {b}?")
                return None, False
        for d in dirs:
            if d.mag is None or d.mag.cls is not None:
                for i, _j, val in self.bare:
                    if abs(i - d.tok) <= 3:
                        self.questions.append(f"{val:g} what: millimetres, centimetres or inches?")
                        return None, False
        size = self.reference_size()
        lo, hi = WORD_STEP_BOUNDS
        delta = [0.0, 0.0, 0.0]
        explicit = False
        for d in dirs:
            if d.mag is not None and d.mag.cls is None:
                length = float(d.mag.metres or 0.0)
                explicit = True
            else:
                cls = d.mag.cls if d.mag is not None and d.mag.cls else ("small" if d.reversed else "medium")
                length = min(max(MAGNITUDE_FACTORS[cls] * size, lo), hi)
            for k in range(3):
                if d.vec[k]:
                    delta[k] += d.vec[k] * length
        return delta, explicit

    def relative_to_last(self) -> tuple[list[float] | None, bool]:
        """"more", "again", "too far", "the other way": relative to the previous correction."""
        last = self.ctx.last
        last_delta = last.delta_m if last is not None and last.refusal is None else None
        other = self.find(_OTHER_WAY_RE)
        too_far = [] if other else self.find(_TOO_FAR_RE)
        more = [] if other or too_far else self.find(_MORE_RE)
        if not (other or too_far or more):
            return None, False
        if other:
            if last_delta:
                return [-2.0 * v for v in last_delta], False
            self.questions.append("Which way should I go instead: left, right, forward, back, up or down?")
            return None, False
        if too_far:
            if last_delta:
                return [-0.5 * v for v in last_delta], False
            if last is not None and last.parameters and last.refusal is None:
                self.repeat_parameters(last, -0.5)
                return None, False
            self.questions.append("Too far in which direction, and by how much?")
            return None, False
        cls, _g = self.word_class(self.tok_of(more[0].start()), before=3, after=3)
        factor = {"tiny": 0.25, "small": 0.5, "medium": 1.0, "large": 2.0}[cls]
        if last_delta:
            return [factor * v for v in last_delta], False
        if last is not None and last.parameters and last.refusal is None:
            self.repeat_parameters(last, factor)
            return None, False
        self.questions.append("More of what? Please say which way (left, right, forward, back, up, down) "
                              "or what to change.")
        return None, False

    def repeat_parameters(self, last: Correction, factor: float) -> None:
        for name, change in last.parameters.items():
            ((op, value),) = change.items()
            if op == "add" and isinstance(value, list):
                self.add_change(last.skill, name, "add", [factor * float(v) for v in value])
            elif op == "add":
                self.add_change(last.skill, name, "add", factor * float(value))
            elif op == "scale" and float(value) > 0:
                self.add_change(last.skill, name, "scale", float(value) ** factor)
            else:
                self.questions.append(f"How should I change {name} now?")
                return

    def ground_translation(self, delta: list[float], explicit: bool) -> None:
        """Express a base-frame displacement in the current skill's own parameters."""
        skill = self.ctx.skill
        if self.pull_direction_wanted:
            cab = self.ref_object() if self.ctx.skill == "open" else None
            if cab is None:
                cab = next((self.ctx.find(n) for m in self.mentions for n in m.refs
                            if (o := self.ctx.find(n)) is not None and o.category == "cabinet"), None)
            local = cab.pose.vector_to_local(delta) if cab is not None else delta
            norm = math.sqrt(sum(float(v) ** 2 for v in local))
            if norm > 1e-9:
                self.add_change("open", "pull_axis", "set", [round(float(v) / norm, 4) for v in local])
                self.drop_delta = True
            return
        if self.push_direction_wanted:
            norm = math.hypot(delta[0], delta[1])
            if norm > 1e-9:
                self.add_change("push", "direction", "set", [round(delta[0] / norm, 4), round(delta[1] / norm, 4), 0.0])
                self.drop_delta = True
            return
        if skill == "pick":
            obj = self.ref_object()
            local = obj.pose.vector_to_local(delta) if obj is not None else delta
            self.add_change("pick", "grasp_offset", "add", [float(v) for v in local], explicit, True)
        elif skill == "place":
            tgt = self.ctx.find(self.ctx.target)
            xy = [delta[0], delta[1], 0.0]
            if abs(delta[0]) > 1e-9 or abs(delta[1]) > 1e-9:
                local = tgt.pose.vector_to_local(xy) if tgt is not None else xy
                self.add_change("place", "place_offset", "add", [float(v) for v in local], explicit, True)
            if abs(delta[2]) > 1e-9:
                self.add_change("place", "place_height", "add", float(delta[2]), explicit, True)
        elif skill == "open":
            obj = self.ref_object()
            local = obj.pose.vector_to_local(delta) if obj is not None else delta
            self.add_change("open", "grasp_offset", "add", [float(v) for v in local], explicit, True)
        elif skill == "push" and abs(delta[2]) > 1e-9:
            self.add_change("push", "contact_height", "add", float(delta[2]), explicit, True)

    # ------------------------------------------------------------------ plan-level
    def call_in(self, a: int, b: int, prev: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The skill call a clause (chars [a, b) of the text) names, if any."""
        text = self.s[a:b].strip(" ,.;!?")
        if _GO_HOME_RE.search(text):
            return {"skill": "go_home", "object": None, "target": None, "description": "go home"}
        i0, i1 = self.span(a, b)
        skill: str | None = None
        for k in range(i0, i1):
            w = self.tokens[k]
            if w in _VERBS and not (w in ("take", "get") and k + 1 < i1 and self.tokens[k + 1] in ("it", "things")
                                    and k + 2 < i1 and self.tokens[k + 2] in ("easy", "slow")):
                skill = _VERBS[w]
                break
        obj_m = tgt_m = None
        rel = None
        for m in self.mentions:
            if not (i0 <= m.start < i1):
                continue
            before = self.tokens[m.start - 1] if m.start > 0 else ""
            how = self.dest_relation(m) or ("at" if before in ("to", "towards", "toward") else None)
            if how is not None:
                if tgt_m is None:
                    tgt_m, rel = m, how
            elif obj_m is None and not m.negated:
                obj_m = m
        dangling = re.search(r"\b(?:in|into|inside|on|onto)\s*$", text) is not None
        obj_name = tgt_name = None
        if obj_m is not None:
            obj_name, q = self.resolve(obj_m)
            if q:
                self.questions.append(q)
                return None
        if tgt_m is not None:
            if tgt_m.pronoun and prev is not None and prev.get("skill") in ("open", "close"):
                tgt_name = prev.get("object")
            else:
                tgt_name, q = self.resolve(tgt_m)
                if q:
                    self.questions.append(q)
                    return None
        elif dangling and prev is not None and prev.get("skill") == "open":
            tgt_name = prev.get("object")
        if obj_m is not None and obj_m.pronoun and skill in ("open", "close"):
            obj_name = self.articulated_object()
        obj_info = self.ctx.find(obj_name)
        is_cabinet = (obj_info is not None and obj_info.category == "cabinet") or (
            obj_m is not None and obj_m.head in ("drawer", "cabinet", "cupboard"))
        if skill == "":
            if tgt_m is not None or dangling:
                skill = "place"
            else:
                skill = "open" if is_cabinet and self.has(_PULL_RE) else None
        if skill == "pick" and (tgt_m is not None or (dangling and tgt_name)):
            skill = "place"
        if skill == "push" and is_cabinet and re.search(r"\b(?:in|closed|shut)\b", text):
            skill = "close"
        if skill is None and obj_m is None and tgt_m is None:
            return None
        call: dict[str, Any] = {"skill": skill, "object": obj_name, "target": tgt_name, "description": text}
        if obj_name is None and obj_m is not None and not obj_m.pronoun:
            call["object_description"] = obj_m.text
        if tgt_name is None and tgt_m is not None and not tgt_m.pronoun:
            call["target_description"] = tgt_m.text
        if rel:
            call["relation"] = rel
        return call

    def plan(self) -> dict[str, Any] | None:
        steps = (self.plan_go_home, self.plan_retry, self.plan_avoid, self.plan_sort, self.plan_stack,
                 self.plan_preference, self.plan_order, self.plan_forbid, self.plan_target_or_step, self.plan_restore)
        for step in steps:
            p = step()
            if self.questions:
                return None
            if p is not None:
                return p
        return None

    def plan_go_home(self) -> dict[str, Any] | None:
        found = self.find(_GO_HOME_RE)
        if not found:
            return None
        call = {"skill": "go_home", "object": None, "target": None, "description": "go home"}
        # "don't go home", "no need to go back home": a negated step is a prohibition, not a step.
        if _NEG_BEFORE_RE.search(self.s[:found[0].start()]):
            return {"type": "forbid", "call": call}
        return {"type": "step", "call": call, "position": "next"}

    def plan_retry(self) -> dict[str, Any] | None:
        if not self.find(_RETRY_RE):
            return None
        if self.ctx.skill is None:
            self.questions.append("What should I try again?")
            return None
        return {"type": "retry", "call": {"skill": self.ctx.skill, "object": self.ctx.object,
                                          "target": self.ctx.target, "description": "the current step"}}

    def plan_avoid(self) -> dict[str, Any] | None:
        for m in self.find(_AVOID_RE, mark=False):
            mt = self.mention_after(self.tok_of(m.end() + 1), within=3)
            if mt is None:
                continue
            self.use(m.start(), m.end())
            self.use_toks(mt.start, mt.end)
            name, q = self.resolve(mt)
            if q:
                self.questions.append(q)
                return None
            return {"type": "avoid", "object": name, "description": mt.text}
        return None

    def plan_sort(self) -> dict[str, Any] | None:
        for m in self.find(_SORT_RE):
            key = (m.group("k") or m.group("k2") or "").rstrip("s")
            key = {"colour": "color", "type": "category", "kind": "category", "size": "size",
                   "categorie": "category", "categories": "category"}.get(key, key)
            if key == "categor":
                key = "category"
            return {"type": "sort", "key": key}
        return None

    def plan_stack(self) -> dict[str, Any] | None:
        for m in self.find(_STACK_KEY_RE):
            big = m.group("adj") in ("biggest", "largest", "big", "large", "bigger", "larger", "heaviest", "widest")
            bottom = "largest" if big == (m.group("pos") == "bottom") else "smallest"
            return {"type": "stack", "key": "size", "bottom": bottom}
        for mt in self.mentions:
            if mt.start >= len(self.starts) or mt.unknown:
                continue
            end_char = self.starts[mt.end - 1] + len(self.tokens[mt.end - 1])
            at = re.match(r" (?:goes |go |should go |must go |needs to go |belongs |is |has to go |)?"
                          r"(?:(?:at|on|to|in) )?(?:the )?(?P<pos>bottom|top)\b(?! of)(?! shelf)", self.s[end_char:])
            if at is None or self.is_used(end_char + at.start(), end_char + at.end()):
                continue
            if not re.search(r"\b(?:stack|stacking|tower|pile|goes|go|belongs|should|must|put|place)\b", self.s):
                continue
            name, q = self.resolve(mt)
            if q:
                self.questions.append(q)
                return None
            self.use(end_char + at.start(), end_char + at.end())
            self.use_toks(mt.start, mt.end)
            return {"type": "stack", "object": name, "description": mt.text, "position": at.group("pos")}
        return None

    def selector(self, m: _Mention) -> dict[str, str]:
        sel: dict[str, str] = {}
        for w in m.words:
            if w in _COLORS:
                sel["color"] = _COLOR_CANON.get(w, w)
            elif w in _NOUN_CATEGORY:
                sel["category"] = _NOUN_CATEGORY[w]
                if w in _SHAPE_NOUNS:
                    sel["shape"] = w
            elif m.refs and len(m.refs) == 1 and (o := self.ctx.find(m.refs[0])) is not None:
                sel["category"] = o.category
            elif w in self.nouns:
                sel["category"] = w
        return sel

    def plan_preference(self) -> dict[str, Any] | None:
        always = _PREF_ALWAYS_RE.search(self.s)
        want = _PREF_WANT_RE.search(self.s)
        cue = next((m for m in _PREF_CUE_RE.finditer(self.s) if not self.is_used(m.start(), m.end())), None)
        if not (always or want or cue):
            return None
        tgt_m = None
        rel = None
        for mt in self.mentions:
            prev = self.tokens[mt.start - 1] if mt.start > 0 else ""
            rel = self.dest_relation(mt)
            if rel is not None or prev == "to":
                tgt_m = mt
                break
        if tgt_m is None:
            return None
        sel_m = next((mt for mt in self.mentions if mt.end <= tgt_m.start and not mt.pronoun and not mt.negated), None)
        if sel_m is None:
            return None
        kind_word = (not sel_m.exact and sel_m.head in _NOUN_CATEGORY and not any(w in _COLORS for w in sel_m.words)
                     and not any(a in _SIZE_ADJ or a in _POS_ADJ for a in sel_m.adjs))
        generic = sel_m.generic or always is not None or (cue is not None and (sel_m.plural or kind_word))
        if not generic:
            return None
        selector = self.selector(sel_m)
        if not selector:
            self.questions.append(f"Which objects should go {rel or 'to'} {tgt_m.text}?")
            return None
        target, q = (None, None)
        if self.objects:
            if len(tgt_m.refs) == 1:
                target = tgt_m.refs[0]
            elif not tgt_m.refs and tgt_m.head not in _NOUN_CATEGORY:
                _n, q = self.resolve(tgt_m)
        if q:
            self.questions.append(q)
            return None
        tinfo = self.ctx.find(target)
        tcat = tinfo.category if tinfo is not None else _NOUN_CATEGORY.get(tgt_m.head, tgt_m.head)
        if rel is None:
            rel = "in" if tcat in ("bowl", "tray", "cabinet", "box", "basket", "bin") else "on"
        for mt in (sel_m, tgt_m):
            self.use_toks(mt.start, mt.end)
        for m in (always, want, cue):
            if m is not None:
                self.use(m.start(), m.end())
        self.use_toks(tgt_m.start - 1, tgt_m.start)
        return {"type": "preference", "selector": selector, "target": target, "target_category": tcat,
                "target_description": tgt_m.text, "relation": rel}

    def plan_order(self) -> dict[str, Any] | None:
        for rx in _ORDER_PATTERNS:
            m = rx.search(self.s)
            if m is None:
                continue
            a = m.span("a")
            b = m.span("b") if "b" in rx.groupindex and m.group("b") else None
            qn = len(self.questions)
            first = self.call_in(*a)
            if len(self.questions) > qn:
                return None
            if first is None or (first["object"] is None and first.get("object_description") is None
                                 and first["skill"] not in ("go_home",)
                                 and not (first["skill"] in ("open", "close") and self.cabinet_mentioned())):
                continue
            vague = b is not None and re.fullmatch(
                r"(?:(?:you |we )?(?:do|doing|try|trying) )?(?:that|this|it|anything(?: else)?|everything(?: else)?|"
                r"the rest|continuing|going on)", self.s[b[0]:b[1]].strip(" ,.!?")) is not None
            then = self.call_in(*b, prev=first) if b and not vague else None
            if len(self.questions) > qn:
                return None
            if b and then is None and not vague:
                continue
            self.use(m.start(), m.end())
            return {"type": "order", "first": first, "then": then}
        return None

    def plan_forbid(self) -> dict[str, Any] | None:
        for m in self.find(_FORBID_RE, mark=False):
            end = re.search(r"[,.;!?]|$", self.s[m.end():])
            stop = m.end() + (end.start() if end else 0)
            call = self.call_in(m.end(), stop)
            if call is None or call["skill"] is None:
                continue
            no_object = call["object"] is None and call.get("object_description") is None and call["target"] is None
            if no_object and call["skill"] not in ("open", "close", "go_home"):
                continue
            self.use(m.start(), stop)
            return {"type": "forbid", "call": call}
        leave = _LEAVE_RE.search(self.s)
        if leave is not None:
            i0, i1 = self.span(leave.start("rest"), leave.end("rest"))
            mt = next((x for x in self.mentions if i0 <= x.start < max(i1, i0 + 1)), None)
            if mt is not None:
                name, q = self.resolve(mt)
                if q:
                    self.questions.append(q)
                    return None
                self.use(leave.start(), leave.end())
                return {"type": "forbid", "call": {"skill": None, "object": name, "target": None,
                                                   "description": mt.text}}
        return None

    def is_receptacle(self, m: _Mention) -> bool:
        if m.refs:
            return all((o := self.ctx.find(n)) is not None and o.category in _RECEPTACLES for n in m.refs)
        return _NOUN_CATEGORY.get(m.head, m.head) in _RECEPTACLES

    def plan_target_or_step(self) -> dict[str, Any] | None:
        s = self.s
        step_cue = _STEP_CUE_RE.search(s)
        neg_cue = _NEG_CUE_RE.search(s)
        verb = next((_VERBS[w] for k, w in enumerate(self.tokens) if w in _VERBS and not self.used[k]), None)
        pos = [m for m in self.mentions if not m.negated and not m.pronoun and not all(self.used[m.start:m.end])]
        neg = [m for m in self.mentions if m.negated]
        pron = [m for m in self.mentions if m.pronoun and not m.negated]
        if verb in ("open", "close", "push") or (verb == "" and self.has(_PULL_RE)) or (step_cue and verb is not None):
            if verb in ("open", "close", "push", "") and not pos and not pron and not self.cabinet_mentioned():
                return None
            call = self.call_in(0, len(s))
            if call is None or call["skill"] is None:
                return None
            if step_cue or call["skill"] in ("open", "close", "push"):
                self.use_toks(0, len(self.tokens))
                return {"type": "step", "call": call, "position": "last" if _LAST_RE.search(s) else "next"}
        if not pos:
            if (neg and not any(m.pronoun for m in neg)) or (neg and neg_cue and self.objects):
                base = next((self.ctx.find(n) for m in neg
                             for n in ([self.ctx.object] if m.pronoun else m.refs[:1])), None)
                others = [o.name for o in self.objects if base is not None and o.name != base.name
                          and o.category == base.category]
                if len(others) == 1 and any(m.pronoun for m in neg):
                    return {"type": "target", "role": "object", "object": others[0], "destination": None,
                            "relation": None, "replaces": base.name if base else None, "description": "the other one"}
                where = any(self.is_receptacle(m) and not m.pronoun for m in neg)
                seen = f" I can see: {', '.join(o.name for o in self.objects)}." if self.objects else ""
                self.questions.append(("Where should I put it instead?" if where else "Which one should I use instead?")
                                      + seen)
            return None
        if not (neg_cue or verb is not None or step_cue or len(self.tokens) <= 6):
            return None
        obj_m = dest_m = None
        rel = None
        for m in pos:
            how = self.dest_relation(m)
            if how is not None:
                if dest_m is None:
                    dest_m, rel = m, how
            elif self.is_receptacle(m) and verb not in ("pick",) and dest_m is None:
                dest_m = m
            elif obj_m is None:
                obj_m = m
        obj = dest = None
        for said in (obj_m, dest_m):
            if said is None:
                continue
            name, q = self.resolve(said)
            if q:
                self.questions.append(q)
                return None
            if said is obj_m:
                obj = name
            else:
                dest = name
        if (obj == self.ctx.object and dest in (None, self.ctx.target) and not neg_cue and not step_cue
                and (self.dirs or self.changes)):
            return None  # "move the block to the left" while handling that block: a skill correction
        replaces = None
        neg_obj = next((m for m in neg if not self.is_receptacle(m) or m.pronoun), None)
        neg_dest = next((m for m in neg if self.is_receptacle(m) and not m.pronoun), None)
        if obj_m is not None:
            replaces = (self.resolve(neg_obj)[0] if neg_obj else None) or (self.ctx.object if neg_cue else None)
        elif dest_m is not None:
            replaces = (self.resolve(neg_dest)[0] if neg_dest else None) or (self.ctx.target if neg_cue else None)
        if dest_m is not None and rel is None:
            info = self.ctx.find(dest)
            cat = info.category if info is not None else _NOUN_CATEGORY.get(dest_m.head, dest_m.head)
            rel = "in" if cat in ("bowl", "tray", "cabinet", "box", "basket", "bin") else "on"
        if obj_m is not None and dest_m is not None:
            role = "both"
        else:
            role = "object" if obj_m is not None else "destination"
        if step_cue:
            call = {"skill": verb or ("place" if dest_m is not None else None), "object": obj, "target": dest,
                    "description": s}
            return {"type": "step", "call": call, "position": "last" if _LAST_RE.search(s) else "next"}
        for m in pos:
            self.use_toks(m.start, m.end)
        for m in neg:
            self.use_toks(m.start, m.end)
        if neg_cue:
            self.use(neg_cue.start(), neg_cue.end())
        return {"type": "target", "role": role, "object": obj, "destination": dest, "relation": rel,
                "replaces": replaces,
                "description": " ".join(m.text for m in (obj_m, dest_m) if m is not None)}

    def plan_restore(self) -> dict[str, Any] | None:
        if self.find(_RESTORE_RE):
            return {"type": "constraint", "text": "put it back where it was", "object": self.ctx.object}
        return None

    # ------------------------------------------------------------------ safety
    def refuse(self, reason: str) -> None:
        if self.refusal is None:
            self.refusal = reason

    def merged_changes(self) -> tuple[str | None, list[_Change]] | None:
        skills = {c.skill for c in self.changes if c.skill is not None}
        non_speed = {c.skill for c in self.changes if c.skill is not None and c.name != "speed"}
        if len(non_speed) > 1:
            self.questions.append("That changes several skills at once (" + ", ".join(sorted(non_speed))
                                  + "); please give one correction at a time.")
            return None
        skill = next(iter(non_speed), None) or next(iter(skills), None) or self.ctx.skill
        merged: dict[str, _Change] = {}
        order: list[str] = []
        for c in self.changes:
            c.skill = skill
            old = merged.get(c.name)
            if old is None or old.op != c.op or c.op == "set":
                if c.name not in merged:
                    order.append(c.name)
                merged[c.name] = _Change(skill, c.name, c.op, c.value, c.explicit, c.translational)
            elif c.op == "scale":
                old.value = float(old.value) * float(c.value)
                old.explicit = old.explicit or c.explicit
            elif isinstance(old.value, list):
                old.value = [float(a) + float(b) for a, b in zip(old.value, c.value, strict=True)]
            else:
                old.value = float(old.value) + float(c.value)
        return skill, [merged[n] for n in order]

    def bound(self, delta: list[float] | None, explicit: bool) -> tuple[list[float] | None, str | None,
                                                                        dict[str, dict[str, Any]]]:
        """Check the request against the safety limits; fit word-sized requests, refuse explicit ones."""
        max_step = self.parser.safety.max_cartesian_step
        if delta is not None:
            norm = math.sqrt(sum(v * v for v in delta))
            if norm > max_step + 1e-9:
                if explicit:
                    self.refuse(f"a {_fmt_len(norm)} move is more than the {_fmt_len(max_step)} one correction may "
                                f"move the arm (safety.max_cartesian_step); ask for a smaller step")
                    return None, None, {}
                k = max_step / norm
                delta = [v * k for v in delta]
                for c in self.changes:
                    if c.translational:
                        c.value = [float(v) * k for v in c.value] if isinstance(c.value, list) else float(c.value) * k
        merged = self.merged_changes()
        if merged is None:
            return None, None, {}
        skill, changes = merged
        check_skill = skill or "go_home"
        current = dict(self.ctx.params or {}) if skill == self.ctx.skill and self.ctx.params else None
        try:
            params = validate_params(check_skill, current)
        except (ParameterError, SkillError) as exc:
            log.warning("current parameters of %s are invalid (%s); checking against defaults", check_skill, exc)
            params = validate_params(check_skill, None)
        out: dict[str, dict[str, Any]] = {}
        shrink = 1.0
        for c in changes:
            try:
                ps = param_spec(check_skill, c.name)
            except (ParameterError, SkillError) as exc:
                self.refuse(str(exc))
                return None, None, {}
            try:
                params = apply_parameter_changes(check_skill, params, {c.name: {c.op: c.value}})
            except ParameterError as exc:
                fitted = None if c.explicit else self.fit(ps, params[c.name], c)
                if fitted is None:
                    msg = str(exc) if skill else str(exc).replace(f"{check_skill}.", "", 1)
                    self.refuse(f"{msg}; the change was not applied")
                    return None, None, {}
                c.op, c.value, t = fitted
                if c.translational:
                    shrink = min(shrink, t)
                params = apply_parameter_changes(check_skill, params, {c.name: {c.op: c.value}})
            out[c.name] = {c.op: _round(c.value)}
        if delta is not None and shrink < 1.0:
            delta = [v * shrink for v in delta]  # the translation shrinks with the offset that carries it
        return delta, skill, out

    def fit(self, ps: ParamSpec, old: Any, c: _Change) -> tuple[str, Any, float] | None:
        """The largest part of a word-sized change that stays inside the bounds, or None."""
        if c.op == "scale" and ps.kind == "float":
            new = ps.clamp(float(old) * float(c.value))
            if abs(new - float(old)) < 1e-9:
                return None
            return "set", new, 1.0
        if c.op == "add" and ps.kind == "float":
            v = float(c.value)
            bound = ps.high if v > 0 else ps.low
            t = max(0.0, min(1.0, (bound - float(old)) / v)) if v else 0.0
        elif c.op == "add" and ps.kind == "vec3":
            t = 1.0
            for o, v in zip(old, c.value, strict=True):
                if abs(float(v)) > 1e-12:
                    bound = ps.high if v > 0 else ps.low
                    t = min(t, max(0.0, (bound - float(o)) / float(v)))
        else:
            return None
        if t < 0.1:
            return None
        value = [float(v) * t for v in c.value] if isinstance(c.value, list) else float(c.value) * t
        return "add", value, t

    # ------------------------------------------------------------------ main
    def run(self) -> Correction:
        text = self.text if isinstance(self.text, str) else str(self.text)
        self.text = text
        if not text.strip():
            return self.unclear("I didn't catch anything. What should I change?")
        if len(text) > MAX_TEXT_CHARS:
            if self.allow_stop and is_stop(text):
                return Correction(text, CorrectionKind.STOP)
            return self.unclear("That is too long for one correction; please say one change at a time.")
        self.tokenize()
        if self.allow_stop and (_stop_match(text) is not None or _NO_NO.match(text.lower())):
            return self.stop()
        if not any(re.search(r"[a-z0-9@]", t) for t in self.tokens):
            return self.unclear(self.generic_question())
        injection = _INJECTION_RE.search(self.s)
        if injection is not None:
            self.refuse("I can't ignore, change or work around my safety limits or instructions; "
                        "give me a correction within the limits")
        self.find_mentions()
        self.find_quantities()
        self.find_magnitudes()
        self.semantic()
        self.directions()
        delta, explicit = self.translation()
        if delta is None and not self.questions and not self.changes and not _RETRY_RE.search(self.s):
            delta, explicit = self.relative_to_last()
        plan = None
        if not self.questions:
            plan = self.plan()
        if delta is not None and not self.questions:
            self.ground_translation(delta, explicit)
            if self.drop_delta:
                delta = None
        return self.decide(plan, delta, explicit)

    def decide(self, plan: dict[str, Any] | None, delta: list[float] | None, explicit: bool) -> Correction:
        text = self.text
        if self.refusal is not None:
            if plan:
                kind = CorrectionKind.PLAN
            else:
                kind = CorrectionKind.SKILL if (delta or self.changes) else CorrectionKind.UNCLEAR
            return Correction(text, kind, refusal=self.refusal, confidence=1.0, object=self.object_name)
        if self.questions:
            return self.unclear(self.questions[0])
        if plan is None and delta is None and not self.changes:
            return self.no_action()
        delta, skill, params = self.bound(delta, explicit)
        if self.refusal is not None:
            kind = CorrectionKind.PLAN if plan else CorrectionKind.SKILL
            return Correction(text, kind, refusal=self.refusal, confidence=1.0, skill=skill, object=self.object_name)
        if self.questions:
            return self.unclear(self.questions[0])
        kind = CorrectionKind.PLAN if plan is not None else CorrectionKind.SKILL
        if skill != self.ctx.skill and self.object_name == self.ctx.object:
            self.object_name = None  # the change is for another skill than the one on ctx.object
        if not params and delta is None:
            skill = self.object_name = None  # a pure plan change: the plan dict says what it is about
        c = Correction(text, kind, delta_m=None if delta is None else [_round(v) for v in delta],
                       parameters=params, skill=skill, object=self.object_name, plan=plan)
        c.confidence = self.confidence()
        if c.confidence < 0.5:
            return self.unclear(f"Did you mean: {c.describe()}? Please say it again in other words.")
        return c

    def confidence(self) -> float:
        unknown = known = 0
        for k, t in enumerate(self.tokens):
            if not re.fullmatch(r"[a-z][a-z']*", t):
                continue
            if self.used[k]:
                known += 1
            elif t not in _KNOWN_WORDS and t not in self.scene_words:
                unknown += 1
        if unknown >= 2 and unknown > known:
            return round(max(0.0, 0.5 - 0.05 * (unknown - known)), 2)
        total = max(1, known + unknown)
        return round(1.0 - 0.4 * unknown / total, 2)

    def no_action(self) -> Correction:
        if self.s.strip(" .!?") == "right":
            return self.unclear("Do you mean \"move to the right\" or \"that's right\"? "
                                "Say \"to the right\" or \"yes\".")
        words = [t for t in self.tokens if re.fullmatch(r"[a-z][a-z']*", t)]
        content = [w for w in words if w not in _CONFIRM_FILLER and w not in ("please", "robot", "hey")]
        negative = any(w in _NEGATIVE for w in words) or "not" in words
        if words and not negative and content and all(w in _CONFIRM_CORE or w in _CONFIRM_FILLER for w in words) \
                and any(w in _CONFIRM_CORE for w in words):
            return Correction(self.text, CorrectionKind.CONFIRM, confidence=0.95)
        if words and not negative and _CONFIRM_PHRASE_RE.fullmatch(self.s.strip(" .!")):
            return Correction(self.text, CorrectionKind.CONFIRM, confidence=0.95)
        if re.search(r"\b(?:don't|do not|no need to) (?:stop|wait|halt)\b", self.s):
            return Correction(self.text, CorrectionKind.CONFIRM, confidence=0.9)
        if negative:
            return self.unclear("What should I do differently? For example: a direction and amount "
                                "(\"2 cm to the left\"), \"slower\", or which object to use.")
        if self.mags or re.search(r"\b(?:move|shift|adjust|go|nudge|reposition|correct|fix)\b", self.s):
            return self.unclear("Which way should I move: left, right, forward, back, up or down, and how far?")
        if re.search(r"\b(?:sideways|diagonally|across)\b", self.s):
            return self.unclear("Which way exactly: left, right, forward or back, and how far?")
        if self.bare:
            return self.unclear(f"{self.bare[0][2]:g} what? Please give a direction and a unit, "
                                "e.g. \"2 cm to the left\".")
        return self.unclear(self.generic_question(), generic=True)

    def generic_question(self) -> str:
        q = (f"Sorry, I didn't understand {self.text.strip()[:80]!r}. You can say a direction and amount "
             "(\"a bit to the left\", \"2 cm up\"), an adjustment (\"slower\", \"grasp it by the handle\"), "
             "a plan change (\"open the drawer first\", \"the blue one\"), or \"stop\".")
        if self.objects:
            q += f" I can see: {', '.join(o.name for o in self.objects)}."
        return q

    def unclear(self, question: str, generic: bool = False) -> Correction:
        self.generic_unclear = generic
        return Correction(self.text, CorrectionKind.UNCLEAR, question=question, confidence=0.0,
                          refusal=getattr(self, "refusal", None))

    def stop(self) -> Correction:
        m = _stop_match(self.text)
        follow = None
        if m is not None:
            low = self.text.lower().translate(_STOP_TRANS)
            rest = _STOP_RE.sub(" ", low)
            rest = re.sub(r"\b(?:no|now|please|robot|hey|immediately|right now|at once)\b", " ", rest)
            if re.search(r"[a-z]{2,}", rest):
                fc = _Parse(self.parser, rest, self.ctx, allow_stop=False).run()
                if fc.actionable:
                    fc.text = self.text
                    follow = fc
        return Correction(self.text, CorrectionKind.STOP, confidence=1.0, followup=follow)


def _round(v: Any) -> Any:
    if isinstance(v, float):
        r = round(v, 4)
        return 0.0 if r == 0 else r
    if isinstance(v, list):
        return [_round(x) for x in v]
    return v


class CorrectionParser:
    """Turns operator utterances into :class:`Correction` objects.

    Deterministic and model-free; safe to share between threads (it keeps no state
    between calls).

    Args:
        safety: the robot's safety limits (``max_cartesian_step`` bounds a single
            translational correction). Defaults to :class:`SafetyConfig` defaults.
        fallback: optional function ``(text, context) -> Correction | None`` tried
            when the rules understand nothing at all (e.g. an LLM). Its answer passes
            the same checks: a translation larger than the safety step or a
            parameter outside its bounds is refused.
        strict: re-raise internal errors instead of answering with a question
            (tests use it to find bugs; at run time a correction must never crash
            the agent).
    """

    def __init__(self, safety: SafetyConfig | None = None, fallback: FallbackFn | None = None,
                 strict: bool = False) -> None:
        self.safety = safety or SafetyConfig()
        self.fallback = fallback
        self.strict = strict

    def parse(self, text: str, context: CorrectionContext | None = None) -> Correction:
        """Classify and ground one utterance.

        Args:
            text: what the operator typed or said.
            context: scene objects, the current skill and object, the operator's frame.

        Returns:
            A :class:`Correction`; never raises for any text.
        """
        try:
            state = _Parse(self, text, context)
            c = state.run()
        except Exception:  # a correction must never crash the agent: logged, answered with a question
            if self.strict:
                raise
            log.exception("could not parse correction %r", text)
            return Correction(str(text), CorrectionKind.UNCLEAR, question="Sorry, I couldn't process that; "
                              "please say it another way.", confidence=0.0)
        if state.generic_unclear and self.fallback is not None and c.refusal is None:
            c = self._ask_fallback(str(text), context, c)
        return c

    def _ask_fallback(self, text: str, context: CorrectionContext | None, unclear: Correction) -> Correction:
        try:
            alt = self.fallback(text, context) if self.fallback is not None else None
        except Exception:  # the fallback is optional: its failure leaves the question standing
            log.exception("correction fallback failed on %r", text)
            return unclear
        if alt is None or not isinstance(alt, Correction):
            return unclear
        alt.text = text
        if alt.kind is CorrectionKind.STOP:
            return alt
        if alt.delta_m is not None:
            if len(alt.delta_m) != 3 or not all(math.isfinite(float(v)) for v in alt.delta_m):
                return unclear
            norm = math.sqrt(sum(float(v) ** 2 for v in alt.delta_m))
            if norm > self.safety.max_cartesian_step + 1e-9:
                return Correction(text, alt.kind, refusal=f"a {_fmt_len(norm)} move is more than the "
                                  f"{_fmt_len(self.safety.max_cartesian_step)} one correction may move the arm")
        if alt.parameters:
            skill = alt.skill or (context.skill if context else None) or "go_home"
            try:
                apply_parameter_changes(skill, context.params if context and context.skill == skill else None,
                                        alt.parameters)
            except (ParameterError, SkillError) as exc:
                return Correction(text, alt.kind, refusal=f"{exc}; the change was not applied")
        alt.confidence = min(float(alt.confidence), 0.6)
        return alt


_DEFAULT_PARSER: CorrectionParser | None = None


def parse_correction(text: str, context: CorrectionContext | None = None) -> Correction:
    """Parse with a shared default :class:`CorrectionParser` (default safety limits)."""
    global _DEFAULT_PARSER
    if _DEFAULT_PARSER is None:
        _DEFAULT_PARSER = CorrectionParser()
    return _DEFAULT_PARSER.parse(text, context)


__all__ = [
    "DEFAULT_OBJECT_SIZE",
    "MAGNITUDE_FACTORS",
    "Correction",
    "CorrectionContext",
    "CorrectionKind",
    "CorrectionParser",
    "apply_parameter_changes",
    "describe_delta",
    "describe_plan",
    "is_stop",
    "parse_correction",
]
