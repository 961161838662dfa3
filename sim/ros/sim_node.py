"""The sim node: the PyBullet world behind exactly the interfaces a real arm offers.

Published and subscribed, on names relative to the node's namespace (``robot1/joint_states``
for a sim started in namespace ``robot1``):

* ``joint_states`` (``sensor_msgs/JointState``) out, every control tick (``sim.control_hz``): the 7 arm joints
  and the 2 finger joints, as ros2_control's joint_state_broadcaster would publish them.
* ``joint_trajectory_controller/joint_trajectory`` (``trajectory_msgs/JointTrajectory``) in: followed as a
  joint trajectory controller does.
  A new message replaces the current trajectory; the first point is reached from the
  measured position, points in between are interpolated linearly in time. Messages with
  missing/unknown joints, bad sizes, non-increasing times or no points are refused (logged).
* ``gripper/command`` (``std_msgs/Float64``) in: finger opening (m). Closing near a graspable object (or a drawer
  handle) runs the sim's grasp assist (``grasp_on_close``); opening releases.
* ``camera/image_raw`` (``sensor_msgs/Image``) out (rgb8, ``publish.camera_hz``, best effort) from the fixed camera.
* ``scene/objects`` (``robot_agent_interfaces/Scene``) out (``publish.scene_hz``, latched): the
  scene as perception would report it (names, categories, colours, shapes, poses, sizes, named
  parts, states) in ``scene_frame_id``.
* ``~/reset`` (``std_srvs/Trigger``): rebuild the world from the ``scene`` parameter.

Physics runs in its own thread at wall-clock pace (each control tick is ``physics_hz /
control_hz`` physics steps and then waits for its slot), so the ROS robot sees a real-time arm.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot_agent.config import SafetyConfig, SimConfig
from robot_agent.deps import require
from robot_agent.errors import ConfigError, SceneError
from robot_agent.ros import messages
from sim.catalog import category
from sim.scene import SceneSpec, builtin_scene, load_scene
from sim.world import FINGER_JOINTS, GRIPPER_MAX, PyBulletRobot, SimWorld

require("rclpy", "the sim node")

import rclpy  # noqa: E402
from rcl_interfaces.msg import SetParametersResult  # noqa: E402
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor  # noqa: E402
from rclpy.logging import get_logger  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image, JointState  # noqa: E402
from std_msgs.msg import Float64  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

from robot_agent.ros import qos  # noqa: E402
from robot_agent.ros.params import declare_all  # noqa: E402
from robot_agent.ros.ros_robot import CAMERA, GRIPPER_COMMAND, JOINT_STATES, JOINT_TRAJECTORY, SCENE  # noqa: E402
from robot_agent_interfaces.msg import Scene  # noqa: E402

NODE_NAME = "sim"
ARM_JOINT_NAMES = PyBulletRobot.joint_names
FINGER_JOINT_NAMES = ("panda_finger_joint1", "panda_finger_joint2")
#: tool point within this distance (m) of an object's box counts as "at" it for the grasp assist
GRASP_REACH = 0.02

#: parameter -> (default, description); dotted ``sim.*``/``safety.*`` names map onto the config dataclasses
PARAMETERS: dict[str, tuple[Any, str]] = {
    "scene": ("tabletop", "built-in scene name (sim/scenes/NAME.yaml) or a scene YAML path; applied on ~/reset"),
    "sim.physics_hz": (240.0, "physics steps per second"),
    "sim.control_hz": (60.0, "control ticks per second; joint states are published every tick"),
    "sim.camera_width": (320, "camera image width (px)"),
    "sim.camera_height": (240, "camera image height (px)"),
    "sim.gui": (False, "open the PyBullet GUI"),
    "safety.max_joint_speed": (1.5, "the simulated controller's joint speed limit (rad/s)"),
    "publish.scene_hz": (10.0, "scene (perception) messages per second"),
    "publish.camera_hz": (2.0, "camera images per second; 0 turns the camera off"),
    "grasp_on_close": (True, "closing the fingers at an object runs the grasp assist"),
    "camera.frame_id": ("camera", "frame_id of the camera images"),
    "scene_frame_id": ("panda_link0", "frame_id of the scene messages: the robot base frame"),
}
#: parameters that may change while the node runs (the rest are read-only: fixed at start-up)
DYNAMIC = frozenset({"scene", "publish.scene_hz", "publish.camera_hz", "grasp_on_close"})
#: closed ranges ROS enforces (the rates' own checks below also refuse a zero scene rate)
RANGES: dict[str, tuple[float, float]] = {
    "sim.physics_hz": (1.0, 10000.0),
    "sim.control_hz": (1.0, 1000.0),
    "sim.camera_width": (16, 1920),
    "sim.camera_height": (16, 1080),
    "safety.max_joint_speed": (0.0, 3.0),
    "publish.scene_hz": (0.0, 100.0),
    "publish.camera_hz": (0.0, 30.0),
}


def resolve_scene(value: str) -> SceneSpec:
    """A scene from a built-in name or a YAML path.

    Raises:
        SceneError: no such scene, or an invalid one (the message names the file and field).
    """
    if not isinstance(value, str) or not value.strip():
        raise SceneError("scene: expected a built-in scene name or a path to a scene YAML file")
    value = value.strip()
    if "/" in value or value.endswith((".yaml", ".yml")):
        return load_scene(Path(value).expanduser())
    return builtin_scene(value)


def _check_rate(name: str, value: Any, low: float, high: float, allow_zero: bool = False) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return f"{name}: expected a number, got {value!r}"
    v = float(value)
    if (allow_zero and v == 0.0) or low < v <= high:
        return ""
    return f"{name}={v:g} is outside ({low:g}, {high:g}]" + (" (0 turns it off)" if allow_zero else "")


class PacedWorld(SimWorld):
    """A :class:`SimWorld` whose control ticks call ``on_tick`` (publish, then wait for the tick's slot)."""

    def __init__(self, scene: SceneSpec, sim: SimConfig, safety: SafetyConfig, on_tick: Callable[[], None]) -> None:
        self._on_tick = on_tick
        super().__init__(scene, sim, safety)

    def step_physics(self, n: int) -> None:
        super().step_physics(n)
        self._on_tick()


@dataclass
class _Trajectory:
    """A trajectory being followed: start time, start position, absolute point times and positions."""

    t0: float
    q0: np.ndarray
    times: np.ndarray
    points: np.ndarray

    def sample(self, now: float) -> np.ndarray:
        t = now - self.t0
        if t <= 0.0:
            return self.q0
        times = np.concatenate([[0.0], self.times])
        pts = np.vstack([self.q0, self.points])
        if t >= times[-1]:
            return pts[-1]
        k = int(np.searchsorted(times, t, side="right"))
        a = (t - times[k - 1]) / max(times[k] - times[k - 1], 1e-9)
        return pts[k - 1] + a * (pts[k] - pts[k - 1])


def trajectory_from_msg(msg: JointTrajectory, joint_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Point times (s from start) and positions in ``joint_names`` order.

    Raises:
        ValueError: what a joint trajectory controller would refuse, said plainly.
    """
    names = list(msg.joint_names)
    if not names:
        raise ValueError("trajectory with no joint names")
    unknown = sorted(set(names) - set(joint_names))
    if unknown:
        raise ValueError(
            f"trajectory names unknown joint(s) {', '.join(unknown)}; this arm has {', '.join(joint_names)}"
        )
    missing = [n for n in joint_names if n not in names]
    if missing or len(set(names)) != len(names):
        raise ValueError(f"trajectory must name every arm joint once; missing: {', '.join(missing) or 'none'}")
    if not msg.points:
        raise ValueError("empty trajectory (no points)")
    order = [names.index(n) for n in joint_names]
    times: list[float] = []
    points: list[np.ndarray] = []
    for i, p in enumerate(msg.points):
        if len(p.positions) != len(names):
            raise ValueError(f"point {i} has {len(p.positions)} positions for {len(names)} joints")
        t = p.time_from_start.sec + p.time_from_start.nanosec * 1e-9
        if times and t <= times[-1]:
            raise ValueError(f"point {i}: time_from_start {t:.3f} s is not after the previous point's")
        q = np.array([p.positions[j] for j in order], dtype=float)
        if not np.all(np.isfinite(q)):
            raise ValueError(f"point {i} has non-finite positions")
        times.append(t)
        points.append(q)
    return np.array(times), np.array(points)


class SimNode(Node):
    """PyBullet behind joint states, a trajectory topic, a gripper topic, a camera and a scene topic.

    Keyword arguments go to :class:`rclpy.node.Node` (``cli_args`` for a parameter file).
    Call :meth:`start` to start physics and :meth:`shutdown` before destroying the node.

    Raises:
        ConfigError: a start-up parameter is invalid.
        SceneError: the scene cannot be loaded.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        self.world: PacedWorld | None = None
        try:
            self._setup()
        except BaseException:
            if self.world is not None:
                self.world.close()
            self.destroy_node()  # a half-built node must not linger in the graph
            raise

    def _setup(self) -> None:
        declare_all(
            self,
            {n: d for n, (d, _) in PARAMETERS.items()},
            {n: doc for n, (_, doc) in PARAMETERS.items()},
            DYNAMIC,
            RANGES,
        )
        p = {name: self.get_parameter(name).value for name in PARAMETERS}
        self.sim_cfg = SimConfig(
            physics_hz=float(p["sim.physics_hz"]),
            control_hz=float(p["sim.control_hz"]),
            camera_width=int(p["sim.camera_width"]),
            camera_height=int(p["sim.camera_height"]),
            gui=bool(p["sim.gui"]),
        )
        self.safety_cfg = SafetyConfig(max_joint_speed=float(p["safety.max_joint_speed"]))
        for name in ("publish.scene_hz", "publish.camera_hz"):
            err = _check_rate(name, p[name], 0.0, 100.0 if "scene" in name else 30.0, allow_zero="camera" in name)
            if err:
                raise ConfigError(err)
        self.scene_spec = resolve_scene(p["scene"])
        self.scene_hz = float(p["publish.scene_hz"])
        self.camera_hz = float(p["publish.camera_hz"])
        self.grasp_on_close = bool(p["grasp_on_close"])
        self.frame_id = str(p["camera.frame_id"])
        self.scene_frame_id = str(p["scene_frame_id"])

        self._lock = threading.Lock()
        self._pending_traj: tuple[float, np.ndarray, np.ndarray] | None = None
        self._pending_grip: float | None = None
        self._reset_request: threading.Event | None = None
        self._reset_error = ""
        self._reset_scene: SceneSpec | None = None
        self._stop = threading.Event()
        self._traj: _Trajectory | None = None
        self._target: np.ndarray | None = None
        self._tick = 0
        self._next_slot: float | None = None
        self._late_ticks = 0
        self.refused_commands = 0
        self.camera: Any = None
        self._build_world(self.scene_spec)

        self._js_pub = self.create_publisher(JointState, JOINT_STATES, qos.JOINT_STATES_OUT)
        self._scene_pub = self.create_publisher(Scene, SCENE, qos.LATCHED)
        self._image_pub = self.create_publisher(Image, CAMERA, qos.IMAGES)
        traj = self.create_subscription(JointTrajectory, JOINT_TRAJECTORY, self._on_trajectory, qos.COMMANDS)
        self.create_subscription(Float64, GRIPPER_COMMAND, self._on_gripper, qos.COMMANDS)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._thread = threading.Thread(target=self._physics_loop, name="sim-physics", daemon=True)
        self.get_logger().info(
            f"sim: scene {self.scene_spec.name!r} ({len(self.scene_spec.objects)} objects), "
            f"{self.sim_cfg.control_hz:g} Hz control; joint states on {self._js_pub.topic_name}, "
            f"trajectories on {traj.topic_name}"
        )

    # -- world -----------------------------------------------------------------------------------
    def _build_world(self, scene: SceneSpec) -> None:
        from sim.camera import Camera

        if self.world is not None:
            self.world.close()
        self.world = PacedWorld(scene, self.sim_cfg, self.safety_cfg, self._after_tick)
        self.camera = Camera(self.world)
        self._traj = None
        self._target = self.world.robot.joint_positions()
        self.scene_spec = scene

    @property
    def robot(self) -> PyBulletRobot:
        assert self.world is not None  # noqa: S101 - type narrowing: the world is built in __init__
        return self.world.robot

    def start(self) -> None:
        """Start the physics thread (joint states start flowing)."""
        self._thread.start()

    def shutdown(self) -> None:
        """Stop the physics thread and close the world; the node can then be destroyed."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5.0)
        if self.world is not None:
            self.world.close()
            self.world = None

    # -- ROS inputs (executor threads) ---------------------------------------------------------------
    def _on_trajectory(self, msg: JointTrajectory) -> None:
        try:
            times, points = trajectory_from_msg(msg, ARM_JOINT_NAMES)
        except ValueError as exc:
            self.refused_commands += 1
            self.get_logger().error(f"trajectory refused: {exc}")
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        start = time.monotonic()
        if stamp > 0.0:  # a start time in the node clock: shift it into the monotonic clock
            start += stamp - self.get_clock().now().nanoseconds * 1e-9
        with self._lock:
            self._pending_traj = (start, times, points)

    def _on_gripper(self, msg: Float64) -> None:
        w = float(msg.data)
        if not math.isfinite(w):
            self.refused_commands += 1
            self.get_logger().error(f"gripper command {w} refused: not a finite width")
            return
        with self._lock:
            self._pending_grip = float(np.clip(w, 0.0, GRIPPER_MAX))

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            scene = resolve_scene(self.get_parameter("scene").value)
        except SceneError as exc:
            response.success, response.message = False, str(exc)
            return response
        with self._lock:
            if self._reset_request is None:  # a reset already pending answers this request too
                self._reset_request = threading.Event()
            done = self._reset_request
            self._reset_scene = scene
        if not done.wait(timeout=20.0):
            response.success, response.message = False, "the physics thread did not answer within 20 s"
            return response
        response.success = not self._reset_error
        response.message = self._reset_error or f"scene {scene.name!r} reloaded ({len(scene.objects)} objects)"
        return response

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        for prm in params:
            if prm.name not in DYNAMIC:
                return SetParametersResult(
                    successful=False,
                    reason=(
                        f"{prm.name} is fixed at start-up; restart the sim node with a new parameter file "
                        f"(changeable now: {', '.join(sorted(DYNAMIC))})"
                    ),
                )
            if prm.name == "scene":
                try:
                    resolve_scene(prm.value)
                except SceneError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
            elif prm.name in ("publish.scene_hz", "publish.camera_hz"):
                err = _check_rate(
                    prm.name, prm.value, 0.0, 100.0 if "scene" in prm.name else 30.0, allow_zero="camera" in prm.name
                )
                if err:
                    return SetParametersResult(successful=False, reason=err)
        for prm in params:
            if prm.name == "publish.scene_hz":
                self.scene_hz = float(prm.value)
            elif prm.name == "publish.camera_hz":
                self.camera_hz = float(prm.value)
            elif prm.name == "grasp_on_close":
                self.grasp_on_close = bool(prm.value)
        return SetParametersResult(successful=True)

    # -- physics thread -------------------------------------------------------------------------------
    def _physics_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._physics_tick()
            except Exception:  # noqa: BLE001 - keep the world alive; the log says what broke
                import traceback

                self.get_logger().error(f"physics tick failed: {traceback.format_exc()}", throttle_duration_sec=2.0)
                time.sleep(0.05)

    def _physics_tick(self) -> None:
        with self._lock:
            traj, self._pending_traj = self._pending_traj, None
            grip, self._pending_grip = self._pending_grip, None
            reset, self._reset_request = self._reset_request, None
        if reset is not None:
            try:
                assert self._reset_scene is not None  # noqa: S101 - type narrowing: set with _reset_request
                self._build_world(self._reset_scene)
                self._reset_error = ""
            except Exception as exc:  # noqa: BLE001 - reported to the caller of ~/reset
                self._reset_error = f"reset failed: {exc}"
            reset.set()
            return
        robot = self.robot
        if traj is not None:
            start, times, points = traj
            self._traj = _Trajectory(start, robot.joint_positions(), times, points)
        if grip is not None:
            self._apply_gripper(grip)
        if self._traj is not None:
            self._target = self._traj.sample(time.monotonic())
        if self._target is None:
            self._target = robot.joint_positions()
        robot.step(self._target)

    def _apply_gripper(self, width: float) -> None:
        robot = self.robot
        current = robot.gripper_width()
        if robot.holding() is not None:
            if width > current + 0.005:
                robot.release()  # opens fully; then go to the commanded width
                robot.set_gripper(width, ticks=1)
            return  # closing further on a held object would push the fingers through it
        if width < current - 0.005 and self.grasp_on_close:
            name = self._grasp_candidate()
            if name is not None and robot.grasp(name):
                self.get_logger().info(f"grasp assist: holding {name}")
                return
        robot.set_gripper(width, ticks=1)

    def _grasp_candidate(self) -> str | None:
        """The graspable object (or drawer) whose box is nearest the tool point, within reach."""
        world = self.world
        assert world is not None  # noqa: S101 - type narrowing: the world is built in __init__
        tool, _ = world.robot.ee_pose()
        best, best_gap = None, GRASP_REACH
        for name, obj in world.objects.items():
            if obj.drawer_link is None and not category(obj.spec.type).graspable:
                continue
            lo, hi = world.aabb(name, -1 if obj.drawer_link is None else obj.drawer_link)
            gap = float(np.linalg.norm(np.maximum(np.maximum(lo - tool, tool - hi), 0.0)))
            if gap <= best_gap:
                best, best_gap = name, gap
        return best

    # -- after every control tick (physics thread) -----------------------------------------------------
    def _after_tick(self) -> None:
        world = self.world
        if world is None:
            return
        self._tick += 1
        self._publish_joint_states(world)
        hz = world.sim_cfg.control_hz
        if self.scene_hz > 0 and self._tick % max(1, round(hz / self.scene_hz)) == 0:
            self._publish_scene(world)
        if self.camera_hz > 0 and self._tick % max(1, round(hz / self.camera_hz)) == 0:
            self._publish_image()
        self._pace(1.0 / hz)

    def _pace(self, dt: float) -> None:
        now = time.monotonic()
        if self._next_slot is None or now - self._next_slot > 0.25:
            if self._next_slot is not None:
                self._late_ticks += 1
                self.get_logger().warning(
                    "physics fell more than 0.25 s behind real time; resynchronising", throttle_duration_sec=5.0
                )
            self._next_slot = now
        self._next_slot += dt
        delay = self._next_slot - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def _publish_joint_states(self, world: SimWorld) -> None:
        c, rid = world.client, world.robot_id
        arm = c.getJointStates(rid, list(range(7)))
        fingers = c.getJointStates(rid, list(FINGER_JOINTS))
        msg = JointState()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.name = list(ARM_JOINT_NAMES) + list(FINGER_JOINT_NAMES)
        msg.position = [float(s[0]) for s in arm] + [float(s[0]) for s in fingers]
        msg.velocity = [float(s[1]) for s in arm] + [float(s[1]) for s in fingers]
        self._js_pub.publish(msg)

    def _publish_scene(self, world: SimWorld) -> None:
        self._scene_pub.publish(
            messages.scene_msg(
                (world.object_info(n) for n in world.objects), self.scene_frame_id, self.get_clock().now().to_msg()
            )
        )

    def _publish_image(self) -> None:
        frame = self.camera.render()
        msg = Image()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.header.frame_id = self.frame_id
        msg.height, msg.width = int(frame.rgb.shape[0]), int(frame.rgb.shape[1])
        msg.encoding = "rgb8"
        msg.is_bigendian = 0
        msg.step = msg.width * 3
        msg.data = np.ascontiguousarray(frame.rgb, dtype=np.uint8).tobytes()
        self._image_pub.publish(msg)


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``sim_node`` executable (``--ros-args --params-file config/sim.yaml``)."""
    from robot_agent.ros.up import forward_python_logging, init_rclpy, spin_until_interrupted

    init_rclpy(args)
    forward_python_logging()
    node: SimNode | None = None
    executor = MultiThreadedExecutor(num_threads=2)
    try:
        node = SimNode()
        node.start()
        executor.add_node(node)
        spin_until_interrupted(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ConfigError, SceneError) as exc:
        get_logger(NODE_NAME).error(f"sim node cannot start: {exc}")
        return 2
    finally:
        executor.shutdown(timeout_sec=2.0)
        if node is not None:
            node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
