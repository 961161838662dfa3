"""A :class:`skills.robot.Robot` over standard ROS 2 interfaces: the same skills on a real arm or the sim node.

Interfaces, on names relative to the node's namespace (remap them to the arm's topics, as
``launch/hardware.launch.py`` does):

* ``sensor_msgs/JointState`` in (``joint_states``): arm joint positions, and the
  finger joints when the gripper driver publishes them (the gripper width is their sum).
* ``trajectory_msgs/JointTrajectory`` out (``joint_trajectory_controller/joint_trajectory``), the
  command topic of a ros2_control ``joint_trajectory_controller``. One
  single-point trajectory per control tick, ``time_from_start = robot.trajectory_lead``;
  each replaces the previous one, so the arm never holds a target more than one tick
  ahead of what the skill last asked. A halt is a point at the current position.
* ``std_msgs/Float64`` out (``gripper/command``): the finger opening in metres.
  Whether an object is held is judged from the measured width after closing (between
  ``robot.grasp_min_width`` and nearly open), as on a real parallel gripper.
* ``robot_agent_interfaces/Scene`` in (``scene/objects``): perception
  (:func:`robot_agent.ros.messages.parse_scene`).

Kinematics: the arm driver offers no IK, so IK, FK, joint limits and table-collision
checks come from a kinematic model: the Panda URDF in a headless PyBullet DIRECT
instance (:class:`KinematicModel`) that is never stepped, only posed. It knows the arm
and the table plane, not the objects on it.

Watchdog: every command first checks the age of the newest joint state; older than
``safety.joint_state_timeout`` and the arm is told to hold and :class:`RobotLinkError`
(a :class:`SafetyError`, so a running skill ends with a clear reason) is raised.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from robot_agent.config import SafetyConfig
from robot_agent.deps import require
from robot_agent.errors import ConfigError, MessageError, RobotLinkError, SafetyError
from robot_agent.ros import messages
from skills.kinematics import KinematicModel
from skills.robot import CancelToken, Robot
from skills.types import ObjectInfo

require("rclpy", "the ROS robot")

import rclpy  # noqa: E402
from builtin_interfaces.msg import Duration  # noqa: E402
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup  # noqa: E402
from rclpy.logging import get_logger  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import JointState  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from robot_agent.ros import qos  # noqa: E402
from robot_agent_interfaces.msg import Scene  # noqa: E402

#: topic names, relative to the node's namespace (remapped to the arm's topics in the launch files)
JOINT_STATES = "joint_states"
JOINT_TRAJECTORY = "joint_trajectory_controller/joint_trajectory"
GRIPPER_COMMAND = "gripper/command"
SCENE = "scene/objects"
CAMERA = "camera/image_raw"

PANDA_JOINTS = tuple(f"panda_joint{i}" for i in range(1, 8))
PANDA_FINGERS = ("panda_finger_joint1", "panda_finger_joint2")
HOME_Q = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
#: a width change below this per tick counts as "the fingers stopped" (m)
_STILL = 2e-4


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass
class RosRobotConfig:
    """Joint names and gripper/timing settings of the ROS robot (parameters ``robot.*``)."""

    joint_names: list[str] = field(default_factory=lambda: list(PANDA_JOINTS))  # arm joints, kinematic order
    finger_joint_names: list[str] = field(default_factory=lambda: list(PANDA_FINGERS))  # width = their sum
    control_hz: float = 60.0  # command ticks per second
    trajectory_lead: float = 0.05  # s: time_from_start of each streamed point
    connect_timeout: float = 10.0  # s: wait for the first joint state (and scene) on connect
    gripper_max_width: float = 0.08  # m: fully open
    grasp_min_width: float = 0.003  # m: narrower after closing means the fingers closed on nothing
    require_scene: bool = True  # connect() also waits for the first scene message

    def __post_init__(self) -> None:
        _require(
            len(self.joint_names) == 7
            and len(set(self.joint_names)) == 7
            and all(isinstance(n, str) and n for n in self.joint_names),
            f"robot.joint_names: expected 7 distinct joint names, got {self.joint_names!r}",
        )
        _require(
            all(isinstance(n, str) and n for n in self.finger_joint_names) and len(self.finger_joint_names) <= 2,
            f"robot.finger_joint_names: expected up to 2 joint names, got {self.finger_joint_names!r}",
        )
        _require(5.0 <= self.control_hz <= 1000.0, f"robot.control_hz must be in [5, 1000], got {self.control_hz}")
        _require(
            0.0 < self.trajectory_lead <= 1.0, f"robot.trajectory_lead must be in (0, 1] s, got {self.trajectory_lead}"
        )
        _require(
            0.0 < self.connect_timeout <= 600.0,
            f"robot.connect_timeout must be in (0, 600] s, got {self.connect_timeout}",
        )
        _require(0.01 <= self.gripper_max_width <= 0.3, "robot.gripper_max_width must be in [0.01, 0.3] m")
        _require(
            0.0 <= self.grasp_min_width < self.gripper_max_width / 2,
            "robot.grasp_min_width must be in [0, gripper_max_width / 2)",
        )

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> RosRobotConfig:
        """Build from flat ROS parameters (``robot.control_hz``, ...); others are ignored.

        Raises:
            ConfigError: an invalid value.
        """
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            key = param_name(f.name)
            if key in params:
                v = params[key]
                kwargs[f.name] = list(v) if isinstance(v, (list, tuple)) else v
        try:
            return cls(**kwargs)
        except TypeError as exc:
            raise ConfigError(f"bad robot parameter: {exc}") from exc

    def to_params(self) -> dict[str, Any]:
        """The flat ROS parameters with this config's values (the node declares these)."""
        return {param_name(f.name): getattr(self, f.name) for f in fields(self)}


