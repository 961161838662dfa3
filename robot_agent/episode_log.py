"""Episode logs: standard rosbag2 directories (MCAP storage) written and read with ``rosbags``.

One episode is one rosbag2 directory::

    <log>/metadata.yaml      rosbag2 metadata (written when the episode closes)
    <log>/<log>.mcap         the messages
    <log>/recording.lock     present only while the episode is recorded (or after a crash)

Semantic events go on ``/episode/*`` topics as ``std_msgs/msg/String`` holding one JSON object
each, with a ``"schema": "robot_agent/<name>/v1"`` field; joint states and camera frames use the
standard ``sensor_msgs/msg/JointState`` and ``sensor_msgs/msg/Image`` (rgb8). The schema is
documented in ``docs/episode_log.md``.

Crash safety: every message is written as its own MCAP chunk and handed to the operating
system at once (semantic events are also ``fsync``-ed), so a process killed at any point leaves
an MCAP file whose complete chunks hold everything logged so far; only the summary, the footer
and ``metadata.yaml`` are missing. :func:`recover` (run by :class:`EpisodeLogReader` when it
meets such a log) reads the chunks in order up to the first damaged byte and rewrites a proper,
finished bag, marked as recovered in its ``metadata.yaml``.

Example::

    with EpisodeLogWriter(path, "ep-0001", meta={"task": task, "scene": "tabletop"}) as log:
        log.task(task)
        log.plan(["pick(red_block)", "place(red_block, drawer)"])
        ...
    for event in EpisodeLogReader(path).events(EVENT_TOPICS):
        print(event.t_ns, event.kind, event.data)
"""

from __future__ import annotations

import dataclasses
import enum
import fcntl
import functools
import json
import logging
import math
import mmap
import os
import shutil
import socket
import threading
import time
from binascii import crc32
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import yaml

from robot_agent.deps import require
from robot_agent.errors import EpisodeLogError

log = logging.getLogger(__name__)

#: version of the JSON payload schema written by this module
SCHEMA_VERSION = 1
#: payload schema versions this module can read
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
#: message type of every topic an episode log declares
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
#: ``custom_data`` keys in metadata.yaml
CUSTOM_PREFIX = "robot_agent."

_MCAP_MAGIC = b"\x89MCAP0\r\n"
# Largest chunk the salvage scanner will inflate: bounds memory on garbage sizes. Our chunks
# hold one message each (a 1080p rgb8 frame is ~6 MiB).
_MAX_CHUNK_BYTES = 1 << 28


def event_kind(topic: str) -> str:
    """Short name of a topic: ``/episode/skill_call`` -> ``skill_call``, ``/camera/image_raw`` -> ``image``."""
    if topic == IMAGE_TOPIC:
        return "image"
    return topic.rstrip("/").rsplit("/", 1)[-1]


def schema_name(topic: str, version: int = SCHEMA_VERSION) -> str:
    """The ``schema`` value of a payload on ``topic``, e.g. ``robot_agent/skill_call/v1``."""
    return f"{SCHEMA_PREFIX}/{event_kind(topic)}/v{version}"


def _typestore() -> Any:
    typesys = require("rosbags.typesys", "episode logs")
    return typesys.get_typestore(typesys.Stores.ROS2_KILTED)


# --------------------------------------------------------------------------------------------
# JSON payloads


