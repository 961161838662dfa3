"""The ``robot-agent`` command.

Each command family is a module of this package (``run``, ``bench``, ``kb``, ``logs``,
``train``, ``sim``), of the ROS face (``robot_agent.ros``: ``up``, ``task``, ``say``,
``listen``, ``console``) or, for now, ``robot_agent.understand_cli`` (``understand``), and registers itself
through a ``register(subparsers)`` function. The front ends are thin: they parse, call the
library and print. Heavy imports happen only inside the command handlers, so
``robot-agent --help`` is quick.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

#: modules that contribute subcommands, each with ``register(subparsers)``
COMMAND_MODULES = (
    "robot_agent.cli.sim",
    "robot_agent.cli.run",
    "robot_agent.cli.bench",
    "robot_agent.cli.kb",
    "robot_agent.cli.logs",
    "robot_agent.cli.train",
    "robot_agent.understand_cli",
    "robot_agent.ros.console",
    "robot_agent.ros.listen",
    "robot_agent.ros.up",
    "robot_agent.ros.console_web",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robot-agent",
        description="Correct a robot arm in plain language, and make it remember.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)  # noqa: TID251 - the fixed COMMAND_MODULES table, our own modules
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, KeyError, OSError) as exc:
        # Domain errors carry a clear message; show it without a traceback.
        if args.verbose >= 2:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
