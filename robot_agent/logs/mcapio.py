"""Reading episode MCAP files with Foxglove's ``mcap`` library, safely on damaged bytes.

Two ways in:

* :class:`McapScan` reads a file front to back, record by record (``mcap``'s ``StreamReader``
  with ``emit_chunks``), and stops cleanly at the first truncated or damaged record, keeping
  everything before it. It is how unfinished logs (a recording in progress, or one cut by a
  crash) are read and salvaged. Every chunk's CRC is checked when the file has one.
* :class:`FinishedMcap` reads a finished file through its summary and chunk indexes
  (``mcap``'s ``SeekingReader``), in log-time order; chunk CRCs are checked too.

Both read through :class:`_Bounded`, which refuses any read past the end of the file as it was
when it was opened, and both cap the size of a record (:data:`MAX_RECORD_BYTES`), so garbage
lengths in a damaged file can neither allocate huge buffers nor run past the data.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from robot_agent.deps import require
from robot_agent.errors import EpisodeLogError

#: the eight bytes every MCAP file starts and ends with
MCAP_MAGIC = b"\x89MCAP0\r\n"
#: the largest record (and uncompressed chunk) read; a 1080p rgb8 frame is about 6 MiB
MAX_RECORD_BYTES = 1 << 28
_FOOTER_BYTES = 9 + 20  # opcode, length, then summary start, summary offset start, CRC


class _Truncated(Exception):
    """A read went past the end of the file."""


class _Damaged(Exception):
    """A record was read but what it says is impossible."""


class _Bounded:
    """A read-only view of an open file that refuses to read past its size at open time.

    ``mcap`` reads a length field and then that many bytes; on a damaged file the length can be
    anything. Checking it against what is left keeps a garbage length from allocating memory,
    and a short read from passing silently.
    """

    def __init__(self, fh: IO[bytes], size: int) -> None:
        self._fh = fh
        self.size = size
        self.pos = 0
        fh.seek(0)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        target = base + offset
        if not 0 <= target <= self.size:
            raise _Truncated(f"an offset points outside the file (byte {target} of {self.size})")
        self._fh.seek(target)
        self.pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        left = self.size - self.pos
        n = left if size is None or size < 0 else size
        if n > left:
            raise _Truncated(f"{n} bytes wanted at byte {self.pos}, {left} left in the file")
        data = self._fh.read(n)
        if len(data) != n:
            raise _Truncated(f"the file shrank while it was read (byte {self.pos})")
        self.pos += n
        return data


def _open(path: Path) -> tuple[IO[bytes], int]:
    """Open an MCAP file and check its size and leading magic bytes."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise EpisodeLogError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    try:
        size = path.stat().st_size
        head = fh.read(len(MCAP_MAGIC))
    except OSError as exc:
        fh.close()
        raise EpisodeLogError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if size == 0:
        fh.close()
        raise EpisodeLogError(f"{path}: empty file (the recording wrote nothing)")
    if head != MCAP_MAGIC:
        fh.close()
        raise EpisodeLogError(f"{path}: not an MCAP file (bad magic bytes)")
    return fh, size


def _check_chunk(chunk: Any) -> None:
    """Refuse a chunk whose sizes are impossible, before ``mcap`` decompresses it."""
    size = chunk.uncompressed_size
    if size > MAX_RECORD_BYTES:
        raise _Damaged(f"chunk claims {size} bytes uncompressed (limit {MAX_RECORD_BYTES})")
    if chunk.compression == "":
        if len(chunk.data) != size:
            raise _Damaged(f"chunk holds {len(chunk.data)} bytes, its header says {size}")
    elif chunk.compression == "zstd":
        zstandard = require("zstandard", "reading zstd-compressed episode logs")
        try:
            declared = zstandard.frame_content_size(chunk.data)
        except zstandard.ZstdError as exc:
            raise _Damaged(f"zstd data is damaged: {exc}") from None
        if declared not in (-1, size):  # -1: not stated; mcap then stops at ``size``
            raise _Damaged(f"zstd frame holds {declared} bytes, the chunk header says {size}")
    elif chunk.compression == "lz4":
        lz4_frame = require("lz4.frame", "reading lz4-compressed episode logs")
        try:
            declared = lz4_frame.get_frame_info(chunk.data).get("content_size", 0)
        except Exception as exc:  # noqa: BLE001 - lz4 fed damaged bytes raises several kinds
            raise _Damaged(f"lz4 data is damaged: {exc}") from None
        if declared != size:  # lz4 decompression is only bounded by the size the frame states
            raise _Damaged(f"lz4 frame states {declared} bytes, the chunk header says {size}")
    else:
        raise _Damaged(f"unknown chunk compression {chunk.compression!r}")


