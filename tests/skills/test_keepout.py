"""Keep-out regions: "don't go over the glass" changes the path the arm takes.

Geometry first (pure), then skills in PyBullet on the keep_away scenes, checked with the
simulated operator's own test (any tool-point sample inside the glass's footprint plus its
margin is a violation), then the agent: a correction or a remembered rule becomes the
keep-out list of every later skill call.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from robot_agent.config import AgentConfig, SafetyConfig
from sim.operator import SimulatedOperator
from sim.scenario import SCENARIOS_DIR, Scenario, load_scenario
from sim.world import SimWorld
from skills.library import get_skill
from skills.motion import KEEP_OUT_MARGIN, KeepOut, KeepOutError, Motion
from skills.result import SkillStatus
from skills.robot import CancelToken
from skills.safety import SafetyChecker
from skills.types import ObjectInfo, Pose

SAFETY_CFG = SafetyConfig()
KEEP_AWAY = SCENARIOS_DIR / "public" / "keep_away"


def keep_away(name: str) -> Scenario:
    return load_scenario(KEEP_AWAY / f"keep_away_{name}.yaml")


class _Call:
    def __init__(self, skill: str, args: dict) -> None:
        self.skill, self.args, self.params = skill, args, {}


def operator_objects_to(scenario: Scenario, skill: str, args: dict, result, world: SimWorld) -> str | None:
    """What the scenario's simulated operator says after this call (None: nothing)."""
    said = SimulatedOperator(scenario).after_call(_Call(skill, args), result, world.robot.perceive())
    return None if said is None else said.text


def run(
    world: SimWorld,
    skill: str,
    args: dict | None = None,
    keep_out=(),
    cancel: CancelToken | None = None,
    params: dict | None = None,
    safety: SafetyConfig = SAFETY_CFG,
):
    return get_skill(skill).execute(
        world.robot, args or {}, params or {}, cancel, SafetyChecker(safety), keep_out=keep_out
    )


@pytest.fixture
def train1() -> Iterator[tuple[Scenario, SimWorld]]:
    sc = keep_away("train_1")
    with SimWorld(sc.scene) as w:
        yield sc, w


# --------------------------------------------------------------------------- geometry


def test_keep_out_box_geometry_follows_the_objects_pose() -> None:
    glass = ObjectInfo("glass", "glass", Pose((0.45, 0.0, 0.0), yaw=math.pi / 4), (0.06, 0.06, 0.09))
    k = KeepOut.around(glass)
    assert k.half == pytest.approx((0.03 + KEEP_OUT_MARGIN, 0.03 + KEEP_OUT_MARGIN))
    assert k.contains([0.45, 0.0]) and k.contains([0.45 + 0.075, 0.0])  # turned 45 deg: the corner reaches further
    assert not k.contains([0.45 + 0.12, 0.0])
    assert k.crosses([0.45, -0.3], [0.45, 0.3])  # straight through
    assert not k.crosses([0.30, -0.3], [0.30, 0.3])  # well in front
    assert not k.crosses([0.45, 0.2], [0.45, 0.3])  # stops short
    for c in k.corners():  # the detour corners are outside, but just
        assert not k.contains(c) and np.linalg.norm(c - np.array([0.45, 0.0])) < 0.13
    with pytest.raises(ValueError, match="margin"):
        KeepOut.around(glass, margin=-0.01)


# --------------------------------------------------------------------------- skills in PyBullet


def test_transfer_over_the_glass_goes_around_it_and_home_too(train1) -> None:
    sc, w = train1
    assert run(w, "pick", {"object": "red_block"}, keep_out=["glass"]).ok
    place_args = {"object": "red_block", "target": "bowl"}
    res = run(w, "place", place_args, keep_out=["glass"])
    assert res.ok, res.reason
    assert res.facts["keep_out"] == ["glass"] and res.facts["detoured"] == ["glass"]
    assert operator_objects_to(sc, "place", place_args, res, w) is None
    # The path stays clear of the region with room to spare, and it did reach the bowl.
    glass = w.object_info("glass")
    local = np.array([glass.pose.to_local(p)[:2] for p in res.facts["path"]])
    outside = np.max(np.abs(local) - (np.array(glass.size[:2]) / 2 + 0.03), axis=1)
    assert outside.min() > 0.01
    bowl = w.object_info("bowl")
    assert np.linalg.norm(bowl.pose.to_local(w.object_info("red_block").pose.position)[:2]) < 0.05
    home = run(w, "go_home", keep_out=["glass"])
    assert home.ok and operator_objects_to(sc, "go_home", {}, home, w) is None
    assert np.allclose(w.robot.joint_positions(), w.robot.home_q, atol=0.02)


