"""Sentence structure the meaning does not depend on the verb for.

"pop / stash / chuck / stick / keep X in Y" all place X in Y: the preposition of place and
the two noun phrases carry the meaning, whatever the verb. Each phrase is then grounded on its
own against the scene's object descriptions (open vocabulary: "the mandarin" against "orange
fruit", "the bin" against "gray tray"), which separates objects far better than scoring the
whole sentence. The same holds for "by the X" naming a part to grasp.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from robot_agent.language import colours, nouns, polarity, verbs, wordnet
from robot_agent.language import scene_words as sw
from skills.types import ObjectInfo

#: a side of a landmark ("to the right of the mug"): part of an object phrase, never a place
SIDE_OF = r"the (?:left|right)(?: hand side| side)? of\b"
_PLACE = re.compile(
    r"^(?:(?P<head>.*?)\s+)?(?P<o>(?:(?:the|a|an|that|this|those|these|all|every|both|my|your|each)"
    r"\s+)?[a-z][a-z' -]*?)\s+(?:back\s+|away\s+|down\s+|over\s+|up\s+)?(?P<p>into|inside of|inside|in|"
    rf"onto|on top of|on to|on|atop|upon|over to|to|at)\s+(?!{SIDE_OF})"
    r"(?P<t>(?:the|a|an|that|this|my|your)\b.+?)\W*$"
)
_DETERMINERS = {"the", "a", "an", "that", "this", "those", "these", "my", "your"}
NOT_NOUNS = {"it", "them", "everything", "all", "both", "each", "every", "one", "ones", "thing", "things"}
#: the robot's own body: "keep it in the gripper" names no object of the scene, and none missing
ROBOT_BODY = {"gripper", "fingers", "hand", "claw", "jaws"}
# nouns that name no kind ("the black piece", "green stuff"), and the robot's body: never missing
NOT_NOUNS |= {"piece", "pieces", "item", "items", "object", "objects", "stuff"} | ROBOT_BODY
NOT_NOUNS |= {"rest", "others", "other", "remainder", "lot"}  # "then the rest", "the others", "the lot"
#: a grounded phrase below this similarity names nothing in the scene
GROUND_MIN = 0.45
_NEGATED = re.compile(
    r"\b(?:not|except(?: for)?|but not|other than|apart from|rather than|with no|without(?: any)?)\s+(?:the\s+|a\s+)?"
    r"(?P<x>[a-z][a-z -]*?)(?=\s*(?:,|;|\.|$|\bin\b|\bon\b|\binto\b|\bonto\b|\bthe\b|\ban?\b))"
)
#: task verbs by family, matched by word vectors when WordNet reads no main verb (verbs.py does the rest)
VERB_ANCHORS = {
    "pick": ("pick", "grab", "lift", "hold", "fetch"),
    "push": ("push", "shove", "slide", "nudge"),
    "open": ("open",),
    "close": ("close", "shut"),
    "away": ("away", "tidy", "clear"),
}
VERB_MATCH = 0.8
#: what a verb's family adds to the meanings of that family (WordNet, else word vectors), and
#: what the other actions lose when WordNet read the verb
VERB_BONUS = 0.08
#: what the place a verb's definition names adds to the placements there
IMPLIED_PLACE_BONUS = 0.12
#: what a direction said without a place ("nudge it rightwards") adds to pushing
DIRECTION_BONUS = 0.1
#: what two bare noun phrases ("lemon. tray.") add to the placement they ground on
BARE_BONUS = 0.15
#: what "all of a kind" loses when the object phrase names one thing
SINGULAR_PENALTY = 0.1
_PART = re.compile(
    r"\b(?:by|at|from|on|with|round|around|about|near|nearer|nearest|closer to|towards?)\s+"
    r"(?:the|its|their|that|this)\s+(?P<p>[a-z][a-z ]{1,30}?)"
    r"(?:\s+(?:instead|please|this time|part|bit))?\W*$"
)
#: the part said as the contrast to another ("not the body, the handle", "not its top but its side")
_CONTRAST_PART = re.compile(
    r"\bnot\s+(?:by\s+|at\s+|from\s+)?(?:the|its|that)\s+[a-z]+(?:\s+[a-z]+)?\s*[,;-]?\s*(?:but\s+|rather\s+)?"
    r"(?:by\s+|at\s+|from\s+)?(?:the|its)\s+(?P<p>[a-z][a-z ]{1,30}?)(?:\s+(?:instead|please|this time))?\W*$"
)
#: weight of the grounded phrases against the whole-sentence score
SLOT_WEIGHT = 0.5
#: a "by the X" phrase grounding on a scene object at least this well names the object, not a part
PART_NOT_OBJECT = 0.6
#: what the meanings that grasp nothing lose when a part was named
PART_SAID = 0.1
#: what a part said after a negation loses ("not by the rim")
NEGATED_PART = 0.2
#: what a region gains when WordNet says the part named is a kind of it ("the brim": a rim)
PART_KIND = 0.1


def object_options(pool: Sequence[ObjectInfo], objects: Sequence[ObjectInfo]) -> list[tuple[str, list[str]]]:
    """What a phrase is grounded against: each object of ``pool`` with the ways to say it here."""
    return [(o.name, [f"the {p}" for p in sw.phrases(o, objects)]) for o in pool]


def ground_phrase(
    phrase: str, options: Sequence[tuple[str, list[str]]], scorer: Any, objects: Sequence[ObjectInfo] = ()
) -> dict[str, float]:
    """Similarity of ``phrase`` to each option (best over the option's phrases); with the scene's
    ``objects``, WordNet's kinds of the head noun and the colour said mixed in
    (:func:`robot_agent.language.nouns.adjust`, :func:`robot_agent.language.colours.adjust`)."""
    sentences = [p for _, ps in options for p in ps]
    # "that chest", "my mug": a demonstrative or possessive picks like "the" (the renderings say "the")
    phrase = re.sub(r"^\s*(?:that|this|these|those|my|your|our)\b", "the", phrase.lower())
    q = scorer.query(phrase)
    flat = scorer.scores(q, sentences)
    out: dict[str, float] = {}
    i = 0
    for name, ps in options:
        out[name] = float(flat[i : i + len(ps)].max())
        i += len(ps)
    if objects:
        by_name = {o.name: o for o in objects}
        out = colours.adjust(phrase, by_name, nouns.adjust(phrase, by_name, out))
        out = _opposite_said(phrase, by_name, out)
    return out


#: what an object loses when the phrase says the opposite of one of its words
OPPOSITE = 0.2


@lru_cache(maxsize=2048)
def _antonym(word: str) -> str | None:
    wn = wordnet.load()
    return wn.antonym(word) if wn is not None else None


def _opposite_said(phrase: str, by_name: dict[str, ObjectInfo], sims: dict[str, float]) -> dict[str, float]:
    """Objects described by the opposite of an adjective said lose ("the short squat mug" is not
    the tall one; "the narrow one" not the wide one): the sentence model puts antonyms close."""
    said = set(re.findall(r"[a-z]+", phrase.lower()))
    out = dict(sims)
    for name in sims:
        o = by_name.get(name)
        if o is None:
            continue
        for w in sw.words(o) - said:
            ant = _antonym(w)
            if (ant is not None and ant in said) or any(_antonym(a) == w for a in said):
                out[name] -= OPPOSITE
                break
    return out


#: a direction said as where to ("to the left", "rightwards", "along", "over", "away from me"): a way
#: to move something, not a place to put it; with one object and no place it asks for a push
_DIRECTION = re.compile(
    r"\b(?:(?:to|towards?)\s+the\s+(?:far\s+)?(?:left|right|front|back|side)|leftwards?|rightwards?|forwards?|"
    r"backwards?|sideways|(?:along|aside|over)(?=\W*$)|away\s+from\s+(?:me|you|us)|towards?\s+(?:me|you|us)|"
    r"a\s+(?:bit|little|few\s+\w+)\s+(?:left|right|forward|back))\b"
)


def direction_phrase(phrase: str) -> bool:
    """The whole phrase is a direction ("the left", "the far right"), not something in the scene."""
    return bool(re.fullmatch(r"(?:the\s+)?(?:far\s+)?(?:left|right|front|back|side)(?:\s+side)?\W*", phrase.strip()))


def placement(
    text: str, objects: Sequence[ObjectInfo], scorer: Any
) -> tuple[dict[str, float], dict[str, float]] | None:
    """For "VERB <object> <in|on|into...> <place>": similarity of each movable object to the
    object phrase and of each receptacle to the place phrase; None without that structure (and
    when the "place" is a direction: "poke the block to the left")."""
    phrases = placement_phrases(text)
    if phrases is None:
        return None
    movable = object_options(sw.graspable(objects), objects)
    places = object_options(sw.receptacles(objects), objects)
    if not movable or not places:
        return None
    return ground_phrase(phrases[0], movable, scorer, objects), ground_phrase(phrases[1], places, scorer, objects)


def placement_phrases(text: str) -> tuple[str, str] | None:
    """The object and place phrases of a placement ("pop the lime in the bin": lime, bin)."""
    m = _PLACE.match(text.lower().strip())
    if m is None or direction_phrase(m.group("t")) or _NEXT_CLAUSE.search(m.group("t")):
        return None  # "on the plate, then the middle one on top": two placements, not one
    head = (m.group("head") or "").split()
    obj, place = m.group("o"), _CONTRAST_TAIL.sub("", m.group("t"))
    # a place ends with its sentence, and the robot called by name is no part of it
    # ("on the plate robot. come on buddy, bed time": the plate)
    place = re.sub(r"(?:,?\s+robot)?\s*[.!?]\s.*$|,?\s+robot$", "", place)
    obj = re.sub(r"\s+next$", "", obj)  # "put the kettle next to the sink": "next to" is the place's
    obj = _BEING_PUT_TAIL.sub("", obj)  # "the red cylinder goes on top of the cube": the verb is no name
    if " " not in obj and any(obj in v.split("_") for v in verbs.main_verbs(text) if "_" in v):
        return None  # "hang on to the mug": a phrasal verb and its object, no place

    later = _LATER_PLACE.search(place)
    if later is not None and not direction_phrase(place[later.start("t") :]):
        # "the cube on the far right goes on the tray": the first "on" is part of the object phrase
        obj, place = f"{obj} {m.group('p')} {place[: later.start()]}".strip(), place[later.start("t") :]
    bare = obj.split()[0] not in _DETERMINERS  # "green cube", not "clear the shelf"
    if (
        head
        and _describes(head[-1])
        and ((bare and colours.lab(head[-1]) is not None) or not verbs.main_verbs(f"{head[-1]} the thing"))
    ):
        # no verb: "turquoise cube on the plate", "biggest cube on the plate" are one phrase; a
        # colour before a bare noun is the noun's ("yellow one on the plate", not "to yellow")
        obj = f"{head[-1]} {obj}"
    return obj, place


def _describes(word: str) -> bool:
    """A colour or an adjective WordNet knows ("turquoise", "biggest")."""
    from robot_agent.language import wordnet

    wn = wordnet.load()
    return colours.lab(word) is not None or bool(wn is not None and wn.base_forms(word, "a"))


#: verbs of being put, said between a thing and its place ("... goes on the tray", "... belongs in the bin")
_BEING_PUT = r"(?:goes|go|belongs?|should go|needs to go|has to go|can go|sits?|lives?|is going|will go|stays?)"
#: a thing's phrase that ends in one ("the red cylinder goes" of "the red cylinder goes on the cube")
_BEING_PUT_TAIL = re.compile(rf"\s+{_BEING_PUT}$")
#: a place said after a verb of being put ("... goes on the tray", "... belongs in the bin")
_LATER_PLACE = re.compile(
    rf"(?:\s+{_BEING_PUT}\s+(?:back\s+)?|\s*,\s*)"
    # "..., into the bowl": a place after a comma ends the sentence ("whatever's furthest to the left, into the bowl")
    r"(?:into|onto|on top of|on|in|inside)\s+(?P<t>(?:the|a|an|that|this|my|your)\b.+)$"
)
#: a clause after the place ("..., then the blue one on top", "...; and the cup in the bin")
_NEXT_CLAUSE = re.compile(r"(?:[;]|,\s*(?:and\s+)?then\b|\band then\b|\bthen\b|,\s*and\b)")
#: a contrast after a phrase ("the shelf, not the black one"): not part of what it names
_CONTRAST_TAIL = re.compile(r"\s*,?\s*\b(?:not|but not|rather than|instead of|and not)\b.*$")


def by_compound_kind(text: str, names: Sequence[str], objects: Sequence[ObjectInfo]) -> str | None:
    """The one of ``names`` (the grammar's alternatives for an object phrase) that a compound noun
    WordNet knows names ("the champagne glass": the flute, not the tumbler), or None."""
    phrases = placement_phrases(text)
    head = nouns.head_noun(phrases[0] if phrases else text)
    if "_" not in head:
        return None
    by_name = {o.name: o for o in objects}
    kin = [n for n in names if n in by_name and (nouns.relation(head, by_name[n]) or 0.0) >= 1.0]
    return kin[0] if len(kin) == 1 else None


def names_absent(phrase: str, objects: Sequence[ObjectInfo]) -> bool:
    """The phrase names nothing here: a kind no object is (``nouns.names_nothing``: "the fridge"),
    or a kind some objects are in a colour none of them has ("the red bowl" when the one bowl is
    blue). Objects whose colour perception did not name (or that have none, "clear") are not
    judged by colour."""
    head = nouns.head_noun(phrase)
    if head in NOT_NOUNS:
        return False  # "the red one": which kind is not said; "the gripper": the robot's own
    if nouns.names_nothing(phrase, objects):
        return True
    if not head:
        return False
    words = re.findall(r"[a-z]+", phrase.lower())
    first = head.split("_")[0]
    at = max((i for i, w in enumerate(words) if w == first), default=0)
    word = words[at - 1] if at > 0 and colours.lab(words[at - 1]) is not None else None
    if word is None:
        return False  # no colour said of this noun ("the bin, put it on the black tray")
    kin = [o for o in objects if (nouns.relation(head, o) or 0.0) >= 1.0]
    if not kin:
        return False
    dist = [colours.distance(word, o.color) if o.color else None for o in kin]
    return all(d is not None and d > colours.NEAREST_MAX for d in dist)


def absent_phrase(text: str, objects: Sequence[ObjectInfo]) -> str | None:
    """The first "colour noun" phrase of ``text`` that names something not here by kind or by
    colour (:func:`names_absent`: "in the red bowl" when the bowl is blue), or None."""
    words = re.findall(r"[a-z]+|[,.;:!?]", text.lower())
    for w, nxt in zip(words, words[1:], strict=False):
        if colours.lab(w) is None or not nxt.isalpha() or nxt in NOT_NOUNS or nxt in colours.NOT_A_NOUN:
            continue
        phrase = f"the {w} {nxt}"
        if names_absent(phrase, objects):
            return phrase
    return None


def missing(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> str | None:
    """The phrase of a placement that names nothing in the scene ("the vase"), or None."""
    found = placement(text, objects, scorer)
    phrases = placement_phrases(text)
    if found is None or phrases is None:
        return None
    so, st = found
    if set(re.findall(r"[a-z]+", phrases[1].lower())) & ROBOT_BODY:
        return None  # "keep it in the gripper": held, not put anywhere
    if nouns.names_a_position(phrases[1]):
        return None  # "biggest at the bottom", "in the middle": where, not a thing that is missing
    obj = phrases[0].split()
    # Only a noun phrase can name something absent ("the vase"), not "back", "it" or "everything".
    if (
        obj
        and obj[0] in _DETERMINERS
        and not set(obj) & NOT_NOUNS
        and (max(so.values(), default=0.0) < GROUND_MIN or names_absent(phrases[0], objects))
    ):
        return phrases[0]
    if names_absent(phrases[1], objects):
        return phrases[1]  # a kind of thing nothing here is ("the fridge"), however close the words
    if max(st.values(), default=0.0) < GROUND_MIN:
        # Not a place at all when it names something that is no receptacle ("hang on to the mug").
        others = object_options(objects, objects)
        if max(ground_phrase(phrases[1], others, scorer, objects).values(), default=0.0) >= GROUND_MIN:
            return None
        return phrases[1]
    return None


def negated(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> set[str]:
    """Objects the words rule out ("not the flute", "except the green one", "that isn't green")."""
    out: set[str] = set()
    low = text.lower()
    spans = [m.group("x") for m in _NEGATED.finditer(low)]
    spans += [
        f"{m.group(2)} {m.group(1)}"
        for m in re.finditer(
            r"\b([a-z]+) (?:that|which) (?:is not|isn't) "
            r"([a-z]+)",
            low,
        )
    ]
    options = object_options(objects, objects)
    for span in spans:
        if not span.strip() or not options:
            continue
        name = clearly_named(ground_phrase(f"the {span.strip()}", options, scorer, objects))
        if name is not None:
            out.add(name)
    return out


def clearly_named(sims: dict[str, float]) -> str | None:
    """The object a grounded phrase names: it grounds well and ahead of the next one, else None."""
    ranked = sorted(sims.items(), key=lambda x: -x[1])
    if ranked and ranked[0][1] >= GROUND_MIN and (len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= 0.05):
        return ranked[0][0]
    return None


def verb_family(text: str, query: Any, scorer: Any) -> str | None:
    """The task family a verb of the utterance names (by word vectors), or None."""
    fams = list(VERB_ANCHORS)
    words = [w for f in fams for w in VERB_ANCHORS[f]]
    sims = scorer.word_match(query, words)
    best: dict[str, float] = {}
    k = 0
    for f in fams:
        n = len(VERB_ANCHORS[f])
        best[f] = float(max(sims[k : k + n]))
        k += n
    ranked = sorted(best.items(), key=lambda x: -x[1])
    if ranked[0][1] >= VERB_MATCH and ranked[0][1] - ranked[1][1] >= 0.05:
        return ranked[0][0]
    return None


def rescore_tasks(
    text: str,
    objects: Sequence[ObjectInfo],
    cands: Sequence[Any],
    scores: list[float],
    scorer: Any,
    query: Any = None,
    ruled_out: set[str] | None = None,
) -> list[float]:
    """Task scores with the verb's family, the objects ruled out and the placement structure's
    grounded phrases mixed in."""
    out = list(scores)
    reading = verbs.read(text)
    said = {c for f in reading.families for c in verbs.FAMILIES[f]}
    found = placement(text, objects, scorer)
    if found is not None:
        said &= set(verbs.FAMILIES["put"])  # "lift the mug onto the shelf": a destination was said
    if said:
        # What the verb is a kind of, by WordNet: its families gain, the other actions lose.
        acts = {c for fams in verbs.FAMILIES.values() for c in fams}
        for i, c in enumerate(cands):
            if c.family in said:
                out[i] += VERB_BONUS
            elif c.family in acts:
                out[i] -= VERB_BONUS
    elif query is not None and not reading.verbs:
        fam = verb_family(text, query, scorer)  # no verb WordNet reads: word vectors
        for i, c in enumerate(cands):
            if c.family == fam:
                out[i] += VERB_BONUS
    if found is None and reading.implied_place:
        out = _implied_place(reading.implied_place, objects, cands, out, scorer)
    if found is not None:
        out = _mix_placement(objects, cands, out, found)
        said_o = (placement_phrases(text) or ("", ""))[0]
        if said_o and said_o.split()[0] in ("the", "this", "that") and _singular_phrase(said_o):
            # "the turquoise block goes on the tray": one thing, not all the blocks
            for i, c in enumerate(cands):
                if c.family == "put_all":
                    out[i] -= SINGULAR_PENALTY
    elif _DIRECTION.search(text.lower()):
        # "scoot the mug over", "bump the cylinder rightwards": one object moved a way, no place.
        for i, c in enumerate(cands):
            if c.family == "push":
                out[i] += DIRECTION_BONUS
            elif c.family in ("put", "away", "pick"):
                out[i] -= DIRECTION_BONUS / 2
    if found is None and not reading.verbs:
        out = _bare_placement(text, objects, cands, out, scorer)
    out = _colour_cue(text, objects, cands, out)
    if ruled_out is None:
        ruled_out = negated(text, objects, scorer)
    for i, c in enumerate(cands):
        moved = c.value.split(">", 1)[0] if c.family in ("put", "pick", "push", "away") else ""
        place = c.value.split(">", 1)[1] if c.family in ("put", "put_all") and ">" in c.value else ""
        if moved in ruled_out or place in ruled_out:  # "the apple, not the cube, on the plate"
            out[i] -= 0.25
    return out


def _bare_placement(
    text: str, objects: Sequence[ObjectInfo], cands: Sequence[Any], scores: list[float], scorer: Any
) -> list[float]:
    """Two bare noun phrases and no verb ("lemon. tray.", "green cube, black tray, go"): the
    first a thing to move, the second where it goes, each grounded on its own."""
    parts = [p.strip() for p in re.split(r"\s*[,.;:!?]+\s*|\s+-+\s+", text.lower()) if p.strip()]
    parts = [p for p in parts if re.search(r"[a-z]{3,}", p) and len(p.split()) <= 4]
    if len(parts) < 2:
        return scores
    movable = object_options(sw.graspable(objects), objects)
    places = object_options(sw.receptacles(objects), objects)
    if not movable or not places:
        return scores
    first = ground_phrase(f"the {parts[0]}", movable, scorer, objects)
    second = ground_phrase(f"the {parts[1]}", places, scorer, objects)
    o, so = max(first.items(), key=lambda x: x[1])
    t, st = max(second.items(), key=lambda x: x[1])
    if min(so, st) < GROUND_MIN or o == t:
        return scores
    out = list(scores)
    for i, c in enumerate(cands):
        if c.family == "put" and c.value == f"{o}>{t}":
            out[i] += BARE_BONUS
    return out


_RESULT = re.compile(
    r"^(?P<o>.*?)\s+(?P<s>open|opened|closed|shut|out|in|to)(?:[\s,]+(?:again|please|now|for me|would you|will you|"
    r"could you|can you|if you (?:would|could|can|don't mind)|thanks|thank you|mate|ta))*\W*$"
)


def resultative(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> tuple[str, bool] | None:
    """A drawer and the state the words leave it in ("get that cupboard open", "push the drawer
    closed", "slide that drawer out", "push the drawer back in"): (cabinet name, open?), or None.
    Whatever the verb, the state decides."""
    m = _RESULT.match(text.lower().strip())
    cabinets = [o for o in objects if o.category == "cabinet"]
    if m is None or not cabinets:
        return None
    if m.group("s") in ("out", "in", "to") and re.search(r",|\b(?:and|then|it's|it is|is|was)\b", m.group("o")):
        return None  # a particle ends one clause of several ("shut the drawer, it's sticking out")
    words = m.group("o").split()
    det = next((i for i, w in enumerate(words) if w in _DETERMINERS), None)
    if det is None:
        return None
    phrase = " ".join(words[det:])
    options = object_options(objects, objects)
    sims = ground_phrase(phrase, options, scorer, objects)
    best = max(sims, key=sims.__getitem__)
    if sims[best] < GROUND_MIN or best not in {c.name for c in cabinets}:
        return None
    return best, m.group("s") in ("open", "opened", "out")  # "slide that drawer out"; "push it in"


def _colour_cue(text: str, objects: Sequence[ObjectInfo], cands: Sequence[Any], scores: list[float]) -> list[float]:
    """Task scores with a colour word weighed where it stands: in the object phrase it says which
    thing moves, in the place phrase where it goes ("the turquoise block": the cyan one)."""
    phrases = placement_phrases(text)
    said_o, said_t = phrases if phrases is not None else (text, "")
    by_name = {o.name: o for o in objects}
    movers = colours.adjust(said_o, by_name, dict.fromkeys(by_name, 0.0))
    places = colours.adjust(said_t, by_name, dict.fromkeys(by_name, 0.0)) if said_t else {}
    if not any(movers.values()) and not any(places.values()):
        return scores
    out = list(scores)
    for i, c in enumerate(cands):
        if c.family in ("put", "pick", "push", "away"):
            moved, _, place = c.value.partition(">")
            out[i] += movers.get(moved, 0.0) + places.get(place, 0.0)
    return out


_QUANTITY = re.compile(r"\b(?:all|every|each|both|everything|them|they|these|those|two|three|four|five)\b")


def _singular_phrase(phrase: str) -> bool:
    """A noun phrase naming one thing: no quantity word, and its last word not a plural."""
    words = re.findall(r"[a-z]+", phrase.lower())
    return bool(words) and not _QUANTITY.search(phrase.lower()) and not re.fullmatch(r"[a-z]{3,}[^su]s", words[-1])


def _implied_place(
    place: str, objects: Sequence[ObjectInfo], cands: Sequence[Any], scores: list[float], scorer: Any
) -> list[float]:
    """Scores with the place a verb's definition names ("shelve": on a shelf) grounded on the
    scene's receptacles: placements there gain, as if the place had been said."""
    places = object_options(sw.receptacles(objects), objects)
    if not places:
        return scores
    sims = ground_phrase(f"the {place}", places, scorer, objects)
    best = max(sims, key=sims.__getitem__)
    if sims[best] < GROUND_MIN:
        return scores
    out = list(scores)
    for i, c in enumerate(cands):
        if c.family == "put" and c.value.split(">", 1)[1] == best:
            out[i] += IMPLIED_PLACE_BONUS
        elif c.family in ("put", "away"):
            out[i] -= IMPLIED_PLACE_BONUS / 2  # a placement elsewhere
    return out


def _mix_placement(
    objects: Sequence[ObjectInfo],
    cands: Sequence[Any],
    scores: list[float],
    found: tuple[dict[str, float], dict[str, float]],
) -> list[float]:
    so, st = found
    out = list(scores)
    for i, c in enumerate(cands):
        if c.family == "put":
            o, t = c.value.split(">", 1)
            out[i] = (1 - SLOT_WEIGHT) * scores[i] + SLOT_WEIGHT * (so.get(o, 0.0) + st.get(t, 0.0)) / 2
        elif c.family == "put_all":
            cat, t = c.value.split(">", 1)
            members = [o.name for o in objects if o.category == cat]
            obj = max((so.get(n, 0.0) for n in members), default=0.0)
            out[i] = (1 - SLOT_WEIGHT) * scores[i] + SLOT_WEIGHT * (obj + st.get(t, 0.0)) / 2
        else:
            out[i] = scores[i] - 0.05  # a placement was said: the one-object meanings are less likely
    return out


#: "right" that judges rather than points: "looks about right", "right on", "that's right", "all right"
_RIGHT_JUDGED = re.compile(
    r"\b(?:about|all|that'?s|thats|looks?|seems?|feels?|is|was|just|exactly|quite|spot|dead)\s+right\b(?!\s+(?:of|side))"
    r"|\bright\s+(?:on|away|now)\b|^\s*right\W*$"
    # "yes, that's the right one", "that's the right amount": the one meant, not the one on the
    # right (any noun but a side's: "that's the right edge" points)
    r"|\b(?:that'?s|thats|it'?s|this is|that is|you'?ve got|you got|is|was)\s+(?:just\s+|exactly\s+)?the\s+right\s+"
    r"(?!(?:side|edge|end|corner|hand|half|part|of|bit)\b)[a-z]+"
)
#: words that make a direction a motion ("move", "a bit", "more", "to the", "2 cm")
_MOTION = re.compile(
    r"\b(?:move|shift|slide|go|nudge|scoot|bit|little|more|further|farther|to the|towards?|cm|centimet\w*|"
    r"millimet\w*|mm|inch\w*|over)\b"
)
#: a direction said with a preposition or a degree word: the most specific direction cue of a sentence
_DIRECTION_SAID = re.compile(
    r"\b(?:to(?:wards)? the|further|farther|more|bit more|over to the)\s+(?P<d>left|right|front|back|forward)\b"
)


#: directions said relative to the operator or the robot, who stand on the same side of the table
_US = r"(?:me|us|you|yourself|the robot|your base|the base)\b"
_TOWARD_US = re.compile(rf"\b(?:towards?|nearer(?:\s+to)?|closer\s+to|in\s+towards?|back\s+towards?)\s+{_US}")
_AWAY_FROM_US = re.compile(
    rf"\b(?:(?:further|farther|more)\s+)?away\s+from\s+{_US}|\b(?:further|farther)\s+(?:from\s+{_US}|out\b)"
    r"|\boutwards?\b"
)


def right_judged(text: str) -> bool:
    """ "right" that judges and points nowhere ("looks about right", "right on")."""
    low = text.lower()
    return bool(_RIGHT_JUDGED.search(low)) and not _MOTION.search(low)


def direction_cues(text: str, cands: Sequence[Any], scores: list[float]) -> list[float]:
    """Correction scores with two readings of direction words set right: "right" that judges
    ("looks about right") is no motion, and a direction said with "to the" / "further" outweighs a
    particle ("set it *down* further to the left")."""
    low = text.lower()
    out = list(scores)
    judged = right_judged(low)
    said = _DIRECTION_SAID.search(low)
    want = None
    if said is not None:
        want = {"front": "forward"}.get(said["d"], said["d"])
    elif _TOWARD_US.search(low):
        want = "back"  # the operator stands behind the robot: towards either of us is back
    elif _AWAY_FROM_US.search(low):
        want = "forward"
    for i, c in enumerate(cands):
        if c.family == "move" and c.value == "right" and judged:
            out[i] -= 0.3
        if want is None:
            continue
        if c.family == "move" and c.value == want:
            out[i] += 0.12
        elif c.family == "place_height" or (c.family == "move" and c.value in ("up", "down")):
            out[i] -= 0.12  # "set it down", "pick it up": a particle of the verb, not the correction
    return out


#: time words: "first"/"before" ask for another order, "after"/"then"/"next" for a later step;
#: neither is a swap of the object ("do the blue one after this" is not "use the blue one")
_FIRST = re.compile(r"\b(?:first|before|beforehand|start with|begin with|to begin with)\b")
_LATER = re.compile(
    r"\b(?:after|afterwards|afterward|later|next|then|at the end|once you're done|when you're done|as well|also)\b"
    r"|\bonce (?:that|it|this)(?:'s| is) (?:in|done|there|down|finished|on)\b|\btoo\W*$"
)


def later_step(text: str) -> bool:
    """The words put something after what is being done ("do the blue one after this")."""
    low = text.lower()
    return bool(_LATER.search(low)) and not _FIRST.search(low)


def time_cues(text: str, cands: Sequence[Any], scores: list[float]) -> list[float]:
    """Correction scores with the order words weighed: "first"/"before" for re-ordering, against
    swapping the object; "after"/"then" against both (a later step is neither)."""
    low = text.lower()
    first, later = bool(_FIRST.search(low)), later_step(low)
    out = list(scores)
    for i, c in enumerate(cands):
        if first and c.family in ("order_first", "order"):
            out[i] += 0.1
        elif first and c.family == "swap_object":
            out[i] -= 0.1
        elif later and c.family in ("swap_object", "order_first"):
            out[i] -= 0.15
        elif not first and c.family == "order_first":
            out[i] -= 0.15  # a re-order is said with its time word ("first", "before")
    return out


def named_part(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> str | None:
    """The part "by the X" / "round the X" names when X is no object of the scene ("by the ear",
    "round the middle"; not "by the bowl"), or None."""
    # "round the body, not by the handle": the part said last is the one ruled out
    m = _PART.search(NEGATED_PART_RE.sub(" ", text.lower()).strip()) or _CONTRAST_PART.search(text.lower())
    if m is None:
        return None
    phrase = f"the {m.group('p')}"
    options = object_options(objects, objects)
    if options and max(ground_phrase(phrase, options, scorer, objects).values()) >= PART_NOT_OBJECT:
        return None
    return phrase


def rescore_parts(
    text: str,
    cands: Sequence[Any],
    scores: list[float],
    scorer: Any,
    objects: Sequence[ObjectInfo] = (),
    held: ObjectInfo | None = None,
) -> list[float]:
    """Grasp-region scores with the part named after "by the" grounded on its own; a part named
    (not a scene object) makes the meanings that grasp nothing less likely. On an object with a
    handle or a rim (``held``), words for those parts are near "the side" ("the bit sticking out"):
    the side is meant only when said."""
    scores = direction_cues(text, cands, scores)
    scores = time_cues(text, cands, scores)
    idx = [i for i, c in enumerate(cands) if c.family == "grasp"]
    if held is not None and {"handle", "rim"} & set(held.parts) and not re.search(r"\bsides?\b", text.lower()):
        scores = [s - PART_SAID if c.key == "grasp:side" else s for c, s in zip(cands, scores, strict=True)]
    scores = _negated_parts(text, cands, scores, idx)
    part = named_part(text, objects, scorer) if idx else None
    if part is None:
        return scores
    options = [
        (cands[i].value, [f"the {cands[i].value}"] + [w for w in sw.PART_WORDS.get(cands[i].value, ())]) for i in idx
    ]
    sims = ground_phrase(part, options, scorer)
    # WordNet's kinds: a "lip" or "brim" is a rim, a "knob" a handle, a "cap" a top.
    head = nouns.head_noun(part)
    kinds = {v for v in sims if head and (nouns.word_relation(head, "middle" if v == "center" else v) or 0.0) >= 1.0}
    out = [s - PART_SAID for s in scores]
    best = max(sims.values())
    for i in idx:
        out[i] = scores[i] + SLOT_WEIGHT * (sims[cands[i].value] - best)
        if cands[i].value in kinds:
            out[i] += PART_KIND
    return out


#: a part named after a negation ("not by the handle", "never the rim")
NEGATED_PART_RE = re.compile(
    r"\b(?:not|no|never|isn't|n't|instead of|rather than)\s+(?:by\s+|at\s+|from\s+)?(?:the|its)\s+(?P<w>[a-z]+)\b"
    # the verb and its object between ("don't take it by the rim", "never grab the mug at its handle")
    r"|(?:\bnot|\bnever|n't)\s+(?:[a-z]+\s+){1,3}?(?:by|at|from)\s+(?:the|its)\s+(?P<v>[a-z]+)\b"
)


def _negated_parts(text: str, cands: Sequence[Any], scores: list[float], idx: list[int]) -> list[float]:
    """A part said after a negation is not the one to grasp by ("the handle, not the rim")."""
    said = {m.group("w") or m.group("v") for m in NEGATED_PART_RE.finditer(text.lower())}
    out = list(scores)
    for i in idx:
        value = cands[i].value
        words = {value, *(w.split()[-1] for w in sw.PART_WORDS.get(value, ()) if w.startswith("the "))}
        if words & said:
            out[i] -= NEGATED_PART
    return out


#: "the other bowl", "another mug", "a different one": the one of that kind not in use now
_OTHER = re.compile(r"\b(?:the\s+other|another|a\s+different|the\s+different|other)\s+(?P<n>[a-z]+(?:\s+[a-z]+)?)")


def other_one(text: str, objects: Sequence[ObjectInfo], scorer: Any, current: set[str]) -> str | None:
    """The object "the other <noun>" names: of the noun's kind, not the one the skill uses now; None
    when the words say no such thing or leave more than one."""
    m = _OTHER.search(text.lower())
    if m is None or not current:
        return None
    phrase = f"the {m.group('n')}"
    if m.group("n").split()[0] in ("one", "ones", "way", "side", "direction", "hand", "end"):
        # "the other one": the kind of the thing in use; "other way": a direction, not an object
        if m.group("n").split()[0] not in ("one", "ones"):
            return None
        kind_of = {o.category for o in objects if o.name in current}
        pool = [o for o in objects if o.category in kind_of and o.name not in current]
        return pool[0].name if len(pool) == 1 else None
    options = object_options(objects, objects)
    sims = ground_phrase(phrase, options, scorer, objects)
    best = max(sims.values())
    if best < GROUND_MIN:
        return None
    kind = [n for n, v in sims.items() if v >= best - 0.1]
    rest = [n for n in kind if n not in current]
    return rest[0] if len(rest) == 1 and len(kind) > len(rest) else None


#: what the meaning acting on "the other one" gains
OTHER_BONUS = 0.15


def other_cue(
    text: str, cands: Sequence[Any], scores: list[float], objects: Sequence[ObjectInfo], scorer: Any, current: set[str]
) -> list[float]:
    """Correction scores with "the other X" weighed: swapping to it (object or place) gains."""
    name = other_one(text, objects, scorer, current)
    if name is None:
        return scores
    out = list(scores)
    for i, c in enumerate(cands):
        if c.family in ("swap_object", "swap_target") and c.value == name:
            out[i] += OTHER_BONUS
    return out


#: a clause that rules its object out ("don't pick the blue cube", "leave the orange", "not that one")
_RULES_OUT = re.compile(r"^(?:(?:no|nope|oh)\s+)*(?:not|don't|do not|never|leave|forget|skip|ignore)\b")
#: families whose value is the object to do next or instead, or the place to use instead
_INSTEAD = ("swap_object", "swap_target", "order_first")
CONTRAST = 0.12


def _one_named(clause: str, objects: Sequence[ObjectInfo], scorer: Any) -> str | None:
    m = re.search(r"\b(?:the|that|this)\s+[a-z].*$", clause)
    options = object_options(objects, objects)
    if m is None or not options:
        return None
    return clearly_named(ground_phrase(m.group(0), options, scorer, objects))


def contrast_cue(
    text: str, cands: Sequence[Any], scores: list[float], objects: Sequence[ObjectInfo], scorer: Any
) -> list[float]:
    """Correction scores with a contrast of two clauses weighed ("don't pick the blue cube, take the
    red one"; "leave the orange, do the block first"): the object the negated clause names is not
    the one to use instead or do first; the one the other clause names is."""
    clauses_ = [c.strip() for c in re.split(r"\s*(?:[,;]|\bbut\b|\binstead\b)\s*", text.lower()) if c.strip()]
    if len(clauses_) < 2:
        return scores
    out_, in_ = set(), set()
    for clause in clauses_:
        name = _one_named(clause, objects, scorer)
        if name is not None:
            (out_ if _RULES_OUT.search(clause) else in_).add(name)
    if len(out_) != 1 or len(in_) != 1 or out_ == in_:
        return scores
    bad, good = next(iter(out_)), next(iter(in_))
    return [
        s - CONTRAST if _instead(c) == bad else s + CONTRAST / 2 if _instead(c) == good else s
        for c, s in zip(cands, scores, strict=True)
    ]


def _instead(c: Any) -> str | None:
    """The object or place a meaning uses instead (a standing rule's place: "fruit belongs in the
    bowl, not the drawer"); None for meanings that name none."""
    if c.family in _INSTEAD:
        return str(c.value)
    return str(c.value).rsplit(">", 1)[-1] if c.family == "preference" else None


#: words of a stack's order ("the largest cube's the base", "the blue one at the bottom")
_STACK_ORDER = re.compile(
    r"\b(?:base|bottom|foundation|underneath|beneath|lowest layer|first layer|on top of the pile)\b"
)
STACK_CUE = 0.1


def stack_order(text: str) -> bool:
    """The words say where things go in a stack ("biggest at the base, smallest up top")."""
    return bool(_STACK_ORDER.search(text.lower()))


def stack_cue(text: str, cands: Sequence[Any], scores: list[float]) -> list[float]:
    """Correction scores with a stack's order words weighed: "X's the base" asks for a stacking
    order (by the thing or by its size), not for using X instead."""
    low = text.lower()
    if not _STACK_ORDER.search(low):
        return scores
    # said by size ("the largest"), the order is by size, whichever block that is now
    by_size = bool(polarity.said_values("stack_key", low))
    return [
        s + STACK_CUE
        if c.family == "stack_key" or (c.family == "stack" and not by_size)
        else s - STACK_CUE
        if c.family in ("swap_object", "swap_target")
        else s
        for c, s in zip(cands, scores, strict=True)
    ]


def scene_cues(text: str, cands: Sequence[Any], scores: list[float], ctx: Any, scorer: Any) -> list[float]:
    """The correction cues that read the scene's objects: "the other X", a contrast of two clauses,
    "A before B", a caution about a thing, a stack's order words."""
    current = {n for n in (ctx.object, ctx.target) if n}
    scores = other_cue(text, cands, scores, ctx.objects, scorer, current)
    scores = contrast_cue(text, cands, scores, ctx.objects, scorer)
    from robot_agent.language.steps import before_cue  # steps reads placements from here

    scores = before_cue(text, cands, scores, ctx.objects)
    scores = verbs.caution_cue(text, cands, scores)  # "mind the glass": keep away from it
    low = text.lower()
    said = {v for v, pat in (("open", r"\bopen\w*"), ("close", r"\b(?:clos|shut)\w*")) if re.search(pat, low)}
    scores = list(scores)
    for i, c in enumerate(cands):
        if c.family != "forbid" or c.key.count(":") != 2:
            continue
        if not _PROHIBITION.search(low):
            scores[i] -= CONTRAST  # "you haven't opened the drawer yet": how things are, nothing forbidden
        elif len(said) == 1:
            scores[i] += CONTRAST / 2 if c.key.split(":")[1] in said else -CONTRAST / 2  # "don't shut it"
    return stack_cue(text, cands, scores)


#: words that forbid a step ("don't close it", "no need to shut it", "leave it open", "keep it shut")
_PROHIBITION = re.compile(r"\b(?:don'?t|do not|never|no need|needn'?t|leave|keep|without|not to|skip|stop)\b")
