"""``robot-agent up sim|hardware``: the launch files' nodes, in one process.

ROS 2's ``launch`` package is not on PyPI, so this command starts the very nodes that
``launch/sim.launch.py`` and ``launch/hardware.launch.py`` start. Both read :data:`LAUNCH_PLANS`
(package, executable, node name, parameter files in order, remappings), so they cannot drift
apart; ``up`` composes the nodes from it (:func:`compose`) and spins them in one process with a
multi-threaded executor. Its options are the launch files' arguments: ``--namespace``
(``namespace``), ``--params`` (``params_file``, applied last to every node), ``--log-level``
(``log_level``) and ``--use-sim-time`` (``use_sim_time``).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PACKAGE = "robot_agent"
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


@dataclass(frozen=True)
class NodeSpec:
    """One node of a launch plan: what ``launch_ros.actions.Node`` is given."""

    package: str
    executable: str  #: console_scripts name (setup.py), installed to lib/robot_agent
    name: str  #: node name; parameter files key their sections ``/**/<name>``
    param_files: tuple[str, ...]  #: files in config/ (share/robot_agent/config), applied in order
    #: (from, to) topic remappings; relative names on both sides, so they follow the namespace
    remappings: tuple[tuple[str, str], ...] = field(default=())


#: where a ros2_control Panda (franka_ros2) and its perception offer what the agent's robot uses
HARDWARE_REMAPPINGS = (
    ("joint_trajectory_controller/joint_trajectory", "panda_arm_controller/joint_trajectory"),
    ("gripper/command", "panda_gripper/width_command"),
    ("scene/objects", "perception/objects"),
    ("camera/image_raw", "camera/color/image_raw"),
)

#: what each launch file starts; ``robot-agent up`` starts the same
LAUNCH_PLANS: dict[str, tuple[NodeSpec, ...]] = {
    "sim": (
        NodeSpec(PACKAGE, "sim_node", "sim", ("sim.yaml",)),
        NodeSpec(PACKAGE, "agent_node", "robot_agent", ("agent.yaml", "sim.yaml")),
    ),
    "hardware": (NodeSpec(PACKAGE, "agent_node", "robot_agent", ("agent.yaml", "hardware.yaml"), HARDWARE_REMAPPINGS),),
}

#: executable -> the node class it runs (module, class)
NODE_CLASSES = {
    "sim_node": ("sim.ros.sim_node", "SimNode"),
    "agent_node": ("robot_agent.ros.agent_node", "AgentNode"),
}

_NAMESPACE = re.compile(r"^/?([A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*)?/?$")


def check_namespace(namespace: str) -> str:
    """``/robot1`` from ``robot1``, ``/robot1``, ``robot1/``; ``/`` from an empty one.

    Raises:
        ValueError: not a valid ROS namespace (letters, digits and underscores, each token
            starting with a letter).
    """
    ns = (namespace or "").strip()
    if not _NAMESPACE.match(ns) or "//" in ns:
        raise ValueError(
            f"namespace {namespace!r} is not valid: tokens of letters, digits and underscores, "
            f"each starting with a letter, separated by '/'"
        )
    return "/" + ns.strip("/") if ns.strip("/") else "/"


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


class RosLogHandler(logging.Handler):
    """Python logging records to the ROS logger of the same name (console, ``/rosout``, log files).

    The agent's core (planner, skills, knowledge base) logs through Python's ``logging``; in a
    ROS process those records go where the nodes' own messages go, at the matching severity.
    """

    _SEVERITY = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR", "CRITICAL": "FATAL"}

    def emit(self, record: logging.LogRecord) -> None:
        from rclpy.logging import LoggingSeverity, get_logger

        try:
            severity = LoggingSeverity[self._SEVERITY.get(record.levelname, "INFO")]
            get_logger(record.name).log(self.format(record), severity)
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


def forward_python_logging(level: int = logging.INFO) -> None:
    """Send the root Python logger's records to ROS loggers (:class:`RosLogHandler`), once."""
    root = logging.getLogger()
    if not any(isinstance(h, RosLogHandler) for h in root.handlers):
        handler = RosLogHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        root.addHandler(handler)
    root.setLevel(level)


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


