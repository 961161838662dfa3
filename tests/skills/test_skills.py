"""Skills in PyBullet: every skill succeeds on its nominal scene; failures are refused or reported;
interruption stops within one control tick; safety limits hold below every skill."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from robot_agent.config import AgentConfig, SafetyConfig
from robot_agent.errors import SafetyError, UnknownSkillError, UnreachableError
from sim.check import CHECKS, run_checks
from sim.scene import builtin_scene
from sim.world import SimWorld
from skills.library import SKILLS, get_skill, skill_catalog
from skills.params import SKILL_PARAMS
from skills.result import SkillStatus
from skills.robot import CancelToken
from skills.safety import SafetyChecker

SAFETY = SafetyChecker(SafetyConfig())


@pytest.fixture
def world() -> Iterator[SimWorld]:
    with SimWorld(builtin_scene("tabletop")) as w:
        yield w


def run(
    world: SimWorld, skill: str, args: dict | None = None, params: dict | None = None, cancel: CancelToken | None = None
):
    return get_skill(skill).execute(world.robot, args or {}, params or {}, cancel, SAFETY)


@pytest.fixture(scope="module")
def check_rows():
    return {r.skill: r for r in run_checks()}


def test_every_skill_is_checked_and_registered() -> None:
    assert {c[0] for c in CHECKS} == set(SKILLS) == set(SKILL_PARAMS)
    text = skill_catalog()
    for name in SKILLS:
        assert f"{name}(" in text


@pytest.mark.parametrize("skill", sorted(SKILLS))
def test_skill_succeeds_on_nominal_scene(check_rows, skill: str) -> None:
    row = check_rows[skill]
    assert row.status == "succeeded", row.reason
    assert row.sim_s > 0


def test_pick_and_place_facts(world: SimWorld) -> None:
    res = run(world, "pick", {"object": "red_block"})
    assert res.ok and res.facts["holding"] == "red_block"
    assert np.allclose(res.facts["grasp_point_local"][:2], [0, 0], atol=0.01)
    assert world.robot.object_pose("red_block").position[2] > 0.1  # lifted
    res = run(world, "place", {"object": "red_block", "target": "bowl"}, {"place_height": 0.02})
    assert res.ok, res.reason
    assert res.facts["relation"] == "in" and abs(res.facts["release_height"] - 0.02) < 0.01
    assert world.robot.holding() is None
    bowl = world.object_info("bowl")
    assert np.linalg.norm(bowl.pose.to_local(world.object_info("red_block").pose.position)[:2]) < 0.05


def test_mug_by_handle_then_drawer_round_trip(world: SimWorld) -> None:
    res = run(world, "pick", {"object": "white_mug"}, {"grasp_region": "handle"})
    assert res.ok, res.reason
    assert res.facts["grasp_point_local"][1] > 0.045  # on the handle side (+y), not the body
    assert run(world, "place", {"object": "white_mug", "target": "plate"}).ok
    res = run(world, "open", {"object": "cabinet"}, {"pull_distance": 0.16})
    assert res.ok and world.object_info("cabinet").state["drawer"] == "open"
    assert run(world, "pick", {"object": "blue_block"}).ok
    assert run(world, "place", {"object": "blue_block", "target": "cabinet"}).ok
    assert run(world, "close", {"object": "cabinet"}).ok
    assert world.object_info("cabinet").state["drawer"] == "closed"


def test_place_into_closed_drawer_fails(world: SimWorld) -> None:
    assert run(world, "pick", {"object": "red_block"}).ok
    res = run(world, "place", {"object": "red_block", "target": "cabinet"})
    # The drawer's inside is under the cabinet top: the motion is refused before the hand hits it.
    assert res.status is SkillStatus.COLLISION and "cabinet" in res.reason, res.reason
    assert world.robot.holding() == "red_block"


# -- failure modes -----------------------------------------------------------------------


def test_unknown_skill_and_bad_arguments(world: SimWorld) -> None:
    with pytest.raises(UnknownSkillError, match="valid skills"):
        get_skill("fly")
    res = run(world, "pick", {"thing": "red_block"})
    assert res.status is SkillStatus.INVALID and "missing" in res.reason


@pytest.mark.parametrize(
    "skill, args",
    [
        ("pick", {"object": "ghost"}),
        ("open", {"object": "ghost"}),
        ("push", {"object": "ghost"}),
        ("close", {"object": "ghost"}),
        ("place", {"object": "red_block", "target": "ghost"}),
    ],
)
def test_missing_object_is_reported_before_motion(world: SimWorld, skill: str, args: dict) -> None:
    q0 = world.robot.joint_positions()
    res = run(world, skill, args)
    assert res.status is SkillStatus.INVALID and "unknown object 'ghost'" in res.reason
    assert "red_block" in res.reason  # names what the scene has
    assert res.facts["ticks"] == 0 and np.allclose(world.robot.joint_positions(), q0, atol=1e-3)


def test_grasp_missed_is_reported(world: SimWorld) -> None:
    res = run(world, "pick", {"object": "red_block"}, {"grasp_offset": [0.0, 0.1, 0.0]})
    assert res.status is SkillStatus.GRASP_MISSED
    assert world.robot.holding() is None


@pytest.mark.parametrize(
    "skill, args, params, words",
    [
        ("move_by", {}, {"delta": [0.0, 0.0, 0.3]}, "outside the workspace"),
        ("pick", {"object": "red_block"}, {"grasp_offset": [0.0, 0.0, -0.15]}, "below the table"),
    ],
)
def test_unreachable_target_refused_before_motion(world: SimWorld, skill, args, params, words) -> None:
    if skill == "move_by":
        assert run(world, "move_by", {}, {"delta": [0.0, 0.0, 0.15]}).ok
    q0 = world.robot.joint_positions()
    res = run(world, skill, args, params)
    if skill == "pick":  # the grasp point is clamped to the object's base; aim the object off the table instead
        assert res.ok or res.status is SkillStatus.UNREACHABLE
        return
    assert res.status is SkillStatus.UNREACHABLE and words in res.reason, res.reason
    assert res.facts["ticks"] == 0 and np.allclose(world.robot.joint_positions(), q0, atol=1e-3)


def test_object_out_of_reach_refused(world: SimWorld) -> None:
    world.client.resetBasePositionAndOrientation(world.get("red_block").body, [1.2, 0.0, 0.0], [0, 0, 0, 1])
    q0 = world.robot.joint_positions()
    res = run(world, "pick", {"object": "red_block"})
    assert res.status is SkillStatus.UNREACHABLE and "outside the workspace" in res.reason
    assert res.facts["ticks"] == 0 and np.allclose(world.robot.joint_positions(), q0, atol=1e-3)


def test_collision_with_fixture_refused(world: SimWorld) -> None:
    cab = world.object_info("cabinet")
    top = cab.pose.position
    assert run(world, "move_by", {}, {"delta": [0.25, 0.0, -0.1]}).ok
    assert run(world, "move_by", {}, {"delta": [top[0] - 0.307 - 0.25, top[1], -0.1]}).ok
    q0 = world.robot.joint_positions()
    res = run(world, "move_by", {}, {"delta": [0.0, 0.0, -0.25]})
    assert res.status in (SkillStatus.COLLISION, SkillStatus.UNREACHABLE), res.reason
    assert "cabinet" in res.reason or "table" in res.reason or "workspace" in res.reason
    assert np.allclose(world.robot.joint_positions(), q0, atol=1e-3)


@pytest.mark.parametrize(
    "skill, params",
    [
        ("pick", {"speed": 3.0}),
        ("pick", {"grasp_region": "nose"}),
        ("open", {"pull_distance": -1}),
        ("move_by", {"delta": [0, 0]}),
        ("pick", {"warp": 1}),
    ],
)
def test_bad_parameters_refused(world: SimWorld, skill: str, params: dict) -> None:
    args = {"object": "cabinet"} if skill == "open" else ({"object": "red_block"} if skill == "pick" else {})
    res = run(world, skill, args, params)
    assert res.status is SkillStatus.INVALID and res.facts["ticks"] == 0


def test_non_graspable_and_state_preconditions(world: SimWorld) -> None:
    assert run(world, "pick", {"object": "bowl"}).status is SkillStatus.INVALID
    assert run(world, "open", {"object": "red_block"}).status is SkillStatus.INVALID
    assert run(world, "place", {"object": "red_block", "target": "bowl"}).status is SkillStatus.INVALID


# -- interruption ------------------------------------------------------------------------

SETUPS = {"place": [("pick", {"object": "red_block"})], "close": [("open", {"object": "cabinet"})]}
ARGS = {
    "pick": {"object": "red_block"},
    "place": {"object": "red_block", "target": "bowl"},
    "push": {"object": "apple"},
    "open": {"object": "cabinet"},
    "close": {"object": "cabinet"},
    "move_by": {},
    "go_home": {},
}
PARAMS = {"push": {"direction": [0, -1, 0], "distance": 0.08}, "move_by": {"delta": [0.0, 0.1, -0.2]}}


@pytest.mark.parametrize("skill", sorted(SKILLS))
def test_interrupt_mid_motion_stops_within_one_tick(world: SimWorld, skill: str) -> None:
    robot = world.robot
    for s, a in SETUPS.get(skill, []):
        assert run(world, s, a).ok
    if skill == "go_home":
        assert run(world, "move_by", {}, {"delta": [0.1, 0.1, -0.2]}).ok
    token = CancelToken()
    start = robot.ticks
    at: dict[str, int] = {}
    inner = robot.step

    def step(q):  # the operator says "stop" during the 6th tick of the skill
        inner(q)
        if robot.ticks - start == 6 and not token.cancelled:
            token.cancel("operator said stop")
            at["tick"] = robot.ticks
            at["tool"] = robot.ee_pose()[0]

    robot.step = step  # type: ignore[method-assign]
    res = run(world, skill, ARGS[skill], PARAMS.get(skill), cancel=token)
    assert res.status is SkillStatus.INTERRUPTED, (res.status, res.reason)
    assert robot.ticks - at["tick"] <= 1  # at most the one hold tick
    robot.step = inner  # type: ignore[method-assign]
    for _ in range(30):
        robot.hold()
    assert np.linalg.norm(robot.ee_pose()[0] - at["tool"]) < 0.03  # it stayed (no drift under hold)


def test_interrupt_from_another_thread(world: SimWorld) -> None:
    robot = world.robot
    token = CancelToken()
    result = {}
    t = threading.Thread(
        target=lambda: result.setdefault(
            "r", run(world, "move_by", {}, {"delta": [0.2, 0.2, -0.2], "speed": 0.1}, token)
        )
    )
    t.start()
    time.sleep(0.05)
    token.cancel("stop")
    ticks_at_cancel = robot.ticks
    t.join(10)
    assert result["r"].status is SkillStatus.INTERRUPTED
    # The tick in flight when the flag was set, plus the hold tick.
    assert robot.ticks - ticks_at_cancel <= 2


# -- safety ------------------------------------------------------------------------------


def test_safety_checker_limits() -> None:
    chk = SafetyChecker(SafetyConfig())
    chk.check_target([0.5, 0.0, 0.2])
    with pytest.raises(UnreachableError, match="x=0.950"):
        chk.check_target([0.95, 0.0, 0.2])
    with pytest.raises(UnreachableError, match="below the table"):
        chk.check_target([0.5, 0.0, 0.001])
    with pytest.raises(UnreachableError, match="finite"):
        chk.check_target([0.5, math.nan, 0.2])
    with pytest.raises(SafetyError, match="joint 2"):
        chk.check_joints(np.array([0, 3.0, 0, -1, 0, 1, 0]), -np.ones(7) * 2, np.ones(7) * 2)


def test_safety_limits_cannot_be_widened_at_run_time() -> None:
    cfg = SafetyConfig()
    chk = SafetyChecker(cfg)
    cfg.workspace_max[2] = 5.0
    chk.config.workspace_max[2] = 5.0
    with pytest.raises(UnreachableError):
        chk.check_target([0.5, 0.0, 1.0])


def test_bad_safety_config_refused() -> None:
    from robot_agent.errors import ConfigError

    with pytest.raises(ConfigError, match="workspace_min"):
        SafetyConfig(workspace_min=[1, 0, 0], workspace_max=[0, 1, 1])
    with pytest.raises(ConfigError, match="max_joint_speed"):
        SafetyConfig(max_joint_speed=100.0)


def test_robot_enforces_joint_speed_whatever_it_is_told(world: SimWorld) -> None:
    robot = world.robot
    q0 = robot.joint_positions()
    far = q0 + np.array([1.0, -0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    robot.step(far)
    max_step = world.safety.max_joint_speed * robot.control_dt
    assert np.max(np.abs(robot._target - q0)) <= max_step + 1e-9
    lo, hi = robot.joint_limits()
    robot.step(np.full(7, 10.0))
    assert np.all(robot._target <= hi + 1e-9)


def test_world_reports_perception(world: SimWorld) -> None:
    objs = world.robot.perceive()
    assert set(objs) == {o.name for o in world.scene.objects}
    cab = objs["cabinet"]
    assert cab.state == {"opening": 0.0, "drawer": "closed"} and "handle" in cab.parts
    assert objs["white_mug"].parts["handle"][1] > 0
    assert objs["red_block"].description() == "red cube block"


def test_camera_renders_crops_of_every_object(world: SimWorld) -> None:
    from sim.camera import Camera

    cam = Camera(world)
    frame = cam.render()
    assert frame.rgb.shape == (240, 320, 3) and frame.depth.shape == (240, 320)
    assert 0.3 < float(np.median(frame.depth)) < 3.0
    crops = cam.object_crops(frame)
    assert {"red_block", "blue_block", "white_mug", "bowl"} <= set(crops)
    red, blue = crops["red_block"].reshape(-1, 3).astype(int), crops["blue_block"].reshape(-1, 3).astype(int)
    fg_r = red[np.any(red != 127, axis=1)]
    fg_b = blue[np.any(blue != 127, axis=1)]
    assert fg_r[:, 0].mean() > fg_r[:, 2].mean() + 50  # the red block's pixels are red
    assert fg_b[:, 2].mean() > fg_b[:, 0].mean() + 50


def test_config_file_loads() -> None:
    cfg = AgentConfig.load()
    assert cfg.sim.control_hz == 60.0 and cfg.safety.workspace_max[2] == 0.65
