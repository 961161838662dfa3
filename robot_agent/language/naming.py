"""Which scene objects a correction's noun phrases name, and the meanings that fit them best.

The sentence model compares whole sentences, and a sentence about one object is nearly as close
to the same sentence about another: "keep clear of the champagne glass, it's wobbly" scored
"keep away from the white mug" above "keep away from the clear flute". The noun phrases say
which objects: their head noun is related to each object by WordNet's kinds
(:mod:`robot_agent.language.nouns`: "champagne glass" is a kind of flute, a mug is not), a
colour said narrows the kind, and several of a kind are told apart by grounding the phrase
(:func:`robot_agent.language.structure.ground_phrase`). A plural phrase ("mind the glasses") names the
whole kind; a singular one, one object.

:func:`object_cue` then weighs the meanings that act on an object (use it instead, put it there,
keep away from it, don't touch it, do it first, put it at the bottom): those on an object no
phrase names lose, and so does keeping away from a whole kind when a singular phrase names one;
nothing gains. Phrases naming no object here (a part, "it", "the one on the left") change
nothing: the other cues and the sentence model decide those.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from robot_agent.language import colours, nouns, wordnet
from robot_agent.language import scene_words as sw
from robot_agent.language.guards import REGIONS
from robot_agent.language.structure import NEGATED_PART_RE, NOT_NOUNS, clearly_named, ground_phrase, object_options
from skills.types import ObjectInfo

#: a noun phrase: a determiner and up to four words (cut after its noun by ``nouns.noun_phrase``)
#: (a lookahead: "your arm clear of the big cube" holds two phrases, the second inside the first's words)
_NP = re.compile(r"\b(?:the|a|an|that|this|those|these|your|my|all|both|any)\s+(?=([a-z]+(?:\s+[a-z]+){0,3}))")
#: a phrase right after these is named to be ruled out
_RULED_OUT_BEFORE = re.compile(r"(?:\bnot|\bnever|\bexcept(?: for)?|\binstead of|\brather than|\bother than|n't)\s*$")
#: words that pick one of a kind by what it is not ("the other mug"): not told apart here
_OTHER = re.compile(r"\b(?:other|another|different|else|next)\b")
#: words that rule out what they name ("not the red one", "anything but the mug")
_NEGATION = re.compile(r"\b(?:not|except|but|instead of|other than|rather than)\b|n't\b")
#: task meaning families whose key names the object acted on first ("put:apple:bowl")
TASK_FAMILIES = frozenset({"put", "away", "pick", "push"})
#: meaning families whose value is the object they act on
OBJECT_FAMILIES = frozenset({"swap_object", "swap_target", "avoid", "forbid", "order_first", "stack_bottom"})
#: what a meaning on an object no phrase names loses (a correction's, a task's: a task names
#: what it moves, a correction often only hints at it)
NAMED = 0.08
NAMED_TASK = 0.15


@dataclass(frozen=True)
class Named:
    """A noun phrase of the utterance and the objects here it names."""

    phrase: str
    names: frozenset[str]
    plural: bool


def _plural(word: str) -> bool:
    """``word`` is a plural noun ("glasses", "apples", "boxes"; not "glass", "lens")."""
    wn = wordnet.load()
    if wn is None or not word.endswith("s") or word.endswith("ss"):
        return False
    return any(b != word for b in wn.base_forms(word, "n"))


def named(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> list[Named]:
    """The noun phrases of ``text`` that name objects here by kind, with the objects they name."""
    out: list[Named] = []
    low = text.lower()
    for m in _NP.finditer(low):
        if _RULED_OUT_BEFORE.search(low[: m.start()]):
            continue  # "the shelf, not the plate": the plate is named to be ruled out
        phrase = nouns.noun_phrase(f"the {m.group(1)}")
        head = nouns.head_noun(phrase)
        if not head or head in NOT_NOUNS or head in REGIONS:
            continue
        kind = [o for o in objects if (nouns.relation(head, o) or 0.0) >= 1.0]
        if not kind:
            continue
        said = colours.said_colour(phrase)
        if said is not None and len(kind) > 1:
            kind = colours.nearest(said, kind) or kind
        plural = _plural(phrase.split()[-1])
        names = frozenset(o.name for o in kind)
        if not plural and len(kind) > 1 and not _OTHER.search(phrase):  # "the other mug": any but one
            one = clearly_named(ground_phrase(phrase, object_options(kind, objects), scorer, objects))
            names = frozenset({one}) if one is not None else names
        out.append(Named(phrase, names, plural))
    return out


def object_cue(
    text: str,
    cands: Sequence[Any],
    scores: list[float],
    objects: Sequence[ObjectInfo],
    scorer: Any,
    held: str | None = None,
) -> list[float]:
    """Scores of meanings on objects weighed by the objects the words name (see the module): a
    meaning on an object no phrase names loses, and so does keeping away from a whole kind when
    only one of it is named, and a rule about a kind when the one named is the one in hand
    (``held``) and nothing is said of a kind or of always ("put the mug on the plate instead":
    this mug, not mugs). Nothing gains: naming an object says which object, not whether the
    words ask for a plan change at all ("lift it higher over the bowl" names the bowl)."""
    found = named(text, objects, scorer)
    if not found:
        return scores
    one = {n for f in found if not f.plural for n in f.names}
    kinds = [f.names for f in found if f.plural]
    every = one.union(*kinds)
    this_one = held is not None and held in one and not kinds and not _AS_A_RULE.search(text.lower())
    out = list(scores)
    for i, c in enumerate(cands):
        if this_one and c.family == "preference":
            out[i] -= 2 * NAMED
        if c.family == "avoid_all":
            if frozenset(c.value.split("+")) not in kinds and one:
                out[i] -= NAMED  # "the champagne glass": one glass, not all of them
        elif c.family in OBJECT_FAMILIES and c.value not in every:
            out[i] -= NAMED
        elif c.family == "preference" and str(c.value).partition(">")[2] not in every:
            out[i] -= NAMED  # "easy, it's a glass": a rule about glasses, but no place for them named
    return out


#: words that make a placement a rule ("always", "from now on", "as a rule")
_AS_A_RULE = re.compile(
    r"\b(?:always|every|all|any|whenever|from now on|in general|generally|as a rule|each|usually|never|"
    r"in future|from here on)\b"
)
#: a place the words rule out: "shouldn't go in the bowl", "not on the plate", "never into the
#: drawer" (not a suggestion: "why don't you put it in the bowl")
_PLACE_RULED_OUT = re.compile(
    r"(?:\bnot|\bnever|\bno longer|\brather than|\binstead of|n't(?!\s+(?:you|we|i)\b))\s+(?:(?:[a-z']+\s+){0,3}?"
    r"(?:in|into|inside|on|onto|on top of|atop)\s+)?(?P<x>(?:the|a|an|that|this|my|your)\s+[a-z][a-z -]*?)"
    r"(?=\s*(?:[,;.!?]|$|\bbut\b|\band\b))"
)
#: meaning families that put things in a place, named last in their key ("put:mug:bowl")
_PLACING = frozenset({"put", "put_all", "preference", "swap_target"})
#: what a meaning loses that puts things where the words said they don't go
PLACE_RULED_OUT = 0.3


def places_ruled_out(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> set[str]:
    """Receptacles the words say things do not go in or on ("mugs shouldn't go in the bowl", "a
    bowl thing, never the drawer", "in the bin rather than the drawer"): the phrase ruled out names
    a receptacle, of all the objects."""
    recs = {o.name for o in sw.receptacles(objects)}
    out: set[str] = set()
    for m in _PLACE_RULED_OUT.finditer(text.lower()) if recs else ():
        name = clearly_named(ground_phrase(m.group("x"), object_options(objects, objects), scorer, objects))
        if name in recs:
            out.add(name)
    return out


def place_cue(
    text: str, cands: Sequence[Any], scores: list[float], objects: Sequence[ObjectInfo], scorer: Any
) -> list[float]:
    """Meanings that put things where the words rule out lose ("the mug shouldn't go in the bowl,
    shelf it": not "mugs go in the bowl", which the sentence model finds closest)."""
    gone = places_ruled_out(text, objects, scorer)
    if not gone:
        return scores
    return [
        s - PLACE_RULED_OUT * (c.family in _PLACING and c.key.rsplit(":", 1)[-1] in gone)
        for c, s in zip(cands, scores, strict=True)
    ]


#: first words of a clause that are no request, whatever WordNet's verbs ("you", "it", "that")
_NOT_VERBS = frozenset("you it that this there i we they he she or and but so then the a an".split())
#: a warning of what will (or nearly did, or does) happen, to the end of its clause ("you'll clip
#: the small one", "or you'll clobber the apple", "it nearly clipped the other cube", "you're
#: clipping the big cube")
_WARNED = re.compile(
    r"(?:\bor\s+)?\b(?:you'?ll|you will|it'?ll|it will|(?:you'?re|it'?s)\s+(?:gonna|going to)|"
    r"(?:it|you)\s+(?:nearly|almost|just about)|(?:you'?re|you are|it'?s|it is)\s+(?=[a-z]+ing\b))\s*[^,;.!?]*"
)


#: a reason said about the room after the request: "..., there are people about"
_THERE = re.compile(r"[,;.!?]\s*there(?:'s| is| are|'re)\b[^,;.!?]*")

#: keeping clear of a pronoun: "go around it", "steer clear of that", "keep away from it"
_CLEAR_OF = re.compile(
    r"\b(?:around|round|away from|clear of|past|avoid|avoiding|mind|miss|missing|dodge)\s+(?P<p>it|that|them)\b"
)


def _kept_clear_of(said: str, low: str) -> str:
    """The request with the pronoun it keeps clear of replaced by what the warning named ("you'll
    knock the flute, go around it" -> "go around the flute"): a thing the arm keeps clear of is an
    obstacle, never the thing it holds, so "it" is what would be hit."""
    m = _CLEAR_OF.search(said)
    if m is None:
        return said
    warned = [_NP.search(w.group(0)) for w in _WARNED.finditer(low)]
    names = {f"{n.group(0)}{n.group(1).split()[0]}" for n in warned if n is not None}
    if len(names) != 1:
        return said
    return f"{said[: m.start('p')]}{names.pop()}{said[m.end('p') :]}"


def request_part(text: str) -> str:
    """A correction without its warnings when the rest is a request ("lift it higher before you
    swing over, you'll clip the small one" -> "lift it higher before you swing over"): what will
    be hit says why, the request says what to do; the whole text when no clause of the rest starts
    with a verb ("you've barely lifted it, you'll knock the glass over")."""
    low = text.lower()
    if (rest := _THERE.sub("", low).strip(" ,;.")) != low.strip(" ,;.") and rest:
        return request_part(rest)  # "at half the speed, there are people about": the reason said after
    wn = wordnet.load()
    if wn is None or not _WARNED.search(low):
        return text
    from robot_agent.language.checks import request_said

    said = " ".join(_WARNED.sub(" ", low).split()).strip(" ,;")
    said = re.sub(r"\s+(?:and|but|so|or)$", "", said)  # "..., it's a tall one and [it'll tip]"
    said = _kept_clear_of(said, low)
    for clause in re.split(r"\s*[,;:.!?]\s*|\s+-+\s+", said):
        words = clause.split()
        senses = wn.synsets(words[0], "v") if words and words[0] not in _NOT_VERBS else []
        if senses and senses[0].lexname != "verb.stative":
            return request_said(said)  # nor what is described beside it ("it's a tall one")
    return text


def task_cue(
    text: str, cands: Sequence[Any], scores: list[float], objects: Sequence[ObjectInfo], scorer: Any
) -> list[float]:
    """Task scores with meanings that act on a movable object no phrase names lowered, when a
    phrase names a movable one ("pass me the champagne glass": the flute, not a white mug).
    Sentences that rule things out are left to the negation cues (the named one is not wanted)."""
    if _NEGATION.search(text.lower()):
        return scores
    movable = {o.name for o in objects if o.category in sw.GRASPABLE_CATEGORIES}
    found = [n for f in named(text, objects, scorer) for n in f.names if n in movable]
    if not found:
        return scores
    return [
        s - NAMED_TASK if c.family in TASK_FAMILIES and c.key.split(":")[1] not in found else s
        for c, s in zip(cands, scores, strict=True)
    ]


def verb_and_object(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> str | None:
    """The task meaning ("pick:flute") when the verb's kind and the object's kind, both by WordNet,
    leave one: a verb of exactly one of picking or pushing ("fetch me", "nudge") and one singular
    phrase naming one movable object ("the champagne glass"), no place said, nothing ruled out.
    The sentence model may score that meaning low ("fetch me the champagne glass" is far from
    "pick up the clear flute" in its space) although nothing else fits; None otherwise."""
    from robot_agent.language import verbs
    from robot_agent.language.structure import placement_phrases

    low = text.lower()
    if _NEGATION.search(low) or placement_phrases(low) is not None:
        return None
    fams = verbs.read(low).families
    if "put" in fams and len(fams) > 1 and not re.search(r"\b(?:away|down|back|aside)\b", low):
        fams = fams - {"put"}  # "hold the mug up": a verb of holding and of putting, with no place said
    if len(fams) != 1 or not fams <= {"pick", "push"}:
        return None
    found = named(text, objects, scorer)
    movable = {o.name for o in objects if o.category in sw.GRASPABLE_CATEGORIES}
    if len(found) != 1 or found[0].plural or len(found[0].names) != 1 or not found[0].names <= movable:
        return None
    return f"{next(iter(fams))}:{next(iter(found[0].names))}"


#: the words of each grasp region ("center" is said "middle" or "centre" too)
_REGION_WORDS = {"center": ("center", "centre", "middle"), "side": ("side", "sides")}


_BEFORE_OBJECT = re.compile(r"\b([a-z]+)\s+(?:it|them|this|that|the|its|a|an)\b")


def part_meant(text: str, held: ObjectInfo | None) -> str | None:
    """The one grasp region of ``held`` the words name ("go for the handle, mate", "handle,
    please"; a "grip" or "knob" is a handle and a "lip" a rim, by WordNet), or None when they name
    none or several; a part said after a negation is not counted ("the rim, not the handle": the rim)."""
    if held is None:
        return None
    regions = [*held.parts, *(r for r in ("center", "side") if r not in held.parts)]
    # "round the body, not by the handle": a part named after a negation is not the one meant
    low = NEGATED_PART_RE.sub(" ", text.lower())
    # a word before its object is a verb ("hold it round the body": WordNet's "hold" is also a handle)
    words = set(re.findall(r"[a-z]+", low)) - set(_BEFORE_OBJECT.findall(low))
    # a part named by its own word; else by a word WordNet makes a kind of it ("grip": a handle)
    found = {r for r in regions if words & set(_REGION_WORDS.get(r, (r, f"{r}s")))}
    if not found:
        found = {r for r in regions if any((nouns.word_relation(w, r) or 0.0) >= 1.0 for w in words if len(w) > 2)}
    return found.pop() if len(found) == 1 else None
