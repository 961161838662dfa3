"""Episode logs written (robot_agent/logs/writer.py, recording.py): the files are plain rosbag2/MCAP
that rosbags and the mcap library read message for message; rate limits, image formats, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from rosbags.highlevel import AnyReader

from robot_agent.errors import EpisodeLogError
from robot_agent.logs import IMAGE_TOPIC, JOINT_STATES_TOPIC, LOCK_NAME, TOPIC_TYPES, EpisodeLogReader, EpisodeLogWriter
from tests.logs.helpers import JOINTS, MS, T0, TYPESTORE, frame, payload_of


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
