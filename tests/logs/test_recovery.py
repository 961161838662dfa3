"""Crash safety (robot_agent/logs/recovery.py): a recording killed mid-episode, a live log, a cut at
any byte, a damaged chunk and a garbage record length all leave what was written before them."""

from __future__ import annotations

import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rosbags.highlevel import AnyReader

from robot_agent.errors import EpisodeLogError
from robot_agent.logs import (
    EVENT_TOPICS,
    JOINT_STATES_TOPIC,
    LOCK_NAME,
    META_TOPIC,
    EpisodeLogReader,
    EpisodeLogWriter,
    recover,
)
from tests.logs.helpers import T0, TYPESTORE, copy_log, make_crashed, time_limit, unique

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from robot_agent.logs import EpisodeLogWriter
    w = EpisodeLogWriter(sys.argv[1], "ep-crash", meta={"task": "stack", "scene": "tabletop"},
                         image_max_hz=None, joint_state_max_hz=None, start_ns=1)
    w.open()
    w.task("stack the blocks", t_ns=10)
    w.plan(["pick(a)", "place(a, b)"], t_ns=20)
    w.skill_call("pick", {"object": "a"}, {"speed": 0.3}, t_ns=30)
    w.correction("slower please", "spoken", t_ns=40)
    w.understood("slower please", "skill", skill="pick", t_ns=50)
    print("EVENTS", flush=True)
    i = 0
    while True:
        w.joint_state(["a", "b"], [i, -i], t_ns=100 + i)
        if i % 10 == 0:
            w.image(np.full((24, 32, 3), i % 256, np.uint8), t_ns=100 + i)
        i += 1
        if i % 50 == 0:
            print("WROTE", i, flush=True)
""")


def read_lines_until(proc: subprocess.Popen, done, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"child exited early: {proc.wait()} {proc.stderr.read() if proc.stderr else ''}")
            if done(line.split()):
                return
    raise AssertionError("child did not write in time")


def test_sigkill_mid_episode_leaves_a_readable_log(tmp_path):
    log = tmp_path / "crash"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(log)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    written = 0

    def enough(words: list[str]) -> bool:
        nonlocal written
        if words and words[0] == "WROTE":
            written = int(words[1])
        return written >= 300

    try:
        read_lines_until(proc, enough)
    finally:
        proc.kill()  # SIGKILL: no atexit, no finally, no flush
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (log / "metadata.yaml").exists() and (log / LOCK_NAME).exists()

    # read as it is, without touching the files
    direct = EpisodeLogReader(copy_log(log, tmp_path / "copy"), repair=False)
    assert direct.recovered and not (tmp_path / "copy" / "metadata.yaml").exists()

    reader = EpisodeLogReader(log)
    assert reader.recovered and reader.recovery["messages"] >= 5 + 1 + written
    events = [e for e in reader.events(EVENT_TOPICS)]
    assert [(e.kind, e.t_ns) for e in events] == [
        ("meta", 1),
        ("task", 10),
        ("plan", 20),
        ("skill_call", 30),
        ("correction", 40),
        ("understood", 50),
    ]
    assert events[4].data["text"] == "slower please" and events[4].data["source"] == "spoken"
    joints = [e for e in reader.events([JOINT_STATES_TOPIC])]
    assert len(joints) >= written
    assert [e.data["position"][0] for e in joints] == list(range(len(joints)))
    assert direct.topics[JOINT_STATES_TOPIC] == len(joints)
    summary = reader.summary()
    assert summary.recovered and summary.success is None and summary.n_corrections == 1
    assert summary.task == "stack the blocks"

    # the log is now a proper bag: plain rosbags reads it, and it stays marked as recovered
    assert (log / "metadata.yaml").exists() and not (log / LOCK_NAME).exists()
    with AnyReader([log], default_typestore=TYPESTORE) as plain:
        assert plain.message_count == sum(reader.topics.values())
    again = EpisodeLogReader(log)
    assert again.recovered and again.recovery == reader.recovery
    assert recover(log) is None  # finished and intact now


def test_live_log_is_read_but_never_modified(tmp_path):
    log = tmp_path / "live"
    with EpisodeLogWriter(log, "ep-live", start_ns=T0) as w:
        w.task("wave", t_ns=T0 + 1)
        w.correction("higher", t_ns=T0 + 2)
        reader = EpisodeLogReader(log)
        assert reader.in_progress and not reader.recovered
        assert [e.kind for e in reader.events(EVENT_TOPICS)] == ["meta", "task", "correction"]
        assert reader.summary().in_progress
        assert not (log / "metadata.yaml").exists()
        with pytest.raises(EpisodeLogError, match="live: is being recorded by a running process"):
            recover(log)
        w.outcome(True, t_ns=T0 + 3)
    reader = EpisodeLogReader(log)
    assert not reader.in_progress and reader.summary().success is True


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10**6))
def test_crash_at_any_byte_recovers_a_prefix(tmp_path, crash_image, cut):
    image, order = crash_image
    cut = cut % (len(image) + 1)
    log = make_crashed(tmp_path, f"cut{next(unique)}", image[:cut])
    with time_limit(20):
        try:
            reader = EpisodeLogReader(log)
        except EpisodeLogError as exc:
            assert str(log) in str(exc)
            assert not (log / ".recovering").exists()
            return
        got = [(e.topic, e.t_ns) for e in reader.events()]
    assert reader.recovered and got == order[: len(got)] and got[0][0] == META_TOPIC
    shutil.rmtree(log)


def test_a_damaged_chunk_ends_the_salvage_at_its_crc(tmp_path, crash_image):
    """The file being recorded holds one CRC-checked chunk per message: a changed byte in one
    message is caught by its chunk's CRC, and everything before that chunk is kept."""
    image, order = crash_image
    assert order[-1][0] == "/episode/correction"
    damaged = bytearray(image)
    damaged[image.rindex(b'"left"') + 1] ^= 0x20  # "left" -> "Left" inside the last message
    reader = EpisodeLogReader(make_crashed(tmp_path, "crc", bytes(damaged)))
    assert reader.recovered and "crc validation failed" in reader.recovery["stop_reason"]
    assert [(e.topic, e.t_ns) for e in reader.events()] == order[:-1]


def test_a_garbage_record_length_is_refused_before_reading(tmp_path, crash_image):
    """A record claiming a terabyte stops the salvage at once; nothing is allocated for it."""
    image, order = crash_image
    huge_chunk = bytes([0x06]) + (1 << 40).to_bytes(8, "little") + bytes(64)
    with time_limit(20):
        reader = EpisodeLogReader(make_crashed(tmp_path, "huge", image + huge_chunk))
    assert reader.recovered and "exceeds limit" in reader.recovery["stop_reason"]
    assert reader.recovery["bytes_salvaged"] == len(image)
    assert [(e.topic, e.t_ns) for e in reader.events()] == order