@dataclass(frozen=True)
class Channel:
    """A channel of an MCAP file: its topic, message type (schema name) and encoding."""

    topic: str
    msgtype: str
    encoding: str


class McapScan:
    """One pass over an MCAP file's records in file order, yielding its messages.

    After :meth:`messages` is exhausted, ``stop_reason`` says why the scan ended early (None
    when the data ended cleanly), ``finished`` whether the end of the data section (a DataEnd
    or Footer record) was reached, and ``good_end`` is the offset just past the last intact
    record. ``channels`` maps channel ids to :class:`Channel`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.schemas: dict[int, str] = {}
        self.channels: dict[int, Channel] = {}
        self.stop_reason: str | None = None
        self.finished = False
        self.size = 0
        self.good_end = 0

    def messages(self, want: Callable[[str], bool] = lambda _t: True) -> Iterator[tuple[int, int, bytes]]:
        """Yield ``(channel_id, log_time_ns, data)`` for channels whose topic ``want`` accepts.

        Raises:
            EpisodeLogError: the file cannot be opened, is empty or is not an MCAP file at all.
                (Damage further in ends the scan instead; see ``stop_reason``.)
        """
        stream_reader = require("mcap.stream_reader", "reading episode logs")
        records_mod = require("mcap.records", "reading episode logs")
        exceptions = require("mcap.exceptions", "reading episode logs")
        fh, self.size = _open(self.path)
        with fh:
            stream = _Bounded(fh, self.size)
            stream.seek(len(MCAP_MAGIC))
            reader = stream_reader.StreamReader(
                stream, skip_magic=True, emit_chunks=True, validate_crcs=True, record_size_limit=MAX_RECORD_BYTES
            )
            records = reader.records
            self.good_end = stream.tell()
            first = True
            while stream.tell() < self.size:
                start = stream.tell()
                try:
                    record = next(records)
                    if isinstance(record, (records_mod.DataEnd, records_mod.Footer)):
                        self.finished = True
                        return
                    found = self._take(record, want, first, stream_reader, records_mod)
                except _Truncated as exc:
                    self._stop(start, f"truncated record ({exc})")
                    return
                except _Damaged as exc:
                    self._stop(start, f"damaged record: {exc}")
                    return
                except exceptions.RecordLengthLimitExceeded as exc:
                    self._stop(start, f"damaged record: {exc}")
                    return
                except Exception as exc:  # noqa: BLE001 - mcap fed damaged bytes raises many kinds
                    self._stop(start, f"damaged record ({type(exc).__name__}: {exc})")
                    return
                first = False
                yield from found
                self.good_end = stream.tell()

    def _stop(self, pos: int, reason: str) -> None:
        self.stop_reason = f"{reason} at byte {pos} of {self.size}"

    def _take(
        self, record: Any, want: Callable[[str], bool], first: bool, stream_reader: Any, records_mod: Any
    ) -> list[tuple[int, int, bytes]]:
        """The wanted messages of one top-level record, after checking it; registers schemas and channels."""
        if isinstance(record, records_mod.Chunk):
            _check_chunk(record)
            inner = stream_reader.breakup_chunk(record, validate_crc=True)
        else:
            inner = [record]
        out: list[tuple[int, int, bytes]] = []
        for rec in inner:
            if isinstance(rec, records_mod.Header):
                if not first:
                    raise _Damaged("a second header record")
                if rec.profile != "ros2":
                    raise _Damaged(f"MCAP profile is {rec.profile!r}, not 'ros2'")
            elif isinstance(rec, records_mod.Schema):
                self.schemas[rec.id] = rec.name
            elif isinstance(rec, records_mod.Channel):
                if rec.schema_id not in self.schemas:
                    raise _Damaged(f"channel {rec.id} ({rec.topic}) refers to unknown schema {rec.schema_id}")
                self.channels[rec.id] = Channel(rec.topic, self.schemas[rec.schema_id], rec.message_encoding)
            elif isinstance(rec, records_mod.Message):
                channel = self.channels.get(rec.channel_id)
                if channel is None:
                    raise _Damaged(f"message on unknown channel {rec.channel_id}")
                if rec.log_time >= 2**63:
                    raise _Damaged(f"message time {rec.log_time} out of range")
                if want(channel.topic):
                    out.append((rec.channel_id, rec.log_time, rec.data))
        return out


class FinishedMcap:
    """A finished MCAP file, read through its summary section in log-time order.

    Args:
        path: the file.

    Raises:
        EpisodeLogError: the file is missing, empty, not MCAP, has no footer, or its header or
            summary cannot be read (the message names the file and the fault).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        fh, size = _open(path)
        with fh:
            fh.seek(max(0, size - len(MCAP_MAGIC)))
            tail = fh.read(len(MCAP_MAGIC))
        if size < len(MCAP_MAGIC) * 2 + 9 + _FOOTER_BYTES or tail != MCAP_MAGIC:
            raise EpisodeLogError(
                f"{path}: truncated MCAP file ({size} bytes, no footer); "
                "`robot-agent logs recover` salvages what is left"
            )
        with self._reader() as reader:
            header = reader.get_header()
            summary = reader.get_summary()
            if header.profile != "ros2":
                raise EpisodeLogError(f"{path}: MCAP profile is {header.profile!r}, not 'ros2'")
            if summary is None or summary.statistics is None:
                raise EpisodeLogError(f"{path}: corrupt MCAP file (no summary section)")
            for index in summary.chunk_indexes:
                if index.uncompressed_size > MAX_RECORD_BYTES:
                    raise EpisodeLogError(
                        f"{path}: corrupt MCAP file (a chunk claims {index.uncompressed_size} bytes uncompressed)"
                    )
            #: channel id -> :class:`Channel`
            self.channels = {
                cid: Channel(c.topic, summary.schemas[c.schema_id].name, c.message_encoding)
                for cid, c in summary.channels.items()
            }
            #: channel id -> number of messages
            self.counts = {cid: int(summary.statistics.channel_message_counts.get(cid, 0)) for cid in self.channels}
            #: log time of the last message (0 without messages)
            self.end_ns = int(summary.statistics.message_end_time) if summary.statistics.message_count else 0

    def _reader(self) -> Any:
        return _SeekingSession(self.path)

    def messages(self, topics: Iterable[str] | None = None) -> Iterator[tuple[Channel, int, bytes]]:
        """Yield ``(channel, log_time_ns, data)`` in log-time order (ties in file order).

        Raises:
            EpisodeLogError: a damaged chunk, index or message (naming the file).
        """
        with self._reader() as reader:
            wanted = None if topics is None else list(topics)
            for _schema, _channel, message in reader.iter_messages(topics=wanted, log_time_order=True):
                yield self.channels[message.channel_id], int(message.log_time), message.data


class _SeekingSession:
    """``with _SeekingSession(path) as reader``: an mcap ``SeekingReader`` over a bounded view of
    the file; any failure inside the block becomes an :class:`EpisodeLogError` naming the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[bytes] | None = None

    def __enter__(self) -> Any:
        reader_mod = require("mcap.reader", "reading episode logs")
        fh, size = _open(self.path)
        self._fh = fh
        try:
            return reader_mod.SeekingReader(_Bounded(fh, size), validate_crcs=True, record_size_limit=MAX_RECORD_BYTES)
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if exc is None or isinstance(exc, (EpisodeLogError, GeneratorExit)) or not isinstance(exc, Exception):
            return
        raise EpisodeLogError(f"{self.path}: corrupt MCAP file ({type(exc).__name__}: {exc})") from None