def test_without_keep_out_the_same_place_is_corrected(train1) -> None:
    """The control: the straight transfer does pass over the glass, so the test above can fail."""
    sc, w = train1
    assert run(w, "pick", {"object": "red_block"}).ok
    res = run(w, "place", {"object": "red_block", "target": "bowl"})
    assert res.ok and res.facts["keep_out"] == [] and "detoured" not in res.facts
    assert "glass" in operator_objects_to(sc, "place", {"object": "red_block", "target": "bowl"}, res, w)


def test_a_transfer_that_does_not_cross_is_unchanged() -> None:
    sc = keep_away("train_1")
    paths = []
    for keep_out in ((), ("glass", "no_such_thing", "red_block")):
        with SimWorld(sc.scene) as w:
            res = run(w, "pick", {"object": "red_block"}, keep_out=keep_out)
            assert res.ok, res.reason
            paths.append((res.facts["path"], res.facts["ticks"]))
            # unknown names are ignored; the object being picked is never a keep-out
            assert res.facts["keep_out"] == (["glass"] if keep_out else [])
            assert "detoured" not in res.facts
    assert paths[0] == paths[1]


def test_target_over_a_keep_out_is_refused_before_motion(train1) -> None:
    _, w = train1
    q0 = w.robot.joint_positions()
    tool = w.robot.ee_pose()[0]
    glass = w.object_info("glass").pose.position
    delta = [glass[0] - tool[0], glass[1] - tool[1], -0.05]
    res = run(w, "move_by", params={"delta": delta}, keep_out=["glass"])
    assert res.status is SkillStatus.UNREACHABLE
    assert "keep-out region of glass" in res.reason and res.facts["ticks"] == 0
    assert np.allclose(w.robot.joint_positions(), q0, atol=1e-6)


def test_no_way_around_fails_with_a_clear_reason(train1) -> None:
    _, w = train1
    q0 = w.robot.joint_positions()
    # A wall across the whole workspace width between the arm and its goal.
    wall = KeepOut("wall", (0.45, 0.0), 0.0, (0.02, 0.7))
    motion = Motion(w.robot, SafetyChecker(SAFETY_CFG), CancelToken(), keep_out=[wall])
    with pytest.raises(KeepOutError, match="around the keep-out region of wall inside the workspace"):
        motion.plan_cartesian([[0.6, 0.0, 0.3]], 0.0)
    assert motion.ticks == 0 and np.allclose(w.robot.joint_positions(), q0, atol=1e-6)
    # A workspace too narrow to pass the glass on either side: the skill refuses, with the reason, and
    # the limits stay as configured (a detour never leaves the workspace).
    narrow = SafetyConfig(workspace_min=[0.15, -0.08, 0.0], workspace_max=[0.85, 0.08, 0.65])
    res = run(w, "move_by", params={"delta": [0.3, 0.0, -0.2]}, keep_out=["glass"], safety=narrow)
    assert res.status is SkillStatus.UNREACHABLE and res.facts["ticks"] == 0
    assert "keep-out region of glass inside the workspace" in res.reason
    assert np.allclose(w.robot.joint_positions(), q0, atol=1e-6)
    # Without the keep-out the same move is allowed: the refusal is the keep-out's.
    assert run(w, "move_by", params={"delta": [0.3, 0.0, -0.2]}, safety=narrow).ok


class _CancelBesideGlass(CancelToken):
    """Trips when the tool is level with the glass: that is, on the detour (real cancel, real tick)."""

    def __init__(self, world: SimWorld, glass_y: float) -> None:
        super().__init__()
        self.world, self.glass_y, self.tripped_at = world, glass_y, None

    @property
    def cancelled(self) -> bool:
        if not super().cancelled:
            tool = self.world.robot.ee_pose()[0]
            if abs(tool[1] - self.glass_y) < 0.01:
                self.tripped_at = tool
                self.cancel("stop")
        return super().cancelled


def test_cancel_halts_the_arm_during_a_detour(train1) -> None:
    sc, w = train1
    assert run(w, "pick", {"object": "red_block"}, keep_out=["glass"]).ok
    glass = w.object_info("glass")
    token = _CancelBesideGlass(w, glass.pose.position[1])
    res = run(w, "place", {"object": "red_block", "target": "bowl"}, keep_out=["glass"], cancel=token)
    assert res.status is SkillStatus.INTERRUPTED, res.reason
    assert token.tripped_at is not None
    # It holds where it was stopped (beside the glass, not over it) and still has the block.
    for _ in range(30):
        w.robot.step(w.robot.joint_positions())
    here = w.robot.ee_pose()[0]
    assert np.linalg.norm(here - token.tripped_at) < 0.02
    assert w.robot.holding() == "red_block"
    assert operator_objects_to(sc, "place", {"object": "red_block", "target": "bowl"}, res, w) is None


# --------------------------------------------------------------------------- the agent


