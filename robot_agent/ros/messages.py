"""The typed messages of the agent and sim nodes (``robot_agent_interfaces``): builders, validators, readers.

No rclpy here: the generated message classes are plain Python, so the rules are tested
without a ROS graph and shared by the nodes, the operator console and ``listen``. Every
reader of an incoming message either returns a validated value or raises
:class:`robot_agent.errors.MessageError` saying what was wrong; the nodes turn that into an
error status (or a logged refusal), never a crash.

Interfaces (``docs/ros.md`` has every field):

* ``~/run_task`` (``RunTask`` action): goal ``task``, ``id`` (:func:`parse_goal`).
* ``~/correction`` (``Correction``): :func:`correction_msg`, :func:`parse_correction`.
* ``~/status`` (``AgentStatus``): :func:`status_msg`, :func:`status_dict`.
* ``~/plan`` (``Plan``), ``~/transcript`` (``TranscriptEvent``), ``~/knowledge`` (``KnowledgeEvent``).
* the scene topic (``Scene`` of ``SceneObject``): :func:`scene_msg`, :func:`parse_scene`.
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from robot_agent.errors import MessageError
from skills.types import ObjectInfo, Pose

try:
    import robot_agent_interfaces  # noqa: F401
except ImportError as exc:  # built from robot_agent_interfaces/ by CMake, not by pip
    raise ImportError(
        "robot_agent_interfaces is not installed: build it into this environment with "
        "`make interfaces` (or colcon, see docs/ros.md)"
    ) from exc

from builtin_interfaces.msg import Time  # noqa: E402
from geometry_msgs.msg import Point, Quaternion, Vector3  # noqa: E402
from geometry_msgs.msg import Pose as PoseMsg

from robot_agent_interfaces.msg import (
    AgentStatus,
    Correction,
    KnowledgeEvent,
    KnowledgeItem,  # noqa: E402
    NamedValue,
    ObjectPart,
    Plan,
    PlanStep,
    Scene,
    SceneObject,
    TranscriptEvent,
)

#: longest task sentence accepted (characters)
MAX_TASK_CHARS = 1000
#: longest correction accepted (characters)
MAX_CORRECTION_CHARS = 500
#: most objects accepted in one scene message
MAX_SCENE_OBJECTS = 500
#: agent states after which a task is over
TERMINAL_STATES = frozenset({"done", "failed", "stopped"})
#: every state the status topic reports (robot_agent.episode.AgentState values)
STATES = ("idle", "planning", "executing", "waiting", "done", "failed", "stopped")
#: where a correction may come from; the episode log (robot_agent.episode_log.CORRECTION_SOURCES)
#: records exactly these, so the node refuses others rather than lose them at the log
CORRECTION_SOURCES = ("typed", "spoken", "simulated")
#: transcript event types
TRANSCRIPT_TYPES = ("understood", "question", "dropped", "stop")

_TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# -- inputs ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskRequest:
    """A validated task: the sentence and the id its status and feedback will carry."""

    text: str
    task_id: str


@dataclass(frozen=True)
class CorrectionRequest:
    """A validated correction: the utterance, where it came from, and the recognizer's confidence."""

    text: str
    source: str = "typed"
    confidence: float | None = None
    unsure: bool = False  # the recognizer is not sure of the words: said back before acted on


def new_task_id() -> str:
    """A short random task id."""
    return uuid.uuid4().hex[:12]


def clean_text(value: Any, what: str, limit: int) -> str:
    """Control characters blanked, whitespace collapsed, then checked for emptiness and length.

    Raises:
        MessageError: not a string, empty, or longer than ``limit`` characters.
    """
    if not isinstance(value, str):
        raise MessageError(f"{what}: expected a string, got {type(value).__name__}")
    text = re.sub(r"\s+", " ", _CONTROL.sub(" ", value)).strip()
    if not text:
        raise MessageError(f"{what}: empty")
    if len(text) > limit:
        raise MessageError(f"{what}: {len(text)} characters, the limit is {limit}")
    return text


