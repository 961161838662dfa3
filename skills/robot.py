"""The Robot interface: what skills may ask of an arm, simulated or real.

Two implementations share this contract: :class:`sim.robot.PyBulletRobot` (direct,
fast, for tests and benchmarks) and the ROS robot in ``robot_agent.ros`` (joint
states in, joint trajectories out). Skills and the agent see only this interface.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from skills.types import ObjectInfo, Pose


class CancelToken:
    """A thread-safe flag that every skill checks at every control tick.

    ``cancel(reason)`` is cheap and callable from any thread (an operator's "stop",
    a correction arriving mid-skill). ``cancelled_at`` records when, so reaction
    latency can be measured.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self.reason = ""
        self.cancelled_at: float | None = None

    def cancel(self, reason: str = "cancelled") -> None:
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
                self.cancelled_at = time.monotonic()
                self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def reset(self) -> None:
        with self._lock:
            self._event.clear()
            self.reason = ""
            self.cancelled_at = None


class Robot(ABC):
    """An arm with a parallel gripper and object perception.

    Control model: the caller streams joint-position targets, one per control tick
    (:meth:`step`); the implementation enforces joint position and speed limits on
    every target whatever the caller asks. :meth:`hold` stops the arm where it is.
    Use as a context manager (``with robot:``) to connect and disconnect.
    """

    #: seconds per control tick
    control_dt: float = 1.0 / 60.0
    #: joint names, arm only (no fingers)
    joint_names: tuple[str, ...] = ()
    #: joint positions of the home (ready) pose
    home_q: np.ndarray = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])

    # -- lifecycle -----------------------------------------------------------
    def connect(self) -> None:  # noqa: B027 - optional hook
        """Open connections / start the simulation."""

    def disconnect(self) -> None:  # noqa: B027 - optional hook
        """Close connections."""

    def __enter__(self) -> Robot:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.disconnect()

    # -- state ---------------------------------------------------------------
    @abstractmethod
    def joint_positions(self) -> np.ndarray:
        """Current arm joint positions (rad)."""

    @abstractmethod
    def ee_pose(self) -> tuple[np.ndarray, float]:
        """Gripper tool point position (base frame, m) and yaw (rad) about the vertical."""

    @abstractmethod
    def gripper_width(self) -> float:
        """Current finger opening (m)."""

    @abstractmethod
    def holding(self) -> str | None:
        """Name of the object held between the fingers, or None."""

    @abstractmethod
    def perceive(self) -> dict[str, ObjectInfo]:
        """Objects in the scene by name (what perception reports)."""

    def joint_state_age(self) -> float:
        """Seconds since the last joint-state reading arrived (the watchdog's input).

        Motion refuses to stream another target when this exceeds
        ``safety.joint_state_timeout``: it holds the arm and the skill ends with a
        reason. A simulator reads its state directly, so the default is 0; a robot
        fed by a joint-state topic returns the age of the newest message (``inf``
        before the first one).
        """
        return 0.0

    # -- kinematics ----------------------------------------------------------
    @abstractmethod
    def inverse_kinematics(self, position: Sequence[float], yaw: float, seed: np.ndarray | None = None) -> np.ndarray:
        """Joint positions that put the tool point at ``position`` pointing down with ``yaw``.

        Raises:
            UnreachableError: no solution within tolerance.
        """

    @abstractmethod
    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        """Tool point position (base frame) for joint positions ``q``."""

    @abstractmethod
    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper joint position limits (rad)."""

    def in_collision(self, q: np.ndarray) -> str | None:
        """What the arm at ``q`` would hit, or None.

        The default only checks that the tool point stays above the table plane;
        implementations with a world model (the simulator, a planning scene) do better.
        """
        p = self.forward_kinematics(q)
        return "the tool point would go below the table" if p[2] < 0.0 else None

    # -- commands --------------------------------------------------------------
    @abstractmethod
    def step(self, q_target: np.ndarray) -> None:
        """Send one control tick's joint target and advance one tick."""

    @abstractmethod
    def hold(self) -> None:
        """Stop the arm where it is (target = current position) within this tick."""

    @abstractmethod
    def set_gripper(self, width: float, ticks: int = 30, cancel: CancelToken | None = None) -> float:
        """Move the fingers toward ``width`` (m) for up to ``ticks`` ticks; return the final width."""

    @abstractmethod
    def grasp(self, object_name: str, cancel: CancelToken | None = None) -> bool:
        """Close on ``object_name``; True if it is now held (both fingers in contact)."""

    @abstractmethod
    def release(self) -> None:
        """Open the fingers and let go of whatever is held."""

    def object_pose(self, name: str) -> Pose:
        """Current pose of one object (KeyError-derived UnknownObjectError if absent)."""
        from robot_agent.errors import UnknownObjectError

        objs = self.perceive()
        if name not in objs:
            raise UnknownObjectError(f"unknown object {name!r}; the scene has: {', '.join(sorted(objs)) or 'nothing'}")
        return objs[name].pose
