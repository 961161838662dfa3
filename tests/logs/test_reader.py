"""Episode logs read (robot_agent/logs/reader.py, mcapio.py): typed events and summaries; missing,
bad and foreign logs are refused with the path and what is wrong."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer

from robot_agent.errors import EpisodeLogError
from robot_agent.logs import IMAGE_TOPIC, JOINT_STATES_TOPIC, META_TOPIC, EpisodeLogReader, recover
from tests.logs.helpers import T0, TYPESTORE, copy_log, foreign_bag, payload_of


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


# ------------------------------------------------------------------------------------------------
# bad, foreign and missing logs


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
