"""Words that judge rather than ask: "that's grand", "fab", "nice one", "lovely" approve of what
the robot does; "awful", "that's wrong" do not. A sentence model places "that's grand" nowhere in
particular; WordNet says "grand" (in one sense) is similar to "good", "fab" to "pleasing".

An utterance is an evaluation when every word but a closed class of function words ("that",
"is", "looks", "really", "one", "job"...) is an adjective or adverb WordNet knows; it approves when
one of them is, or is similar to, one of a few head senses (good, satisfactory, correct, nice,
perfect, excellent) and none is negated or disapproving (bad, incorrect, unsatisfactory).
:func:`approval` gives +1, -1 or 0; the layer makes "keep going" win on +1.
"""

from __future__ import annotations

import re
from functools import lru_cache

from robot_agent.language import verbs, wordnet
from robot_agent.language.polarity import SCARCELY

#: head senses of approval and disapproval: (lemma, how the definition starts), adjectives and adverbs
APPROVE = (
    ("good", "having desirable or positive qualities"),
    ("satisfactory", "giving satisfaction"),
    ("correct", "free from error"),
    ("nice", "pleasant or pleasing"),
    ("perfect", "being complete of its kind"),
    ("excellent", "very good"),
    ("pleasing", "giving pleasure and satisfaction"),
    ("superior", "of high or superior quality"),
    ("beautiful", "delighting the senses"),
    ("well", "(often used as a combining form) in a good or proper"),
    ("right_on", "an interjection expressing agreement"),
)
DISAPPROVE = (
    ("bad", "having undesirable or negative qualities"),
    ("incorrect", "not correct"),
    ("unsatisfactory", "not giving satisfaction"),
    ("wrong", "not correct"),
)
#: words an evaluation may hold besides its judging words
_FUNCTION = frozenset(
    "that that's thats this it it's its is was be looks look looking seems seem sounds sound feels feel "
    "very really so just quite pretty totally absolutely exactly real one a an job work done going "
    "thanks thank you cheers yes yeah yep yup oh wow ah now there all mate buddy i i'm think is that's "
    "we we're good to me for by us ta ok okay far the that'll that'd do".split()
) - {"good"}
#: asking to go on as it is ("carry on", "keep going"): what an approval asks for
_GO_ON = re.compile(r"\b(?:carry on|keep going|keep at it|go on|continue|proceed|as you were|crack on)\b")
#: what was wanted, got ("right where I wanted it", "that's the mug I was after"): approval
_WANTED = re.compile(
    r"\b(?:(?:right|just|exactly)\s+)?(?:where|what|how|the one|the \w+)\s+(?:i|we)\s+"
    r"(?:wanted|meant|asked for|was after|were after|had in mind|needed)\b(?:\s+(?:it|them))?"
)
#: a sense defined as a degree of good ("very good", "extraordinarily good or great", "extremely pleasing")
_GOOD_GENUS = re.compile(r"^(?:\w+ly\s+)?(?:very\s+)?(?:good|pleasing)\b")
_NEGATION = re.compile(r"\b(?:not|no|never|isn't|wasn't|ain't|n't)\b")


@lru_cache(maxsize=1)
def _heads() -> tuple[frozenset[int], frozenset[int]]:
    wn = wordnet.load()
    if wn is None:
        return frozenset(), frozenset()

    def find(specs: tuple[tuple[str, str], ...]) -> frozenset[int]:
        out = set()
        for lemma, start in specs:
            for pos in ("a", "r"):
                for s in wn.synsets(lemma, pos):
                    if lemma in s.lemmas and s.definition.startswith(start):
                        out.add((pos, s.offset))
        return frozenset(out)

    return find(APPROVE), find(DISAPPROVE)


