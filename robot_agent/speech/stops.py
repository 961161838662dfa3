"""Stop-like words: what halts the arm when it is heard, in any decode of an utterance.

Halting is the safe side: a transcript in which any decode (the grammar's, the open
vocabulary's) or the keyphrase spotter hears one of these is a stop, whatever else it says.
The text check is :func:`robot_agent.corrections.is_stop` (the same one the correction
parser applies to typed text: "freeze", "hold on", "don't move", "no no"... but not
"don't stop") plus the phrase list below for the grammar's own words.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from robot_agent.speech.text import normalize_words

#: stop-like phrases the grammar accepts and :func:`find_stop_phrase` finds in a transcript
STOP_PHRASES: tuple[str, ...] = (
    "stop", "halt", "freeze", "wait", "hold on", "whoa", "abort", "don't move",
    "no no", "cancel", "enough",
)

#: keyphrases of the stop spotter and their keyword-search thresholds (smaller = more sensitive),
#: chosen on espeak-ng speech of several voices by scripts/tune_stop_spotter.py (docs/speech.md)
STOP_KEYPHRASES: dict[str, float] = {
    "stop": 1e-12,
    "halt": 1e-5,
    "freeze": 1e-5,
    "wait": 1e-5,
    "hold on": 1e-5,
    "whoa": 1e-5,
    "abort": 1e-5,
    "don't move": 1e-5,
}


def find_phrase(words: Sequence[str], phrases: Iterable[str]) -> str | None:
    """The first of ``phrases`` whose words occur contiguously in ``words``, or None."""
    for phrase in phrases:
        p = normalize_words(phrase)
        n = len(p)
        if n and any(list(words[i:i + n]) == p for i in range(len(words) - n + 1)):
            return " ".join(p)
    return None


def find_stop_phrase(text: str, phrases: Iterable[str] = STOP_PHRASES) -> str | None:
    """The stop-like phrase heard in ``text`` ("freeze", "hold on"...), or None.

    A phrase of ``phrases`` found in the words of ``text`` counts, and so does anything
    :func:`robot_agent.corrections.is_stop` takes for a stop (then the whole text is
    returned). "don't stop" is not a stop; "stop" inside a longer sentence is.
    """
    from robot_agent.corrections import is_stop

    words = normalize_words(text)
    if not words:
        return None
    if "stop" in words and not is_stop(" ".join(words)):
        return None  # a negated stop ("don't stop"): the parser's reading
    found = find_phrase(words, phrases)
    if found is not None:
        return found
    return " ".join(words) if is_stop(" ".join(words)) else None
