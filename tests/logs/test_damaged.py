"""Fuzzing the reader: damaged files give EpisodeLogError, never another exception or a hang."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_agent.errors import EpisodeLogError
from robot_agent.logs import EpisodeLogReader, EpisodeLogWriter
from tests.logs.helpers import JOINTS, T0, frame, make_crashed, time_limit, unique


def read_everything(log: Path) -> None:
    reader = EpisodeLogReader(log)
    for _ in reader.events():
        pass
    reader.summary()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=0, max_size=4096), magic=st.booleans(), finished=st.booleans())
def test_fuzz_random_bytes(tmp_path, synthetic, data, magic, finished):
    name = f"r{next(unique)}"
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
    name = f"d{next(unique)}"
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
