"""The state one parse works on (tokens, used tokens, findings) and the records it collects
(mentions, magnitudes, directions, parameter changes).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from robot_agent.language.grammar.lexicon import _DIR_WORD, _FILLERS, _QUANTIFIERS
from robot_agent.language.grammar.object_words import (
    _COLOR_CANON,
    _COLORS,
    _DETERMINERS,
    _EXTRA_NOUNS,
    _NOUN_CATEGORY,
    _POS_ADJ,
    _SHAPE_ADJ,
    _SHAPE_NOUNS,
    _SIZE_ADJ,
)
from robot_agent.language.grammar.patterns import _CONTRACTIONS, _PLACE_VERB_RE, _TOKEN_RE, _TRANS
from robot_agent.language.grammar.types import CorrectionContext
from skills.types import ObjectInfo

if TYPE_CHECKING:
    from robot_agent.language.grammar.parse import CorrectionParser


#: the base frame's axes as the operator's directions (the operator behind the robot: +x forward,
#: +y left, +z up), for an axis said with its sign: "y minus two centimetres", "+z 1 cm", "negative x"
_AXIS_WAYS = {"x": ("forward", "back"), "y": ("to the left", "to the right"), "z": ("up", "down")}
_SIGN = r"plus|positive|minus|negative|\+|-"
_AXIS = re.compile(
    rf"(?<![\w.])(?:(?:in|along|on)\s+(?:the\s+)?)?(?:(?P<s1>{_SIGN})\s*(?P<a1>[xyz])|(?P<a2>[xyz])(?:[\s-]*(?:axis|direction))?\s*(?P<s2>{_SIGN}))"
    rf"(?![a-z])(?:[\s-]*(?:axis|direction)\b)?"
    # an axis without a sign is its positive way ("4 mm short in x", "3 cm along the x axis")
    rf"|\b(?:in|along)\s+(?:(?:the\s+)?(?P<a3>[xyz])[\s-]*(?:axis|direction)\b"
    rf"|(?P<a4>[xyz])(?![\w'])(?=\s*(?:[,.;!?]|$|by\b|\d|and\b|please\b|a\b|then\b)))"
)


#: "round" for "around" after a verb of going ("go round the glass", "swing round it")
_ROUND = re.compile(
    r"\b(go|goes|going|went|move|moving|come|coming|swing|swinging|steer|get|getting|head|pass|passing|"
    r"drive|travel|sweep|curve|loop|arc|work|way)\s+round\b"
)


#: words after an amount that make it a limit ("five centimetres, tops", "12 cm out and no further"):
#: the amount is what is asked, not a change on top of the last one
_AT_MOST = re.compile(
    r"(?<=[a-z0-9])(?:\s+out)?\s*,?\s*(?:and\s+)?(?:no (?:more|further|farther)(?: than that)?|tops|max(?:imum)?|"
    r"at (?:the )?most|not a (?:bit|hair|millimet(?:re|er)) more)(?=\s*[.!,]?\s*$)",
    re.IGNORECASE,
)


def without_limit_words(text: str) -> str:
    """``text`` without words that make its closing amount a limit ("5 cm, tops" -> "5 cm")."""
    return _AT_MOST.sub("", text)


def axis_words(text: str) -> str:
    """An axis with its sign said as the direction it is ("y minus 2 cm" -> "right 2 cm",
    "+z a bit" -> "up a bit"); the rest unchanged."""

    def one(m: re.Match[str]) -> str:
        axis = m.group("a1") or m.group("a2") or m.group("a3") or m.group("a4")
        sign = m.group("s1") or m.group("s2") or "+"
        return f" {_AXIS_WAYS[axis][sign in ('minus', 'negative', '-')]} "

    return _AXIS.sub(one, text)


@dataclass
class _Mention:
    start: int  # token span [start, end)
    end: int
    head: str
    words: list[str]  # content words: colours, nouns, scene-name tokens
    adjs: list[str]
    det: str | None = None
    refs: list[str] = field(default_factory=list)  # scene names this phrase can mean
    pronoun: bool = False
    plural: bool = False
    negated: bool = False
    unknown: bool = False
    other: bool = False
    exact: bool = False  # the object's own name was said
    text: str = ""

    @property
    def generic(self) -> bool:
        """A kind of thing ("fruit", "red blocks", "all cups") rather than one object."""
        return (
            not self.pronoun
            and not self.unknown
            and not self.exact
            and (self.plural or self.det is None or self.det in _QUANTIFIERS)
        )


@dataclass
class _Mag:
    start: int
    end: int
    cls: str | None  # word class, None for an explicit distance
    metres: float | None = None
    claimed: bool = False


@dataclass
class _Dir:
    tok: int
    name: str
    vec: tuple[float, float, float]  # unit vector, base frame
    mag: _Mag | None = None
    reversed: bool = False


@dataclass
class _Change:
    skill: str | None
    name: str
    op: str
    value: Any
    explicit: bool = False  # from an explicit number: refused, never fitted, when out of bounds
    translational: bool = False  # derived from delta_m: fitted together with it


def _singular(word: str, known: set[str]) -> tuple[str, bool]:
    if word in known:
        return word, False
    for suffix, rep in (("ies", "y"), ("ves", "f"), ("ves", "fe"), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            cand = word[: -len(suffix)] + rep
            if cand in known:
                return cand, True
    return word, False


def _a(desc: str) -> str:
    return ("an " if desc[:1] in "aeiou" else "a ") + desc


def _or_list(names: Sequence[str]) -> str:
    names = list(names)
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " or " + names[-1]


def _descriptors(o: ObjectInfo) -> set[str]:
    words = {w for w in re.split(r"[^a-z]+", o.name.lower()) if w}
    cat = o.category.lower()
    words.add(cat)
    words |= {n for n, c in _NOUN_CATEGORY.items() if c == cat and n not in _SHAPE_NOUNS}
    if cat in ("mug", "glass"):
        words.add("cup")
    if o.shape:
        words.add(o.shape.lower())
    if o.color:
        col = o.color.lower()
        words |= {col, _COLOR_CANON.get(col, col)}
        if col == "gray":
            words.add("grey")
        if col == "wood":
            words.add("wooden")
    return words


def _round(v: Any) -> Any:
    if isinstance(v, float):
        r = round(v, 4)
        return 0.0 if r == 0 else r
    if isinstance(v, list):
        return [_round(x) for x in v]
    return v


class _ParseBase:
    """State of one parse: the text, its tokens, which tokens are used, what was found so far."""

    def __init__(
        self, parser: CorrectionParser, text: str, ctx: CorrectionContext | None, allow_stop: bool = True
    ) -> None:
        self.parser = parser
        self.text = text
        self.ctx = ctx or CorrectionContext()
        self.allow_stop = allow_stop
        self.objects = list(self.ctx.objects)
        self.desc = {o.name: _descriptors(o) for o in self.objects}
        self.scene_words: set[str] = set().union(*self.desc.values()) if self.desc else set()
        not_nouns = _COLORS | _SHAPE_ADJ | set(_SIZE_ADJ) | set(_POS_ADJ) | set(_DIR_WORD) | _FILLERS | _DETERMINERS
        self.nouns = (
            set(_NOUN_CATEGORY)
            | _EXTRA_NOUNS
            | {o.category.lower() for o in self.objects}
            | {w for w in self.scene_words if w not in not_nouns}
        )
        self.questions: list[str] = []
        self.changes: list[_Change] = []
        self.dirs: list[_Dir] = []
        self.mags: list[_Mag] = []
        self.angles: list[tuple[int, int, float]] = []
        self.percents: list[tuple[int, int, float]] = []
        self.bare: list[tuple[int, int, float]] = []
        self.mentions: list[_Mention] = []
        self.generic_unclear = False
        self.refusal: str | None = None
        self.object_name: str | None = self.ctx.object
        self.pull_direction_wanted = False  # "pull it to the left": the direction is the pull axis
        self.push_direction_wanted = False  # "push it to the left": the direction is the push direction
        self.drop_delta = False  # the direction became a parameter, not a move

    def tokenize(self) -> None:
        t = axis_words(unicodedata.normalize("NFKC", self.text).lower()).translate(_TRANS)
        t = re.sub(r"(\d)\s*(?:\"|'')", r"\1 inch ", t).replace('"', " ")
        t = _ROUND.sub(r"\1 around", t)  # "go round the glass": around it, not to it
        t = without_limit_words(t)  # "eight centimetres, no more than that": the amount is the whole of it
        t = re.sub(r"(\d),(\d{1,2})(?=\s*(?:mm|cm|m|inch|inches)\b)", r"\1.\2", t)
        # "to the front" with no "of": away from the operator, as "to the back" is towards them
        t = re.sub(r"\b(?:to|towards?|more to) the front\b(?!\s+(?:of|one|edge|part|side)\b)", "forward", t)
        self.ref_names: dict[str, str] = {}
        for k, name in sorted(enumerate(o.name for o in self.objects), key=lambda kv: -len(kv[1])):
            if not name or not re.search(r"[a-z]", name.lower()):
                continue
            pat = (
                r"(?<![a-z0-9_@])"
                + re.escape(name.lower()).replace("_", "[_ ]").replace(r"\ ", "[_ ]")
                + r"(?![a-z0-9_])"
            )
            t, n = re.subn(pat, f" @{k} ", t)
            if n:
                self.ref_names[f"@{k}"] = name
        toks = [_CONTRACTIONS.get(m, m) for m in _TOKEN_RE.findall(t)]
        self.tokens = toks
        self.starts: list[int] = []
        pos = 0
        for tok in toks:
            self.starts.append(pos)
            pos += len(tok) + 1
        self.s = " ".join(toks)
        self.used = [False] * len(toks)
        self.masked = list(self.s)

    def tok_of(self, char: int) -> int:
        return max(0, bisect.bisect_right(self.starts, char) - 1)

    def span(self, a: int, b: int) -> tuple[int, int]:
        """Token span [i, j) covering chars [a, b)."""
        if not self.tokens or b <= a:
            return (self.tok_of(a), self.tok_of(a))
        return self.tok_of(a), self.tok_of(max(a, b - 1)) + 1

    def use(self, a: int, b: int) -> None:
        i, j = self.span(a, b)
        for k in range(i, min(j, len(self.used))):
            self.used[k] = True

    def use_toks(self, i: int, j: int) -> None:
        for k in range(max(i, 0), min(j, len(self.used))):
            self.used[k] = True

    def is_used(self, a: int, b: int) -> bool:
        i, j = self.span(a, b)
        return any(self.used[i:j])

    def mask(self, a: int, b: int) -> None:
        for k in range(a, min(b, len(self.masked))):
            self.masked[k] = " "

    def find(self, rx: re.Pattern[str], s: str | None = None, mark: bool = True) -> list[re.Match[str]]:
        """Matches of ``rx`` that touch no token used yet; marks them used."""
        out = []
        for m in rx.finditer(self.s if s is None else s):
            if m.end() <= m.start() or self.is_used(m.start(), m.end()):
                continue
            out.append(m)
            if mark:
                self.use(m.start(), m.end())
        return out

    def has(self, rx: re.Pattern[str]) -> bool:
        return rx.search(self.s) is not None

    def refuse(self, reason: str) -> None:
        if self.refusal is None:
            self.refusal = reason

    def add_change(
        self, skill: str | None, name: str, op: str, value: Any, explicit: bool = False, translational: bool = False
    ) -> None:
        self.changes.append(_Change(skill, name, op, value, explicit, translational))

    def place_context(self) -> bool:
        return self.ctx.skill == "place" or bool(_PLACE_VERB_RE.search(self.s))
