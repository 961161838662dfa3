"""Fixtures of the episode-log tests: a finished synthetic episode and a crashed recording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from robot_agent.logs import EpisodeLogReader, EpisodeLogWriter
from tests.logs.helpers import JOINTS, T0, frame, write_synthetic


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, Any]]]:
    path = tmp_path_factory.mktemp("logs") / "ep-0001"
    return path, write_synthetic(path)


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
