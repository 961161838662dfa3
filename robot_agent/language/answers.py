"""How an answer to the layer's own question is said: a number ("2", "the second one", "option
three"), yes to a question with one choice, or none of them ("neither"). Anything else is
understood as words, against the choices offered (:meth:`LanguageLayer._answer`)."""

from __future__ import annotations

import re

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


def says_none(text: str) -> bool:
    """The answer refuses every choice ("neither", "none of them")."""
    return bool(_ANSWER_NONE.match(text.lower().strip()))
