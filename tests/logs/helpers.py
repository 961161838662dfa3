"""What the episode-log tests share: a synthetic episode with every kind of event, crashed and
foreign logs, and a time limit for the salvage (fixtures over them are in conftest.py)."""

from __future__ import annotations

import itertools
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from robot_agent.logs import IMAGE_TOPIC, JOINT_STATES_TOPIC, LOCK_NAME, META_TOPIC, EpisodeLogWriter
from skills.result import SkillResult, SkillStatus

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
TYPESTORE = get_typestore(Stores.ROS2_KILTED)
JOINTS = ["shoulder", "elbow", "wrist"]
unique = itertools.count()  # directory names for hypothesis examples, which may repeat


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


def copy_log(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def payload_of(data: dict[str, Any], topic: str) -> dict[str, Any]:
    assert data["schema"] == f"robot_agent/{topic.rsplit('/', 1)[-1]}/v1"
    return {k: v for k, v in data.items() if k != "schema"}


def foreign_bag(path: Path, topic: str = "/chatter", text: str = "hello") -> Path:
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection(topic, "std_msgs/msg/String", typestore=TYPESTORE)
        msg = TYPESTORE.types["std_msgs/msg/String"](data=text)
        writer.write(conn, T0, TYPESTORE.serialize_cdr(msg, "std_msgs/msg/String"))
    return path


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
