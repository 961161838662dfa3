"""What a noun names, by WordNet's taxonomy: the evidence a sentence model lacks for object classes.

MiniLM puts "fridge" near "cabinet" and "the citrus fruits" near every fruit: it knows topics,
not kinds. WordNet knows kinds: an orange is a citrus, a tumbler a glass, a bowl a container;
a fridge is an appliance and a cabinet furniture, related only as artifacts. Each scene object
is described by its nouns (shape noun, category noun, the words of its name), and the head noun
of a phrase is related to them:

* ``1.0`` one is a kind of the other ("citrus" for an orange, "tumbler" for a glass);
* ``0.5`` close kin: their nearest common kind is specific (a "bin" for a tray: both containers;
  a "lime" for a lemon: both citrus), or one's definition names the other ("cupboard" in the
  cabinet's);
* ``0.0`` related only through something as general as "artifact" or "whole": a different thing.

:func:`adjust` turns that into a small change of grounding similarities: kinds gain, different
things lose, so "the fridge" grounds on nothing and is asked about. A noun WordNet does not know
as a physical thing ("thing", "one", a made-up word) changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from robot_agent.language import wordnet
from skills.types import ObjectInfo

#: senses that name physical things
PHYSICAL = frozenset({"noun.artifact", "noun.food", "noun.plant", "noun.object", "noun.shape"})
#: a common kind this close to WordNet's root ("artifact" 4, "instrumentality" 5) says nothing
GENERAL_DEPTH = 5
#: what a kind adds and a different thing loses
BONUS = 0.08
PENALTY = 0.08
#: words after which a noun phrase's head has been said ("the cube closest to the rack": cube)
_CUT = re.compile(
    r"(?:\s*[,;.!?]|\s+(?:on|in|into|onto|at|by|near|next|beside|behind|between|closest|nearest|furthest|"
    r"farthest|from|to|with|that|which|who|of|for|shaped|like|over|under|above|below|and|but|or|then|"
    r"except|not|please|instead|too|first|up|down|away|out|off|aside)\b).*$"
)
_WORD = re.compile(r"[a-z]+")
_SKIP = frozenset("the a an this that these those it one ones thing things stuff object item bit piece".split())


@lru_cache(maxsize=4096)
def _senses(word: str) -> tuple[wordnet.Synset, ...]:
    wn = wordnet.load()
    if wn is None or not word:
        return ()
    return tuple(s for s in wn.synsets(word, "n") if s.lexname in PHYSICAL)


@lru_cache(maxsize=8192)
def _ancestors(pos: str, offset: int) -> dict[int, int]:
    wn = wordnet.load()
    s = wn.synset(pos, offset)
    out = {offset: 0}
    for h, d in wn.hypernym_closure(s, 20):
        out.setdefault(h.offset, d)
    return out


@lru_cache(maxsize=8192)
def _depth(offset: int) -> int:
    """Distance from WordNet's root (the most distant ancestor)."""
    return max(_ancestors("n", offset).values())


def defined_as(head: str, objects: Sequence[ObjectInfo]) -> bool:
    """WordNet defines ``head`` with the noun of one of ``objects`` ("cupboard": "a small room (or
    recess) or cabinet used for storage space", for a cabinet)."""
    heads = {a for s in _senses(head) for a in _ancestors("n", s.offset)}
    # a kind's own definition names what it is a kind of ("pear": "... fruit ..."): that is no link
    words = {
        w.replace("_", " ") for o in objects for w in object_nouns(o) if not {s.offset for s in _senses(w)} & heads
    }
    return any(re.search(rf"\b{re.escape(w)}s?\b", s.definition) for s in _senses(head) for w in words if w)


def noun_phrase(phrase: str) -> str:
    """The noun phrase without what follows its noun ("the teapot on the shelf" -> "the teapot")."""
    return _CUT.sub("", phrase.lower().strip())


def head_noun(phrase: str) -> str:
    """The head noun of a noun phrase as WordNet spells it ("the champagne flute" -> champagne_flute,
    "the cube closest to the rack" -> cube), or "" when it has none WordNet knows as a thing."""
    text = _CUT.sub("", phrase.lower().strip())
    words = [w for w in _WORD.findall(text) if w not in _SKIP]
    if not words:
        return ""
    if len(words) >= 2 and _senses(f"{words[-2]}_{words[-1]}"):
        return f"{words[-2]}_{words[-1]}"
    if len(words) >= 2 and _senses(words[-1]) and _senses(words[-2]) and not _colour(words[-2]):
        kind = _compound_kind(words[-2], words[-1])
        if kind:
            return kind
    return words[-1] if _senses(words[-1]) else ""


