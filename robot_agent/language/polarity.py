"""Which way: the value of a meaning family read from the words themselves.

Sentence embeddings place "go faster" and "go slower" almost on top of each other: they are
about the same thing. The direction of a change is carried by a few words (left, higher,
quick, further) and by how the sentence frames them: a request ("quicker, please") asks for
the word, a complaint ("that's too quick", "not so fast") asks for its opposite. Here each
value of a family has anchor words; the utterance's own word vectors (contextual, from the
same model) are matched against them, so "leftward", "quickly" or "lower down" find their
anchor without being listed, and an excess marker flips the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

#: family -> value -> anchor words
ANCHORS: dict[str, dict[str, tuple[str, ...]]] = {
    "move": {
        "left": ("left",),
        "right": ("right",),
        "forward": ("forward", "ahead"),
        "back": ("back", "backward"),
        "up": ("up", "high", "higher", "raise"),
        "down": ("down", "low", "lower"),
    },
    "speed": {
        "slower": ("slow", "slower", "slowly", "steady", "gently", "easy"),
        "faster": ("fast", "faster", "quick", "quickly", "hurry", "rush", "rushing"),
    },
    "pull": {"more": ("more", "far", "further", "wider"), "less": ("less",)},
    "push": {"more": ("more", "far", "further", "farther"), "less": ("less",)},
    "place_height": {"lower": ("low", "lower", "down"), "higher": ("high", "higher", "up")},
    "lift": {"lower": ("low", "lower", "less"), "higher": ("high", "higher", "more")},
    "approach": {"lower": ("low", "lower", "closer"), "higher": ("high", "higher", "up")},
    "rotate": {"clockwise": ("clockwise",), "counterclockwise": ("counterclockwise", "anticlockwise")},
    "grasp": {
        "handle": ("handle",),
        "rim": ("rim", "lip"),
        "top": ("top", "above"),
        "side": ("side",),
        "center": ("middle", "centre", "center", "body"),
    },
    "stack_key": {
        "largest": ("largest", "biggest", "bigger", "larger", "big", "large", "widest"),
        "smallest": ("smallest", "littlest", "smaller", "small", "little", "narrowest"),
    },
}
#: a part said in a phrase of its own ("by the ear", "round its belly"), whatever the word
_PART_SAID = re.compile(r"\b(?:by|at|from|round|around|on)\s+(?:the|its|that|this)\s+[a-z]+")
#: families a sentence means only when it names their value (a part to grasp by)
NAMED_ONLY = {"grasp"}
#: families whose value a negation or a complaint does not turn around (a part is a part)
NO_INVERSION = {"grasp", "stack_key"}
OPPOSITE = {
    "left": "right",
    "right": "left",
    "forward": "back",
    "back": "forward",
    "up": "down",
    "down": "up",
    "slower": "faster",
    "faster": "slower",
    "more": "less",
    "less": "more",
    "lower": "higher",
    "higher": "lower",
    "clockwise": "counterclockwise",
    "counterclockwise": "clockwise",
}
#: a word this close to an anchor counts as saying it
WORD_MATCH = 0.72
#: and this much closer than to any other value's anchor
WORD_MARGIN = 0.06
#: what the chosen value gains over its family's best rendering, and the other values lose
BONUS, PENALTY = 0.05, 0.12

_EXCESS = re.compile(
    r"\b(?:too|overly|excessively|not so|not that|not as|way over)\b"
    # a negated "so"/"that" + gradable word: "don't lift it so high", "never go that fast"
    r"|\b(?:don'?t|do not|never|no need to)\b[\w\s']*?\b(?:so|that)\s+(?:high|low|fast|quick|slow|far|much|hard)\b"
)
#: a negated request about the manner ("no need to hurry", "don't rush"; "no rush", "no faster than
#: this": "no" said of the manner word itself); for directions the negation's scope is too often
#: another verb ("don't let go until it's down") to turn them
_NEGATED_MANNER = re.compile(r"\b(?:no need to|don't|do not|never)\b|\bno\s+(?!no\b|way\b)[a-z]")
#: "no need to" before a height asks for less of it ("no need to lift it all the way up": lower)
_NO_NEED = re.compile(r"\b(?:no need to|needn't|don't need to|do not need to)\b")
#: the families whose values are heights of a skill's stages
_HEIGHTS = frozenset({"place_height", "lift", "approach"})
#: a description of how the robot moves now ("you're rushing it") is a complaint about it
_COMPLAINT = re.compile(r"\b(?:you're|you are|it's|it is|that's|that is)\s+(?:\w+\s+)?\w+ing\b")
#: a warning of what will happen ("you'll knock it over coming in that fast", "it's gonna topple"):
#: the manner said is the fault, not the request ("you'll need to ..." is a request)
_WARNING = re.compile(
    r"\b(?:you'?ll|you will|it'?ll|it will|(?:you'?re|it'?s|you are|it is|that'?s|that is)\s+(?:gonna|going to))\s+"
    r"(?!need\b|have\b|want\b|be (?:fine|ok|okay|good|alright|all right)\b)[a-z]"
)
#: where the arm is now, said as a fault ("you're off to the right a touch", "drifting left",
#: "you're way over to the left"): the correction is the other way
_DEVIATION = re.compile(
    r"\b(?:off|drifting|drifted|veering|veered|straying|strayed|sitting|landing)\s+(?:a (?:bit|touch|little|tad)\s+|"
    r"slightly\s+|too far\s+)?(?:to(?:wards)? the\s+)?(?:left|right|forward|back|high|low)\b"
    r"|\b(?:you'?re|you are)\s+(?:a (?:bit|touch|little|tad)\s+|slightly\s+|way\s+|well\s+|miles\s+)?"
    r"(?:(?:out|over)\s+)?(?:to the\s+)?(?:left|right|high|low)\b"
)
#: a gradable word in its plain form after a degree word ("a bit low", "slightly fast") describes
#: what is wrong; the comparative ("a bit lower") asks for the change
_STATE = re.compile(
    r"\b(?:a (?:bit|touch|little|tad)|a little bit|slightly|rather|quite|somewhat|kind of|sort of|fairly|pretty)\s+"
    r"(?:low|high|fast|quick|slow|far|close|deep|shallow)\b"
)
#: where it comes from now, said plain ("dropping it from a mile up", "from way up high"): a fault
#: described, unlike the comparative that asks ("come down from higher up")
_FROM_HIGH = re.compile(r"\bfrom\s+(?:(?:a mile|miles|way|so|all the way|really|that|up)\s+)*(?:up|high|above)\b")
_LARGE = re.compile(
    r"\b(?:a lot|lots|loads|heaps|way|much|far|well|significantly|considerably|a good bit|a good way|"
    r"a fair amount|quite a bit|a good deal)\b"
)
_TINY = re.compile(r"\b(?:tiny|teeny|hair|smidge|smidgen|barely|fraction|slightest|ever so)\b")


def describes_fault(text: str) -> bool:
    """The words describe what is wrong now ("you're a touch to the right", "it's going a bit fast"),
    so the change asked for is the other way: a word-spotting reading must not be taken as said."""
    low = text.lower()
    return bool(_DEVIATION.search(low) or _STATE.search(low) or _COMPLAINT.search(low) or _WARNING.search(low))


#: an amount said with its unit ("three centimetres", "2 cm", "half an inch")
_AMOUNT = re.compile(
    r"(?:\d+(?:[.,]\d+)?|\b(?:half|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|a couple of|a few)\b)(?:\s+(?:and a half|point \w+))?\s*(?:(?:more|extra)\s+)?"
    r"(?:mm|cm|m|mils?|millimet(?:er|re)s?|centimet(?:er|re)s?|met(?:er|re)s?|inch(?:es)?|\")(?=\W|$)"
)


def amount_said(text: str) -> str:
    """The amount with its unit the utterance says, as said, or ""."""
    m = _AMOUNT.search(text.lower())
    return m.group(0) if m else ""


_NUMBER_WORDS = {
    "half": 0.5, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "a couple of": 2, "a few": 3,
}  # fmt: skip
#: "mil" is the machinist's millimetre (as the grammar's lexicon reads it)
_UNIT_M = (
    ("mm", 0.001), ("milli", 0.001), ("mil", 0.001), ("cm", 0.01), ("centi", 0.01), ("inch", 0.0254), ('"', 0.0254)
)  # fmt: skip


def amount_metres(text: str) -> float | None:
    """The amount with its unit the utterance says, in metres ("five centimetres": 0.05), or None."""
    said = amount_said(text)
    if not said:
        return None
    m = re.match(r"\d+(?:[.,]\d+)?", said)
    word = next((w for w in sorted(_NUMBER_WORDS, key=len, reverse=True) if said.startswith(w)), None)
    if m is None and word is None:
        return None
    value = float(m.group(0).replace(",", ".")) if m is not None else float(_NUMBER_WORDS[word])
    if "and a half" in said:
        value += 0.5
    unit = said[m.end() if m is not None else len(word) :]
    scale = next((f for u, f in _UNIT_M if u in unit), 1.0)
    return value * scale


def magnitude_words(text: str) -> str:
    """The grammar's amount words for how much the utterance asks ("a bit" when it does not say)."""
    low = text.lower()
    if _TINY.search(low):
        return "a tiny bit"
    if _LARGE.search(low):
        return "a lot"
    return "a bit"