@lru_cache(maxsize=4096)
def judges(word: str) -> int | None:
    """+1 / -1 when ``word`` judges, 0 when it is an adjective or adverb that does not, None when
    WordNet knows it as neither."""
    wn = wordnet.load()
    if wn is None:
        return None
    good, bad = _heads()
    senses = [("a", s) for s in wn.synsets(word, "a")] + [("r", s) for s in wn.synsets(word, "r")]
    if not senses:
        return None
    for pos, s in senses:
        keys = {(pos, s.offset)} | {("a", o) for o in s.similar}
        if keys & good or _GOOD_GENUS.match(s.definition):
            return 1
        if keys & bad:
            return -1
    if word.endswith("ly") and len(word) > 4:
        # an adverb judges as its adjective does ("nicely", "badly", "perfectly", "happily")
        for stem in (word[:-2], word[:-3] + "y", word[:-2] + "e"):
            if wn.synsets(stem, "a"):
                return judges(stem) or 0
    return 0


#: words that say where the thing being handled is ("on the tray's fine"), with its own nouns
_WHERE = frozenset("the on in onto into there here where spot place position".split())


#: particles of a phrasal verb ("lined up", "set down"): part of the verb, not a direction
_PARTICLES = frozenset("up down in out on off over away".split())


def _without_result_verbs(words: list[str]) -> list[str]:
    """``words`` without past participles that only say what was done ("lined up", "placed",
    "set down"), with their particle: a judging word beside them still judges ("lined up nicely",
    "placed badly"). A participle WordNet also knows as a judging adjective stays."""
    wn = wordnet.load()
    if wn is None:
        return words
    out: list[str] = []
    skip = False
    for i, w in enumerate(words):
        if skip:
            skip = False
            continue
        if w.endswith(("ed", "en")) and wn.base_forms(w, "v") and judges(w) in (None, 0):
            skip = i + 1 < len(words) and words[i + 1] in _PARTICLES
            continue
        out.append(w)
    return out


def approval(text: str, about: frozenset[str] = frozenset()) -> int:
    """+1: the utterance only approves ("that's grand", "nice one"); -1: it only disapproves;
    0: it says something else (or WordNet is not installed). ``about``: words naming the object
    being handled and its target ("on the tray's fine, nice" judges where the tray is)."""
    low = _ALLOWED.sub("", _going_on(text.lower().replace("’", "'")))  # "you may proceed": proceed
    low = _WANTED.sub("good", _GO_ON.sub("good", low))
    words = re.findall(r"[a-z]+(?:'[a-z]+)?", low)
    if about:
        named = [w.removesuffix("'s") in about for w in words]
        if any(named):
            words = [w.removesuffix("'s") for w, n in zip(words, named, strict=True) if not n]
            words = [w for w in words if w not in _WHERE]
    if not words or len(words) > 6:
        return 0
    if "right" in words and "on" in words:
        words = [w for w in words if w != "on"] + ["right_on"]  # the interjection, as WordNet spells it
    words = _without_result_verbs(words)  # "that's lined up nicely": how it was done is judged
    acts = _acts_judged(words)
    content = [w for i, w in enumerate(words) if w not in _FUNCTION and i not in acts]
    if not content:
        return 0
    # A word that names a correction ("easy" = slower, "right" = a direction, "high") makes it no
    # mere judgement; "right" that judges ("looks about right", "right on") is the exception.
    from robot_agent.language.polarity import ANCHORS
    from robot_agent.language.structure import right_judged

    said = {w for values in ANCHORS.values() for ws in values.values() for w in ws}
    if any(w in said and not (w in ("right", "right_on") and right_judged(low)) for w in content):
        return 0
    votes = [judges(w) for w in content]
    if any(v is None for v in votes) or not any(votes):
        return 0
    sign = 1 if all(v >= 0 for v in votes) and any(v > 0 for v in votes) else -1 if all(v <= 0 for v in votes) else 0
    return -sign if _NEGATION.search(low) else sign


_CLAUSE = re.compile(r"[^,;.!?]+")
#: leave to go on ("you may proceed", "feel free to carry on"): the going on it allows
_ALLOWED = re.compile(r"\b(?:you (?:may|can|could)(?: now)?|feel free to)\s+(?=(?:carry on|go on|continue|proceed)\b)")
_THE = frozenset("the that this your its".split())


