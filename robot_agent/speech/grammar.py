"""The JSGF grammar of what an operator may say to this robot in this scene."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from robot_agent.errors import SpeechError
from robot_agent.speech.stops import STOP_PHRASES
from robot_agent.speech.text import normalize_words, object_phrase

#: default wake word for continuous listening
WAKE_WORD = "robot"

#: the correction vocabulary, as JSGF rule bodies; <object> and <skill_call> are filled in
#: by build_grammar. Kept close to what robot_agent.language.grammar understands.
_RULES: dict[str, str] = {
    # the stop-like phrases of robot_agent.speech.stops.STOP_PHRASES: with them in the grammar a
    # spoken "freeze" is heard as "freeze", not forced onto the nearest motion ("lower")
    "stop": (
        "stop [stop | now | it | moving | there | right there | right now] | halt | freeze | wait | "
        "hold on | whoa | abort | don't move | no no no"
    ),
    # no "go on": it sounds like "hold on" and means the opposite
    "confirm": ("yes | okay | good | perfect | correct | that's right | that's good | continue | that's fine"),
    # no "way" (as in "way higher"): it let "wait" and "whoa" be heard as motions ("way to the left")
    "mag": ("a bit | a little | a little bit | slightly | a tiny bit | a lot | a bit more | a little more"),
    "num": (
        "one | two | three | four | five | six | seven | eight | nine | ten | fifteen | "
        "twenty | thirty | forty | forty five | fifty | sixty | ninety"
    ),
    "dist_unit": "centimeter | centimeters | millimeter | millimeters | inch | inches",
    "amount": "<mag> | <num> <dist_unit>",
    "direction": "to the left | to the right | left | right | forward | backward | back | up | down | higher | lower",
    "move": (
        "[move | go | shift | move it] [<amount>] [more] <direction> | (move | go | move it) <direction> [by] <amount>"
    ),
    "speed": (
        "[go | move] [<mag> | much] (slower | faster) | slow down | speed up | "
        "(more | less) (slowly | quickly) | be careful | gently"
    ),
    "effort": "(pull | push) [it] [<mag> | much] (harder | softer | further | more | less | gently)",
    "part": "handle | rim | top | side | center | middle",
    "grasp": (
        "(grasp | grab | hold | pick) (it | the <object>) [up] (by | from | at) the <part> | "
        "(grasp | grab | hold) it [<mag>] (higher | lower)"
    ),
    "rotate": (
        "(rotate | turn) [it] [<mag> | <num> degrees] (clockwise | counterclockwise | to the left | to the right)"
    ),
    "plan": (
        "<skill_call> [first | instead | later] | "
        "(put | place) it (in | on | into | onto | next to | inside) the <object> [instead] | "
        "don't <skill_call> | use the <object> [instead]"
    ),
    "correction": "<move> | <speed> | <effort> | <grasp> | <rotate> | <plan>",
    # One correction per utterance: allowing "<correction> and <correction>" let the decoder pad
    # short commands with junk ("pull harder and a bit"): 72 instead of 78 of 96 exact matches.
    "command": "<stop> | <confirm> | <correction> | <extra>",
}

#: how each skill is said when called on an object (skills without objects are phrases of their own)
_SKILL_VERBS: dict[str, str] = {
    "pick": "pick up | pick | grab | grasp",
    "place": "place | put down",
    "push": "push",
    "open": "open",
    "close": "close | shut",
}
_SKILL_PHRASES: dict[str, str] = {"go_home": "go home", "move_by": ""}  # move_by: the <move> rule

#: ARPABET of each letter, for words the dictionary lacks (spelled out as letters)
_LETTER_PHONES: dict[str, str] = {
    "a": "EY",
    "b": "B IY",
    "c": "S IY",
    "d": "D IY",
    "e": "IY",
    "f": "EH F",
    "g": "JH IY",
    "h": "EY CH",
    "i": "AY",
    "j": "JH EY",
    "k": "K EY",
    "l": "EH L",
    "m": "EH M",
    "n": "EH N",
    "o": "OW",
    "p": "P IY",
    "q": "K Y UW",
    "r": "AA R",
    "s": "EH S",
    "t": "T IY",
    "u": "Y UW",
    "v": "V IY",
    "w": "D AH B AH L Y UW",
    "x": "EH K S",
    "y": "W AY",
    "z": "Z IY",
    "0": "Z IH R OW",
    "1": "W AH N",
    "2": "T UW",
    "3": "TH R IY",
    "4": "F AO R",
    "5": "F AY V",
    "6": "S IH K S",
    "7": "S EH V AH N",
    "8": "EY T",
    "9": "N AY N",
}

_RULE_REF = re.compile(r"<([a-z_]+)>")
_JSGF_SYNTAX = re.compile(r"<[a-z_]+>|/[0-9.eE+-]+/|[|\[\]()*+;=]")


@dataclass(frozen=True)
class Grammar:
    """A JSGF grammar of what the operator may say, and what it was built from.

    Attributes:
        jsgf: the grammar text (public rule ``<utterance>``).
        words: every word the grammar can produce.
        objects: the spoken forms of the scene objects it names.
        wake_word: the optional wake word in front of a command ("" = none).
        stop_words: words and phrases that make an utterance a stop.
    """

    jsgf: str
    words: frozenset[str]
    objects: tuple[str, ...] = ()
    wake_word: str = WAKE_WORD
    stop_words: tuple[str, ...] = STOP_PHRASES


def _alternatives(phrases: Iterable[str]) -> str:
    seen: list[str] = []
    for p in phrases:
        w = " ".join(normalize_words(p))
        if w and w not in seen:
            seen.append(w)
    return " | ".join(seen)


def build_grammar(
    objects: Iterable[Any] = (),
    extra_phrases: Iterable[str] = (),
    skills: Iterable[str] | None = None,
    wake_word: str = WAKE_WORD,
) -> Grammar:
    """Build the correction grammar for a scene.

    Args:
        objects: scene object names (``"red_block"``, said "red block") or objects
            with ``name`` and ``category`` (``skills.types.ObjectInfo``). The grammar
            also knows each name's last word ("the block") and each category.
        extra_phrases: whole utterances to accept as they are (task-specific phrases).
        skills: skill names whose calls the operator may name ("open the drawer
            first"); default: every skill of ``skills.params.SKILL_PARAMS``.
        wake_word: word that may start any command (continuous listening); "" for none.

    Returns:
        The grammar.

    Raises:
        SpeechError: the wake word is not a single plain word.
    """
    from skills.params import SKILL_ARGS, SKILL_PARAMS

    if skills is None:
        skills = tuple(SKILL_PARAMS)
    wake = " ".join(normalize_words(wake_word))
    if wake_word and (not wake or " " in wake):
        raise SpeechError(f"the wake word must be one plain word, got {wake_word!r}")
    spoken: list[str] = []
    generic: list[str] = []
    for obj in objects:
        name = obj if isinstance(obj, str) else getattr(obj, "name", "")
        phrase = object_phrase(name)
        if phrase and phrase not in spoken:
            spoken.append(phrase)
        if phrase:
            generic.append(phrase.split()[-1])  # "red block" -> "the block"
        category = "" if isinstance(obj, str) else getattr(obj, "category", "")
        if isinstance(category, str) and category:
            generic.append(object_phrase(category))
    object_alts = _alternatives([*spoken, *generic, "object"])
    rules = dict(_RULES)
    rules["object"] = object_alts
    calls: list[str] = []
    for skill in skills:
        if SKILL_ARGS.get(skill):
            verbs = _SKILL_VERBS.get(skill) or " ".join(normalize_words(skill))
            calls.append(f"({verbs}) the <object>")
        else:
            phrase = _SKILL_PHRASES.get(skill, " ".join(normalize_words(skill)))
            if phrase:
                calls.append(phrase)
    if calls:
        rules["skill_call"] = " | ".join(calls)
    else:  # no skill names to say: drop the alternatives that name one
        rules["plan"] = " | ".join(alt for alt in _split_alternatives(rules["plan"]) if "<skill_call>" not in alt)
    extra = _alternatives(extra_phrases)
    if extra:
        rules["extra"] = extra
    else:
        rules["command"] = re.sub(r"\s*\|\s*(?:/[0-9.]+/\s*)?<extra>", "", rules["command"])
    top = f"[{wake}] <command>" if wake else "<command>"
    lines = ["#JSGF V1.0;", "grammar robot_agent;", f"public <utterance> = {top};"]
    lines += [f"<{name}> = {body};" for name, body in rules.items()]
    jsgf = "\n".join(lines) + "\n"
    words = set()
    for body in rules.values():
        words.update(_JSGF_SYNTAX.sub(" ", body).split())
    if wake:
        words.add(wake)
    _check_rules(rules)
    return Grammar(jsgf=jsgf, words=frozenset(words), objects=tuple(spoken), wake_word=wake, stop_words=STOP_PHRASES)


def _split_alternatives(body: str) -> list[str]:
    """The top-level alternatives of a JSGF rule body (bars inside brackets stay)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for c in body:
        depth += c in "(["
        depth -= c in ")]"
        if c == "|" and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur).strip())
    return out


def _check_rules(rules: Mapping[str, str]) -> None:
    missing = {ref for body in rules.values() for ref in _RULE_REF.findall(body)} - set(rules)
    if missing:  # a programming error in the rule table, not a user error
        raise SpeechError(f"grammar refers to undefined rule(s): {', '.join(sorted(missing))}")