def check_task_id(value: str, what: str = "goal.id") -> str:
    """``value`` when it is a valid task id (empty = a new one).

    Raises:
        MessageError: not 1-64 characters of ``[A-Za-z0-9_.:-]``.
    """
    if not isinstance(value, str):
        raise MessageError(f"{what}: expected a string, got {type(value).__name__}")
    if value == "":
        return new_task_id()
    if not _TASK_ID.match(value):
        raise MessageError(f"{what}: expected 1-64 characters of [A-Za-z0-9_.:-], got {value[:80]!r}")
    return value


def parse_goal(goal: Any) -> TaskRequest:
    """Validate a ``RunTask`` goal (``task``, ``id``).

    Raises:
        MessageError: empty or over-long task, or a malformed id.
    """
    return TaskRequest(clean_text(goal.task, "goal.task", MAX_TASK_CHARS), check_task_id(goal.id))


def parse_correction(msg: Correction) -> CorrectionRequest:
    """Validate a ``Correction`` message.

    Raises:
        MessageError: empty or over-long text, an unknown source, or a confidence outside [0, 1].
    """
    text = clean_text(msg.text, "correction.text", MAX_CORRECTION_CHARS)
    source = msg.source or "typed"
    if source not in CORRECTION_SOURCES:
        raise MessageError(f"correction.source: expected one of {', '.join(CORRECTION_SOURCES)}, got {source[:40]!r}")
    conf = float(msg.confidence)
    if not math.isfinite(conf) or not 0.0 <= conf <= 1.0:
        raise MessageError(f"correction.confidence: expected a number in [0, 1], got {conf!r}")
    return CorrectionRequest(text, source, conf, bool(msg.unsure))


def correction_msg(
    text: str,
    source: str = "typed",
    confidence: float | None = None,
    stamp: float | None = None,
    unsure: bool = False,
) -> Correction:
    """A ``Correction`` the node will accept (validated the way the node does); ``unsure``: the
    recognizer is not sure of the words (the agent holds the arm and asks "Did you say ...?").

    Raises:
        MessageError: the text, source or confidence would be refused by the node.
    """
    conf = 1.0 if confidence is None else float(confidence)
    text = clean_text(text, "correction.text", MAX_CORRECTION_CHARS)
    if source not in CORRECTION_SOURCES:
        raise MessageError(
            f"correction.source: expected one of {', '.join(CORRECTION_SOURCES)}, got {str(source)[:40]!r}"
        )
    if not math.isfinite(conf) or not 0.0 <= conf <= 1.0:
        raise MessageError(f"correction.confidence: expected a number in [0, 1], got {conf!r}")
    return Correction(
        text=text,
        source=source,
        confidence=conf,
        stamp=to_time(time.time() if stamp is None else stamp),
        unsure=bool(unsure),
    )


# -- time --------------------------------------------------------------------------------------------
def to_time(seconds: float) -> Time:
    """A ``builtin_interfaces/Time`` from seconds since the epoch."""
    sec = int(math.floor(seconds))
    return Time(sec=sec, nanosec=min(999_999_999, int(round((seconds - sec) * 1e9))))


def from_time(stamp: Time) -> float:
    """Seconds since the epoch of a ``builtin_interfaces/Time``."""
    return stamp.sec + stamp.nanosec * 1e-9


