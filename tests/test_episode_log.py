"""Episode logs: real rosbag2/MCAP directories written and read back, crash recovery, bad files, CLI."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from robot_agent.cli import logs as logs_cli
from robot_agent.errors import EpisodeLogError
from robot_agent.logs import (
    EVENT_TOPICS,
    IMAGE_TOPIC,
    JOINT_STATES_TOPIC,
    LOCK_NAME,
    META_TOPIC,
    TOPIC_TYPES,
    EpisodeLogReader,
    EpisodeLogWriter,
    find_episode_logs,
    recover,
)
from skills.result import SkillResult, SkillStatus

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
TYPESTORE = get_typestore(Stores.ROS2_KILTED)
JOINTS = ["shoulder", "elbow", "wrist"]
_unique = itertools.count()  # directory names for hypothesis examples, which may repeat


def frame(i: int) -> np.ndarray:
    img = np.zeros((12, 16, 3), np.uint8)
    img[..., 0] = i
    img[2:6, 3:9, 1] = 200 - i
    return img


def write_synthetic(path: Path) -> list[tuple[str, int, Any]]:
    """Write an episode with every kind of event; return what the log must hold, in time order.

    JSON topics map to their payload (without ``schema``); joint states to
    ``(names, positions, velocities)``; images to the rgb array.
    """
    expected: list[tuple[str, int, Any]] = []
    meta = {
        "task": "put the red block in the drawer",
        "scene": "tabletop",
        "robot": "panda",
        "config": {"image_max_hz": 5.0},
    }
    with EpisodeLogWriter(path, "ep-0001", meta=meta, image_max_hz=5.0, joint_state_max_hz=50.0, start_ns=T0) as w:
        expected.append(
            (
                META_TOPIC,
                T0,
                {**meta, "schema_version": 1, "episode_id": "ep-0001", "start_time_ns": T0, "ros_distro": "kilted"},
            )
        )
        w.task("put the red block in the drawer", t_ns=T0 + 1 * MS)
        expected.append(("/episode/task", T0 + 1 * MS, {"text": "put the red block in the drawer"}))
        w.plan(["pick(red_block)", "place(red_block, drawer)"], reason="initial", t_ns=T0 + 2 * MS)
        expected.append(
            (
                "/episode/plan",
                T0 + 2 * MS,
                {"steps": ["pick(red_block)", "place(red_block, drawer)"], "reason": "initial"},
            )
        )
        # joint states at 100 Hz for 0.6 s: the 50 Hz limit keeps every other one
        for i in range(60):
            t = T0 + 3 * MS + i * 10 * MS
            pos = [0.1 * i, -0.2, 0.3]
            kept = w.joint_state(JOINTS, pos, [0.0, 0.5, -0.5], t_ns=t)
            assert kept == (i % 2 == 0)
            if kept:
                expected.append((JOINT_STATES_TOPIC, t, (JOINTS, pos, [0.0, 0.5, -0.5])))
        # frames at 10 Hz: the 5 Hz limit keeps every other one
        for i in range(10):
            t = T0 + 4 * MS + i * 100 * MS
            kept = w.image(frame(i), t_ns=t)
            assert kept == (i % 2 == 0)
            if kept:
                expected.append((IMAGE_TOPIC, t, frame(i)))
        w.skill_call(
            "pick",
            {"object": "red_block"},
            {"grasp_offset": np.array([0.0, 0.0, 0.01]), "speed": 0.5},
            step=0,
            t_ns=T0 + 10 * MS,
        )
        expected.append(
            (
                "/episode/skill_call",
                T0 + 10 * MS,
                {
                    "skill": "pick",
                    "args": {"object": "red_block"},
                    "params": {"grasp_offset": [0.0, 0.0, 0.01], "speed": 0.5},
                    "step": 0,
                },
            )
        )
        w.correction("grasp it higher", "spoken", t_ns=T0 + 50 * MS, asr_confidence=0.8)
        expected.append(
            (
                "/episode/correction",
                T0 + 50 * MS,
                {"asr_confidence": 0.8, "text": "grasp it higher", "source": "spoken", "received_ns": T0 + 50 * MS},
            )
        )
        w.understood(
            "grasp it higher", "skill", skill="pick", param_delta={"grasp_offset": [0, 0, 0.02]}, t_ns=T0 + 60 * MS
        )
        expected.append(
            (
                "/episode/understood",
                T0 + 60 * MS,
                {
                    "skill": "pick",
                    "param_delta": {"grasp_offset": [0, 0, 0.02]},
                    "text": "grasp it higher",
                    "kind": "skill",
                },
            )
        )
        w.skill_result(
            "pick", SkillResult(SkillStatus.INTERRUPTED, "correction", {"ticks": 12}), step=0, t_ns=T0 + 70 * MS
        )
        expected.append(
            (
                "/episode/skill_result",
                T0 + 70 * MS,
                {
                    "status": "interrupted",
                    "reason": "correction",
                    "facts": {"ticks": 12},
                    "skill": "pick",
                    "success": False,
                    "step": 0,
                },
            )
        )
        w.skill_call("pick", {"object": "red_block"}, {"grasp_offset": (0.0, 0.0, 0.03)}, step=0, t_ns=T0 + 80 * MS)
        expected.append(
            (
                "/episode/skill_call",
                T0 + 80 * MS,
                {
                    "skill": "pick",
                    "args": {"object": "red_block"},
                    "params": {"grasp_offset": [0.0, 0.0, 0.03]},
                    "step": 0,
                },
            )
        )
        w.skill_result("pick", True, step=0, t_ns=T0 + 200 * MS)
        expected.append(
            (
                "/episode/skill_result",
                T0 + 200 * MS,
                {"status": "succeeded", "reason": "", "facts": {}, "skill": "pick", "success": True, "step": 0},
            )
        )
        w.correction("first open the drawer", received_ns=T0 + 249 * MS, t_ns=T0 + 250 * MS)
        expected.append(
            (
                "/episode/correction",
                T0 + 250 * MS,
                {"text": "first open the drawer", "source": "typed", "received_ns": T0 + 249 * MS},
            )
        )
        w.understood(
            "first open the drawer", "plan", constraint="open(drawer) before place(*, drawer)", t_ns=T0 + 260 * MS
        )
        expected.append(
            (
                "/episode/understood",
                T0 + 260 * MS,
                {"constraint": "open(drawer) before place(*, drawer)", "text": "first open the drawer", "kind": "plan"},
            )
        )
        w.plan(["open(drawer)", "place(red_block, drawer)"], reason="correction", t_ns=T0 + 270 * MS, revision=2)
        expected.append(
            (
                "/episode/plan",
                T0 + 270 * MS,
                {"revision": 2, "steps": ["open(drawer)", "place(red_block, drawer)"], "reason": "correction"},
            )
        )
        w.knowledge(used=[{"id": "k1", "rule": "grasp mugs by the handle"}], t_ns=T0 + 280 * MS)
        expected.append(
            (
                "/episode/knowledge",
                T0 + 280 * MS,
                {"used": [{"id": "k1", "rule": "grasp mugs by the handle"}], "distilled": []},
            )
        )
        w.knowledge(
            distilled=[{"kind": "plan", "rule": "open the drawer before placing into it", "score": float("nan")}],
            t_ns=T0 + 1_100 * MS,
        )
        expected.append(
            (
                "/episode/knowledge",
                T0 + 1_100 * MS,
                {
                    "used": [],
                    "distilled": [{"kind": "plan", "rule": "open the drawer before placing into it", "score": None}],
                },
            )
        )
        w.outcome(True, reason="block in drawer", t_ns=T0 + 1_200 * MS)
        expected.append(
            (
                "/episode/outcome",
                T0 + 1_200 * MS,
                {"success": True, "corrections": 2, "duration_s": 1.2, "reason": "block in drawer"},
            )
        )
    assert w.skipped == {JOINT_STATES_TOPIC: 30, IMAGE_TOPIC: 5}
    expected.sort(key=lambda e: e[1])
    return expected


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, Any]]]:
    path = tmp_path_factory.mktemp("logs") / "ep-0001"
    return path, write_synthetic(path)


def copy_log(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def payload_of(data: dict[str, Any], topic: str) -> dict[str, Any]:
    assert data["schema"] == f"robot_agent/{topic.rsplit('/', 1)[-1]}/v1"
    return {k: v for k, v in data.items() if k != "schema"}


# ------------------------------------------------------------------------------------------------
# writing and reading back


def test_plain_rosbags_reads_the_log_message_for_message(synthetic):
    path, expected = synthetic
    info = yaml.safe_load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert info["storage_identifier"] == "mcap"
    assert info["relative_file_paths"] == ["ep-0001.mcap"]
    assert info["message_count"] == len(expected)
    assert info["custom_data"]["robot_agent.images_skipped"] == "5"
    assert info["custom_data"]["robot_agent.joint_states_skipped"] == "30"
    declared = {t["topic_metadata"]["name"]: t["topic_metadata"]["type"] for t in info["topics_with_message_count"]}
    assert declared == TOPIC_TYPES

    got = []
    with AnyReader([path], default_typestore=TYPESTORE) as reader:
        for conn, t, raw in reader.messages():
            got.append((conn.topic, conn.msgtype, t, reader.deserialize(raw, conn.msgtype)))
    assert [(g[0], g[2]) for g in got] == [(e[0], e[1]) for e in expected]
    for (topic, msgtype, t, msg), (_, _, want) in zip(got, expected, strict=True):
        assert msgtype == TOPIC_TYPES[topic]
        if topic == JOINT_STATES_TOPIC:
            assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == t
            assert list(msg.name) == want[0]
            np.testing.assert_allclose(msg.position, want[1])
            np.testing.assert_allclose(msg.velocity, want[2])
            assert len(msg.effort) == 0
        elif topic == IMAGE_TOPIC:
            assert msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec == t
            assert (msg.encoding, msg.width, msg.height, msg.step) == ("rgb8", 16, 12, 48)
            assert msg.header.frame_id == "camera"
            np.testing.assert_array_equal(np.asarray(msg.data).reshape(12, 16, 3), want)
        else:
            assert payload_of(json.loads(msg.data), topic) == want


def test_official_mcap_library_reads_the_log(synthetic):
    """The reference MCAP reader (Foxglove's ``mcap``) validates the file and its summary."""
    import mcap.reader as mcap_reader  # pinned in requirements.txt: the reference MCAP reader

    path, expected = synthetic
    with (path / "ep-0001.mcap").open("rb") as fh:
        reader = mcap_reader.make_reader(fh, validate_crcs=True)
        assert reader.get_header().profile == "ros2"
        assert reader.get_header().library.startswith("rosbags")  # finished through rosbags' public Writer
        summary = reader.get_summary()
        assert summary is not None and summary.statistics.message_count == len(expected)
        assert {c.topic: summary.schemas[c.schema_id].name for c in summary.channels.values()} == TOPIC_TYPES
        assert all(c.message_encoding == "cdr" for c in summary.channels.values())
        got = [(channel.topic, message.log_time) for _s, channel, message in reader.iter_messages(log_time_order=True)]
    assert got == [(e[0], e[1]) for e in expected]


def test_reader_yields_typed_events_in_time_order(synthetic):
    path, expected = synthetic
    reader = EpisodeLogReader(path)
    assert not reader.recovered and not reader.in_progress
    assert reader.episode_id == "ep-0001" and reader.schema_version == 1
    assert reader.meta["scene"] == "tabletop" and reader.meta["start_time_ns"] == T0
    events = list(reader.events())
    assert [(e.topic, e.t_ns) for e in events] == [(e[0], e[1]) for e in expected]
    for event, (topic, _t, want) in zip(events, expected, strict=True):
        if topic == JOINT_STATES_TOPIC:
            assert event.kind == "joint_states"
            assert event.data["name"] == want[0] and event.data["stamp_ns"] == event.t_ns
            np.testing.assert_allclose(event.data["position"], want[1])
            assert event.data["position"].dtype == np.float64
        elif topic == IMAGE_TOPIC:
            assert event.kind == "image"
            assert event.data["rgb"].shape == (12, 16, 3) and event.data["rgb"].dtype == np.uint8
            np.testing.assert_array_equal(event.data["rgb"], want)
        else:
            assert event.kind == topic.rsplit("/", 1)[-1]
            assert payload_of(event.data, topic) == want
    only = [e.topic for e in reader.events(["/episode/correction", IMAGE_TOPIC])]
    assert only == [e[0] for e in expected if e[0] in ("/episode/correction", IMAGE_TOPIC)]


def test_summary(synthetic):
    path, _ = synthetic
    s = EpisodeLogReader(path).summary()
    assert s.task == "put the red block in the drawer" and s.scene == "tabletop"
    assert s.success is True and s.complete and s.duration_s == pytest.approx(1.2)
    assert [(c["text"], c["source"]) for c in s.corrections] == [
        ("grasp it higher", "spoken"),
        ("first open the drawer", "typed"),
    ]
    assert s.n_corrections == 2 and s.skill_calls == 2 and s.plans == 2
    assert s.counts[JOINT_STATES_TOPIC] == 30 and s.counts[IMAGE_TOPIC] == 5 and s.counts[META_TOPIC] == 1
    assert json.loads(json.dumps(s.to_dict()))["n_corrections"] == 2


def test_image_rate_limit_keeps_frames_at_least_one_period_apart(tmp_path):
    kept = []
    with EpisodeLogWriter(tmp_path / "rate", "ep-rate", image_max_hz=4.0, start_ns=T0) as w:
        for i in range(31):  # 30 fps for one second
            t = T0 + round(i * 1e9 / 30)
            if w.image(frame(i), t_ns=t):
                kept.append(t)
    assert np.all(np.diff(kept) >= 250 * MS)
    assert len(kept) == 4 and kept[0] == T0
    times = [e.t_ns for e in EpisodeLogReader(tmp_path / "rate").events([IMAGE_TOPIC])]
    assert times == kept
    with EpisodeLogWriter(tmp_path / "all", "ep-all", image_max_hz=None, start_ns=T0) as w:
        assert all(w.image(frame(i), t_ns=T0 + i) for i in range(5))
    assert EpisodeLogReader(tmp_path / "all").topics[IMAGE_TOPIC] == 5


def test_rgba_frames_drop_alpha(tmp_path):
    rgba = np.dstack([frame(3), np.full((12, 16), 255, np.uint8)])
    with EpisodeLogWriter(tmp_path / "rgba", "ep", start_ns=T0, compress=False) as w:
        w.image(rgba, t_ns=T0)
    (event,) = EpisodeLogReader(tmp_path / "rgba").events([IMAGE_TOPIC])
    np.testing.assert_array_equal(event.data["rgb"], frame(3))


def test_writer_rejects_bad_input(tmp_path):
    (tmp_path / "exists").mkdir()
    with pytest.raises(EpisodeLogError, match="exists already"):
        EpisodeLogWriter(tmp_path / "exists", "ep").open()
    with pytest.raises(ValueError, match="image_max_hz"):
        EpisodeLogWriter(tmp_path / "x", "ep", image_max_hz=0)
    with pytest.raises(ValueError, match="episode_id"):
        EpisodeLogWriter(tmp_path / "x", " ")
    with EpisodeLogWriter(tmp_path / "bad", "ep") as w:
        with pytest.raises(ValueError, match="source"):
            w.correction("left", "shouted")
        with pytest.raises(ValueError, match="HxWx3"):
            w.image(np.zeros((4, 4), np.uint8))
        with pytest.raises(ValueError, match="HxWx3"):
            w.image(np.zeros((4, 4, 3), np.float32))
        with pytest.raises(ValueError, match="3 names but 2 positions"):
            w.joint_state(JOINTS, [0.0, 1.0])
        with pytest.raises(ValueError, match="unknown event topic"):
            w.write_event("/episode/other", {})
        with pytest.raises(ValueError, match="lacks args, params"):
            w.write_event("/episode/skill_call", {"skill": "pick"})
        with pytest.raises(TypeError, match="cannot log a object at skill_call.params.x"):
            w.skill_call("pick", {}, {"x": object()})
        with pytest.raises(ValueError, match="t_ns"):
            w.task("t", t_ns=-1)
    with pytest.raises(RuntimeError, match="not open"):
        w.task("after close")
    assert EpisodeLogReader(tmp_path / "bad").topics["/episode/skill_call"] == 0


def test_writer_closes_the_log_when_the_episode_raises(tmp_path):
    with pytest.raises(ZeroDivisionError), EpisodeLogWriter(tmp_path / "boom", "ep-boom") as w:
        w.task("divide")
        raise ZeroDivisionError
    reader = EpisodeLogReader(tmp_path / "boom")
    assert not reader.recovered and reader.summary().task == "divide" and reader.summary().success is None
    assert not (tmp_path / "boom" / LOCK_NAME).exists()


# ------------------------------------------------------------------------------------------------
# bad, foreign and missing logs


def foreign_bag(path: Path, topic: str = "/chatter", text: str = "hello") -> Path:
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection(topic, "std_msgs/msg/String", typestore=TYPESTORE)
        msg = TYPESTORE.types["std_msgs/msg/String"](data=text)
        writer.write(conn, T0, TYPESTORE.serialize_cdr(msg, "std_msgs/msg/String"))
    return path


def test_missing_paths(tmp_path):
    with pytest.raises(EpisodeLogError, match=f"{tmp_path / 'nope'}: no such episode log directory"):
        EpisodeLogReader(tmp_path / "nope")
    (tmp_path / "file.mcap").write_bytes(b"x")
    with pytest.raises(EpisodeLogError, match="file.mcap: not a directory"):
        EpisodeLogReader(tmp_path / "file.mcap")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EpisodeLogError, match="empty: no metadata.yaml"):
        EpisodeLogReader(tmp_path / "empty")


