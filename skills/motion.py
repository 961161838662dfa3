"""Motion under every skill: safety-checked targets, IK waypoints, interpolated joint
trajectories streamed one control tick at a time, checking the cancel token at every tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from robot_agent.errors import SafetyError, UnreachableError
from skills.robot import CancelToken, Robot
from skills.safety import SafetyChecker, StaleStateError

#: Cartesian segments are split into IK waypoints at most this far apart (m)
WAYPOINT_SPACING = 0.03
#: the hand turns at most this much between neighbouring waypoints (rad)
YAW_SPACING = 0.15
#: largest joint change (rad) allowed between neighbouring Cartesian waypoints
MAX_WAYPOINT_JUMP = 0.6
#: wrist angle minus hand yaw at the home pose (rad), for choosing a symmetric grasp yaw
WRIST_HOME = 0.785
#: joint-space moves are collision-checked at configurations at most this far apart (rad)
JOINT_CHECK_SPACING = 0.1
#: joint error (rad) at which a move counts as arrived
ARRIVE_TOL = 0.01


class Interrupted(Exception):
    """The cancel token was set; the arm has been told to hold."""


class Collision(SafetyError):
    """A planned configuration would hit the table or a fixture."""


def _angle_diff(a: float, b: float) -> float:
    """a - b wrapped to [-pi, pi)."""
    return (a - b + math.pi) % (2 * math.pi) - math.pi


def wrap_grip_yaw(yaw: float) -> float:
    """A parallel gripper is symmetric: keep the yaw within [-pi/2, pi/2]."""
    y = (yaw + math.pi / 2) % math.pi - math.pi / 2
    return y


@dataclass
class Motion:
    """Executes Cartesian and joint moves for one skill run and records what happened.

    Attributes:
        robot: the arm.
        safety: the limit checker.
        cancel: checked at every tick.
        path: tool-point positions sampled during the run (for the operator's checks).
        ticks: control ticks used.
        max_speed_fraction: the highest commanded speed fraction.
    """

    robot: Robot
    safety: SafetyChecker
    cancel: CancelToken
    path: list[list[float]] = field(default_factory=list)
    ticks: int = 0
    max_speed_fraction: float = 0.0

    def check_cancel(self) -> None:
        """Every tick: hold and raise when cancelled, or when joint states went stale (the watchdog).

        Raises:
            Interrupted: the cancel token was set.
            StaleStateError: the newest joint state is older than ``safety.joint_state_timeout``.
        """
        if self.cancel.cancelled:
            self.robot.hold()
            raise Interrupted(self.cancel.reason or "cancelled")
        age = self.robot.joint_state_age()
        if age > 0.0 or age != age:  # cheap path for robots that read their state directly
            try:
                self.safety.check_fresh(age)
            except SafetyError:
                self.robot.hold()
                raise

    def plan_cartesian(self, waypoints: Sequence[Sequence[float]], yaw: float) -> list[list[np.ndarray]]:
        """IK for a polyline of tool positions, every target and configuration checked first.

        Returns one list of joint waypoints per segment (from the current pose to
        ``waypoints[0]``, then between neighbours), ready for :meth:`follow`.

        Raises:
            UnreachableError: a target outside the workspace or without IK solution.
            Collision: a configuration would hit the table or a fixture.
        """
        start = self.robot.ee_pose()[0]
        pts = [np.asarray(start)] + [self.safety.check_target(w, "target") for w in waypoints]
        if self.robot.holding() is None:
            # An empty parallel gripper is symmetric: yaw and yaw + pi are the same grasp. Prefer the one
            # that keeps the wrist joint mid-range, fall back to the other.
            goal = pts[-1]
            base_angle = math.atan2(goal[1], goal[0])
            now = self.robot.ee_pose()[1]

            def cost(y: float) -> float:
                wrist = WRIST_HOME - (y - base_angle)  # estimated wrist joint at the goal
                return abs(_angle_diff(y, now)) + (10.0 if abs(wrist) > 2.6 else 0.0)

            w = wrap_grip_yaw(yaw)
            options = sorted((w, w + math.pi, w - math.pi), key=cost)[:2]
            try:
                return self._plan(pts, options[0])
            except UnreachableError:
                return self._plan(pts, options[1])
        return self._plan(pts, yaw)

    def _plan(self, pts: list[np.ndarray], yaw: float) -> list[list[np.ndarray]]:
        lo, hi = self.robot.joint_limits()
        seed = self.robot.joint_positions()
        segments: list[list[np.ndarray]] = []
        yaw0 = self.robot.ee_pose()[1]
        turn = _angle_diff(yaw, yaw0)
        for i, (a, b) in enumerate(zip(pts[:-1], pts[1:])):
            n = max(1, int(math.ceil(np.linalg.norm(b - a) / WAYPOINT_SPACING)))
            if i == 0:  # turn the hand gradually over the first segment
                n = max(n, int(math.ceil(abs(turn) / YAW_SPACING)))
            qs: list[np.ndarray] = []
            segments.append(qs)
            for k in range(1, n + 1):
                p = a + (b - a) * k / n
                y = yaw0 + turn * k / n if i == 0 else yaw
                q = self.robot.inverse_kinematics(p, y, seed=seed)
                if float(np.max(np.abs(q - seed))) > MAX_WAYPOINT_JUMP:
                    raise UnreachableError(f"no continuous path to {np.round(p, 3).tolist()} (the wrist would flip)")
                self.safety.check_joints(q, lo, hi)
                hit = self.robot.in_collision(q)
                if hit:
                    raise Collision(f"motion to {np.round(p, 3).tolist()} refused: {hit}")
                qs.append(q)
                seed = q
        return segments

    def follow(self, qs: Sequence[np.ndarray], speed: float) -> None:
        """Stream joint waypoints at ``speed`` (fraction of the max joint speed).

        Raises:
            Interrupted: the cancel token was set (the arm holds where it is).
        """
        step = self.safety.max_joint_step(speed, self.robot.control_dt)
        self.max_speed_fraction = max(self.max_speed_fraction, float(speed))
        current = self.robot.joint_positions()
        cmd = current.copy()
        for goal in qs:
            while True:
                self.check_cancel()
                delta = goal - cmd
                dist = float(np.max(np.abs(delta)))
                if dist <= 1e-9:
                    break
                cmd = cmd + delta * min(1.0, step / dist)
                self.robot.step(cmd)
                self._tick()
        # Settle: let the controller catch up with the last target.
        for _ in range(60):
            self.check_cancel()
            if float(np.max(np.abs(self.robot.joint_positions() - cmd))) < ARRIVE_TOL:
                break
            self.robot.step(cmd)
            self._tick()

    def move_to(self, position: Sequence[float], yaw: float, speed: float) -> None:
        """Straight-line tool move to ``position`` pointing down at ``yaw``."""
        self.follow(self.plan_cartesian([position], yaw)[0], speed)

    def follow_segments(self, segments: Sequence[Sequence[np.ndarray]], speeds: Sequence[float]) -> None:
        """Follow planned segments, each at its own speed fraction."""
        for seg, speed in zip(segments, speeds):
            self.follow(seg, speed)

    def move_joints(self, q: np.ndarray, speed: float) -> None:
        """Joint-space move to ``q``, checked before it starts: limits, then collisions along the way.

        Raises:
            SafetyError: ``q`` is outside the joint limits.
            Collision: a configuration on the straight joint-space path would hit the table or a fixture.
        """
        lo, hi = self.robot.joint_limits()
        goal = np.asarray(q, dtype=float)
        self.safety.check_joints(goal, lo, hi)
        start = self.robot.joint_positions()
        n = max(1, int(math.ceil(float(np.max(np.abs(goal - start))) / JOINT_CHECK_SPACING)))
        for k in range(1, n + 1):
            hit = self.robot.in_collision(start + (goal - start) * k / n)
            if hit:
                raise Collision(f"joint move refused: {hit}")
        self.follow([goal], speed)

    def gripper(self, width: float, ticks: int = 25) -> float:
        self.check_cancel()
        w = self.robot.set_gripper(width, ticks=ticks, cancel=self.cancel)
        self.ticks += ticks
        self.check_cancel()
        return w

    def _tick(self) -> None:
        self.ticks += 1
        if self.ticks % 5 == 0:
            self.path.append([round(float(v), 4) for v in self.robot.ee_pose()[0]])


__all__ = ["Motion", "Interrupted", "Collision", "StaleStateError", "UnreachableError", "wrap_grip_yaw"]
