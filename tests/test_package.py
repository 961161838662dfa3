"""Package shape: ROS 2 ament_python metadata, console command, help on every subcommand, no ROS in core."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from robot_agent.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def test_package_xml_is_format_3_ament_python() -> None:
    root = ET.parse(ROOT / "package.xml").getroot()  # noqa: S314 - our own package.xml
    assert root.tag == "package" and root.get("format") == "3"
    assert root.findtext("name") == "robot_agent"
    assert root.find("export/build_type").text == "ament_python"
    deps = {e.text for e in root.iter("exec_depend")}
    assert {"rclpy", "std_msgs", "sensor_msgs", "trajectory_msgs", "std_srvs"} <= deps


def test_setup_installs_ros_resources() -> None:
    text = (ROOT / "setup.py").read_text()
    for needle in (
        "resource_index/packages",
        "share/{PACKAGE}/launch",
        "share/{PACKAGE}/config",
        "robot-agent = robot_agent.cli:main",
    ):
        assert needle in text
    assert (ROOT / "resource" / "robot_agent").exists()
    assert "install_scripts=$base/lib/robot_agent" in (ROOT / "setup.cfg").read_text()


def _all_parsers(parser, prefix=()):
    yield prefix, parser
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield from _all_parsers(sub, prefix + (name,))


def test_every_subcommand_has_help(capsys) -> None:
    names = []
    for prefix, _ in _all_parsers(build_parser()):
        with pytest.raises(SystemExit) as info:
            main([*prefix, "--help"])
        assert info.value.code == 0
        out = capsys.readouterr().out
        assert "usage: robot-agent" in out
        names.append(" ".join(prefix))
    assert "sim check" in names


def test_console_script_runs() -> None:
    exe = Path(sys.executable).with_name("robot-agent")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "robot-agent" in out.stdout


def test_core_imports_no_ros() -> None:
    pattern = re.compile(r"^(rclpy|[a-z_]+_msgs)(\.|$)")
    for pkg in ("robot_agent", "skills", "memory", "sim"):
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("robot_agent/ros/") or rel.startswith("sim/ros/"):
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                mods = []
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    mods = [node.module]
                for m in mods:
                    assert not pattern.match(m), f"{rel} imports {m}"


def test_agent_never_imports_the_simulated_operator() -> None:
    # robot_agent/scenarios is the harness that plays the operator's part opposite the agent.
    for path in list((ROOT / "robot_agent").rglob("*.py")) + list((ROOT / "memory").rglob("*.py")):
        if path.relative_to(ROOT).parts[:2] == ("robot_agent", "scenarios"):
            continue
        text = path.read_text()
        assert "sim.operator" not in text and "from sim import operator" not in text, path
