"""robot_agent: correct a robot arm in plain language, typed or spoken, and make it remember."""

__version__ = "0.1.0"
