"""STOP and correction latency of the browser console, measured in a real browser (issue 16).

Starts ``robot-agent up sim --console`` (or uses a running console with ``--url``), opens the
page in headless chromium (Playwright, Debian's ``chromium``) and, for each round, runs a task
from the task box, types a correction ("slower") while the arm moves, and presses STOP with the
mouse while it still moves. It prints, in milliseconds:

* STOP, click to answer: from the button's pointerdown (the event's own timestamp) until the
  page holds the answer of ``POST /api/stop``, which the server sends after ``~/stop`` answered.
  The stop service was reached before that: this is an upper bound of "click to ~/stop".
* STOP, server to ~/stop and back: the console server's call of the service (``service_ms``).
* correction, Enter to understood: from pressing Enter in the correction box until the page
  shows the agent's transcript event for it (how it was understood).

Idle STOPs (no task running; ``~/stop`` still halts and answers) are measured too, as a second
row. Usage::

    .venv/bin/python scripts/bench_console.py [--rounds 5] [--idle 20] [--separate | --url http://127.0.0.1:8080/]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
EXE = str(Path(sys.executable).with_name("robot-agent"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(tmp: Path, separate: bool) -> tuple[list[subprocess.Popen], str]:
    port = _free_port()
    params = tmp / "params.yaml"
    params.write_text(
        "/**/sim:\n  ros__parameters:\n    publish.camera_hz: 6.0\n"  # what up --console sets
        f"/**/robot_agent:\n  ros__parameters:\n    memory.kb_dir: {tmp / 'kb'}\n    log_dir: ''\n"
        "    safety.max_joint_speed: 0.5\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env.setdefault("ROS_DOMAIN_ID", str(151 + os.getpid() % 9))
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    log = open(tmp / "up.log", "wb")
    console = ["--console", "--port", str(port)]
    cmd = [EXE, "up", "sim", "--params", str(params), *([] if separate else console)]
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)]
    if separate:  # the console in a process of its own (its own interpreter lock)
        cmd = [EXE, "console", "--port", str(port), "--kb", str(tmp / "kb"), "--episodes", str(tmp)]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    return procs, f"http://127.0.0.1:{port}/"


def _wait_ready(url: str, procs: list[subprocess.Popen], timeout: float = 300.0) -> None:
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"{proc.args[1]} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url.split("?")[0] + "api/state", timeout=5) as r:  # noqa: S310 - localhost
                if ((json.loads(r.read()).get("status") or {}).get("status") or {}).get("ready"):
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("the agent did not get ready")


def _stats(name: str, xs: list[float]) -> str:
    if not xs:
        return f"{name:<42} (none)"
    xs = sorted(xs)
    p95 = xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]
    return (
        f"{name:<42} n={len(xs):<3} min {xs[0]:7.1f}  median {statistics.median(xs):7.1f}  "
        f"p95 {p95:7.1f}  max {xs[-1]:7.1f}"
    )


def _state(page: Any) -> str:
    return str(page.get_attribute("#state", "data-state"))


def run(url: str, rounds: int, idle: int, chromium: str) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"stop_busy": [], "stop_busy_service": [], "stop_idle": [], "stop_idle_service": []}
    out["correction"] = []
    tasks = ["put the red block in the bowl", "put the blue block on the plate"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url)
        page.wait_for_function("window.consoleMetrics.snapshots > 0", timeout=20000)
        stop = page.locator("#stop-button")
        for r in range(rounds):
            page.evaluate("consoleView.ourTask = null")
            page.fill("#task-input", tasks[r % len(tasks)])
            page.press("#task-input", "Enter")
            try:
                page.wait_for_function("consoleView.ourTask !== null", timeout=15000)
            except Exception:  # noqa: BLE001 - refused (the reason is on the page): next round
                print(f"round {r + 1}: task not accepted: {page.inner_text('#transcript')[-200:]}", file=sys.stderr)
                time.sleep(2.0)
                continue
            page.wait_for_function(  # this task's state, not the last one's
                "consoleView.ourTask && consoleView.status && consoleView.status.task_id === consoleView.ourTask"
                " && ['executing','done','failed','stopped'].includes(consoleView.status.state)",
                timeout=120000,
            )
            if _state(page) != "executing":  # planned nothing to do, or failed: no moving arm to measure on
                print(f"round {r + 1}: the task ended {_state(page)} before it moved; skipped", file=sys.stderr)
                continue
            time.sleep(1.0)
            n = page.evaluate("window.consoleMetrics.corrections.length")
            page.fill("#correction-input", "slower")
            page.press("#correction-input", "Enter")
            page.wait_for_function(f"window.consoleMetrics.corrections.length > {n}", timeout=30000)
            out["correction"].append(page.evaluate("window.consoleMetrics.corrections.at(-1).ms"))
            busy = _state(page) in ("executing", "waiting", "planning")
            n = page.evaluate("window.consoleMetrics.stops.length")
            stop.click()
            page.wait_for_function(f"window.consoleMetrics.stops.length > {n}", timeout=10000)
            m = page.evaluate("window.consoleMetrics.stops.at(-1)")
            key = "stop_busy" if busy else "stop_idle"
            out[key].append(m["ms"])
            if m.get("service_ms") is not None:
                out[key + "_service"].append(m["service_ms"])
            page.wait_for_function(
                "['stopped','done','failed'].includes(document.querySelector('#state').dataset.state)", timeout=30000
            )
            time.sleep(1.0)
        for _ in range(idle):
            n = page.evaluate("window.consoleMetrics.stops.length")
            stop.click()
            page.wait_for_function(f"window.consoleMetrics.stops.length > {n}", timeout=10000)
            m = page.evaluate("window.consoleMetrics.stops.at(-1)")
            out["stop_idle"].append(m["ms"])
            if m.get("service_ms") is not None:
                out["stop_idle_service"].append(m["service_ms"])
            time.sleep(0.3)
        browser.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="a running console (default: start robot-agent up sim --console)")
    ap.add_argument("--rounds", type=int, default=5, help="tasks, each with one correction and one STOP")
    ap.add_argument("--idle", type=int, default=20, help="STOP presses with no task running")
    ap.add_argument(
        "--separate", action="store_true", help="run `robot-agent console` apart from `up sim` (default: up --console)"
    )
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium", help="the browser")
    args = ap.parse_args()
    procs: list[subprocess.Popen] = []
    with tempfile.TemporaryDirectory(prefix="bench_console_") as tmp:
        url = args.url
        if url is None:
            procs, url = _start(Path(tmp), args.separate)
        try:
            _wait_ready(url, procs)
            got = run(url, args.rounds, args.idle, args.chromium)
        finally:
            for proc in reversed(procs):
                proc.send_signal(2)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
    load = os.getloadavg()
    how = "given URL" if args.url else ("console apart from up sim" if args.separate else "up sim --console")
    print(f"console latency in chromium (headless), ms; {how}; load average {load[0]:.1f} on {os.cpu_count()} cores")
    print(_stats("STOP during a task, click to answer", got["stop_busy"]))
    print(_stats("  of which server -> ~/stop -> server", got["stop_busy_service"]))
    print(_stats("STOP with no task, click to answer", got["stop_idle"]))
    print(_stats("  of which server -> ~/stop -> server", got["stop_idle_service"]))
    print(_stats("correction, Enter to understood on page", got["correction"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