def an_act(word: str) -> bool:
    """The noun is first of all an act or event, said as a verb's object ("maintain your hold",
    "give it a push", "a quick spin"), not a thing, though WordNet also knows a thing so called
    (a ship's hold, a handle's grip)."""
    wn = wordnet.load()
    senses = wn.synsets(word, "n") if wn is not None and word else []
    return bool(senses) and senses[0].lexname in ("noun.act", "noun.event")


def names_a_position(phrase: str) -> bool:
    """Whether the phrase's head noun is first of all a position ("at the bottom", "in the middle",
    "on the far side"): WordNet's most frequent sense is a location, so it names no thing."""
    words = [w for w in _WORD.findall(_CUT.sub("", phrase.lower().strip())) if w not in _SKIP]
    wn = wordnet.load()
    if not words or wn is None:
        return False
    senses = wn.synsets(words[-1], "n")
    return bool(senses) and senses[0].lexname == "noun.location"


def _colour(word: str) -> bool:
    from robot_agent.language import colours

    return colours.lab(word) is not None  # "the red apple" is no red_delicious


@lru_cache(maxsize=4096)
def _compound_kind(modifier: str, head: str) -> str:
    """The one kind of ``head`` WordNet names with ``modifier`` in front ("champagne glass": the
    champagne_flute, a kind of glass; "coffee mug": coffee_mug), or "" when none or several."""
    wn = wordnet.load()
    if wn is None:
        return ""
    heads = {s.offset for s in _senses(head)}
    found: set[str] = set()
    for lemma in wn.compounds(modifier, "n"):
        if lemma.count("_") != 1:
            continue
        for s in _senses(lemma):
            if heads & set(_ancestors("n", s.offset)):
                found.add(lemma)
                break
    return found.pop() if len(found) == 1 else ""


def object_nouns(o: ObjectInfo) -> tuple[str, ...]:
    """The nouns that describe ``o``, its own (most specific) noun first: the shape or category
    noun, then the category and the words of its name (not its colour)."""
    from robot_agent.language import scene_words as sw

    words = [sw.noun(o), sw.CATEGORY_NOUN.get(o.category, o.category), o.category, o.shape or ""]
    words += [w for w in o.name.lower().split("_") if w != (o.color or "").lower()]
    out: list[str] = []
    for w in words:
        if w and w not in out and _senses(w):
            out.append(w)
    return tuple(out)


@lru_cache(maxsize=8192)
def _pair(head: str, noun: str, specific: bool) -> float:
    """1.0: ``noun`` is a kind of ``head``, or (for the object's own, most specific noun) ``head``
    a kind of ``noun``; 0.5: kin; 0.0: related only through a general kind."""
    if head == noun:
        return 1.0
    best = 0.0
    for a in _senses(noun):
        anc_a = _ancestors("n", a.offset)
        for b in _senses(head):
            anc_b = _ancestors("n", b.offset)
            if b.offset in anc_a:
                return 1.0  # "citrus" for an orange
            if a.offset in anc_b:
                if specific:
                    return 1.0  # "tumbler" for a glass
                best = 0.5  # "lime" for something whose category is "fruit": kin, not that one
                continue
            common = set(anc_a) & set(anc_b)
            if common and max(_depth(c) for c in common) > GENERAL_DEPTH:
                best = 0.5
            elif re.search(rf"\b{re.escape(head.replace('_', ' '))}\b", a.definition) or re.search(
                rf"\b{re.escape(noun.replace('_', ' '))}\b", b.definition
            ):
                best = 0.5
    return best


def word_relation(head: str, noun: str) -> float | None:
    """:func:`relation` between two nouns ("lip" and "rim": 1.0, same sense), or None when either
    is no physical thing WordNet knows."""
    head, noun = head.replace(" ", "_"), noun.replace(" ", "_")
    if not _senses(head) or not _senses(noun):
        return None
    return _pair(head, noun, True)


def relation(head: str, o: ObjectInfo) -> float | None:
    """How well the head noun names ``o`` (1, 0.5 or 0: see the module), or None when unknown."""
    if not head or not _senses(head):
        return None
    nouns = object_nouns(o)
    if not nouns:
        return None
    return max(_pair(head, n, i == 0) for i, n in enumerate(nouns))


