"""Fixtures for the ROS 2 tests: an isolated DDS domain, the sim node as a real subprocess, spun nodes.

Every test run gets its own ``ROS_DOMAIN_ID`` (from the pid, 1..100) and discovery stays on
localhost, so parallel runs and other machines never cross-talk. Nodes are destroyed and
their spin threads joined before ``rclpy.shutdown()``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 100)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_STATIC_PEERS", None)

rclpy = pytest.importorskip("rclpy", reason="ROS 2 (rclpy) is not installed")

ROOT = Path(__file__).resolve().parents[2]
#: fast sim settings for tests: the camera at 1 Hz keeps the CPU for physics
SIM_TEST_PARAMS = """
/**/sim:
  ros__parameters:
    scene: tabletop
    publish.camera_hz: 1.0
    publish.scene_hz: 10.0
"""


class SimProcess:
    """The sim node in its own process (``python -m sim.ros.sim_node --ros-args --params-file ...``).

    With a ``namespace`` (``/kill0``) the node and all its topics live there (``/kill0/sim``,
    ``/kill0/joint_states``), as ``robot-agent up sim --namespace kill0`` would put them.
    """

    def __init__(self, params_file: Path, log_file: Path, namespace: str = "") -> None:
        self.log_file = log_file
        self.namespace = namespace
        args = ["--ros-args", "--params-file", str(params_file)]
        if namespace:  # a second sim beside the shared one, in its own namespace
            args += ["-r", f"__ns:={namespace}", "-p", "publish.camera_hz:=0.0"]
        self._log = open(log_file, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sim.ros.sim_node", *args],
            cwd=ROOT,
            env=dict(os.environ),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: the sim dies without a word, as a crashed driver does."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_file.read_text(errors="replace")


@pytest.fixture(scope="session")
def ros_context() -> Iterator[None]:
    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


@pytest.fixture(scope="session")
def sim_params_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ros") / "sim_test.yaml"
    path.write_text(SIM_TEST_PARAMS)
    return path


@pytest.fixture
def start_sim(sim_params_file: Path, tmp_path: Path) -> Iterator[Callable[..., SimProcess]]:
    """Start a fresh sim process on its own topics (stopped at the end of the test)."""
    started: list[SimProcess] = []

    def start(namespace: str = "/private") -> SimProcess:
        sim = SimProcess(sim_params_file, tmp_path / f"sim{len(started)}.log", namespace=f"{namespace}{len(started)}")
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture(scope="module")
def sim_process(sim_params_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    """One sim process shared by a test module (reset between tests with ``~/reset``)."""
    sim = SimProcess(sim_params_file, tmp_path_factory.mktemp("simlog") / "sim.log")
    yield sim
    code = sim.stop()
    assert code in (0, -signal.SIGINT), f"sim node exited with {code}:\n{sim.output()[-3000:]}"


class Spinner:
    """Nodes spun by a multi-threaded executor in a background thread."""

    def __init__(self) -> None:
        from rclpy.executors import MultiThreadedExecutor

        self.executor = MultiThreadedExecutor(num_threads=4)
        self.nodes: list[Any] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._spin, name="test-spin", daemon=True)

    def _spin(self) -> None:
        # Not executor.spin(): shutting a multi-threaded executor down while it spins races
        # (its pool refuses new work). Stop the loop first, then shut the executor down.
        from rclpy.exceptions import InvalidHandle

        while not self._stop.is_set() and rclpy.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except InvalidHandle:
                # A test destroyed a subscription or publisher while the executor waited on it:
                # that entity is gone, the others still need spinning (uncaught, this ended the loop).
                continue

    def add(self, node: Any) -> Any:
        self.nodes.append(node)
        self.executor.add_node(node)
        if not self.thread.is_alive():
            self.thread.start()
        return node

    def close(self) -> None:
        for node in self.nodes:
            shutdown = getattr(node, "shutdown", None)
            if callable(shutdown):
                shutdown()
        self._stop.set()
        if self.thread.ident is not None:
            self.thread.join(timeout=10.0)
        self.executor.shutdown(timeout_sec=5.0)
        for node in self.nodes:
            node.destroy_node()


@pytest.fixture
def spinner(ros_context: None) -> Iterator[Spinner]:
    s = Spinner()
    yield s
    s.close()


def wait_for(cond: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``cond`` until truthy; fail the test with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def wait_moving(
    listener: Any, agent: Any, task_id: str | None = None, commands: int = 30, timeout: float = 20.0
) -> None:
    """Until the agent reports ``task_id`` (any task when None) executing and has sent the arm more
    than ``commands`` commands: the skill is under way, so a correction or stop lands mid-motion."""

    def moving() -> bool:
        st = listener.latest()
        running = task_id is None or st.get("task_id") == task_id
        return running and st.get("state") == "executing" and agent.robot.commands_sent > commands

    wait_for(moving, timeout, f"the arm to be moving on {task_id or 'the task'}")


def call_trigger(node: Any, service: str, timeout: float = 25.0, attempts: int = 3) -> Any:
    """Call a std_srvs/Trigger service (every one used here is idempotent) from a spun node.

    A request is retried when no answer comes: just after start-up, DDS may match the
    request topic before the response topic, and the first response can then be lost.
    """
    from std_srvs.srv import Trigger

    client = node.create_client(Trigger, service)
    try:
        assert client.wait_for_service(timeout_sec=10.0), f"service {service} not available"
        for _ in range(attempts - 1):
            future = client.call_async(Trigger.Request())
            deadline = time.monotonic() + timeout / attempts
            while time.monotonic() < deadline and not future.done():
                time.sleep(0.02)
            if future.done():
                return future.result()
            client.remove_pending_request(future)
        future = client.call_async(Trigger.Request())
        wait_for(future.done, timeout / attempts, f"{service} to answer ({attempts} tries)")
        return future.result()
    finally:
        node.destroy_client(client)


def action_client(node: Any, action_type: Any, name: str) -> Any:
    """An ``ActionClient`` that may be made on a node another thread is spinning.

    rclpy (Kilted) registers a new ActionClient with its node (``add_waitable``) before it creates
    the client's lock; an executor spinning the node in another thread can ask the half-built
    client for its entities in between (``AttributeError: 'ActionClient' object has no attribute
    '_lock'``), which kills the spin thread and every answer after it (seen once in 9 fresh-clone
    runs). The lock is made first here and kept (the executor may already hold it).
    """
    from rclpy.action import ActionClient

    class _Client(ActionClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            object.__setattr__(self, "_lock", threading.Lock())
            super().__init__(*args, **kwargs)

        def __setattr__(self, key: str, value: Any) -> None:
            if key == "_lock" and "_lock" in self.__dict__:
                return
            super().__setattr__(key, value)

    return _Client(node, action_type, name)


def send_goal(
    node: Any, action: str, task: str, task_id: str, feedback: list | None = None, timeout: float = 10.0
) -> Any:
    """Send a ``RunTask`` goal from a spun node; the goal handle (``accepted`` says whether it was)."""
    from robot_agent_interfaces.action import RunTask

    client = action_client(node, RunTask, action)
    assert client.wait_for_server(timeout_sec=10.0), f"action server {action} not available"
    future = client.send_goal_async(
        RunTask.Goal(task=task, id=task_id), feedback_callback=None if feedback is None else feedback.append
    )
    wait_for(future.done, timeout, f"the answer to goal {task_id}")
    handle = future.result()
    handle.client = client  # keep the client alive as long as the handle
    return handle


def goal_result(handle: Any, timeout: float) -> Any:
    """Wait for a goal's result: ``(status, RunTask.Result)``."""
    future = handle.get_result_async()
    wait_for(future.done, timeout, "the goal's result")
    res = future.result()
    return res.status, res.result
