"""QoS profiles of every topic the agent and sim nodes use, chosen on purpose (``docs/ros.md``).

Compatibility rule kept throughout: a subscriber never asks for more than common
publishers offer (a reliable or transient-local subscriber does not match a
best-effort or volatile publisher), and our publishers offer at least what common
subscribers ask (ros2_control's joint trajectory controller subscribes reliably).
"""

from __future__ import annotations

from robot_agent.deps import require

require("rclpy", "the ROS 2 nodes")

from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)

#: operator commands (task, correction) and arm/gripper commands: none may be lost, none replayed
#: to a late joiner (a stale "move there" or "stop" must never arrive after the fact).
COMMANDS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

#: the agent node's ~/correction subscription: as COMMANDS, with a reader queue deep enough to absorb
#: a burst (1000 corrections published back to back) while one executor thread drains it; bounded, so a
#: flood costs at most depth x MAX_COMMAND_BYTES of memory. What the agent cannot queue is dropped
#: with a reason on ~/transcript and in the episode log, never silently.
CORRECTIONS_IN = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1000,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

#: state that a late joiner needs at once (status, plan, sim scene): reliable, latched, latest only.
LATCHED = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

#: the subscriber side of a latched topic when every message matters (the console following
#: ~/status): transient local to get the newest at once, a deep queue so none is overwritten.
LATCHED_FOLLOW = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

#: event streams the operator reads (transcript, knowledge): reliable, a deep queue so a burst
#: of events (a replan right after several corrections) is not cut, and transient local so a
#: console that has only just joined (``robot-agent say``) still gets the answer to its own
#: correction if it was published before discovery finished (events carry a stamp and a task id).
EVENTS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=50,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

#: joint states in: only the newest matters to the controller; best effort matches both a
#: reliable publisher (joint_state_broadcaster) and a best-effort driver, and a lost sample is
#: replaced 1/rate later. The watchdog, not the QoS, decides when the stream is dead.
JOINT_STATES_IN = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=5,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)

#: joint states out (the sim node), as joint_state_broadcaster publishes them: reliable, depth 10.
JOINT_STATES_OUT = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=10,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

#: perception (scene) in: reliable, newest only; volatile so it also matches a volatile publisher.
SCENE_IN = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)

#: camera images, both ways: best effort, newest only. A late or lost frame is worth nothing and
#: retransmitting megabytes would delay the next one (sensor-data practice).
IMAGES = QoSProfile(
    history=HistoryPolicy.KEEP_LAST,
    depth=1,
    reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE,
)
