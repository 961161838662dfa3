"""Franka Panda kinematics on a PyBullet model: loading, FK, IK, joint limits, collision checks.

Both robots plan with it, so skills see the same numbers on both: the simulated arm
(:class:`sim.world.PyBulletRobot`) on the body it drives, and the arm behind ROS
(:mod:`robot_agent.ros.ros_robot`) on a private model that is only posed, never stepped
(:class:`KinematicModel`). Every query poses the arm, asks PyBullet and puts the arm back
as it was.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from robot_agent.deps import require
from robot_agent.errors import UnreachableError

ARM_JOINTS = tuple(range(7))
FINGER_JOINTS = (9, 10)
TOOL_LINK = 11
HOME_Q = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
GRIPPER_MAX = 0.08
#: the hand is rotated so the fingers close along the base y axis at yaw 0
YAW_OFFSET = 0.0
PANDA_URDF = "franka_panda/panda.urdf"
TABLE_URDF = "table/table.urdf"
#: the table's URDF origin; its top is then at z = 0
TABLE_POSITION = (0.5, 0.0, -0.626)


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
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


def connect(gui: bool = False) -> Any:
    """A new PyBullet client (its own physics server) that finds the bundled URDFs.

    Raises:
        ImportError: pybullet is not installed (the message says how to install it).
    """
    pb = require("pybullet", "the PyBullet simulation")
    data = require("pybullet_data", "the PyBullet simulation")
    from pybullet_utils import bullet_client

    with quiet_stdout():  # the C library prints "argv[0]=" on connect
        client = bullet_client.BulletClient(connection_mode=pb.GUI if gui else pb.DIRECT)
    client.setAdditionalSearchPath(data.getDataPath())
    return client


def load_arm(client: Any) -> tuple[int, int]:
    """Load the table and the Panda (fixed base at the origin, home pose, fingers half open).

    Returns:
        (the arm's body id, the table's body id).
    """
    table = client.loadURDF(TABLE_URDF, list(TABLE_POSITION), useFixedBase=True)
    robot = client.loadURDF(PANDA_URDF, [0, 0, 0], useFixedBase=True)
    for j, q in zip(ARM_JOINTS, HOME_Q, strict=True):
        client.resetJointState(robot, j, float(q))
    for j in FINGER_JOINTS:
        client.resetJointState(robot, j, GRIPPER_MAX / 2)
        client.changeDynamics(robot, j, lateralFriction=1.5)
    return robot, table


class PandaKinematics:
    """Kinematic queries on a Panda body in a PyBullet client.

    Args:
        client: the PyBullet client holding the arm.
        robot_id: the arm's body.
        obstacles: the fixed bodies the arm must not hit, as (body id, name) pairs; asked at
            each collision check.
        touchable: a body the arm may touch (the object it holds), or None; asked at each check.
    """

    def __init__(
        self,
        client: Any,
        robot_id: int,
        obstacles: Callable[[], Sequence[tuple[int, str]]],
        touchable: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.c = client
        self.id = robot_id
        self._obstacles = obstacles
        self._touchable = touchable
        lo, hi = [], []
        for j in ARM_JOINTS:
            info = self.c.getJointInfo(self.id, j)
            lo.append(info[8])
            hi.append(info[9])
        self.lo, self.hi = np.array(lo), np.array(hi)

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper arm joint limits (rad), copies."""
        return self.lo.copy(), self.hi.copy()

    def ee_pose(self) -> tuple[np.ndarray, float]:
        """Tool point and yaw at the arm's present joint positions."""
        st = self.c.getLinkState(self.id, TOOL_LINK, computeForwardKinematics=True)
        yaw = self.c.getEulerFromQuaternion(st[5])[2]
        return np.array(st[4]), float(yaw)

    def _save(self) -> list[tuple[float, float]]:
        return [(s[0], s[1]) for s in self.c.getJointStates(self.id, ARM_JOINTS)]

    def _restore(self, saved: list[tuple[float, float]]) -> None:
        for j, (q, v) in zip(ARM_JOINTS, saved, strict=True):
            self.c.resetJointState(self.id, j, q, v)

    def pose(self, q: Sequence[float]) -> None:
        """Put the arm at ``q`` (left there: the caller restores it when it must)."""
        for j, v in zip(ARM_JOINTS, q, strict=True):
            self.c.resetJointState(self.id, j, float(v))

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        """Tool point at joint positions ``q``."""
        saved = self._save()
        try:
            self.pose(q)
            return np.array(self.c.getLinkState(self.id, TOOL_LINK, computeForwardKinematics=True)[4])
        finally:
            self._restore(saved)

    def inverse_kinematics(self, position: Sequence[float], yaw: float, seed: np.ndarray | None = None) -> np.ndarray:
        """Joint positions that put the tool point at ``position``, pointing down, turned by ``yaw``.

        Tried from ``seed`` (when given), then from the home pose.

        Raises:
            UnreachableError: no solution within 1 cm and 0.1 rad.
        """
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
            f"(position error {err * 1000:.0f} mm, orientation error {math.degrees(ang):.0f} deg)"
        )

    def _ik_from(self, target: list[float], orn: Sequence[float], start: np.ndarray) -> tuple[np.ndarray, float, float]:
        saved = self._save()
        try:
            self.pose(start)
            q = start
            for _ in range(4):
                sol = self.c.calculateInverseKinematics(
                    self.id,
                    TOOL_LINK,
                    target,
                    orn,
                    lowerLimits=list(self.lo),
                    upperLimits=list(self.hi),
                    jointRanges=list(self.hi - self.lo),
                    restPoses=list(HOME_Q),
                    maxNumIterations=100,
                    residualThreshold=1e-5,
                )
                q = np.clip(np.array(sol[:7]), self.lo, self.hi)
                self.pose(q)
                st = self.c.getLinkState(self.id, TOOL_LINK, computeForwardKinematics=True)
                err = np.linalg.norm(np.array(st[4]) - target)
                if err < 2e-3:
                    break
            ang = 2 * math.acos(min(1.0, abs(float(np.dot(st[5], orn)))))
            return q, float(err), float(ang)
        finally:
            self._restore(saved)

    def in_collision(self, q: np.ndarray) -> str | None:
        """What the arm at ``q`` would hit (one of the obstacles), or None. Fingers may touch."""
        saved = self._save()
        try:
            self.pose(q)
            self.c.performCollisionDetection()
            for body, name in self._obstacles():
                for pt in self.c.getClosestPoints(self.id, body, distance=0.0):
                    link = pt[3]
                    # Fingers may touch; movable parts (a drawer) are meant to be pushed and pulled.
                    if link in (9, 10, TOOL_LINK) or pt[8] > -0.002 or pt[4] != -1:
                        continue
                    if body == self._touchable():
                        continue
                    return f"link {link} would hit {name}"
            return None
        finally:
            self._restore(saved)


