"""``robot-agent understand``: show how one correction utterance is understood, moving nothing."""

from __future__ import annotations

import argparse
import json
import math
import sys
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
        epilog='examples: robot-agent understand "2 cm to the left" --skill pick --json\n'
        "          robot-agent understand --wav said.wav --scenario S.yaml --skill pick --object mug --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("text", nargs="?", help="the utterance (quote it); or --wav")
    p.add_argument(
        "--wav",
        metavar="FILE",
        help="a spoken utterance (PCM WAV, any rate): heard offline (grammar + open-vocabulary "
        "pocketsphinx, stop spotting), then understood; a stop or a 'Did you say ...?' "
        "question is printed instead when that is what was heard",
    )
    p.add_argument(
        "--language-mode",
        choices=("full", "grammar"),
        default="full",
        help="--wav: the understanding layer's mode (full: grammar + MiniLM sentence model, "
        "falling back to grammar when the model cannot load)",
    )
    p.add_argument("--scenario", metavar="FILE", help="scenario YAML whose scene objects ground names, sizes and poses")
    p.add_argument(
        "--skill", metavar="NAME", help="the skill being executed (pick, place, push, open, close, move_by, go_home)"
    )
    p.add_argument("--object", metavar="NAME", help="the object that skill acts on (for place: the held object)")
    p.add_argument("--target", metavar="NAME", help="for place: the object to place on or in")
    p.add_argument(
        "--operator-yaw",
        type=float,
        default=0.0,
        metavar="DEG",
        help="direction the operator faces, degrees about z from the robot's +x "
        "(0: standing behind the robot, 180: facing it across the table)",
    )
    p.add_argument("--json", action="store_true", help="end with one JSON line (kind, delta_m, parameters, ...)")
    p.set_defaults(func=_cmd_understand)


def _cmd_understand(args: argparse.Namespace) -> int:
    from robot_agent.errors import UnknownObjectError
    from robot_agent.language.grammar import CorrectionContext, CorrectionParser
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
    if (args.text is None) == (args.wav is None):
        raise ValueError("give the utterance as text or as --wav FILE (one of them)")
    ctx = CorrectionContext(
        objects=objects,
        skill=args.skill,
        object=args.object,
        target=args.target,
        operator_yaw=math.radians(args.operator_yaw),
    )
    if args.wav is not None:
        return _understand_wav(args, objects, ctx)
    correction = CorrectionParser().parse(args.text, ctx)
    print(f"{args.text!r} -> {correction.describe()}")
    if args.json:
        print(json.dumps(correction.to_dict(), sort_keys=False))
    return 0


def _language_layer(mode: str) -> Any:
    """The understanding layer in ``mode``; "full" falls back to "grammar" (said on stderr) without its model."""
    from robot_agent.language import LanguageLayer

    if mode == "full":
        try:
            from memory.embedders import make_text_embedder

            return LanguageLayer(embedder=make_text_embedder("minilm"), mode="full")
        except (ImportError, OSError, RuntimeError, ValueError) as exc:  # ConfigError, KnowledgeBaseError too
            print(
                f"note: the sentence model could not be loaded ({exc}); understanding with the grammar alone",
                file=sys.stderr,
            )
    return LanguageLayer(mode="grammar")


def _understand_wav(args: argparse.Namespace, objects: list[Any], ctx: Any) -> int:
    """``understand --wav``: hear the file (robot_agent.speech.hear), then understand what was heard."""
    from robot_agent.language.meaning import acted_keys
    from robot_agent.speech import Hearer, read_wav

    layer = _language_layer(args.language_mode)
    # The grammar transcript is not acted on when the open one reads as another motion.
    hearer = Hearer(objects, meaning=lambda text: acted_keys(layer.understand_correction(text, ctx, typed=False)))
    try:
        heard = hearer.hear(read_wav(args.wav), objects)
    finally:
        hearer.close()
    understanding = None
    if heard.stop:
        from robot_agent.language import LanguageLayer

        understanding = LanguageLayer(mode="grammar").understand_correction("stop", ctx)  # no model needed
        print(f"heard: stop ({heard.stop_phrase!r} from {', '.join(heard.stop_sources)}) -> stop: halt the arm now")
    elif heard.question:
        print(f"heard: not sure (grammar: {heard.grammar_text!r}, open: {heard.open_text!r}) -> asks: {heard.question}")
    elif not heard.text:
        print("heard: nothing")
    else:
        how = "both decodes agree" if heard.agreed else "open-vocabulary decode"
        layer.forget_question()  # the meaning checks above asked nothing of the operator
        understanding = layer.understand_correction(heard.text, ctx, typed=False)
        summary = (
            understanding.correction.describe() if understanding.correction is not None else understanding.decision
        )
        print(
            f"heard: {heard.text!r} ({how}, confidence {heard.confidence:.2f}) -> {understanding.decision}: {summary}"
        )
        if understanding.question:
            print(f"  asks: {understanding.question}")
    if args.json:
        print(
            json.dumps(
                {"heard": heard.to_dict(), "understanding": None if understanding is None else understanding.to_dict()}
            )
        )
    return 0
