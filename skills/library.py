"""The skills: pick, place, push, open, close, move_by, go_home.

Each skill's docstring is the text the planner and the operator see. Every skill:
validates its arguments and parameters before any motion (INVALID), plans every
target through the safety checker (UNREACHABLE / COLLISION refused before motion),
checks the cancel token at every control tick (INTERRUPTED within one tick), keeps
the tool off the keep-out objects it is given (their footprints are routed around), and
reports measured facts.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from robot_agent.errors import (
    ParameterError,
    RobotLinkError,
    SafetyError,
    UnknownObjectError,
    UnknownSkillError,
    UnreachableError,
)
from skills.motion import Collision, Interrupted, KeepOut, Motion, wrap_grip_yaw
from skills.params import SKILL_ARGS, validate_params
from skills.result import SkillResult, SkillStatus
from skills.robot import CancelToken, Robot
from skills.safety import SafetyChecker
from skills.types import ObjectInfo

log = logging.getLogger(__name__)

GRASPABLE = {"block", "fruit", "mug", "glass"}
CONTAINERS = {"bowl", "tray", "cabinet"}
SUPPORTS = {"plate", "shelf", "block"}
#: clearance of the tool point above an object's top when travelling over it (m)
CLEARANCE = 0.06


class Skill(ABC):
    """A parameterized skill. Subclasses set ``name`` and implement :meth:`_run`."""

    name: ClassVar[str] = ""

    @property
    def args(self) -> tuple[str, ...]:
        return SKILL_ARGS[self.name]

    def execute(
        self,
        robot: Robot,
        args: Mapping[str, str] | None,
        params: Mapping[str, Any] | None,
        cancel: CancelToken | None,
        safety: SafetyChecker,
        keep_out: Sequence[str] = (),
    ) -> SkillResult:
        """Run the skill; never raises for expected failures, returns a :class:`SkillResult`.

        Args:
            robot: the arm.
            args: object names by role (``object``, ``target``).
            params: skill parameters (validated here; defaults fill the rest).
            cancel: checked at every control tick (None: never cancelled).
            safety: the limit checker.
            keep_out: names of objects the tool must not pass over ("don't go over the glass"):
                their footprints plus :data:`skills.motion.KEEP_OUT_MARGIN` become keep-out regions
                of every move. Names not in the scene are ignored with a warning; the skill's own
                objects and the held object never are keep-outs (you cannot pick what you avoid).
                ``facts["keep_out"]`` records the names applied, ``facts["detoured"]`` those a
                move went around.
        """
        cancel = cancel or CancelToken()
        args = dict(args or {})
        missing = [a for a in self.args if a not in args]
        extra = sorted(set(args) - set(self.args))
        if missing or extra:
            return SkillResult(
                SkillStatus.INVALID,
                f"{self.name} takes arguments ({', '.join(self.args) or 'none'}); "
                f"missing: {missing or 'none'}, unexpected: {extra or 'none'}",
                {"ticks": 0},
            )
        try:
            p = validate_params(self.name, params)
            objects = robot.perceive()
            for role in self.args:
                if args[role] not in objects:
                    raise UnknownObjectError(
                        f"{self.name}: unknown object {args[role]!r} for {role}; the scene has: "
                        f"{', '.join(sorted(objects))}"
                    )
        except (ParameterError, UnknownObjectError) as exc:
            return SkillResult(SkillStatus.INVALID, str(exc), {"ticks": 0})
        motion = Motion(robot, safety, cancel, keep_out=_keep_out_regions(self.name, keep_out, args, objects, robot))
        facts: dict[str, Any] = {"keep_out": [k.name for k in motion.keep_out]}
        try:
            status, reason = self._run(robot, motion, {k: objects[v] for k, v in args.items()}, p, facts)
        except Interrupted as exc:
            status, reason = SkillStatus.INTERRUPTED, f"interrupted: {exc}"
        except Collision as exc:
            status, reason = SkillStatus.COLLISION, str(exc)
        except UnreachableError as exc:
            status, reason = SkillStatus.UNREACHABLE, str(exc)
        except RobotLinkError as exc:  # the watchdog halted the arm mid-motion (stale joint states)
            status, reason = SkillStatus.FAILED, str(exc)
        except SafetyError as exc:
            status, reason = SkillStatus.UNREACHABLE, str(exc)
        except (ParameterError, ValueError) as exc:
            status, reason = SkillStatus.INVALID, str(exc)
        if motion.detours:
            facts["detoured"] = list(motion.detours)
        facts.update(
            ticks=motion.ticks,
            path=motion.path,
            max_speed_fraction=round(motion.max_speed_fraction, 3),
            gripper_width=round(robot.gripper_width(), 4),
            holding=robot.holding(),
            params=p,
        )
        for role, name in args.items():
            try:
                facts[f"{role}_pose"] = robot.object_pose(name).to_dict()
            except UnknownObjectError:
                pass
        if status is not SkillStatus.SUCCEEDED:
            log.info("%s(%s) -> %s: %s", self.name, args, status.value, reason)
        return SkillResult(status, reason, facts)

    @abstractmethod
    def _run(
        self, robot: Robot, motion: Motion, objs: dict[str, ObjectInfo], p: dict[str, Any], facts: dict[str, Any]
    ) -> tuple[SkillStatus, str]:
        """Do the motion; return (status, reason)."""


def _keep_out_regions(
    skill: str, names: Sequence[str], args: Mapping[str, str], objects: Mapping[str, ObjectInfo], robot: Robot
) -> list[KeepOut]:
    """Keep-out regions for the named objects, minus the call's own objects and the held one."""
    if isinstance(names, str):  # one name, not its letters
        names = [names]
    own = set(args.values()) | {robot.holding()}
    out: list[KeepOut] = []
    for name in dict.fromkeys(str(n) for n in names or ()):
        if name in own:
            continue
        if name not in objects:
            log.warning(
                "%s: keep-out %r ignored: no such object in the scene (%s)", skill, name, ", ".join(sorted(objects))
            )
            continue
        out.append(KeepOut.around(objects[name]))
    return out


