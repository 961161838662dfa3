"""The stop check that runs on every utterance before anything else: :func:`is_stop`."""

from __future__ import annotations

import re

from robot_agent.language.grammar.lexicon import MAX_TEXT_CHARS

_STOP_RE = re.compile(
    r"\b(?:e ?stop|emergency|stop+|halt|freeze|abort|cease|cancel|whoa+|woah+|hold on|hold still|pause|"
    r"hang on(?! to\b)|"
    r"hold it(?= *(?:$|[,.!;?]|right there|now))|hold up(?= *(?:$|[,.!;?]|a (?:sec|second|moment|minute)\b))|"
    r"stay still|stand still|don'?t move|do not move|hands off|"
    r"wait|that'?s enough|that is enough|^ *enough)\b"
)
_STOP_NEG = re.compile(
    r"(?:\b(?:don'?t|do not|never|no need to|needn'?t|won'?t|shouldn'?t|not|without|didn'?t|"
    r"no reason to)|\bnon) (?:\w+ )?$|\bnon ?$"
)
#: "no" alone (or "no no", "nope"), or "don't" with no verb after it ("nooo, don't!", "don't you
#: dare", "please don't do that"): the operator rejects what the arm is doing; halting is the safe side
_NO_NO = re.compile(
    r"^\W*(?:(?:no+|nope|nah)(?:\W+no+)*"
    r"|(?:(?:no+|nope|nah|hey)\W+)*(?:please\W+)?(?:don'?t|do not)"
    r"(?:\W+(?:you dare|do (?:it|that|this)|it|that|this))?)"
    r"\W*$"
)
_STOP_TRANS = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "-": " ", "\u2013": " ", "\u2014": " "})


#: a letter said three or more times over ("stoooop", "freeeeze", "whoooa")
_STRETCHED = re.compile(r"([a-z])\1{2,}")


def destretch(text: str, keep: int = 1) -> str:
    """``text`` with each letter run of three or more cut to ``keep`` letters ("stoooop" ->
    "stop" with 1, "freeeeze" -> "freeze" with 2): a stretched word is said with feeling, not
    another word."""
    return _STRETCHED.sub(lambda m: m.group(1) * keep, text)


def _stop_match(text: str) -> re.Match[str] | None:
    low = text.lower().translate(_STOP_TRANS)
    # A stop said with feeling is still a stop: the stretched letters cut to one, then to two.
    for variant in dict.fromkeys((low, destretch(low, 1), destretch(low, 2))):
        for m in _STOP_RE.finditer(variant):
            if not _STOP_NEG.search(variant[max(0, m.start() - 24) : m.start()]):
                return m
    return None


def is_stop(text: object) -> bool:
    """True when ``text`` asks the arm to stop now ("stop", "halt", "wait", "no", "no no").

    Cheap (one regular-expression search, a few microseconds): meant to run on every
    incoming utterance before full parsing. Negated forms ("don't stop") are not
    stops; anything else containing a stop word is, so an embedded "stop" in a
    longer sentence halts the arm too (the safe side).
    """
    if not isinstance(text, str) or not text:
        return False
    if len(text) > 4 * MAX_TEXT_CHARS:
        text = text[: 4 * MAX_TEXT_CHARS]
    return _stop_match(text) is not None or _NO_NO.match(destretch(text.lower().translate(_STOP_TRANS))) is not None