def node_arguments(spec: NodeSpec, params: str | Path | None = None, *, use_sim_time: bool = False) -> list[str]:
    """The ``--ros-args`` a node of the plan gets: parameter files in order, ``use_sim_time``, remappings.

    Raises:
        FileNotFoundError: a parameter file is missing.
    """
    args = ["--ros-args"]
    for f in param_files(spec, params):
        args += ["--params-file", str(f)]
    args += ["-p", f"use_sim_time:={'true' if use_sim_time else 'false'}"]
    for src, dst in spec.remappings:
        args += ["-r", f"{src}:={dst}"]
    return args


def compose(
    mode: str, params: str | Path | None = None, *, namespace: str = "", use_sim_time: bool = False, **node_kwargs: Any
) -> list[Any]:
    """Build (not start) the nodes of ``mode`` as the launch file does; ``rclpy.init`` must have run.

    ``node_kwargs`` go to every node (``context`` for a private ROS context).

    Raises:
        ValueError: an unknown mode or a bad namespace.
        FileNotFoundError: a parameter file is missing.
        ConfigError, SceneError: a node refused its parameters (the nodes built so far are destroyed).
    """
    import importlib

    if mode not in LAUNCH_PLANS:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(LAUNCH_PLANS)}")
    ns = check_namespace(namespace)
    plan = LAUNCH_PLANS[mode]
    args = {spec.name: node_arguments(spec, params, use_sim_time=use_sim_time) for spec in plan}
    nodes: list[Any] = []
    try:
        for spec in plan:
            module, cls_name = NODE_CLASSES[spec.executable]
            cls = getattr(importlib.import_module(module), cls_name)  # noqa: TID251 - from the fixed NODE_CLASSES table
            nodes.append(cls(cli_args=args[spec.name], namespace=ns, **node_kwargs))
    except BaseException:
        for node in nodes:
            node.destroy_node()
        raise
    return nodes


