"""Stop-like words: what halts the arm when it is heard, in any decode of an utterance.

Halting is the safe side: a transcript in which any decode (the grammar's, the open
vocabulary's) or the keyphrase spotter hears one of these is a stop, whatever else it says.
The text check is :func:`robot_agent.language.grammar.is_stop` (the same one the correction
parser applies to typed text: "freeze", "hold on", "don't move", "no no"... but not
"don't stop") plus the phrase list below for the grammar's own words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from robot_agent.speech.text import normalize_words

#: stop-like phrases the grammar accepts and :func:`find_stop_phrase` finds in a transcript
STOP_PHRASES: tuple[str, ...] = (
    "stop",
    "halt",
    "freeze",
    "wait",
    "hold on",
    "whoa",
    "abort",
    "don't move",
    "no no",
)

#: keyphrases of the stop spotter and their keyword-search thresholds (smaller = more sensitive),
#: chosen on espeak-ng speech by scripts/tune_stop_spotter.py (docs/speech.md). Only phrases the
#: keyword search tells apart from ordinary corrections are here: "freeze", "wait" and "whoa" fired on
#: 4 to 24 of 132 corrections at any threshold that caught them ("please" rhymes with "freeze"),
#: "abort" caught 2 of 4 and fired on "open the drawer" phrases (in en-gb "drawer" is near "abroad"),
#: "hold on" only below 1e-35, where it also fired on "pull harder" and "go higher", and "don't move"
#: was caught in 1 of 3 voices; those are left to the transcripts and to the acoustic check of
#: robot_agent.speech.hear (a stop-like phrase that explains the audio as well as the transcripts).
STOP_KEYPHRASES: dict[str, float] = {
    "stop": 1e-12,
    "halt": 1e-12,
}


def find_phrase(words: Sequence[str], phrases: Iterable[str]) -> str | None:
    """The first of ``phrases`` whose words occur contiguously in ``words``, or None."""
    for phrase in phrases:
        p = normalize_words(phrase)
        n = len(p)
        if n and any(list(words[i : i + n]) == p for i in range(len(words) - n + 1)):
            return " ".join(p)
    return None


def find_stop_phrase(text: str, phrases: Iterable[str] = STOP_PHRASES) -> str | None:
    """The stop-like phrase heard in ``text`` ("freeze", "hold on"...), or None.

    A phrase of ``phrases`` found in the words of ``text`` counts, and so does anything
    :func:`robot_agent.language.grammar.is_stop` takes for a stop (then the whole text is
    returned). "don't stop" is not a stop; "stop" inside a longer sentence is.
    """
    from robot_agent.language.grammar import is_stop

    words = normalize_words(text)
    if not words:
        return None
    if "stop" in words and not is_stop(" ".join(words)):
        return None  # a negated stop ("don't stop"): the parser's reading
    found = find_phrase(words, phrases)
    if found is not None:
        return found
    return " ".join(words) if is_stop(" ".join(words)) else None