def _jsonable(obj: Any, where: str) -> Any:
    """A JSON-ready copy of ``obj``: dataclasses, enums, numpy, paths and tuples are converted.

    Non-finite floats become ``None`` (JSON has no NaN). Objects with a ``to_dict()`` method
    (``Pose``, ``SkillResult``...) are logged through it.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return _jsonable(obj.value, where)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), where)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(items)]
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return _jsonable(to_dict(), where)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return _jsonable(dataclasses.asdict(obj), where)
    raise TypeError(f"cannot log a {type(obj).__name__} at {where}: use JSON types, numpy, "
                    f"dataclasses or objects with to_dict()")


# --------------------------------------------------------------------------------------------
# Writing


@functools.lru_cache(maxsize=1)
def _flushing_mcap_writer_class() -> type:
    """A rosbags ``McapWriter`` that closes a chunk after every message and flushes it to the OS.

    rosbags buffers up to 1 MiB per chunk in memory and writes the chunk index, summary and
    footer only on close; a killed process would lose the buffered chunk. One chunk per
    message (about 150 bytes of overhead each) makes every logged message durable against a
    process crash as soon as ``write`` returns.
    """
    storage_mcap = require("rosbags.rosbag2.storage_mcap", "episode logs")
    base = storage_mcap.McapWriter
    if not callable(getattr(base, "close_chunk", None)):
        raise RuntimeError("rosbags McapWriter has no close_chunk(); episode_log is written for rosbags==0.11.9")

    class FlushingMcapWriter(base):  # type: ignore[misc, valid-type]
        def write(self, connection: Any, timestamp: int, data: Any) -> None:
            super().write(connection, timestamp, data)
            if self.chunk.bio.tell():  # super() already closed it when it passed 1 MiB
                self.close_chunk()
            self.bio.flush()

        def sync(self) -> None:
            self.bio.flush()
            os.fsync(self.bio.fileno())

    return FlushingMcapWriter


def _episode_bag_writer(path: Path) -> Any:
    rosbag2 = require("rosbags.rosbag2", "episode logs")

    class EpisodeBagWriter(rosbag2.Writer):  # type: ignore[misc, valid-type]
        STORAGE_PLUGINS = {rosbag2.StoragePlugin.MCAP: _flushing_mcap_writer_class()}

    return EpisodeBagWriter(path, version=9, storage_plugin=rosbag2.StoragePlugin.MCAP)


class EpisodeLogWriter:
    """Writes one episode as a rosbag2 directory with MCAP storage. Use it as a context manager.

    Every method takes an optional ``t_ns`` (nanoseconds, same clock for the whole episode;
    default: the writer's ``clock``). Every message's bag timestamp is its ``t_ns``, and the
    header stamps of joint states and images are set to it too. Methods are thread-safe.

    Joint states and camera frames are rate limited: a message is written only if its ``t_ns``
    is at least ``1 / max_hz`` after the last *written* one of its stream (the first is always
    written); others are skipped, the method returns ``False``, and the skipped counts end up
    in ``metadata.yaml`` (``custom_data``).

    Args:
        path: the bag directory to create; it must not exist.
        episode_id: a unique id for the episode.
        meta: what the ``/episode/meta`` message carries besides the schema fields, e.g.
            ``task``, ``scene``, ``robot``, ``config`` (a summary). JSON-able values.
        image_max_hz: most camera frames per second to keep; ``None`` keeps all.
        joint_state_max_hz: most joint states per second to keep; ``None`` keeps all.
        compress: zstd-compress the MCAP chunks (readable by every MCAP/rosbag2 tool).
        fsync: ``fsync`` after each semantic event, so it also survives a power cut (a
            process crash loses nothing either way).
        clock: the clock used when ``t_ns`` is not given; returns nanoseconds.
        start_ns: the episode's start time for ``/episode/meta`` (default: ``clock()`` at open).

    Raises:
        EpisodeLogError: the path exists already.
        ValueError: a bad episode id or rate.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        episode_id: str,
        *,
        meta: Mapping[str, Any] | None = None,
        image_max_hz: float | None = 5.0,
        joint_state_max_hz: float | None = 50.0,
        compress: bool = True,
        fsync: bool = True,
        clock: Callable[[], int] = time.time_ns,
        start_ns: int | None = None,
    ) -> None:
        if not isinstance(episode_id, str) or not episode_id.strip():
            raise ValueError("episode_id must be a non-empty string")
        for name, rate in (("image_max_hz", image_max_hz), ("joint_state_max_hz", joint_state_max_hz)):
            if rate is not None and not (math.isfinite(rate) and rate > 0):
                raise ValueError(f"{name} must be a positive number or None, got {rate!r}")
        self.path = Path(path)
        self.episode_id = episode_id
        self.image_max_hz = image_max_hz
        self.joint_state_max_hz = joint_state_max_hz
        self._meta = _jsonable(dict(meta or {}), "meta")
        self._compress = compress
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self._bag: Any = None
        self._lock_file: Any = None
        self._conns: dict[str, Any] = {}
        self._typestore: Any = None
        self._start_ns = 0 if start_ns is None else self._now(start_ns)
        self._explicit_start = start_ns is not None
        self._last_ns: dict[str, int] = {}
        self._period_ns = {
            IMAGE_TOPIC: 0 if image_max_hz is None else round(1e9 / image_max_hz),
            JOINT_STATES_TOPIC: 0 if joint_state_max_hz is None else round(1e9 / joint_state_max_hz),
        }
        #: messages written per topic
        self.counts: dict[str, int] = {t: 0 for t in TOPIC_TYPES}
        #: sensor messages skipped by the rate limit, per topic
        self.skipped: dict[str, int] = {t: 0 for t in SENSOR_TOPICS}
        self.closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> EpisodeLogWriter:
        """Create the bag directory, declare all topics and write ``/episode/meta``.

        Returns:
            self.

        Raises:
            EpisodeLogError: the path exists already.
        """
        if self._bag is not None or self.closed:
            raise RuntimeError(f"episode log {self.path} was opened already")
        if self.path.exists():
            raise EpisodeLogError(f"{self.path}: exists already; episode logs are never overwritten")
        rosbag2 = require("rosbags.rosbag2", "episode logs")
        self._typestore = _typestore()
        bag = _episode_bag_writer(self.path)
        if self._compress:
            bag.set_compression(rosbag2.CompressionMode.STORAGE, rosbag2.CompressionFormat.ZSTD)
        try:
            bag.open()
        except rosbag2.WriterError as exc:
            raise EpisodeLogError(f"{self.path}: cannot create the episode log: {exc}") from exc
        self._bag = bag
        try:
            self._lock_file = _create_lock(self.path, {
                "pid": os.getpid(), "host": socket.gethostname(), "episode_id": self.episode_id,
                "started_ns": time.time_ns()})
            for topic, msgtype in TOPIC_TYPES.items():
                self._conns[topic] = bag.add_connection(topic, msgtype, typestore=self._typestore)
            if not self._explicit_start:
                self._start_ns = self._now(None)
            payload = {**self._meta, "schema_version": SCHEMA_VERSION, "episode_id": self.episode_id,
                       "start_time_ns": self._start_ns, "ros_distro": ROS_DISTRO}
            self._write_event(META_TOPIC, payload, self._start_ns)
        except BaseException:
            self._abort()
            raise
        log.debug("recording episode %s to %s", self.episode_id, self.path)
        return self

    def close(self) -> None:
        """Finish the bag: MCAP summary and footer, then ``metadata.yaml``. Idempotent."""
        with self._lock:
            if self._bag is None:
                self.closed = True
                return
            bag, self._bag = self._bag, None
            self.closed = True
            custom = {
                "schema_version": str(SCHEMA_VERSION),
                "episode_id": self.episode_id,
                "image_max_hz": "" if self.image_max_hz is None else repr(float(self.image_max_hz)),
                "joint_state_max_hz": "" if self.joint_state_max_hz is None else repr(float(self.joint_state_max_hz)),
                "images_skipped": str(self.skipped[IMAGE_TOPIC]),
                "joint_states_skipped": str(self.skipped[JOINT_STATES_TOPIC]),
            }
            for key, value in custom.items():
                bag.set_custom_data(CUSTOM_PREFIX + key, value)
            try:
                bag.close()
            except BaseException:
                self._lock_file.close()  # keep the lock file: the partial log stays recoverable
                self._lock_file = None
                raise
            _release_lock(self.path, self._lock_file)
            self._lock_file = None
        log.debug("closed episode log %s (%d messages)", self.path, sum(self.counts.values()))

    def _abort(self) -> None:
        bag, self._bag = self._bag, None
        self.closed = True
        if bag is not None:
            bag.abort()
        if self._lock_file is not None:
            self._lock_file.close()  # keep the lock file: the partial log stays recoverable
            self._lock_file = None

    def __enter__(self) -> EpisodeLogWriter:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        # Close properly even when the episode raised: the log of what happened is kept.
        if exc is not None:
            log.warning("episode %s ended with %s: %s; closing its log", self.episode_id,
                        type(exc).__name__, exc)
        self.close()

    # -- semantic events ---------------------------------------------------------------------

    def task(self, text: str, *, t_ns: int | None = None, **extra: Any) -> None:
        """The task the operator gave, as text."""
        self.write_event(TASK_TOPIC, {**extra, "text": str(text)}, t_ns=t_ns)

    def plan(self, steps: Sequence[Any], *, reason: str = "", t_ns: int | None = None, **extra: Any) -> None:
        """A (re)plan: the list of skill-call steps, in order.

        Args:
            steps: the steps, e.g. ``["pick(red_block)", ...]`` or dicts with skill/args/params.
            reason: why the plan was made ("initial", "correction: ...").
            t_ns: timestamp (ns).
            **extra: more JSON fields (e.g. ``revision``, ``constraints``).
        """
        self.write_event(PLAN_TOPIC, {**extra, "steps": list(steps), "reason": reason}, t_ns=t_ns)

    def skill_call(self, skill: str, args: Mapping[str, Any], params: Mapping[str, Any], *,
                   step: int | None = None, t_ns: int | None = None, **extra: Any) -> None:
        """A skill about to run, with its arguments (objects) and parameters (after knowledge)."""
        self.write_event(SKILL_CALL_TOPIC, {**extra, "skill": skill, "args": dict(args),
                                            "params": dict(params), "step": step}, t_ns=t_ns)

    def skill_result(self, skill: str, result: Any, *, step: int | None = None,
                     t_ns: int | None = None, **extra: Any) -> None:
        """How a skill ended.

        Args:
            skill: the skill name.
            result: a ``skills.result.SkillResult`` (or a mapping with ``status``, ``reason``,
                ``facts``), or a bool.
            step: index of the plan step.
            t_ns: timestamp (ns).
            **extra: more JSON fields.
        """
        if isinstance(result, (bool, np.bool_)):
            body: dict[str, Any] = {"status": "succeeded" if result else "failed", "reason": "", "facts": {}}
        else:
            body = _jsonable(result, "skill_result")
            if not isinstance(body, dict):
                raise TypeError(f"skill_result expects a SkillResult, a mapping or a bool, got {type(result).__name__}")
        success = bool(getattr(result, "ok", body.get("success", body.get("status") == "succeeded")))
        self.write_event(SKILL_RESULT_TOPIC, {**extra, **body, "skill": skill, "success": success, "step": step},
                         t_ns=t_ns)

    def correction(self, text: str, source: str = "typed", *, received_ns: int | None = None,
                   t_ns: int | None = None, **extra: Any) -> None:
        """An operator correction as it arrived.

        Args:
            text: the correction text (the transcript for spoken ones).
            source: ``"typed"`` or ``"spoken"``.
            received_ns: when it was received (default: ``t_ns``).
            t_ns: timestamp (ns).
            **extra: more JSON fields (e.g. ``audio_s``, ``asr_confidence``).

        Raises:
            ValueError: an unknown source.
        """
        if source not in CORRECTION_SOURCES:
            raise ValueError(f"correction source must be one of {CORRECTION_SOURCES}, got {source!r}")
        t = self._now(t_ns)
        self.write_event(CORRECTION_TOPIC, {**extra, "text": str(text), "source": source,
                                            "received_ns": int(t if received_ns is None else received_ns)}, t_ns=t)

    def understood(self, text: str, kind: str, *, t_ns: int | None = None, **details: Any) -> None:
        """How a correction was understood.

        Args:
            text: the correction text it refers to.
            kind: its class, e.g. ``plan``, ``skill``, ``stop``, ``confirm``.
            t_ns: timestamp (ns).
            **details: e.g. ``skill``, ``param_delta``, ``constraint``, ``target``.
        """
        self.write_event(UNDERSTOOD_TOPIC, {**details, "text": str(text), "kind": str(kind)}, t_ns=t_ns)

    def knowledge(self, *, used: Sequence[Any] = (), distilled: Sequence[Any] = (),
                  t_ns: int | None = None, **extra: Any) -> None:
        """Knowledge items retrieved and used, and/or items distilled after the task."""
        self.write_event(KNOWLEDGE_TOPIC, {**extra, "used": list(used), "distilled": list(distilled)}, t_ns=t_ns)

    def outcome(self, success: bool, *, corrections: int | None = None, duration_s: float | None = None,
                reason: str = "", t_ns: int | None = None, **extra: Any) -> None:
        """The end of the episode.

        Args:
            success: whether the task succeeded.
            corrections: number of corrections (default: those logged with :meth:`correction`).
            duration_s: episode duration (default: from the meta start time to ``t_ns``).
            reason: why it ended so.
            t_ns: timestamp (ns).
            **extra: more JSON fields.
        """
        t = self._now(t_ns)
        n = self.counts[CORRECTION_TOPIC] if corrections is None else int(corrections)
        dur = (t - self._start_ns) / 1e9 if duration_s is None else float(duration_s)
        self.write_event(OUTCOME_TOPIC, {**extra, "success": bool(success), "corrections": n,
                                         "duration_s": dur, "reason": reason}, t_ns=t)

    def write_event(self, topic: str, payload: Mapping[str, Any], *, t_ns: int | None = None) -> None:
        """Write a JSON event on one of :data:`EVENT_TOPICS` (adds the ``schema`` field).

        Raises:
            ValueError: an unknown topic or a missing payload field.
            TypeError: a value that cannot be written as JSON.
            RuntimeError: the writer is not open.
        """
        if topic not in EVENT_FIELDS or topic == META_TOPIC:
            raise ValueError(f"unknown event topic {topic!r}; valid: {', '.join(EVENT_TOPICS[1:])}")
        self._write_event(topic, payload, self._now(t_ns))

    def _write_event(self, topic: str, payload: Mapping[str, Any], t_ns: int) -> None:
        missing = [k for k in EVENT_FIELDS[topic] if k not in payload]
        if missing:
            raise ValueError(f"{topic} payload lacks {', '.join(missing)}")
        fields = _jsonable(payload, event_kind(topic))
        fields.pop("schema", None)  # the schema is the writer's to state
        body = {"schema": schema_name(topic), **fields}
        text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        msg = self._typestore.types[STRING_TYPE](data=text)
        self._write(topic, msg, t_ns, sync=self._fsync)

    # -- sensors -----------------------------------------------------------------------------

    def joint_state(self, names: Sequence[str], positions: Sequence[float] | np.ndarray,
                    velocities: Sequence[float] | np.ndarray | None = None,
                    efforts: Sequence[float] | np.ndarray | None = None, *, t_ns: int | None = None) -> bool:
        """A ``sensor_msgs/JointState``, subject to ``joint_state_max_hz``.

        Returns:
            True if written, False if skipped by the rate limit.

        Raises:
            ValueError: arrays of different lengths.
        """
        t = self._now(t_ns)
        pos = np.asarray(positions, dtype=np.float64).reshape(-1)
        vel = np.asarray(velocities if velocities is not None else [], dtype=np.float64).reshape(-1)
        eff = np.asarray(efforts if efforts is not None else [], dtype=np.float64).reshape(-1)
        if len(pos) != len(names) or len(vel) not in (0, len(names)) or len(eff) not in (0, len(names)):
            raise ValueError(f"joint_state: {len(names)} names but {len(pos)} positions, "
                             f"{len(vel)} velocities, {len(eff)} efforts")
        if not self._admit(JOINT_STATES_TOPIC, t):
            return False
        types = self._typestore.types
        msg = types[JOINT_STATE_TYPE](header=self._header(t, ""), name=[str(n) for n in names],
                                      position=pos, velocity=vel, effort=eff)
        self._write(JOINT_STATES_TOPIC, msg, t, sync=False)
        return True

    def image(self, rgb: np.ndarray, *, t_ns: int | None = None, frame_id: str = "camera") -> bool:
        """A camera frame as ``sensor_msgs/Image`` (rgb8), subject to ``image_max_hz``.

        Args:
            rgb: ``H x W x 3`` uint8 (``H x W x 4`` RGBA is accepted; alpha is dropped).
            t_ns: timestamp (ns).
            frame_id: the camera's frame.

        Returns:
            True if written, False if skipped by the rate limit.

        Raises:
            ValueError: not an RGB(A) uint8 image.
        """
        t = self._now(t_ns)
        arr = np.asarray(rgb)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.dtype != np.uint8:
            raise ValueError(f"image must be HxWx3 (or HxWx4) uint8, got shape {arr.shape} {arr.dtype}")
        if not self._admit(IMAGE_TOPIC, t):
            return False
        arr = np.ascontiguousarray(arr[:, :, :3])
        height, width = arr.shape[:2]
        msg = self._typestore.types[IMAGE_TYPE](
            header=self._header(t, frame_id), height=height, width=width, encoding="rgb8",
            is_bigendian=0, step=width * 3, data=arr.reshape(-1))
        self._write(IMAGE_TOPIC, msg, t, sync=False)
        return True

    # -- internals ---------------------------------------------------------------------------

    def _now(self, t_ns: int | None) -> int:
        if t_ns is None:
            return int(self._clock())
        if isinstance(t_ns, bool) or not isinstance(t_ns, (int, np.integer)) or t_ns < 0:
            raise ValueError(f"t_ns must be a non-negative integer of nanoseconds, got {t_ns!r}")
        return int(t_ns)

    def _admit(self, topic: str, t_ns: int) -> bool:
        with self._lock:
            last = self._last_ns.get(topic)
            if last is not None and t_ns - last < self._period_ns[topic]:
                self.skipped[topic] += 1
                return False
            self._last_ns[topic] = t_ns
            return True

    def _header(self, t_ns: int, frame_id: str) -> Any:
        types = self._typestore.types
        stamp = types["builtin_interfaces/msg/Time"](sec=t_ns // 1_000_000_000, nanosec=t_ns % 1_000_000_000)
        return types["std_msgs/msg/Header"](stamp=stamp, frame_id=frame_id)

    def _write(self, topic: str, msg: Any, t_ns: int, *, sync: bool) -> None:
        raw = self._typestore.serialize_cdr(msg, TOPIC_TYPES[topic])
        with self._lock:
            if self._bag is None:
                raise RuntimeError(f"episode log {self.path} is not open")
            self._bag.write(self._conns[topic], t_ns, raw)
            if sync:
                self._bag.storage.sync()
            self.counts[topic] += 1


def _create_lock(path: Path, info: Mapping[str, Any]) -> Any:
    """Create ``recording.lock`` in ``path`` and hold an exclusive flock on it."""
    handle = (path / LOCK_NAME).open("w", encoding="utf8")
    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    handle.write(json.dumps(dict(info)) + "\n")
    handle.flush()
    os.fsync(handle.fileno())
    return handle


def _release_lock(path: Path, handle: Any) -> None:
    (path / LOCK_NAME).unlink(missing_ok=True)
    handle.close()


def _try_lock(path: Path) -> Any | None:
    """Open and flock ``path/recording.lock`` (created if missing); None if another holds it."""
    handle = (path / LOCK_NAME).open("a", encoding="utf8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _is_locked(path: Path) -> bool:
    """Whether a live writer holds ``path/recording.lock``."""
    try:
        handle = (path / LOCK_NAME).open("rb")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


# --------------------------------------------------------------------------------------------
# Salvage scanner: reads an MCAP file record by record, with bounds checks, up to the first
# damaged byte. Used for unfinished (crashed or live) logs and to validate finished ones.


class _Malformed(Exception):
    """A record is damaged; carries what is wrong."""


class _Cursor:
    """Bounds-checked little-endian reads from a bytes-like object."""

    def __init__(self, buf: Any, pos: int = 0, end: int | None = None) -> None:
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    def take(self, n: int) -> Any:
        if n < 0 or n > self.end - self.pos:
            raise _Malformed(f"field of {n} bytes runs past its record")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "little")

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "little")

    def string(self) -> str:
        try:
            return bytes(self.take(self.u32())).decode("utf8")
        except UnicodeDecodeError as exc:
            raise _Malformed(f"string is not UTF-8: {exc}") from None