def _part(obj: ObjectInfo, region: str) -> np.ndarray:
    if region in obj.parts:
        return np.asarray(obj.parts[region], dtype=float)
    if region == "side":
        return np.array([0.0, -obj.size[1] / 2 + 0.015, obj.size[2] / 2])
    return np.asarray(obj.parts.get("center", [0.0, 0.0, obj.size[2] / 2]), dtype=float)


def _region_yaw(obj: ObjectInfo, region: str) -> float:
    """Extra gripper yaw so the fingers close across the part (handles are thin along x)."""
    if region == "handle":
        return math.pi / 2
    if region == "side":
        return 0.0
    return 0.0


class Pick(Skill):
    """pick(object): grasp an object from above and lift it.

    Parameters: grasp_region (center|handle|rim|top|side), grasp_offset (m, object frame),
    gripper_yaw (rad, relative to the object), approach_height, lift_height (m), speed.
    """

    name = "pick"

    def _run(self, robot, motion, objs, p, facts):
        obj = objs["object"]
        if obj.category not in GRASPABLE:
            return SkillStatus.INVALID, f"{obj.name} ({obj.category}) cannot be picked up"
        held = robot.holding()
        if held:
            return SkillStatus.INVALID, f"already holding {held}; place it first"
        region = p["grasp_region"]
        if region == "handle" and "handle" not in obj.parts:
            return SkillStatus.INVALID, f"{obj.name} has no handle"
        local = _part(obj, region) + np.asarray(p["grasp_offset"])
        # Never aim the fingertips below the object's own base.
        local[2] = max(local[2], 0.01)
        grasp = obj.pose.to_world(local)
        yaw = wrap_grip_yaw(obj.pose.yaw + _region_yaw(obj, region) + p["gripper_yaw"])
        above = grasp + np.array([0, 0, p["approach_height"]])
        path = motion.plan_cartesian([above, grasp], yaw)  # refuse unreachable targets before moving
        motion.gripper(0.08)
        motion.follow_segments(path, [p["speed"], min(p["speed"], 0.5)])
        ok = robot.grasp(obj.name, cancel=motion.cancel)
        motion.check_cancel()
        tool = robot.ee_pose()[0]
        facts["grasp_point_local"] = [round(float(v), 4) for v in obj.pose.to_local(tool)]
        facts["grasp_region"] = region
        motion.move_to(tool + np.array([0, 0, p["lift_height"]]), yaw, p["speed"])
        if not ok or robot.holding() != obj.name:
            robot.release()
            return SkillStatus.GRASP_MISSED, f"the gripper closed on nothing at {np.round(grasp, 3).tolist()}"
        return SkillStatus.SUCCEEDED, ""


