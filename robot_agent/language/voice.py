"""A request said in the passive or as a wish about a thing, said as the imperative it means.

Protocols and formal speech ask for an act without naming who does it: "the larger cube shall be
held in the gripper", "all loose items are to be placed in the drawer", "subsequently the drawer
should be closed", "the approach height ought to be raised by 3 cm". Everyday speech does the same
with a wish or a need: "I'd like the mug moved to the tray", "that drawer needs closing". The rest of
the layer reads requests by their verb at the front, so these are turned round: "hold the larger
cube in the gripper", "place all loose items in the drawer", "subsequently close the drawer",
"raise the approach height by 3 cm", "move the mug to the tray", "close that drawer".

What makes it a request is closed-class syntax: an auxiliary of obligation ("is/are to be",
"should/shall/must/ought to/needs to/has to be") before a past participle, "need(s)/want(s)"
before a gerund, or "I/we want/need/would like" before a thing and a participle. Which word is the
participle, and which verb it is a form of, WordNet says (its morphology and exception lists), so
any verb works. Prediction and possibility ("it will be crushed", "it can be dropped") are never
turned round: they ask for nothing. "should not be moved" becomes "don't move".
"""

from __future__ import annotations

import re

from robot_agent.language import wordnet

#: an auxiliary of obligation before "be" (never "will", "can", "may": they predict)
_OBLIGED = re.compile(
    r"\b(?P<aux>(?:is|are|am|was|were)\s+(?P<neg1>not\s+)?to|should(?P<neg2>\s+not|n't)?|shall(?P<neg3>\s+not)?|"
    r"must(?P<neg4>\s+not|n't)?|ought(?P<neg5>\s+not|n't)?\s+to|needs?\s+to|has\s+to|have\s+to)\s+be\s+"
    r"(?P<adv>(?:[a-z]+ly\s+)?)(?P<part>[a-z]+)\b",
    re.IGNORECASE,
)
#: "that drawer needs closing", "the mug wants moving"
_NEEDS_ING = re.compile(r"\b(?:needs|need|wants)\s+(?P<part>[a-z]+ing)\b", re.IGNORECASE)
#: "I'd like the mug moved", "we need the drawer opened": the thing, then its participle
_WISH = re.compile(
    r"^(?P<lead>.*?)\b(?:i|we)(?:(?:'d|\s+would)\s+(?:like|prefer)|\s+(?:want|need))\s+(?P<tail>.+)$", re.IGNORECASE
)
#: past participles the same as the base form (no inflection marks them)
_SAME_FORM = frozenset("put set shut cut let hit spread split thrust cast".split())
_DETERMINERS = frozenset(
    "the a an all both each every this that these those its it they them my your our his her their any some "
    "everything anything".split()
)
_OBJECT_FORM = {"they": "them", "he": "it", "she": "it", "we": "us", "i": "me"}
#: words after a participle that show it ends the thing's phrase ("the mug moved to the tray")
_AFTER = frozenset(
    "to into in on onto off out up down away back over under at from by with next beside behind near first last "
    "again now then please gently carefully slowly there here".split()
)


def _participle(word: str, ing: bool = False) -> str | None:
    """The base form of a past participle (or gerund when ``ing``), or None."""
    w = word.lower()
    wn = wordnet.load()
    if wn is None:
        return None
    if not ing and w in _SAME_FORM:
        return w
    if ing != w.endswith("ing"):
        return None
    bases = [b for b in wn.base_forms(w, "v") if b != w]
    return bases[0] if bases else None


#: words that open a phrase leading the clause ("as a general rule,", "per the last trial,"), not a thing
_LEADING = frozenset("as per with for in after once before when following upon at on".split())


def _adverb(word: str) -> bool:
    """A word leading a clause as an adverb ("subsequently", "then"), not a thing's first word."""
    w = word.lower()
    wn = wordnet.load()
    if wn is None or w in _DETERMINERS or not wn.synsets(w, "r"):
        return False
    return not wn.synsets(w, "n") or w.endswith("ly") or w in ("then", "now", "first", "next")


def _lead_and_subject(prefix: str) -> tuple[str, str, str] | None:
    """Split what comes before the auxiliary into what leads the clause ("As a general rule,",
    "Subsequently"), the thing ("the drawer") and what follows it (", now empty,"): the thing is
    the last comma-separated part that starts (after adverbs) with a determiner, else with a noun;
    the parts after it say more about it."""
    wn = wordnet.load()
    if wn is None:
        return None
    parts = prefix.split(",")
    for determined in (True, False):
        for i in range(len(parts) - 1, -1, -1):
            words = parts[i].split()
            if not words or words[0].lower() in _LEADING:
                continue
            j = 0
            while j < len(words) - 1 and _adverb(words[j]):
                j += 1
            head = words[j].lower()
            if head in _DETERMINERS if determined else (wn.synsets(head, "n") and not _adverb(head)):
                lead = ", ".join(p.strip() for p in parts[:i]) + ("," if i else "") + " " + " ".join(words[:j])
                after = ",".join(parts[i + 1 :])
                thing = " ".join([head if determined else words[j], *words[j + 1 :]])
                return lead.strip(), thing, ("," + after if after.strip() else "")
    return None


def _clause(clause: str) -> str:
    """One clause said as an imperative when it is a request in the passive, a need said with a
    gerund or a wish about a thing (see the module doc); else as it is."""
    m = _OBLIGED.search(clause)
    if m is not None:
        base = _participle(m.group("part"))
        split = _lead_and_subject(clause[: m.start()]) if base else None
        if base and split is not None:
            lead, thing, after = split
            thing = _OBJECT_FORM.get(thing.lower(), thing)
            negated = any(m.group(g) for g in ("neg1", "neg2", "neg3", "neg4", "neg5"))
            verb = ("don't " if negated else "") + base
            adv = m.group("adv").strip()
            out = f"{lead} {verb} {thing}{after} {adv} {clause[m.end() :].strip()}"
            return re.sub(r",\s*(?=[.!?;]|$)", "", re.sub(r"\s+", " ", out).strip())  # no comma at the end
    m = _NEEDS_ING.search(clause)
    if m is not None:
        base = _participle(m.group("part"), ing=True)
        split = _lead_and_subject(clause[: m.start()]) if base else None
        if base and split is not None:
            lead, thing, after = split
            return re.sub(r"\s+", " ", f"{lead} {base} {thing}{after} {clause[m.end() :].strip()}").strip()
    m = _WISH.match(clause)
    words = m.group("tail").split() if m is not None else []
    if m is not None and words[0].lower() in _DETERMINERS:
        for k in range(1, min(5, len(words))):  # the thing: its determiner and up to four words
            base = _participle(words[k].strip(",.!?"))
            rest = " ".join(words[k + 1 :])
            nxt = (re.findall(r"[a-z]+", rest.lower()) or [""])[0]
            if base and (not rest.strip(" .!?") or nxt in _AFTER):
                thing = " ".join(words[:k])
                return re.sub(r"\s+", " ", f"{m.group('lead')} {base} {thing} {rest}").strip()
    return clause


def active(text: str) -> str:
    """``text`` with each passive or wished-for request said as an imperative (see the module
    doc); everything else as it is."""
    if not re.search(r"\bbe\s+[a-z]|\b(?:needs|need|wants)\s+[a-z]+ing\b|\b(?:want|need|like|prefer)\b", text, re.I):
        return text
    pieces = re.split(r"([.;!?]+\s*)", text)
    return "".join(_clause(p) if i % 2 == 0 and p.strip() else p for i, p in enumerate(pieces))