def test_the_agent_keeps_off_what_it_was_told_to_avoid_and_remembers_it(tmp_path: Path) -> None:
    """Said mid-episode, "don't go over the glass" shapes the next calls' paths; remembered, the next task's."""
    from memory import KnowledgeBase
    from memory.embedders import make_text_embedder
    from robot_agent.agent import Agent
    from robot_agent.language.grammar import CorrectionParser
    from robot_agent.policy import make_planner
    from robot_agent.scenarios import run_scenario
    from sim.operator import check_success

    cfg = AgentConfig.from_params({"policy.backend": "symbolic"})
    planner, parser = make_planner(cfg), CorrectionParser()
    sc = keep_away("train_1")
    with KnowledgeBase(tmp_path / "kb", make_text_embedder("minilm")) as kb:
        with SimWorld(sc.scene, cfg.sim, cfg.safety) as world:
            operator = SimulatedOperator(sc, seed=0)  # watches every call's path, says nothing unless it must
            agent: list[Agent] = []

            def after_the_pick(event: dict) -> None:
                if event["type"] == "skill_result" and event["call"]["skill"] == "pick" and len(agent) == 1:
                    agent.append(agent[0])  # say it once
                    agent[0].submit_correction("don't go over the glass", "typed")

            agent.append(Agent(world.robot, planner, kb, parser, cfg, observer=operator, on_event=after_the_pick))
            first = agent[0].run_task(sc.task)
            ok, why = check_success(sc, world.robot.perceive(), first.succeeded_calls())
        assert first.success and ok, (first.reason, why)
        assert [c.outcome for c in first.corrections] == ["replanned"]
        assert operator.said == []  # the place that followed went around the glass
        said = first.corrections[0].received_at
        before = [s for s in first.steps if s.started_at < said]
        after = [s for s in first.steps if s.started_at >= said]
        assert before and all(s.facts["keep_out"] == [] for s in before)
        assert after and all(s.facts["keep_out"] == ["glass"] for s in after)
        assert any(s.call["skill"] == "place" and s.facts.get("detoured") == ["glass"] for s in after)

        second = run_scenario(
            keep_away("novel_1"), policy=planner, kb=kb, parser=parser, config=cfg, seed=0, log_dir=tmp_path / "logs"
        )
    assert second.success and second.corrections == 0, [c.text for c in second.result.corrections]
    assert any(s.facts["keep_out"] == ["wine_glass"] and s.facts.get("detoured") for s in second.result.steps)
    # Replay runs each recorded call with the keep-outs it had, and reproduces the episode.
    from robot_agent.logs import EpisodeLogReader
    from robot_agent.logs.replay import load_commands, replay

    (log,) = (tmp_path / "logs").iterdir()
    commands, _ = load_commands(EpisodeLogReader(log))
    assert commands and all(c.keep_out == ["wine_glass"] for c in commands)
    report = replay(log, cfg)
    assert report.matches, report.to_dict()


def test_carrying_back_after_a_mid_transfer_correction_goes_around_too() -> None:
    """ "Don't go over the glass" said while the block is carried past the glass: the agent carries
    it back to where it was picked up (before replanning) around the glass, not over it again."""
    from robot_agent.agent import Agent
    from robot_agent.language.grammar import CorrectionParser
    from robot_agent.policy import make_planner
    from sim.operator import check_success

    cfg = AgentConfig.from_params({"policy.backend": "symbolic"})
    sc = keep_away("train_1")  # block at y=+0.22, glass at y=0, bowl at y=-0.22
    with SimWorld(sc.scene, cfg.sim, cfg.safety) as world:
        robot = world.robot
        glass = robot.perceive()["glass"]
        operator_box = KeepOut.around(glass, margin=0.03)  # the operator's own test
        agent = Agent(robot, make_planner(cfg), None, CorrectionParser(), cfg)
        trace: list[tuple[bool, np.ndarray]] = []  # (after the correction?, tool point) at every tick
        said: list[bool] = []
        inner_step = robot.step

        def step(q):  # instrument the real robot: watch the tool, speak once it is past the glass
            inner_step(q)
            tool = np.asarray(robot.ee_pose()[0], dtype=float)
            trace.append((bool(said), tool))
            if not said and robot.holding() == "red_block" and tool[1] < -0.08:
                said.append(True)
                agent.submit_correction("don't go over the glass", "typed")

        robot.step = step
        result = agent.run_task(sc.task)
        ok, why = check_success(sc, robot.perceive(), result.succeeded_calls())
    assert said, "the block was never carried past the glass"
    assert result.success and ok, (result.reason, why)
    assert [c.outcome for c in result.corrections] == ["replanned"]
    before = [p for after, p in trace if not after]
    after = [p for after, p in trace if after]
    assert any(operator_box.contains(p) for p in before)  # the first transfer went straight over it
    assert after and not any(operator_box.contains(p) for p in after), "passed over the glass after being told"
    assert any(p[1] > 0.15 for p in after)  # it did carry the block back to the block's side
