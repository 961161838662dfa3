"""Writing one episode as a rosbag2 directory with MCAP storage.

While the episode runs, every message goes into ``<log>/<log>.mcap`` through the ``mcap``
library's writer, which is asked to ``flush()`` after each message: the message becomes its own
chunk (with a CRC) and reaches the operating system before the method returns; semantic events
are also ``fsync``-ed. A process killed at any moment therefore leaves an MCAP file whose
complete chunks hold everything logged so far. When the episode closes, the file is rewritten as
a finished bag with the public ``rosbags.rosbag2.Writer`` (zstd chunks, summary, footer,
``metadata.yaml``; :func:`robot_agent.logs.recovery.rewrite_bag`), the same code that recovers a
crashed log.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np

from robot_agent.deps import require
from robot_agent.errors import EpisodeLogError
from robot_agent.fsutil import acquire_lock, json_safe, release_lock
from robot_agent.logs.recovery import rewrite_bag
from robot_agent.logs.schema import (
    CORRECTION_SOURCES,
    CORRECTION_TOPIC,
    CUSTOM_PREFIX,
    EVENT_FIELDS,
    EVENT_TOPICS,
    IMAGE_TOPIC,
    IMAGE_TYPE,
    JOINT_STATE_TYPE,
    JOINT_STATES_TOPIC,
    KNOWLEDGE_TOPIC,
    LOCK_NAME,
    META_TOPIC,
    OUTCOME_TOPIC,
    PLAN_TOPIC,
    ROS_DISTRO,
    SCHEMA_VERSION,
    SENSOR_TOPICS,
    SKILL_CALL_TOPIC,
    SKILL_RESULT_TOPIC,
    STRING_TYPE,
    TASK_TOPIC,
    TOPIC_TYPES,
    UNDERSTOOD_TOPIC,
    event_kind,
    schema_name,
    typestore,
)

log = logging.getLogger(__name__)


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
        compress: zstd-compress the chunks of the finished bag (readable by every MCAP/rosbag2
            tool). The file being recorded is never compressed.
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
        self._meta = json_safe(dict(meta or {}), "meta")
        self._compress = compress
        self._fsync = fsync
        self._clock = clock
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._mcap: Any = None  # the mcap library's Writer over self._file
        self._lock_fd: int | None = None
        self._channels: dict[str, int] = {}
        self._typestore: Any = typestore()
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

    @property
    def mcap_path(self) -> Path:
        """The log's MCAP file: ``<path>/<name>.mcap``."""
        return self.path / f"{self.path.name}.mcap"

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> EpisodeLogWriter:
        """Create the bag directory, declare all topics and write ``/episode/meta``.

        Returns:
            self.

        Raises:
            EpisodeLogError: the path exists already, or cannot be created.
        """
        if self._mcap is not None or self.closed:
            raise RuntimeError(f"episode log {self.path} was opened already")
        mcap_writer = require("mcap.writer", "episode logs")
        try:
            self.path.mkdir(mode=0o755, parents=True)
        except FileExistsError:
            raise EpisodeLogError(f"{self.path}: exists already; episode logs are never overwritten") from None
        except OSError as exc:
            raise EpisodeLogError(f"{self.path}: cannot create the episode log: {exc}") from exc
        try:
            info = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "episode_id": self.episode_id,
                "started_ns": time.time_ns(),
            }
            self._lock_fd = acquire_lock(self.path / LOCK_NAME, json.dumps(info) + "\n", sync=True)
            self._file = self.mcap_path.open("xb")
            # Compression and indexes are for the finished bag; this file only has to survive a crash.
            self._mcap = mcap_writer.Writer(
                self._file, compression=mcap_writer.CompressionType.NONE, index_types=mcap_writer.IndexType.NONE
            )
            self._mcap.start(profile="ros2", library="robot_agent episode log (recording)")
            schemas: dict[str, int] = {}
            for topic, msgtype in TOPIC_TYPES.items():
                if msgtype not in schemas:
                    msgdef, _digest = self._typestore.generate_msgdef(msgtype, ros_version=2)
                    schemas[msgtype] = self._mcap.register_schema(msgtype, "ros2msg", msgdef.encode("utf8"))
                self._channels[topic] = self._mcap.register_channel(topic, "cdr", schemas[msgtype])
            if not self._explicit_start:
                self._start_ns = self._now(None)
            payload = {
                **self._meta,
                "schema_version": SCHEMA_VERSION,
                "episode_id": self.episode_id,
                "start_time_ns": self._start_ns,
                "ros_distro": ROS_DISTRO,
            }
            self._write_event(META_TOPIC, payload, self._start_ns)
        except BaseException as exc:
            self._abort()
            if isinstance(exc, OSError):
                raise EpisodeLogError(f"{self.path}: cannot create the episode log: {exc}") from exc
            raise
        log.debug("recording episode %s to %s", self.episode_id, self.path)
        return self

    def close(self) -> None:
        """Finish the bag: rewrite it with summary and footer, then ``metadata.yaml``. Idempotent.

        Raises:
            OSError: the finished bag could not be written; the recorded file and its lock
                stay, so the next reader recovers the log.
        """
        with self._lock:
            if self._mcap is None:
                self.closed = True
                return
            custom = {
                "schema_version": str(SCHEMA_VERSION),
                "episode_id": self.episode_id,
                "image_max_hz": "" if self.image_max_hz is None else repr(float(self.image_max_hz)),
                "joint_state_max_hz": "" if self.joint_state_max_hz is None else repr(float(self.joint_state_max_hz)),
                "images_skipped": str(self.skipped[IMAGE_TOPIC]),
                "joint_states_skipped": str(self.skipped[JOINT_STATES_TOPIC]),
            }
            try:
                self._mcap = None
                self.closed = True
                file, self._file = self._file, None
                if file is not None:
                    file.close()
                # The lock is held throughout: no reader starts a recovery of its own meanwhile.
                rewrite_bag(
                    self.path,
                    self.mcap_path,
                    custom={CUSTOM_PREFIX + k: v for k, v in custom.items()},
                    compress=self._compress,
                    mark_recovered=False,
                )
            except BaseException:
                self._abort()  # the lock file stays: the recorded file is recovered by the next reader
                raise
            if self._lock_fd is not None:
                release_lock(self._lock_fd, self.path / LOCK_NAME)
                self._lock_fd = None
        log.debug("closed episode log %s (%d messages)", self.path, sum(self.counts.values()))

    def _abort(self) -> None:
        """Close the file and let go of the lock, keeping the lock file (the log stays recoverable)."""
        self._mcap = None
        self.closed = True
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            release_lock(fd)  # the lock file stays

    def __enter__(self) -> EpisodeLogWriter:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Close properly even when the episode raised: the log of what happened is kept.
        if exc is not None:
            log.warning("episode %s ended with %s: %s; closing its log", self.episode_id, type(exc).__name__, exc)
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

    def skill_call(
        self,
        skill: str,
        args: Mapping[str, Any],
        params: Mapping[str, Any],
        *,
        step: int | None = None,
        t_ns: int | None = None,
        **extra: Any,
    ) -> None:
        """A skill about to run, with its arguments (objects) and parameters (after knowledge)."""
        self.write_event(
            SKILL_CALL_TOPIC,
            {**extra, "skill": skill, "args": dict(args), "params": dict(params), "step": step},
            t_ns=t_ns,
        )

    def skill_result(
        self, skill: str, result: Any, *, step: int | None = None, t_ns: int | None = None, **extra: Any
    ) -> None:
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
            body = json_safe(result, "skill_result")
            if not isinstance(body, dict):
                raise TypeError(f"skill_result expects a SkillResult, a mapping or a bool, got {type(result).__name__}")
        success = bool(getattr(result, "ok", body.get("success", body.get("status") == "succeeded")))
        self.write_event(
            SKILL_RESULT_TOPIC, {**extra, **body, "skill": skill, "success": success, "step": step}, t_ns=t_ns
        )

    def correction(
        self, text: str, source: str = "typed", *, received_ns: int | None = None, t_ns: int | None = None, **extra: Any
    ) -> None:
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
        self.write_event(
            CORRECTION_TOPIC,
            {
                **extra,
                "text": str(text),
                "source": source,
                "received_ns": int(t if received_ns is None else received_ns),
            },
            t_ns=t,
        )

    def understood(self, text: str, kind: str, *, t_ns: int | None = None, **details: Any) -> None:
        """How a correction was understood.

        Args:
            text: the correction text it refers to.
            kind: its class, e.g. ``plan``, ``skill``, ``stop``, ``confirm``.
            t_ns: timestamp (ns).
            **details: e.g. ``skill``, ``param_delta``, ``constraint``, ``target``.
        """
        self.write_event(UNDERSTOOD_TOPIC, {**details, "text": str(text), "kind": str(kind)}, t_ns=t_ns)

    def knowledge(
        self, *, used: Sequence[Any] = (), distilled: Sequence[Any] = (), t_ns: int | None = None, **extra: Any
    ) -> None:
        """Knowledge items retrieved and used, and/or items distilled after the task."""
        self.write_event(KNOWLEDGE_TOPIC, {**extra, "used": list(used), "distilled": list(distilled)}, t_ns=t_ns)

    def outcome(
        self,
        success: bool,
        *,
        corrections: int | None = None,
        duration_s: float | None = None,
        reason: str = "",
        t_ns: int | None = None,
        **extra: Any,
    ) -> None:
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
        self.write_event(
            OUTCOME_TOPIC,
            {**extra, "success": bool(success), "corrections": n, "duration_s": dur, "reason": reason},
            t_ns=t,
        )

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
        fields = json_safe(payload, event_kind(topic))
        fields.pop("schema", None)  # the schema is the writer's to state
        body = {"schema": schema_name(topic), **fields}
        text = json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        msg = self._typestore.types[STRING_TYPE](data=text)
        self._write(topic, msg, t_ns, sync=self._fsync)

    # -- sensors -----------------------------------------------------------------------------

    def joint_state(
        self,
        names: Sequence[str],
        positions: Sequence[float] | np.ndarray,
        velocities: Sequence[float] | np.ndarray | None = None,
        efforts: Sequence[float] | np.ndarray | None = None,
        *,
        t_ns: int | None = None,
    ) -> bool:
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
            raise ValueError(
                f"joint_state: {len(names)} names but {len(pos)} positions, {len(vel)} velocities, {len(eff)} efforts"
            )
        if not self._admit(JOINT_STATES_TOPIC, t):
            return False
        types = self._typestore.types
        msg = types[JOINT_STATE_TYPE](
            header=self._header(t, ""), name=[str(n) for n in names], position=pos, velocity=vel, effort=eff
        )
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
            header=self._header(t, frame_id),
            height=height,
            width=width,
            encoding="rgb8",
            is_bigendian=0,
            step=width * 3,
            data=arr.reshape(-1),
        )
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

    def _sync(self) -> None:
        assert self._file is not None  # noqa: S101 - type narrowing: only called while open
        self._file.flush()
        os.fsync(self._file.fileno())

    def _write(self, topic: str, msg: Any, t_ns: int, *, sync: bool) -> None:
        raw = self._typestore.serialize_cdr(msg, TOPIC_TYPES[topic])
        with self._lock:
            if self._mcap is None:
                raise RuntimeError(f"episode log {self.path} is not open")
            self._mcap.add_message(self._channels[topic], log_time=t_ns, data=bytes(raw), publish_time=t_ns)
            self._mcap.flush()  # closes the chunk of this one message and hands it to the OS
            if sync:
                self._sync()
            self.counts[topic] += 1
