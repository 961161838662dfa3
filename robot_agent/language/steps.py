"""How a task is said, before what it says: a description then a request ("the drawer's half
open, shut it"), the one ruled out said first ("not the black mug, the blue one, shelf please"),
and steps in order ("the biggest cube on the plate, then the middle one on top of it"). Each is
rewritten as plain requests the rest of the layer reads; pronouns that point back are resolved.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from robot_agent.language import verbs, wordnet
from robot_agent.language.checks import DESCRIBES
from robot_agent.language.structure import placement_phrases, stack_order
from skills.types import ObjectInfo

#: a clause that says how something is now, then what to do about it ("the drawer's half open,
#: shut it"; "that mug is in the way so move it"): the pronoun of the request is the described thing
_DESCRIBED = re.compile(
    r"^(?P<np>(?:the|that|this|your|my|our)\s+[a-z][a-z ]*?)\s*(?:'s|\u2019s|\s+is|\s+are|\s+looks|\s+seems|\s+was)\s+"
    r"(?P<desc>[^,;]+?)\s*(?:[,;.]|\s-+\s|\s+so\b|\s+and\b)\s*(?:(?:so|now|please|just|then|can you|could you)\s+)*"
    r"(?P<rest>[a-z].*)$"
)


#: what someone did to a thing, then what to do about it ("someone left the drawer hanging open,
#: could you close it"): the pronoun of the request is the thing done to
_DONE_TO = re.compile(
    r"^(?:someone|somebody|you|they|he|she|we|i|the\s+[a-z]+)\s+(?:(?:has|have|had|'ve|just|already)\s+)*"
    r"(?P<verb>[a-z]+)\s+(?P<np>(?:the|that|this|your|my|our)\s+[a-z]+(?:\s+[a-z]+)?)\b(?P<desc>[^,;.]*?)"
    r"\s*(?:[,;.]|\s-+\s|\s+so\b|\s+and\b)\s*(?:(?:so|now|please|just|then|can you|could you|would you)\s+)*"
    r"(?P<rest>[a-z].*)$"
)


#: "not the black mug, the blue one, shelf please": the contrast said first
_CONTRAST_FIRST = re.compile(
    r"^(?:no\s*,?\s+)?not\s+(?P<neg>(?:the|that|this)\s+[a-z][a-z ]*?)(?:\s*[,;]\s*(?:but\s+)?|\s+but\s+)"
    r"(?P<pos>(?:the|that|this)\s+[a-z][a-z ]*?)(?P<rest>\s*(?:[,;].*|\s(?:in|into|on|onto|to)\s.*)?)$"
)


#: a placement asked as whether the thing may go there ("can the dark mug go on the shelf?")
_MAY_GO = re.compile(
    r"^(?:(?:so|and|ok|okay|right|now)\s*,?\s+)*(?:can|could|would|will|should|may|might)\s+"
    r"(?P<np>(?:the|that|this|these|those|my|your|both)\s+[a-z][a-z' ]*?)\s+"
    r"(?:go|be\s+(?:put|placed|moved|set)|live|sit)\s+(?P<place>(?:in|into|on|onto|inside|under|next\s+to|beside)\b.*)$"
)


def restated(text: str) -> str:
    """A task said as a description and a request ("the drawer's half open, shut it") as the
    request alone, its pronoun replaced by what the description was about ("shut the drawer");
    ``text`` itself when it is not said that way. The description's own words (half open) say how
    things are, not what to do: read as part of the goal they ask for the opposite."""
    g = _MAY_GO.match(text.strip().lower().rstrip("?"))
    if g is not None:
        return f"put {g.group('np')} {g.group('place')}"
    head, colon, rest = text.partition(":")
    # "tidy up" takes no object of its own: read with one, so its verb counts ("tidy up it")
    if colon and rest.strip() and verbs.main_verbs(f"{head} it") and placement_phrases(rest) is not None:
        # "clear the table: every block onto the shelf": what follows the colon says what is meant
        return rest.strip() if verbs.main_verbs(rest) else f"put {rest.strip()}"
    c = _CONTRAST_FIRST.match(text.strip().lower())
    if c is not None:
        # "not the black mug, the blue one ...": the one meant, its noun from the one ruled out
        pos, neg = c.group("pos").split(), c.group("neg").split()
        if pos[-1] in ("one", "ones") and len(neg) > 1 and neg[-1] not in ("one", "ones"):
            pos[-1] = neg[-1]
        return f"{' '.join(pos)}{c.group('rest') or ''}"
    m = _DESCRIBED.match(text.strip().lower())
    if m is None:
        return _done_to(text) or _topic_first(text)
    rest = m.group("rest")
    pron = re.search(r"\b(?:it|them)\b", rest)
    if pron is None or not verbs.main_verbs(rest):
        return text
    np = m.group("np")
    if _WHERE.match(m.group("desc")):
        np = f"{np} {m.group('desc')}"  # "the cup's on the left, grab it": which cup
    return f"{rest[: pron.start()]}{np}{rest[pron.end() :]}"


def _done_to(text: str) -> str | None:
    """The request after a clause that says what someone did to a thing ("someone left the drawer
    hanging open again, could you close it" -> "close the drawer"), or None."""
    m = _DONE_TO.match(text.strip().lower())
    wn = wordnet.load()
    if m is None or wn is None:
        return None
    verb, rest = m.group("verb"), m.group("rest")
    forms = wn.base_forms(verb, "v")
    pron = re.search(r"\b(?:it|them)\b", rest)
    if not forms or verb in forms or pron is None or not verbs.main_verbs(rest):
        return None  # no verb in the past ("someone put", "you take"), or no pronoun to fill in
    np = m.group("np").split()
    if len(np) == 3 and (np[2].endswith(("ing", "ed")) or not wn.synsets(np[2], "n") or wn.synsets(np[2], "a")):
        np = np[:2]  # "the drawer hanging": a noun, then what it is doing
    return f"{rest[: pron.start()]}{' '.join(np)}{rest[pron.end() :]}"


#: the thing said first, then the request about it ("the cylinder closest to the plate, slide it
#: along a bit"; "that red one - pop it in the bin")
_TOPIC = re.compile(
    r"^(?P<np>(?:the|that|this|those|these|your|my)\s+[a-z][a-z' -]*?)\s*(?:[,;:]|\s-+)\s*"
    r"(?P<lead>(?:(?:please|now|just|and|then|so|can you|could you|would you)\s+)*)(?P<v>[a-z]+)\b(?P<rest>.*)$"
)


#: the verbs that make a phrase a clause of its own ("... go in the drawer", "... is in the way")
_CLAUSE_VERB = re.compile(
    r"\b(?:go|goes|belongs?|is|are|was|were|sits?|stays?|lives?|should|must|can|will|needs?|has|have)\b"
)


def _topic_first(text: str) -> str:
    """A request whose object was said first, as one request ("the green cube, put it in the bin" ->
    "put the green cube in the bin"); ``text`` itself when it is not said that way."""
    t = _TOPIC.match(text.strip().lower())
    if t is None or _CLAUSE_VERB.search(t.group("np")) or not verbs.main_verbs(f"{t.group('v')} the thing"):
        return text  # "the cube and the cylinder go in the drawer, then close it": a clause first
    rest = t.group("rest")
    pron = re.search(r"\b(?:it|them)\b", rest)
    if pron is None:
        return text
    return f"{t.group('lead')}{t.group('v')}{rest[: pron.start()]}{t.group('np')}{rest[pron.end() :]}"


#: a description that says where the thing is: it tells which one, so it stays with the noun
_WHERE = re.compile(
    r"(?:on|in|at|by|near|next to|beside|behind|under|over|above|below|in front of|closest to|nearest|"
    r"furthest from|farthest from|to the)\b"
)


#: what says one step comes after another ("..., then ...", "... and after that ...", "...; ...")
#: ("next to" says where a thing is, not when)
_SEQUENCE = re.compile(r"\s*(?:[;]|,?\s*\b(?:and\s+)?(?:then|after that|afterwards|next(?!\s+to\b))\b,?)\s*")


#: two requests joined by "and" (each must have a verb of its own to be read as two steps)
_AND = re.compile(r"\s*,?\s+and\s+")
#: the verb words before a request's first noun phrase ("put", "could you move")
_LEAD_VERB = re.compile(r"^(?P<v>[a-z' ]+?)\s+(?=(?:the|a|an|that|this|my|your)\s)")
#: a step that opens something ("open the drawer", "slide open the cabinet"): what it opened
_OPENED = re.compile(
    r"^(?:please\s+)?(?:open|pull open|slide open)\s+(?P<x>(?:the|that|this)\s+[a-z][a-z ]*?)(?:\s+open)?$"
)
#: "inside", "in there", "into it", "in" with nothing after: in the place the step before opened
_INSIDE = re.compile(r"\s+(?:inside|in there|in it|into it|in)(?=\s*(?:please)?\s*$)")


def _requests(part: str) -> list[str]:
    """``part`` split at commas and "and" into requests when each piece has a verb of its own
    ("open the drawer, put the lemon in"), else ``[part]`` ("the apple and the lemon, bowl")."""
    pieces = [p.strip(" ,") for p in re.split(r"\s*,\s*|\s+and\s+", part) if p.strip(" ,")]
    if len(pieces) > 1 and all(verbs.main_verbs(p) and verbs.read(p).families for p in pieces):
        return pieces
    return [part]


#: a step said in one word: where the arm goes when done ("..., then home")
_ONE_WORD_STEP = re.compile(r"home|rest|park")
#: the object phrase that ends a step with no place ("could you take that orange")
_TAKEN = re.compile(r"\b(?P<x>(?:the|that|this|those|these)\s+[a-z][a-z -]*)$")


def sequence(text: str) -> list[str] | None:
    """A task said as steps in order ("biggest cube on the plate, then the middle one on top of
    it"): the steps, each pronoun that points back ("it", "that one") replaced by the object phrase
    of the step before; None when the words name no order of steps."""
    low = text.lower().strip(" .!?;")  # "could you take that orange and pop it on the tray?"
    parts = [q for p in _SEQUENCE.split(low) if p.strip(" ,") for q in _requests(p.strip(" ,"))]
    if len(parts) < 2:
        # "open the drawer and put the mug inside": two requests, each with its own verb
        halves = [p.strip(" ,") for p in _AND.split(low)]
        lead = _LEAD_VERB.match(halves[0]) if len(halves) == 2 else None
        if (
            lead is not None
            and not verbs.main_verbs(halves[1])
            and placement_phrases(halves[0])  # not "pop the lemon and the lime on the plate": one place
            and placement_phrases(halves[1])
        ):
            # "put the apple in the bowl and the mug in the drawer": the verb said once for both
            halves[1] = f"{lead.group('v')} {halves[1]}"
        if len(halves) == 2 and all(verbs.main_verbs(h) and verbs.read(h).families for h in halves):
            parts = halves
    if len(parts) < 2 or any(len(p.split()) < 2 and not _ONE_WORD_STEP.fullmatch(p) for p in parts):
        return None
    out = [parts[0]]
    for p in parts[1:]:
        opened = _OPENED.match(out[-1])
        before = placement_phrases(out[-1])
        place = opened.group("x") if opened is not None else (before[1] if before else "")
        if place and _INSIDE.search(p):
            # "open the drawer and put the mug inside", "take it to the drawer and put it in":
            # inside what was opened, or the place the step before went to
            p = _INSIDE.sub(f" in {place}", p, count=1)
            if opened is not None:
                out.append(p)
                continue
        # "..., then shut it": what opens and closes is the place before; else the thing moved
        drawer = bool(verbs.read(p).families & {"open", "close"})
        thing = (before[1] if drawer else before[0]) if before else ""
        took = _TAKEN.search(out[-1]) if not before else None
        thing = took.group("x") if took is not None else thing  # "take that orange and pop it on the tray"
        if thing and not thing.startswith(("the ", "that ", "this ", "a ", "an ")):
            thing = f"the {thing}"
        if thing:
            p = re.sub(r"\b(?:it|that one)\b", thing, p, count=1)
        out.append(p)
    return out


#: "A before B", "B after A" (A is done first): the two phrases of an order said outright
_BEFORE = re.compile(r"^(?P<a>.+?)\s+(?:before|ahead of|prior to)\s+(?P<b>.+)$")
_AFTER = re.compile(r"^(?P<b>.+?)\s+after\s+(?P<a>.+)$")
#: "apples first (and then the rest)", "start with the glasses": what is done first, said of a kind
_FIRST_SAID = re.compile(
    r"^(?:(?:ok|okay|no|actually|so|um|uh)\W+)*(?:(?:do|start with|begin with)\s+)?(?P<a>[a-z][a-z ]*?)\s+first\b"
    r"(?:\W+(?:and\s+)?then\s+(?P<b>.+))?.*$"
)
ORDER_CUE = 0.12


def _named(phrase: str, objects: Sequence[ObjectInfo]) -> set[str]:
    """The objects a phrase names by their words, plurals read as the singular ("glasses")."""
    from robot_agent.language import scene_words as sw

    said = {f for w in re.findall(r"[a-z]+", phrase.lower()) for f in (w, sw.singular(w))}
    return {o.name for o in objects if sw.words(o) & said}


def said_order(text: str, objects: Sequence[ObjectInfo]) -> tuple[set[str], set[str]] | None:
    """(the objects to do first, those to do after) when the words say an order of scene things
    outright ("glasses before mugs", "apples first and then the rest"), else None. Any order among
    the first ones is the order said: "the apples first" is either apple first."""
    low = text.lower().strip(" .!?;")
    m = _BEFORE.match(low) or _AFTER.match(low) or _FIRST_SAID.match(low)
    if m is None:
        return None
    first, then = _named(m.group("a"), objects), _named(m.group("b") or "", objects)
    if not first or first & then or (not then and m.re is not _FIRST_SAID):
        return None
    return first, then


def before_cue(text: str, cands: Sequence[Any], scores: list[float], objects: Sequence[ObjectInfo]) -> list[float]:
    """Re-ordering scores with an order said as "A before B" ("glasses before mugs", "do the mug
    after the bowl") or "A first" ("apples first and then the rest"): the things A names are done
    first, not those B names."""
    said = said_order(text, objects)
    if said is None:
        return scores
    first, then = said
    return [
        s + ORDER_CUE * ((c.value in first) - (c.value in then)) if c.family == "order_first" else s
        for c, s in zip(cands, scores, strict=True)
    ]


def combined(text: str, subs: Sequence[Any], objects: Sequence[ObjectInfo]) -> Any:
    """One goal from parts understood one by one ("apple in the bowl, banana on the plate"): an
    :class:`~robot_agent.language.types.Understanding`, or None when the parts make no goal."""
    from robot_agent.language.meaning import goal_act

    # "take the apple to the drawer and put it inside": one placement said twice is done once
    subs = [u for i, u in enumerate(subs) if u.task and (i == 0 or u.atoms != subs[i - 1].atoms)]
    # a step read from one word ("..., then home") is said in full for the goal parser
    canonical = " and then ".join("go home" if u.atoms == [{"kind": "home"}] else u.task for u in subs)
    return goal_act(text, canonical, objects, min(u.confidence for u in subs), "model")


#: what the speaker (or the speaker and others) will do themselves: "then we can reset", "I'll log it"
_SPEAKERS_OWN = re.compile(
    r"^(?:(?:then|and|so|after that|afterwards)\s+)*(?:i|we)(?:'ll|'m|'re|\s+can|\s+will|\s+could|\s+might|"
    r"\s+am|\s+are|\s+should)\b"
)
#: ... unless it says what they want done: "we need the drawer open", "I'd like it in the bowl"
_WANTS = re.compile(r"\b(?:need|needs|want|wants|like|have to|has to|must|gotta|wanna|got to)\b")


def said_beside(part: str) -> bool:
    """A part of a task that asks nothing of the robot: it describes ("it's getting in the camera's
    way") or says what the speaker will do ("then we can reset"), and says no want."""
    low = part.lower().strip(" ,.;:!")
    return bool(DESCRIBES.match(low) or _SPEAKERS_OWN.match(low)) and not _WANTS.search(low)


#: words that refer, negate or point: a part holding one may be an ellipsis ("no, the other one")
_REFERS = frozenset("the a an this that these those it its them they one ones other not no".split())


#: a part that ends where something is put ("beaker in", "cups away")
_PLACED_LAST = re.compile(r"\b(?:in|into|inside|on|onto|away|back|down|up|off|out)$")


def aside(part: str) -> bool:
    """A part of a task said to someone or about nothing the arm does: no main verb and no word
    that refers or negates ("bath time", "come on sweetie", "we're done"). Names of things here
    are checked by the caller."""
    low = part.lower().strip(" ,.;:!?")
    words = set(re.findall(r"[a-z]+(?:'[a-z]+)?", low))
    if _PLACED_LAST.search(low):
        return False  # "beaker in", "the rest away": a placement said short
    return bool(words) and not words & _REFERS and not verbs.main_verbs(low)


def asking(
    parts: Sequence[str], subs: Sequence[Any], objects: Sequence[ObjectInfo], text: str = ""
) -> tuple[list[str], list[Any]]:
    """The parts of a task (and their readings) that ask something: a part that describes or says
    what the speaker will do (``said_beside``) or is an aside (:func:`aside`, with no meaning
    close enough to offer), was not read as a goal and names nothing in the scene is left out
    ("..., then we can reset", "..., it's getting in the camera's way", "go home, bath time");
    all of them when every part would be left out.
    ``text``: the whole task, where a part joined to the next by "and" is a conjunct, no aside
    ("beaker and the yellow thing to the bin")."""
    from robot_agent.language import scene_words as sw

    words = {w for o in objects for w in (o.category, *o.name.lower().split("_")) if len(w) > 2}
    here = sw.all_words(objects)  # an aside names nothing here by any word ("drawer shut" does)
    low = text.lower()

    def joined(part: str) -> bool:
        return bool(low) and re.search(rf"{re.escape(part)}\s+(?:and|&|\+)\s", low) is not None

    kept = [
        (p, u)
        for p, u in zip(parts, subs, strict=True)
        if (u.decision == "act" and u.task)
        # an aside is one the models found nothing close to (no choice to offer): "beaker" alone
        # is a thing said short, "bath time" is not
        or not (
            said_beside(p)
            or (aside(p) and not u.choices and not here & set(re.findall(r"[a-z]+", p.lower())) and not joined(p))
        )
        or stack_order(p)  # "..., largest on the bottom": the order of a stack, no description
        or words & set(re.findall(r"[a-z]+", p.lower()))
    ]
    if not kept:
        return list(parts), list(subs)
    return [p for p, _ in kept], [u for _, u in kept]


#: a step said not to be done ("please don't shut the drawer afterwards", "no need to close it")
_NOT_DONE = re.compile(r"\b(?:don'?t|do not|never|no need to|needn'?t|mustn'?t|shouldn'?t|leave)\b")
#: what a step to add loses when the words say not to do it
NOT_DONE = 0.1


def not_done_cue(text: str, cands: Sequence[Any], scores: list[float]) -> list[float]:
    """A step to add (close the drawer at the end) loses when the words say not to do a step: the
    sentence model puts "don't shut it afterwards" next to "shut it afterwards"."""
    if not _NOT_DONE.search(text.lower()):
        return scores
    return [s - NOT_DONE * (c.family == "step") for c, s in zip(cands, scores, strict=True)]


#: a sentence's end ("... for me, please? She never listens"), not a number's point ("0.48")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=\S)")
#: words before a sentence's first verb that leave it a request ("now, if you wouldn't mind, ...")
_OPENER = re.compile(
    r"^(?:(?:ok|okay|so|now|right|alright|well|oh|um|uh|er|hey|yo|and|then|please|just|kindly|maybe|perhaps|"
    r"also|next|first|finally|go on|come on)\b\s*,?\s*)+"
)
#: the robot called by name ("robot, pick the glass up"): what follows is said to it
_VOCATIVE = re.compile(r"(?:^|[,.!?]\s*|\b(?:so|ok|okay|now|and|hey|yo)\s+)(?:robot|bot|arm)\s*[,:!-]\s*(?P<rest>.+)$")
#: a request made as a question or a wish addressed to the robot
_ASKED = re.compile(
    r"\b(?:would|could|can|will|won't)\s+you\b|\bif you (?:would|could|wouldn't|don't) mind\b|\bplease\b|"
    r"\bi(?:'d| would) like you to\b|\bi (?:need|want) you to\b|\bpossible for you to\b|\blet'?s\b|"
    r"\byou (?:should|need to|have to|must)\b|\b(?:the robot|it) (?:is going to|will|should|can)\b"
)
#: a sentence that says how things are or were ("my back is killing me", "that's the glass"):
#: it starts with its subject
_STATES = re.compile(
    r"^(?:i|i'm|i've|i'd|i'll|we|we're|we've|she|she's|he|he's|they|they're|it|it's|its|that|that's|this|"
    r"there|there's|here|here's|my|our|his|her|their|everyone|someone|somebody|nobody|who|what|why|how|"
    r"when|is|are|was|does|did|do)\b"
)
#: a subject and its verb ("we're", "she is"): a sentence that says how things are
_SUBJECT_VERB = re.compile(
    r"\b(?:i|we|they|he|she|it|that|this|there)(?:'re|'m|'s|'ve|'d|\s+(?:are|am|is|was|were|have|had))\b"
)
#: "X goes on Y": where a thing is to be
_TO_GO = re.compile(r"\b(?:goes|go|belongs?|lives?)\s+(?:in|into|on|onto|up|inside|to)\b")
#: the robot said in the third person ("the robot is going to put ..."): what follows is asked
_THIRD_PERSON = re.compile(r"^(?:the robot|it|robot)\s+(?:is going to|is gonna|'s going to|will|should|can)\s+", re.I)
#: a sentence that goes on from the one before ("and the yellow too", "then close it")
_GOES_ON = re.compile(r"^(?:and|then|also|plus|or)\b|\b(?:too|as well|also)\W*$")


#: a person addressed at a sentence's end or start ("..., chef.", "..., love?", "Mate, ...")
_ADDRESSED_END = re.compile(
    r"[,;]\s*(?:(?:my|ya|you|old|dear|young)\s+)*(?P<w>[a-z]+)(?P<end>\s*[.!?]*)\s*$", re.IGNORECASE
)
_ADDRESSED_START = re.compile(r"^(?:(?:hey|oi|ok|okay|now|listen)\s+)?(?P<w>[a-z]+)\s*,\s*(?=\S)", re.IGNORECASE)


def without_address(text: str, words: set[str] | frozenset[str] = frozenset()) -> str:
    """``text`` without the person it is said to ("Yes, chef." -> "Yes.", "put the glass on the
    plate for me, love?", "Mate, shut the drawer"): a word WordNet knows as a person (any sense),
    alone at a sentence's edge after or before a comma, no adverb ("down") and no word of the
    scene (``words``: a "tumbler" is also an acrobat). Read with it, the sentence model takes the
    person for a thing."""
    wn = wordnet.load()
    if wn is None or "," not in text:
        return text

    def person(w: str) -> bool:
        w = w.lower()
        if w in words or wn.synsets(w, "r"):  # "down, down": a way, not a person
            return False
        return any(s.lexname == "noun.person" for s in wn.synsets(w, "n"))

    out = []
    for sentence in _sentences(text):
        m = _ADDRESSED_END.search(sentence)
        if m is not None and m.start() > 0 and person(m.group("w")):
            sentence = sentence[: m.start()] + m.group("end")
        m = _ADDRESSED_START.match(sentence)
        if m is not None and person(m.group("w")):
            sentence = sentence[m.end() :]
        out.append(sentence)
    return " ".join(out)


def _sentences(text: str) -> list[str]:
    """``text``'s sentences, split at a sentence's end (not at a number's point)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _says_a_request(sentence: str) -> bool:
    """The sentence asks the robot for something it can do: an imperative, a question or wish
    addressed to it, or a bare placement ("black mug on the shelf"), with a verb that moves a
    thing or a place said ("thank you" and "keep an eye on it" ask nothing of the arm)."""
    low = sentence.lower().strip(" .!?;")
    reading = verbs.read(low)
    content = (
        len(reading.foreign) < len(reading.verbs)
        or any(_placement(c) for c in re.split(r"\s*[,;:]\s*", low))
        or bool(re.search(r"\bhome\b|\bopen\b|\bclose\b|\bshut\b", low))
    )
    if not content:
        return False
    if _ASKED.search(low) or _VOCATIVE.search(low):
        return True
    rest = _OPENER.sub("", low)
    if _SUBJECT_VERB.search(rest):
        return False  # "chat we're on the office map now": says where someone is
    if _TO_GO.search(rest) and _placement(rest):
        return True  # "that one goes on the plate"
    if _SAYS_HOW.match(rest):
        return False  # "the banana is in the wrong spot": where it is, not where it is to go
    if _STATES.match(rest):
        return False
    wn = wordnet.load()
    first = (re.findall(r"[a-z]+", rest) or [""])[0]
    return _placement(rest) or (wn is not None and first in wn.base_forms(first, "v"))


def _placement(clause: str) -> bool:
    """The clause places a thing ("cylinder into the drawer"), the article of its place said or
    not ("yellow cylinder into drawer")."""
    bare = re.sub(r"\b(in|into|on|onto|inside)\s+(?!(?:the|a|an|this|that|my|your)\b)(?=[a-z])", r"\1 the ", clause)
    return placement_phrases(clause) is not None or placement_phrases(bare) is not None


def requested(text: str, objects: Sequence[ObjectInfo]) -> str:
    """A task said in several sentences as only the ones that ask for it: "I've been potting all
    morning and my back is killing me. Would you lift the big block onto the shelf?" -> the second.
    Sentences that say how things are, why, or to whom (a story, a remark to an audience, "she never
    listens to me") ask for nothing: read as part of the task, their words pull the meaning away.

    A sentence is kept when it asks (:func:`_says_a_request`), goes on from the one before ("and the
    yellow one too"), or is a fragment naming a thing here ("Two items: orange and lemon"); the
    others are left out. Only when some sentence asks and some is left out: else ``text`` as it is.
    A pronoun of the request ("would you close it") stands for the one thing the nearest left-out
    sentence before it (else after it) named and the request does not ("my daughter's left the
    drawer open again"); when that is not one thing and a left-out sentence names something here,
    ``text`` stays whole. The robot called by name in a sentence ("robot, black mug on the shelf")
    starts the request there, and "the robot is going to" before it is left out."""
    sentences = _sentences(text)
    if len(sentences) < 2:
        return text
    from robot_agent.language.scene_words import all_words

    words = all_words(objects)
    kept: list[str] = []
    before: list[str] = []  # left-out sentences said before the first request, and after it
    after: list[str] = []
    asked = False
    for s in sentences:
        low = s.lower()
        v = _VOCATIVE.search(low)
        if v is not None and _says_a_request(v.group("rest")):
            kept.append(s[len(s) - len(v.group("rest")) :])
            asked = True
        elif _says_a_request(s):
            kept.append(s)
            asked = True
        elif kept and _GOES_ON.search(low.strip(" .!?;")):
            kept.append(s)
        elif (
            asked
            and not re.search(r"\b[a-z]+\b(?:'s)?\s+(?:is|are|was|were|has|have|had|'s)\b", low)
            and set(re.findall(r"[a-z]+", low)) & words
            and not _STATES.match(_OPENER.sub("", low))
        ):
            kept.append(s)  # a fragment naming something here after the request ("Two items: orange and lemon")
        else:
            (after if asked else before).append(s)
    if not asked or len(kept) == len(sentences):
        return text
    out = " ".join(_THIRD_PERSON.sub("", k.strip()) for k in kept)
    # "would you close it": the thing a left-out sentence named, else the sentences stay together
    m = _POINTS_BACK.search(out.lower()) or _IT_SUBJECT.match(out.lower())
    if m is None:
        return out
    here = _things(out, objects)
    left = [*reversed(before), *after]  # the nearest one said before first
    said = next((d for d in (_things(s, objects) for s in left) if set(d) - set(here)), {})
    said = {n: p for n, p in said.items() if n not in here}
    if len(said) != 1:
        return text if any(set(re.findall(r"[a-z]+", s.lower())) & words for s in left) else out
    phrase = f"the {next(iter(said.values()))}"
    if m.group("p") == "there" and not m.group("prep"):
        phrase = f"in {phrase}"
    return f"{out[: m.start('p')]}{phrase}{out[m.end('p') :]}"


#: a pronoun a verb or a place word takes ("close it", "up on it", "put it in there"), not the
#: one of "would it be possible"
_POINTS_BACK = re.compile(
    r"\b(?:(?P<prep>on|in|into|onto|inside|to|at|from|off|up on)|(?!(?:would|could|will|can|is|was|if|make|makes)\b)"
    r"[a-z]+)\s+(?P<p>it|them|there)\b"
)


#: the request's subject a pronoun ("it belongs on the plate")
_IT_SUBJECT = re.compile(r"(?P<prep>)(?P<p>it)\b(?!'s\b)")


def _things(sentence: str, objects: Sequence[ObjectInfo]) -> dict[str, str]:
    """The objects a sentence names by a phrase only one of them answers to, by word or by kind
    ("the glass" for the one tumbler): name -> phrase (without its article)."""
    from robot_agent.language import nouns
    from robot_agent.language.guards import named

    out = {n: p for n, (_, p) in named(sentence, objects).items()}
    for m in re.finditer(r"\b(?:the|that|this|a|an|your|my)\s+([a-z]+(?:\s+[a-z]+){0,2})", sentence.lower()):
        phrase = nouns.noun_phrase(f"the {m.group(1)}")
        head = nouns.head_noun(phrase)
        kin = [o.name for o in objects if head and (nouns.relation(head, o) or 0.0) >= 1.0]
        if len(kin) == 1 and kin[0] not in out:
            out[kin[0]] = phrase[4:]
    return out


#: a sentence that starts with its subject, the operator's words about the robot included ("you
#: came down on it from a great height"): it says how things went, a correction's reason
_SAYS_HOW = re.compile(
    rf"{_STATES.pattern}|^(?:you|you're|you've|your)\b|"
    r"^(?:the\s+|your\s+|my\s+)?[a-z]+(?:\s+[a-z]+)?(?:'s|\s+(?:is|are|was|were|looks|seems))\b"
)
#: what the speaker means to have done ("we'll have the orange cube at the bottom"): a request
_INTENDS = re.compile(r"^(?:we'll|we will|we're going to|let's)\b")
#: what a left-out sentence must not carry: an amount ("it's 8 mm high. drop it", unless the
#: request says its own: "I'm reading 80 mil. Pull it out to 180" says how it is now) or a way
_AMOUNT = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|half|quarter)\b")
_WAY = re.compile(r"\b(?:left|right|up|down|forward|forwards|back|backwards|higher|lower|far|further|closer)\b")
_AMOUNT_OR_WAY = re.compile(f"{_AMOUNT.pattern}|{_WAY.pattern}")
#: verbs that ask nothing on their own at a sentence's start ("can it", "do you")
_AUXILIARY = frozenset(
    "be is are was were am do does did have has had can could would will shall should may might must".split()
)


#: words that make a sentence ask the arm for something besides its verbs ("again, please")
_CHANGE = re.compile(
    r"\b(?:slow|slower|slowly|faster|quick|quicker|gentle|gentler|gently|careful|carefully|softer|harder|"
    r"again|retry|easy|ease|stop|wait)\b"
)


def asked_of_robot(text: str, objects: Sequence[ObjectInfo] = ()) -> str:
    """A correction said in several sentences as the ones that ask ("You came down on it from a
    great height there. Could you start a little lower, dear? You're making me nervous." -> the
    second): sentences that start with their subject say how it went and why, and read together
    with the request they pull its meaning toward the complaint's words. ``text`` as it is when no
    sentence asks (an imperative, a question or wish to the robot, the robot called by name), when
    none is left out, or when what is asked is to go on ("That's too fast. Keep going." is no
    approval of the speed)."""
    sentences = _sentences(text)
    if len(sentences) < 2:
        return text
    from robot_agent.language.scene_words import all_words

    wn = wordnet.load()
    words = all_words(objects)
    kept: list[str] = []
    asks = told_amount = False
    for s in sentences:
        low = s.lower().strip(" .!?;")
        v = _VOCATIVE.search(low)
        rest = _OPENER.sub("", v.group("rest") if v is not None else low)
        first = (re.findall(r"[a-z]+", rest) or [""])[0]
        reading = verbs.read(rest)
        content = len(reading.foreign) < len(reading.verbs) or bool(_AMOUNT_OR_WAY.search(rest) or _CHANGE.search(rest))
        if (v is not None or _ASKED.search(low)) and content:
            kept.append(s if v is None else s[len(s) - len(v.group("rest")) - (len(s) - len(s.rstrip(" .!?;"))) :])
            asks = True
        elif _SAYS_HOW.match(rest) and not _INTENDS.match(rest):
            if _WAY.search(low) or set(re.findall(r"[a-z]+", low)) & words:
                return text  # which way or which thing is said there, not in the request
            told_amount = told_amount or bool(_AMOUNT.search(low))
            continue
        else:
            kept.append(s)
            asks = asks or (wn is not None and first in wn.base_forms(first, "v") and first not in _AUXILIARY)
    if not asks or len(kept) == len(sentences) or not kept:
        return text
    out = " ".join(kept)
    if told_amount and not _AMOUNT.search(out.lower()):
        return text  # how far is said only there

    from robot_agent.language.judgement import approval

    plain = out.lower().strip(" .!?;")
    return text if verbs.continuing(plain) or approval(plain) > 0 else out
