"""Turning an episode's MCAP file into a finished rosbag2 bag, at close and after a crash.

While an episode is recorded, its ``<log>.mcap`` holds one chunk per message and is flushed
after each one, but has no summary or footer and there is no ``metadata.yaml`` yet
(:mod:`robot_agent.logs.writer`). :func:`rewrite_bag` reads that file record by record up to
the first damaged byte (:class:`~robot_agent.logs.mcapio.McapScan`), writes every intact
message into a new bag with the public ``rosbags.rosbag2.Writer`` (summary, footer,
``metadata.yaml``) and swaps it in atomically. The writer calls it when the episode closes;
:func:`recover` calls it on a log whose writer died, and marks the result as recovered.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from robot_agent.deps import require
from robot_agent.errors import EpisodeLogError
from robot_agent.fsutil import LockBusy, acquire_lock, fsync_dir, fsync_file, release_lock
from robot_agent.logs.mcapio import FinishedMcap, McapScan
from robot_agent.logs.schema import (
    CUSTOM_PREFIX,
    LOCK_NAME,
    META_TOPIC,
    METADATA_NAME,
    SCHEMA_VERSION,
    STRING_TYPE,
    TOPIC_TYPES,
    decode_event,
    typestore,
)

log = logging.getLogger(__name__)

#: the scratch directory a rewrite builds the new bag in (inside the log directory)
SCRATCH_NAME = ".recovering"


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


def find_mcap(path: Path) -> Path:
    """The one ``.mcap`` file of a log directory.

    Raises:
        EpisodeLogError: none, or more than one.
    """
    files = sorted(p for p in path.glob("*.mcap") if p.is_file())
    if not files:
        raise EpisodeLogError(f"{path}: no .mcap file in the directory")
    if len(files) > 1:
        raise EpisodeLogError(f"{path}: {len(files)} .mcap files; an episode log has exactly one")
    return files[0]


def _old_custom_data(path: Path) -> dict[str, str]:
    """``custom_data`` of a damaged log's metadata.yaml, when there is a readable one."""
    try:
        info = yaml.safe_load((path / METADATA_NAME).read_text(encoding="utf8"))
        custom = info["rosbag2_bagfile_information"]["custom_data"]
        return {str(k): str(v) for k, v in custom.items() if isinstance(v, str)}
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return {}