def test_metadata_problems(tmp_path, synthetic):
    log = copy_log(synthetic[0], tmp_path / "a")
    (log / "metadata.yaml").write_text("rosbag2_bagfile_information: [unclosed")
    with pytest.raises(EpisodeLogError, match=r"a/metadata.yaml: unreadable \(ScannerError|ParserError"):
        EpisodeLogReader(log)
    (log / "metadata.yaml").write_text("just: text\n")
    with pytest.raises(EpisodeLogError, match="a/metadata.yaml: not rosbag2 metadata"):
        EpisodeLogReader(log)
    log = copy_log(synthetic[0], tmp_path / "b")
    (log / "ep-0001.mcap").unlink()
    with pytest.raises(EpisodeLogError, match="b/ep-0001.mcap: missing"):
        EpisodeLogReader(log)
    log = copy_log(synthetic[0], tmp_path / "c")
    (log / "metadata.yaml").unlink()
    with pytest.raises(EpisodeLogError, match="c: no metadata.yaml.*logs recover"):
        EpisodeLogReader(log)


def test_garbage_and_truncated_mcap(tmp_path, synthetic):
    log = copy_log(synthetic[0], tmp_path / "garbage")
    (log / "ep-0001.mcap").write_bytes(os.urandom(5000))
    with pytest.raises(EpisodeLogError, match="garbage/ep-0001.mcap: not an MCAP file"):
        EpisodeLogReader(log)
    (log / "ep-0001.mcap").write_bytes(b"")
    with pytest.raises(EpisodeLogError, match="garbage/ep-0001.mcap: empty file"):
        EpisodeLogReader(log)
    log = copy_log(synthetic[0], tmp_path / "cut")
    mcap = log / "ep-0001.mcap"
    mcap.write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    with pytest.raises(EpisodeLogError, match="cut/ep-0001.mcap: truncated MCAP file"):
        EpisodeLogReader(log)
    # the salvage command turns it back into a readable (recovered) log
    report = recover(log)
    assert report is not None and report.stop_reason and "truncated" in report.stop_reason
    reader = EpisodeLogReader(log)
    assert reader.recovered and reader.topics[META_TOPIC] == 1


