"""colcon builds both packages (robot_agent_interfaces with ament_cmake + rosidl, robot_agent with
ament_python) against the ROS 2 wheels installed in this environment, and what it installs works:
a RunTask goal goes through the colcon-built type support, and the launch files and node executables
are where ``ros2 launch`` looks for them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_colcon_builds_the_workspace(tmp_path: Path) -> None:
    colcon = BIN / "colcon"
    if not colcon.exists():
        pytest.skip("colcon (colcon-common-extensions) is not installed")
    if not (shutil.which("cmake") and shutil.which("g++")):
        pytest.skip("cmake and g++ are needed to build the interface package")
    src = tmp_path / "src"
    src.mkdir()
    (src / "robot_agent").symlink_to(ROOT)
    (src / "robot_agent_interfaces").symlink_to(ROOT / "robot_agent_interfaces")
    prefix = sys.prefix
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        AMENT_PREFIX_PATH=prefix,
        CMAKE_PREFIX_PATH=prefix,
        MAKEFLAGS="-j2",
    )
    out = subprocess.run(
        [
            str(colcon),
            "--log-base",
            str(tmp_path / "log"),
            "build",
            "--base-paths",
            str(src / "robot_agent"),
            str(src / "robot_agent_interfaces"),
            "--build-base",
            str(tmp_path / "build"),
            "--install-base",
            str(tmp_path / "install"),
            "--parallel-workers",
            "1",
            "--event-handlers",
            "console_direct-",
            "--cmake-args",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DBUILD_TESTING=OFF",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "2 packages finished" in out.stdout, out.stdout[-2000:]
    install = tmp_path / "install"
    iface = install / "robot_agent_interfaces"
    share = iface / "share" / "robot_agent_interfaces"
    assert (share / "action" / "RunTask.action").is_file() and (share / "msg" / "Correction.msg").is_file()
    site = next(iface.glob("lib/python3*/site-packages"))
    agent_share = install / "robot_agent" / "share" / "robot_agent"
    assert {p.name for p in (agent_share / "launch").iterdir()} == {"sim.launch.py", "hardware.launch.py"}
    assert (agent_share / "config" / "sim.yaml").is_file() and (agent_share / "package.xml").is_file()
    for exe in ("agent_node", "sim_node"):
        assert os.access(install / "robot_agent" / "lib" / "robot_agent" / exe, os.X_OK), exe
    # The colcon-built messages, not the ones `make` put in the venv: serialized and read back.
    check = (
        "import robot_agent_interfaces, sys\n"
        "from rclpy.serialization import serialize_message, deserialize_message\n"
        "from robot_agent_interfaces.action import RunTask\n"
        "assert robot_agent_interfaces.__file__.startswith(sys.argv[1]), robot_agent_interfaces.__file__\n"
        "goal = RunTask.Goal(task='put the red block in the bowl', id='t1')\n"
        "back = deserialize_message(serialize_message(goal), RunTask.Goal)\n"
        "assert back.task == goal.task and back.id == 't1'\n"
        "print('ok')\n"
    )
    env = dict(
        os.environ,
        PYTHONPATH=str(site),
        LD_LIBRARY_PATH=f"{iface / 'lib'}{os.pathsep}{os.environ.get('LD_LIBRARY_PATH', '')}",
    )
    ran = subprocess.run(
        [sys.executable, "-c", check, str(site)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0 and ran.stdout.strip() == "ok", ran.stdout + ran.stderr
