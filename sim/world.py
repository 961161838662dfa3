"""The PyBullet world: a Franka Panda on a table, objects from a scene, a camera.

:class:`SimWorld` owns one physics client (several worlds can live in one process)
and exposes the robot as :class:`PyBulletRobot`, an implementation of
:class:`skills.robot.Robot`. Skills never touch pybullet: they go through that
interface, exactly as they would on the ROS robot.

Grasping uses a *grasp assist* as most manipulation benchmarks do: when the fingers
close on an object and at least one finger touches it with the tool point inside
the object's grasp tolerance, the object is fixed to the hand until release.
Motion is real: joint position control with the Panda's torque limits, contacts
and a drawer on a prismatic joint with friction.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from robot_agent.config import SafetyConfig, SimConfig
from robot_agent.deps import require
from robot_agent.errors import UnknownObjectError, UnreachableError
from sim.catalog import COLORS, DRAWER_OPEN_AT, DRAWER_TRAVEL, Box, category, geometry
from sim.scene import ObjectSpec, SceneSpec
from skills.robot import CancelToken, Robot
from skills.types import ObjectInfo, Pose

log = logging.getLogger(__name__)

ARM_JOINTS = tuple(range(7))
FINGER_JOINTS = (9, 10)
TOOL_LINK = 11
HOME_Q = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
GRIPPER_MAX = 0.08
ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
#: the hand is rotated so the fingers close along the base y axis at yaw 0
YAW_OFFSET = 0.0


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level writes to stdout (file descriptor 1) for the duration."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (e.g. captured): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@dataclass
class SimObject:
    """An object in the world: its spec, body id and (for the cabinet) drawer link."""

    spec: ObjectSpec
    body: int
    parts: dict[str, list[float]]
    drawer_parts: dict[str, list[float]]
    drawer_link: int | None = None


class SimWorld:
    """A PyBullet world built from a :class:`sim.scene.SceneSpec`.

    Args:
        scene: the validated scene.
        sim: physics and camera settings.
        safety: limits enforced by the robot on every command.
    """

    def __init__(self, scene: SceneSpec, sim: SimConfig | None = None, safety: SafetyConfig | None = None) -> None:
        self.scene = scene
        self.sim_cfg = sim or SimConfig()
        self.safety = safety or SafetyConfig()
        self._pb = require("pybullet", "the PyBullet simulation")
        self._data = require("pybullet_data", "the PyBullet simulation")
        from pybullet_utils import bullet_client

        mode = self._pb.GUI if self.sim_cfg.gui else self._pb.DIRECT
        with _quiet_stdout():  # the C library prints "argv[0]=" on connect
            self.client = bullet_client.BulletClient(connection_mode=mode)
        c = self.client
        c.setAdditionalSearchPath(self._data.getDataPath())
        c.setGravity(0, 0, -9.81)
        c.setTimeStep(1.0 / self.sim_cfg.physics_hz)
        c.setPhysicsEngineParameter(numSolverIterations=10)
        self.table = c.loadURDF("table/table.urdf", [0.5, 0.0, -0.626], useFixedBase=True)
        self.robot_id = c.loadURDF("franka_panda/panda.urdf", [0, 0, 0], useFixedBase=True)
        for j, q in zip(ARM_JOINTS, HOME_Q):
            c.resetJointState(self.robot_id, j, float(q))
        for j in FINGER_JOINTS:
            c.resetJointState(self.robot_id, j, GRIPPER_MAX / 2)
            c.changeDynamics(self.robot_id, j, lateralFriction=1.5)
        self.objects: dict[str, SimObject] = {}
        for spec in scene.objects:
            self.objects[spec.name] = self._build(spec)
        self.sim_time = 0.0
        # Let objects settle before anyone looks.
        for _ in range(int(0.2 * self.sim_cfg.physics_hz)):
            c.stepSimulation()
        self.robot = PyBulletRobot(self)

    # -- building ----------------------------------------------------------------
    def _shape_arrays(self, prims: list[Box], rgba: Sequence[float]) -> tuple[int, int]:
        c, pb = self.client, self._pb
        kinds = {"box": pb.GEOM_BOX, "cylinder": pb.GEOM_CYLINDER, "sphere": pb.GEOM_SPHERE, "capsule": pb.GEOM_CAPSULE}
        types = [kinds[p.kind] for p in prims]
        half = [list(p.half) for p in prims]
        radii = [p.radius for p in prims]
        lengths = [p.length for p in prims]
        pos = [list(p.pos) for p in prims]
        orn = [list(c.getQuaternionFromEuler(p.rpy)) for p in prims]
        col = c.createCollisionShapeArray(shapeTypes=types, halfExtents=half, radii=radii, lengths=lengths,
                                          collisionFramePositions=pos, collisionFrameOrientations=orn)
        vis = c.createVisualShapeArray(shapeTypes=types, halfExtents=half, radii=radii, lengths=lengths,
                                       visualFramePositions=pos, visualFrameOrientations=orn)
        return col, vis

    def _build(self, spec: ObjectSpec) -> SimObject:
        c = self.client
        cat = category(spec.type)
        geo = geometry(spec.type, spec.shape, spec.size)
        rgba = COLORS[spec.color]
        col, vis = self._shape_arrays(geo.base, rgba)
        orn = c.getQuaternionFromEuler([0, 0, spec.pose.yaw])
        pos = list(spec.pose.position)
        if geo.drawer:
            dcol, dvis = self._shape_arrays(geo.drawer, rgba)
            body = c.createMultiBody(
                baseMass=0, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis, basePosition=pos,
                baseOrientation=orn, linkMasses=[0.4], linkCollisionShapeIndices=[dcol],
                linkVisualShapeIndices=[dvis], linkPositions=[[0, 0, 0]], linkOrientations=[[0, 0, 0, 1]],
                linkInertialFramePositions=[[0, 0, 0.03]], linkInertialFrameOrientations=[[0, 0, 0, 1]],
                linkParentIndices=[0], linkJointTypes=[self._pb.JOINT_PRISMATIC], linkJointAxis=[[1, 0, 0]])
            c.changeDynamics(body, 0, jointLowerLimit=0.0, jointUpperLimit=DRAWER_TRAVEL, lateralFriction=0.8,
                             linearDamping=0.5)
            c.resetJointState(body, 0, float(spec.state.get("opening", 0.0)))
            # Joint friction: the drawer stays where it is left.
            c.setJointMotorControl2(body, 0, self._pb.VELOCITY_CONTROL, targetVelocity=0.0, force=3.0)
            c.changeVisualShape(body, -1, rgbaColor=rgba)
            c.changeVisualShape(body, 0, rgbaColor=COLORS["white"] if spec.color != "white" else COLORS["gray"])
            return SimObject(spec, body, geo.parts, geo.drawer_parts, drawer_link=0)
        # Objects rest on their footprint: origin (and centre of mass) at the base centre keeps toys upright.
        body = c.createMultiBody(baseMass=cat.mass, baseCollisionShapeIndex=col, baseVisualShapeIndex=vis,
                                 basePosition=[pos[0], pos[1], pos[2] + 0.001], baseOrientation=orn,
                                 baseInertialFramePosition=[0, 0, 0])
        c.changeVisualShape(body, -1, rgbaColor=rgba)
        # Resting objects may sleep: the solver skips them until something touches them.
        c.changeDynamics(body, -1, lateralFriction=0.9, spinningFriction=0.002, rollingFriction=0.002,
                         activationState=self._pb.ACTIVATION_STATE_ENABLE_SLEEPING)
        return SimObject(spec, body, geo.parts, {}, None)

    # -- queries -------------------------------------------------------------------
    def get(self, name: str) -> SimObject:
        try:
            return self.objects[name]
        except KeyError:
            raise UnknownObjectError(
                f"unknown object {name!r}; the scene has: {', '.join(sorted(self.objects))}") from None

    def drawer_opening(self, name: str) -> float:
        obj = self.get(name)
        if obj.drawer_link is None:
            raise UnknownObjectError(f"{name!r} has no drawer")
        return float(self.client.getJointState(obj.body, obj.drawer_link)[0])

    def object_info(self, name: str) -> ObjectInfo:
        obj = self.get(name)
        c = self.client
        pos, orn = c.getBasePositionAndOrientation(obj.body)
        yaw = c.getEulerFromQuaternion(orn)[2]
        parts = {k: list(v) for k, v in obj.parts.items()}
        state: dict[str, object] = {}
        if obj.drawer_link is not None:
            s = self.drawer_opening(name)
            for k, v in obj.drawer_parts.items():
                parts[k] = [v[0] + s, v[1], v[2]]
            if "inside" in parts:
                # The reachable part of the drawer is what sticks out of the shell.
                sx = obj.spec.size[0]
                parts["inside"][0] = sx / 2 + max(s, 0.0) / 2 - 0.01
            s = max(s, 0.0)  # the solver may push a shut drawer a hair past its stop
            state = {"opening": round(s, 4), "drawer": "open" if s >= DRAWER_OPEN_AT else "closed"}
        spec = obj.spec
        return ObjectInfo(name=name, category=spec.type, pose=Pose(tuple(pos), yaw), size=spec.size,
                          color=spec.color, shape=spec.shape, state=state, parts=parts)

    def aabb(self, name: str, link: int = -1) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.client.getAABB(self.get(name).body, link)
        return np.array(lo), np.array(hi)

    def step_physics(self, n: int) -> None:
        for _ in range(n):
            self.client.stepSimulation()
        self.sim_time += n / self.sim_cfg.physics_hz

    def close(self) -> None:
        try:
            self.client.disconnect()
        except Exception:  # noqa: BLE001 - already gone is fine
            pass

    def __enter__(self) -> "SimWorld":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PyBulletRobot(Robot):
    """The Panda of a :class:`SimWorld` behind the :class:`Robot` interface."""

    joint_names = tuple(f"panda_joint{i + 1}" for i in range(7))
    home_q = HOME_Q

    def __init__(self, world: SimWorld) -> None:
        self.world = world
        self.c = world.client
        self.id = world.robot_id
        self.control_dt = 1.0 / world.sim_cfg.control_hz
        self._substeps = int(round(world.sim_cfg.physics_hz / world.sim_cfg.control_hz))
        lo, hi = [], []
        for j in ARM_JOINTS:
            info = self.c.getJointInfo(self.id, j)
            lo.append(info[8])
            hi.append(info[9])
        self._lo, self._hi = np.array(lo), np.array(hi)
        self._target = self.joint_positions()
        self._finger_target = GRIPPER_MAX / 2
        self._held: tuple[str, int] | None = None  # (object name, constraint id)
        self._next_tick: float | None = None  # wall-clock deadline of the next tick (sim.real_time)
        self.ticks = 0
        self._command(self._target)

    # -- state -------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        return np.array([s[0] for s in self.c.getJointStates(self.id, ARM_JOINTS)])

    def joint_velocities(self) -> np.ndarray:
        return np.array([s[1] for s in self.c.getJointStates(self.id, ARM_JOINTS)])

    def ee_pose(self) -> tuple[np.ndarray, float]:
        st = self.c.getLinkState(self.id, TOOL_LINK, computeForwardKinematics=True)
        yaw = self.c.getEulerFromQuaternion(st[5])[2]
        return np.array(st[4]), float(yaw)

    def gripper_width(self) -> float:
        return float(sum(s[0] for s in self.c.getJointStates(self.id, FINGER_JOINTS)))

    def holding(self) -> str | None:
        return self._held[0] if self._held else None

    def perceive(self) -> dict[str, ObjectInfo]:
        return {name: self.world.object_info(name) for name in self.world.objects}

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        return self._lo.copy(), self._hi.copy()

    # -- kinematics ----------------------------------------------------------------
    def _save(self) -> list[tuple[float, float]]:
        return [(s[0], s[1]) for s in self.c.getJointStates(self.id, ARM_JOINTS)]

    def _restore(self, saved: list[tuple[float, float]]) -> None:
        for j, (q, v) in zip(ARM_JOINTS, saved):
            self.c.resetJointState(self.id, j, q, v)

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        saved = self._save()
        try:
            for j, v in zip(ARM_JOINTS, q):
                self.c.resetJointState(self.id, j, float(v))
            return np.array(self.c.getLinkState(self.id, TOOL_LINK, computeForwardKinematics=True)[4])
        finally:
            self._restore(saved)

    def inverse_kinematics(self, position: Sequence[float], yaw: float,
                           seed: np.ndarray | None = None) -> np.ndarray:
        target = [float(v) for v in position]
        orn = self.c.getQuaternionFromEuler([math.pi, 0.0, float(yaw) + YAW_OFFSET])
        seeds = [HOME_Q] if seed is None else [np.asarray(seed), HOME_Q]
        err = ang = math.inf
        for start in seeds:
            q, err, ang = self._ik_from(target, orn, start)
            if err <= 0.01 and ang <= 0.1:
                return q
        raise UnreachableError(
            f"no inverse-kinematics solution for {np.round(target, 3).tolist()} "
            f"(position error {err * 1000:.0f} mm, orientation error {math.degrees(ang):.0f} deg)")

    def _ik_from(self, target: list[float], orn: Sequence[float], start: np.ndarray) -> tuple[np.ndarray, float, float]:
        saved = self._save()
        try:
            for j, v in zip(ARM_JOINTS, start):
                self.c.resetJointState(self.id, j, float(v))
            q = start
            for _ in range(4):
                sol = self.c.calculateInverseKinematics(
                    self.id, TOOL_LINK, target, orn, lowerLimits=list(self._lo), upperLimits=list(self._hi),
                    jointRanges=list(self._hi - self._lo), restPoses=list(HOME_Q), maxNumIterations=100,
                    residualThreshold=1e-5)
                q = np.clip(np.array(sol[:7]), self._lo, self._hi)
                for j, v in zip(ARM_JOINTS, q):
                    self.c.resetJointState(self.id, j, float(v))
                st = self.c.getLinkState(self.id, TOOL_LINK, computeForwardKinematics=True)
                err = np.linalg.norm(np.array(st[4]) - target)
                if err < 2e-3:
                    break
            ang = 2 * math.acos(min(1.0, abs(float(np.dot(st[5], orn)))))
            return q, float(err), float(ang)
        finally:
            self._restore(saved)

    def in_collision(self, q: np.ndarray) -> str | None:
        """What the arm at ``q`` would hit (table or a fixed fixture), or None. Fingers may touch."""
        saved = self._save()
        try:
            for j, v in zip(ARM_JOINTS, q):
                self.c.resetJointState(self.id, j, float(v))
            self.c.performCollisionDetection()
            fixed = [(self.world.table, "the table")] + [
                (o.body, o.spec.name) for o in self.world.objects.values() if category(o.spec.type).mass == 0]
            for body, name in fixed:
                for pt in self.c.getClosestPoints(self.id, body, distance=0.0):
                    link = pt[3]
                    # Fingers may touch; movable parts (a drawer) are meant to be pushed and pulled.
                    if link in (9, 10, TOOL_LINK) or pt[8] > -0.002 or pt[4] != -1:
                        continue
                    if self._held and body == self.world.get(self._held[0]).body:
                        continue
                    return f"link {link} would hit {name}"
            return None
        finally:
            self._restore(saved)

    # -- commands ------------------------------------------------------------------
    def _command(self, q: np.ndarray) -> None:
        self.c.setJointMotorControlArray(self.id, list(ARM_JOINTS), self.c.POSITION_CONTROL,
                                         targetPositions=[float(v) for v in q], forces=list(ARM_FORCES),
                                         positionGains=[0.5] * 7, velocityGains=[1.0] * 7)
        self.c.setJointMotorControlArray(self.id, list(FINGER_JOINTS), self.c.POSITION_CONTROL,
                                         targetPositions=[self._finger_target] * 2, forces=[40.0, 40.0])

    def step(self, q_target: np.ndarray) -> None:
        q = np.clip(np.asarray(q_target, dtype=float), self._lo, self._hi)
        # Speed limit, whatever the caller asks: never move a joint target faster than allowed.
        max_step = self.world.safety.max_joint_speed * self.control_dt
        q = self._target + np.clip(q - self._target, -max_step, max_step)
        self._target = q
        self._command(q)
        self.world.step_physics(self._substeps)
        self.ticks += 1
        self._pace()

    def hold(self) -> None:
        self._target = self.joint_positions()
        self._command(self._target)
        self.world.step_physics(self._substeps)
        self.ticks += 1
        self._pace()

    def _pace(self) -> None:
        """With ``sim.real_time``, wait until this tick's wall-clock time: a person watching the
        arm (or typing a correction) sees it move at its real speed, not 25 times faster."""
        if not self.world.sim_cfg.real_time:
            return
        now = time.perf_counter()
        if self._next_tick is None or now - self._next_tick > 0.25:
            self._next_tick = now  # first tick, or after a pause (planning): do not catch up in a burst
        self._next_tick += self.control_dt
        delay = self._next_tick - time.perf_counter()
        if delay > 0:
            time.sleep(delay)

    def set_gripper(self, width: float, ticks: int = 30, cancel: CancelToken | None = None) -> float:
        self._finger_target = float(np.clip(width, 0.0, GRIPPER_MAX)) / 2
        for _ in range(ticks):
            if cancel is not None and cancel.cancelled:
                break
            self.step(self._target)
        return self.gripper_width()

    def _contacts(self, body: int, link: int | None) -> set[int]:
        fingers = set()
        for f in FINGER_JOINTS:
            for pt in self.c.getContactPoints(self.id, body, f):
                if link is None or pt[4] == link:
                    fingers.add(f)
        return fingers

    def grasp(self, object_name: str, cancel: CancelToken | None = None) -> bool:
        obj = self.world.get(object_name)
        link = obj.drawer_link  # the cabinet is grasped by its drawer
        self._finger_target = 0.0
        touched: set[int] = set()
        for _ in range(40):
            if cancel is not None and cancel.cancelled:
                self.hold()
                return False
            self.step(self._target)
            touched = self._contacts(obj.body, link)
            if len(touched) == 2:
                break
        if not touched:
            self._finger_target = GRIPPER_MAX / 2
            return False
        tool, _ = self.ee_pose()
        lo, hi = self.world.aabb(object_name, -1 if link is None else link)
        gap = np.maximum(np.maximum(lo - tool, tool - hi), 0.0)
        if float(np.linalg.norm(gap)) > 0.02:
            self._finger_target = GRIPPER_MAX / 2
            return False
        # Hold at the contact width so the fingers do not push through.
        self._finger_target = max(self.gripper_width() / 2 - 0.001, 0.0)
        # Constraint frames are centre-of-mass frames in PyBullet.
        hs = self.c.getLinkState(self.id, TOOL_LINK)
        if link is None:
            opos, oorn = self.c.getBasePositionAndOrientation(obj.body)
            child_link = -1
        else:
            ls = self.c.getLinkState(obj.body, link)
            opos, oorn = ls[0], ls[1]
            child_link = link
        inv_pos, inv_orn = self.c.invertTransform(hs[0], hs[1])
        rel_pos, rel_orn = self.c.multiplyTransforms(inv_pos, inv_orn, opos, oorn)
        cid = self.c.createConstraint(self.id, TOOL_LINK, obj.body, child_link, self.c.JOINT_FIXED, [0, 0, 0],
                                      rel_pos, [0, 0, 0], rel_orn, [0, 0, 0, 1])
        self.c.changeConstraint(cid, maxForce=300.0)
        self._held = (object_name, cid)
        return True

    def release(self) -> None:
        if self._held is not None:
            self.c.removeConstraint(self._held[1])
            self._held = None
        self._finger_target = GRIPPER_MAX / 2
        for _ in range(15):
            self.step(self._target)