def test_corrupt_summary_section(tmp_path, synthetic):
    log = copy_log(synthetic[0], tmp_path / "summary")
    mcap = log / "ep-0001.mcap"
    data = bytearray(mcap.read_bytes())
    data[-37 + 9 : -37 + 17] = (len(data) * 7).to_bytes(8, "little")  # summary offset past the end
    mcap.write_bytes(bytes(data))
    with pytest.raises(EpisodeLogError, match="summary/ep-0001.mcap: corrupt MCAP file"):
        EpisodeLogReader(log)
    report = recover(log)  # the data section is intact: every message comes back
    assert report is not None and report.messages == len(synthetic[1]) and report.stop_reason is None
    reader = EpisodeLogReader(log)
    assert reader.recovered and reader.custom_data["robot_agent.images_skipped"] == "5"


def test_foreign_bags(tmp_path):
    chatter = foreign_bag(tmp_path / "chatter")
    with pytest.raises(
        EpisodeLogError,
        match=r"chatter/chatter.mcap: not a robot_agent episode log: "
        r"no /episode/meta topic \(topics: /chatter\)",
    ):
        EpisodeLogReader(chatter)
    other = foreign_bag(tmp_path / "other", META_TOPIC, '{"hello": 1}')
    with pytest.raises(EpisodeLogError, match="other/other.mcap: /episode/meta payload has schema None"):
        EpisodeLogReader(other)
    not_json = foreign_bag(tmp_path / "notjson", META_TOPIC, "plain text")
    with pytest.raises(EpisodeLogError, match=r"notjson/notjson.mcap: a /episode/meta message is damaged"):
        EpisodeLogReader(not_json)
    with Writer(tmp_path / "sqlite", version=9, storage_plugin=StoragePlugin.SQLITE3) as writer:
        writer.add_connection(META_TOPIC, "std_msgs/msg/String", typestore=TYPESTORE)
    with pytest.raises(EpisodeLogError, match="sqlite/metadata.yaml: storage is 'sqlite3'"):
        EpisodeLogReader(tmp_path / "sqlite")