def adjust(phrase: str, objects: Mapping[str, ObjectInfo], sims: dict[str, float]) -> dict[str, float]:
    """Grounding similarities (object name -> similarity) with the taxonomy's evidence added."""
    head = head_noun(phrase)
    if not head:
        return sims
    from robot_agent.language import scene_words as sw

    out = dict(sims)
    rels = {n: relation(head, objects[n]) if n in objects else None for n in sims}
    # "the tray" with a flat tray and a bin of the tray kind: the bin has a noun of its own, and
    # is called by it; the kind's noun names the one it is the own noun of
    own = {n: sw.noun(objects[n]) for n, r in rels.items() if r is not None and r >= 1.0}
    # called so: its noun is the head and its shape no kind of it ("flat"; a pear is a pear)
    called_so = any(
        noun == head and (word_relation(head, objects[n].shape or "") or 0.0) < 1.0 for n, noun in own.items()
    )
    for name in sims:
        rel = rels[name]
        if rel is None:
            continue
        if rel >= 1.0 and called_so and own[name] != head and own[name] in sw.SHAPE_NOUNS:
            out[name] = sims[name] - PENALTY  # a bin is not called "the tray" where a tray is
        elif rel >= 1.0:
            out[name] = sims[name] + BONUS
        elif rel <= 0.0:
            out[name] = sims[name] - PENALTY
    return out


def names_nothing(phrase: str, objects: Sequence[ObjectInfo]) -> bool:
    """The phrase's head is a thing WordNet knows and no object here is that kind or kin to it."""
    head = head_noun(phrase)
    if not head or not objects:
        return False
    rels = [relation(head, o) for o in objects]
    return all(r is not None and r <= 0.0 for r in rels)


#: a person's body, never the robot's ("your fingers" are its gripper's): an owner word, maybe a
#: word before the noun ("my left hand"), the noun, maybe "'s" ("my hand's in there")
_OWNED = re.compile(r"\b(?P<o>my|our|his|her|their|[a-z]+'s)\s+(?P<w>[a-z]+(?:\s+[a-z]+)?)")
#: the body is said to be out of harm's way ("my hand's clear now")
_SAFE_NOW = re.compile(r"\b(?:out of (?:the|your) way|clear|away|free|safe|gone|moved|out now|back out)\b")
_PEOPLE = frozenset("my our his her their".split())
#: nobody's in particular, said to be there ("there's a hand in the way!", "a finger's under it")
_SOMEONES = re.compile(
    r"\b(?:there'?s|there is|there are|i see|watch out for)\s+(?:a|an|some|somebody's|someone's)\s+"
    r"(?P<w>[a-z]+(?:\s+[a-z]+)?)"
    r"|\b(?:a|an)\s+(?P<w2>[a-z]+)(?:'s|\s+is|\s+are)?\s+(?:in the way|in there|right there|under|underneath|"
    r"near|next to|beside|in front of|too close)\b"
)
#: a place or goal word just before the owner: the body is where something is to go, not in the way
_GOAL = re.compile(r"\b(?:on|onto|in|into|to|at|over|towards?|under|top of|near|by|against)\s*$")


def body_at_risk(text: str) -> str | None:
    """A person's body part said to be where the robot works ("my hand's in there!!", "watch the
    kid's fingers"): the words naming it, else None. A body part is a noun whose most common sense
    is one (WordNet's ``noun.body``: hand, finger, arm, face...); its owner a personal pronoun or a
    noun whose most common sense is a person ("the kid's", "my colleague's"), so "the mug's lip" and
    "your fingers" (the gripper's) are not one; or nobody's in particular, said to be there ("there's
    a hand in the way", "a finger's under it"). None when it is said to be clear ("my hand's out
    of the way"), when it is where something is to go ("put it in my hand": a request, judged as
    one) or WordNet is not installed."""
    wn = wordnet.load()
    low = text.lower().replace("’", "'")
    if wn is None or _SAFE_NOW.search(low):
        return None
    for m in _OWNED.finditer(low):
        if _GOAL.search(low[: m.start()]):
            continue  # "drop it on my foot": where something is to go, a request (harm is refused elsewhere)
        owner, words = m.group("o"), m.group("w").split()
        if owner not in _PEOPLE:
            senses = wn.synsets(owner.removesuffix("'s"), "n")
            if not senses or senses[0].lexname != "noun.person":
                continue
        for noun in words:
            senses = wn.synsets(noun.removesuffix("'s"), "n")
            if senses and senses[0].lexname == "noun.body":
                return m.group(0)
    for m in _SOMEONES.finditer(low):
        for noun in (m.group("w") or m.group("w2")).split():
            senses = wn.synsets(noun.removesuffix("'s"), "n")
            if senses and senses[0].lexname == "noun.body":
                return m.group(0)
    return None
