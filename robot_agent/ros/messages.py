"""JSON payloads carried in ``std_msgs/String`` by the agent and sim nodes: schemas, encoders, validators.

Pure Python (no rclpy), so the rules are tested without ROS and shared by the nodes
and the operator console. Every parser either returns a validated value or raises
:class:`robot_agent.errors.MessageError` with a message that says what was wrong;
the nodes turn that into an error status, never a crash.

Topics and their payloads (``docs/ros.md`` has the full table):

* ``~/task`` (in): plain text, or ``{"task": str, "id": str}``.
* ``~/correction`` (in): plain text, or ``{"text": str, "source": str}``.
* ``~/status`` (out): :data:`STATUS_SCHEMA`.
* ``~/plan``, ``~/transcript``, ``~/knowledge`` (out): one JSON object per event.
* the scene topic: a JSON list of :meth:`skills.types.ObjectInfo.to_dict` objects.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from robot_agent.errors import MessageError
from skills.types import ObjectInfo

#: longest task sentence accepted (characters)
MAX_TASK_CHARS = 1000
#: longest correction accepted (characters)
MAX_CORRECTION_CHARS = 500
#: largest task/correction payload accepted (bytes, before parsing)
MAX_COMMAND_BYTES = 16 * 1024
#: largest scene payload accepted (bytes)
MAX_SCENE_BYTES = 4 * 1024 * 1024
#: agent states after which a task is over
TERMINAL_STATES = frozenset({"done", "failed", "stopped"})
#: every state the status topic reports (robot_agent.agent.AgentState values)
STATES = ("idle", "planning", "executing", "waiting", "done", "failed", "stopped")
#: identifier of the status payload layout; bump on incompatible change
STATUS_SCHEMA_ID = "robot_agent/status/1"
#: where a correction may come from; the episode log (robot_agent.episode_log.CORRECTION_SOURCES)
#: records exactly these, so the node refuses others rather than lose them at the log
CORRECTION_SOURCES = ("typed", "spoken", "simulated")

_TASK_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

TASK_SCHEMA: dict[str, Any] = {
    "title": "task (~/task)",
    "description": "Plain text, or a JSON object. An id lets a client follow its own task on ~/status.",
    "type": "object",
    "required": ["task"],
    "additionalProperties": False,
    "properties": {
        "task": {"type": "string", "minLength": 1, "maxLength": MAX_TASK_CHARS},
        "id": {"type": "string", "pattern": _TASK_ID.pattern},
    },
}

CORRECTION_SCHEMA: dict[str, Any] = {
    "title": "correction (~/correction)",
    "description": "Plain text, or a JSON object naming where it came from (typed, spoken, ...).",
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1, "maxLength": MAX_CORRECTION_CHARS},
        "source": {"enum": list(CORRECTION_SOURCES), "default": "typed"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}

STATUS_SCHEMA: dict[str, Any] = {
    "title": "status (~/status)",
    "description": "The agent's state machine and current step; latched (transient local, depth 1).",
    "type": "object",
    "required": ["schema", "stamp", "state", "ready", "task_id", "task", "step", "skill", "reason", "success",
                 "error"],
    "properties": {
        "schema": {"const": STATUS_SCHEMA_ID},
        "stamp": {"type": "number", "description": "seconds since the epoch"},
        "state": {"enum": list(STATES)},
        "ready": {"type": "boolean", "description": "connected to a live robot and the agent is built"},
        "task_id": {"type": ["string", "null"]},
        "task": {"type": ["string", "null"]},
        "step": {"type": ["integer", "null"], "description": "index of the plan step being executed"},
        "skill": {"type": ["object", "null"], "description": "{skill, args, params} of that step"},
        "result": {"type": ["object", "null"], "description": "{status, reason} of the last skill run"},
        "reason": {"type": "string", "description": "why the state is what it is (failures, stops)"},
        "success": {"type": ["boolean", "null"]},
        "error": {"type": ["string", "null"],
                  "description": "a refused input or a robot fault; the state is unchanged by it"},
        "corrections": {"type": "object", "description": "counts since the node started: received, dropped "
                                                         "(each drop is also on ~/transcript with its reason)"},
    },
}

SCENE_SCHEMA: dict[str, Any] = {
    "title": "scene (perception topic)",
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name", "category", "pose", "size"],
        "properties": {
            "name": {"type": "string"}, "category": {"type": "string"},
            "pose": {"type": "object", "required": ["position"],
                     "properties": {"position": {"type": "array", "items": {"type": "number"}, "minItems": 3,
                                                 "maxItems": 3},
                                    "yaw": {"type": "number"}}},
            "size": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
            "color": {"type": "string"}, "shape": {"type": "string"},
            "state": {"type": "object"}, "parts": {"type": "object"},
        },
    },
}

EVENT_SCHEMAS: dict[str, dict[str, Any]] = {
    "plan": {"title": "plan (~/plan)", "type": "object", "required": ["task_id", "plan"],
             "properties": {"task_id": {"type": ["string", "null"]}, "stamp": {"type": "number"},
                            "plan": {"type": "array", "items": {"type": "object",
                                                                "required": ["skill", "args", "params"]}},
                            "replanned": {"type": "boolean"}, "constraints": {"type": "array"}}},
    "transcript": {"title": "transcript (~/transcript)", "type": "object",
                   "required": ["task_id", "text", "source", "kind", "outcome"],
                   "properties": {"task_id": {"type": ["string", "null"]}, "stamp": {"type": "number"},
                                  "text": {"type": "string"},
                                  "source": {"type": "string"},
                                  "kind": {"type": "string", "description": "stop|skill|plan|confirm|unclear|none"},
                                  "summary": {"type": "string", "description": "what it was understood as"},
                                  "outcome": {"type": "string",
                                              "description": "applied|replanned|stopped|asked|refused|confirmed|"
                                                             "dropped: <why>"},
                                  "question": {"type": ["string", "null"]},
                                  "refusal": {"type": ["string", "null"]}}},
    "knowledge": {"title": "knowledge (~/knowledge)", "type": "object", "required": ["task_id", "event"],
                  "properties": {"task_id": {"type": ["string", "null"]}, "stamp": {"type": "number"},
                                 "event": {"enum": ["used", "distilled", "error", "saved"]},
                                 "id": {"type": "string"}, "kind": {"type": "string"}, "rule": {"type": "string"},
                                 "score": {"type": "number"}}},
}


# -- inputs ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TaskRequest:
    """A validated task: the sentence and the id its status messages will carry."""

    text: str
    task_id: str


@dataclass(frozen=True)
class CorrectionRequest:
    """A validated correction: the utterance, where it came from, and the recognizer's confidence."""

    text: str
    source: str = "typed"
    confidence: float | None = None


