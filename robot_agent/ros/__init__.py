"""The ROS 2 face of robot_agent: the agent node, the ROS robot, the operator console and ``up``.

Only this package and ``sim.ros`` import rclpy and message packages. The interfaces are this
project's own (``robot_agent_interfaces``, built by ``make interfaces``);
:mod:`robot_agent.ros.messages` builds and validates them without rclpy. Importing the package
itself imports nothing heavy: rclpy is loaded by the modules that need it.
"""