def _place_surface(target: ObjectInfo) -> tuple[np.ndarray, str]:
    if target.category in CONTAINERS:
        return np.asarray(target.parts.get("inside", target.parts.get("center", [0, 0, 0])), dtype=float), "in"
    return np.asarray(target.parts.get("top", [0, 0, target.size[2]]), dtype=float), "on"


def _inside_xy(robot: Robot, obj: ObjectInfo, target: ObjectInfo, surface_local: np.ndarray) -> bool:
    """Did ``obj`` end up in / on ``target``? (its footprint centre over the target's area)"""
    local = target.pose.to_local(obj.pose.position)
    if target.category == "cabinet":
        opening = float(target.state.get("opening", 0.0))
        sx, sy = target.size[0], target.size[1]
        # The drawer box spans [-sx/2 + s, sx/2 + s] in x (minus walls) and most of the width.
        in_x = -sx / 2 + opening + 0.01 <= local[0] <= sx / 2 + opening - 0.01
        in_y = abs(local[1]) <= sy / 2 - 0.02
        in_z = local[2] < surface_local[2] + 0.05
        return bool(in_x and in_y and in_z)
    half = np.array(target.size[:2]) / 2
    ok_xy = bool(np.all(np.abs(local[:2]) <= half + 0.005))
    ok_z = local[2] > -0.02 and local[2] < target.size[2] + 0.08
    return ok_xy and ok_z


class Place(Skill):
    """place(object, target): put the held object on a support or in a container.

    Parameters: place_offset (m, target frame), place_height (m above the surface at release),
    approach_height (m), speed.
    """

    name = "place"

    def _run(self, robot, motion, objs, p, facts):
        obj, target = objs["object"], objs["target"]
        if robot.holding() != obj.name:
            return SkillStatus.INVALID, f"not holding {obj.name} (holding {robot.holding() or 'nothing'})"
        if target.category not in CONTAINERS | SUPPORTS or target.name == obj.name:
            return SkillStatus.INVALID, f"cannot place on or in {target.name} ({target.category})"
        surface, relation = _place_surface(target)
        tool, _ = robot.ee_pose()
        bottom_below_tool = tool[2] - obj.pose.position[2]
        release_local = surface + np.asarray(p["place_offset"])
        release = target.pose.to_world(release_local)
        # Aim the object, not the tool: an object held off-centre (a mug by its handle) keeps its offset.
        release[:2] += tool[:2] - np.asarray(obj.pose.position[:2])
        release[2] = target.pose.position[2] + surface[2] + p["place_height"] + bottom_below_tool + 0.002
        # Keep the hand's yaw: the held object turns with it (no symmetric-gripper wrap here).
        yaw = robot.ee_pose()[1]
        top = max(release[2], target.pose.position[2] + target.size[2] + bottom_below_tool + 0.02)
        above = np.array([release[0], release[1], top + p["approach_height"]])
        lift = np.array([tool[0], tool[1], max(tool[2], above[2])])
        path = motion.plan_cartesian([lift, above, release], yaw)
        motion.follow_segments(path, [p["speed"]] * 3)
        facts["release_height"] = round(
            float(robot.ee_pose()[0][2] - bottom_below_tool - target.pose.position[2] - surface[2]), 4
        )
        facts["relation"] = relation
        robot.release()
        motion.check_cancel()
        motion.move_to(robot.ee_pose()[0] + np.array([0, 0, 0.08]), yaw, p["speed"])
        for _ in range(20):  # let the object come to rest before judging
            robot.step(robot.joint_positions())
        now = robot.perceive()
        facts["object_final_local"] = [
            round(float(v), 4) for v in now[target.name].pose.to_local(now[obj.name].pose.position)
        ]
        if not _inside_xy(robot, now[obj.name], now[target.name], surface):
            return SkillStatus.FAILED, f"{obj.name} did not end up {relation} {target.name}"
        return SkillStatus.SUCCEEDED, ""


