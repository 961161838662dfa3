"""PyBullet worlds, the object catalog, scenes and scenarios, and the simulated operator.

Everything here but ``sim/ros`` is ROS-free.
"""