@dataclass
class _Channel:
    topic: str
    msgtype: str
    encoding: str


class _McapScan:
    """One pass over an MCAP file's records, yielding messages in file order.

    After iterating :meth:`messages`, ``stop_reason`` says why the scan ended early (None when
    the data section ended cleanly) and ``finished`` whether a footer/data-end was reached.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, _Channel] = {}
        self.stop_reason: str | None = None
        self.stop_offset: int | None = None
        self.finished = False
        self.size = 0
        self.good_end = 0  # offset just past the last intact record

    def messages(self, want: Callable[[str], bool] = lambda _t: True) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(channel_id, log_time_ns, cdr_bytes)`` for channels whose topic ``want`` accepts.

        Raises:
            EpisodeLogError: the file cannot be opened or is not an MCAP file at all.
        """
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise EpisodeLogError(f"{self.path}: cannot open: {exc.strerror or exc}") from exc
        with handle:
            self.size = os.fstat(handle.fileno()).st_size
            if self.size == 0:
                raise EpisodeLogError(f"{self.path}: empty file (the recording wrote nothing)")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                if self.size < 8 or data[:8] != _MCAP_MAGIC:
                    raise EpisodeLogError(f"{self.path}: not an MCAP file (bad magic bytes)")
                yield from self._records(data, want)

    def _records(self, data: Any, want: Callable[[str], bool]) -> Iterator[tuple[int, int, bytes]]:
        pos = 8
        n = len(data)
        self.good_end = pos
        while pos < n:
            if n - pos < 9:
                self._stop(pos, "truncated record header")
                return
            op = data[pos]
            length = int.from_bytes(data[pos + 1:pos + 9], "little")
            if length > n - pos - 9:
                self._stop(pos, f"truncated record (opcode 0x{op:02x}, {length} bytes, "
                                f"{n - pos - 9} left in the file)")
                return
            if op in (0x02, 0x0F):  # footer / data end: the data section is complete
                self.finished = True
                self.good_end = pos
                return
            body = memoryview(data)[pos + 9:pos + 9 + length]
            try:
                out = list(self._record(op, body, want, in_chunk=False))
            except _Malformed as exc:
                self._stop(pos, f"damaged record (opcode 0x{op:02x}): {exc}")
                return
            finally:
                body.release()
            yield from out
            pos += 9 + length
            self.good_end = pos

    def _stop(self, pos: int, reason: str) -> None:
        self.stop_offset = pos
        self.stop_reason = f"{reason} at byte {pos} of {self.size}"

    def _record(self, op: int, body: Any, want: Callable[[str], bool],
                in_chunk: bool) -> Iterator[tuple[int, int, bytes]]:
        cur = _Cursor(body)
        if op == 0x01:  # header
            if in_chunk:
                raise _Malformed("header record inside a chunk")
            profile = cur.string()
            if profile != "ros2":
                raise _Malformed(f"MCAP profile is {profile!r}, not 'ros2'")
        elif op == 0x03:  # schema
            sid = cur.u16()
            name = cur.string()
            cur.string()  # encoding
            cur.take(cur.u32())  # definition
            self.schemas[sid] = name
        elif op == 0x04:  # channel
            cid = cur.u16()
            sid = cur.u16()
            topic = cur.string()
            encoding = cur.string()
            if sid not in self.schemas:
                raise _Malformed(f"channel {cid} ({topic}) refers to unknown schema {sid}")
            self.channels[cid] = _Channel(topic, self.schemas[sid], encoding)
        elif op == 0x05:  # message
            cid = cur.u16()
            cur.u32()  # sequence
            log_time = cur.u64()
            cur.u64()  # publish time
            if cid not in self.channels:
                raise _Malformed(f"message on unknown channel {cid}")
            if log_time >= 2 ** 63:
                raise _Malformed(f"message time {log_time} out of range")
            if want(self.channels[cid].topic):
                yield cid, log_time, bytes(cur.take(cur.end - cur.pos))
        elif op == 0x06:  # chunk
            if in_chunk:
                raise _Malformed("chunk inside a chunk")
            cur.u64()  # message start time
            cur.u64()  # message end time
            size = cur.u64()
            crc = cur.u32()
            compression = cur.string()
            records = cur.take(cur.u64())
            raw = _inflate(records, compression, size)
            if crc and crc32(raw) != crc:
                raise _Malformed("chunk checksum mismatch")
            inner = _Cursor(raw)
            out: list[tuple[int, int, bytes]] = []
            while inner.pos < inner.end:
                rop = inner.take(1)[0]
                rbody = inner.take(inner.u64())
                out.extend(self._record(rop, rbody, want, in_chunk=True))
            yield from out
        elif op == 0x00 or 0x10 <= op < 0x80:
            raise _Malformed("invalid opcode")
        # other records (indexes, attachments, metadata, statistics) are skipped


