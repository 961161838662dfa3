"""Hardware: the agent node only, against a ros2_control arm (topic names and limits in config/hardware.yaml).

    ros2 launch robot_agent hardware.launch.py [params_file:=/path/to/overrides.yaml]

Start the arm's bringup (controllers, gripper bridge, perception) first. Same node and
parameter files as ``robot-agent up hardware`` (robot_agent/ros/up.py, LAUNCH_PLANS).
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def _config(name):
    return PathJoinSubstitution([FindPackageShare("robot_agent"), "config", name])


def generate_launch_description():
    params_file = LaunchConfiguration("params_file")
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file", default_value=_config("hardware.yaml"),
            description="extra parameter file applied last (overrides)"),
        Node(
            package="robot_agent",
            executable="agent_node",
            name="robot_agent",
            output="screen",
            parameters=[_config("agent.yaml"), _config("hardware.yaml"), params_file],
        ),
    ])
