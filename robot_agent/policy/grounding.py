"""Grounding words to scene objects: "the red block" -> ``red_block``, "the cup" -> a mug.

A :class:`Mention` is what a noun phrase says (colours, shape words, a category noun,
plural or not). An :class:`ObjectRef` is the same thing in storable form: constraints
and knowledge keep refs, not names, so they resolve again on a new scene (a rule about
"the drawer" learned on ``cabinet`` applies to ``white_cabinet``). Resolution only looks
at what perception reports (name, category, colour, shape, size).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from skills.types import ObjectInfo

#: colour words (and synonyms) -> the colour names perception reports
COLORS: dict[str, str] = {
    "red": "red",
    "green": "green",
    "blue": "blue",
    "yellow": "yellow",
    "orange": "orange",
    "purple": "purple",
    "violet": "purple",
    "white": "white",
    "black": "black",
    "gray": "gray",
    "grey": "gray",
    "brown": "brown",
    "pink": "pink",
    "cyan": "cyan",
    "turquoise": "cyan",
    "wood": "wood",
    "wooden": "wood",
    "clear": "clear",
    "transparent": "clear",
}

#: nouns -> (category, shape or "")
NOUNS: dict[str, tuple[str, str]] = {}
for _words, _cat, _shape in (
    (("block", "blocks", "brick", "bricks", "toy", "toys"), "block", ""),
    (("cube", "cubes"), "block", "cube"),
    (("cuboid", "cuboids"), "block", "cuboid"),
    (("cylinder", "cylinders"), "block", "cylinder"),
    (("fruit", "fruits"), "fruit", ""),
    (("apple", "apples"), "fruit", "apple"),
    (("orange", "oranges"), "fruit", "orange"),
    (("lemon", "lemons"), "fruit", "lemon"),
    (("banana", "bananas"), "fruit", "banana"),
    (("mug", "mugs", "cup", "cups", "teacup"), "mug", ""),
    (("glass", "glasses", "wineglass"), "glass", ""),
    (("tumbler", "tumblers"), "glass", "tumbler"),
    (("flute", "flutes"), "glass", "flute"),
    (("bowl", "bowls"), "bowl", ""),
    (("plate", "plates", "dish", "dishes", "saucer"), "plate", ""),
    (("tray", "trays", "basket", "baskets"), "tray", ""),
    (("bin", "bins"), "tray", "bin"),
    (("shelf", "shelves", "rack", "racks"), "shelf", ""),
    (("cabinet", "cabinets", "drawer", "drawers", "cupboard", "cupboards", "dresser", "chest"), "cabinet", ""),
):
    for _w in _words:
        NOUNS[_w] = (_cat, _shape)

#: shape adjectives perception reports (``ObjectInfo.shape``) that are not nouns
SHAPE_ADJECTIVES = {"tall", "wide", "standard", "round", "deep", "square", "flat", "board"}
#: words that stand for "some object" (the category comes from context)
GENERIC = {"object", "objects", "thing", "things", "item", "items", "one", "ones"}
PRONOUNS = {"it", "them", "that", "this", "its"}
DETERMINERS = {"the", "a", "an", "some", "my", "your", "that", "this", "these", "those", "any", "of"}
QUANTIFIERS = {"all": "all", "every": "all", "each": "all", "both": "all", "everything": "all"}
SIZE_WORDS = {
    "big": "max",
    "bigger": "max",
    "biggest": "max",
    "large": "max",
    "larger": "max",
    "largest": "max",
    "small": "min",
    "smaller": "min",
    "smallest": "min",
    "little": "min",
    "tiny": "min",
}
_PLURAL_NOUNS = {
    w
    for w in NOUNS
    if w.endswith("s")
    and w[:-1] in NOUNS
    or w.endswith("es")
    and w[:-2] in NOUNS
    or w in ("shelves", "glasses", "dishes", "fruits")
}

_WS = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lower case, underscores to spaces, punctuation dropped (apostrophes kept)."""
    t = text.lower().replace("_", " ").replace("-", " ")
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    return _WS.sub(" ", t).strip()


