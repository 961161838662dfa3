"""Simulation: the PyBullet sim node and the agent node.

    ros2 launch robot_agent sim.launch.py [params_file:=/path/to/overrides.yaml]

Same nodes and parameter files as ``robot-agent up sim`` (robot_agent/ros/up.py, LAUNCH_PLANS).
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
            "params_file", default_value=_config("sim.yaml"),
            description="extra parameter file applied last to every node (overrides)"),
        Node(
            package="robot_agent",
            executable="sim_node",
            name="sim",
            output="screen",
            parameters=[_config("sim.yaml"), params_file],
        ),
        Node(
            package="robot_agent",
            executable="agent_node",
            name="robot_agent",
            output="screen",
            parameters=[_config("agent.yaml"), _config("sim.yaml"), params_file],
        ),
    ])
