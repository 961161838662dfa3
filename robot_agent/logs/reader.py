"""Reading episode logs: validation, crash recovery on first sight, typed events in time order."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from robot_agent.errors import EpisodeLogError
from robot_agent.fsutil import lock_held
from robot_agent.logs.mcapio import FinishedMcap, McapScan
from robot_agent.logs.recovery import find_mcap, recover
from robot_agent.logs.schema import (
    CORRECTION_TOPIC,
    CUSTOM_PREFIX,
    EVENT_TOPICS,
    IMAGE_TYPE,
    JOINT_STATE_TYPE,
    LOCK_NAME,
    META_TOPIC,
    METADATA_NAME,
    OUTCOME_TOPIC,
    PLAN_TOPIC,
    SKILL_CALL_TOPIC,
    STRING_TYPE,
    TASK_TOPIC,
    TOPIC_TYPES,
    decode_event,
    event_kind,
    typestore,
)

log = logging.getLogger(__name__)


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


class EpisodeLogReader:
    """Opens and validates an episode log; iterates its messages as :class:`LogEvent`.

    A finished log is read through its MCAP summary. An unfinished one left by a crash is first
    rebuilt in place with :func:`~robot_agent.logs.recovery.recover` (``repair=True``; the
    reader then says ``recovered``), or, when repair is off or the directory is read-only, read
    directly from its intact chunks. A log still being recorded by a live process is read
    directly and never modified (``in_progress``).

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
        self._typestore = typestore()
        self._finished: FinishedMcap | None = None  # None: read the file with the record scanner
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
            raise EpisodeLogError(
                f"{path}: not a directory; an episode log is a rosbag2 directory "
                "holding metadata.yaml and one .mcap file"
            )
        if (path / METADATA_NAME).exists():
            self._open_finished()
            return
        if not (path / LOCK_NAME).exists():
            hint = ""
            if any(path.glob("*.mcap")):
                hint = f"; if it is an interrupted recording, `robot-agent logs recover {path}` salvages it"
            raise EpisodeLogError(f"{path}: no {METADATA_NAME}: not a finished rosbag2 directory{hint}")
        self._mcap = find_mcap(path)
        if lock_held(path / LOCK_NAME):
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
        stop_reason = self._open_direct()
        self.recovered = True
        self.recovery = {"path": str(path), "stop_reason": stop_reason, "rebuilt": False}

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
            raise EpisodeLogError(
                f"{meta_path}: storage is {storage!r}, episode logs use 'mcap'; not a robot_agent episode log"
            )
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
        finished = FinishedMcap(self._mcap)
        self._end_ns = finished.end_ns
        for cid, channel in finished.channels.items():
            self._types[channel.topic] = channel.msgtype
            self._counts[channel.topic] = self._counts.get(channel.topic, 0) + finished.counts[cid]
        self._finished = finished
        self._check_topics()

    def _open_direct(self) -> str | None:
        """Read an unfinished file with the record scanner; returns why the scan stopped early."""
        scan = McapScan(self._mcap)
        counts: dict[str, int] = {}
        for cid, t_ns, _raw in scan.messages():
            topic = scan.channels[cid].topic
            counts[topic] = counts.get(topic, 0) + 1
            self._end_ns = max(self._end_ns, t_ns)
        self._types = {c.topic: c.msgtype for c in scan.channels.values()}
        self._counts = {t: counts.get(t, 0) for t in self._types}
        self._check_topics()
        return scan.stop_reason

    def _check_topics(self) -> None:
        where = str(self._mcap)
        if META_TOPIC not in self._types:
            topics = ", ".join(sorted(self._types)) or "none"
            raise EpisodeLogError(f"{where}: not a robot_agent episode log: no {META_TOPIC} topic (topics: {topics})")
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
        if self._finished is not None:
            for channel, t_ns, raw in self._finished.messages(topics):
                yield channel.topic, channel.msgtype, t_ns, raw
            return
        scan = McapScan(self._mcap)
        wanted = (lambda _t: True) if topics is None else topics.__contains__
        items = [(t, seq, cid, raw) for seq, (cid, t, raw) in enumerate(scan.messages(wanted))]
        items.sort(key=lambda x: (x[0], x[1]))
        for t, _seq, cid, raw in items:
            channel = scan.channels[cid]
            yield channel.topic, channel.msgtype, t, raw

    def events(self, topics: Iterable[str] | None = None) -> Iterator[LogEvent]:
        """Yield the log's messages as :class:`LogEvent`, in time order (equal times in writing order).

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
            return decode_event(where, topic, raw)
        try:
            msg = self._typestore.deserialize_cdr(raw, msgtype)
        except Exception as exc:  # noqa: BLE001 - damaged CDR can fail in many ways
            raise EpisodeLogError(
                f"{where}: damaged {topic} message at t={t_ns} ({type(exc).__name__}: {exc})"
            ) from None
        if msgtype == JOINT_STATE_TYPE:
            return {
                "name": list(msg.name),
                "position": np.asarray(msg.position, dtype=np.float64),
                "velocity": np.asarray(msg.velocity, dtype=np.float64),
                "effort": np.asarray(msg.effort, dtype=np.float64),
                "stamp_ns": msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec,
            }
        if msgtype == IMAGE_TYPE:
            h, w = int(msg.height), int(msg.width)
            if msg.encoding != "rgb8" or msg.step != w * 3 or len(msg.data) != h * w * 3:
                raise EpisodeLogError(
                    f"{where}: {topic} frame at t={t_ns} is not a {w}x{h} rgb8 image "
                    f"(encoding {msg.encoding!r}, step {msg.step}, {len(msg.data)} bytes)"
                )
            return {
                "rgb": np.asarray(msg.data, dtype=np.uint8).reshape(h, w, 3),
                "width": w,
                "height": h,
                "frame_id": msg.header.frame_id,
                "stamp_ns": msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec,
            }
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
                corrections.append(
                    {"text": event.data.get("text"), "source": event.data.get("source"), "t_ns": event.t_ns}
                )
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
            path=str(self.path),
            episode_id=self.episode_id,
            schema_version=self.schema_version,
            task=None if task is None else str(task),
            scene=None if scene is None else (scene if isinstance(scene, str) else json.dumps(scene)),
            start_time_ns=start,
            duration_s=duration,
            success=None if outcome is None else bool(outcome.get("success")),
            outcome=outcome,
            corrections=corrections,
            skill_calls=skill_calls,
            plans=plans,
            counts=self.topics,
            recovered=self.recovered,
            in_progress=self.in_progress,
        )


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