def test_unknown_schema_version(tmp_path):
    meta = {"schema": "robot_agent/meta/v2", "schema_version": 2, "episode_id": "e", "start_time_ns": T0}
    future = foreign_bag(tmp_path / "future", META_TOPIC, json.dumps(meta))
    with pytest.raises(EpisodeLogError, match="future/future.mcap: episode log schema version 2 is not supported"):
        EpisodeLogReader(future)


# ------------------------------------------------------------------------------------------------
# crash safety


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


@pytest.fixture(scope="module")
def crash_image(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, list[tuple[str, int]]]:
    """The MCAP bytes of a log as a crash would leave it (copied while the writer is open)."""
    log = tmp_path_factory.mktemp("crash") / "ep"
    with EpisodeLogWriter(log, "ep-img", start_ns=T0, image_max_hz=None, joint_state_max_hz=None) as w:
        w.task("t", t_ns=T0 + 1)
        for i in range(4):
            w.joint_state(JOINTS, [i, 0, 0], t_ns=T0 + 10 + i)
            w.image(frame(i), t_ns=T0 + 10 + i)
        w.correction("left", t_ns=T0 + 20)
        image = (log / "ep.mcap").read_bytes()
    order = [(e.topic, e.t_ns) for e in EpisodeLogReader(log).events()]
    return image, order


