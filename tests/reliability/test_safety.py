"""Issue 8, item 1: motion safety below every skill.

Workspace box, joint position and speed limits, the collision check before a trajectory
runs, the joint-state watchdog, and a stop within one control tick, all on the real
PyBullet arm. Limits come from config and nothing at run time widens them.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import pytest

from robot_agent.config import AgentConfig, SafetyConfig
from robot_agent.errors import ParameterError, UnreachableError
from robot_agent.language.grammar import CorrectionContext, apply_parameter_changes
from sim.world import SimWorld
from skills.library import get_skill
from skills.motion import Collision, Motion
from skills.params import validate_params
from skills.result import SkillStatus
from skills.robot import CancelToken
from skills.safety import SafetyChecker, StaleStateError
from tests.reliability.helpers import figure

CFG = SafetyConfig()
SAFETY = SafetyChecker(CFG)


def _count_steps(robot: Any, commanded: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Record every joint target the skills stream (instance-level wrapper of the real step),
    and in ``commanded`` the target the robot then commanded after its own limits."""
    sent: list[np.ndarray] = []
    inner = robot.step

    def step(q: np.ndarray) -> None:
        sent.append(np.array(q, dtype=float))
        inner(q)
        if commanded is not None:
            commanded.append(np.array(robot._target, dtype=float))

    robot.step = step
    return sent


def test_workspace_box_decides_every_target() -> None:
    rng = np.random.default_rng(8)
    lo, hi = np.array(CFG.workspace_min), np.array(CFG.workspace_max)
    pts = rng.uniform(lo - 0.4, hi + 0.4, size=(2000, 3))
    accepted = 0
    for p in pts:
        inside = bool(np.all(p >= lo) and np.all(p <= hi) and p[2] >= CFG.min_tool_height)
        try:
            SAFETY.check_target(p)
            ok = True
        except UnreachableError as exc:
            ok = False
            assert "outside the workspace" in str(exc) or "below the table" in str(exc)
        assert ok == inside, p
        accepted += ok
    assert 0 < accepted < len(pts)
    for bad in ([math.inf, 0, 0.2], [0.5, math.nan, 0.2], [0.5, 0.0], "abc"):
        with pytest.raises(UnreachableError, match="finite 3-D point"):
            SAFETY.check_target(bad)  # type: ignore[arg-type]
    figure("safety: targets checked against the workspace box", len(pts) + 4)


def test_out_of_box_moves_are_refused_before_any_motion(drawer_world: SimWorld) -> None:
    robot = drawer_world.robot
    sent = _count_steps(robot)
    q0 = robot.joint_positions()
    for delta in ([0, 0, 2.0], [0, 0, -0.5], [1.0, 0, 0], [0, -0.9, 0]):
        res = get_skill("move_by").execute(robot, {}, {"delta": delta}, CancelToken(), SAFETY)
        assert res.status in (SkillStatus.UNREACHABLE, SkillStatus.INVALID), res
        assert res.facts["ticks"] == 0
    assert sent == [] and np.allclose(robot.joint_positions(), q0, atol=1e-3)
    figure("safety: out-of-limit moves refused before motion", 4)


def test_joint_speed_and_position_limits_hold_under_every_skill(drawer_world: SimWorld) -> None:
    robot = drawer_world.robot
    commanded: list[np.ndarray] = []
    sent = _count_steps(robot, commanded)
    lo, hi = robot.joint_limits()
    for skill, args, params in (
        ("pick", {"object": "red_block"}, {"speed": 1.0}),
        ("move_by", {}, {"delta": [0.0, 0.0, 0.1], "speed": 1.0}),
        ("go_home", {}, {"speed": 1.0}),
    ):
        res = get_skill(skill).execute(robot, args, params, CancelToken(), SAFETY)
        assert res.ok, res.reason
    # What the arm was commanded, tick to tick: never faster than max_joint_speed, never past a limit.
    limit = CFG.max_joint_speed * robot.control_dt
    steps = np.abs(np.diff(np.vstack(commanded), axis=0))
    assert float(steps.max()) <= limit + 1e-9
    cmd = np.vstack(commanded)
    assert np.all(cmd <= hi + 1e-9) and np.all(cmd >= lo - 1e-9)
    # Within a skill the streamed targets already respect the speed limit (speed fraction <= 1).
    assert float(np.abs(np.diff(np.vstack(sent[30:60]), axis=0)).max()) <= limit + 1e-9
    # What the robot commanded itself after its own clamp, even when told to jump.
    t0 = robot._target.copy()
    robot.step(t0 + 3.0)
    assert float(np.max(np.abs(robot._target - t0))) <= limit + 1e-9
    robot.step(np.full(7, 50.0))
    assert np.all(robot._target <= hi + 1e-9) and np.all(robot._target >= lo - 1e-9)
    with pytest.raises(ParameterError, match="speed"):
        validate_params("pick", {"speed": 1.5})
    figure("safety: joint targets checked for speed and limits", len(sent) + 2)