def _inflate(data: Any, compression: str, size: int) -> bytes:
    """Decompress a chunk's records, never producing more than the declared ``size``."""
    if size > _MAX_CHUNK_BYTES:
        raise _Malformed(f"chunk claims {size} bytes uncompressed (limit {_MAX_CHUNK_BYTES})")
    try:
        if compression == "":
            raw = bytes(data)
        elif compression == "zstd":
            zstd = require("backports.zstd", "reading zstd-compressed episode logs")
            raw = zstd.ZstdDecompressor().decompress(bytes(data), max_length=size + 1)
        elif compression == "lz4":
            lz4_frame = require("lz4.frame", "reading lz4-compressed episode logs")
            raw = lz4_frame.LZ4FrameDecompressor().decompress(bytes(data), max_length=size + 1)
        else:
            raise _Malformed(f"unknown chunk compression {compression!r}")
    except _Malformed:
        raise
    except Exception as exc:  # noqa: BLE001 - decompressors fed damaged bytes raise many kinds
        raise _Malformed(f"{compression} data does not decompress: {exc}") from None
    if len(raw) != size:
        raise _Malformed(f"chunk holds {len(raw)} bytes, its header says {size}")
    return raw


# --------------------------------------------------------------------------------------------
# Recovery


@dataclass
class RecoveryReport:
    """What :func:`recover` salvaged from an unfinished episode log.

    Attributes:
        path: the log directory.
        messages: messages kept, in all.
        counts: messages kept per topic.
        stop_reason: why the scan of the damaged file stopped (None if it read to the end).
        bytes_salvaged: bytes of the original MCAP file up to the last intact record.
        bytes_total: size of the original MCAP file.
        recovered_at_ns: wall-clock time of the recovery.
    """

    path: str
    messages: int
    counts: dict[str, int]
    stop_reason: str | None
    bytes_salvaged: int
    bytes_total: int
    recovered_at_ns: int

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _find_mcap(path: Path) -> Path:
    files = sorted(p for p in path.glob("*.mcap") if p.is_file())
    if not files:
        raise EpisodeLogError(f"{path}: no .mcap file in the directory")
    if len(files) > 1:
        raise EpisodeLogError(f"{path}: {len(files)} .mcap files; an episode log has exactly one")
    return files[0]


