"""sim.real_time: control ticks at the wall-clock rate for a person at the keyboard; free-running otherwise."""

from __future__ import annotations

import time

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


def test_without_real_time_the_sim_runs_free() -> None:
    # 60 ticks of 4 physics steps each take well under their 1 s of simulated time on any machine
    # this runs on (about 25x real time on 2 cores); this guards against pacing leaking into
    # the benchmark and the tests.
    assert _seconds_for(60, real_time=False) < 0.9