def make_crashed(root: Path, name: str, data: bytes) -> Path:
    log = root / name
    log.mkdir()
    (log / f"{name}.mcap").write_bytes(data)
    (log / LOCK_NAME).write_text("{}\n")
    return log


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def fail(_sig: int, _frame: Any) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=10**6))
def test_crash_at_any_byte_recovers_a_prefix(tmp_path, crash_image, cut):
    image, order = crash_image
    cut = cut % (len(image) + 1)
    log = make_crashed(tmp_path, f"cut{next(_unique)}", image[:cut])
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


# ------------------------------------------------------------------------------------------------
# fuzzing: damaged files give EpisodeLogError, never another exception or a hang


def read_everything(log: Path) -> None:
    reader = EpisodeLogReader(log)
    for _ in reader.events():
        pass
    reader.summary()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=4096), magic=st.booleans(), finished=st.booleans())
def test_fuzz_random_bytes(tmp_path, synthetic, data, magic, finished):
    name = f"r{next(_unique)}"
    body = (b"\x89MCAP0\r\n" + data) if magic else data
    if finished:
        log = tmp_path / name
        log.mkdir()
        shutil.copy(synthetic[0] / "metadata.yaml", log / "metadata.yaml")
        (log / "ep-0001.mcap").write_bytes(body)
    else:
        log = make_crashed(tmp_path, name, body)
    with time_limit(20), pytest.raises(EpisodeLogError) as info:
        read_everything(log)
    assert str(log) in str(info.value)
    shutil.rmtree(log)


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    log = tmp_path_factory.mktemp("small") / "small"
    with EpisodeLogWriter(log, "ep-small", start_ns=T0, image_max_hz=None) as w:
        w.task("t", t_ns=T0 + 1)
        w.joint_state(JOINTS, [1, 2, 3], t_ns=T0 + 2)
        w.image(frame(1), t_ns=T0 + 3)
        w.correction("left", t_ns=T0 + 4)
        w.outcome(False, t_ns=T0 + 5)
    return log


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=8)), min_size=1, max_size=4),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
    finished=st.booleans(),
)
def test_fuzz_damaged_log(tmp_path, small_log, edits, cut, finished):
    data = bytearray((small_log / "small.mcap").read_bytes())
    for pos, chunk in edits:
        pos %= len(data)
        data[pos : pos + len(chunk)] = chunk
    if cut is not None:
        del data[cut % len(data) :]
    name = f"d{next(_unique)}"
    if finished:
        log = tmp_path / name
        log.mkdir()
        shutil.copy(small_log / "metadata.yaml", log / "metadata.yaml")
        (log / "small.mcap").write_bytes(bytes(data))
    else:
        log = make_crashed(tmp_path, name, bytes(data))
    with time_limit(20):
        try:
            read_everything(log)  # damage inside a payload can go unnoticed: that is fine
        except EpisodeLogError as exc:
            assert str(log) in str(exc)
    shutil.rmtree(log)