#: the motion fell short and is to go on ("still not open enough", "barely open", "it's still
#: sticking out", "not even halfway"): for a family measured as a distance, more of the same
#: the words of "almost not" ("barely", "hardly"): what was done fell short (judgement reads them too)
SCARCELY = r"barely|hardly|scarcely|only just"
_SHORT = re.compile(
    rf"\b(?:still|{SCARCELY}|not (?:\w+\s+)?enough|not even|not quite|not all the way|"
    r"not (?:\w+\s+)?there yet|"
    r"not fully|not far enough|halfway|half way|part way|partway|all the way)\b"
    # a state reached only in part ("it's only open a crack", "slightly open"): not an amount
    # asked for ("only a little push" asks for less)
    r"|\bonly (?:\w+\s+){0,2}?(?:open|opened|out)\b|\b(?:partly|partially|slightly) (?:open|opened|out)\b"
    r"|\b(?:open|opened|out) (?:only )?a crack\b"
)
#: a clause that asks for a change in so many words ("slow down", "go slower", "please speed up")
_REQUEST = re.compile(
    r"^(?:(?:please|just|now|ok|okay|and|so)\s+)*(?:slow|speed|go|move|get|be|take|ease|hurry|make)\b"
)
#: a lift that fell short ("you've barely lifted it", "it hardly cleared the cup")
_SHORT_LIFT = re.compile(rf"\b(?:{SCARCELY})\s+(?:lift|rais|clear|pick|gett?)(?:ed|ing|e)?\b")
#: families whose value says how far a motion goes on
DISTANCE_FAMILIES = ("pull", "push")