class Push(Skill):
    """push(object): slide an object along the table with closed fingers.

    Parameters: direction (base frame, normalized), distance (m), contact_height (m), speed.
    """

    name = "push"

    def _run(self, robot, motion, objs, p, facts):
        obj = objs["object"]
        if obj.category not in GRASPABLE:
            return SkillStatus.INVALID, f"{obj.name} ({obj.category}) cannot be pushed"
        if robot.holding():
            return SkillStatus.INVALID, f"holding {robot.holding()}; place it first"
        d = np.asarray(p["direction"], dtype=float)
        d[2] = 0.0
        if np.linalg.norm(d) < 1e-6:
            return SkillStatus.INVALID, "push direction must have a horizontal component"
        d /= np.linalg.norm(d)
        start_pos = np.asarray(obj.pose.position)
        reach = obj.characteristic_size() / 2 + 0.02
        z = start_pos[2] + p["contact_height"]
        behind = start_pos - d * reach
        behind[2] = z
        end = behind + d * p["distance"]
        above = behind + np.array([0, 0, obj.size[2] + CLEARANCE])
        # Fingers side by side across the push direction: a wider pushing face.
        yaw = wrap_grip_yaw(math.atan2(d[1], d[0]))
        path = motion.plan_cartesian([above, behind, end], yaw)
        motion.gripper(0.0)
        motion.follow_segments(path, [p["speed"], min(p["speed"], 0.5), min(p["speed"], 0.4)])
        motion.move_to(end + np.array([0, 0, 0.08]), yaw, p["speed"])
        moved = np.asarray(robot.object_pose(obj.name).position) - start_pos
        facts["moved"] = [round(float(v), 4) for v in moved]
        along = float(np.dot(moved, d))
        if along < 0.5 * p["distance"]:
            return SkillStatus.FAILED, f"{obj.name} moved {along:.3f} m of {p['distance']:.3f} m"
        return SkillStatus.SUCCEEDED, ""


class Open(Skill):
    """open(object): grasp a drawer's handle and pull it open.

    Parameters: grasp_offset (m, object frame, from the handle), pull_axis (object frame),
    pull_distance (m), speed.
    """

    name = "open"

    def _run(self, robot, motion, objs, p, facts):
        obj = objs["object"]
        if obj.category != "cabinet" or "handle" not in obj.parts:
            return SkillStatus.INVALID, f"{obj.name} ({obj.category}) has no drawer to open"
        if robot.holding():
            return SkillStatus.INVALID, f"holding {robot.holding()}; place it first"
        before = float(obj.state.get("opening", 0.0))
        handle = obj.pose.to_world(np.asarray(obj.parts["handle"]) + np.asarray(p["grasp_offset"]))
        axis_local = np.asarray(p["pull_axis"], dtype=float)
        if np.linalg.norm(axis_local) < 1e-6:
            return SkillStatus.INVALID, "pull_axis must not be zero"
        axis_local /= np.linalg.norm(axis_local)
        axis = obj.pose.vector_to_world(axis_local)
        yaw = wrap_grip_yaw(obj.pose.yaw)  # fingers close across the vertical handle bar
        above = handle + np.array([0, 0, 0.10])
        pulled = handle + axis * p["pull_distance"]
        path = motion.plan_cartesian([above, handle, pulled], yaw)
        motion.gripper(0.08)
        motion.follow_segments(path[:2], [p["speed"], min(p["speed"], 0.5)])
        if not robot.grasp(obj.name, cancel=motion.cancel):
            motion.check_cancel()
            motion.move_to(above, yaw, p["speed"])
            return SkillStatus.GRASP_MISSED, f"missed the handle of {obj.name}"
        facts["grasp_point_local"] = [round(float(v), 4) for v in obj.pose.to_local(robot.ee_pose()[0])]
        try:
            motion.follow(path[2], min(p["speed"], 0.4))
        finally:
            robot.release()
        motion.move_to(robot.ee_pose()[0] + np.array([0, 0, 0.10]), yaw, p["speed"])
        after = float(robot.perceive()[obj.name].state.get("opening", 0.0))
        facts.update(
            opening=round(after, 4),
            pull_vector_local=[round(float(v), 3) for v in axis_local],
            pulled=round(after - before, 4),
        )
        if after - before < 0.5 * p["pull_distance"]:
            return SkillStatus.FAILED, f"the drawer moved {after - before:.3f} m of {p['pull_distance']:.3f} m"
        return SkillStatus.SUCCEEDED, ""


