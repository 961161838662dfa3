"""The operator console in the browser (``robot-agent console``, ``robot-agent up ... --console``).

* :mod:`robot_agent.console.app`: the web application (Starlette): page, JSON API, websocket,
  token and origin checks. No rclpy.
* :mod:`robot_agent.console.hub`: the live state and its fan-out to the open pages.
* :mod:`robot_agent.console.knowledge`, :mod:`robot_agent.console.episodes`: the two panels.
* :mod:`robot_agent.console.frames`: camera images to JPEG.
* :mod:`robot_agent.console.server`: uvicorn on a thread of its own.
* ``static/``: the page, its script, styles and the push-to-talk audio worklet (no build step,
  nothing fetched from elsewhere).

The ROS side, the only module that talks to the agent node, is ``robot_agent.ros.console_web``.
"""