# ------------------------------------------------------------------------------------------------
# finding logs and the CLI


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="robot-agent")
    logs_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    rc = args.func(args)
    return rc, capsys.readouterr().out


@pytest.fixture
def logs_dir(tmp_path: Path, synthetic, crash_image) -> Path:
    root = tmp_path / "logs"
    root.mkdir()
    copy_log(synthetic[0], root / "ep-0001")
    make_crashed(root, "crashed", crash_image[0])
    foreign_bag(root / "nested" / "chatter")
    (root / "notes").mkdir()
    return root


def test_find_episode_logs(logs_dir):
    assert [p.relative_to(logs_dir).as_posix() for p in find_episode_logs(logs_dir)] == [
        "crashed",
        "ep-0001",
        "nested/chatter",
    ]
    with pytest.raises(EpisodeLogError, match="no such directory"):
        find_episode_logs(logs_dir / "nope")


def test_cli_list(logs_dir, capsys):
    rc, out = run_cli(["logs", "list", str(logs_dir)], capsys)
    assert rc == 0
    lines = out.splitlines()
    assert lines[0].split() == ["LOG", "EPISODE", "TASK", "CORR", "OUTCOME", "DURATION", "STATUS"]
    crashed, good, chatter = lines[1:]
    assert crashed.split()[:2] == ["crashed", "ep-img"] and crashed.endswith("recovered")
    assert "unfinished" in crashed
    assert good.startswith("ep-0001") and "put the red block in the drawer" in good
    assert good.split()[-4:] == ["2", "success", "1.2s", "ok"]
    assert "error:" in chatter and "no /episode/meta topic" in chatter

    rc, out = run_cli(["logs", "list", str(logs_dir), "--json"], capsys)
    rows = json.loads(out)
    assert [Path(r["path"]).name for r in rows] == ["crashed", "ep-0001", "chatter"]
    assert rows[0]["recovered"] is True and rows[0]["success"] is None and rows[0]["n_corrections"] == 1
    assert rows[1]["success"] is True and rows[1]["n_corrections"] == 2 and rows[1]["duration_s"] == 1.2
    assert rows[1]["counts"][IMAGE_TOPIC] == 5 and rows[1]["status"] == "ok"
    assert "no /episode/meta" in rows[2]["error"]


