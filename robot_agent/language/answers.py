"""How an answer to the layer's own question is said: a number ("2", "the second one", "option
three"), yes to a question with one choice, or none of them ("neither"). Anything else is
understood as words, against the choices offered (:meth:`LanguageLayer._answer`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from skills.types import ObjectInfo

_NUM_WORDS = {
    "one": 1,
    "first": 1,
    "two": 2,
    "second": 2,
    "three": 3,
    "third": 3,
    "four": 4,
    "fourth": 4,
    "1st": 1,
    "2nd": 2,
    "3rd": 3,
}
_ANSWER_NUM = re.compile(
    r"^\W*(?:(?:number|option|choice|the)\s+)?(\d|one|two|three|four|first|second|third|"
    r"fourth|1st|2nd|3rd)(?:\s+(?:one|option|choice))?\W*(?:please)?\W*$"
)
_ANSWER_NONE = re.compile(r"^\W*(?:neither|none|none of (?:them|those|these)|no,? neither|no,? none|nothing)\b")
_ANSWER_YES = re.compile(r"^\W*(?:yes|yeah|yep|yup|correct|right|exactly|that one|sure)\W*$")
# a bare no to a yes-or-no question ("no, I said left" is not bare: it is read as a correction)
_ANSWER_NO = re.compile(r"^\W*(?:no+|nope|nah|negative|wrong|not that)(?:\W+(?:i\s+)?(?:didn'?t|did not))?\W*$")


def chosen_index(text: str, n_choices: int) -> int | None:
    """The 0-based choice a number names ("2", "the second one"), or 0 for a yes when one choice
    was offered; None when the words are neither (the index may be out of range: the caller checks)."""
    low = text.lower().strip()
    m = _ANSWER_NUM.match(low)
    if m:
        tok = m.group(1)
        n = int(tok) if tok.isdigit() else _NUM_WORDS.get(tok)
        return None if n is None else n - 1
    if _ANSWER_YES.match(low) and n_choices == 1:
        return 0
    return None


def says_no(text: str) -> bool:
    """A bare no ("no", "nope", "no I didn't") to a yes-or-no question."""
    return bool(_ANSWER_NO.match(text.lower().strip()))


def says_none(text: str) -> bool:
    """The answer refuses every choice ("neither", "none of them")."""
    return bool(_ANSWER_NONE.match(text.lower().strip()))


def question(choices: Sequence[Any]) -> str:
    """The clarifying question offering ``choices`` (:class:`Choice`), to answer by number or words."""
    if len(choices) == 1:
        return f"Did you mean: {choices[0].label}? (yes or no)"
    listed = ", ".join(f"{i}. {c.label}" for i, c in enumerate(choices, 1))
    return f"Do you mean: {listed}? (say a number, or say it in other words)"


def told_apart(choices: list[Any], cands: list[Any], scene: Sequence[ObjectInfo]) -> tuple[list[Any], list[Any]]:
    """Choices whose labels say the same ("1. pick up the white mug, 2. pick up the white mug" for
    two white mugs) made different, with the meanings (``cands``, one per choice) that now also
    render as their new label, so an answer repeating it is understood. Each one's object is said
    by a phrase of :func:`scene_words.phrases` the others' objects do not share ("the mug on the
    left"): an operator cannot choose between two identical choices."""
    from robot_agent.language import scene_words as sw
    from robot_agent.language.guards import object_of

    by_name = {o.name: o for o in scene}
    # the objects each meaning names (mover and place: "put:cylinder:big_cube"), so two choices
    # that differ by their place are told apart by the place, not by the mover they share
    named = [[n for n in c.key.split(":")[1:] if n in by_name] or [object_of(c)] for c in cands]
    out_choices, out_cands = list(choices), list(cands)
    for i, ch in enumerate(choices):
        same = [j for j, other in enumerate(choices) if j != i and other.label == ch.label]
        own = [n for n in named[i] if all(n not in named[j] for j in same)] or named[i][:1]
        o = by_name.get(own[0]) if own else None
        twins = [by_name[n] for j in same for n in named[j] if n not in named[i] and n in by_name]
        twins = twins or [by_name[n] for j in same for n in named[j][:1] if n in by_name]
        if o is None or not twins:
            continue
        taken = {p for t in twins for p in sw.phrases(t, scene)}
        mine = next((p for p in sw.phrases(o, scene) if p not in taken), None)
        plain = sw.phrase(o)
        if mine is not None and plain in ch.label:
            label = ch.label.replace(plain, mine, 1)
            out_choices[i] = replace(ch, label=label)
            out_cands[i] = replace(cands[i], renderings=[*cands[i].renderings, label])
    return out_choices, out_cands
