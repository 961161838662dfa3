"""Small file-system and JSON helpers shared by the episode logs and the knowledge base.

* Advisory locks (``flock``) on a lock file: :func:`acquire_lock` (exclusive, never waits),
  :func:`release_lock` and :func:`lock_held` (does another process hold it?).
* Atomic writes: :func:`atomic_open` / :func:`atomic_write` write a temporary file next to the
  target, ``fsync`` it, rename it over the target and ``fsync`` the directory, so a crash
  leaves either the old file or the new one, never a torn mix.
* :func:`json_safe`: a JSON-ready copy of a value (numpy, enums, dataclasses, paths; NaN and
  infinities become ``None``, since strict JSON has neither).
"""

from __future__ import annotations

import dataclasses
import enum
import fcntl
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np


class LockBusy(BlockingIOError):
    """Another process holds the lock. ``holder`` is what the holder wrote into the lock file."""

    def __init__(self, path: str | os.PathLike[str], holder: str) -> None:
        super().__init__(f"{path}: locked by another process" + (f" ({holder})" if holder else ""))
        self.path = Path(path)
        self.holder = holder


def acquire_lock(path: str | os.PathLike[str], note: str | None = None, *, sync: bool = False) -> int:
    """Create (if needed) and exclusively ``flock`` the file ``path``; never waits.

    Args:
        path: the lock file.
        note: text written into the lock file once it is held (e.g. the pid), replacing what
            was there; ``None`` leaves the file as it is.
        sync: ``fsync`` the note to disk.

    Returns:
        The open descriptor; the lock lives as long as it stays open (see :func:`release_lock`).

    Raises:
        LockBusy: another process holds the lock.
        OSError: the file cannot be opened.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            holder = os.pread(fd, 4096, 0).decode("utf8", errors="replace").strip()
        except OSError:
            holder = ""
        os.close(fd)
        raise LockBusy(path, holder) from None
    except BaseException:
        os.close(fd)
        raise
    if note is not None:
        os.ftruncate(fd, 0)
        os.pwrite(fd, note.encode("utf8"), 0)
        if sync:
            os.fsync(fd)
    return fd


def release_lock(fd: int, path: str | os.PathLike[str] | None = None) -> None:
    """Release a lock taken with :func:`acquire_lock`; with ``path``, delete the lock file first.

    Deleting before unlocking means no other process can take the lock on a file that is about
    to disappear and believe it holds the lock for good. The lock is released explicitly (not
    only by closing), so a copy of the descriptor in a forked child does not keep it.
    """
    try:
        if path is not None:
            Path(path).unlink(missing_ok=True)
    finally:
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def lock_held(path: str | os.PathLike[str]) -> bool:
    """Whether another process holds the lock file ``path`` (probed without keeping it).

    A missing or unreadable file counts as not held.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing releases the shared lock we may have taken
    return False


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """``fsync`` a directory, so the renames and creations in it survive a power cut."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """``fsync`` a file that is already written and closed."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file to write ``path`` atomically; it replaces ``path`` when the block ends.

    The temporary file sits in the target's directory (so the rename is atomic), is flushed and
    ``fsync``-ed, renamed over ``path``, and the directory is ``fsync``-ed. When the block
    raises, the temporary file is removed and ``path`` is untouched.

    Args:
        path: the file to write.
        mode: ``"w"`` (text) or ``"wb"`` (binary).
        encoding: the text encoding (ignored in binary mode).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open writes whole files: mode 'w' or 'wb', not {mode!r}")
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> None:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically (see :func:`atomic_open`)."""
    if isinstance(data, str):
        with atomic_open(path, "w") as fh:
            fh.write(data)
    else:
        with atomic_open(path, "wb") as fh:
            fh.write(data)


def json_safe(obj: Any, where: str = "value", *, strict: bool = True) -> Any:
    """A JSON-ready copy of ``obj``.

    Dataclasses, enums (their value), numpy scalars and arrays, paths, tuples and sets are
    converted; objects with a ``to_dict()`` method are converted through it; mapping keys become
    strings. Non-finite floats become ``None`` (strict JSON has no NaN or infinity).

    Args:
        obj: the value.
        where: its name, for the error message (nested values are named ``where.key[i]``).
        strict: refuse anything else with a ``TypeError``; when false, anything else becomes
            its ``str()``.

    Raises:
        TypeError: (strict) a value of another type, naming where it is.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return json_safe(obj.value, where, strict=strict)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist(), where, strict=strict)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v, f"{where}.{k}", strict=strict) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [json_safe(v, f"{where}[{i}]", strict=strict) for i, v in enumerate(items)]
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return json_safe(to_dict(), where, strict=strict)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return json_safe(dataclasses.asdict(obj), where, strict=strict)
    if not strict:
        return str(obj)
    raise TypeError(
        f"cannot log a {type(obj).__name__} at {where}: use JSON types, numpy, dataclasses or objects with to_dict()"
    )