def param_name(field_name: str) -> str:
    """ROS parameter name of a :class:`RosRobotConfig` field."""
    return f"robot.{field_name}"


def _duration(seconds: float) -> Duration:
    sec = int(math.floor(seconds))
    return Duration(sec=sec, nanosec=int(round((seconds - sec) * 1e9)))


class RosRobot(Robot):
    """The arm behind ROS topics. See the module docstring for the interfaces.

    Args:
        node: the node to create subscriptions and publishers on; it must be spun by an
            executor in another thread (the agent node is). With None, :meth:`connect` makes
            a private node and spins it itself (``rclpy.init()`` must have been called).
        config: topics and gripper/timing settings.
        safety: joint speed limit and watchdog timeout.
        model: the kinematic model (a new one by default; share one between robots in a process).
    """

    home_q = HOME_Q

    def __init__(
        self,
        node: Node | None = None,
        config: RosRobotConfig | None = None,
        safety: SafetyConfig | None = None,
        *,
        model: KinematicModel | None = None,
    ) -> None:
        self.cfg = config or RosRobotConfig()
        self.safety = safety or SafetyConfig()
        self.control_dt = 1.0 / self.cfg.control_hz
        self.joint_names = tuple(self.cfg.joint_names)
        # Built now, in the constructing thread: building it silences stdout for a moment
        # (pybullet prints on connect), which must not race with other threads' output.
        self._owns_model = model is None
        self._model: KinematicModel | None = model or KinematicModel()
        self._node = node
        self._own_node = node is None
        self.joint_states_topic, self.scene_topic = JOINT_STATES, SCENE
        self.joint_trajectory_topic, self.gripper_command_topic = JOINT_TRAJECTORY, GRIPPER_COMMAND
        self._executor: Any = None
        self._spinning = False
        self._spin_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._positions: dict[str, float] = {}
        self._states_seen = 0  # joint-state messages received: the driver's clock for the gripper waits
        self._q: np.ndarray | None = None
        self._state_at = -math.inf  # monotonic time of the newest complete arm state
        self._scene: dict[str, ObjectInfo] | None = None
        self._scene_at = -math.inf
        self.scene_error = ""
        self._cmd: np.ndarray | None = None  # last commanded arm target
        self._gripper_cmd = self.cfg.gripper_max_width
        self._held: str | None = None
        self._next_tick: float | None = None
        self.halted_reason = ""
        self.commands_sent = 0
        #: monotonic times of the newest arm commands published, holds included (how many reached the
        #: arm after a stop was asked for: the stop's latency in control ticks)
        self.command_times: collections.deque[float] = collections.deque(maxlen=256)
        #: monotonic times of the newest hold commands published (stop-latency figures)
        self.hold_times: collections.deque[float] = collections.deque(maxlen=32)
        if node is not None:
            self._create_entities(node)

    @property
    def logger(self) -> Any:
        """The logger of the node this robot is on (``ros_robot`` before it has one)."""
        return self._node.get_logger() if self._node is not None else get_logger("ros_robot")

    # -- lifecycle -------------------------------------------------------------------------------
    def _create_entities(self, node: Node) -> None:
        group = MutuallyExclusiveCallbackGroup()
        self._traj_pub = node.create_publisher(JointTrajectory, JOINT_TRAJECTORY, qos.COMMANDS)
        self._grip_pub = node.create_publisher(Float64, GRIPPER_COMMAND, qos.COMMANDS)
        js = node.create_subscription(
            JointState, JOINT_STATES, self._on_joint_state, qos.JOINT_STATES_IN, callback_group=group
        )
        sc = node.create_subscription(Scene, SCENE, self._on_scene, qos.SCENE_IN, callback_group=group)
        # the names after namespace and remapping, for messages and logs
        self.joint_states_topic, self.scene_topic = js.topic_name, sc.topic_name
        self.joint_trajectory_topic, self.gripper_command_topic = self._traj_pub.topic_name, self._grip_pub.topic_name

    def connect(self, timeout: float | None = None) -> None:
        """Wait for the first joint state (and scene, if required).

        Raises:
            RobotLinkError: nothing arrived within ``timeout`` (default ``robot.connect_timeout``).
        """
        if self._model is None:
            self._model, self._owns_model = KinematicModel(), True
        if self._own_node and self._node is None:
            from rclpy.executors import SingleThreadedExecutor

            if not rclpy.ok():
                raise RobotLinkError("rclpy is not initialized: call rclpy.init() before RosRobot.connect()")
            self._node = Node("ros_robot")
            self._create_entities(self._node)
            self._executor = SingleThreadedExecutor()
            self._executor.add_node(self._node)
            self._spinning = True
            self._spin_thread = threading.Thread(target=self._spin, name="ros-robot-spin", daemon=True)
            self._spin_thread.start()
        limit = self.cfg.connect_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            have_state = self.state_age() < self.safety.joint_state_timeout
            have_scene = self._scene is not None or not self.cfg.require_scene
            if have_state and have_scene:
                with self._lock:
                    self._cmd = None
                    self.halted_reason = ""
                self.logger.info(
                    f"ROS robot connected: joint states on {self.joint_states_topic}, "
                    f"{len(self._scene or {})} object(s) on {self.scene_topic}"
                )
                return
            time.sleep(0.02)
        missing = []
        if not self.state_age() < self.safety.joint_state_timeout:
            missing.append(f"joint states on {self.joint_states_topic} (for joints {', '.join(self.joint_names)})")
        if self._scene is None and self.cfg.require_scene:
            missing.append(
                f"a scene on {self.scene_topic}"
                + (f" (last one refused: {self.scene_error})" if self.scene_error else "")
            )
        raise RobotLinkError(
            f"no {' and no '.join(missing)} within {limit:g} s: is the arm driver (or `robot-agent up sim`) running "
            f"with ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')}?"
        )

    def _spin(self) -> None:
        while self._spinning and rclpy.ok():
            self._executor.spin_once(timeout_sec=0.05)

    def disconnect(self) -> None:
        """Hold the arm, stop a private spin thread and node, close the kinematic model if it is ours."""
        if self._q is not None:
            self.hold()
        if self._own_node and self._node is not None:
            self._spinning = False
            if self._spin_thread is not None:
                self._spin_thread.join(timeout=5.0)
            if self._executor is not None:
                self._executor.shutdown(timeout_sec=2.0)
            self._node.destroy_node()
            self._node = None
            self._executor = self._spin_thread = None
        if self._model is not None and self._owns_model:
            self._model.close()
            self._model = None

    # -- callbacks ---------------------------------------------------------------------------------
    def _on_joint_state(self, msg: JointState) -> None:
        if len(msg.name) != len(msg.position):
            self.logger.warning(
                f"joint state with {len(msg.name)} names and {len(msg.position)} positions ignored",
                throttle_duration_sec=5.0,
            )
            return
        now = time.monotonic()
        with self._lock:
            for name, pos in zip(msg.name, msg.position, strict=True):
                if math.isfinite(pos):
                    self._positions[name] = float(pos)
            names = set(msg.name)
            self._states_seen += 1
            if all(n in names for n in self.joint_names):
                self._q = np.array([self._positions[n] for n in self.joint_names])
                self._state_at = now

    def _on_scene(self, msg: Scene) -> None:
        try:
            scene = messages.parse_scene(msg)
        except MessageError as exc:
            if str(exc) != self.scene_error:
                self.logger.warning(f"scene message refused: {exc}")
            self.scene_error = str(exc)
            return
        with self._lock:
            self._scene = scene
            self._scene_at = time.monotonic()
            self.scene_error = ""

    # -- watchdog and ticks ----------------------------------------------------------------------
    def state_age(self) -> float:
        """Seconds since the newest complete arm joint state (inf before the first)."""
        return time.monotonic() - self._state_at

    def joint_state_age(self) -> float:
        """The core watchdog's input (:meth:`skills.robot.Robot.joint_state_age`): the state's age."""
        return self.state_age()

    def scene_age(self) -> float:
        """Seconds since the newest valid scene (inf before the first)."""
        return time.monotonic() - self._scene_at

    def _check_link(self) -> None:
        age = self.state_age()
        limit = self.safety.joint_state_timeout
        if age <= limit:
            if self.halted_reason:
                self.logger.info(f"joint states are back on {self.joint_states_topic}")
                self.halted_reason = ""
            return
        if math.isinf(age):
            reason = f"joint-state watchdog: no joint state received on {self.joint_states_topic}; motion halted"
        else:
            reason = (
                f"joint-state watchdog: the newest joint state on {self.joint_states_topic} is {age:.2f} s "
                f"old (safety.joint_state_timeout = {limit:g} s); motion halted"
            )
        if not self.halted_reason:
            self.logger.error(reason)
        self.halted_reason = reason
        self.hold()
        raise RobotLinkError(reason)

    def _driver_ticks(self, n: int, cancel: CancelToken | None = None, patience: int = 4) -> Iterator[int]:
        """Control ticks in which the driver reported a new joint state, counted 0..n-1.

        The gripper's "has it moved, has it stopped" is judged on what the driver reports: when
        the machine is busy and the driver's states come late, a tick with nothing new is waited
        out rather than counted as "the fingers did not move" (a busy sim made a grasp look missed).
        At most ``patience`` x ``n`` ticks are waited in all; the watchdog still holds the arm when
        the states stop, and a cancel ends the wait at the next tick (the caller then sees it).
        """
        with self._lock:
            seen = self._states_seen
        i = 0
        for _ in range(n * patience):
            if i >= n:
                return
            self._wait_tick()
            self._check_link()
            with self._lock:
                now = self._states_seen
            if now == seen and not (cancel is not None and cancel.cancelled):
                continue
            seen = now
            yield i
            i += 1

    def _wait_tick(self) -> None:
        now = time.monotonic()
        if self._next_tick is None or now - self._next_tick > 2 * self.control_dt:
            self._next_tick = now  # fell behind (or first tick): resynchronise, never sprint to catch up
        self._next_tick += self.control_dt
        delay = self._next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _publish_arm(self, q: np.ndarray) -> None:
        msg = JointTrajectory()
        msg.joint_names = list(self.joint_names)  # header.stamp zero: start now (controller time)
        msg.points = [
            JointTrajectoryPoint(positions=[float(v) for v in q], time_from_start=_duration(self.cfg.trajectory_lead))
        ]
        self._traj_pub.publish(msg)
        self.commands_sent += 1
        self.command_times.append(time.monotonic())

    def _publish_gripper(self, width: float) -> None:
        self._gripper_cmd = float(width)
        self._grip_pub.publish(Float64(data=float(width)))

    # -- state -------------------------------------------------------------------------------------
    def joint_positions(self) -> np.ndarray:
        with self._lock:
            if self._q is None:
                raise RobotLinkError(f"no joint state received on {self.joint_states_topic} yet")
            return self._q.copy()

    def ee_pose(self) -> tuple[np.ndarray, float]:
        return self._kin().ee_pose(self.joint_positions())

    def gripper_width(self) -> float:
        """Sum of the finger joint positions; the last command if the driver does not publish them."""
        with self._lock:
            fingers = [self._positions.get(n) for n in self.cfg.finger_joint_names]
        if fingers and all(f is not None for f in fingers):
            total = float(sum(fingers))  # type: ignore[arg-type]
            return total * (2.0 if len(fingers) == 1 else 1.0)
        return self._gripper_cmd

    def holding(self) -> str | None:
        if self._held is None:
            return None
        return self._held if self.gripper_width() > self.cfg.grasp_min_width else None

    def perceive(self) -> dict[str, ObjectInfo]:
        """The newest scene from the perception topic (empty if none arrived and none is required)."""
        with self._lock:
            return dict(self._scene or {})

    def last_command(self) -> np.ndarray | None:
        """The last arm target sent (None before the first)."""
        with self._lock:
            return None if self._cmd is None else self._cmd.copy()

    # -- kinematics ----------------------------------------------------------------------------------
    def _kin(self) -> KinematicModel:
        if self._model is None:
            self._model, self._owns_model = KinematicModel(), True
        return self._model

    def inverse_kinematics(self, position: Sequence[float], yaw: float, seed: np.ndarray | None = None) -> np.ndarray:
        return self._kin().inverse_kinematics(position, yaw, seed)

    def forward_kinematics(self, q: np.ndarray) -> np.ndarray:
        return self._kin().forward_kinematics(q)

    def joint_limits(self) -> tuple[np.ndarray, np.ndarray]:
        return self._kin().joint_limits()

    def in_collision(self, q: np.ndarray) -> str | None:
        return self._kin().in_collision(q)

    # -- commands ---------------------------------------------------------------------------------------
    def step(self, q_target: np.ndarray) -> None:
        """Stream one joint target (clamped to the limits and the speed limit) and wait one tick.

        Raises:
            RobotLinkError: joint states are stale (the arm was told to hold).
            SafetyError: a non-finite or wrongly sized target.
        """
        self._check_link()
        q = np.asarray(q_target, dtype=float)
        if q.shape != (len(self.joint_names),) or not np.all(np.isfinite(q)):
            raise SafetyError(f"joint target {q_target!r} is not {len(self.joint_names)} finite numbers")
        lo, hi = self.joint_limits()
        q = np.clip(q, lo, hi)
        with self._lock:
            base = self._cmd if self._cmd is not None else self._q
            max_step = self.safety.max_joint_speed * self.control_dt
            if base is not None:
                q = base + np.clip(q - base, -max_step, max_step)
            self._cmd = q
            self._publish_arm(q)
        self._wait_tick()

    def hold(self) -> None:
        """Command the arm to stay where it is now; never raises, callable from any thread.

        With fresh joint states the hold point is the measured position; with stale ones it
        is the last commanded target (where the controller is already converging).
        """
        with self._lock:
            fresh = time.monotonic() - self._state_at <= self.safety.joint_state_timeout
            q = self._q if (fresh and self._q is not None) else self._cmd
            if q is None:
                return
            self._cmd = q.copy()
            try:
                self._publish_arm(q)
                self.hold_times.append(time.monotonic())
            except Exception as exc:  # noqa: BLE001 - a torn-down node cannot publish; nothing else to do
                self.logger.warning(f"could not publish the hold command: {exc}")

    def set_gripper(self, width: float, ticks: int = 30, cancel: CancelToken | None = None) -> float:
        """Command the finger opening and wait until it is reached, the fingers stop, or ``ticks`` pass."""
        self._check_link()
        w = float(np.clip(width, 0.0, self.cfg.gripper_max_width))
        self._publish_gripper(w)
        start = prev = self.gripper_width()
        moved, still = False, 0
        for i in self._driver_ticks(ticks, cancel):
            if cancel is not None and cancel.cancelled:
                break
            cur = self.gripper_width()
            if abs(cur - w) < 0.002:
                break
            moved = moved or abs(cur - start) > 0.002
            still = still + 1 if abs(cur - prev) < _STILL else 0
            if still >= 5 and (moved or i >= 20):
                break  # blocked (by an object) short of the target
            prev = cur
        return self.gripper_width()

    def grasp(self, object_name: str, cancel: CancelToken | None = None) -> bool:
        """Close the fingers; the object counts as held if they stop between closed and open.

        ``object_name`` is recorded as what is held: the skill that calls this has already
        aimed the fingers at it. A miss reopens the fingers (as the direct robot does).
        """
        self._check_link()
        start = prev = self.gripper_width()
        self._publish_gripper(0.0)
        moved, still = False, 0
        for i in self._driver_ticks(60, cancel):
            if cancel is not None and cancel.cancelled:
                self.hold()
                return False
            cur = self.gripper_width()
            moved = moved or abs(cur - start) > 0.002
            still = still + 1 if abs(cur - prev) < _STILL else 0
            # Judge only once the fingers have moved and stopped (the command takes a few ticks to act).
            if still >= 6 and (moved or i >= 25):
                break
            prev = cur
        width = self.gripper_width()
        if self.cfg.grasp_min_width < width < self.cfg.gripper_max_width - 0.005:
            self._held = object_name
            return True
        self.logger.info(f"grasp of {object_name} missed: the fingers stopped at {width:.4f} m")
        self._publish_gripper(self.cfg.gripper_max_width)
        return False

    def release(self) -> None:
        """Open the fingers and forget what was held; never raises (opening is always allowed)."""
        self._held = None
        try:
            self._publish_gripper(self.cfg.gripper_max_width)
        except Exception as exc:  # noqa: BLE001
            self.logger.warning(f"could not publish the gripper command: {exc}")
            return
        for _ in range(15):
            self._wait_tick()
            if self.state_age() > self.safety.joint_state_timeout:
                break
            if abs(self.gripper_width() - self.cfg.gripper_max_width) < 0.002:
                break


__all__ = ["KinematicModel", "RosRobot", "RosRobotConfig", "PANDA_JOINTS", "PANDA_FINGERS", "param_name"]