def read_value(text: str, query: Any, fam: str, scorer: Any) -> str | None:
    """The value of family ``fam`` the words ask for, or None when they do not say clearly."""
    values = ANCHORS[fam]
    low = _SO_EXCLAIMED.sub(r"\g<pre>too ", text.lower())  # "sooo slow.", "why are you so sluggish today"
    low = _WHY_SO.sub(r"\g<why> too ", low)  # "why is it so slow bro, ...": "so" is no conjunction here
    if fam in DISTANCE_FAMILIES and _SHORT.search(low) and not _EXCESS.search(low):
        return "more"  # it stopped short: go on
    if fam == "lift" and _SHORT_LIFT.search(low):
        return "higher"  # "you've barely lifted it": lifted short of enough
    said = _said(values, low)
    if len(said) == 1:  # the anchor itself was said: no need to compare vectors
        # A complaint turns the word of its own clause around ("it's going too fast"), not a
        # request said beside it ("slow down, you're making me nervous": slower).
        own = [c for c in _CLAUSE.split(low) if _said(values, c)]
        if len(own) == 1 and _turned(fam, said[0], own[0]) == said[0] and _asks(own[0], fam):
            return said[0]
        return _turned(fam, said[0], low)
    if len(said) > 1:
        # "left and right", "up then down": not one value, unless each clause says its own part
        # of one request ("too slow, hurry it along"; "not the body, the handle")
        return _by_clause(fam, values, low)
    words = [w for v in values for w in values[v]]
    sims = scorer.word_match(query, words)
    best: dict[str, float] = {}
    k = 0
    for v, ws in values.items():
        best[v] = float(max(sims[k : k + len(ws)]))
        k += len(ws)
    ranked = sorted(best.items(), key=lambda x: -x[1])
    (v1, s1), s2 = ranked[0], ranked[1][1] if len(ranked) > 1 else 0.0
    if s1 < WORD_MATCH or s1 - s2 < WORD_MARGIN:
        return None
    return _turned(fam, v1, low)


