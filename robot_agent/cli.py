"""The ``robot-agent`` command.

Each command family lives next to the code it drives and registers itself here
through a ``register(subparsers)`` function; heavy imports happen only inside
the command handlers, so ``robot-agent --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

#: modules that contribute subcommands, each with ``register(subparsers)``
COMMAND_MODULES = (
    "sim.check",
    "robot_agent.run_cli",
    "robot_agent.bench_cli",
    "memory.cli",
    "robot_agent.logs_cli",
    "robot_agent.logs.replay",
    "robot_agent.training",
    "robot_agent.understand_cli",
    "robot_agent.ros.console",
    "robot_agent.ros.listen",
    "robot_agent.ros.up",
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
        importlib.import_module(name).register(sub)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
