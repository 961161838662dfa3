"""Words: normalizing transcripts, numbers as words, how scene object names are said."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

#: words that make a grammar transcript a stop (see also :mod:`robot_agent.speech.stops`)
STOP_WORDS = ("stop", "halt")

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def normalize_words(text: str) -> list[str]:
    """Lower-case words of ``text``: accents folded to ASCII, punctuation dropped.

    Underscores and hyphens separate words (``"red_block"`` -> ``["red", "block"]``);
    apostrophes inside words stay (``"don't"``).
    """
    decomposed = unicodedata.normalize("NFKD", str(text).replace("\u2019", "'"))
    folded = "".join(c if ord(c) < 128 else ("" if unicodedata.combining(c) else " ") for c in decomposed)
    folded = folded.lower().replace("_", " ").replace("-", " ")
    return _WORD_RE.findall(folded)


def has_stop_word(text: str, stop_words: Iterable[str] = STOP_WORDS) -> bool:
    """True when one of ``stop_words`` (a word, or a phrase of several) occurs in ``text``."""
    words = normalize_words(text)
    for phrase in stop_words:
        p = normalize_words(phrase)
        if p and any(words[i : i + len(p)] == p for i in range(len(words) - len(p) + 1)):
            return True
    return False


_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> list[str]:
    """English words of a whole number 0..999 (``42`` -> ``["forty", "two"]``)."""
    if not 0 <= n <= 999:
        raise ValueError(f"number_words covers 0..999, got {n}")
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10 - 2]] + ([_ONES[n % 10]] if n % 10 else [])
    return [_ONES[n // 100], "hundred"] + (number_words(n % 100) if n % 100 else [])


def object_phrase(name: str) -> str:
    """How an operator says a scene object's name.

    ``"red_block"`` -> ``"red block"``, ``"mugHandle"`` -> ``"mug handle"``,
    ``"cup2"`` -> ``"cup two"``.
    """
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(name))
    spaced = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", spaced)
    out: list[str] = []
    for w in normalize_words(spaced):
        if w.isdigit():
            out.extend(number_words(int(w)) if len(w) <= 3 else [_ONES[int(c)] for c in w])
        else:
            out.append(w)
    return " ".join(out)
