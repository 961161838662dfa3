"""Fixtures of the browser tests: ``robot-agent up sim --console`` once per session, one headless
chromium (Debian's, installed by ``make sysdeps``) driven by Playwright, and a ROS probe on the
arm's joint states.

The DDS domain is ``CONSOLE_TEST_DOMAIN_ID`` when set, else 101 + pid % 50 (the ROS tests use
1..100), with discovery on localhost only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXE = str(Path(sys.executable).with_name("robot-agent"))
NAMESPACE = "console"
DOMAIN = os.environ.get("CONSOLE_TEST_DOMAIN_ID") or str(101 + os.getpid() % 50)
CHROMIUM = os.environ.get("CONSOLE_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
#: a knowledge item put in the store before the agent starts, for the knowledge panel's test
SEED_RULE = "keep the shelf clear when tidying the table"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed_kb(kb_dir: Path) -> None:
    from memory import open_knowledge_base
    from memory.item import KnowledgeItem
    from robot_agent.config import AgentConfig

    cfg = AgentConfig.load()
    cfg.memory.kb_dir = str(kb_dir)
    kb = open_knowledge_base(cfg.memory)
    try:
        kb.add(KnowledgeItem("plan", SEED_RULE, scope={"task_family": "tidy the shelf"}))
    finally:
        kb.close()


class UpSim:
    """``robot-agent up sim --console`` in a process of its own."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        params = tmp / "params.yaml"
        params.write_text(
            f"/**/robot_agent:\n  ros__parameters:\n    memory.kb_dir: {tmp / 'kb'}\n"
            f"    log_dir: {tmp / 'logs'}\n"
            # the hardware file's speed limit: a pick lasts long enough for a question and its answer
            "    safety.max_joint_speed: 0.5\n"
        )
        self.env = dict(
            os.environ,
            ROS_DOMAIN_ID=DOMAIN,
            ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST",
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
        )
        self.env.pop("ROS_STATIC_PEERS", None)
        self.log_path = tmp / "up.log"
        self._log = open(self.log_path, "wb")
        cmd = [
            EXE,
            "up",
            "sim",
            "--params",
            str(params),
            "--namespace",
            NAMESPACE,
            "--console",
            "--port",
            str(self.port),
        ]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def state(self) -> dict[str, Any]:
        import json

        with urllib.request.urlopen(self.url + "api/state", timeout=5) as r:  # noqa: S310 - our own localhost URL
            return json.loads(r.read())

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"up sim --console exited with {self.proc.returncode}:\n{self.log()}")
            try:
                st = (self.state().get("status") or {}).get("status") or {}
                if st.get("ready"):
                    return
            except OSError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"the agent did not get ready within {timeout:g} s:\n{self.log()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: the agent holds the arm, the nodes shut down in order
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class JointProbe:
    """The arm's joint states, read in this process over DDS (a private rclpy context)."""

    def __init__(self) -> None:
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import JointState

        from robot_agent.ros import qos

        self.rclpy = rclpy
        self.context = Context()
        rclpy.init(args=[], context=self.context, domain_id=int(DOMAIN), signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node("console_test_probe", context=self.context)
        self.states: list[tuple[float, list[float]]] = []
        self.node.create_subscription(
            JointState,
            f"/{NAMESPACE}/joint_states",
            lambda m: self.states.append((time.monotonic(), list(m.position[:7]))),
            qos.JOINT_STATES_IN,
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._running = True
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        while self._running:
            self.executor.spin_once(timeout_sec=0.1)

    def since(self, t0: float) -> list[list[float]]:
        return [p for t, p in list(self.states) if t >= t0]

    def wait_for(self, t0: float, count: int, timeout: float) -> list[list[float]]:
        """The states received since ``t0`` once there are ``count`` of them, or all there are
        after ``timeout`` seconds (the caller asserts on how many)."""
        deadline = time.monotonic() + timeout
        while len(self.since(t0)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.since(t0)

    def close(self) -> None:
        self._running = False
        self.thread.join(timeout=2)
        self.executor.shutdown(timeout_sec=1)
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


@pytest.fixture(scope="session")
def up_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UpSim]:
    if CHROMIUM is None:
        pytest.skip("no chromium: `make sysdeps` installs Debian's chromium")
    pytest.importorskip("playwright.sync_api", reason="playwright is pinned in requirements.txt")
    pytest.importorskip("rclpy", reason="ROS 2 (rclpy) is not installed")
    pytest.importorskip("robot_agent_interfaces", reason="build the interfaces with `make interfaces`")
    # A fresh environment's first agent dequantizes the embedded LLM (once, then cached): done here,
    # outside the readiness wait, so a slow machine does not spend the 240 s below on it.
    from robot_agent.config import AgentConfig
    from robot_agent.policy.backends import resolve_model_dir

    policy = AgentConfig().policy
    resolve_model_dir(policy.model_path, policy.cache_dir)
    tmp = tmp_path_factory.mktemp("console")
    _seed_kb(tmp / "kb")
    up = UpSim(tmp)
    try:
        up.wait_ready(240.0)
        yield up
    finally:
        up.close()


@pytest.fixture(scope="session")
def probe(up_sim: UpSim) -> Iterator[JointProbe]:
    p = JointProbe()
    yield p
    p.close()


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """An espeak-ng recording of "a bit to the left" with silence around it (None without espeak-ng)."""
    import numpy as np

    from robot_agent.errors import SpeechError
    from robot_agent.speech import synthesize, write_wav

    try:
        speech = synthesize("a bit to the left")
    except SpeechError:
        return None
    silence = np.zeros(16000, dtype=speech.dtype)
    return write_wav(tmp_path_factory.mktemp("speech") / "left.wav", np.concatenate([silence, speech, silence]))


@pytest.fixture(scope="session")
def browser(up_sim: UpSim, speech_wav: Path | None) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    if speech_wav is not None:  # the fake microphone plays the recording: push-to-talk end to end
        args.append(f"--use-file-for-fake-audio-capture={speech_wav}")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def page(browser: Any, up_sim: UpSim) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, permissions=["microphone"])
    pg = ctx.new_page()
    pg.goto(up_sim.url)
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: ``CONSOLE_SCREENSHOTS`` (docs/ for the documentation), else a temporary dir."""
    where = os.environ.get("CONSOLE_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("shots")
    path.mkdir(parents=True, exist_ok=True)
    return path
