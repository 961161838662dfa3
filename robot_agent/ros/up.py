"""``robot-agent up sim|hardware [--params FILE]``: the launch files' nodes, in one process.

ROS 2's ``launch`` package is not on PyPI, so this command starts the very nodes that
``launch/sim.launch.py`` and ``launch/hardware.launch.py`` start, with the same parameter
files in the same order (:data:`LAUNCH_PLANS`; a test reads the launch files and checks
that they agree), in one process with a multi-threaded executor. ``--params FILE`` is
applied last to every node, as the launch files' ``params_file`` argument is.
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "robot_agent"


@dataclass(frozen=True)
class NodeSpec:
    """One node of a launch plan: what ``launch_ros.actions.Node`` is given."""

    package: str
    executable: str  #: console_scripts name (setup.py), installed to lib/robot_agent
    name: str  #: node name, the key of its section in the parameter files
    param_files: tuple[str, ...]  #: files in config/ (share/robot_agent/config), applied in order


#: what each launch file starts; ``robot-agent up`` starts the same
LAUNCH_PLANS: dict[str, tuple[NodeSpec, ...]] = {
    "sim": (
        NodeSpec(PACKAGE, "sim_node", "sim", ("sim.yaml",)),
        NodeSpec(PACKAGE, "agent_node", "robot_agent", ("agent.yaml", "sim.yaml")),
    ),
    "hardware": (
        NodeSpec(PACKAGE, "agent_node", "robot_agent", ("agent.yaml", "hardware.yaml")),
    ),
}

#: executable -> the node class it runs (module, class)
NODE_CLASSES = {
    "sim_node": ("sim.ros.sim_node", "SimNode"),
    "agent_node": ("robot_agent.ros.agent_node", "AgentNode"),
}


def init_rclpy(args: list[str] | None = None) -> None:
    """``rclpy.init`` for a process's main thread, keeping the context alive through Ctrl-C.

    rclpy's own SIGINT handler shuts the context down at once, and then the nodes can no
    longer publish the final "hold" to the arm. Here SIGINT stays Python's KeyboardInterrupt
    and SIGTERM raises it too, so the caller's ``finally`` halts the arm, shuts the nodes
    down in order, and only then calls ``rclpy.shutdown()``.
    """
    import signal

    import rclpy
    from rclpy.signals import SignalHandlerOptions

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)


def spin_until_interrupted(executor: object, period: float = 0.2) -> None:
    """Spin ``executor`` until the context shuts down; wakes every ``period`` s so that a
    Ctrl-C / SIGTERM (see :func:`init_rclpy`) is raised even when no message arrives."""
    import rclpy

    while rclpy.ok():
        executor.spin_once(timeout_sec=period)  # type: ignore[attr-defined]


def param_files(spec: NodeSpec, extra: str | Path | None = None) -> list[Path]:
    """The parameter files of one node, resolved (source tree or installed share dir), ``extra`` last.

    Raises:
        FileNotFoundError: a file is missing.
    """
    from robot_agent.config import default_config_path

    files = [default_config_path(name) for name in spec.param_files]
    if extra is not None:
        files.append(Path(extra).expanduser())
    for f in files:
        if not f.is_file():
            raise FileNotFoundError(f"parameter file {f} not found")
    return files


def up(mode: str, params: str | Path | None = None) -> int:
    """Start the nodes of ``mode`` and spin until Ctrl-C or SIGTERM.

    Raises:
        ValueError: an unknown mode.
        FileNotFoundError: a parameter file is missing.
    """
    import importlib

    from robot_agent.deps import require

    if mode not in LAUNCH_PLANS:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(LAUNCH_PLANS)}")
    plan = LAUNCH_PLANS[mode]
    files = {spec.name: param_files(spec, params) for spec in plan}
    require("rclpy", "robot-agent up")
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    init_rclpy(args=[])
    nodes = []
    executor = MultiThreadedExecutor(num_threads=6)
    try:
        for spec in plan:
            module, cls_name = NODE_CLASSES[spec.executable]
            cls = getattr(importlib.import_module(module), cls_name)
            cli = ["--ros-args"] + [a for f in files[spec.name] for a in ("--params-file", str(f))]
            node = cls(cli_args=cli)
            nodes.append(node)
            executor.add_node(node)
            log.info("started /%s with %s", spec.name, ", ".join(map(str, files[spec.name])))
        for node in nodes:
            node.start()
        print(f"robot-agent up {mode}: {', '.join('/' + s.name for s in plan)} running "
              f"(Ctrl-C to stop); try: robot-agent task \"put the red block in the bowl\"", flush=True)
        spin_until_interrupted(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        for node in reversed(nodes):  # the agent first: it holds the arm while the sim still runs
            try:
                node.shutdown()
            except Exception:  # noqa: BLE001 - keep shutting the others down
                log.exception("shutting down %s failed", node.get_name())
        executor.shutdown(timeout_sec=2.0)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _cmd_up(args: argparse.Namespace) -> int:
    return up(args.mode, args.params)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``up`` to the ``robot-agent`` command."""
    p = sub.add_parser("up", help="start the ROS 2 nodes of sim.launch.py or hardware.launch.py in one process",
                       description="Start the nodes that launch/sim.launch.py (sim node + agent node) or "
                                   "launch/hardware.launch.py (agent node only) start, with the same parameter "
                                   "files, in one process. Then drive it with `robot-agent task` and "
                                   "`robot-agent say` from another shell on the same ROS_DOMAIN_ID.")
    p.add_argument("mode", choices=sorted(LAUNCH_PLANS), help="sim: PyBullet sim node + agent; hardware: agent only")
    p.add_argument("--params", help="extra parameter file, applied last to every node (overrides)")
    p.set_defaults(func=_cmd_up)


def main(argv: list[str] | None = None) -> int:
    """``python -m robot_agent.ros.up sim|hardware [--params FILE]`` (same as ``robot-agent up``)."""
    parser = argparse.ArgumentParser(prog="robot-agent")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["up", *(sys.argv[1:] if argv is None else argv)])
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
