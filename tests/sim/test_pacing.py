"""sim.real_time: control ticks at the wall-clock rate for a person at the keyboard; free-running otherwise."""

from __future__ import annotations

import time

import pytest

import sim.world
from robot_agent.config import SimConfig
from sim.scene import builtin_scene
from sim.world import SimWorld


def _seconds_for(ticks: int, real_time: bool) -> float:
    with SimWorld(builtin_scene("tabletop"), SimConfig(real_time=real_time)) as w:
        q = w.robot.joint_positions()
        w.robot.hold()  # the first tick starts the clock
        t0 = time.perf_counter()
        for i in range(ticks):
            if i % 2:
                w.robot.hold()
            else:
                w.robot.step(q)
        return time.perf_counter() - t0


def test_real_time_paces_ticks_to_the_control_rate() -> None:
    ticks = 30  # 0.5 s at the default 60 Hz
    paced = _seconds_for(ticks, real_time=True)
    assert paced >= 0.95 * ticks / SimConfig().control_hz, paced
    assert paced < 0.5 + 1.0, paced  # the deadline is per tick, not a sleep added on top of the physics


def _sleeps_in(ticks: int, real_time: bool, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sleeps the sim asks for during ``ticks`` control ticks (recorded, not slept)."""
    asked: list[float] = []
    with SimWorld(builtin_scene("tabletop"), SimConfig(real_time=real_time)) as w:
        q = w.robot.joint_positions()
        w.robot.hold()  # the first tick starts the clock
        start = w.robot.ticks
        with monkeypatch.context() as m:
            m.setattr(sim.world.time, "sleep", asked.append)
            for i in range(ticks):
                if i % 2:
                    w.robot.hold()
                else:
                    w.robot.step(q)
        assert w.robot.ticks - start == ticks
    return asked


def test_without_real_time_the_sim_runs_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Free-running means no tick ever waits for the wall clock, so pacing cannot leak into the
    benchmark and the tests (how fast the sim then runs, about 25x real time on 2 cores, is
    measured by scripts/bench_sim.py, not asserted here)."""
    assert _sleeps_in(60, real_time=False, monkeypatch=monkeypatch) == []
    # The same probe sees the paced sim wait at (nearly) every tick: it would see a leak.
    paced = _sleeps_in(60, real_time=True, monkeypatch=monkeypatch)
    assert len(paced) >= 30 and all(s > 0 for s in paced)
