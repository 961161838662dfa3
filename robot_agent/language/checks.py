"""Checks and text helpers of the understanding layer: when the grammar's reading cannot be
trusted (hedged words, a named object it leaves out, a pointless plan step, a meaning the
context does not allow), goals that cannot be meant, and small text forms."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from robot_agent.language import colours, wordnet
from robot_agent.language.grammar import Correction, CorrectionContext
from robot_agent.language.grammar.stop import destretch
from robot_agent.language.meaning import ENUMERATED, PLAN_FAMILIES, family
from skills.types import ObjectInfo

#: negation, excess and contrast: where a word-list reading most often gets the polarity or the
#: referent wrong; such utterances are checked by the models even when the grammar is sure
HEDGED = re.compile(
    r"\b(?:not|no|never|too|overly|enough|instead|wrong|other|rather|than|except|but|leave|"
    r"without|hold|hang)\b|n't\b|"
    r"(?<!to the )(?<!to your )(?<!to my )(?<!more )(?<!further )(?<!go )(?<!move )\bright\b"
)


_COUNT = re.compile(r"\b(two|three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:of\s+the\s+)?([a-z]+?)s?\b")
_NOT_COUNTED = frozenset("in into on onto to at of the a and or from with".split())
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def impossible_goal(text: str, atoms: list[dict[str, Any]], objects: Sequence[ObjectInfo]) -> str:
    """Why a goal the grammar read cannot be meant here ("" when it can): moving what cannot be
    moved, or more things than the scene has."""
    from skills.library import CONTAINERS, GRASPABLE, SUPPORTS

    cats = {o.name: o.category for o in objects}
    for a in atoms:
        if a["kind"] in ("at", "holding", "pushed"):
            fixed = [n for n in a.get("objects", []) if cats.get(n) not in GRASPABLE]
            if fixed and len(fixed) == len(a.get("objects", [])):
                return f"I can't move the {fixed[0]}: it is not something I can pick up or push"
        if a["kind"] == "at" and a.get("targets"):
            places = [n for n in a["targets"] if cats.get(n) in CONTAINERS | SUPPORTS]
            if not places:
                return f"I can't put anything in or on the {a['targets'][0]}: it is not a container or a surface"
    from robot_agent.language import scene_words as sw

    for m in _COUNT.finditer(text.lower()):
        n = int(m.group(1)) if m.group(1).isdigit() else _COUNTS[m.group(1)]
        word, colour = sw.singular(m.group(0).split()[-1]), None
        after = re.findall(r"[a-z]+", text.lower()[m.end() :])
        if m.group(0).endswith(word) and after and colours.lab(word) is not None and after[0] not in _NOT_COUNTED:
            word, colour = sw.singular(after[0]), word  # "the two orange cubes": a colour, then the noun
        # What the counted word names is the object's kind (its noun or category), not a colour word
        # of another object ("two oranges" with one orange and an orange cube: one fits).
        fits = [
            o
            for o in objects
            if o.category in GRASPABLE
            and (
                word in {"thing", "object", "item", "one"}
                or word in {sw.noun(o), sw.CATEGORY_NOUN.get(o.category, o.category), o.category}
            )
        ]
        fits = colours.nearest(colour, fits) if colour is not None else fits
        if n > len(fits):
            return f"you asked for {n} {f'{colour} ' if colour else ''}{word}s but I can see only {len(fits)}"
    return ""


def clauses(text: str) -> list[str]:
    """A task said as several clauses ("apple in the bowl, banana on the plate")."""
    # a sentence's end parts too ("go home. bath time"), not a number's point ("2.5 cm")
    parts = [
        p.strip(" ,.;!?")
        for p in re.split(r"\s*[;,]\s*|(?<=[.!?])\s+|\s+(?:and then|then|and also|and)\s+", text.lower())
    ]
    return [p for p in parts if len(p.split()) >= 2]


def names_unused_object(text: str, c: Correction, ctx: CorrectionContext) -> bool:
    """Does the utterance name a scene object its grammar reading leaves out ("could every red one
    end up in the blue bin?" read as "up")? Then the grammar missed part of it."""
    import json

    from robot_agent.language.scene_words import phrase

    low = " " + " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split()) + " "
    said = json.dumps(c.to_dict())
    for o in ctx.objects:
        if o.name == ctx.object or o.name in said:
            continue
        words = phrase(o).split()
        if len(words) > 1 and f" {' '.join(words)} " in low:
            return True
    return False


def pointless_step(c: Correction, ctx: CorrectionContext) -> bool:
    """A plan step the scene makes pointless: closing a shut drawer or opening an open one, or a
    step on the object the running skill is busy with, which that object cannot take now
    (pushing the object in the hand while placing it: "slide it left" is not "push it")."""
    from skills.params import SKILL_PARAMS as skills

    plan = c.plan or {}
    calls = [x for x in (plan.get("call"), plan.get("first"), plan.get("then")) if isinstance(x, dict)]
    if any(x.get("skill") not in skills for x in calls):
        return True  # a step of no skill the robot has ("before handle(glass)"): a misreading
    call = plan.get("call") or plan.get("first") or {}
    if plan.get("type") not in ("step", "order") or not call.get("object"):
        return False
    target = ctx.find(call["object"])
    if target is not None and target.category == "cabinet" and call.get("skill") in ("open", "close"):
        # Closing a drawer that is shut, or opening one that is open: "it can't go in while the
        # drawer is still shut" describes the state, it does not ask to shut it.
        is_open = target.drawer_open()
        if (call["skill"] == "close") != is_open:
            return True
    if call.get("object") != ctx.object:
        return False
    return (ctx.skill == "place" and call.get("skill") in ("push", "pick", "open", "close", "place")) or (
        ctx.skill in ("open", "close") and call.get("skill") in ("open", "close")
    )


def goal_form(atoms: Sequence[dict[str, Any]]) -> frozenset[Any] | None:
    """A goal's atoms as a comparable value: "put the apple away" with one bowl in the scene is
    the same goal as "put the apple in the bowl"."""
    if not atoms:
        return None
    return frozenset(
        (a.get("kind"), frozenset(a.get("objects", ())), frozenset(a.get("targets", ())), a.get("open")) for a in atoms
    )


def reading_allowed(keys: set[str], cand_keys: set[str]) -> bool:
    """Is a grammar reading one of the meanings the context allows? A plan-level reading must be
    a candidate itself (no "open the drawer first" while opening it, no swap to the same object);
    a skill-level one needs one of its keys among the candidates."""
    if not keys:
        return False
    if any(family(k) in PLAN_FAMILIES and k not in cand_keys for k in keys):
        return False
    return any(k in cand_keys for k in keys) or all(family(k) not in ENUMERATED for k in keys)


def situation(ctx: CorrectionContext | None, objects: Sequence[ObjectInfo] = ()) -> str:
    objs = list(ctx.objects) if ctx is not None else list(objects)
    seen = "; ".join(f"{o.name} ({' '.join(w for w in (o.color, o.shape, o.category) if w)})" for o in objs)
    doing = ""
    if ctx is not None and ctx.skill:
        doing = (
            f"The robot is running {ctx.skill}"
            + (f" on {ctx.object}" if ctx.object else "")
            + (f" into/onto {ctx.target}" if ctx.target else "")
            + ". "
        )
    return f"{doing}Objects on the table: {seen or 'none'}."


def _unstretched(m: re.Match[str]) -> str:
    """One stretched word as said plainly: its runs cut to two letters where that is an English
    word ("goood" -> "good", "coooool" -> "cool"), else to one ("sooo" -> "so", "slooow" -> "slow")."""
    word = m.group()
    one, two = destretch(word, 1), destretch(word, 2)
    wn = wordnet.load()
    if wn is None:
        return one
    known = [w for w in (one, two) if any(w.lower() in wn.base_forms(w.lower(), p) for p in ("n", "v", "a", "r"))]
    return two if two in known else one


#: a speaker's own repair: what comes after it replaces what came before ("go right - sorry,
#: left", "two centimetres, I mean three")
_REPAIR = re.compile(
    r"(?:^|[\s,.;:!-])(?:sorry|i mean|i meant|or rather|scratch that|make that|my bad)\b[\s,.;:!-]*"
    # "half a centimetre down... no, more like a centimetre": a "no" after a pause, then the repair
    r"|(?<=[,.;:!-])\s*no(?:[,.;:!-]+|\s+(?=wait|sorry|more like|rather|make it|i mean|actually))"
    r"(?:\s*(?:wait|sorry|more like|rather|make it|i mean|actually)\b[,.;:!-]*)*[\s,.;:!-]*",
    re.I,
)
#: words that say nothing of their own before a repair ("no, I meant the green one" is one request)
_EMPTY = re.compile(r"^(?:\W|\b(?:no|nope|oh|ah|uh|um|er|yes|yeah|ok|okay|well|so|and|but)\b)*$", re.I)


#: a place, then what is already there ("that goes on the shelf with the other mug")
_COMPANY = re.compile(
    r"^(?P<main>.*\b(?:on|in|into|onto|inside|to)\s+(?:the|a|an|that|this|my|your)\s+[a-z][a-z ]*?)"
    r"\s*,?\s+(?:along\s+|together\s+)?with\s+(?:the|a|an|that|this|those|these|its|all)\b.*$",
    re.I,
)


def without_company(text: str) -> str:
    """A request without what its place already holds ("... on the shelf with the other mug": the
    shelf; the other mug is no object to use instead)."""
    m = _COMPANY.match(text.strip())
    return m.group("main") if m else text


#: a clause that says how things are ("it's overhanging on the left", "you're past the edge")
DESCRIBES = re.compile(
    r"^(?:(?:oh|ah|hmm|well|no|nope|nah|yeah|ok|okay|look|see)\s+)*(?:it|that|this|you|there|they|the\s+\w+)"
    r"(?:'s|'re|'ve|\s+is|\s+are|\s+was|\s+were|\s+has|\s+have|\s+keeps?|\s+seems?|\s+looks?)\b"
)
_CLAUSES = re.compile(r"\s*[,;:.!]\s*|\s+-+\s+|\s+so\s+")


def request_said(text: str) -> str:
    """The one request among clauses that describe ("it's overhanging on the left, shift it right
    by maybe a centimetre" -> "shift it right by maybe a centimetre"): what is asked is done, what
    is described only says why; the text unchanged when no clause or several ask."""
    parts = [p for p in _CLAUSES.split(text.strip()) if p.strip()]
    if len(parts) < 2:
        return text
    asks = [p for p in parts if not DESCRIBES.match(p.lower())]
    wn = wordnet.load()
    if len(asks) != 1 or len(asks[0].split()) < 2 or wn is None or not wn.synsets(asks[0].split()[0].lower(), "v"):
        return text
    return asks[0]


_DIRECTION_WORD = re.compile(r"\b(?:left|right|up|down|forwards?|backwards?|back)\b", re.I)


def repaired(text: str) -> str:
    """The request after the speaker's last self-repair ("two centimetres, I mean three
    centimetres" -> "three centimetres"; a repair of only the direction keeps the rest: "go right -
    sorry, left" -> "go left");
    the whole text when nothing was said before the repair ("no, I meant the green one") or nothing
    after it ("left, sorry")."""
    cuts = list(_REPAIR.finditer(text))
    if not cuts:
        return text
    last = cuts[-1]
    before, after = text[: cuts[0].start()], text[last.end() :].strip(" ,.;:!-")
    if _EMPTY.match(before) or not re.search(r"[a-z0-9]", after, re.I):
        return text
    said = list(_DIRECTION_WORD.finditer(before))
    if _DIRECTION_WORD.fullmatch(after) and said:
        # only the direction repaired: the rest of the request stands ("a tiny bit more to the
        # left... no, right" -> "a tiny bit more to the right"; "left, no, right" -> "go right")
        m = said[-1]
        out = f"{before[: m.start()]}{after.lower()}{before[m.end() :]}".strip(" ,.;:!-")
        return out if " " in out else f"go {out}"
    return after


#: the prepositions that start a task's place phrase ("in the bin", "on top of the shelf")
_PLACE_WORD = re.compile(r"\b(?:into|onto|inside|in|on|under|beside|next to|by|to)\b", re.I)
_DETERMINER = re.compile(r"\b(?:the|a|an|that|this|those|these|my|your|both|all|each|every)\b", re.I)


#: words that may follow an amount of motion ("a little to the left", "a bit further", "a little, please")
_AFTER_AMOUNT = frozenset(
    "to toward towards along over forward forwards back backwards left right up down further farther more "
    "closer nearer away in into on onto out off sideways please now then and".split()
)
_AMOUNT = re.compile(r"\s*\b(?:(?:just|only)\s+)?a\s+(?:little|tiny|small|wee)(?:\s+(?:bit|way))?\b", re.I)


def without_amount(text: str) -> str:
    """A task without an amount said of its motion ("nudge the glass along a little": "little" is
    no size here); "a little red cube" keeps its words. A goal has no amount to keep."""
    from robot_agent.policy.grounding import names_a_thing

    def drop(m: re.Match[str]) -> str:
        rest = re.findall(r"[a-z]+", text[m.end() :].lower())[:4]
        # "a little shove" (a light verb's noun) and "a little red cube" keep their words
        return "" if not rest or (rest[0] in _AFTER_AMOUNT and not names_a_thing(rest)) else m.group(0)

    return _AMOUNT.sub(drop, text).strip() or text


def task_repaired(text: str, objects: Sequence[ObjectInfo]) -> str:
    """A task with a self-repair, the repair put where it belongs: a whole request replaces the
    task ("put it in the bin - sorry, just hand it to me"); a place phrase replaces the place ("put
    the red one in the bin, no wait, on the shelf"); a bare noun phrase replaces the place when it
    names a receptacle here, else the object ("... in the bin, sorry, the blue one"). The text
    unchanged when there is no repair."""
    from robot_agent.language import scene_words as sw
    from robot_agent.language import verbs

    after = repaired(text)
    if after == text:
        return text
    cut = next(_REPAIR.finditer(text)).start()
    before = text[:cut].strip(" ,.;:!-")
    if verbs.main_verbs(after):
        return after
    places = [m for m in _PLACE_WORD.finditer(before) if m.start() > 0]
    if _PLACE_WORD.match(after):
        return f"{before[: places[-1].start()]}{after}" if places else f"{before} {after}"
    said = set(re.findall(r"[a-z]+", after.lower()))
    is_place = any(o.category not in sw.GRASPABLE_CATEGORIES and sw.words(o) & said for o in objects)
    if not places:
        return f"{before} {after}" if is_place else text
    if is_place:
        return f"{before[: places[-1].end()]} {after}"
    det = _DETERMINER.search(before, 0, places[0].start())
    start = det.start() if det is not None else len(before.split()[0]) + 1
    return f"{before[:start]}{after} {before[places[0].start() :]}"


#: "the green one": a noun left out after a word that picks one of a kind
_ONE = re.compile(r"\b(?P<d>the|a|an)\s+(?P<a>[a-z]+)\s+one\b")
_CLAUSE_SEP = re.compile(r"(\s*[;,]\s*(?:and\s+|then\s+)?|\s+(?:and then|then|and also|and)\s+)")


def elided_ones(text: str) -> str:
    """A noun left out in a later clause, said again ("mug to the white bowl, glass to the green
    one" -> "... glass to the green bowl"): "the <word> one" takes the head noun of the phrase in
    the same role (the thing moved, or its place) in the clause before."""
    from robot_agent.language.nouns import head_noun
    from robot_agent.language.structure import NOT_NOUNS, placement_phrases

    pieces = _CLAUSE_SEP.split(text)
    if len(pieces) < 3 or not _ONE.search(text.lower()):
        return text
    out, before = [pieces[0]], placement_phrases(pieces[0])
    for sep, part in zip(pieces[1::2], pieces[2::2], strict=True):
        now = placement_phrases(part)
        if before is not None and now is not None:
            for said, was in zip(now, before, strict=True):
                m = _ONE.search(said.lower())
                head = head_noun(was) if m is not None else ""
                if m is not None and head and head not in NOT_NOUNS and not _ONE.search(was.lower()):
                    said_again = f"{m.group('d')} {m.group('a')} {head}"
                    part = re.sub(rf"\b{re.escape(m.group(0))}", said_again, part, count=1, flags=re.I)
        out += [sep, part]
        before = now or before
    return "".join(out)


#: a free choice said after the request ("..., either one", "..., whichever", "any of them is
#: fine"): the request's own "a glass" already leaves the choice; it names no further thing
_FREE_CHOICE = re.compile(
    r"\s*[,;-]\s*(?:(?:oh|and|just|really)\s+)*(?:either|any|whichever|whatever)(?:\s+(?:one|ones|of them|of the \w+))?"
    r"(?:\s+(?:will do|is fine|works|you like|you want|is ok|is okay))?"
    r"(?:\s*,?\s*(?:it\s+)?doesn't matter(?:\s+which)?)?\s*[.!]*$",
    re.I,
)


#: another thing said to go the same way ("..., and so does the banana", "..., the lime too",
#: "..., same for the lime", "..., and the lime as well")
_LIKEWISE = re.compile(
    r"^(?P<first>.+)\s*[,;]?\s+(?:(?:and|also)\s+)?(?:so\s+(?:does|do|should|can|must|will)\s+(?P<a>.+?)|"
    r"(?:the\s+)?same\s+(?:goes\s+)?for\s+(?P<b>.+?)|"
    r"(?P<c>(?:the|that|this|those|these|my)\s+[a-z ]+?)\s+(?:too|as well|also))"
    r"\s*[.!]*$",
    re.I,
)


def likewise(text: str) -> str:
    """Another thing said to go where the first went, said in full ("the apple goes in the drawer,
    and so does the banana" -> "..., then put the banana in the drawer")."""
    from robot_agent.language.structure import placement_phrases

    m = _LIKEWISE.match(text.strip())
    first = re.sub(r"(?:\s*[,;]|\s+(?:and|also))+$", "", m.group("first")) if m else ""
    said = placement_phrases(first) if first else None
    if m is None or said is None:
        return text
    other = next(g for g in m.group("a", "b", "c") if g)
    cut = first.lower().rfind(said[1])
    before = first[:cut].split()
    if cut < 0 or not before:
        return text
    return f"{first}, then put {other} {before[-1]} {said[1]}"


#: a quantifier floated after things joined by "and" ("the banana and the apple, both of them, in
#: the drawer"; "the yellow one and the brown one both on the tray"): it says nothing the "and"
#: did not, and it stands where the place phrase should follow the things
_FLOATING = re.compile(
    r"(?P<joined>\band\b[^,.;!?]*?\w)\s*,?\s+(?:both|all|each|the two|all three)(?:\s+of\s+(?:them|those|these|'em))?"
    r"\s*,?\s+(?=(?:go|goes|going|in|into|on|onto|inside|to|over|under|back|away)\b)",
    re.I,
)


def without_floating(text: str) -> str:
    """Things joined by "and" without the quantifier floated after them (:data:`_FLOATING`)."""
    return _FLOATING.sub(lambda m: f"{m.group('joined')} ", text)


#: the prepositions of a place, after which a learner may leave the article out ("on tray")
_PLACE_PREPOSITIONS = frozenset("in into on onto inside to".split())
#: words after such a preposition that are no bare noun ("on top", "to me", "into both")
_NOT_A_NOUN = frozenset(
    "the a an this that these those my your our his her its their some any every each all both no "
    "one two three four five six it them me him us there here top front".split()
)


def with_articles(text: str, objects: Sequence[ObjectInfo]) -> str:
    """A task with the article a learner or a terse operator leaves out of a place put back
    ("both cubes on tray" -> "both cubes on the tray"): "the" after a place's preposition, before a
    word that names something here (its colour, noun, category, shape or name). Read without it,
    "on tray" was no place, and things joined before it were read as one. Only the place: a bare
    word at a clause's start may be a verb ("bin the cube") or a telegraphic step ("drawer open")."""
    from robot_agent.language import scene_words as sw

    named = sw.all_words(objects)
    named |= {sw.plural(w) for w in named}
    toks = re.findall(r"[A-Za-z']+|[^A-Za-z'\s]+|\s+", text)
    out: list[str] = []
    prev = ""  # the last word ("" after punctuation)
    for t in toks:
        if t.isspace():
            out.append(t)
            continue
        low = t.lower()
        if low in named and low not in _NOT_A_NOUN and prev in _PLACE_PREPOSITIONS:
            out.append("the ")
        out.append(t)
        prev = low if re.match(r"[a-z']", low) else ""
    return "".join(out)


def plain_task(text: str, objects: Sequence[ObjectInfo]) -> str:
    """A task as plainly said: no amount of motion (:func:`without_amount`), a self-repair put in
    its place (:func:`task_repaired`), a noun left out said again (:func:`elided_ones`), no
    quantifier floated after things joined (:func:`without_floating`), the articles left out put
    back in a place (:func:`with_articles`), no free choice said after it ("put a glass on the
    shelf, either one"), another thing said to go the same way said in full (:func:`likewise`)."""
    said = without_floating(with_articles(_FREE_CHOICE.sub("", text) or text, objects))
    return likewise(elided_ones(task_repaired(without_amount(light_verb(said)), objects)))


#: a light verb with the action as its noun: "give the cylinder a little push", "give it a nudge"
_LIGHT_VERB = re.compile(
    r"\bgive (?P<o>it|them|th(?:e|at|is) [a-z' -]+?) (?:a|an) (?:(?:little|quick|gentle|small|tiny|good|big|"
    r"hard|light|firm|slight|bit of a|wee) )*(?P<n>[a-z]+)\b"
)


def light_verb(text: str) -> str:
    """The action said as a noun said as its verb ("give the mug a little push" -> "push the mug a
    little"), when WordNet has the noun as a verb of contact or motion; else ``text``."""
    m = _LIGHT_VERB.search(text.lower())
    if m is None:
        return text
    from robot_agent.language import wordnet

    wn = wordnet.load()
    kinds = {s.lexname for s in wn.synsets(m.group("n"), "v")} if wn is not None else set()
    if not kinds & {"verb.contact", "verb.motion"}:
        return text  # "give the mug a rinse" names no motion the arm has
    return f"{text[: m.start()]}{m.group('n')} {m.group('o')}{text[m.end() :]}"


#: size and speed words every reader knows; any other adjective of size or speed is read as one
_PLAIN_WORDS = frozenset(
    "big bigger biggest large larger largest huge hugest giant small smaller smallest tiny tinier tiniest "
    "little littler littlest mini slow slower slowest fast faster fastest quick quicker quickest steady easy".split()
)
#: WordNet's heads of size and speed, by the start of their definitions, and the plain word for
#: each with its comparative and superlative
_HEADS = (
    ("small", "limited or below average in number", ("small", "smaller", "smallest")),
    ("large", "above average in size", ("big", "bigger", "biggest")),
    ("slow", "not moving quickly", ("slow", "slower", "slowest")),
    ("fast", "acting or moving or capable of acting or moving quickly", ("fast", "faster", "fastest")),
)
#: after a size word, an amount ("a wee bit", "a massive amount"), not a thing
_AMOUNT_AFTER = re.compile(r"\s+(?:bit|amount|touch|tad|way|distance|more|less|step|nudge|push)\b")
_ADJECTIVE = re.compile(r"\b[a-z][a-z-]+\b")


@lru_cache(maxsize=1)
def _head_senses() -> tuple[tuple[tuple[str, str, str], frozenset[int]], ...]:
    """Each head's plain forms with the WordNet senses it names (looked up once, not per word)."""
    wn = wordnet.load()
    return tuple(
        (forms, frozenset(s.offset for s in wn.synsets(lemma, "a") if s.definition.startswith(start)))
        for lemma, start, forms in _HEADS
    )


@lru_cache(maxsize=2048)
def plain_adjective(word: str) -> str | None:
    """The plain word for an adjective of size or speed no word list holds ("teeny" -> "small",
    "teeniest" -> "smallest", "enormous" -> "big", "sluggish" -> "slow", "speedier" -> "faster"):
    one of its first three WordNet senses is the head (small, large, slow, fast) or similar to it;
    None for anything else, for words that judge ("great": approval) and without WordNet."""
    wn = wordnet.load()
    if wn is None or word in _PLAIN_WORDS or len(word) < 3:
        return None
    for s in wn.synsets(word, "a")[:3]:
        for forms, offsets in _head_senses():
            if s.offset in offsets or offsets & set(s.similar):
                from robot_agent.language.judgement import judges

                if judges(word):
                    return None
                base = (wn.base_forms(word, "a") or [word])[0]
                if base != word and word.endswith("est"):
                    return forms[2]
                if base != word and word.endswith("er"):
                    return forms[1]
                return forms[0] if base == word else None
    return None


def _plain_adjectives(text: str) -> str:
    """Adjectives of size and speed said plainly ("the teeny cube" -> "the small cube", "so
    sluggish" -> "so slow"), not before an amount ("a wee bit")."""

    def one(m: re.Match[str]) -> str:
        if _AMOUNT_AFTER.match(text, m.end()):
            return m.group(0)
        return plain_adjective(m.group(0).lower()) or m.group(0)

    return _ADJECTIVE.sub(one, text)


_LESS = re.compile(
    r"(?:(?<!\bor )(?<!\bno )\bless|\bnot\s+(?:as|so|that|too))\s+(?P<a>[a-z]{3,})\b(?!\s+(?:than|of)\b)", re.IGNORECASE
)


def comparative(adj: str) -> str:
    """The comparative of a plain adjective ("low" -> "lower", "big" -> "bigger", "gradual" ->
    "more gradual")."""
    said = adj[:-1] if adj.endswith("e") and not adj.endswith("le") else adj  # "loose": one syllable
    if len(re.findall(r"[aeiouy]+", said)) > 1 and not adj.endswith(("y", "le", "ow")):
        return f"more {adj}"
    if adj.endswith("e"):
        return adj + "r"
    if adj.endswith("y") and len(adj) > 2 and adj[-2] not in "aeiou":
        return adj[:-1] + "ier"
    if re.search(r"[^aeiou][aeiou][bdgmnpt]$", adj):
        return adj + adj[-1] + "er"
    return adj + "er"


@lru_cache(maxsize=2048)
def _less_word(adj: str) -> str | None:
    wn = wordnet.load()
    if wn is None:
        return None
    senses = wn.synsets(adj.lower(), "a")
    if not senses or "distance" in senses[0].definition:
        return None  # "less far" is a shorter way, and "nearer" would be a direction
    other = wn.antonym(adj.lower(), "a")
    return comparative(other) if other and "_" not in other else None


def less_said(text: str) -> str:
    """The opposite for "less <adjective>" or "not as <adjective>" ("release it a bit less high"
    -> "release it a bit lower", "come in less steep" -> "come in more gradual", "not as fast" ->
    "slower"): the direct antonym of the adjective's
    first WordNet sense, so "less" cannot leave the word's own direction standing. Unchanged
    where WordNet has no antonym (or without WordNet), and for adjectives of distance ("less far"
    is a shorter way; "nearer" would be a direction). For what the grammar does not read itself."""

    def one(m: re.Match[str]) -> str:
        return _less_word(m.group("a")) or m.group(0)

    return _LESS.sub(one, text)


def clean(text: str) -> str:
    """Fillers, repeated words and stretched letters out ("uh, a bit, um, left" -> "a bit, left",
    "sooo slow" -> "so slow"), adjectives of size and speed said plainly ("teeny" -> "small",
    "sluggish" -> "slow")."""
    text = re.sub(r"\b\w*([a-z])\1{2,}\w*\b", _unstretched, text, flags=re.IGNORECASE)
    # a pause inside an unfinished phrase leaves no comma behind ("onto the, er, pink thing")
    text = re.sub(
        r"\b(the|a|an|this|that|my|your|onto|into|on|in|to|by|of|with|from)\s*,(?=\s*(?:u+h+|u+m+|e+r+m*|hmm+)\b)",
        r"\1",
        text,
        flags=re.IGNORECASE,
    )
    t = re.sub(r"\b(?:u+h+|u+m+|e+r+m*|hmm+|you know)\b[,.]?", " ", text, flags=re.IGNORECASE)
    t = re.sub(r"\b(\w+)(?:,?\s+\1\b)+", r"\1", t, flags=re.IGNORECASE)  # "the, the cylinder" too
    t = _plain_adjectives(t)
    return re.sub(r"\s+", " ", t).strip(" ,") or text


def learner(text: str) -> str:
    """A learner's forms said as a native speaker says them: "more"/"most" with a short adjective
    ("lift more high" -> "lift higher", "the most near" -> "the nearest"), "of" after a word of
    nearness ("nearest of the mug" -> "nearest to the mug"), the article before a side ("more to
    front" -> "more to the front"), "him"/"her" after a verb or "of" for a thing ("close him" ->
    "close it"; not after "to", "tell", "give" and other verbs whose object is a person)."""
    t = _MORE_ADJ.sub(_comparative, text)
    t = _HIM.sub(_thing_him, t)  # "close him", "the bottom of him": a thing, in a learner's words
    t = re.sub(r"\b(nearest|closest|furthest|farthest|next|near|close) of\b", r"\1 to", t, flags=re.IGNORECASE)
    return re.sub(r"\b(to|on|at) (front|left|right|back|middle|centre|center)\b", r"\1 the \2", t, flags=re.IGNORECASE)


#: short adjectives whose comparative is one word, said with "more"/"most" (a learner's "more high",
#: "the most near"): the one word is what the rest of the layer reads
_ONE_SYLLABLE = "high low fast slow quick far near close big small hard soft tight loose deep wide long short light"
_MORE_ADJ = re.compile(rf"\b(?P<m>more|most)\s+(?P<a>{'|'.join(_ONE_SYLLABLE.split())})\b", re.IGNORECASE)
_IRREGULAR = {"far": ("further", "furthest")}


def learner_task(text: str) -> str:
    """A task in a learner's words (:func:`learner`), and the request said with its subject ("you
    take the apple and put in the bowl" -> "take the apple and put it in the bowl"): "you" before
    a verb in its base form the arm can be asked to do, and the object a second verb leaves out."""
    t = _YOU_DO.sub(_without_you, learner(text))
    return _PUT_IN.sub(r"\g<c> \g<v> it ", t)


#: a second verb of placing said without its object ("... and put in the bowl")
_PUT_IN = re.compile(
    r"\b(?P<c>and|then)\s+(?P<v>put|place|set|drop|pop|stick|move)\s+(?=(?:in|into|on|onto|inside)\s)", re.IGNORECASE
)
#: "him"/"her" after a verb or "of" ("open him 10 centimetres", "push on the bottom of him"): a thing
_HIM = re.compile(r"\b(?P<v>[a-z]+)\s+(?P<p>him|her)\b(?!\s*(?:self|'s))", re.IGNORECASE)
#: verbs a person is their object of, not a thing ("give it to him", "tell her", "show him")
_TO_PERSON = frozenset("to for with tell told show showed ask asked let help thank give gave call".split())


def _thing_him(m: re.Match) -> str:
    verb = m.group("v").lower()
    if verb in _TO_PERSON:
        return m.group(0)
    wn = wordnet.load()
    if verb == "of" or (wn is not None and verb in wn.base_forms(verb, "v")):
        return f"{m.group('v')} it"
    return m.group(0)


#: the request said with its subject ("you take the apple", "and you put it in the bowl")
_YOU_DO = re.compile(r"(?P<pre>^|[,.;!?]\s*|\b(?:and|then|please|now|so)\s+)you\s+(?P<v>[a-z]+)\b", re.IGNORECASE)
_NOT_ASKED = frozenset(
    "are were have had can could would will shall should may might must do did does know see think mean "
    "said say want need like get got look seem went go gonna wanna".split()
)


def _without_you(m: re.Match) -> str:
    """``m`` without "you" when its verb is one the arm is asked to do, in the base form."""
    verb = m.group("v").lower()
    wn = wordnet.load()
    if verb in _NOT_ASKED or wn is None or verb not in wn.base_forms(verb, "v"):
        return m.group(0)
    rest = m.string[m.end() :].split(",")[0].lower()
    if not rest.strip(" .!?") or re.search(r"\b(?:too|so|very|way|not|never|always|again|wrong|still)\b", rest):
        return m.group(0)  # "you push too high": how it went, not a request; "then you close": its object left out
    return f"{m.group('pre')}{m.group('v')}"


def _comparative(m: re.Match) -> str:
    adj, most = m.group("a").lower(), m.group("m").lower() == "most"
    if adj in _IRREGULAR:
        return _IRREGULAR[adj][most]
    stem = adj[:-1] if adj.endswith("e") else adj + adj[-1] if adj in ("big", "wet", "hot", "fat", "thin") else adj
    return f"{stem}{'est' if most else 'er'}"