# -- plan steps ---------------------------------------------------------------------------------------
def named_value(name: str, value: Any) -> NamedValue:
    """A ``NamedValue``: numbers in ``values`` (a scalar or a vector), anything else as ``text``."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bool):
        return NamedValue(name=str(name), text="true" if value else "false")
    if isinstance(value, (int, float)):
        return NamedValue(name=str(name), values=[float(value)])
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return NamedValue(name=str(name), values=[float(v) for v in value])
    return NamedValue(name=str(name), text="" if value is None else str(value))


def value_of(nv: NamedValue) -> Any:
    """The Python value of a ``NamedValue``: a float, a list of floats, or the text."""
    values = [float(v) for v in nv.values]
    if not values:
        return nv.text
    return values[0] if len(values) == 1 else values


def _call_dict(call: Any) -> dict[str, Any]:
    to_dict = getattr(call, "to_dict", None)
    if callable(to_dict):
        call = to_dict()
    return dict(call) if isinstance(call, Mapping) else {"skill": str(call)}


def plan_step(call: Any) -> PlanStep:
    """A ``PlanStep`` from a skill call (a ``SkillCall`` or its ``to_dict()``); None gives an empty step."""
    if call is None:
        return PlanStep()
    d = _call_dict(call)
    return PlanStep(
        skill=str(d.get("skill", "")),
        args=[named_value(k, v) for k, v in dict(d.get("args") or {}).items()],
        params=[named_value(k, v) for k, v in dict(d.get("params") or {}).items()],
    )


def step_dict(step: PlanStep) -> dict[str, Any]:
    """``{skill, args, params}`` of a ``PlanStep`` (the form ``SkillCall.from_dict`` reads)."""
    return {
        "skill": step.skill,
        "args": {a.name: a.text for a in step.args},
        "params": {p.name: value_of(p) for p in step.params},
    }


def format_step(step: PlanStep) -> str:
    """``pick(red_block)``: the skill and its object arguments."""
    if not step.skill:
        return ""
    return f"{step.skill}({', '.join(a.text for a in step.args)})"


def plan_msg(
    task_id: str | None,
    plan: Iterable[Any],
    *,
    replanned: bool = False,
    why: str = "",
    constraints: Iterable[Any] = (),
    stamp: float | None = None,
) -> Plan:
    """A ``Plan`` event."""
    return Plan(
        stamp=to_time(time.time() if stamp is None else stamp),
        task_id=task_id or "",
        steps=[plan_step(c) for c in plan],
        replanned=bool(replanned),
        why=str(why or ""),
        constraints=[str(c) for c in constraints],
    )


# -- status ------------------------------------------------------------------------------------------
def status_msg(
    state: str,
    *,
    ready: bool = True,
    task_id: str | None = None,
    task: str | None = None,
    step: int | None = None,
    skill: Any = None,
    result: Mapping[str, Any] | None = None,
    reason: str = "",
    success: bool | None = None,
    error: str | None = None,
    stamp: float | None = None,
    corrections: Mapping[str, int] | None = None,
) -> AgentStatus:
    """An ``AgentStatus``.

    Raises:
        MessageError: ``state`` is not one of :data:`STATES`.
    """
    if state not in STATES:
        raise MessageError(f"status.state: {state!r} is not one of {', '.join(STATES)}")
    counts = dict(corrections or {})
    return AgentStatus(
        stamp=to_time(time.time() if stamp is None else stamp),
        state=state,
        ready=bool(ready),
        task_id=task_id or "",
        task=task or "",
        step=-1 if step is None else int(step),
        skill=plan_step(skill),
        result_status=str((result or {}).get("status") or ""),
        result_reason=str((result or {}).get("reason") or ""),
        reason=str(reason or ""),
        finished=state in TERMINAL_STATES and success is not None,
        success=bool(success),
        error=error or "",
        corrections_received=max(0, int(counts.get("received", 0))),
        corrections_dropped=max(0, int(counts.get("dropped", 0))),
    )


def status_dict(msg: AgentStatus) -> dict[str, Any]:
    """An ``AgentStatus`` as a plain dict (what the console and the tests read)."""
    return {
        "stamp": from_time(msg.stamp),
        "state": msg.state,
        "ready": bool(msg.ready),
        "task_id": msg.task_id or None,
        "task": msg.task or None,
        "step": None if msg.step < 0 else msg.step,
        "skill": step_dict(msg.skill) if msg.skill.skill else None,
        "result": ({"status": msg.result_status, "reason": msg.result_reason} if msg.result_status else None),
        "reason": msg.reason,
        "success": bool(msg.success) if msg.finished else None,
        "error": msg.error or None,
        "corrections": {"received": int(msg.corrections_received), "dropped": int(msg.corrections_dropped)},
    }


# -- events ------------------------------------------------------------------------------------------
def _choice_label(choice: Any) -> str:
    if isinstance(choice, Mapping):
        return str(choice.get("label") or choice.get("canonical") or "")
    label = getattr(choice, "label", None)
    return str(label) if label is not None else str(choice)


def _float(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) and abs(v) < 3e38 else 0.0


def _int(value: Any, low: int, high: int, default: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if isinstance(value, float) and not math.isfinite(value):
        return default
    return min(high, max(low, int(value)))


def transcript_msg(
    event: Mapping[str, Any], task_id: str | None, *, type_: str = "understood", stamp: float | None = None
) -> TranscriptEvent:
    """A ``TranscriptEvent`` from an agent event (``understood``, ``question``) or the node's own
    (``dropped``, ``stop``)."""
    choices = event.get("choices")
    return TranscriptEvent(
        stamp=to_time(time.time() if stamp is None else stamp),
        task_id=task_id or "",
        type=type_,
        text=str(event.get("text") or ""),
        source=str(event.get("source") or ""),
        kind=str(event.get("kind") or ""),
        summary=str(event.get("summary") or ""),
        outcome=str(event.get("outcome") or ""),
        decision=str(event.get("decision") or ""),
        confidence=_float(event.get("confidence", 0.0)),
        question=str(event.get("question") or ""),
        choices=[_choice_label(c) for c in choices] if isinstance(choices, (list, tuple)) else [],
        refusal=str(event.get("refusal") or ""),
        step=_int(event.get("step"), -1, 2**31 - 1, -1),
        dropped_total=_int(event.get("dropped_total"), 0, 2**32 - 1, 0),
    )


def knowledge_msg(event: Mapping[str, Any], task_id: str | None, stamp: float | None = None) -> KnowledgeEvent:
    """A ``KnowledgeEvent`` from the agent's ``{"event": ..., ...}`` (used, overridden, irrelevant, hint,
    corrected, distilled, error, saved)."""
    # used: the decision the item changed; overridden / irrelevant / corrected: why (no new message field needed)
    detail = event.get("error") or event.get("path") or event.get("decision") or event.get("reason") or ""
    return KnowledgeEvent(
        stamp=to_time(time.time() if stamp is None else stamp),
        task_id=task_id or "",
        event=str(event.get("event") or ""),
        id=str(event.get("id") or ""),
        kind=str(event.get("kind") or ""),
        rule=str(event.get("rule") or ""),
        score=_float(event.get("score", 0.0)),
        detail=str(detail),
    )


def knowledge_item_msg(item: Any, score: float) -> KnowledgeItem:
    """A ``KnowledgeItem`` from a :class:`memory.item.KnowledgeItem` and its search score."""
    scope = dict(getattr(item, "scope", {}) or {})
    params = dict(getattr(item, "parameters", {}) or {})
    return KnowledgeItem(
        id=str(item.id),
        kind=str(item.kind),
        rule=str(item.rule),
        score=_float(score),
        skill=str(scope.get("skill") or ""),
        object_category=str(scope.get("object_category") or ""),
        task_family=str(scope.get("task_family") or ""),
        parameters=[named_value(k, v) for k, v in params.items() if k != "constraint"],
        use_count=max(0, int(getattr(item, "use_count", 0))),
        success_count=max(0, int(getattr(item, "success_count", 0))),
    )


# -- scene -------------------------------------------------------------------------------------------
def _yaw_quaternion(yaw: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def scene_object_msg(obj: ObjectInfo) -> SceneObject:
    """A ``SceneObject`` from an :class:`ObjectInfo`."""
    x, y, z = obj.pose.position
    return SceneObject(
        name=obj.name,
        category=obj.category,
        colour=obj.color or "",
        shape=obj.shape or "",
        pose=PoseMsg(position=Point(x=float(x), y=float(y), z=float(z)), orientation=_yaw_quaternion(obj.pose.yaw)),
        size=Vector3(x=float(obj.size[0]), y=float(obj.size[1]), z=float(obj.size[2])),
        parts=[
            ObjectPart(name=str(k), position=Point(x=float(v[0]), y=float(v[1]), z=float(v[2])))
            for k, v in obj.parts.items()
        ],
        state=[named_value(k, v) for k, v in obj.state.items()],
    )


def scene_msg(objects: Iterable[ObjectInfo], frame_id: str, stamp: Time | None = None) -> Scene:
    """A ``Scene`` of the objects, in ``frame_id``."""
    msg = Scene(objects=[scene_object_msg(o) for o in objects])
    msg.header.frame_id = frame_id
    if stamp is not None:
        msg.header.stamp = stamp
    return msg


def _finite(values: Sequence[float]) -> bool:
    return all(math.isfinite(float(v)) for v in values)


def _state_value(nv: NamedValue) -> Any:
    if nv.values:
        return value_of(nv)
    return {"true": True, "false": False}.get(nv.text, nv.text)


def parse_scene(msg: Scene) -> dict[str, ObjectInfo]:
    """Objects by name from a ``Scene``.

    Raises:
        MessageError: too many objects, an empty or duplicate name, non-finite numbers, a negative
            size, or a rotation that is not about z alone; the message names the offending object.
    """
    if len(msg.objects) > MAX_SCENE_OBJECTS:
        raise MessageError(f"scene: {len(msg.objects)} objects, the limit is {MAX_SCENE_OBJECTS}")
    out: dict[str, ObjectInfo] = {}
    for i, o in enumerate(msg.objects):
        where = f"scene.objects[{i}]"
        if not o.name or not o.name.strip() or len(o.name) > 200:
            raise MessageError(f"{where}.name: expected a non-empty name of at most 200 characters")
        where = f"{where} ({o.name})"
        if not o.category:
            raise MessageError(f"{where}.category: empty")
        p, q = o.pose.position, o.pose.orientation
        if not _finite((p.x, p.y, p.z)):
            raise MessageError(f"{where}.pose.position: not finite")
        if not _finite((q.x, q.y, q.z, q.w)):
            raise MessageError(f"{where}.pose.orientation: not finite")
        norm = math.sqrt(q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w)
        if abs(norm - 1.0) > 1e-3 or abs(q.x) > 1e-3 or abs(q.y) > 1e-3:
            raise MessageError(
                f"{where}.pose.orientation: expected a unit quaternion about z alone, "
                f"got ({q.x:g}, {q.y:g}, {q.z:g}, {q.w:g})"
            )
        size = (o.size.x, o.size.y, o.size.z)
        if not _finite(size) or min(size) < 0.0:
            raise MessageError(f"{where}.size: expected 3 finite extents >= 0, got {size}")
        parts: dict[str, list[float]] = {}
        for part in o.parts:
            xyz = [part.position.x, part.position.y, part.position.z]
            if not part.name or not _finite(xyz):
                raise MessageError(f"{where}.parts: a part needs a name and a finite position")
            parts[part.name] = [float(v) for v in xyz]
        state: dict[str, Any] = {}
        for entry in o.state:
            if not entry.name or not _finite(entry.values):
                raise MessageError(f"{where}.state: an entry needs a name and finite values")
            state[entry.name] = _state_value(entry)
        if o.name in out:
            raise MessageError(f"{where}: duplicate object name {o.name!r}")
        yaw = 2.0 * math.atan2(q.z, q.w)
        yaw = math.atan2(math.sin(yaw), math.cos(yaw))
        out[o.name] = ObjectInfo(
            o.name,
            o.category,
            Pose((p.x, p.y, p.z), yaw),
            (float(size[0]), float(size[1]), float(size[2])),
            o.colour,
            o.shape,
            state,
            parts,
        )
    return out


__all__ = [
    "CORRECTION_SOURCES",
    "CorrectionRequest",
    "MAX_CORRECTION_CHARS",
    "MAX_SCENE_OBJECTS",
    "MAX_TASK_CHARS",
    "STATES",
    "TERMINAL_STATES",
    "TRANSCRIPT_TYPES",
    "TaskRequest",
    "check_task_id",
    "clean_text",
    "correction_msg",
    "format_step",
    "from_time",
    "knowledge_item_msg",
    "knowledge_msg",
    "named_value",
    "new_task_id",
    "parse_correction",
    "parse_goal",
    "parse_scene",
    "plan_msg",
    "plan_step",
    "scene_msg",
    "scene_object_msg",
    "status_dict",
    "status_msg",
    "step_dict",
    "to_time",
    "transcript_msg",
    "value_of",
]
