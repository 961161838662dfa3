"""``robot-agent console`` as a process of its own, with no agent running: it serves, guards with its
token on a non-loopback host, says clearly that no agent answers, still tries to stop (a stop
correction when ``~/stop`` is not there), and ends on Ctrl-C even when started in the background."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from .conftest import DOMAIN, EXE, ROOT, _free_port


def _call(url: str, method: str = "GET", token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - our own localhost URL
    if token:
        req.add_header("X-Console-Token", token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_console_alone_guards_reports_no_agent_and_ends_on_ctrl_c(tmp_path) -> None:
    pytest.importorskip("rclpy", reason="ROS 2 (rclpy) is not installed")
    pytest.importorskip("robot_agent_interfaces", reason="build the interfaces with `make interfaces`")
    port = _free_port()
    env = dict(os.environ, ROS_DOMAIN_ID=DOMAIN, ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    cmd = [EXE, "console", "--host", "0.0.0.0", "--port", str(port), "--namespace", "nobody_here"]  # noqa: S104
    cmd += ["--episodes", str(tmp_path)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while not any(line.startswith("console token:") for line in lines) and time.monotonic() < deadline:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            if not line:
                break
            lines.append(line)
        token_line = next(line for line in lines if line.startswith("console token:"))
        token = token_line.split()[2]
        base = f"http://127.0.0.1:{port}"
        assert _call(base + "/api/state")[0] == 401
        status, state = _call(base + "/api/state", token=token)
        assert status == 200 and state["status"] is None  # no agent: nothing latched
        status, got = _call(base + "/api/task", "POST", token, {"text": "put the red block in the bowl"})
        assert status == 200 and got["accepted"] is False and "no agent" in got["reason"]
        status, got = _call(base + "/api/task", "POST", token, {"text": "x" * 1001})
        assert status == 400 and "1000" in got["error"]
        status, got = _call(base + "/api/stop", "POST", token)
        assert status == 200 and got["ok"] is False and "stop correction" in got["message"]
        status, got = _call(base + "/api/episodes", token=token)
        assert status == 200 and got["episodes"] == []
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