def _acts_judged(words: list[str]) -> set[int]:
    """Where a noun for what the arm did follows "the/that/this/your" and is judged by the rest
    ("the placement is satisfactory", "that approach was excellent"): one of its first two senses
    is an act, an event or an attribute (WordNet's "placement" is first "the spatial property of
    the way in which something is placed")."""
    wn = wordnet.load()
    if wn is None:
        return set()
    out = set()
    for i in range(1, len(words)):
        if words[i - 1] in _THE and any(
            s.lexname in ("noun.act", "noun.event", "noun.attribute") for s in wn.synsets(words[i], "n")[:2]
        ):
            out.add(i)
    return out


def _going_on(low: str) -> str:
    """Each clause that is a bare command to go on ("go ahead", "press on": :func:`verbs.continuing`)
    as "carry on", which :data:`_GO_ON` reads as approval."""
    return _CLAUSE.sub(lambda m: " carry on " if verbs.continuing(m.group(0)) else m.group(0), low)


#: what was done fell short ("you barely moved it", "it hardly went in"): no approval
_SHORT = re.compile(rf"\b(?:{SCARCELY}|not (?:far|high|low|much) enough)\b")
#: what "keep going" gains (and a model-made stop and every other meaning lose) on approval
APPROVAL_BONUS = 0.3


#: words that change or point at something, which no idle clause of an approval says
_POINTS = re.compile(
    r"\d|\b(?:other|instead|again|more|less|too|not|no|don't|never|wait|stop|but|first|next|then|now|only)\b"
)


def whole_approval(text: str) -> int:
    """+1 when an utterance of several clauses approves in one or more and says nothing else in the
    others ("Splendid. Yes, right there, that's just how I'd have done it myself"; "Good, that's nice
    and shut. Well done, robot."): each other clause is idle, with no verb that acts on things, no
    word of a correction, no number and no thing named. 0 otherwise (what :func:`approval` says of
    one short clause is left to it)."""
    from robot_agent.language import nouns
    from robot_agent.language.polarity import ANCHORS
    from robot_agent.language.structure import right_judged

    parts = [p.strip() for p in _CLAUSE.findall(text.lower().replace("’", "'")) if p.strip()]
    votes = [approval(p) for p in parts]
    if len(parts) < 2 or -1 in votes or 1 not in votes:
        return 0
    anchors = {w for values in ANCHORS.values() for ws in values.values() for w in ws}
    for p, v in zip(parts, votes, strict=True):
        if v:
            continue
        reading = verbs.read(p)
        acts = [x for x in reading.verbs if x not in reading.foreign and x not in verbs.LIGHT and x != "do"]
        words = set(re.findall(r"[a-z]+", p))
        if acts or _POINTS.search(p) or (words & anchors and not right_judged(p)):
            return 0
        if any(nouns.head_noun(f"the {m}") for m in re.findall(r"\b(?:the|a|an|that|this|your|my)\s+([a-z]+)", p)):
            return 0  # "nice, the mug": a thing named is no judgement
    return 1


#: a correction that starts by saying no ("not that one", "nah, the other", "wrong one")
_DENIED = re.compile(r"^\W*(?:no|nope|nah|not|wrong|never)\b")


def rescore(text: str, cands: list, scores: list[float], about: frozenset[str] = frozenset()) -> list[float]:
    """Correction scores with an evaluation weighed: approval makes "keep going" the meaning (a
    stop word is decided before any scoring, so this never cancels a stop the word list knows);
    disapproval rules "keep going" out. ``about``: see :func:`approval`."""
    a = approval(text, about) or whole_approval(text)
    low = text.lower()
    if a > 0 and _GO_ON.search(low) and (_SHORT.search(low) or approval(_GO_ON.sub(" ", low), about) < 0):
        a = -1  # "you barely moved it, keep going": go on further, no approval of what was done
    if a == 0 and _DENIED.match(low):
        # "not that one, the other one": said against what is happening, never an approval of it
        return [s - APPROVAL_BONUS if c.family == "confirm" else s for c, s in zip(cands, scores, strict=True)]
    if a == 0:
        return scores
    out = list(scores)
    for i, c in enumerate(cands):
        if c.family == "confirm":
            out[i] += APPROVAL_BONUS if a > 0 else -APPROVAL_BONUS
        elif a > 0:
            out[i] -= APPROVAL_BONUS if c.family == "stop" else APPROVAL_BONUS / 3
    return out