@dataclass
class Mention:
    """What a noun phrase says about the objects it means.

    Attributes:
        text: the phrase as written (normalized).
        colors: colour names.
        shapes: shape words (from shape nouns and adjectives).
        category: catalog category of the head noun ("" for generic words and pronouns).
        noun: the head noun ("" when none).
        plural: the phrase means several objects ("the blocks", "all blocks").
        quantifier: "all" for "all/every/each", else "".
        pronoun: the phrase is "it"/"them".
        size: "max"/"min" for "the big/small one", else "".
        unknown: a head noun the lexicon does not know (matched against object names only).
    """

    text: str
    colors: set[str] = field(default_factory=set)
    shapes: set[str] = field(default_factory=set)
    category: str = ""
    noun: str = ""
    plural: bool = False
    quantifier: str = ""
    pronoun: bool = False
    size: str = ""
    unknown: str = ""

    @property
    def generic(self) -> bool:
        """No category, colour or shape: "it", "the object"."""
        return not (self.category or self.colors or self.shapes or self.unknown)


def names_a_thing(rest: list[str]) -> bool:
    """The words after "a little" go on to name a thing ("a little red cube"), so it is a size."""
    for w in rest:
        if w in NOUNS or w in GENERIC:
            return True
        if not (w in COLORS or w in SIZE_WORDS or w in SHAPE_ADJECTIVES):
            return False
    return False


def parse_mention(text: str) -> Mention:
    """Parse a noun phrase such as "the red block", "all the fruit", "the orange one"."""
    norm = normalize(text)
    words = [w for w in norm.split() if w]
    m = Mention(norm)
    content = []
    for j, w in enumerate(words):
        if w in SIZE_WORDS and j > 0 and words[j - 1] == "a" and not names_a_thing(words[j + 1 :]):
            continue  # an amount, not a size: "nudge the glass a little", "a little bit"
        if w in QUANTIFIERS:
            m.quantifier = QUANTIFIERS[w]
            m.plural = True
        elif w in DETERMINERS:
            continue
        else:
            content.append(w)
    if len(content) == 1 and content[0] in PRONOUNS:
        m.pronoun = True
        m.plural = content[0] == "them"
        return m
    head_i = None
    for i in range(len(content) - 1, -1, -1):
        w = content[i]
        if w in NOUNS or w in GENERIC:
            head_i = i
            break
    for i, w in enumerate(content):
        if i == head_i:
            continue
        if w in COLORS and not (w == "orange" and i == len(content) - 1 and head_i is None):
            m.colors.add(COLORS[w])
        elif w in SIZE_WORDS:
            m.size = SIZE_WORDS[w]
        elif w in SHAPE_ADJECTIVES:
            m.shapes.add(w)
        elif w in NOUNS:  # a noun before the head: "cabinet drawer", "cylinder block"
            cat, shape = NOUNS[w]
            if shape:
                m.shapes.add(shape)
    if head_i is None:
        rest = [w for w in content if w not in COLORS and w not in SIZE_WORDS and w not in SHAPE_ADJECTIVES]
        if "orange" in content and not m.colors and not rest:
            m.category, m.noun = "fruit", "orange"
            m.shapes.add("orange")
        elif rest:
            m.unknown = rest[-1]
            m.noun = rest[-1]
        return m
    head = content[head_i]
    m.noun = head
    if head in GENERIC:
        m.plural = m.plural or head.endswith("s")
    else:
        cat, shape = NOUNS[head]
        m.category = cat
        if shape:
            m.shapes.add(shape)
        if head in _PLURAL_NOUNS:
            m.plural = True
    return m


def name_words(obj: ObjectInfo) -> set[str]:
    return set(normalize(obj.name).split())


def _matches(m: Mention, obj: ObjectInfo) -> bool:
    words = name_words(obj)
    if m.unknown:
        return m.unknown in words or m.unknown.rstrip("s") in words
    if m.category and obj.category != m.category:
        # A noun that is part of the name still counts ("cylinder" for "blue_cylinder").
        if m.noun not in words:
            return False
    for c in m.colors:
        if obj.color != c and c not in words:
            return False
    for s in m.shapes:
        if obj.shape != s and s not in words:
            return False
    return True


def ground(
    mention: Mention | str, objects: Iterable[ObjectInfo], *, categories: Iterable[str] | None = None
) -> list[ObjectInfo]:
    """The scene objects a mention can mean, best first.

    An exact name ("red block" for ``red_block``) wins outright. Otherwise every object
    whose category, colours and shapes agree with the mention is returned; "the big one"
    keeps the largest. ``categories`` limits generic mentions ("the blue one") to the
    categories the context allows.
    """
    m = parse_mention(mention) if isinstance(mention, str) else mention
    objs = list(objects)
    if m.pronoun:
        return []
    exact = [o for o in objs if normalize(o.name) == m.text or normalize(o.name) == _strip_det(m.text)]
    if exact:
        return exact
    cats = set(categories) if categories is not None else None
    out = [o for o in objs if _matches(m, o) and (m.category or m.unknown or cats is None or o.category in cats)]
    if m.size and len(out) > 1:
        sizes = [o.characteristic_size() * max(o.size[2], 1e-6) for o in out]
        best = max(sizes) if m.size == "max" else min(sizes)
        out = [o for o, s in zip(out, sizes, strict=True) if abs(s - best) < 1e-9]
    return out


