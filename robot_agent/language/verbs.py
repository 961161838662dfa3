"""What the verb of a task asks for, read from WordNet rather than from a word list.

A sentence model places "shelve the cylinder", "poke the mug" and "bake the orange" near every
task that names the same objects: the objects dominate the sentence, the verb barely moves it.
WordNet's hypernyms say what a verb is a kind of: "shelve" is "put" (its gloss, "place on a
shelf", also names where), "poke" is "jab" is "thrust" is "push", "fetch" is "bring", "seal" is
"close"; and "bake" is "cook" and "make": nothing the arm does.

The skills' own verbs are the anchors (the few WordNet senses of put, take/hold/raise/bring, push,
open, close, return and move); every other verb is judged by whether one of its senses reaches an
anchor through its hypernyms. That works for verbs nobody listed, which is the point.

A main verb is a word WordNet knows as a verb that starts a clause (the sentence's start, or after
"please", "and", "then", "to", "you", a comma...) and takes an object: a determiner or pronoun
follows it, maybe after a particle ("seal up the drawer") or "me" ("fetch me the mug"). "would you
mind putting the cup away" therefore reads "put", not "mind", and "the mug goes on the plate" has
no main verb here (its structure is read elsewhere).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from robot_agent.language import wordnet

#: the skills' verbs as WordNet senses: (lemma, how the sense's definition starts, how far up the
#: hypernyms a verb may be from it) per family. "bring" only at one step: "deliver" is a kind of
#: it, and "drop" or "wash" (serve) a kind of "deliver"; "poke" is three steps from "push".
ANCHORS: dict[str, tuple[tuple[str, str, int], ...]] = {
    "put": (("put", "put into a certain place", 4),),
    "pick": (
        ("take", "get into one's hands", 4),
        ("hold", "have or hold in one's hands", 4),
        ("seize", "take hold of", 4),
        ("raise", "raise from a lower to a higher", 4),
        ("lift", "take hold of something and move it", 4),
        ("pick_up", "take and lift upward", 4),
        ("bring", "go or come after and bring", 1),
        # "hand over the apple", "pass me the cup": there is no skill to give, holding it out is the goal
        ("transfer", "cause to change ownership", 1),
    ),
    "push": (("push", "move with force", 4),),
    "open": (("open", "cause to open or to become open", 4),),
    "close": (("close", "move so that an opening or passage is obstructed", 4),),
    "home": (("return", "go or come back to place", 4),),
    "move": (("move", "cause to move or shift into a new position", 4), ("travel", "change location", 4)),
}
#: what the arm cannot do: cooking, eating and drinking, making, perceiving, talking. A verb none of
#: whose senses moves anything and one of whose senses is a kind of these is foreign to the task
#: ("bake the orange in the drawer", "eat the apple"); a verb that is neither ("sort", "align",
#: "group") is not called foreign: the ranking or a question deals with it.
NOT_ARM: tuple[tuple[str, str], ...] = (
    ("cook", "prepare for eating by applying heat"),
    ("cook", "transform and make suitable for consumption"),
    ("consume", "serve oneself to, or consume regularly"),
    ("eat", "take in solid food"),
    ("drink", "take in liquids"),
    ("make", "make or cause to be or to become"),
    ("create", "bring into existence"),
    ("create", "create by artistic means"),
    ("perceive", "to become aware of through the senses"),
    ("communicate", "transmit information"),
    ("think", "judge or regard"),
)

#: what the arm must refuse to do to a thing, by the start of a WordNet definition: throwing it,
#: striking it, breaking or destroying it. A verb whose most common sense is, or is a kind of,
#: one of these ("chuck", "hurl", "lob", "bash", "wreck") is refused, whatever word was used.
HARM: tuple[tuple[str, str], ...] = (
    ("throw", "propel through the air"),
    ("hit", "deal a blow to"),
    ("break", "destroy the integrity of"),
    ("break", "break into many pieces"),
    ("destroy", "destroy completely"),
    ("destroy", "do away with, cause the destruction"),
    ("damage", "inflict damage upon"),
)

#: candidate families each verb family speaks for ("move" and "home" speak for none: a main verb
#: here has an object, and "return the mug" is not "go home")
FAMILIES = {
    "put": ("put", "put_all", "away", "stack"),
    "pick": ("pick",),
    "push": ("push",),
    "open": ("open",),
    "close": ("close",),
}
#: lexicographer files of verbs the arm can do something about
PHYSICAL = ("verb.contact", "verb.motion")
#: verbs of having and keeping ("stash", "store", "keep") are not said to be foreign to the arm
#: even when no sense of theirs moves anything: "stash the apple in the bowl" is a placement
HOLDING = ("verb.possession",)
#: how far up the hypernyms any anchor is looked for
DEPTH = max(d for specs in ANCHORS.values() for _, _, d in specs)
#: verbs that carry no action of their own (auxiliaries, politeness, "let's")
LIGHT = frozenset(
    "be is are was am were been do does did have has had can could would will shall should may might must "
    "want need like let lets try please kindly go come get make help mind wish".split()
)
#: words after which a clause, and so a main verb, starts
_CLAUSE = frozenset(
    "please and then now just so you to also first next finally ok okay right actually maybe perhaps kindly "
    "carefully gently quickly slowly simply possibly".split()
)
#: words that open the verb's object
_OBJECT = frozenset("the a an this that these those it them my your our its their all every both each some one".split())
_PARTICLES = frozenset("up down away out in on off over back along aside around".split())
_PLACE_IN_GLOSS = re.compile(r"\b(?:on|in|into|onto|inside)\s+(?:a|an|the|one's)?\s*(?P<n>[a-z]+)")


@dataclass(frozen=True)
class VerbReading:
    """What the main verbs of a task say: the families they speak for, whether any is something
    the arm can do, and a place a verb's own definition names ("shelve": a shelf)."""

    verbs: tuple[str, ...] = ()
    families: frozenset[str] = frozenset()
    foreign: tuple[str, ...] = ()
    implied_place: str = ""
    why: dict[str, str] = field(default_factory=dict)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+(?:'[a-z]+)?|,", text.lower())


@lru_cache(maxsize=1)
def _anchor_offsets() -> dict[int, tuple[str, int]]:
    """Anchor synsets by offset: (family, the most hypernym steps allowed to reach it)."""
    wn = wordnet.load()
    out: dict[int, tuple[str, int]] = {}
    if wn is None:
        return out
    for fam, specs in ANCHORS.items():
        for lemma, start, depth in specs:
            for s in wn.synsets(lemma, "v"):
                if lemma in s.lemmas and s.definition.startswith(start):
                    out[s.offset] = (fam, depth)
    return out


@lru_cache(maxsize=1)
def _not_arm_offsets() -> frozenset[int]:
    wn = wordnet.load()
    if wn is None:
        return frozenset()
    return frozenset(
        s.offset
        for lemma, start in NOT_ARM
        for s in wn.synsets(lemma, "v")
        if lemma in s.lemmas and s.definition.startswith(start)
    )


@lru_cache(maxsize=4096)
def judge(verb: str) -> tuple[frozenset[str], bool, str]:
    """(families the verb's senses reach, whether the arm can do it, a place its definition names).

    The arm can do it unless no sense is in a lexicographer file of contact, motion or possession,
    none reaches an anchor, and one is a kind of cooking, eating, making, perceiving or talking.
    The place comes from the definition of a sense that reaches "put" ("place on a shelf"), or of
    a verb made of the place's noun ("bin": "store in bins").
    """
    wn = wordnet.load()
    anchors = _anchor_offsets()
    not_arm = _not_arm_offsets()
    fams: set[str] = set()
    physical = False
    elsewhere = False
    place = ""
    senses = wn.synsets(verb, "v") if wn is not None else []
    if not senses:
        return frozenset(), True, ""
    for s in senses:
        if s.offset in not_arm or any(h.offset in not_arm for h, _ in wn.hypernym_closure(s, 3)):
            elsewhere = True
        reached = {anchors[s.offset][0]} if s.offset in anchors else set()
        reached |= {
            anchors[h.offset][0]
            for h, d in wn.hypernym_closure(s, DEPTH)
            if h.offset in anchors and d <= anchors[h.offset][1]
        }
        if reached or s.lexname in PHYSICAL + HOLDING:
            physical = True
        if "put" in reached and s.offset not in anchors and not place:
            m = _PLACE_IN_GLOSS.search(s.definition)
            if m and m.group("n") not in ("position", "place", "location", "order", "state", "way"):
                place = m.group("n")
        fams |= reached
    things = wn.synsets(verb, "n")
    made_of_thing = bool(things) and things[0].lexname == "noun.artifact"  # a bin, not a hand
    for s in senses[:2] if made_of_thing and not place else ():
        # a verb made of the place's noun ("bin": "store in bins", "pocket": "put in one's pocket")
        if re.search(rf"\b(?:in|into|on|onto)\s+(?:a\s+|an\s+|the\s+|one's\s+)?{re.escape(verb)}e?s?\b", s.definition):
            fams.add("put")
            physical, place = True, verb
            break
    return frozenset(fams), physical or not elsewhere, place


#: "give the cylinder a little shove": the action is the noun ("shove"), said with a light verb
_LIGHT_VERB = re.compile(
    r"\b(?:give|gives|giving|gave)\s+(?P<o>(?:the|a|an|that|this|it|them|those|these|my|your)\b[\w\s]*?)\s+"
    r"(?:a|an|another|one more)\s+(?:(?:little|small|quick|gentle|slight|good|firm|light|big|tiny|bit of a)\s+)*"
    r"(?P<n>[a-z]+)\b"
)


def main_verbs(text: str) -> list[str]:
    """The main verbs of ``text`` in their dictionary form (particle joined where WordNet has the
    phrasal verb: "seal up" -> "seal_up" if known, else "seal"; "give it a shove" -> "shove")."""
    wn = wordnet.load()
    if wn is None:
        return []
    low = text.lower()
    m = _LIGHT_VERB.search(low)
    if m is not None and wn.base_forms(m.group("n"), "v"):
        low = f"{low[: m.start()]}{m.group('n')} {m.group('o')}{low[m.end() :]}"
    w = _words(low)
    out: list[str] = []
    for i, tok in enumerate(w):
        if tok in LIGHT or tok in _OBJECT or tok in _CLAUSE or tok == ",":
            continue
        if i > 0 and w[i - 1] not in _CLAUSE and w[i - 1] not in LIGHT and w[i - 1] != ",":
            continue
        j = i + 1
        phrasal = ""
        if j < len(w) and w[j] in _PARTICLES:
            if wn.base_forms(f"{tok}_{w[j]}", "v"):
                phrasal = f"{tok}_{w[j]}"
            j += 1
        if j < len(w) and w[j] == "me":
            j += 1
        if phrasal and j < len(w) and w[j] in ("to", "of", "with"):
            j += 1  # "hang on to the mug", "get rid of it": the phrasal verb's own preposition
        if j >= len(w) or w[j] not in _OBJECT:
            continue
        forms = wn.base_forms(phrasal, "v") if phrasal else wn.base_forms(tok, "v")
        if forms:
            out.append(forms[0])
    return out


@lru_cache(maxsize=4096)
def harm(verb: str) -> str:
    """What ``verb`` would do to a thing that the arm must refuse ("throw", "hit", "break",
    "destroy", "damage"), judged by its most common sense and that sense's hypernyms; ""
    when nothing (or without WordNet)."""
    wn = wordnet.load()
    senses = wn.synsets(verb, "v") if wn is not None else []
    if not senses:
        return ""
    first = senses[0]
    for s in (first, *(h for h, _ in wn.hypernym_closure(first, 3))):
        for name, start in HARM:
            if s.definition.startswith(start):
                return name
    return ""


def harmful(text: str) -> tuple[str, str] | None:
    """(verb said, what it would do) for the first main verb of ``text`` that would throw, strike,
    break or destroy the thing ("just chuck it over to me": ("chuck", "throw")); None when none
    does. A negated verb is no main verb ("don't throw it")."""
    for v in main_verbs(text):
        done = harm(v) or (harm(v.split("_", 1)[0]) if "_" in v else "")
        if done:
            return v.replace("_", " "), done
    return None


def refusal(text: str) -> str | None:
    """Why a correction that would throw, strike, break or destroy the thing is refused; None
    when it would not. Tasks are not judged so: "chuck the cube in the bin" asks for where it
    ends up, and the arm places it there."""
    found = harmful(text)
    if found is None:
        return None
    said, done = found
    return f"I won't {said} it: I don't {_HARM_SAID.get(done, done)} things. Tell me where it should go instead"


#: what a harmful verb would do, as the refusal says it
_HARM_SAID = {"hit": "strike"}


def read(text: str) -> VerbReading:
    """The :class:`VerbReading` of a task; empty without WordNet or without a main verb."""
    verbs = main_verbs(text)
    if not verbs:
        return VerbReading()
    fams: set[str] = set()
    foreign: list[str] = []
    place = ""
    why: dict[str, str] = {}
    for v in verbs:
        reached, physical, implied = judge(v)
        if "_" in v and not reached:
            reached, physical, implied = judge(v.split("_", 1)[0])  # "hand over": what "hand" is
        if not physical:
            foreign.append(v)
            why[v] = "no sense of it moves anything"
            continue
        spoken = {f for f in reached if f in FAMILIES}
        fams |= spoken
        place = place or implied
        why[v] = ", ".join(sorted(spoken)) or "moves things, no skill of its own"
    return VerbReading(tuple(verbs), frozenset(fams), tuple(foreign), place, why)


#: ceasing to act, by the start of a WordNet definition: a bare command whose verb has one of
#: these among its first senses (or a sense that is a direct kind of one) halts the arm, whatever
#: the verb ("knock it off": "stop pursuing or acting", a kind of "put an end to ... an activity")
HALT = (
    "come to a halt",
    "put an end to a state or an activity",
    "cause to stop",
    "stop moving",
    "cease an action temporarily",
    "stop and wait",
    "wait before acting",
    "interrupt temporarily an activity",
    "stop pursuing or acting",
)
#: a verb said alone, maybe with "it"/"that" and a particle, and words that only urge
_BARE = re.compile(
    r"^(?P<v>[a-z]+)(?:\s+(?:it|that|this|everything|all|(?:(?:the|this|that|your|all)\s+)?(?P<n>[a-z]+)))??"
    r"(?:\s+(?P<p>off|out|up|on|down|back|ahead|along))?"
    r"(?:\s+(?:right\s+)?(?:now|there|here|already|immediately|at once|this instant|a sec(?:ond)?|a moment|"
    r"for a (?:sec(?:ond)?|moment|bit|minute)))*$"
)
_URGING = re.compile(r"\b(?:please|robot|hey|oh|okay|ok|just|now|quick|quickly)\b|[^a-z' ]")


def _bare_verb(text: str) -> tuple[str, bool] | None:
    """(the verb, whether it is phrasal) of a bare command ("knock it off": ("knock_off", True);
    "pause": ("pause", False)); None when the text is no bare command, when its particle makes a
    verb WordNet does not know ("cut it up"), or without WordNet."""
    wn = wordnet.load()
    low = " ".join(_URGING.sub(" ", text.lower()).split())
    m = _BARE.match(low) if wn is not None and low else None
    if m is None:
        return None
    v, p, n = m.group("v"), m.group("p"), m.group("n")
    if n and not any(s.lexname in _ACTIVITY for s in wn.synsets(n, "n")[:2]):
        return None  # "halt the operation", "cease all work": an activity named, not a thing
    if not p:
        return v, False
    return (f"{v}_{p}", True) if wn.synsets(f"{v}_{p}", "v") else None


#: what a noun names when a command to stop names it: the activity ("the operation", "all work")
_ACTIVITY = frozenset({"noun.act", "noun.process", "noun.event"})
#: why or until when, after a command to stop ("... until I've checked", "pending review")
_UNTIL = re.compile(r"\s+(?:until|till|til|pending|while|whilst|for now|because|so i can|so that)\b.*$")


#: everyone at work as the subject ("everything stops here", "we'll pause there")
_ALL_OF_US = re.compile(r"^(?:everything|we'll|we will|we're|we are|we|all of us|all)\s+(?=[a-z])", re.IGNORECASE)


def halting(text: str) -> str | None:
    """:func:`halted` of the whole text, of its first sentence said on its own ("Discontinue.
    I need to re-measure the shelf."), or of the one command said over and over ("pack it in,
    pack it in"); without why or until when ("cease all work pending review"), and said of
    everyone at work ("everything stops here until I've checked")."""
    first = re.split(r"(?<=[.!?;])\s+", text.strip(), maxsplit=1)[0]
    parts = [p.strip().lower() for p in re.split(r"[,!.;]+|\s-+\s", text) if p.strip()]
    once = parts[0] if len(parts) > 1 and len(set(parts)) == 1 else text  # "knock it off, knock it off!"
    for said in dict.fromkeys((text, first, once)):
        said = _UNTIL.sub("", _ALL_OF_US.sub("", said.strip().rstrip(".!?;").strip()))
        verb = halted(said)
        if verb is not None:
            return verb
    return None


def halted(text: str) -> str | None:
    """The verb of a bare command to stop that no word list needs to know ("knock it off",
    "pause", "cease", "break it off"): its most common sense (a phrasal verb: one of its first five)
    ceases to act (:data:`HALT`, or a direct kind of one); "close it" and "finish it" (a kind of
    "bring to an end", which completing is too) do not. None
    for anything else, a negated verb ("don't stop") included."""
    bare = _bare_verb(text)
    if bare is None:
        return None
    verb, phrasal = bare
    wn = wordnet.load()
    # a verb's most common sense (a phrasal verb's idioms are rarer: any of its first five)
    for s in wn.synsets(verb, "v")[: 5 if phrasal else 1]:
        if any(t.definition.startswith(HALT) for t in (s, *(h for h, _ in wn.hypernym_closure(s, 1)))):
            return verb.replace("_", " ")
    return None


#: going on as before, by the start of a WordNet definition ("go ahead": "proceed (with a plan of
#: action)"; "press on": "continue moving forward"; "keep going": "continue uninterrupted")
GO_ON = (
    "proceed (with a plan of action)",
    "continue a certain state, condition, or activity",
    "continue uninterrupted",
    "continue moving forward",
)


def continuing(text: str) -> str | None:
    """The verb of a bare command to go on as before ("go ahead", "press on", "plough ahead"): a
    phrasal verb (any of its first three senses) or a verb (its most common sense) defined as one
    of :data:`GO_ON`; None for anything else (an amount or a place after it makes it a motion:
    "go ahead two centimetres" is not matched) or without WordNet."""
    bare = _bare_verb(text)
    if bare is None:
        return None
    verb, phrasal = bare
    for s in wordnet.load().synsets(verb, "v")[: 3 if phrasal else 1]:
        if s.definition.startswith(GO_ON):
            return verb.replace("_", " ")
    return None


#: the way a verb of motion goes, by words of its most common WordNet sense ("descend": "move
#: downward and lower", "advance": "move forward", "retreat": "pull back or move away or backward")
_WAYS = (
    ("up", re.compile(r"\b(?:upward|up|to a higher)\b")),
    ("down", re.compile(r"\b(?:downward|down|to a lower|lower (?:place|level|position))\b")),
    ("forward", re.compile(r"\bforward\b")),
    ("back", re.compile(r"\bbackward\b")),
)
#: what may follow the verb: nothing, or how far ("by eight centimetres", "an inch", "a little")
_AMOUNT_OR_END = re.compile(
    r"\s*(?:please)?\W*$|\s+(?:(?:by|about|around|maybe|roughly|another|like)\s+)*"
    r"(?:\d|an?\s+(?:bit|little|touch|tad|inch|centimet|millimet|cm|mm|few|hair|smidge|fraction)|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|half|some|slightly|more|further|a\s+(?:couple|quarter|third))"
)
_LEADING_VERB = re.compile(r"^(?P<pre>(?:(?:now|just|please|ok|okay|and|then|so)\s+)*)(?P<v>[a-z]+)\b")


def directed(text: str) -> str:
    """A correction led by a verb of motion in one way said with a plain one ("descend by eight
    centimetres" -> "move down by eight centimetres", "advance an inch" -> "move forward an inch"):
    the verb's most common sense is a motion (``verb.motion``) whose definition names one way, and
    only an amount follows it, or nothing; the text unchanged otherwise or without WordNet."""
    wn = wordnet.load()
    m = _LEADING_VERB.match(text.lower()) if wn is not None else None
    if m is None or not _AMOUNT_OR_END.match(text[m.end() :].lower()):
        return text  # "lift it higher": a verb with an object says what happens to the thing
    senses = wn.synsets(m.group("v"), "v")
    if not senses or senses[0].lexname != "verb.motion":
        return text
    ways = [way for way, said in _WAYS if said.search(senses[0].definition)]
    if len(ways) != 1:
        return text
    return f"{m.group('pre')}move {ways[0]}{text[m.end() :]}"


#: caution, by the start of a WordNet definition: a verb ("mind": "be on one's guard"; "watch out":
#: "be vigilant, be on the lookout or be careful") or an adjective ("careful": "exercising caution")
CAUTION = (
    "be on one's guard",
    "be vigilant, be on the lookout or be careful",
    "stay clear of",
    "stay clear from",
    "prevent from coming close",
    "exercising caution",
    "cautiously attentive",
    "marked by keen caution",
)
#: a caution word said of a thing: "mind the flute", "careful of that glass", "watch out for the mug",
#: "be careful not to bonk the mug"
_CAUTION_OF = re.compile(
    r"^(?:(?:oh|hey|and|but|just|please|now|ok|okay|so|be)\s+)*(?P<w>[a-z]+)(?:\s+(?P<p>out|away|clear))?"
    r"(?:\s+not\s+to\s+[a-z]+)?(?:\s+(?:of|for|with|around|near|about|from))?"
    r"\s+(?:the|that|this|those|these|your|my)\s+[a-z]"
)
#: what a caution of a thing moves between "keep away from it" and "use it instead"
CAUTION_WEIGHT = 0.08


def cautions(text: str) -> bool:
    """A caution said of a thing ("mind the glass on your way past", "careful of that flute"): the
    leading word is a verb (any of its first five senses, phrasal ones too) or an adjective (its
    first two) that WordNet defines as caution (:data:`CAUTION`) and a noun phrase follows it."""
    wn = wordnet.load()
    m = _CAUTION_OF.match(text.lower()) if wn is not None else None
    if m is None:
        return False
    w, p = m.group("w"), m.group("p")
    senses = [*wn.synsets(f"{w}_{p}" if p else w, "v")[:5], *([] if p else wn.synsets(w, "a")[:2])]
    return any(s.definition.startswith(CAUTION) for s in senses)


def caution_cue(text: str, cands: list, scores: list[float]) -> list[float]:
    """Correction scores with a caution about a thing weighed: keeping away from it gains, using it
    instead (or putting it there) loses; the sentence model puts "mind the glass" near both."""
    if not cautions(text):
        return scores
    out = list(scores)
    for i, c in enumerate(cands):
        if c.family == "avoid":
            out[i] += CAUTION_WEIGHT
        elif c.family in ("swap_object", "swap_target"):
            out[i] -= CAUTION_WEIGHT
    return out


#: words a request may open with before its verb ("please bring it down", "ok so lower it")
_OPENERS = frozenset("please just now ok okay and so then right alright maybe kindly".split())
#: base-form words that are verbs in WordNet yet open no request here
_NOT_REQUEST = frozenset("is are was were am do does did have has had will would can could should may might".split())


def imperative(clause: str) -> bool:
    """The clause is a request said with its verb first ("bring it down", "please ease it lower"):
    its first word after the openers is a verb in its dictionary form, and no more common as
    another word class ("down", "back", "too" are not requests). False without WordNet."""
    wn = wordnet.load()
    words = [w for w in _words(clause) if w != ","]
    while words and words[0] in _OPENERS:
        words = words[1:]
    if wn is None or not words or words[0] in _NOT_REQUEST or "'" in words[0]:
        return False
    first = words[0]
    if first not in wn.base_forms(first, "v"):
        return False  # "dropping", "lowered": no request form
    n_verb = len(wn.synsets(first, "v"))
    others = max(len(wn.synsets(first, p)) for p in ("n", "a", "r"))
    return n_verb > 0 and n_verb >= others


#: another of something, said as the thing to have or give ("have another crack at it")
_ANOTHER = re.compile(
    r"\b(?:have|give it|take|make|try)\s+(?:another|one more|a second|a fresh|a new)\s+(?P<n>[a-z]+)"
    r"(?:\s+(?:at|of)\s+(?:it|that|this))?"
)


def another_try(text: str) -> str:
    """``text`` with another attempt said by any noun for one ("have another crack at it", "give
    it another whirl", "take a second stab at that": WordNet's attempt, or a kind of it within two
    steps) said as "try again"; else as it is."""
    wn = wordnet.load()
    low = text.lower()
    m = _ANOTHER.search(low)
    if wn is None or m is None:
        return text
    n = m.group("n")
    tries = any(
        "attempt" in s.lemmas or any("attempt" in h.lemmas for h, _ in wn.hypernym_closure(s, 2))
        for s in wn.synsets(n, "n")
    )
    return f"{text[: m.start()]}try again{text[m.end() :]}" if tries else text