def _asks(clause: str, fam: str) -> bool:
    """The clause is a request ("slow down", "bring it down"), not a description. A direction
    word after a verb is too often its particle ("come back half of that": undo) to count."""
    from robot_agent.language import verbs

    if _BARE_COMPARATIVE.match(clause) and _said(ANCHORS[fam], clause):
        return True  # "bit slower", "a little lower please": the comparative alone is the request
    return bool(_REQUEST.match(clause)) or (fam != "move" and verbs.imperative(clause))


#: a clause that is a comparative with only degree and politeness words about it
_BARE_COMPARATIVE = re.compile(
    r"^(?:(?:please|just|ok|okay|and|a|bit|little|tad|touch|lot|much|way|even|slightly|somewhat|now)\s+)*"
    r"[a-z]+er(?:\s+(?:please|now|still|again))*$"
)


def _said(values: dict[str, tuple[str, ...]], low: str) -> list[str]:
    """The values whose anchor words are said in ``low``."""
    return [v for v, ws in values.items() if any(says(w, low) for w in ws)]


def said_values(fam: str, low: str) -> list[str]:
    """The values of family ``fam`` whose anchor words ``low`` says."""
    return _said(ANCHORS[fam], low)


def says(word: str, low: str) -> bool:
    """``word`` is said in ``low``, as itself or in its plural ("from the sides")."""
    return re.search(rf"\b{re.escape(word)}(?:s|es)?\b", low) is not None


#: "so" said of how it is, in an exclamation ("so slow.", "why are you so sluggish today"): an excess
#: like "too" (the clause splitter would take it for the conjunction of "..., so go left")
_SO_EXCLAIMED = re.compile(
    r"(?P<pre>^|[.!?,;]\s*|\b(?:why are you|why is it|you'?re|you are|it'?s|it is|that'?s|that is|this is)\s+"
    r"(?:being\s+)?)(?:so+|such)\s+(?=[a-z]+\s*(?:[.!?,;]|$|\btoday\b|\bnow\b))"
)
#: asked why it is so ("why is it so slow bro", "why's it this high"): a complaint, whatever follows
_WHY_SO = re.compile(
    r"\b(?P<why>why(?:'s|\s+(?:is|are|was|were))\s+(?:it|you|this|that|he|she|the\s+[a-z]+)(?:\s+being)?)\s+"
    r"(?:so+|such|this|that)\s+(?=(?:high|low|fast|quick|slow|far|close|hard)\b)"
)
#: where one clause ends and the next begins ("too slow, hurry it along"; "not the body but the
#: handle"; "it's low - raise it"; "that's slow so speed up")
_CLAUSE = re.compile(r"\s*(?:[,;:.!?]|\s-+\s|\b(?:but|so|and|then|rather|instead)\b)\s*")
#: a clause that only rules a value out ("not the body", "no, not left")
_RULED_OUT = re.compile(r"^(?:(?:no|nope|oh|uh|um)\s+)*(?:not|never|don't|do not|no)\b")


def _by_clause(fam: str, values: dict[str, tuple[str, ...]], low: str) -> str | None:
    """One value read clause by clause, or None when the clauses disagree.

    Each clause is read on its own (a complaint turns its own word around: "too slow" asks for
    faster); a clause that is only a negation ("not the body") rules its value out. The request is
    the one value left when every clause that names one agrees."""
    asked: set[str] = set()
    ruled_out: set[str] = set()
    for clause in _CLAUSE.split(low):
        said = _said(values, clause)
        if not said:
            continue
        if len(said) > 1:
            return None  # one clause says two values: "left and right" was not split
        if _RULED_OUT.search(clause) and not _EXCESS.search(clause):
            ruled_out.add(said[0])
            continue
        asked.add(_turned(fam, said[0], clause))
    left = asked - ruled_out
    return left.pop() if len(left) == 1 else None


