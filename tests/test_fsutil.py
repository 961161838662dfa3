"""robot_agent.fsutil: flock-based locks across processes, atomic writes, JSON sanitizing."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from robot_agent.fsutil import LockBusy, acquire_lock, atomic_open, atomic_write, json_safe, lock_held, release_lock

HOLDER = textwrap.dedent("""
    import sys, time
    from robot_agent.fsutil import acquire_lock
    fd = acquire_lock(sys.argv[1], "pid 4242\\n")
    print("HELD", flush=True)
    sys.stdin.readline()  # hold the lock until told to go
""")


def test_a_lock_held_by_another_process_is_seen_and_refused(tmp_path: Path) -> None:
    lock = tmp_path / "writer.lock"
    assert not lock_held(lock)  # missing file: nobody holds it
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "HELD"
        assert lock_held(lock)
        with pytest.raises(LockBusy) as info:
            acquire_lock(lock, "pid 1\n")
        assert info.value.holder == "pid 4242" and isinstance(info.value, BlockingIOError)
        assert lock.read_text() == "pid 4242\n"  # a refused taker leaves the holder's note alone
    finally:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.close()
        proc.wait(30)
    assert not lock_held(lock)  # the holder exited: the lock went with it
    fd = acquire_lock(lock, "mine\n")
    assert lock.read_text() == "mine\n"
    release_lock(fd, lock)
    assert not lock.exists()


def test_release_keeps_the_file_unless_told(tmp_path: Path) -> None:
    lock = tmp_path / "l"
    fd = acquire_lock(lock)
    release_lock(fd)
    assert lock.exists() and not lock_held(lock)
    fd = acquire_lock(lock)  # free again
    release_lock(fd, lock)
    assert not lock.exists()


def test_atomic_write_replaces_whole_files(tmp_path: Path) -> None:
    target = tmp_path / "index.bin"
    atomic_write(target, b"old")
    atomic_write(target, "new text é")
    assert target.read_text(encoding="utf-8") == "new text é"
    with pytest.raises(ZeroDivisionError), atomic_open(target, "wb") as fh:
        fh.write(b"half of a new file")
        raise ZeroDivisionError
    assert target.read_text(encoding="utf-8") == "new text é"  # untouched by the failed write
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.bin"]  # no temporary file left
    with pytest.raises(ValueError, match="mode"):
        with atomic_open(target, "a"):
            pass


class Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Grip:
    offset: np.ndarray
    colour: Colour


def test_json_safe_converts_or_refuses() -> None:
    value = {
        "grip": Grip(np.array([0.0, np.float32(0.5)]), Colour.RED),
        3: (np.int64(2), np.bool_(True)),
        "bad": [math.nan, -math.inf, 1.5],
        "where": Path("/tmp/x"),  # noqa: S108 - a path value, no file is made
        "tags": {"b", "a"},
    }
    out = json_safe(value)
    assert out == {
        "grip": {"offset": [0.0, 0.5], "colour": "red"},
        "3": [2, True],
        "bad": [None, None, 1.5],
        "where": "/tmp/x",  # noqa: S108 - a path value, no file is made
        "tags": ["a", "b"],
    }
    json.dumps(out, allow_nan=False)
    with pytest.raises(TypeError, match=r"cannot log a object at params\.x\[1\]"):
        json_safe({"x": [1, object()]}, "params")
    assert json_safe({"x": object}, strict=False)["x"] == str(object)
