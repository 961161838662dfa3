"""The test helpers' action client is safe to make on a node another thread spins.

rclpy registers a new ActionClient with its node before it has a lock; a spinning executor that
asks for the client's entities in that window kills its thread. The window is made certain here:
the node asks every new waitable for its entities the moment it is added, as an executor may.
The first test pins the rclpy behaviour the helper works around: when rclpy creates the lock
first, it fails, and ``conftest.action_client`` can go.
"""

from __future__ import annotations

import pytest
from rclpy.action import ActionClient
from rclpy.node import Node

from .conftest import action_client


@pytest.fixture
def eager_node(ros_context: None, monkeypatch: pytest.MonkeyPatch):
    node = Node("test_eager_waitables")
    add = Node.add_waitable

    def add_and_ask(self, waitable):  # what an executor spinning in another thread may do at once
        add(self, waitable)
        waitable.get_num_entities()

    monkeypatch.setattr(Node, "add_waitable", add_and_ask)
    yield node
    monkeypatch.undo()
    node.destroy_node()


def test_rclpys_own_client_fails_in_the_window(eager_node) -> None:
    from robot_agent_interfaces.action import RunTask

    with pytest.raises(AttributeError, match="_lock"):
        ActionClient(eager_node, RunTask, "/nobody/run_task")


def test_the_helpers_client_is_whole_in_the_window(eager_node) -> None:
    from robot_agent_interfaces.action import RunTask

    client = action_client(eager_node, RunTask, "/nobody/run_task")
    assert client.get_num_entities() is not None and not client.server_is_ready()
    client.destroy()