def new_task_id() -> str:
    """A short random task id."""
    return uuid.uuid4().hex[:12]


def _clean_text(value: Any, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise MessageError(f"{what}: expected a string, got {type(value).__name__}")
    text = _CONTROL.sub(" ", value).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise MessageError(f"{what}: empty")
    if len(text) > limit:
        raise MessageError(f"{what}: {len(text)} characters, the limit is {limit}")
    return text


def _loads(payload: str, what: str, prefix: str = "not JSON") -> Any:
    """``json.loads`` whose every failure is a :class:`MessageError` naming ``what``.

    Deeply nested input ("[[[[...") exhausts the decoder's recursion, and a number with
    thousands of digits is refused by ``int``: both are bad input, not crashes.
    """
    try:
        return json.loads(payload)
    except json.JSONDecodeError as exc:
        raise MessageError(f"{what}: {prefix}: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise MessageError(f"{what}: {prefix}: nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise MessageError(f"{what}: {prefix}: {exc}") from None


def _object_payload(payload: str, what: str) -> Any:
    """The payload as JSON when it looks like JSON (starts with ``{`` or ``[``), else None."""
    if len(payload.encode("utf-8", "replace")) > MAX_COMMAND_BYTES:
        raise MessageError(f"{what}: payload larger than {MAX_COMMAND_BYTES} bytes")
    head = payload.lstrip()[:1]
    if head not in ("{", "["):
        return None
    data = _loads(payload, what, "looks like JSON but does not parse")
    if not isinstance(data, dict):
        raise MessageError(f"{what}: expected a JSON object, got {type(data).__name__}")
    return data


def _check_keys(data: Mapping[str, Any], schema: Mapping[str, Any], what: str) -> None:
    allowed = set(schema["properties"])
    extra = sorted(set(data) - allowed)
    if extra:
        raise MessageError(f"{what}: unknown field(s) {', '.join(map(str, extra))}; "
                           f"allowed: {', '.join(sorted(allowed))}")
    missing = [k for k in schema["required"] if k not in data]
    if missing:
        raise MessageError(f"{what}: missing field(s) {', '.join(missing)}")


def parse_task(payload: str) -> TaskRequest:
    """Validate a ``~/task`` payload (plain text or :data:`TASK_SCHEMA`).

    Raises:
        MessageError: empty, too long, bad JSON, unknown fields or a malformed id.
    """
    if not isinstance(payload, str):
        raise MessageError(f"task: expected a string payload, got {type(payload).__name__}")
    data = _object_payload(payload, "task")
    if data is None:
        return TaskRequest(_clean_text(payload, "task", MAX_TASK_CHARS), new_task_id())
    _check_keys(data, TASK_SCHEMA, "task")
    text = _clean_text(data["task"], "task.task", MAX_TASK_CHARS)
    task_id = data.get("id", None)
    if task_id is None:
        task_id = new_task_id()
    elif not isinstance(task_id, str) or not _TASK_ID.match(task_id):
        raise MessageError(f"task.id: expected 1-64 characters of [A-Za-z0-9_.:-], got {task_id!r}")
    return TaskRequest(text, task_id)


def encode_task(text: str, task_id: str | None = None) -> str:
    """The ``~/task`` payload for a sentence (validated the way the node will)."""
    req = parse_task(json.dumps({"task": text, **({"id": task_id} if task_id else {})}))
    return json.dumps({"task": req.text, "id": req.task_id})


def parse_correction(payload: str) -> CorrectionRequest:
    """Validate a ``~/correction`` payload (plain text or :data:`CORRECTION_SCHEMA`).

    Raises:
        MessageError: empty, too long, bad JSON, unknown fields or a malformed source.
    """
    if not isinstance(payload, str):
        raise MessageError(f"correction: expected a string payload, got {type(payload).__name__}")
    data = _object_payload(payload, "correction")
    if data is None:
        return CorrectionRequest(_clean_text(payload, "correction", MAX_CORRECTION_CHARS))
    _check_keys(data, CORRECTION_SCHEMA, "correction")
    text = _clean_text(data["text"], "correction.text", MAX_CORRECTION_CHARS)
    source = data.get("source", "typed")
    if not isinstance(source, str) or source not in CORRECTION_SOURCES:
        raise MessageError(f"correction.source: expected one of {', '.join(CORRECTION_SOURCES)}, got {source!r}")
    conf = data.get("confidence")
    if conf is not None and (isinstance(conf, bool) or not isinstance(conf, (int, float))
                             or not math.isfinite(float(conf)) or not 0.0 <= float(conf) <= 1.0):
        raise MessageError(f"correction.confidence: expected a number in [0, 1], got {conf!r}")
    return CorrectionRequest(text, source, None if conf is None else float(conf))


def encode_correction(text: str, source: str = "typed", confidence: float | None = None) -> str:
    """The ``~/correction`` payload (validated the way the node will).

    Raises:
        MessageError: the text, source or confidence would be refused by the node.
    """
    body: dict[str, Any] = {"text": text, "source": source}
    if confidence is not None:
        body["confidence"] = confidence
    req = parse_correction(json.dumps(body))
    out: dict[str, Any] = {"text": req.text, "source": req.source}
    if req.confidence is not None:
        out["confidence"] = req.confidence
    return json.dumps(out)


# -- outputs -----------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    """Turn numpy scalars/arrays, enums and dataclasses into plain JSON values."""
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy arrays and scalars
        return tolist()
    return str(value)


def _finite(value: Any) -> Any:
    """Replace NaN/inf (not valid JSON) by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def dumps(obj: Any) -> str:
    """Compact, strict JSON (numpy values, enums and dataclasses converted; NaN becomes null)."""
    return json.dumps(_finite(json.loads(json.dumps(obj, default=_jsonable))), separators=(",", ":"),
                      allow_nan=False)


def status_payload(state: str, *, ready: bool = True, task_id: str | None = None, task: str | None = None,
                   step: int | None = None, skill: Mapping[str, Any] | None = None,
                   result: Mapping[str, Any] | None = None, reason: str = "", success: bool | None = None,
                   error: str | None = None, stamp: float | None = None,
                   corrections: Mapping[str, int] | None = None) -> dict[str, Any]:
    """A status dict following :data:`STATUS_SCHEMA`.

    Raises:
        MessageError: ``state`` is not one of :data:`STATES`.
    """
    if state not in STATES:
        raise MessageError(f"status.state: {state!r} is not one of {', '.join(STATES)}")
    return {"schema": STATUS_SCHEMA_ID, "stamp": time.time() if stamp is None else float(stamp), "state": state,
            "ready": bool(ready), "task_id": task_id, "task": task, "step": step,
            "skill": dict(skill) if skill is not None else None,
            "result": dict(result) if result is not None else None, "reason": str(reason or ""),
            "success": success, "error": error,
            "corrections": {str(k): int(v) for k, v in (corrections or {}).items()}}


def parse_status(payload: str) -> dict[str, Any]:
    """Read a ``~/status`` payload back (the console does).

    Raises:
        MessageError: not JSON, not an object, another schema, or an unknown state.
    """
    if not isinstance(payload, str):
        raise MessageError(f"status: expected a string payload, got {type(payload).__name__}")
    data = _loads(payload, "status")
    if not isinstance(data, dict):
        raise MessageError("status: expected a JSON object")
    if data.get("schema") != STATUS_SCHEMA_ID:
        raise MessageError(f"status: schema {data.get('schema')!r}, expected {STATUS_SCHEMA_ID!r}")
    missing = [k for k in STATUS_SCHEMA["required"] if k not in data]
    if missing:
        raise MessageError(f"status: missing field(s) {', '.join(missing)}")
    if data["state"] not in STATES:
        raise MessageError(f"status.state: {data['state']!r} is not one of {', '.join(STATES)}")
    return data


def parse_event(payload: str, kind: str) -> dict[str, Any]:
    """Read a ``~/plan``, ``~/transcript`` or ``~/knowledge`` payload back.

    Raises:
        MessageError: not a JSON object or a required field missing.
    """
    schema = EVENT_SCHEMAS.get(kind)
    if schema is None:
        raise MessageError(f"unknown event kind {kind!r}; valid: {', '.join(EVENT_SCHEMAS)}")
    if not isinstance(payload, str):
        raise MessageError(f"{kind}: expected a string payload, got {type(payload).__name__}")
    data = _loads(payload, kind)
    if not isinstance(data, dict):
        raise MessageError(f"{kind}: expected a JSON object")
    missing = [k for k in schema["required"] if k not in data]
    if missing:
        raise MessageError(f"{kind}: missing field(s) {', '.join(missing)}")
    return data


# -- scene -------------------------------------------------------------------------------------------
def encode_scene(objects: Iterable[ObjectInfo]) -> str:
    """The scene payload: a JSON list of :meth:`ObjectInfo.to_dict`."""
    return dumps([o.to_dict() for o in objects])


def parse_scene(payload: str) -> dict[str, ObjectInfo]:
    """Objects by name from a scene payload (:data:`SCENE_SCHEMA`).

    Raises:
        MessageError: not JSON, not a list, an object with missing or non-numeric fields,
            or a duplicate name; the message names the offending entry.
    """
    if not isinstance(payload, str):
        raise MessageError(f"scene: expected a string payload, got {type(payload).__name__}")
    if len(payload) > MAX_SCENE_BYTES:
        raise MessageError(f"scene: payload larger than {MAX_SCENE_BYTES} bytes")
    data = _loads(payload, "scene")
    if not isinstance(data, list):
        raise MessageError(f"scene: expected a JSON list of objects, got {type(data).__name__}")
    out: dict[str, ObjectInfo] = {}
    for i, item in enumerate(data):
        where = f"scene[{i}]"
        if not isinstance(item, dict):
            raise MessageError(f"{where}: expected an object, got {type(item).__name__}")
        missing = [k for k in SCENE_SCHEMA["items"]["required"] if k not in item]
        if missing:
            raise MessageError(f"{where}: missing field(s) {', '.join(missing)}")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise MessageError(f"{where}.name: expected a non-empty string, got {name!r}")
        where = f"scene[{i}] ({name})"
        pose = item.get("pose")
        if not isinstance(pose, dict) or not _numbers(pose.get("position"), 3):
            raise MessageError(f"{where}.pose.position: expected 3 finite numbers, got "
                               f"{pose.get('position') if isinstance(pose, dict) else pose!r}")
        if "yaw" in pose and not _numbers([pose["yaw"]], 1):
            raise MessageError(f"{where}.pose.yaw: expected a finite number, got {pose['yaw']!r}")
        if not _numbers(item.get("size"), 3):
            raise MessageError(f"{where}.size: expected 3 finite numbers, got {item.get('size')!r}")
        parts = item.get("parts", {})
        if not isinstance(parts, dict) or not all(_numbers(v, 3) for v in parts.values()):
            raise MessageError(f"{where}.parts: expected a mapping of part name to 3 numbers")
        if not isinstance(item.get("state", {}), dict):
            raise MessageError(f"{where}.state: expected a mapping")
        if name in out:
            raise MessageError(f"{where}: duplicate object name {name!r}")
        try:
            out[name] = ObjectInfo.from_dict(item)
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageError(f"{where}: {exc}") from None
    return out


def _numbers(value: Any, n: int) -> bool:
    return (isinstance(value, (list, tuple)) and len(value) == n
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
                    for v in value))


__all__ = [
    "CORRECTION_SCHEMA", "CORRECTION_SOURCES", "CorrectionRequest", "EVENT_SCHEMAS", "MAX_CORRECTION_CHARS",
    "MAX_TASK_CHARS",
    "SCENE_SCHEMA", "STATES", "STATUS_SCHEMA", "STATUS_SCHEMA_ID", "TASK_SCHEMA", "TERMINAL_STATES",
    "TaskRequest", "dumps", "encode_correction", "encode_scene", "encode_task", "new_task_id", "parse_correction",
    "parse_event", "parse_scene", "parse_status", "parse_task", "status_payload",
]
