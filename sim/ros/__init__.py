"""The PyBullet simulation behind ROS 2 topics (the only part of ``sim`` that imports rclpy)."""
