"""What not to act on: readings the words do not support well enough to move the arm.

A definite singular object phrase the grammar read as "any of these" ("grab the teeny one"), and
a noun that names no object here but a kind akin to some ("the teapot" where there are mugs):
acting would be acting on a guess, so the operator is asked, with the akin meanings offered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from robot_agent.language import colours, nouns
from robot_agent.language.structure import NOT_NOUNS, placement_phrases
from skills.types import ObjectInfo

#: words that leave the choice of the object to the robot ("any block", "one of the mugs")
_ANY = re.compile(r"\b(?:any|anything|either|whichever|all|both|every|each|some|a|an|one of|whatever)\b")


#: nouns of a place on or around a thing (parts, sides, ends), which no scene object is
REGIONS = frozenset(
    "top bottom side sides edge edges middle centre center front back left right end ends corner corners way base "
    "rim lip handle handles lid tip surface inside outside underside body neck stem foot".split()
)


def one_meant(text: str) -> bool:
    """The object phrase is definite and singular ("the teeny one", "that glass"): the operator
    means one thing, so "any of these" is no reading of it."""
    phrases = placement_phrases(text)
    phrase = (phrases[0] if phrases else text).lower()
    m = re.search(r"\b(?:the|that|this)\s+((?:[a-z]+\s+){0,3}?[a-z]+)\b", phrase)
    # "any"/"a" said of this phrase, not of an amount after it ("slide the wine glass along a touch")
    if m is None or _ANY.search(phrase[: m.end()]):
        return False
    last = m.group(1).split()[-1]
    return not (last.endswith("s") and not last.endswith("ss"))


def kin_only(text: str, objects: Sequence[ObjectInfo]) -> tuple[str, list[str]] | None:
    """A noun phrase whose head names no object here but a kind akin to some ("the teapot" where
    there are mugs, "the pear" where there are apples): (the phrase, the akin objects' names), or
    None. Acting on the akin object would be acting on a guess; the operator is asked. A noun that
    is also the colour of an akin object ("the lime" for the green lemon) is no guess."""
    for m in re.finditer(r"\b(?:the|a|an|that|this|your|my)\s+([a-z]+(?:\s+[a-z]+){0,2})", text.lower()):
        phrase = f"the {m.group(1)}"
        head = nouns.head_noun(phrase)
        if not head or head in NOT_NOUNS or head in REGIONS or nouns.an_act(head):
            continue  # "the bottom", "the handle": a place on a thing; "your hold": an act
        rels = {o.name: nouns.relation(head, o) for o in objects}
        if not any(r is not None for r in rels.values()) or max(r or 0.0 for r in rels.values()) >= 1.0:
            continue
        words = {w for o in objects for w in (*o.name.lower().split("_"), o.shape or "", o.category)}
        kin = [n for n, r in rels.items() if r is not None and r >= 0.5]
        if not kin or head in words:
            continue
        akin = [o for o in objects if o.name in kin]
        said = colours.said_colour(phrase) or (head if colours.lab(head) is not None else None)
        if said is not None and len(colours.nearest(said, akin)) == 1:
            continue  # "the pink cup" for the pink mug, "the lime" for the green lemon: no guess
        if nouns.defined_as(head, akin):
            continue  # "cupboard": "... or cabinet used for storage space"
        return nouns.noun_phrase(phrase), kin
    return None


def object_of(c: Any) -> str:
    """The object a task or correction meaning acts on ("put:apple:bowl" -> apple; a swap's value)."""
    if c.key.count(":") >= 1 and c.family not in ("swap_object", "swap_target", "avoid", "forbid", "order_first"):
        return c.key.split(":")[1]
    return c.value or ""


def one_of_several(text: str, atoms: Sequence[dict], ranked: list[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """The meanings to offer when one object was meant and the grammar read several ("grab the
    teeny one" as any block): the best-ranked ones on those objects; [] when that is not the case."""
    alts = {n for a in atoms for n in a.get("objects") or []}
    if not any(len(a.get("objects") or []) > 1 for a in atoms) or not one_meant(text):
        return []
    on_them = [(c, s) for c, s in ranked if object_of(c) in alts]
    # the grammar's verb stands: "slide the wine glass" offers pushing each glass, not placing it
    kinds = {a.get("kind") for a in atoms}
    same = [(c, s) for c, s in on_them if c.atoms and {a.get("kind") for a in c.atoms} <= kinds]
    return (same or on_them)[:3]


def akin_choices(
    text: str, ranked: list[tuple[Any, float]], objects: Sequence[ObjectInfo]
) -> tuple[str, list[tuple[Any, float]]] | None:
    """(reason, meanings to offer) when the words name a kind no object here is, only akin ones
    ("the teapot" with mugs here), and the best meaning acts on an object: on an akin one, or on
    another one ("the tin of beans, not that": not the banana); else None."""
    kin = kin_only(text, objects)
    if kin is None or not ranked or object_of(ranked[0][0]) not in {o.name for o in objects}:
        return None
    # the best meaning acts on an object the words do not name: on an akin one or on another
    offer = [(c, s) for c, s in ranked if object_of(c) in kin[1]][:3] or ranked[:3]
    return f"no {kin[0][4:]} here", offer


#: words before a thing's name that make it a landmark, a source or a thing ruled out, which a
#: goal need not act on ("the mug next to the bowl", "take it off the plate", "not the cube")
_NO_ROLE = re.compile(
    r"\b(?:next|near|nearer|nearest|closest|close|beside|besides|by|behind|front|left|right|of|from|off|than|"
    r"like|between|past|beyond|above|below|under|over|not|no|never|instead|rather|except|but|without|leave|"
    r"skip|avoid|around|round|matches|matching|same|as)\s+(?:(?:to|of|from|in|on|into|onto|at)\s+)?"
    r"(?:(?:the|a|an|that|this|your|its|their)\s+)?$"
)
#: words that pick a few of a plural ("one of the glasses", "either of the cubes")
_SOME_OF = re.compile(
    r"\b(?:one|either|any|some|few|couple|pair|two|three|most|none|neither)\s+(?:of\s+)?(?:the|those|these)?\s*(?:[a-z]+\s+)?$"
)
#: an exception to a plural ("all the blocks except the red one")
_BUT = re.compile(r"\b(?:except|but|apart from|other than|besides|bar|save for|not)\b")
#: a repair after a thing's name takes it back ("in the bin, no wait, on the shelf")
_TAKEN_BACK = re.compile(
    r"\b(?:no wait|wait no|no no|sorry|i mean|i meant|actually|scratch that|or rather|correction)\b"
)


def named(text: str, objects: Sequence[ObjectInfo]) -> dict[str, tuple[int, str]]:
    """Objects the words name by a phrase only one of them answers to ("the green apple", "the
    plate" with one plate): name -> (where the phrase starts, the phrase); plural and shared nouns
    are left out."""
    from robot_agent.language.scene_words import CATEGORY_NOUN, noun, phrase, plural

    low = " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())
    out: dict[str, tuple[int, str]] = {}
    for o in objects:
        says = [phrase(o)] if sum(phrase(x) == phrase(o) for x in objects) == 1 else []
        head = noun(o)
        if sum(noun(x) == head for x in objects) == 1 and not any(x.color == head for x in objects if x is not o):
            says.append(head)  # "the orange" is no name where something else is orange
        if o.category == "cabinet":
            says.append("cabinet")
        for s in says:
            m = re.search(rf"\b{re.escape(s)}\b(?!')", low)
            if m is not None:
                out[o.name] = (m.start(), s)
                break
    # "both glasses", "the cubes": every one of that noun, unless a few of them are meant
    kinds = {o.name: {noun(o), CATEGORY_NOUN.get(o.category, o.category)} for o in objects}
    for head in set().union(*kinds.values()):
        these = [o for o in objects if head in kinds[o.name]]
        # the bare plural after a determiner: "white and black mugs", "the green blocks" name a few
        m = re.search(rf"\b(?:both|all|the|those|these)\s+(?:of\s+the\s+)?{re.escape(plural(head))}\b", low)
        if len(these) < 2 or m is None or _SOME_OF.search(low[: m.start()]) or _BUT.search(low):
            continue
        out.update({o.name: (m.start(), plural(head)) for o in these if o.name not in out})
    return out


def left_out(text: str, atoms: Sequence[dict], objects: Sequence[ObjectInfo]) -> str | None:
    """A thing the task names by a phrase only it answers to, and which no part of the goal read
    acts on or puts anything in ("orange and both glasses onto the tray" read as the glasses
    only): its phrase, else None. Landmarks, sources and things ruled out are not left out."""
    used = {n for a in atoms for n in (*(a.get("objects") or []), *(a.get("targets") or []))}
    if any(a.get("kind") == "home" for a in atoms):
        return None
    low = " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())
    for name, (at, said) in named(text, objects).items():
        if name not in used and not _NO_ROLE.search(low[:at]) and not _TAKEN_BACK.search(low[at:]):
            return said
    return None


def whole(u: Any, text: str, objects: Sequence[ObjectInfo]) -> Any:
    """The task understanding ``u``, or a question when its goal moves a thing the task makes an
    exception of (:func:`excepted`), or leaves out a thing the task names (:func:`left_out`): acting
    would do the opposite of part of the task, or part of it as if it were all of it."""
    from robot_agent.language.types import Understanding

    moved = {n for a in u.atoms or [] for n in a.get("objects") or []}
    against = sorted(moved & excepted(text, objects))
    if against:  # "everything except the apples": never the apples
        why = f"I read '{u.goal}', which moves the {', '.join(against)} you made an exception of"
        return Understanding(text, "task", "ask", reason=why, question=f"{why}. Could you say the task again?")
    missed = left_out(text, u.atoms or [], objects)
    if missed is None:
        return u
    why = f"I read '{u.goal}', which leaves out the {missed} you named"
    return Understanding(text, "task", "ask", reason=why, question=f"{why}. Could you say the whole task again?")


#: a thing's phrase: a determiner, a word and at most two more (no "and", no second determiner,
#: no preposition or verb that goes on with the sentence: "except the apples in the drawer")
_THING = (
    r"(?:(?:the|a|an|any|those|these|that|this|your|my)\s+)?[a-z]+"
    r"(?:\s+(?!(?:the|a|an|that|this|those|these|your|my|one|and|or|nor|in|into|on|onto|to|at|from|with|"
    r"inside|under|over|by|near|next|go|goes|is|are|should|must|stay|stays|can)\b)[a-z]+){0,2}"
)
#: a thing said as an exception to what is asked ("everything except the apples", "all of it but
#: the glass", "everything that isn't a cube", "glass excluded")
_EXCEPTED = (
    re.compile(
        r"\b(?:except(?: for)?|but(?! also\b| then\b)|apart from|other than|besides|save for|excluding|"
        r"with the exception of|not)\s+"
        rf"(?P<x>{_THING}(?:,?\s+(?:and|or|nor)\s+{_THING})?)"  # "not X, Y" is a contrast: Y is meant
    ),
    re.compile(
        r"\b(?:that|which)\s*(?:isn't|is not|'s not|aren't|are not)\s+(?:a\s+|an\s+)?(?P<x>[a-z]+(?:\s+[a-z]+)?)"
    ),
    re.compile(r"\b(?P<x>[a-z]+(?:\s+[a-z]+)?)\s+(?:excluded|excepted|aside)\b"),
)


def without_exceptions(text: str) -> str:
    """``text`` without what it makes an exception of ("put all the blocks in the tray except the
    cube" -> "put all the blocks in the tray")."""
    low = text.lower()
    for pattern in _EXCEPTED:
        low = pattern.sub(" ", low)
    low = re.sub(r"(?:\s*,)+", ",", re.sub(r"\s+", " ", low))
    return re.sub(r"\s+([.!?])", r"\1", low).strip(" ,")


_DETERMINER = re.compile(r"^(?:the|a|an|any|those|these|that|this|your|my)\s+")


def excepted(text: str, objects: Sequence[ObjectInfo]) -> set[str]:
    """Objects the words make an exception of, by kind or by name, plurals included ("everything
    except the apples": both apples; "that isn't glass": the glasses)."""
    from robot_agent.language.scene_words import words

    out: set[str] = set()
    low = text.lower()
    phrases = [
        x.strip() for p in _EXCEPTED for m in p.finditer(low) for x in re.split(r",?\s+(?:and|or|nor)\s+", m["x"])
    ]
    for x in filter(None, phrases):  # "except the lemon and the beaker": each of them
        phrase = nouns.noun_phrase(f"the {_DETERMINER.sub('', x)}")
        kind = []
        for said_as in (phrase, " ".join(phrase.split()[:2])):  # "an apple goes": its first word
            head = nouns.head_noun(said_as)
            one = {head, re.sub(r"(?:es|s)$", "", head), re.sub(r"s$", "", head)} - {""}
            # the object's own words first ("not the cube": no cylinder, though WordNet's cube
            # is a kind of block), else a kind WordNet knows ("that isn't glass": the tumbler)
            kind = [o for o in objects if one & words(o)] or [
                o for o in objects if head and (nouns.relation(head, o) or 0.0) >= 1.0
            ]
            if kind:
                break
        if not kind:
            kind = [o for o in objects if o.name in named(phrase, objects)]
        said = colours.said_colour(phrase)
        if said is not None and len(kind) > 1:
            kind = colours.nearest(said, kind) or kind
        elif said is not None and not kind and len(near := colours.nearest(said, objects)) == 1:
            kind = near  # "except the green one"
        out |= {o.name for o in kind}
    return out