def rewrite_bag(
    path: Path,
    mcap: Path,
    *,
    custom: Mapping[str, str],
    compress: bool = True,
    mark_recovered: bool = True,
    keep_partial: bool = False,
) -> RecoveryReport:
    """Rewrite the messages of ``mcap`` as a finished rosbag2 bag in ``path``, replacing the file.

    The messages are read in file order up to the first damaged record and written with
    ``rosbags`` into ``path/.recovering/<name>/``; then the new MCAP file replaces the old one
    and its ``metadata.yaml`` is put in place (in that order, each an atomic rename). Every
    topic of :data:`TOPIC_TYPES` is declared, in that order, whether it has messages or not.

    Args:
        path: the log directory.
        mcap: its MCAP file.
        custom: ``custom_data`` for metadata.yaml (keys without the ``robot_agent.`` prefix
            are written as they are).
        compress: zstd-compress the chunks.
        mark_recovered: add ``robot_agent.recovered: 'true'`` and the report as JSON. When
            false, the bag is still marked if the scan stopped on damage.
        keep_partial: keep the original file as ``<name>.mcap.partial``.

    Returns:
        What was kept and why the scan stopped.

    Raises:
        EpisodeLogError: the file is not an episode log, or ends before its ``/episode/meta``.
        OSError: the new bag cannot be written (the old file is then untouched).
    """
    rosbag2 = require("rosbags.rosbag2", "episode logs")
    store = typestore()
    scan = McapScan(mcap)
    where = str(mcap)
    scratch = path / SCRATCH_NAME
    if scratch.exists():
        shutil.rmtree(scratch)  # a previous rewrite died; it never touched the original
    scratch.mkdir()
    new_dir = scratch / mcap.stem
    counts: dict[str, int] = {}
    try:
        writer = rosbag2.Writer(new_dir, version=9, storage_plugin=rosbag2.StoragePlugin.MCAP)
        if compress:
            writer.set_compression(rosbag2.CompressionMode.STORAGE, rosbag2.CompressionFormat.ZSTD)
        with writer:
            conns = {
                topic: writer.add_connection(topic, msgtype, typestore=store) for topic, msgtype in TOPIC_TYPES.items()
            }
            by_channel: dict[int, Any] = {}
            seen_meta = False
            for cid, t_ns, raw in scan.messages():
                channel = scan.channels[cid]
                if not seen_meta:
                    if channel.topic != META_TOPIC or channel.msgtype != STRING_TYPE:
                        raise EpisodeLogError(
                            f"{where}: not a robot_agent episode log (its first message "
                            f"is on {channel.topic}, not {META_TOPIC})"
                        )
                    decode_event(where, META_TOPIC, raw)
                    seen_meta = True
                if cid not in by_channel:
                    by_channel[cid] = _connection(writer, conns, channel, store, where)
                if by_channel[cid] is None:
                    continue
                writer.write(by_channel[cid], t_ns, raw)
                counts[channel.topic] = counts.get(channel.topic, 0) + 1
            if not seen_meta:
                why = f" ({scan.stop_reason})" if scan.stop_reason else ""
                raise EpisodeLogError(f"{where}: nothing to recover: the file ends before the {META_TOPIC} header{why}")
            report = RecoveryReport(
                path=str(path),
                messages=sum(counts.values()),
                counts=counts,
                stop_reason=scan.stop_reason,
                bytes_salvaged=scan.good_end,
                bytes_total=scan.size,
                recovered_at_ns=time.time_ns(),
            )
            for key, value in custom.items():
                writer.set_custom_data(key, value)
            writer.set_custom_data(CUSTOM_PREFIX + "schema_version", str(SCHEMA_VERSION))
            if mark_recovered or scan.stop_reason is not None:
                writer.set_custom_data(CUSTOM_PREFIX + "recovered", "true")
                writer.set_custom_data(CUSTOM_PREFIX + "recovery", json.dumps(report.to_dict()))
        new_mcap = new_dir / mcap.name
        fsync_file(new_mcap)
        fsync_file(new_dir / METADATA_NAME)
        if keep_partial:
            shutil.copy2(mcap, mcap.with_name(mcap.name + ".partial"))
        os.replace(new_mcap, mcap)
        os.replace(new_dir / METADATA_NAME, path / METADATA_NAME)
        fsync_dir(path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return report


def _connection(writer: Any, conns: dict[str, Any], channel: Any, store: Any, where: str) -> Any:
    """The new bag's connection for a channel of the old file (None: its messages are dropped)."""
    if channel.topic in conns:
        if channel.msgtype != TOPIC_TYPES[channel.topic]:
            log.warning(
                "%s: dropping topic %s of type %s (expected %s)",
                where,
                channel.topic,
                channel.msgtype,
                TOPIC_TYPES[channel.topic],
            )
            return None
        return conns[channel.topic]
    if channel.msgtype not in store.types:
        log.warning("%s: dropping topic %s of unknown type %s", where, channel.topic, channel.msgtype)
        return None
    conns[channel.topic] = writer.add_connection(channel.topic, channel.msgtype, typestore=store)
    return conns[channel.topic]


def finished_ok(mcap: Path) -> bool:
    """Whether a finished MCAP file opens and every message in it reads."""
    try:
        for _ in FinishedMcap(mcap).messages():
            pass
    except EpisodeLogError:
        return False
    return True


def recover(path: str | os.PathLike[str], *, keep_partial: bool = False) -> RecoveryReport | None:
    """Rebuild a finished bag from an unfinished episode log (a crashed recording).

    Reads the MCAP file record by record up to the first damaged byte, writes the messages into
    a new bag (file order, zstd chunks, summary, footer, ``metadata.yaml`` whose ``custom_data``
    says ``robot_agent.recovered: 'true'`` and holds this report as JSON) and swaps it in.
    Safe against a second crash during recovery: the partial file is replaced atomically and
    ``recording.lock`` stays until the end, so the next reader recovers again.

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
    lock = path / LOCK_NAME
    try:
        fd: int | None = acquire_lock(lock)
    except LockBusy:
        raise EpisodeLogError(f"{path}: is being recorded by a running process (its {LOCK_NAME} is held)") from None
    try:
        mcap = find_mcap(path)
        if (path / METADATA_NAME).exists() and finished_ok(mcap):
            report = None
        else:
            report = rewrite_bag(path, mcap, custom=_old_custom_data(path), keep_partial=keep_partial)
            log.warning(
                "recovered episode log %s: %d messages kept%s",
                path,
                report.messages,
                f"; stopped: {report.stop_reason}" if report.stop_reason else "",
            )
        release_lock(fd, lock)
        fd = None
        return report
    finally:
        if fd is not None:
            release_lock(fd)  # keep the lock file: the log is still unfinished
