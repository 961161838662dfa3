"""The same skills through RosRobot over real DDS, against the sim node in its own process.

What is checked is what the sim reports back over its scene topic, not what the robot
believes: a picked-and-placed block ends up in the bowl; an unknown object moves nothing;
garbage parameters are refused with a reason; a sim killed mid-skill halts the arm with a
clear error.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from robot_agent.config import SafetyConfig
from robot_agent.errors import RobotLinkError
from skills.library import get_skill
from skills.result import SkillStatus
from skills.robot import CancelToken
from skills.safety import SafetyChecker

from .conftest import call_trigger, wait_for

rclpy = pytest.importorskip("rclpy")

from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from robot_agent.ros import qos  # noqa: E402
from robot_agent.ros.ros_robot import KinematicModel, RosRobot, RosRobotConfig  # noqa: E402

SAFETY = SafetyChecker(SafetyConfig())
#: the ROS-path tests' own limits: a 2 s joint-state watchdog (see the client fixture)
PATH_SAFETY = SafetyChecker(SafetyConfig(joint_state_timeout=2.0))


@pytest.fixture(scope="module")
def model() -> KinematicModel:
    m = KinematicModel()
    yield m
    m.close()


@pytest.fixture
def client(spinner, sim_process, model):
    """A node with a RosRobot on it, connected to the shared sim (reset to the scene first)."""
    node = spinner.add(Node("test_robot_client"))
    # These tests are about the ROS path, not the watchdog (test_sim_killed_mid_skill_halts... below has
    # its own, 0.3 s): on 2 shared cores the sim process once stalled 0.54 s mid-pick on a fresh-clone
    # run, past the default 0.5 s, and the watchdog (rightly) halted the arm.
    robot = RosRobot(node, RosRobotConfig(connect_timeout=30.0), SafetyConfig(joint_state_timeout=2.0), model=model)
    robot.connect()
    res = call_trigger(node, "/sim/reset")
    assert res.success, res.message
    wait_for(lambda: robot.scene_age() < 0.15 and robot.state_age() < 0.1, 5.0, "fresh state after reset")
    return node, robot


def fresh_scene(robot: RosRobot) -> dict:
    """Objects from a scene message that arrived after this call."""
    t0 = time.monotonic()
    wait_for(lambda: time.monotonic() - robot.scene_age() > t0, 3.0, "a new scene message")
    return robot.perceive()


def test_pick_and_place_through_ros_ends_in_the_bowl(client) -> None:
    node, robot = client
    before = fresh_scene(robot)
    assert {"red_block", "bowl"} <= set(before)
    res = get_skill("pick").execute(robot, {"object": "red_block"}, {}, CancelToken(), PATH_SAFETY)
    assert res.status is SkillStatus.SUCCEEDED, res.reason
    assert robot.holding() == "red_block"
    lifted = fresh_scene(robot)["red_block"].pose.position
    assert lifted[2] > before["red_block"].pose.position[2] + 0.05  # the sim says it is in the air
    res = get_skill("place").execute(robot, {"object": "red_block", "target": "bowl"}, {}, CancelToken(), PATH_SAFETY)
    assert res.status is SkillStatus.SUCCEEDED, res.reason
    assert robot.holding() is None
    scene = fresh_scene(robot)
    block, bowl = scene["red_block"], scene["bowl"]
    local = bowl.pose.to_local(block.pose.position)
    assert abs(local[0]) < bowl.size[0] / 2 and abs(local[1]) < bowl.size[1] / 2, local
    assert block.pose.position[2] < 0.08
    assert robot.gripper_width() > 0.07  # released: fingers open, as the joint states say


def test_unknown_object_is_refused_and_nothing_moves(client) -> None:
    node, robot = client
    q0 = robot.joint_positions()
    sent = robot.commands_sent
    res = get_skill("pick").execute(robot, {"object": "purple_unicorn"}, {}, CancelToken(), SAFETY)
    assert res.status is SkillStatus.INVALID
    assert "purple_unicorn" in res.reason and "red_block" in res.reason  # names what exists
    assert robot.commands_sent == sent
    time.sleep(0.2)
    assert np.allclose(robot.joint_positions(), q0, atol=1e-3)


def test_camera_images_arrive_best_effort(client) -> None:
    node, _ = client
    frames: list[Image] = []
    sub = node.create_subscription(Image, "/camera/image_raw", frames.append, qos.IMAGES)
    try:
        wait_for(lambda: frames, 5.0, "a camera image")
    finally:
        node.destroy_subscription(sub)
    img = frames[0]
    assert (img.width, img.height, img.encoding, img.step) == (320, 240, "rgb8", 960)
    pixels = np.frombuffer(bytes(img.data), np.uint8)
    assert pixels.size == 320 * 240 * 3 and pixels.std() > 5  # a rendered scene, not a blank frame


def test_malformed_trajectory_is_refused_by_the_sim(client) -> None:
    node, robot = client
    pub = node.create_publisher(JointTrajectory, "/joint_trajectory_controller/joint_trajectory", qos.COMMANDS)
    wait_for(lambda: pub.get_subscription_count() > 0, 5.0, "the sim to subscribe")
    q0 = robot.joint_positions()
    msg = JointTrajectory()
    msg.joint_names = ["shoulder_pan_joint"] + list(robot.joint_names[1:])  # a joint this arm does not have
    msg.points = [JointTrajectoryPoint(positions=[0.5] * 7)]
    pub.publish(msg)
    time.sleep(0.5)
    node.destroy_publisher(pub)
    assert np.allclose(robot.joint_positions(), q0, atol=2e-3)


def test_sim_parameters_refuse_garbage_with_a_reason(client) -> None:
    from rclpy.parameter_client import AsyncParameterClient

    node, _ = client
    params = AsyncParameterClient(node, "sim")
    assert params.wait_for_services(timeout_sec=10.0)

    def set_one(name: str, value) -> tuple[bool, str]:
        future = params.set_parameters([Parameter(name, value=value)])
        wait_for(future.done, 10.0, f"set {name}")
        result = future.result().results[0]
        return result.successful, result.reason

    ok, reason = set_one("publish.scene_hz", -5.0)  # outside the descriptor's range
    assert not ok and reason
    ok, reason = set_one("publish.scene_hz", 0.0)  # in the range, but the scene must keep flowing
    assert not ok and "publish.scene_hz" in reason and "outside" in reason
    ok, reason = set_one("publish.scene_hz", "fast")  # wrong type
    assert not ok and reason
    ok, reason = set_one("sim.physics_hz", 1000.0)
    assert not ok and "read-only" in reason
    ok, reason = set_one("scene", "/no/such/scene.yaml")
    assert not ok and "no such file" in reason
    ok, reason = set_one("publish.scene_hz", 12.0)
    assert ok, reason


def test_sim_killed_mid_skill_halts_with_a_clear_error(spinner, start_sim, model) -> None:
    sim = start_sim("/kill")
    node = spinner.add(Node("test_robot_kill", namespace=sim.namespace))
    robot = RosRobot(node, RosRobotConfig(connect_timeout=30.0), SafetyConfig(joint_state_timeout=0.3), model=model)
    assert robot.joint_trajectory_topic == "/kill0/joint_trajectory_controller/joint_trajectory"
    robot.connect()
    commands: list[JointTrajectory] = []
    node.create_subscription(JointTrajectory, robot.joint_trajectory_topic, commands.append, qos.COMMANDS)
    results = []

    def pick() -> None:
        results.append(get_skill("pick").execute(robot, {"object": "red_block"}, {}, CancelToken(), SAFETY))

    import threading

    worker = threading.Thread(target=pick)
    worker.start()
    wait_for(lambda: robot.commands_sent > 40, 10.0, "the arm to be moving")
    sim.kill()
    killed_at = time.monotonic()
    worker.join(timeout=10.0)
    assert not worker.is_alive(), "the skill did not end after the sim died"
    ended_in = time.monotonic() - killed_at
    res = results[0]
    assert res.status is not SkillStatus.SUCCEEDED
    assert "joint-state watchdog" in res.reason and "halted" in res.reason, res.reason
    assert ended_in < 0.3 + 1.0, f"took {ended_in:.2f} s to notice (timeout 0.3 s)"
    assert robot.halted_reason
    # Halted: no command after the failure, and the last one is a hold at the last target.
    sent = robot.commands_sent
    time.sleep(0.3)
    assert robot.commands_sent == sent
    with pytest.raises(RobotLinkError):
        robot.step(robot.joint_positions())
    wait_for(lambda: len(commands) >= robot.commands_sent, 2.0, "every command to be seen")
    last = np.array(commands[-1].points[0].positions)
    assert np.allclose(last, robot.last_command())


def test_sim_follows_trajectories_like_a_trajectory_controller() -> None:
    """Multi-point trajectories in any joint order, interpolated in time; what a controller refuses, refused."""
    from builtin_interfaces.msg import Duration

    from sim.ros.sim_node import ARM_JOINT_NAMES, _Trajectory, trajectory_from_msg

    msg = JointTrajectory()
    msg.joint_names = list(reversed(ARM_JOINT_NAMES))
    msg.points = [
        JointTrajectoryPoint(positions=[float(i) for i in range(7)], time_from_start=Duration(sec=1)),
        JointTrajectoryPoint(positions=[2.0 * i for i in range(7)], time_from_start=Duration(sec=2)),
    ]
    times, points = trajectory_from_msg(msg, ARM_JOINT_NAMES)
    assert times.tolist() == [1.0, 2.0]
    assert points[0].tolist() == [6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]  # reordered to the arm's joint order
    traj = _Trajectory(10.0, np.zeros(7), times, points)
    assert np.allclose(traj.sample(9.0), 0.0)  # before the start: where it was
    assert np.allclose(traj.sample(10.5), points[0] / 2)  # halfway to the first point
    assert np.allclose(traj.sample(11.5), (points[0] + points[1]) / 2)
    assert np.allclose(traj.sample(99.0), points[1])  # after the end: hold the last point
    bad = JointTrajectory(joint_names=list(ARM_JOINT_NAMES))
    with pytest.raises(ValueError, match="empty trajectory"):
        trajectory_from_msg(bad, ARM_JOINT_NAMES)
    bad.points = [JointTrajectoryPoint(positions=[0.0] * 6)]
    with pytest.raises(ValueError, match="6 positions for 7 joints"):
        trajectory_from_msg(bad, ARM_JOINT_NAMES)
    bad.points = [
        JointTrajectoryPoint(positions=[0.0] * 7, time_from_start=Duration(sec=2)),
        JointTrajectoryPoint(positions=[0.0] * 7, time_from_start=Duration(sec=1)),
    ]
    with pytest.raises(ValueError, match="not after"):
        trajectory_from_msg(bad, ARM_JOINT_NAMES)
    bad = JointTrajectory(joint_names=list(ARM_JOINT_NAMES[:6]), points=[JointTrajectoryPoint(positions=[0.0] * 6)])
    with pytest.raises(ValueError, match="missing: panda_joint7"):
        trajectory_from_msg(bad, ARM_JOINT_NAMES)


def test_standalone_robot_spins_its_own_node(ros_context, sim_process, model) -> None:
    """``with RosRobot() as robot:`` for scripts: a private node and spin thread, torn down on exit."""
    with RosRobot(config=RosRobotConfig(connect_timeout=30.0), model=model) as robot:
        assert robot.state_age() < 0.5 and "bowl" in robot.perceive()
        x, _ = robot.ee_pose()
        assert 0.2 < x[0] < 0.6  # the home pose, through the kinematic model
    assert robot._spin_thread is None and robot._node is None
