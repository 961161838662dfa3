"""The PyBullet world: a Franka Panda on a table, objects from a scene, a camera.

:class:`SimWorld` owns one physics client (several worlds can live in one process)
and exposes the robot as :class:`PyBulletRobot`, an implementation of
:class:`skills.robot.Robot`. Skills never touch pybullet: they go through that
interface, exactly as they would on the ROS robot. The arm's kinematics (IK, FK, joint
limits, collision checks) come from :mod:`skills.kinematics`, which the ROS robot uses too.

Grasping uses a *grasp assist* as most manipulation benchmarks do: when the fingers
close on an object and at least one finger touches it with the tool point inside
the object's grasp tolerance, the object is fixed to the hand until release.
Motion is real: joint position control with the Panda's torque limits, contacts
and a drawer on a prismatic joint with friction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from robot_agent.config import SafetyConfig, SimConfig
from robot_agent.deps import require
from robot_agent.errors import UnknownObjectError
from sim.catalog import COLORS, DRAWER_OPEN_AT, DRAWER_TRAVEL, Box, category, geometry
from sim.scene import ObjectSpec, SceneSpec
from skills.kinematics import (
    ARM_JOINTS,
    FINGER_JOINTS,
    GRIPPER_MAX,
    HOME_Q,
    TOOL_LINK,
    PandaKinematics,
    connect,
    load_arm,
)
from skills.robot import CancelToken, Robot
from skills.types import ObjectInfo, Pose

log = logging.getLogger(__name__)

ARM_FORCES = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)


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
        self.client = connect(gui=self.sim_cfg.gui)
        c = self.client
        c.setGravity(0, 0, -9.81)
        c.setTimeStep(1.0 / self.sim_cfg.physics_hz)
        c.setPhysicsEngineParameter(numSolverIterations=10)
        self.robot_id, self.table = load_arm(c)
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
        col = c.createCollisionShapeArray(
            shapeTypes=types,
            halfExtents=half,
            radii=radii,
            lengths=lengths,
            collisionFramePositions=pos,
            collisionFrameOrientations=orn,
        )
        vis = c.createVisualShapeArray(
            shapeTypes=types,
            halfExtents=half,
            radii=radii,
            lengths=lengths,
            visualFramePositions=pos,
            visualFrameOrientations=orn,
        )
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
                baseMass=0,
                baseCollisionShapeIndex=col,
                baseVisualShapeIndex=vis,
                basePosition=pos,
                baseOrientation=orn,
                linkMasses=[0.4],
                linkCollisionShapeIndices=[dcol],
                linkVisualShapeIndices=[dvis],
                linkPositions=[[0, 0, 0]],
                linkOrientations=[[0, 0, 0, 1]],
                linkInertialFramePositions=[[0, 0, 0.03]],
                linkInertialFrameOrientations=[[0, 0, 0, 1]],
                linkParentIndices=[0],
                linkJointTypes=[self._pb.JOINT_PRISMATIC],
                linkJointAxis=[[1, 0, 0]],
            )
            c.changeDynamics(
                body, 0, jointLowerLimit=0.0, jointUpperLimit=DRAWER_TRAVEL, lateralFriction=0.8, linearDamping=0.5
            )
            c.resetJointState(body, 0, float(spec.state.get("opening", 0.0)))
            # Joint friction: the drawer stays where it is left.
            c.setJointMotorControl2(body, 0, self._pb.VELOCITY_CONTROL, targetVelocity=0.0, force=3.0)
            c.changeVisualShape(body, -1, rgbaColor=rgba)
            c.changeVisualShape(body, 0, rgbaColor=COLORS["white"] if spec.color != "white" else COLORS["gray"])
            return SimObject(spec, body, geo.parts, geo.drawer_parts, drawer_link=0)
        # Objects rest on their footprint: origin (and centre of mass) at the base centre keeps toys upright.
        body = c.createMultiBody(
            baseMass=cat.mass,
            baseCollisionShapeIndex=col,
            baseVisualShapeIndex=vis,
            basePosition=[pos[0], pos[1], pos[2] + 0.001],
            baseOrientation=orn,
            baseInertialFramePosition=[0, 0, 0],
        )
        c.changeVisualShape(body, -1, rgbaColor=rgba)
        # Resting objects may sleep: the solver skips them until something touches them.
        c.changeDynamics(
            body,
            -1,
            lateralFriction=0.9,
            spinningFriction=0.002,
            rollingFriction=0.002,
            activationState=self._pb.ACTIVATION_STATE_ENABLE_SLEEPING,
        )
        return SimObject(spec, body, geo.parts, {}, None)

    # -- queries -------------------------------------------------------------------
    def get(self, name: str) -> SimObject:
        try:
            return self.objects[name]
        except KeyError:
            raise UnknownObjectError(
                f"unknown object {name!r}; the scene has: {', '.join(sorted(self.objects))}"
            ) from None

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
        return ObjectInfo(
            name=name,
            category=spec.type,
            pose=Pose(tuple(pos), yaw),
            size=spec.size,
            color=spec.color,
            shape=spec.shape,
            state=state,
            parts=parts,
        )

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
        except Exception:  # noqa: BLE001, S110 - already gone is fine
            pass

    def __enter__(self) -> SimWorld:
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
        #: FK, IK and collision checks on this arm (skills.kinematics, shared with the ROS robot)
        self.kinematics = PandaKinematics(self.c, self.id, self._fixed_bodies, self._held_body)
        self._lo, self._hi = self.kinematics.joint_limits()
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
        return self.kinematics.ee_pose()

    def gripper_width(self) -> float:
        return float(sum(s[0] for s in self.c.getJointStates(self.id, FINGER_JOINTS)))

    def holding(self) -> str | None:
        return self._held[0] if self._held else None

    def perceive(self) -> dict[str, ObjectInfo]:
        return {name: self.world.object_info(name) for name in self.world.objects}

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        return self._lo.copy(), self._hi.copy()

    # -- kinematics ----------------------------------------------------------------
    def _fixed_bodies(self) -> list[tuple[int, str]]:
        """What the arm must not hit: the table and the fixtures (zero-mass objects)."""
        return [(self.world.table, "the table")] + [
            (o.body, o.spec.name) for o in self.world.objects.values() if category(o.spec.type).mass == 0
        ]

    def _held_body(self) -> int | None:
        return self.world.get(self._held[0]).body if self._held else None

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        return self.kinematics.forward_kinematics(q)

    def inverse_kinematics(self, position: Sequence[float], yaw: float, seed: np.ndarray | None = None) -> np.ndarray:
        return self.kinematics.inverse_kinematics(position, yaw, seed)

    def in_collision(self, q: np.ndarray) -> str | None:
        """What the arm at ``q`` would hit (table or a fixed fixture), or None. Fingers may touch."""
        return self.kinematics.in_collision(q)

    # -- commands ------------------------------------------------------------------
    def _command(self, q: np.ndarray) -> None:
        self.c.setJointMotorControlArray(
            self.id,
            list(ARM_JOINTS),
            self.c.POSITION_CONTROL,
            targetPositions=[float(v) for v in q],
            forces=list(ARM_FORCES),
            positionGains=[0.5] * 7,
            velocityGains=[1.0] * 7,
        )
        self.c.setJointMotorControlArray(
            self.id,
            list(FINGER_JOINTS),
            self.c.POSITION_CONTROL,
            targetPositions=[self._finger_target] * 2,
            forces=[40.0, 40.0],
        )

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
        cid = self.c.createConstraint(
            self.id,
            TOOL_LINK,
            obj.body,
            child_link,
            self.c.JOINT_FIXED,
            [0, 0, 0],
            rel_pos,
            [0, 0, 0],
            rel_orn,
            [0, 0, 0, 1],
        )
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
