"""Referring expressions resolved on the scene's geometry: which objects a noun phrase picks.

Sentence similarity finds *what kind* of thing a phrase names ("the glass", "the fruit", "the
cubes") but not *which one* when the scene holds several: "the biggest cube", "the glass closest
to me", "the mug in the middle", "the thing nearest the drawer", "the block between the red and
the green one", "both mugs", "every block except the green one", "the white and the black mug".
Those words are a small closed class (size, position, distance, quantity, exception, conjunction);
what they pick is computed from what perception reports (sizes, positions), so they hold for any
scene and any object vocabulary. The head noun is grounded by the sentence model as everywhere
else in the layer (open vocabulary).

Frames (as in the corpus and the operator's view): the operator stands behind the robot, +x is
away from them, +y is their left.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from robot_agent.language import colours, nouns, wordnet
from robot_agent.language import scene_words as sw
from robot_agent.language.structure import SIDE_OF, direction_phrase
from skills.types import ObjectInfo

#: a grounded head below this similarity names nothing in the scene
HEAD_MIN = 0.45
#: objects whose head similarity is within this of the best are of the kind the phrase names
KIND_SPREAD = 0.1

_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "both": 2, "pair": 2}
_ALL = {"all", "every", "each", "everything", "them"}
_GENERIC = {"one", "ones", "thing", "things", "object", "objects", "item", "items", "stuff", "something", ""}
_FILLER = {"the", "a", "an", "that", "this", "those", "these", "my", "your", "of", "please", "just", "also", "then"}
_FILLER |= {"both", "all", "every", "each", "two", "three", "four", "five", "pair", "them"}

#: (pattern, dimension, sign): superlatives and comparatives of size and place, said of one object
_ORDER = [
    (r"\b(?:biggest|largest|bigger|larger|huge|hugest|giant|big|large)\b", "size", +1),
    (r"\b(?:smallest|smaller|tiniest|tinier|littlest|little|tiny|small|mini)\b", "size", -1),
    (r"\b(?:tallest|taller|tall|highest|deepest|deeper|deep)\b", "height", +1),
    (r"\b(?:shortest|shorter|short|squat|lowest|shallowest|shallower|shallow)\b", "height", -1),
    (r"\b(?:widest|wider|wide|broadest|broader|broad|fattest|fatter|fat|thickest|thicker|thick|chunky)\b", "width", +1),
    (r"\b(?:narrowest|narrower|narrow|thinnest|thinner|thin|slimmest|slimmer|slim|skinniest|skinny)\b", "width", -1),
    (r"\b(?:longest|longer|long|lengthy)\b", "length", +1),
    (r"\b(?:leftmost|left[- ]hand|left)\b", "y", +1),
    (r"\b(?:rightmost|right[- ]hand|right)\b", "y", -1),
    (r"\b(?:closest|nearest|close|near|next)\s+(?:to\s+)?(?:me|us|you|yourself|the robot|the front)\b", "x", -1),
    (r"\b(?:frontmost|in front|at the front|front)\b", "x", -1),
    (r"\b(?:furthest|farthest|further|farther)(?:\s+(?:away|back|off|from (?:me|us|you)))?\b", "x", +1),
    (r"\b(?:at the back|backmost|rearmost|in the back|back)\b", "x", +1),
]
_MIDDLE = re.compile(r"\b(?:in the (?:middle|centre|center)|middle|central|centre|center)\b")
_LANDMARK = re.compile(
    r"\b(?P<rel>closest|nearest|next|near|nearer|beside|by|close|furthest|farthest|"
    rf"(?:to |on )?{SIDE_OF}|(?:left|right) of|in front of|behind|beyond)\s+"
    r"(?:to\s+|from\s+)?(?P<lm>(?:the|that|this)\s+[a-z][a-z -]*)$"
)
#: a side of a landmark as the operator sees it (behind the robot: left = +y, behind = away, +x)
_SIDES = (("left", (0.0, 1.0)), ("right", (0.0, -1.0)), ("front", (-1.0, 0.0)), ("behind", (1.0, 0.0)))
_BETWEEN = re.compile(r"\bbetween\s+(?P<a>.+?)\s+and\s+(?P<b>.+)$")
_EXCEPT = re.compile(
    r"\s*,?\s*\b(?:except(?: for)?|but not|other than|apart from|besides|not|but|"
    r"(?:that|which|who) (?:is not|isn t|isnt|are not|aren t|arent))\b\s+"
)
#: colours people name things by (a lone colour in "the white and the black mug" lends the noun)
COLOURS = {
    "red", "green", "blue", "yellow", "orange", "purple", "pink", "white", "black", "gray", "grey", "brown",
    "cyan", "clear", "wood", "wooden", "silver", "gold", "golden", "violet", "teal", "turquoise", "beige",
}  # fmt: skip
#: head-noun scores closer than this do not pick one object over another
TIE = 0.02
_CONJ = re.compile(r"\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*")
_PLURAL_END = re.compile(r"[a-z]{2,}(?<![su])s$")


@dataclass
class Reference:
    """What a noun phrase picks in the scene.

    Attributes:
        names: the objects picked, best first.
        plural: the phrase names several ("both mugs", "the apple and the pear", "all fruit").
        how: the words that decided (size, position, a landmark, a count, an exception...), empty
            when only the head noun did.
        score: how well the head noun matched (sentence-model similarity).
        excluded: objects the phrase rules out ("except the green one").
    """

    names: list[str]
    plural: bool = False
    how: str = ""
    score: float = 0.0
    excluded: list[str] = field(default_factory=list)
    landmark: str = ""

    @property
    def decisive(self) -> bool:
        """Something beyond the head noun decided (so the whole-sentence score should not)."""
        return bool(self.how)


def _intrinsic(o: ObjectInfo) -> list[str]:
    """Ways to say ``o`` from what it is, not where it stands (the head is matched on these)."""
    cat = sw.CATEGORY_NOUN.get(o.category, o.category)
    out = [sw.phrase(o), sw.noun(o), cat]
    if o.color and o.category != "cabinet":
        out.append(f"{o.color} {cat}")
    return [f"the {p}" for p in dict.fromkeys(out)]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes")):
        return word[:-2]
    if _PLURAL_END.fullmatch(word):
        return word[:-1]
    return word


def _adjective(word: str) -> bool:
    """A colour, size or place word: it needs a noun ("green" -> "green apple")."""
    return word in COLOURS or any(re.fullmatch(pat, word) for pat, _d, _s in _ORDER)


def _strip(text: str) -> str:
    return " ".join(w for w in _words(text) if w not in _FILLER)


#: dimensions measured on the object's size (the others are positions)
SIZES = ("size", "height", "width", "length")
#: "the medium cube", "the middle-sized bowl": the one between the others in size
_MEDIUM = re.compile(r"\b(?:medium|mid|middle|average|moderate)(?:[- ]?sized?)\b|\bmedium\b")


def _size(o: ObjectInfo, dim: str) -> float:
    if dim == "height":
        return float(o.size[2])
    if dim == "width":  # across the footprint's wider side
        return float(max(o.size[0], o.size[1]))
    if dim == "length":  # the longest extent, however it lies
        return float(max(o.size))
    return float(o.size[0] * o.size[1] * max(o.size[2], 1e-3))


def _extreme(objs: Sequence[ObjectInfo], dim: str, sign: int) -> ObjectInfo | None:
    """The object at one end of ``dim``; None when the ends are not told apart."""
    if len(objs) < 2:
        return objs[0] if objs else None
    if dim in SIZES:
        key = [sign * _size(o, dim) for o in objs]
        rel = 1.1
        order = sorted(range(len(objs)), key=lambda i: -key[i])
        a, b = abs(key[order[0]]), abs(key[order[1]])
        ok = (a > b * rel) if sign > 0 else (b > a * rel)
        return objs[order[0]] if ok else None
    axis = 0 if dim == "x" else 1
    key = [sign * float(o.pose.position[axis]) for o in objs]
    order = sorted(range(len(objs)), key=lambda i: -key[i])
    return objs[order[0]] if key[order[0]] - key[order[1]] >= 0.02 else None


def _middle(objs: Sequence[ObjectInfo]) -> ObjectInfo | None:
    """The object in the middle of a row (by the axis the row spreads along)."""
    if len(objs) < 3:
        return None
    spread = [max(o.pose.position[a] for o in objs) - min(o.pose.position[a] for o in objs) for a in (0, 1)]
    axis = 1 if spread[1] >= spread[0] else 0
    order = sorted(objs, key=lambda o: o.pose.position[axis])
    return order[len(order) // 2] if len(order) % 2 else None


class Resolver:
    """Resolves noun phrases against one scene with a :class:`~robot_agent.language.scorer.Scorer`."""

    def __init__(self, objects: Sequence[ObjectInfo], scorer: Any) -> None:
        self.objects = list(objects)
        self.scorer = scorer

    # -- the head noun -----------------------------------------------------------------------------

    def _head_scores(self, head: str, pool: Sequence[ObjectInfo]) -> dict[str, float]:
        options = [(o.name, _intrinsic(o)) for o in pool]
        sentences = [p for _, ps in options for p in ps]
        flat = self.scorer.scores(self.scorer.query(f"the {head}"), sentences)
        out, i = {}, 0
        for name, ps in options:
            out[name] = float(flat[i : i + len(ps)].max())
            i += len(ps)
        by_name = {o.name: o for o in pool}
        return colours.adjust(f"the {head}", by_name, nouns.adjust(f"the {head}", by_name, out))

    def kind(
        self, head: str, pool: Sequence[ObjectInfo], spread: float = KIND_SPREAD
    ) -> tuple[list[ObjectInfo], float]:
        """The objects of ``pool`` the head noun names (all of them for "thing", "one"), best first."""
        words = _words(head)
        if not words or all(w in _GENERIC for w in words):
            return list(pool), 1.0
        sims = self._head_scores(head, pool)
        best = max(sims.values(), default=0.0)
        if best < HEAD_MIN:
            return [], best
        keep = [o for o in pool if sims[o.name] >= best - spread]
        return sorted(keep, key=lambda o: -sims[o.name]), best

    # -- the phrase --------------------------------------------------------------------------------

    def resolve(
        self, phrase: str, pool: Sequence[ObjectInfo] | None = None, context_head: str = ""
    ) -> Reference | None:
        """What ``phrase`` picks among ``pool`` (default: every object); None if it names nothing.
        ``context_head``: the noun a bare "one" stands for ("the small cube on the big one": cube)."""
        pool = list(self.objects if pool is None else pool)
        text = " ".join(_words(phrase))
        if not text or not pool:
            return None
        base, excluded_txt = text, ""
        m = _EXCEPT.search(text)
        if m is not None and m.start() > 0:
            base, excluded_txt = text[: m.start()], text[m.end() :]
        ref = self._resolve_base(base, pool, context_head=context_head)
        if ref is None:
            return None
        if excluded_txt:
            head = self._head_noun(base)
            ex_words = [w for w in _words(excluded_txt) if w not in _FILLER]
            if len(ex_words) == 1 and head and _adjective(ex_words[0]):
                excluded_txt = f"{ex_words[0]} {head}"  # "the apple that isn't green": the green apple
            ex = self._resolve_base(excluded_txt, pool, context_head=head)
            if ex is not None and ex.names and set(ex.names) & set(ref.names) and set(ref.names) - set(ex.names):
                ref.names = [n for n in ref.names if n not in ex.names]
                ref.excluded = list(ex.names)
                ref.how = ", ".join(w for w in (ref.how, "except " + " and ".join(ex.names)) if w)
                ref.plural = ref.plural or len(ref.names) > 1
        return ref

    @staticmethod
    def _head_noun(text: str) -> str:
        words = [w for w in _words(text) if w not in _FILLER]
        return _singular(words[-1]) if words else ""

    def _resolve_base(self, text: str, pool: Sequence[ObjectInfo], context_head: str = "") -> Reference | None:
        between = _BETWEEN.search(text)
        if between is None:
            parts = [p for p in _CONJ.split(text) if _strip(p)]
            if len(parts) >= 2:
                return self._conjunction(parts, pool)
        return self._one(text, pool, context_head)

    def _conjunction(self, parts: list[str], pool: Sequence[ObjectInfo]) -> Reference | None:
        """ "the white and the black mug", "the lime and the orange": each part on its own, the last
        part's noun lent to parts that have none ("white" -> "white mug")."""
        heads = [self._head_noun(p) for p in parts]
        last = next((h for h in reversed(heads) if h and h not in _GENERIC), heads[-1])
        names: list[str] = []
        scores, hows = [], []
        for p in parts:
            ws = [w for w in _words(p) if w not in _FILLER]
            said = " ".join(ws)
            if len(ws) == 1 and last and ws[0] != last and ws[0] in COLOURS:
                said = f"{ws[0]} {last}"
            ref = self._one(said, pool, last)
            if ref is None or not ref.names:
                return None
            if not ref.plural and not ref.how and len(ref.names) > 1:
                sims = self._head_scores(said, [o for o in pool if o.name in ref.names[:2]])
                if abs(sims[ref.names[0]] - sims[ref.names[1]]) < TIE:
                    return None  # this part could be either of two: not for this resolver to pick
            # A plural part keeps all it names; a singular part its best object only.
            for n in ref.names if ref.plural else ref.names[:1]:
                if n not in names:
                    names.append(n)
            scores.append(ref.score)
            hows.append(ref.how)
        if len(names) < 2:
            return None
        return Reference(names, True, "; ".join(["and"] + [h for h in hows if h]), min(scores))

    def _one(self, text: str, pool: Sequence[ObjectInfo], context_head: str = "") -> Reference | None:
        words = _words(text)
        # "the smaller of the two red ones": one of them, the count is of those it is chosen from
        one_of = _ONE_OF.search(text.lower()) is not None
        count = 0 if one_of else next((_NUMBERS[w] for w in words if w in _NUMBERS), 0)
        every = any(w in _ALL for w in words)
        rest = " ".join(words)
        how: list[str] = []
        relation: tuple[str, int] | None = None
        landmark: tuple[str, str] | None = None
        middle = False
        between = _BETWEEN.search(rest)
        if between is not None:
            landmark = ("between", rest[between.start() :])
            rest = rest[: between.start()]
        m = _LANDMARK.search(rest)
        if landmark is None and m is not None and not re.fullmatch(r"(?:the|that|this)\s+(?:front|robot)", m["lm"]):
            landmark = (m["rel"], m["lm"])
            rest = rest[: m.start()]
        for pat, dim, sign in _ORDER:
            mm = re.search(pat, rest)
            if mm is not None and relation is None:
                relation = (dim, sign)
                rest = rest[: mm.start()] + rest[mm.end() :]
        medium = False
        if relation is None and _MEDIUM.search(rest):
            medium = True
            rest = _MEDIUM.sub(" ", rest)
        elif _MIDDLE.search(rest):
            middle = True
            rest = _MIDDLE.sub(" ", rest)
        head_words = [w for w in _words(rest) if w not in _FILLER and w not in {"on", "in", "at", "of", "to", "the"}]
        plural = bool(count and count > 1) or every
        if head_words and _PLURAL_END.fullmatch(head_words[-1]) and head_words[-1] not in _GENERIC and not one_of:
            plural = True
            head_words[-1] = _singular(head_words[-1])
        if head_words and head_words[-1] in _GENERIC and context_head:
            head_words[-1] = context_head
        head = " ".join(head_words)
        kind, score = self.kind(head, pool)
        if not kind:
            return None
        said = colours.said_colour(f"the {head}")
        if said is None and len(kind) > 1 and head_words and colours.lab(head_words[-1]) is not None:
            # A noun that is also a colour ("the lime" among lemons, "the plum"): its colour tells
            # the kin apart, unless it is the very noun of one of them ("the orange").
            w = head_words[-1]
            if not any(w in (*o.name.lower().split("_"), o.shape or "", o.category) for o in kind):
                said = w
        colour_how = ""
        if said is not None and len(kind) > 1:
            # A colour word the scene's names lack ("the turquoise block"): the thing of that colour.
            near = colours.nearest(said, kind)
            if len(near) == 1 and not any(w == said for o in near for w in (o.color or "").split()):
                kind, colour_how = near, f"colour {said}"
        chosen: list[ObjectInfo] = list(kind)
        anchor = ""
        if landmark is not None:
            found = self._by_landmark(landmark, kind)
            if found is None:
                return None
            picked, anchor = found
            chosen, how = [picked], [f"{landmark[0]} {landmark[1]}"]
        elif relation is not None and len(kind) >= 2:
            picked = _extreme(kind, *relation)
            if picked is None:
                return Reference([o.name for o in kind], plural, "", score)  # the words do not decide
            chosen, how = [picked], [f"{relation[0]} {'+' if relation[1] > 0 else '-'}"]
            if count > 1:  # "the two biggest"
                key = (
                    (lambda o: -relation[1] * _size(o, relation[0]))
                    if relation[0] in SIZES
                    else (lambda o: -relation[1] * o.pose.position[0 if relation[0] == "x" else 1])
                )
                chosen = sorted(kind, key=key)[:count]
        elif medium and len(kind) >= 3:
            order = sorted(kind, key=lambda o: _size(o, "size"))
            picked = order[len(order) // 2] if len(order) % 2 else None
            if picked is None or not (
                _size(order[0], "size") * 1.1 < _size(picked, "size") < _size(order[-1], "size") / 1.1
            ):
                return Reference([o.name for o in kind], plural, "", score)  # the sizes do not decide
            chosen, how = [picked], ["medium size"]
        elif middle:
            picked = _middle(kind)
            if picked is None:
                return Reference([o.name for o in kind], plural, "", score)
            chosen, how = [picked], ["middle"]
        elif plural:
            how = [f"{count or 'all'} {head or 'things'}"]
            if count and len(kind) != count:
                # "both mugs" with three mugs in view: the count does not pick them; the caller asks.
                return Reference([o.name for o in kind], True, "", score)
        how = how or ([colour_how] if colour_how else [])
        return Reference([o.name for o in chosen], plural and len(chosen) > 1, "; ".join(how), score, landmark=anchor)

    def _by_landmark(self, landmark: tuple[str, str], kind: Sequence[ObjectInfo]) -> tuple[ObjectInfo, str] | None:
        """The object of ``kind`` the landmark phrase picks, and the landmark's own name(s)."""
        rel, phrase = landmark
        if rel == "between":
            m = _BETWEEN.search(phrase)
            if m is None:
                return None
            parts = [m["a"], m["b"]]
            last = self._head_noun(parts[1])
            ends = []
            for p in parts:
                r = self._one(p, [o for o in self.objects], last)
                if r is None or not r.names:
                    return None
                ends.append(next(o for o in self.objects if o.name == r.names[0]))
            if ends[0].name == ends[1].name:
                return None
            a, b = (e.pose.position[:2] for e in ends)
            mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
            options = [o for o in kind if o.name not in (ends[0].name, ends[1].name)]
            best = min(options, key=lambda o: math.dist(o.pose.position[:2], mid), default=None)
            return None if best is None else (best, f"{ends[0].name} {ends[1].name}")
        lm_pool = [o for o in self.objects]
        lm = self._one(phrase, lm_pool)
        if lm is None or not lm.names:
            return None
        anchor = next(o for o in self.objects if o.name == lm.names[0])
        options = [o for o in kind if o.name != anchor.name]
        side = next((v for k, v in _SIDES if k in rel), (1.0, 0.0) if rel == "beyond" else None)
        if side is not None:
            # "the fruit to the right of the red apple": of those on that side (within 45 degrees of
            # it, not merely beyond the landmark's line), the nearest
            ax, ay = anchor.pose.position[:2]

            def along(o: ObjectInfo) -> tuple[float, float]:
                dx, dy = o.pose.position[0] - ax, o.pose.position[1] - ay
                return dx * side[0] + dy * side[1], abs(dx * side[1] - dy * side[0])

            options = [o for o in options if (a := along(o))[0] > 0.02 and a[0] >= a[1]]
        if not options:
            return None
        far = rel in ("furthest", "farthest")
        dists = sorted(
            ((math.dist(o.pose.position[:2], anchor.pose.position[:2]), o.name) for o in options), reverse=far
        )
        if len(dists) >= 2 and abs(dists[0][0] - dists[1][0]) < 0.02:
            return None  # two at the same distance: the landmark does not decide
        return next(o for o in options if o.name == dists[0][1]), anchor.name


# -- placements said with a referring expression -------------------------------------------------------

#: one chosen among a number of them ("the smaller of the two", "the left one of those three")
_ONE_OF = re.compile(
    r"\b(?:one|[a-z]+er|[a-z]+est|left|right|middle|other|first|last)\s+of\s+(?:the|those|these|them|both)"
    r"(?:\s+(?:two|three|four|five|pair))?\b"
)
_LEAD_WORDS = {"the", "a", "an", "that", "this", "those", "these", "my", "your", "every", "each", "all", "both"}
_LEAD_WORDS |= set(_NUMBERS) | {"everything"}
_TAIL_VERB = re.compile(
    r"\s+(?:(?:should|must|needs? to|has to|have to|can|will|is to|are to)\s+)?"
    r"(?:go|goes|belongs?|gets?|sits?|stays?|lives?|ends? up|end up)(?:\s+back)?$"
)
_PREP = re.compile(
    r"\s*,?\s+(?:back\s+|away\s+|down\s+|over\s+|up\s+)?"
    r"\b(?P<p>into|inside of|inside|in|onto|on top of|on to|on|atop|upon|over to|to)\s+"
    rf"(?=(?:the|a|an|that|this|my|your)\b)(?!{SIDE_OF})"
)
_NOT_BEFORE = re.compile(r"(?:\bnot|n't|\brather than|\binstead of)\s*$")
#: words of place that name no object ("on the left", "in the middle"): a modifier, not a target
_PLACE_WORDS = {"left", "right", "middle", "centre", "center", "front", "back", "side", "end", "far", "near", "corner"}
_TARGET_TAIL = re.compile(r"(?:\s+with (?:it|them))?[\s,.!]*(?:please|thanks|thank you|now|for me)?[\s.!]*$")
#: words that take the noun phrase after them: "closest to the bowl" is part of the object phrase
_TAKES_COMPLEMENT = {"closest", "nearest", "next", "near", "close", "closer", "nearer", "furthest", "farthest"}
_TAKES_COMPLEMENT |= {"between", "beside", "by", "from", "of", "away"}


def _splits(text: str) -> tuple[list[tuple[str, str, str]], bool]:
    """(object phrase, preposition, place phrase) at each preposition of place, left to right, and
    whether a place was ruled out (", not in the drawer")."""
    out = []
    ruled_out_place = False
    found = []
    for m in _PREP.finditer(text):
        if _NOT_BEFORE.search(text[: m.start()]):
            # ", not in the drawer": a place ruled out; the text from here on names no target
            text = text[: m.start()]
            ruled_out_place = True
            break
        found.append(m)
    text = re.sub(r"[\s,]*\b(?:not|rather than|instead of)$", "", text)
    for i, m in enumerate(found):
        o, t = text[: m.start()].strip(" ,"), _TARGET_TAIL.sub("", text[m.end() :]).strip(" ,")
        # A later "in/on the <noun>" makes this one part of the object phrase ("the cube on the left
        # in the tray"); a later "on the left" is a modifier of this target ("in the bowl on the left").
        if any(set(_words(_TARGET_TAIL.sub("", text[n.end() :]))) - _FILLER - _PLACE_WORDS for n in found[i + 1 :]):
            continue
        if not o or not t or not re.fullmatch(r"[a-z][a-z ,'-]*", o) or not re.fullmatch(r"[a-z][a-z ,'-]*", t):
            continue
        if _words(o)[-1] in _TAKES_COMPLEMENT:
            continue
        out.append((o, m["p"], t))
    return out, ruled_out_place


_PRONOUN_END = re.compile(r"\b(?:it|them|those|these|that one|this one|those ones)$")


@dataclass
class Placement:
    """ "Put <these objects> in/on <that receptacle>" as the words and the scene decide it."""

    movers: list[str]
    target: str
    how: str
    score: float


def _verb_first(word: str) -> bool:
    """A word that can be a verb and not an adjective ("grab"; not "clear", "red")."""
    wn = wordnet.load()
    return wn is not None and bool(wn.base_forms(word, "v")) and not wn.base_forms(word, "a")


#: words that start what follows a noun ("the mug on the right", "the cube by the bowl")
_PHRASE_PREPS = {"on", "in", "at", "by", "near", "next", "beside", "behind", "from", "of", "to", "between", "with"}
_PHRASE_PREPS |= {"closest", "nearest", "furthest", "farthest"}


def _object_phrase(o: str) -> str:
    """The noun phrase of the object, without a leading verb or a trailing one ("goes", "belongs")."""
    o = _TAIL_VERB.sub("", o.strip(" ,"))
    segments = [x.strip() for x in o.split(",") if x.strip()]
    if len(segments) >= 2 and _PRONOUN_END.search(segments[-1]):
        # "the cube by the bowl, stow it": the cube by the bowl; "the red ones, both of them": both red ones
        quant = [w for w in _words(segments[-1]) if w in _NUMBERS or w in _ALL - {"them"}]
        o = " ".join(quant[:1] + segments[:-1])
    words = o.split()
    # the determiner that starts the phrase comes before its first preposition: "mug on the
    # right" is a mug, not "the right"
    stop = next((i for i, w in enumerate(words) if w in _PHRASE_PREPS), len(words))
    lead = next((i for i, w in enumerate(words[:stop]) if w.strip(",") in _LEAD_WORDS), None)
    if lead is None:  # no determiner: the words from the noun on, without a leading verb ("grab mug by the bowl")
        lead = 1 if stop > 1 and _verb_first(words[0]) else 0
    return " ".join(words[lead:])


def placement(
    text: str, objects: Sequence[ObjectInfo], scorer: Any, ruled_out: set[str] = frozenset()
) -> Placement | None:
    """The placement ``text`` asks for when its object phrase is decided by words the sentence model
    does not weigh (size, position, a landmark, a count, an exception, a conjunction); None when the
    sentence is not such a placement, or a part of it does not decide (the layer's ranking or a
    question takes over)."""
    res = Resolver(objects, scorer)
    recs = sw.receptacles(objects)
    splits, place_ruled_out = _splits(text.lower().strip())
    for said_o, _p, said_t in splits:
        if direction_phrase(said_t):
            return None  # "poke the cube to the left": a way to move it, not a place
        inner = [m for m in _PREP.finditer(said_o) if _CONJ.search(said_o[m.end() :])]
        if inner:
            return None  # "the mug on the plate and the cube in the bowl": two placements, not one
        tgt = res.resolve(said_t, recs, context_head=res._head_noun(_object_phrase(said_o)))
        if tgt is None or not tgt.names or tgt.plural or (len(tgt.names) > 1 and not tgt.decisive):
            continue
        if tgt.score < HEAD_MIN + 0.1 and not tgt.decisive:
            continue
        return _place(res, objects, said_o, tgt.names[0], ruled_out, sure=tgt.decisive or place_ruled_out)
    return None


def _place(
    res: Resolver, objects: Sequence[ObjectInfo], said_o: str, target: str, ruled_out: set[str], sure: bool = False
) -> Placement | None:
    """The objects of a placement to ``target``; ``sure``: the target was decided by its own words,
    so an object phrase that names one object is enough."""
    pool = [o for o in sw.graspable(objects) if o.name != target]
    phrase = _object_phrase(said_o)
    ref = res.resolve(phrase, pool)
    if ref is None or not ref.names:
        return None
    out = [n for n in ref.names if n not in ruled_out]
    if out and len(out) < len(ref.names):  # "the round block, not the cube": the words ruled one out
        ref.how = ", ".join(w for w in (ref.how, "not " + " and ".join(n for n in ref.names if n in ruled_out)) if w)
        ref.names = out
        ref.plural = ref.plural and len(out) > 1
    words = set(_words(phrase))
    count = next((_NUMBERS[w] for w in words if w in _NUMBERS), 0)
    if ref.plural and count and len(ref.names) > count:
        if words & _GENERIC:  # "two things on the plate": any two will do; the nearest ones
            near = sorted((o for o in pool if o.name in ref.names), key=lambda o: float(o.pose.position[0]))[:count]
            return Placement([o.name for o in near], target, f"any {count}", ref.score)
        return None
    if len(ref.names) > 1 and not ref.plural:
        return None
    if not (ref.decisive or ref.plural or sure):
        return None
    return Placement(ref.names, target, ref.how, min(ref.score, 1.0))


def object_reference(
    text: str, objects: Sequence[ObjectInfo], scorer: Any, ruled_out: set[str] = frozenset()
) -> Reference | None:
    """The one movable object a task's object phrase picks by its referring words ("pick up the
    tiniest block", "grab the fruit closest to the mug"), or None when those words decide nothing
    (a plain name is the ranking's to match) or pick several."""
    low = " ".join(re.findall(r"[a-z']+|,", text.lower())).replace(" ,", ",")
    splits, _ = _splits(low)
    if splits:  # a placement (or a direction: "poke the cube to the left"): its object phrase
        low = _object_phrase(splits[0][0])
    words = low.split()
    lead = next((i for i, w in enumerate(words) if w.strip(",") in _LEAD_WORDS), None)
    if lead is None:
        return None
    phrase = _TARGET_TAIL.sub("", " ".join(words[lead:])).strip(" ,")
    phrase = phrase.split(",")[0] if not _EXCEPT.search(phrase) else phrase
    ref = Resolver(objects, scorer).resolve(phrase, sw.graspable(objects))
    if ref is None or not ref.names:
        return None
    names = [n for n in ref.names if n not in ruled_out]
    if len(names) < len(ref.names) and len(names) == 1:
        ref.names, ref.how = names, ", ".join(w for w in (ref.how, "not " + " and ".join(ruled_out)) if w)
    if not ref.decisive or len(ref.names) != 1 or ref.plural:
        return None
    return ref


def prefer_object(
    ranked: list[tuple[Any, float]], name: str, landmarks: set[str] = frozenset()
) -> list[tuple[Any, float]]:
    """A task ranking with the meanings that act on ``name`` ahead of those acting on another
    object, and a landmark ("the cube nearest the tray", "the fruit to the right of the red
    apple") taken neither for the place nor for the thing moved: it is named, and is neither."""
    out = []
    for c, s in ranked:
        moved = c.value.split(">", 1)[0] if c.family in ("put", "pick", "push", "away") else ""
        place = c.value.split(">", 1)[1] if c.family in ("put", "put_all") and ">" in c.value else ""
        s = s + 0.15 if moved == name else s - 0.15 if moved else s
        s = s - 0.15 if moved and moved in landmarks else s
        out.append((c, s - 0.15 if place in landmarks else s))
    return sorted(out, key=lambda x: -x[1])


#: what may come before and after a noun phrase said alone as a correction ("no, the deeper bowl
#: instead", "I meant the one in the middle")
_SWAP_LEAD = re.compile(
    r"^(?:(?:no|nope|sorry|oh|not that one|not that|wrong [a-z]+|that's the wrong [a-z]+|i meant|i mean|rather|"
    r"actually|try|use|take|"
    r"grab|get|pick|go for|do)\b[\s,]*)*"
)
_SWAP_TAIL = re.compile(r"[\s,]*\b(?:instead|please|this time|then|thanks)?[\s.!]*$")
#: what the one object such a phrase picks by its referring words gains
SWAP_BONUS = 0.15


def swap_cue(
    text: str,
    cands: Sequence[Any],
    scores: list[float],
    objects: Sequence[ObjectInfo],
    scorer: Any,
    current: Sequence[str | None],
) -> list[float]:
    """Correction scores with a noun phrase said alone weighed by its referring words ("the one in
    the middle", "the deeper bowl"): when they pick one other object (to grasp) or one other place
    (to put it), swapping to it gains. ``current``: (the object in hand or to grasp, its target).
    "The one" is one like the current object (or target); the words are judged among all of that
    kind, the current one included ("the middle one" of three). A plain name decides nothing here
    (the sentence model weighs names)."""
    low = " ".join(re.findall(r"[a-z']+|,", text.lower())).replace(" ,", ",")
    phrase = _SWAP_TAIL.sub("", _SWAP_LEAD.sub("", low)).strip(" ,")
    words = phrase.split()
    if not words or words[0] not in _LEAD_WORDS or len(words) > 8:
        return scores
    res = Resolver(objects, scorer)
    by_name = {o.name: o for o in objects}
    fams = {c.family for c in cands}
    generic = res._head_noun(phrase) in _GENERIC or res._head_noun(phrase) == ""
    picked: dict[str, str] = {}
    for fam, pool, now in (
        ("swap_object", sw.graspable(objects), current[0]),
        ("swap_target", sw.receptacles(objects), current[1]),
    ):
        here = by_name.get(now or "")
        if fam not in fams or (generic and here is None):
            continue
        # "the tall one" of glasses: one of the current thing's kind, whatever its own shape noun
        head = res._head_noun(sw.CATEGORY_NOUN.get(here.category, here.category)) if here is not None else ""
        ref = res.resolve(phrase, pool, context_head=head) if pool else None
        if ref is not None and ref.decisive and len(ref.names) == 1 and not ref.plural and ref.names[0] != now:
            picked[fam] = ref.names[0]
    if len(picked) != 1:
        return scores  # nothing picked, or a thing to grasp and a place alike: the ranking decides
    ((fam, name),) = picked.items()
    # a phrase that picks a thing is about which thing: "the one in the middle" is no grasp region
    return [
        s + SWAP_BONUS if c.family == fam and c.value == name else s - (0.0 if c.family == fam else SWAP_BONUS / 2)
        for c, s in zip(cands, scores, strict=True)
    ]
