"""The ROS 2 face of robot_agent: the agent node, the ROS robot, the operator console and ``up``.

Only this package and ``sim.ros`` import rclpy and message packages. Importing the
package itself imports nothing heavy: :mod:`robot_agent.ros.messages` (the JSON
payload rules) is pure Python; rclpy is loaded by the modules that need it.
"""