def test_cli_show(logs_dir, capsys):
    rc, out = run_cli(["logs", "show", str(logs_dir / "ep-0001")], capsys)
    assert rc == 0
    assert "task         put the red block in the drawer" in out
    assert "outcome      success" in out and "corrections  2" in out
    assert '+   0.05s [spoken] "grasp it higher"' in out
    assert "pick(red_block) -> place(red_block, drawer)  (initial)" in out
    assert 'skill-level: "grasp it higher"' in out
    assert "/joint_states 30, /camera/image_raw 5" in out

    rc, out = run_cli(["logs", "show", str(logs_dir / "crashed"), "--json"], capsys)
    doc = json.loads(out)
    assert doc["summary"]["recovered"] is True and doc["recovery"]["messages"] == 11
    assert [e["topic"] for e in doc["events"]] == ["/episode/task", "/episode/correction"]
    assert doc["meta"]["episode_id"] == "ep-img"

    with pytest.raises(EpisodeLogError, match="chatter"):
        run_cli(["logs", "show", str(logs_dir / "nested" / "chatter")], capsys)


def test_cli_recover(tmp_path, crash_image, synthetic, capsys):
    log = make_crashed(tmp_path, "c", crash_image[0][:-20])
    rc, out = run_cli(["logs", "recover", str(log), "--keep-partial"], capsys)
    assert rc == 0 and "recovered" in out and "scan stopped: truncated" in out
    assert (log / "c.mcap.partial").stat().st_size == len(crash_image[0]) - 20
    rc, out = run_cli(["logs", "recover", str(synthetic[0])], capsys)
    assert "nothing to recover" in out