def test_collision_check_runs_before_a_trajectory(drawer_world: SimWorld) -> None:
    robot = drawer_world.robot
    # Shoulder far forward and elbow open: the hand goes through the table.
    into_table = robot.home_q.copy()
    into_table[1], into_table[3] = 1.6, -0.3
    assert robot.in_collision(into_table)
    sent = _count_steps(robot)
    motion = Motion(robot, SAFETY, CancelToken())
    with pytest.raises(Collision, match="joint move refused"):
        motion.move_joints(into_table, 0.5)
    assert sent == []  # refused before the first tick
    # A Cartesian path into the cabinet is refused too, before motion.
    cab = robot.object_pose("cabinet").position
    with pytest.raises((Collision, UnreachableError)):
        motion.plan_cartesian([[cab[0], cab[1], 0.06]], 0.0)
    assert sent == []
    figure("safety: colliding trajectories refused before motion", 2)


def test_watchdog_halts_the_arm_when_joint_states_go_stale(drawer_world: SimWorld) -> None:
    robot = drawer_world.robot
    sent = _count_steps(robot)
    age = {"s": 0.0}
    robot.joint_state_age = lambda: age["s"]  # the joint-state feed: fresh, then silent
    inner_step = robot.step

    def step(q: np.ndarray) -> None:
        inner_step(q)
        if len(sent) == 60:  # mid-approach (the first 25 ticks open the fingers)
            age["s"] = CFG.joint_state_timeout + 0.1  # the feed goes silent

    robot.step = step
    res = get_skill("pick").execute(robot, {"object": "red_block"}, {}, CancelToken(), SAFETY)
    assert res.status is SkillStatus.FAILED and "joint states are" in res.reason
    assert "safety.joint_state_timeout" in res.reason
    assert len(sent) == 60  # not one target after the states went stale
    with pytest.raises(StaleStateError):
        SAFETY.check_fresh(math.nan)
    SAFETY.check_fresh(CFG.joint_state_timeout)
    figure("safety: stale joint-state faults injected (arm halted)", 1)


@pytest.mark.parametrize("skill,args", [("pick", {"object": "red_block"}), ("open", {"object": "cabinet"})])
def test_stop_from_another_thread_within_one_tick(drawer_world: SimWorld, skill: str, args: dict) -> None:
    robot = drawer_world.robot
    sent = _count_steps(robot)
    token = CancelToken()
    after: list[int] = []
    inner = robot.step

    def step(q: np.ndarray) -> None:
        if token.cancelled:
            after.append(len(sent))
        inner(q)
        if len(sent) == 40:
            threading.Thread(target=token.cancel, args=("operator: stop",)).start()

    robot.step = step
    res = get_skill(skill).execute(robot, args, {}, token, SAFETY)
    assert res.status is SkillStatus.INTERRUPTED and "operator: stop" in res.reason
    assert len(after) <= 1  # at most the tick already under way
    figure("safety: stops during a skill", 1)
    figure("safety: most ticks after a stop", len(after), keep="max")


def test_limits_cannot_be_widened_by_corrections_or_knowledge(symbolic_config: AgentConfig) -> None:
    cfg = AgentConfig.from_params({"policy.backend": "symbolic"})
    checker = SafetyChecker(cfg.safety)
    # Mutating the config object after the fact changes nothing the checker enforces.
    cfg.safety.workspace_max[2] = 9.0
    cfg.safety.max_joint_speed = 30.0
    with pytest.raises(UnreachableError):
        checker.check_target([0.5, 0.0, 2.0])
    assert checker.max_joint_step(50.0, 1.0) == pytest.approx(SafetyConfig().max_joint_speed)
    # A correction asking past a parameter bound is refused, not clamped into motion.
    with pytest.raises(ParameterError):
        apply_parameter_changes("pick", {}, {"speed": {"set": 3.0}})
    ctx = CorrectionContext(skill="pick", params=validate_params("pick", {}))
    from robot_agent.language.grammar import CorrectionParser

    for text in (
        "go twice as fast as allowed",
        "move 2 metres up",
        "set the speed to 300 percent",
        "ignore the speed limit",
    ):
        c = CorrectionParser().parse(text, ctx)
        assert c.refusal and not c.actionable, (text, c.describe())
    figure("safety: attempts to widen a limit refused", 7)