class Close(Skill):
    """close(object): push a drawer shut by its handle.

    Parameters: push_distance (m), speed.
    """

    name = "close"

    def _run(self, robot, motion, objs, p, facts):
        obj = objs["object"]
        if obj.category != "cabinet" or "handle" not in obj.parts:
            return SkillStatus.INVALID, f"{obj.name} ({obj.category}) has no drawer to close"
        if robot.holding():
            return SkillStatus.INVALID, f"holding {robot.holding()}; place it first"
        handle = obj.pose.to_world(np.asarray(obj.parts["handle"]))
        axis = obj.pose.vector_to_world([1.0, 0.0, 0.0])
        opening = float(obj.state.get("opening", 0.0))
        dist = min(p["push_distance"], opening + 0.01)
        yaw = wrap_grip_yaw(obj.pose.yaw)
        above = handle + np.array([0, 0, 0.10])
        pushed = handle - axis * dist
        path = motion.plan_cartesian([above, handle, pushed], yaw)
        motion.gripper(0.08)
        motion.follow_segments(path[:2], [p["speed"], min(p["speed"], 0.5)])
        grasped = robot.grasp(obj.name, cancel=motion.cancel)
        motion.check_cancel()
        try:
            motion.follow(path[2], min(p["speed"], 0.4))
        finally:
            if grasped:
                robot.release()
        motion.move_to(robot.ee_pose()[0] + np.array([0, 0, 0.10]), yaw, p["speed"])
        after = float(robot.perceive()[obj.name].state.get("opening", 0.0))
        facts["opening"] = round(after, 4)
        if after > 0.02:
            return SkillStatus.FAILED, f"the drawer is still {after:.3f} m open"
        return SkillStatus.SUCCEEDED, ""


class MoveBy(Skill):
    """move_by(): move the gripper by a small displacement.

    Parameters: delta (m), frame (base|gripper), speed.
    """

    name = "move_by"

    def _run(self, robot, motion, objs, p, facts):
        tool, yaw = robot.ee_pose()
        d = np.asarray(p["delta"], dtype=float)
        if p["frame"] == "gripper":
            c, s = math.cos(yaw), math.sin(yaw)
            d = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1], d[2]])
        target = tool + d
        facts["target"] = [round(float(v), 4) for v in target]
        motion.move_to(target, wrap_grip_yaw(yaw), p["speed"])
        return SkillStatus.SUCCEEDED, ""


class GoHome(Skill):
    """go_home(): return the arm to its ready pose above the table."""

    name = "go_home"

    def _run(self, robot, motion, objs, p, facts):
        tool, yaw = robot.ee_pose()
        home_tool = robot.forward_kinematics(robot.home_q)
        if tool[2] < home_tool[2] - 0.05:
            # Rise first so the joint-space move does not sweep through objects.
            motion.move_to([tool[0], tool[1], home_tool[2]], wrap_grip_yaw(yaw), p["speed"])
        motion.move_joints(robot.home_q, p["speed"])
        return SkillStatus.SUCCEEDED, ""


SKILLS: dict[str, Skill] = {s.name: s for s in (Pick(), Place(), Push(), Open(), Close(), MoveBy(), GoHome())}


def get_skill(name: str) -> Skill:
    """The registered skill ``name``.

    Raises:
        UnknownSkillError: naming the valid skills.
    """
    try:
        return SKILLS[name]
    except KeyError:
        raise UnknownSkillError(f"unknown skill {name!r}; valid skills: {', '.join(sorted(SKILLS))}") from None


def skill_catalog() -> str:
    """The skills' docstrings, as the planner shows them to the LLM."""
    return "\n".join(f"- {(type(s).__doc__ or '').strip()}" for s in SKILLS.values())