def ruled_out(text: str, fam: str) -> set[str]:
    """Values of ``fam`` a clause negates at its own verb ("don't lower it", "never go any
    faster", "not left"), when no clause asks for a value of it; else nothing. A negation further
    from the value ("don't let go until it's down") rules nothing out: its verb is another."""
    values = ANCHORS[fam]
    out: set[str] = set()
    for clause in _CLAUSE.split(text.lower()):
        if not _said(values, clause):
            continue
        if _NOT_MORE.search(clause) and amount_metres(text) is not None:
            continue  # "12 centimetres only, not more": a limit on the amount said
        m = _RULED_OUT.search(clause)
        if m is None or _EXCESS.search(clause):
            return set()  # a clause asks for a value of it, or says one is too much
        out |= set(_said(values, " ".join(_base(w) for w in clause[m.end() :].split()[:4])))
    return out


def gerund_first(text: str) -> bool:
    """The words start with a verb's -ing form ("lowering it"): after "stop", what to stop doing."""
    first = (re.findall(r"[a-z]+", text.lower()) or [""])[0]
    return first.endswith("ing") and _base(first) != first


def _base(word: str) -> str:
    """A verb's -ing form as its base ("don't bother lowering it": lower), other words as they are."""
    from robot_agent.language import wordnet

    wn = wordnet.load()
    if wn is None or not word.endswith("ing"):
        return word
    return next((b for b in wn.base_forms(word, "v") if b != word), word)


def _warned(fam: str, low: str) -> bool:
    """The manner is said inside a warning ("you'll knock it over coming in that fast"), not as a
    request before one ("slower it's gonna fly off", said without a comma)."""
    m = _WARNING.search(low)
    if m is None:
        return False
    at = [x.start() for ws in ANCHORS[fam].values() for w in ws if (x := re.search(rf"\b{re.escape(w)}", low))]
    return not at or min(at) >= m.start()


def _turned(fam: str, value: str, low: str) -> str:
    """``value`` as asked for: the opposite after an excess or negation word ("too fast", "no
    need to hurry"), or, for speed, in a complaint about the current motion ("you're rushing it")."""
    if fam in NO_INVERSION:
        return value
    if (
        _EXCESS.search(low)
        or _DEVIATION.search(low)
        or _STATE.search(low)
        or (fam == "speed" and (_COMPLAINT.search(low) or _NEGATED_MANNER.search(low) or _warned(fam, low)))
        or (fam in _HEIGHTS and _NO_NEED.search(low))  # "no need to start from all the way up there"
        or (fam in _HEIGHTS and _FROM_HIGH.search(low))  # "you're dropping it from a mile up"
    ):
        return OPPOSITE.get(value, value)
    return value


def adjust(text: str, query: Any, cands: Sequence[Any], scores: list[float], scorer: Any) -> list[float]:
    """Scores with each polarity family's value set by the words (see the module doc)."""
    out = list(scores)
    fams: dict[str, list[int]] = {}
    for i, c in enumerate(cands):
        if c.family in ANCHORS:
            fams.setdefault(c.family, []).append(i)
    read = {fam: read_value(text, query, fam, scorer) for fam in fams}
    said = any(v is not None for v in read.values())
    for fam, idx in fams.items():
        value = read[fam]
        negated = ruled_out(text, fam)
        if negated and (value is None or value in negated):  # "don't lower it": never lower ("no rush": slower)
            for i in idx:
                out[i] -= 2 * PENALTY if cands[i].value in negated else 0.0
            continue
        if value is None:
            low = text.lower()
            named = bool(_PART_SAID.search(low)) or any(says(w, low) for ws in ANCHORS[fam].values() for w in ws)
            if fam in NAMED_ONLY and not named:  # no part named: no change of grasp ("do the block first")
                for i in idx:
                    out[i] -= PENALTY
                continue
            if said:  # another family's words were said ("too high"), not this one's
                for i in idx:
                    out[i] -= PENALTY / 2
            continue
        top = max(out[i] for i in idx)
        for i in idx:
            out[i] = top + BONUS if cands[i].value == value else out[i] - PENALTY
    if "place_height" in fams and "approach" in fams:
        out = _release_or_descent(text.lower(), cands, out)
    return out


