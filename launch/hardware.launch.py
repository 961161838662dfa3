"""Hardware: the agent node only, against a ros2_control arm (topics remapped, limits in hardware.yaml).

    ros2 launch robot_agent hardware.launch.py [namespace:=robot1] [params_file:=FILE] [log_level:=debug]
        [use_sim_time:=false]

The nodes, their parameter files (in order) and remappings come from
``robot_agent.ros.up.LAUNCH_PLANS["hardware"]``, which ``robot-agent up hardware`` starts too. Start the arm's
bringup (controllers, gripper bridge, perception) first.
"""

from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from launch import LaunchDescription
from robot_agent.ros.up import LAUNCH_PLANS

MODE = "hardware"


def _config(name):
    return PathJoinSubstitution([FindPackageShare("robot_agent"), "config", name])


def generate_launch_description():
    args = [
        DeclareLaunchArgument("namespace", default_value="", description="namespace of every node and topic"),
        DeclareLaunchArgument(
            "params_file",
            default_value=_config(f"{MODE}.yaml"),
            description="extra parameter file applied last to every node (overrides)",
        ),
        DeclareLaunchArgument("log_level", default_value="info", description="debug, info, warn, error or fatal"),
        DeclareLaunchArgument("use_sim_time", default_value="false", description="use /clock"),
    ]
    use_sim_time = ParameterValue(LaunchConfiguration("use_sim_time"), value_type=bool)
    nodes = [
        Node(
            package=spec.package,
            executable=spec.executable,
            name=spec.name,
            namespace=LaunchConfiguration("namespace"),
            output="screen",
            parameters=[
                *(_config(f) for f in spec.param_files),
                LaunchConfiguration("params_file"),
                {"use_sim_time": use_sim_time},
            ],
            remappings=list(spec.remappings),
            arguments=["--ros-args", "--log-level", LaunchConfiguration("log_level")],
        )
        for spec in LAUNCH_PLANS[MODE]
    ]
    return LaunchDescription(args + nodes)
