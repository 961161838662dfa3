"""``robot-agent understand``: show how one correction utterance is understood, moving nothing."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``understand`` subcommand."""
    p = subparsers.add_parser(
        "understand",
        help="show how one correction utterance is understood (moves nothing)",
        description="Classify one operator utterance (stop | plan | skill | confirm | unclear) and ground it: "
                    "a base-frame displacement, named parameter changes, a plan constraint, or a clarifying "
                    "question. Directions are as an operator standing behind the robot sees them "
                    "(forward = +x, left = +y, up = +z) unless --operator-yaw says otherwise.",
        epilog='example: robot-agent understand "2 cm to the left" --skill pick --json',
    )
    p.add_argument("text", help="the utterance (quote it)")
    p.add_argument("--scenario", metavar="FILE",
                   help="scenario YAML whose scene objects ground names, sizes and poses")
    p.add_argument("--skill", metavar="NAME",
                   help="the skill being executed (pick, place, push, open, close, move_by, go_home)")
    p.add_argument("--object", metavar="NAME", help="the object that skill acts on (for place: the held object)")
    p.add_argument("--target", metavar="NAME", help="for place: the object to place on or in")
    p.add_argument("--operator-yaw", type=float, default=0.0, metavar="DEG",
                   help="direction the operator faces, degrees about z from the robot's +x "
                        "(0: standing behind the robot, 180: facing it across the table)")
    p.add_argument("--json", action="store_true", help="end with one JSON line (kind, delta_m, parameters, ...)")
    p.set_defaults(func=_cmd_understand)


def _cmd_understand(args: argparse.Namespace) -> int:
    from robot_agent.corrections import CorrectionContext, CorrectionParser
    from robot_agent.errors import UnknownObjectError
    from skills.params import param_specs

    objects = []
    if args.scenario:
        from sim.scenario import load_scenario

        objects = list(load_scenario(args.scenario).objects)
    if args.skill:
        param_specs(args.skill)  # raises UnknownSkillError naming the valid skills
    names = [o.name for o in objects]
    for flag, name in (("--object", args.object), ("--target", args.target)):
        if name and objects and name not in names:
            raise UnknownObjectError(f"{flag} {name!r} is not in the scene; objects: {', '.join(names)}")
    if not math.isfinite(args.operator_yaw):
        raise ValueError("--operator-yaw must be a finite number of degrees")
    ctx = CorrectionContext(objects=objects, skill=args.skill, object=args.object, target=args.target,
                            operator_yaw=math.radians(args.operator_yaw))
    correction = CorrectionParser().parse(args.text, ctx)
    print(f"{args.text!r} -> {correction.describe()}")
    if args.json:
        print(json.dumps(correction.to_dict(), sort_keys=False))
    return 0
