"""What an episode log holds: its topics, their message types, and the JSON payload schema.

Semantic events go on ``/episode/*`` topics as ``std_msgs/msg/String`` holding one JSON object
each, with a ``"schema": "robot_agent/<name>/v1"`` field; joint states and camera frames use
``sensor_msgs/msg/JointState`` and ``sensor_msgs/msg/Image`` (rgb8). ``docs/episode_log.md``
documents every field.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from robot_agent.deps import require
from robot_agent.errors import EpisodeLogError

#: version of the JSON payload schema written by this package
SCHEMA_VERSION = 1
#: payload schema versions this package can read
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
#: prefix of every payload's ``schema`` field: ``robot_agent/<name>/v<version>``
SCHEMA_PREFIX = "robot_agent"
#: the ROS 2 distribution whose message definitions the logs carry
ROS_DISTRO = "kilted"

META_TOPIC = "/episode/meta"
TASK_TOPIC = "/episode/task"
PLAN_TOPIC = "/episode/plan"
SKILL_CALL_TOPIC = "/episode/skill_call"
SKILL_RESULT_TOPIC = "/episode/skill_result"
CORRECTION_TOPIC = "/episode/correction"
UNDERSTOOD_TOPIC = "/episode/understood"
KNOWLEDGE_TOPIC = "/episode/knowledge"
OUTCOME_TOPIC = "/episode/outcome"
JOINT_STATES_TOPIC = "/joint_states"
IMAGE_TOPIC = "/camera/image_raw"

STRING_TYPE = "std_msgs/msg/String"
JOINT_STATE_TYPE = "sensor_msgs/msg/JointState"
IMAGE_TYPE = "sensor_msgs/msg/Image"

#: JSON event topics and the payload keys each must carry (besides ``schema``)
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    META_TOPIC: ("schema_version", "episode_id", "start_time_ns"),
    TASK_TOPIC: ("text",),
    PLAN_TOPIC: ("steps",),
    SKILL_CALL_TOPIC: ("skill", "args", "params"),
    SKILL_RESULT_TOPIC: ("skill", "success"),
    CORRECTION_TOPIC: ("text", "source", "received_ns"),
    UNDERSTOOD_TOPIC: ("text", "kind"),
    KNOWLEDGE_TOPIC: ("used", "distilled"),
    OUTCOME_TOPIC: ("success", "corrections", "duration_s"),
}
#: the JSON event topics, in the order they are declared in a bag
EVENT_TOPICS: tuple[str, ...] = tuple(EVENT_FIELDS)
#: the sensor topics
SENSOR_TOPICS: tuple[str, ...] = (JOINT_STATES_TOPIC, IMAGE_TOPIC)
#: message type of every topic an episode log declares, in declaration order
TOPIC_TYPES: dict[str, str] = {
    **{t: STRING_TYPE for t in EVENT_TOPICS},
    JOINT_STATES_TOPIC: JOINT_STATE_TYPE,
    IMAGE_TOPIC: IMAGE_TYPE,
}
#: how a correction can reach the robot
CORRECTION_SOURCES = ("typed", "spoken", "simulated")

#: the file that marks a log as being recorded; the writer holds an flock on it
LOCK_NAME = "recording.lock"
METADATA_NAME = "metadata.yaml"
#: ``custom_data`` keys in metadata.yaml start with this
CUSTOM_PREFIX = "robot_agent."


def event_kind(topic: str) -> str:
    """Short name of a topic: ``/episode/skill_call`` -> ``skill_call``, ``/camera/image_raw`` -> ``image``."""
    if topic == IMAGE_TOPIC:
        return "image"
    return topic.rstrip("/").rsplit("/", 1)[-1]


def schema_name(topic: str, version: int = SCHEMA_VERSION) -> str:
    """The ``schema`` value of a payload on ``topic``, e.g. ``robot_agent/skill_call/v1``."""
    return f"{SCHEMA_PREFIX}/{event_kind(topic)}/v{version}"


@functools.lru_cache(maxsize=1)
def typestore() -> Any:
    """The rosbags typestore of the ROS 2 distribution the logs use (built once)."""
    typesys = require("rosbags.typesys", "episode logs")
    return typesys.get_typestore(typesys.Stores.ROS2_KILTED)


def _schema_version(where: str, topic: str, schema: Any) -> int:
    prefix = f"{SCHEMA_PREFIX}/{event_kind(topic)}/v"
    if not isinstance(schema, str) or not schema.startswith(prefix) or not schema[len(prefix) :].isdigit():
        raise EpisodeLogError(
            f"{where}: {topic} payload has schema {schema!r}, expected {prefix}<version>; not a robot_agent episode log"
        )
    return int(schema[len(prefix) :])


def check_meta_payload(where: str, payload: Any) -> dict[str, Any]:
    """Validate a decoded ``/episode/meta`` payload; returns it.

    Raises:
        EpisodeLogError: not ours, a schema version this package cannot read, or a field missing.
    """
    if not isinstance(payload, dict):
        raise EpisodeLogError(f"{where}: {META_TOPIC} is not a JSON object")
    version = _schema_version(where, META_TOPIC, payload.get("schema"))
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise EpisodeLogError(
            f"{where}: episode log schema version {version} is not supported by this robot_agent "
            f"(it reads version(s) {', '.join(map(str, sorted(SUPPORTED_SCHEMA_VERSIONS)))})"
        )
    missing = [k for k in EVENT_FIELDS[META_TOPIC] if k not in payload]
    if missing:
        raise EpisodeLogError(f"{where}: {META_TOPIC} lacks {', '.join(missing)}")
    return payload


def decode_event(where: str, topic: str, raw: bytes) -> dict[str, Any]:
    """Decode the CDR ``std_msgs/String`` of an ``/episode/*`` message into its JSON payload.

    Args:
        where: the file, for error messages.
        topic: the topic it came on.
        raw: the CDR bytes.

    Raises:
        EpisodeLogError: damaged CDR or JSON, not a JSON object, or a schema this package
            cannot read.
    """
    try:
        text = typestore().deserialize_cdr(raw, STRING_TYPE).data
        payload = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - damaged CDR or JSON can fail in many ways
        raise EpisodeLogError(f"{where}: a {topic} message is damaged ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict):
        raise EpisodeLogError(f"{where}: a {topic} message is not a JSON object")
    if topic == META_TOPIC:
        return check_meta_payload(where, payload)
    if topic in EVENT_FIELDS:
        version = _schema_version(where, topic, payload.get("schema"))
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            raise EpisodeLogError(f"{where}: {topic} payload schema version {version} is not supported")
    return payload