class KinematicModel:
    """Panda kinematics in a private headless PyBullet instance: IK, FK, limits, table collisions.

    Nothing is simulated: the model is only posed (``resetJointState``) to answer queries,
    under a lock so any thread may ask. It is the hardware's stand-in for a kinematics
    library; the numbers are those of the simulated robot, so skills plan the same.

    Raises:
        ImportError: pybullet is not installed.
    """

    def __init__(self) -> None:
        self._client = connect()
        self._robot, table = load_arm(self._client)
        self._kin = PandaKinematics(self._client, self._robot, lambda: [(table, "the table")])
        self._lock = threading.Lock()

    def ee_pose(self, q: np.ndarray) -> tuple[np.ndarray, float]:
        """Tool point and yaw at ``q``."""
        with self._lock:
            self._kin.pose(np.asarray(q, dtype=float))
            return self._kin.ee_pose()

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        with self._lock:
            return self._kin.forward_kinematics(np.asarray(q, dtype=float))

    def inverse_kinematics(self, position: Sequence[float], yaw: float, seed: np.ndarray | None) -> np.ndarray:
        with self._lock:
            return self._kin.inverse_kinematics(position, yaw, seed=seed)

    def in_collision(self, q: np.ndarray) -> str | None:
        with self._lock:
            return self._kin.in_collision(np.asarray(q, dtype=float))

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        return self._kin.joint_limits()

    def close(self) -> None:
        with self._lock:
            try:
                self._client.disconnect()
            except Exception:  # noqa: BLE001, S110 - already gone is fine
                pass


__all__ = [
    "ARM_JOINTS",
    "FINGER_JOINTS",
    "GRIPPER_MAX",
    "HOME_Q",
    "KinematicModel",
    "PandaKinematics",
    "TOOL_LINK",
    "YAW_OFFSET",
    "connect",
    "load_arm",
    "quiet_stdout",
]
