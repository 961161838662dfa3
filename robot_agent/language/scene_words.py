"""Words for what the robot sees: noun phrases for scene objects and their parts.

The understanding layer renders every meaning the scene allows as sentences a person might
say; these phrases are how objects and parts appear in them. They come from what perception
reports (category, colour, shape, size, parts, position), so an object the word lists never
heard of ("the lime", "the champagne flute", "the loop") is matched by similarity to these
descriptions, not by a longer list.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from skills.library import CONTAINERS, GRASPABLE, SUPPORTS
from skills.types import ObjectInfo

#: the noun a person uses for a category (a cabinet is mostly called by its drawer)
CATEGORY_NOUN = {
    "cabinet": "drawer",
    "block": "block",
    "fruit": "fruit",
    "mug": "mug",
    "glass": "glass",
    "bowl": "bowl",
    "plate": "plate",
    "tray": "tray",
    "shelf": "shelf",
}
#: shape variants that are nouns in their own right ("the lemon", "the cube", "the bin")
SHAPE_NOUNS = {"cube", "cuboid", "cylinder", "apple", "orange", "lemon", "banana", "tumbler", "flute", "bin"}
#: how a shape looks, in the adjectives people describe it by ("the round block" is the cylinder,
#: "the long block" the cuboid): part of each object's description, grounded like the rest
SHAPE_LOOKS = {
    "cylinder": ("round",),
    "cube": ("square",),
    "cuboid": ("long", "rectangular"),
    "tumbler": ("short",),
    "flute": ("tall", "thin"),
}
#: what each part is, in words: a part named in a sentence is matched against these
PART_WORDS = {
    "handle": ("the handle", "the handle you hold it by"),
    "rim": ("the rim", "the top edge around its opening"),
    "top": ("the top", "from above"),
    "side": ("the side", "from the side"),
    "center": ("the middle", "around the middle of it"),
}


def noun(o: ObjectInfo) -> str:
    """The head noun for ``o`` ("apple" for an apple-shaped fruit, "mug", "drawer")."""
    if o.shape in SHAPE_NOUNS:
        return o.shape
    return CATEGORY_NOUN.get(o.category, o.category)


def words(o: ObjectInfo) -> set[str]:
    """Every word that may name ``o``: its noun, category, colour, shape and name's words."""
    out = {noun(o), CATEGORY_NOUN.get(o.category, o.category), o.category, o.color or "", o.shape or ""}
    out |= set(o.name.lower().split("_"))
    return {w for w in out if w}


def all_words(objects: Sequence[ObjectInfo]) -> set[str]:
    """Every word that may name something here (:func:`words` of each object)."""
    return {w for o in objects for w in words(o)}


def phrase(o: ObjectInfo) -> str:
    """The plainest phrase: colour and noun ("green apple", "white mug", "drawer")."""
    col = "" if o.category == "cabinet" or not o.color else o.color
    return " ".join(w for w in (col, noun(o)) if w)


def phrases(o: ObjectInfo, objects: Sequence[ObjectInfo] = ()) -> list[str]:
    """A few ways to say ``o`` (without the article), most specific first.

    Besides colour + noun: the category ("red fruit"), a size word when the object is the
    largest or smallest of its category in the scene, and a relation to its nearest
    neighbour ("block next to the bowl"), so "the one next to the bowl" finds it.
    """
    out = [phrase(o)]
    cat_noun = CATEGORY_NOUN.get(o.category, o.category)
    if o.color and o.category != "cabinet":
        out.append(f"{o.color} {cat_noun}")
    if o.category == "cabinet":
        out.append("cabinet")
    same = [x for x in objects if x.category == o.category and x.name != o.name]
    if any(x.shape != o.shape for x in same):  # "the round block": said when the kind has other shapes
        out += [f"{look} {cat_noun}" for look in SHAPE_LOOKS.get(o.shape or "", ())]
    if same:
        area = o.size[0] * o.size[1]
        if all(area > x.size[0] * x.size[1] * 1.15 for x in same):
            out.append(f"big {noun(o)}")
        elif all(area < x.size[0] * x.size[1] / 1.15 for x in same):
            out.append(f"small {noun(o)}")
        near = nearest(o, objects)
        if near is not None:
            out.append(f"{noun(o)} next to the {phrase(near)}")
        out += _position_words(o, same)
    return list(dict.fromkeys(out))


def _position_words(o: ObjectInfo, same: Sequence[ObjectInfo]) -> list[str]:
    """Where ``o`` stands among the others of its category, as the operator (behind the robot)
    sees it: +y is their left, small x is close to them."""
    n = noun(o)
    x, y = o.pose.position[0], o.pose.position[1]
    xs, ys = [s.pose.position[0] for s in same], [s.pose.position[1] for s in same]
    out = []
    if all(y > v + 0.03 for v in ys):
        out += [f"{n} on the left", f"leftmost {n}"]
    elif all(y < v - 0.03 for v in ys):
        out += [f"{n} on the right", f"rightmost {n}"]
    elif len(same) >= 2 and any(y > v for v in ys) and any(y < v for v in ys):
        out.append(f"{n} in the middle")
    if all(x < v - 0.03 for v in xs):
        out.append(f"{n} closest to me")
    elif all(x > v + 0.03 for v in xs):
        out.append(f"{n} furthest away")
    return out


def nearest(o: ObjectInfo, objects: Sequence[ObjectInfo]) -> ObjectInfo | None:
    """The object closest to ``o`` on the table (None when it is alone)."""
    best, dist = None, math.inf
    for x in objects:
        if x.name == o.name:
            continue
        d = math.dist(o.pose.position[:2], x.pose.position[:2])
        if d < dist:
            best, dist = x, d
    return best


def graspable(objects: Sequence[ObjectInfo]) -> list[ObjectInfo]:
    return [o for o in objects if o.category in GRASPABLE]


def receptacles(objects: Sequence[ObjectInfo]) -> list[ObjectInfo]:
    return [o for o in objects if o.category in CONTAINERS | SUPPORTS]


def preposition(o: ObjectInfo) -> str:
    """ "in" for a container, "on" for a support."""
    return "in" if o.category in CONTAINERS else "on"


def plural(word: str) -> str:
    if word.endswith(("s", "sh", "ch", "x")):
        return word + "es"
    if word.endswith("f"):
        return word[:-1] + "ves"
    return word + "s"


def singular(word: str) -> str:
    """The singular of a plural said of scene things ("glasses" -> "glass", "shelves" -> "shelf",
    "cubes" -> "cube"); other words as they are ("glass", "bus")."""
    if re.search(r"(?:ss|sh|ch|x)es$", word):
        return word[:-2]
    if word.endswith("ves"):
        return word[:-3] + "f"
    return word[:-1] if re.search(r"[^su]s$", word) else word


#: categories by role (re-exported so the layer's modules take them from one place)
GRASPABLE_CATEGORIES = frozenset(GRASPABLE)
CONTAINER_CATEGORIES = frozenset(CONTAINERS)
SUPPORT_CATEGORIES = frozenset(SUPPORTS)