def _check_meta_payload(where: str, payload: Any) -> dict[str, Any]:
    """Validate a decoded ``/episode/meta`` payload; returns it."""
    if not isinstance(payload, dict):
        raise EpisodeLogError(f"{where}: /episode/meta is not a JSON object")
    schema = payload.get("schema")
    version = _schema_version(where, META_TOPIC, schema)
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        raise EpisodeLogError(
            f"{where}: episode log schema version {version} is not supported by this robot_agent "
            f"(it reads version(s) {', '.join(map(str, sorted(SUPPORTED_SCHEMA_VERSIONS)))})")
    missing = [k for k in EVENT_FIELDS[META_TOPIC] if k not in payload]
    if missing:
        raise EpisodeLogError(f"{where}: /episode/meta lacks {', '.join(missing)}")
    return payload


def _schema_version(where: str, topic: str, schema: Any) -> int:
    prefix = f"{SCHEMA_PREFIX}/{event_kind(topic)}/v"
    if not isinstance(schema, str) or not schema.startswith(prefix) or not schema[len(prefix):].isdigit():
        raise EpisodeLogError(f"{where}: {topic} payload has schema {schema!r}, expected {prefix}<version>; "
                              "not a robot_agent episode log")
    return int(schema[len(prefix):])


def _decode_string_payload(where: str, topic: str, typestore: Any, raw: bytes) -> dict[str, Any]:
    try:
        text = typestore.deserialize_cdr(raw, STRING_TYPE).data
        payload = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - damaged CDR or JSON can fail in many ways
        raise EpisodeLogError(f"{where}: a {topic} message is damaged ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict):
        raise EpisodeLogError(f"{where}: a {topic} message is not a JSON object")
    if topic == META_TOPIC:
        return _check_meta_payload(where, payload)
    if topic in EVENT_FIELDS:
        version = _schema_version(where, topic, payload.get("schema"))
        if version not in SUPPORTED_SCHEMA_VERSIONS:
            raise EpisodeLogError(f"{where}: {topic} payload schema version {version} is not supported")
    return payload


def recover(path: str | os.PathLike[str], *, keep_partial: bool = False) -> RecoveryReport | None:
    """Rebuild a finished bag from an unfinished episode log (a crashed recording).

    Reads the MCAP file chunk by chunk up to the first damaged byte, writes the messages into a
    new bag (time order, zstd chunks, summary, footer, ``metadata.yaml`` whose ``custom_data``
    says ``robot_agent.recovered: 'true'`` and holds this report as JSON) and swaps it in.
    Safe against a second crash during recovery: the partial file is replaced atomically.

    Args:
        path: the log directory.
        keep_partial: keep the original file as ``<name>.mcap.partial``.

    Returns:
        The report, or None when the log was finished and intact (nothing to do).

    Raises:
        EpisodeLogError: the log is being recorded by a live process, is not an episode log,
            or nothing was salvageable (the crash came before the episode header).
    """
    path = Path(path)
    if not path.is_dir():
        raise EpisodeLogError(f"{path}: no such episode log directory")
    handle = _try_lock(path)
    if handle is None:
        raise EpisodeLogError(f"{path}: is being recorded by a running process (its {LOCK_NAME} is held)")
    try:
        mcap = _find_mcap(path)
        if (path / METADATA_NAME).exists() and _finished_ok(path, mcap):
            _release_lock(path, handle)
            handle = None
            return None
        report = _rebuild(path, mcap, keep_partial)
        _release_lock(path, handle)
        handle = None
        log.warning("recovered episode log %s: %d messages kept%s", path, report.messages,
                    f"; stopped: {report.stop_reason}" if report.stop_reason else "")
        return report
    finally:
        if handle is not None:
            handle.close()


def _finished_ok(path: Path, mcap: Path) -> bool:
    """Whether a log with metadata.yaml has an MCAP file that rosbags opens and reads."""
    rosbag2 = require("rosbags.rosbag2", "episode logs")
    try:
        _check_finished_mcap(mcap)
        with rosbag2.Reader(path) as reader:
            for _ in reader.messages():
                pass
    except Exception:  # noqa: BLE001 - our checks, or rosbags fed damaged bytes (many kinds)
        return False
    return True


def _old_custom_data(path: Path) -> dict[str, str]:
    """``custom_data`` of a damaged log's metadata.yaml, when there is a readable one."""
    try:
        info = yaml.safe_load((path / METADATA_NAME).read_text(encoding="utf8"))
        custom = info["rosbag2_bagfile_information"]["custom_data"]
        return {str(k): str(v) for k, v in custom.items() if isinstance(v, str)}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return {}


def _rebuild(path: Path, mcap: Path, keep_partial: bool) -> RecoveryReport:
    rosbag2 = require("rosbags.rosbag2", "episode logs")
    typestore = _typestore()
    scan = _McapScan(mcap)
    where = str(mcap)
    tmp_root = path / ".recovering"
    if tmp_root.exists():
        shutil.rmtree(tmp_root)  # a previous recovery died; it never touched the original
    tmp_root.mkdir()
    new_dir = tmp_root / mcap.stem
    counts: dict[str, int] = {}
    try:
        writer = rosbag2.Writer(new_dir, version=9, storage_plugin=rosbag2.StoragePlugin.MCAP)
        writer.set_compression(rosbag2.CompressionMode.STORAGE, rosbag2.CompressionFormat.ZSTD)
        with writer:
            conns: dict[int, Any] = {}
            seen_meta = False
            for cid, t_ns, raw in scan.messages():
                channel = scan.channels[cid]
                if not seen_meta:
                    if channel.topic != META_TOPIC or channel.msgtype != STRING_TYPE:
                        raise EpisodeLogError(f"{where}: not a robot_agent episode log (its first message "
                                              f"is on {channel.topic}, not {META_TOPIC})")
                    _decode_string_payload(where, META_TOPIC, typestore, raw)
                    seen_meta = True
                if cid not in conns:
                    if channel.msgtype not in typestore.types:
                        log.warning("%s: dropping topic %s of unknown type %s", where, channel.topic, channel.msgtype)
                        conns[cid] = None
                    else:
                        conns[cid] = writer.add_connection(channel.topic, channel.msgtype, typestore=typestore)
                if conns[cid] is None:
                    continue
                writer.write(conns[cid], t_ns, raw)
                counts[channel.topic] = counts.get(channel.topic, 0) + 1
            if not seen_meta:
                why = f" ({scan.stop_reason})" if scan.stop_reason else ""
                raise EpisodeLogError(f"{where}: nothing to recover: the file ends before the "
                                      f"{META_TOPIC} header{why}")
            # declare the topics that never got a message, so the recovered bag looks like any other
            declared = {scan.channels[c].topic for c in conns}
            for topic, msgtype in TOPIC_TYPES.items():
                if topic not in declared:
                    writer.add_connection(topic, msgtype, typestore=typestore)
            report = RecoveryReport(
                path=str(path), messages=sum(counts.values()), counts=counts, stop_reason=scan.stop_reason,
                bytes_salvaged=scan.good_end, bytes_total=scan.size, recovered_at_ns=time.time_ns())
            for key, value in _old_custom_data(path).items():
                writer.set_custom_data(key, value)
            writer.set_custom_data(CUSTOM_PREFIX + "schema_version", str(SCHEMA_VERSION))
            writer.set_custom_data(CUSTOM_PREFIX + "recovered", "true")
            writer.set_custom_data(CUSTOM_PREFIX + "recovery", json.dumps(report.to_dict()))
        new_mcap = new_dir / mcap.name
        with new_mcap.open("rb") as fh:
            os.fsync(fh.fileno())
        if keep_partial:
            shutil.copy2(mcap, mcap.with_name(mcap.name + ".partial"))
        os.replace(new_mcap, mcap)
        os.replace(new_dir / METADATA_NAME, path / METADATA_NAME)
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)
    return report