def up(
    mode: str,
    params: str | Path | None = None,
    *,
    namespace: str = "",
    log_level: str = "info",
    use_sim_time: bool = False,
    console: Any = None,
) -> int:
    """Start the nodes of ``mode`` and spin until Ctrl-C or SIGTERM.

    ``console`` (a ``robot_agent.console.app.ConsoleOptions``) also serves the browser console
    (:func:`start_console_beside`).

    Raises:
        ValueError: an unknown mode, namespace or log level.
        FileNotFoundError: a parameter file is missing.
    """
    from robot_agent.deps import require

    if mode not in LAUNCH_PLANS:
        raise ValueError(f"unknown mode {mode!r}; valid: {', '.join(LAUNCH_PLANS)}")
    if log_level not in LOG_LEVELS:
        raise ValueError(f"unknown log level {log_level!r}; valid: {', '.join(LOG_LEVELS)}")
    ns = check_namespace(namespace)
    for spec in LAUNCH_PLANS[mode]:
        param_files(spec, params)  # a missing file is reported before anything starts
    require("rclpy", "robot-agent up")
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    init_rclpy(args=["--ros-args", "--log-level", log_level])
    forward_python_logging(getattr(logging, {"warn": "WARNING", "fatal": "CRITICAL"}.get(log_level, log_level.upper())))
    nodes: list[Any] = []
    web: Any = None
    executor = MultiThreadedExecutor(num_threads=6)
    try:
        nodes = compose(mode, params, namespace=ns, use_sim_time=use_sim_time)
        for node in nodes:
            executor.add_node(node)
            node.get_logger().info(f"started {node.get_fully_qualified_name()}")
        for node in nodes:
            node.start()
        if console is not None:
            web = start_console_beside(nodes, console, mode=mode, namespace=ns)
        names = ", ".join(n.get_fully_qualified_name() for n in nodes)
        print(
            f"robot-agent up {mode}: {names} running (Ctrl-C to stop); try: robot-agent task "
            f'{"--namespace " + ns.strip("/") + " " if ns != "/" else ""}"put the red block in the bowl"',
            flush=True,
        )
        spin_until_interrupted(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if web is not None:
            web.close()
        for node in reversed(nodes):  # the agent first: it holds the arm while the sim still runs
            try:
                node.shutdown()
            except Exception as exc:  # noqa: BLE001 - keep shutting the others down
                node.get_logger().error(f"shutting down failed: {exc}")
        executor.shutdown(timeout_sec=2.0)
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


#: camera rate the sim node is raised to when a console is served (the page shows at least 5 frames/s).
#: Not more: each sim render (PyBullet's TinyRenderer, 320x240) holds the interpreter lock for 20-55 ms
#: on this 2-core machine, and the agent's ~/stop service waits behind it (docs/console.md).
CONSOLE_CAMERA_HZ = 6.0


def start_console_beside(nodes: list[Any], options: Any, *, mode: str, namespace: str) -> Any:
    """Serve the browser console (``robot_agent.ros.console_web``) for the agent node among ``nodes``.

    The console edits the agent's own knowledge base, lists the agent's episode directory, and
    raises the sim camera to :data:`CONSOLE_CAMERA_HZ` (a dynamic parameter of the sim node).
    """
    from rclpy.parameter import Parameter

    from robot_agent.ros.console_web import announce, start_console

    agent = next(n for n in nodes if n.get_name() == "robot_agent")
    for node in nodes:
        if node.get_name() == "sim" and node.has_parameter("publish.camera_hz"):
            hz = float(node.get_parameter("publish.camera_hz").value)
            if 0 < hz < CONSOLE_CAMERA_HZ:
                node.set_parameters([Parameter("publish.camera_hz", value=CONSOLE_CAMERA_HZ)])
    camera = dict(HARDWARE_REMAPPINGS)["camera/image_raw"] if mode == "hardware" else "camera/image_raw"
    web = start_console(
        options,
        namespace=namespace.strip("/"),
        image_topic=camera,
        get_kb=lambda: getattr(getattr(agent, "agent", None), "kb", None),
        episodes_dir=getattr(agent, "log_dir", "") or None,
    )
    announce(web)
    return web


def _cmd_up(args: argparse.Namespace) -> int:
    console = None
    if args.console:
        from robot_agent.ros.console_web import console_options

        console = console_options(args)
    try:
        return up(
            args.mode,
            args.params,
            namespace=args.namespace,
            log_level=args.log_level,
            use_sim_time=args.use_sim_time,
            console=console,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``up`` to the ``robot-agent`` command."""
    p = sub.add_parser(
        "up",
        help="start the ROS 2 nodes of sim.launch.py or hardware.launch.py in one process",
        description="Start the nodes that launch/sim.launch.py (sim node + agent node) or "
        "launch/hardware.launch.py (agent node only) start, with the same parameter "
        "files and remappings, in one process. Then drive it with `robot-agent task` and "
        "`robot-agent say` from another shell on the same ROS_DOMAIN_ID.",
    )
    p.add_argument("mode", choices=sorted(LAUNCH_PLANS), help="sim: PyBullet sim node + agent; hardware: agent only")
    p.add_argument("--params", help="extra parameter file, applied last to every node (launch: params_file)")
    p.add_argument(
        "--namespace",
        default="",
        help="namespace of every node and topic, e.g. robot1 (launch: namespace; default: none)",
    )
    p.add_argument("--log-level", default="info", choices=LOG_LEVELS, help="log level (launch: log_level)")
    p.add_argument("--use-sim-time", action="store_true", help="nodes use /clock (launch: use_sim_time)")
    p.add_argument("--console", action="store_true", help="also serve the operator console in the browser")
    from robot_agent.ros.console_web import add_console_options

    add_console_options(p)
    p.set_defaults(func=_cmd_up)


def main(argv: list[str] | None = None) -> int:
    """``python -m robot_agent.ros.up sim|hardware [options]`` (same as ``robot-agent up``)."""
    parser = argparse.ArgumentParser(prog="robot-agent")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["up", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