#: words about where a placing arm starts to come down, and about where it lets go
_DESCENT = re.compile(
    r"\b(?:approach\w*|descen\w*|(?:come|coming|came) in|start\w*|"
    r"from (?:higher|lower|above|further|farther))\b"
)
_RELEASE = re.compile(
    r"\b(?:let(?:ting)? (?:it |them )?go|drop\w*|releas\w*|(?:put|set|lay)(?:ting)? (?:it |them )?down)\b"
)


def _release_or_descent(low: str, cands: Sequence[Any], scores: list[float]) -> list[float]:
    """While placing, a height said with letting go ("let go higher up", "you're dropping it from
    way up") is the release height, one said with coming down ("start the descent lower") the
    approach: the sentence model hears both as "higher"/"lower"; the other family loses."""
    descent, release = bool(_DESCENT.search(low)), bool(_RELEASE.search(low))
    if descent == release:
        return scores
    loser = "place_height" if descent else "approach"
    return [s - PENALTY if c.family == loser else s for c, s in zip(cands, scores, strict=True)]


#: words that make an amount a change of the distance, not the distance ("two centimetres further")
_COMPARATIVE = re.compile(r"\b(?:further|farther|more|less|extra|another|again|longer|shorter|harder|wider|deeper)\b")
_NOT_MORE = re.compile(r"\b(?:not|no|nothing|never)\s+(?:any\s+)?(?:more|further|farther|longer|less)\b")


def distance_said(text: str, fam: str, c: Any) -> Any:
    """``c`` with a distance family's change sized by the amount said: "push it five centimetres"
    is a push of 5 cm; with a comparative word the amount is the change ("further, ten more
    centimetres": 10 cm more, not the default step). ``c`` unchanged when no amount is said or it
    is beyond the parameter's limits."""
    from skills.params import SKILL_PARAMS

    metres = amount_metres(text) if fam in DISTANCE_FAMILIES else None
    if metres is None or len(c.parameters) != 1:
        return c
    ((name, change),) = c.parameters.items()
    spec = next((p for p in SKILL_PARAMS.get(c.skill or "", ()) if p.name == name), None)
    if spec is None or "add" not in change or not (spec.low <= metres <= spec.high):
        return c
    # "10 centimetres only, not more": a limit said, no change by the amount
    if _COMPARATIVE.search(_NOT_MORE.sub(" ", text.lower())):
        c.parameters = {name: {"add": math.copysign(metres, float(change["add"]))}}
    else:
        c.parameters = {name: {"set": metres}}
    return c


#: an amount said as a limit ("ten centimetres only", "5 cm, not more", "just 8 cm and no further")
_LIMIT = re.compile(r"\bonly\b|\bjust\b|\bno more than\b|\b(?:not|no|nothing)\s+(?:any\s+)?(?:more|further|farther)\b")


def limit_said(text: str, c: Any) -> Any:
    """``c`` with a distance change of the amount said set, not added, when the amount is said as a
    limit ("pull it 12 centimetres only, not more"); ``c`` as it is otherwise."""
    if len(c.parameters) != 1 or not _LIMIT.search(text.lower()):
        return c
    ((name, change),) = c.parameters.items()
    metres = amount_metres(text)
    if name not in ("pull_distance", "push_distance", "distance") or "add" not in change or metres is None:
        return c
    if abs(abs(float(change["add"])) - metres) > 1e-6 or _COMPARATIVE.search(_NOT_MORE.sub(" ", text.lower())):
        return c
    from skills.params import SKILL_PARAMS

    spec = next((p for p in SKILL_PARAMS.get(c.skill or "", ()) if p.name == name), None)
    if spec is None or not (spec.low <= metres <= spec.high):
        return c  # beyond the limits: the change as read, which the limits then judge
    c.parameters = {name: {"set": metres}}
    return c