def _strip_det(text: str) -> str:
    return " ".join(w for w in text.split() if w not in DETERMINERS and w not in QUANTIFIERS)


@dataclass(frozen=True)
class ObjectRef:
    """A storable reference to scene objects: by name, or by what they look like.

    Resolution: an exact ``name`` present in the scene wins; otherwise the name's words
    and ``text`` are grounded like a noun phrase, narrowed by ``category``/``color``/``shape``.
    So a ref learned as ``cabinet`` finds ``white_cabinet`` on a new scene.
    """

    name: str = ""
    category: str = ""
    color: str = ""
    shape: str = ""
    text: str = ""

    def is_empty(self) -> bool:
        return not (self.name or self.category or self.color or self.shape or self.text)

    def resolve(self, objects: Iterable[ObjectInfo], *, categories: Iterable[str] | None = None) -> list[ObjectInfo]:
        """The scene objects this ref means (possibly several, possibly none)."""
        objs = list(objects)
        if self.name:
            exact = [o for o in objs if o.name == self.name]
            if exact:
                return exact
        phrase = self.text or self.name.replace("_", " ")
        if phrase:
            m = parse_mention(phrase)
            if m.pronoun:
                return []
            found = ground(m, objs, categories=categories)
        else:
            found = [o for o in objs if categories is None or o.category in set(categories)]
        out = []
        for o in found:
            if self.category and o.category != self.category:
                continue
            if self.color and o.color != self.color:
                continue
            if self.shape and o.shape != self.shape:
                continue
            out.append(o)
        return out

    def matches(self, obj: ObjectInfo | None, objects: Iterable[ObjectInfo] | None = None) -> bool:
        """Does ``obj`` fit this ref (an empty ref fits any object)?"""
        if obj is None:
            return False
        if self.is_empty():
            return True
        if self.name and obj.name == self.name:
            return True
        pool = list(objects) if objects is not None else [obj]
        if obj not in pool:
            pool.append(obj)
        return any(o.name == obj.name for o in self.resolve(pool))

    def describe(self) -> str:
        if self.name:
            return self.name
        words = [w for w in (self.color, self.shape, self.category) if w]
        return " ".join(dict.fromkeys(words)) or self.text or "any object"

    def to_dict(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("name", self.name),
                ("category", self.category),
                ("color", self.color),
                ("shape", self.shape),
                ("text", self.text),
            )
            if v
        }

    @classmethod
    def from_value(cls, value: Any) -> ObjectRef | None:
        """A ref from a name/phrase string, a dict (``name``/``object``/``category``/...), or None."""
        if value is None or value == "" or value == {}:
            return None
        if isinstance(value, ObjectRef):
            return value
        if isinstance(value, str):
            if " " in value.strip() or not _looks_like_name(value):
                return cls.from_mention(parse_mention(value))
            return cls(name=value)
        if isinstance(value, Mapping):
            name = value.get("name") or value.get("object") or ""
            ref = cls(
                name=str(name or ""),
                category=str(value.get("category") or ""),
                color=str(value.get("color") or ""),
                shape=str(value.get("shape") or ""),
                text=str(value.get("text") or value.get("description") or ""),
            )
            return None if ref.is_empty() else ref
        return None

    @classmethod
    def from_mention(cls, m: Mention) -> ObjectRef:
        color = next(iter(m.colors)) if len(m.colors) == 1 else ""
        shape = next(iter(m.shapes)) if len(m.shapes) == 1 else ""
        return cls(category=m.category, color=color, shape=shape, text=m.text)


def _looks_like_name(value: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value.strip()))


def describe_objects(objects: Sequence[ObjectInfo]) -> list[str]:
    """One short line per object for prompts: ``cabinet: wood drawer cabinet, drawer closed``."""
    lines = []
    for o in objects:
        desc = o.description()
        state = o.state.get("drawer")
        lines.append(f"{o.name}: {desc}" + (f", drawer {state}" if state else ""))
    return lines