# --------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class LogEvent:
    """One logged message.

    Attributes:
        topic: the topic, e.g. ``/episode/skill_call``.
        t_ns: bag timestamp in nanoseconds.
        data: for ``/episode/*`` the decoded JSON payload (dict); for ``/joint_states`` a dict
            ``name`` (list), ``position``/``velocity``/``effort`` (float64 arrays),
            ``stamp_ns``; for ``/camera/image_raw`` a dict ``rgb`` (H x W x 3 uint8 array),
            ``width``, ``height``, ``frame_id``, ``stamp_ns``. Other topics: the rosbags message.
    """

    topic: str
    t_ns: int
    data: Any

    @property
    def kind(self) -> str:
        """Short name of the topic: ``skill_call``, ``correction``, ``joint_states``, ``image``..."""
        return event_kind(self.topic)


@dataclass
class EpisodeSummary:
    """What ``logs list`` / ``logs show`` print about an episode."""

    path: str
    episode_id: str
    schema_version: int
    task: str | None
    scene: str | None
    start_time_ns: int
    duration_s: float
    success: bool | None
    outcome: dict[str, Any] | None
    corrections: list[dict[str, Any]]
    skill_calls: int
    plans: int
    counts: dict[str, int]
    recovered: bool
    in_progress: bool

    @property
    def n_corrections(self) -> int:
        return len(self.corrections)

    @property
    def complete(self) -> bool:
        """Whether the episode logged its outcome."""
        return self.outcome is not None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["n_corrections"] = self.n_corrections
        out["complete"] = self.complete
        return out


def _check_finished_mcap(mcap: Path) -> None:
    """Clear errors for the common ways an MCAP file of a finished bag is broken."""
    try:
        size = mcap.stat().st_size
        with mcap.open("rb") as fh:
            head = fh.read(8)
            fh.seek(max(0, size - 8))
            tail = fh.read(8)
    except OSError as exc:
        raise EpisodeLogError(f"{mcap}: cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        raise EpisodeLogError(f"{mcap}: empty file")
    if head != _MCAP_MAGIC:
        raise EpisodeLogError(f"{mcap}: not an MCAP file (bad magic bytes)")
    if size < 8 + 9 + 37 or tail != _MCAP_MAGIC:
        raise EpisodeLogError(f"{mcap}: truncated MCAP file ({size} bytes, no footer); "
                              "`robot-agent logs recover` salvages what is left")


class EpisodeLogReader:
    """Opens and validates an episode log; iterates its messages as :class:`LogEvent`.

    A finished log is read through ``rosbags``. An unfinished one left by a crash is first
    rebuilt in place with :func:`recover` (``repair=True``; the reader then says
    ``recovered``), or, when repair is off or the directory is read-only, read directly from
    its intact chunks. A log still being recorded by a live process is read directly and never
    modified (``in_progress``).

    Args:
        path: the log directory.
        repair: rebuild a crashed log in place.

    Raises:
        EpisodeLogError: missing directory, no ``metadata.yaml``, an unreadable, garbage or
            truncated MCAP file, a bag without ``/episode/meta`` (foreign) or with an unknown
            schema version. The message names the file and what is wrong.
    """

    def __init__(self, path: str | os.PathLike[str], *, repair: bool = True) -> None:
        self.path = Path(path)
        #: the log was rebuilt from a crashed recording
        self.recovered = False
        #: details of the recovery (a :class:`RecoveryReport` as a dict) when ``recovered``
        self.recovery: dict[str, Any] | None = None
        #: a live process is still recording this log
        self.in_progress = False
        #: ``custom_data`` of metadata.yaml (finished logs)
        self.custom_data: dict[str, str] = {}
        self._repair = repair
        self._scan_reason: str | None = None
        self._typestore = _typestore()
        self._direct = False  # read the MCAP with the salvage scanner instead of rosbags
        self._mcap: Path
        self._counts: dict[str, int] = {}
        self._types: dict[str, str] = {}
        self._end_ns = 0  # time of the last message, any topic
        self._open()
        self.meta: dict[str, Any] = self._read_meta()
        self.episode_id: str = str(self.meta["episode_id"])
        self.schema_version: int = int(self.meta["schema_version"])

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> None:
        path = self.path
        if not path.exists():
            raise EpisodeLogError(f"{path}: no such episode log directory")
        if not path.is_dir():
            raise EpisodeLogError(f"{path}: not a directory; an episode log is a rosbag2 directory "
                                  "holding metadata.yaml and one .mcap file")
        if (path / METADATA_NAME).exists():
            self._open_finished()
            return
        if not (path / LOCK_NAME).exists():
            hint = ""
            if any(path.glob("*.mcap")):
                hint = ("; if it is an interrupted recording, `robot-agent logs recover "
                        f"{path}` salvages it")
            raise EpisodeLogError(f"{path}: no {METADATA_NAME}: not a finished rosbag2 directory{hint}")
        self._mcap = _find_mcap(path)
        if _is_locked(path):
            self.in_progress = True
            self._open_direct()
            return
        if self._repair:
            try:
                recover(path)
            except OSError as exc:
                log.warning("%s: cannot rebuild the crashed log in place (%s); reading it as it is", path, exc)
            else:
                self._open_finished()
                return
        self._open_direct()
        self.recovered = True
        self.recovery = {"path": str(path), "stop_reason": self._scan_reason, "rebuilt": False}

    def _open_finished(self) -> None:
        path = self.path
        meta_path = path / METADATA_NAME
        try:
            info = yaml.safe_load(meta_path.read_text(encoding="utf8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise EpisodeLogError(f"{meta_path}: unreadable ({type(exc).__name__}: {exc})") from None
        bag = info.get("rosbag2_bagfile_information") if isinstance(info, dict) else None
        if not isinstance(bag, dict):
            raise EpisodeLogError(f"{meta_path}: not rosbag2 metadata (no rosbag2_bagfile_information)")
        files = bag.get("relative_file_paths")
        if not isinstance(files, list) or len(files) != 1 or not isinstance(files[0], str):
            raise EpisodeLogError(f"{meta_path}: relative_file_paths must name exactly one storage file")
        storage = bag.get("storage_identifier")
        if storage != "mcap":
            raise EpisodeLogError(f"{meta_path}: storage is {storage!r}, episode logs use 'mcap'; "
                                  "not a robot_agent episode log")
        self._mcap = path / Path(files[0]).name
        if not self._mcap.is_file():
            raise EpisodeLogError(f"{self._mcap}: missing (named by {meta_path})")
        custom = bag.get("custom_data") or {}
        self.custom_data = {str(k): str(v) for k, v in custom.items()} if isinstance(custom, dict) else {}
        if self.custom_data.get(CUSTOM_PREFIX + "recovered") == "true":
            self.recovered = True
            try:
                self.recovery = json.loads(self.custom_data.get(CUSTOM_PREFIX + "recovery", "{}"))
            except json.JSONDecodeError:
                self.recovery = {}
        _check_finished_mcap(self._mcap)
        rosbag2 = require("rosbags.rosbag2", "episode logs")
        try:
            with rosbag2.Reader(path) as reader:
                self._end_ns = max(0, reader.end_time - 1) if reader.message_count else 0
                for conn in reader.connections:
                    self._types[conn.topic] = conn.msgtype
                    self._counts[conn.topic] = self._counts.get(conn.topic, 0) + conn.msgcount
        except Exception as exc:  # noqa: BLE001 - rosbags fed damaged bytes raises many kinds
            raise EpisodeLogError(f"{self._mcap}: corrupt MCAP file ({type(exc).__name__}: {exc})") from None
        self._check_topics()

    def _open_direct(self) -> None:
        scan = _McapScan(self._mcap)
        counts: dict[str, int] = {}
        for cid, t_ns, _raw in scan.messages():
            topic = scan.channels[cid].topic
            counts[topic] = counts.get(topic, 0) + 1
            self._end_ns = max(self._end_ns, t_ns)
        self._scan_reason = scan.stop_reason
        self._types = {c.topic: c.msgtype for c in scan.channels.values()}
        self._counts = {t: counts.get(t, 0) for t in self._types}
        self._direct = True
        self._check_topics()

    def _check_topics(self) -> None:
        where = str(self._mcap)
        if META_TOPIC not in self._types:
            topics = ", ".join(sorted(self._types)) or "none"
            raise EpisodeLogError(f"{where}: not a robot_agent episode log: no {META_TOPIC} topic "
                                  f"(topics: {topics})")
        for topic, msgtype in self._types.items():
            want = TOPIC_TYPES.get(topic)
            if want is not None and msgtype != want:
                raise EpisodeLogError(f"{where}: topic {topic} has type {msgtype}, expected {want}")
        if self._counts.get(META_TOPIC, 0) == 0:
            raise EpisodeLogError(f"{where}: the {META_TOPIC} topic has no message")

    def _read_meta(self) -> dict[str, Any]:
        for event in self.events([META_TOPIC]):
            return dict(event.data)
        raise EpisodeLogError(f"{self._mcap}: the {META_TOPIC} topic has no message")

    # -- reading -----------------------------------------------------------------------------

    @property
    def mcap_path(self) -> Path:
        """The MCAP file of the log."""
        return self._mcap

    @property
    def topics(self) -> dict[str, int]:
        """Message count per topic (topics declared without messages count 0)."""
        return dict(self._counts)

    def _raw(self, topics: set[str] | None) -> Iterator[tuple[str, str, int, bytes]]:
        def wanted(topic: str) -> bool:
            return topics is None or topic in topics

        if self._direct:
            scan = _McapScan(self._mcap)
            items = [(t, seq, cid, raw) for seq, (cid, t, raw) in enumerate(scan.messages(wanted))]
            items.sort(key=lambda x: (x[0], x[1]))
            for t, _seq, cid, raw in items:
                channel = scan.channels[cid]
                yield channel.topic, channel.msgtype, t, raw
            return
        rosbag2 = require("rosbags.rosbag2", "episode logs")
        try:
            with rosbag2.Reader(self.path) as reader:
                conns = [c for c in reader.connections if wanted(c.topic)]
                if not conns:
                    return
                for conn, t, raw in reader.messages(connections=conns):
                    yield conn.topic, conn.msgtype, int(t), bytes(raw)
        except EpisodeLogError:
            raise
        except Exception as exc:  # noqa: BLE001 - rosbags fed damaged bytes raises many kinds
            raise EpisodeLogError(f"{self._mcap}: corrupt MCAP file ({type(exc).__name__}: {exc})") from None

    def events(self, topics: Iterable[str] | None = None) -> Iterator[LogEvent]:
        """Yield the log's messages as :class:`LogEvent`, in time order.

        Args:
            topics: only these topics (e.g. :data:`EVENT_TOPICS` to skip sensor data); default all.

        Raises:
            EpisodeLogError: a damaged message (naming the file, topic and time).
        """
        wanted = None if topics is None else set(topics)
        for topic, msgtype, t_ns, raw in self._raw(wanted):
            yield LogEvent(topic, t_ns, self._decode(topic, msgtype, t_ns, raw))

    def _decode(self, topic: str, msgtype: str, t_ns: int, raw: bytes) -> Any:
        where = str(self._mcap)
        if msgtype == STRING_TYPE and topic.startswith("/episode/"):
            return _decode_string_payload(where, topic, self._typestore, raw)
        try:
            msg = self._typestore.deserialize_cdr(raw, msgtype)
        except Exception as exc:  # noqa: BLE001 - damaged CDR can fail in many ways
            raise EpisodeLogError(f"{where}: damaged {topic} message at t={t_ns} "
                                  f"({type(exc).__name__}: {exc})") from None
        if msgtype == JOINT_STATE_TYPE:
            return {"name": list(msg.name), "position": np.asarray(msg.position, dtype=np.float64),
                    "velocity": np.asarray(msg.velocity, dtype=np.float64),
                    "effort": np.asarray(msg.effort, dtype=np.float64),
                    "stamp_ns": msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec}
        if msgtype == IMAGE_TYPE:
            h, w = int(msg.height), int(msg.width)
            if msg.encoding != "rgb8" or msg.step != w * 3 or len(msg.data) != h * w * 3:
                raise EpisodeLogError(f"{where}: {topic} frame at t={t_ns} is not a {w}x{h} rgb8 image "
                                      f"(encoding {msg.encoding!r}, step {msg.step}, {len(msg.data)} bytes)")
            return {"rgb": np.asarray(msg.data, dtype=np.uint8).reshape(h, w, 3), "width": w, "height": h,
                    "frame_id": msg.header.frame_id,
                    "stamp_ns": msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec}
        return msg

    def summary(self) -> EpisodeSummary:
        """Task, corrections, outcome, duration and message counts (reads only the JSON topics)."""
        task: Any = None
        corrections: list[dict[str, Any]] = []
        outcome: dict[str, Any] | None = None
        skill_calls = plans = 0
        start = int(self.meta["start_time_ns"])
        for event in self.events(EVENT_TOPICS):
            if event.topic == TASK_TOPIC and task is None:
                task = event.data.get("text")
            elif event.topic == CORRECTION_TOPIC:
                corrections.append({"text": event.data.get("text"), "source": event.data.get("source"),
                                    "t_ns": event.t_ns})
            elif event.topic == SKILL_CALL_TOPIC:
                skill_calls += 1
            elif event.topic == PLAN_TOPIC:
                plans += 1
            elif event.topic == OUTCOME_TOPIC:
                outcome = event.data
        if task is None:
            task = self.meta.get("task")
        if outcome is not None and isinstance(outcome.get("duration_s"), (int, float)):
            duration = float(outcome["duration_s"])
        else:  # no outcome (crashed or still recording): up to the last message of any topic
            duration = max(0, self._end_ns - start) / 1e9
        scene = self.meta.get("scene")
        return EpisodeSummary(
            path=str(self.path), episode_id=self.episode_id, schema_version=self.schema_version,
            task=None if task is None else str(task),
            scene=None if scene is None else (scene if isinstance(scene, str) else json.dumps(scene)),
            start_time_ns=start, duration_s=duration,
            success=None if outcome is None else bool(outcome.get("success")), outcome=outcome,
            corrections=corrections, skill_calls=skill_calls, plans=plans, counts=self.topics,
            recovered=self.recovered, in_progress=self.in_progress)


def find_episode_logs(root: str | os.PathLike[str]) -> list[Path]:
    """Directories under ``root`` (or ``root`` itself) that look like episode logs, sorted.

    A directory counts when it holds ``metadata.yaml``, ``recording.lock`` or a ``.mcap`` file;
    the search does not descend into such directories.

    Raises:
        EpisodeLogError: ``root`` is not a directory.
    """
    root = Path(root)
    if not root.is_dir():
        raise EpisodeLogError(f"{root}: no such directory")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        names = set(filenames)
        if METADATA_NAME in names or LOCK_NAME in names or any(n.endswith(".mcap") for n in names):
            found.append(Path(dirpath))
            dirnames.clear()
        else:
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)
