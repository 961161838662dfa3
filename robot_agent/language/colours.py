"""Colour words by the colour they name, not by their spelling: "the turquoise block" is the cyan
one, "the crimson mug" the red one, "the navy cup" the blue one.

A sentence model puts "turquoise" nowhere near "cyan". The 148 CSS colour names (from
matplotlib, already a dependency) give each word a colour; objects are compared by
:func:`distance` (hue in L*a*b* when both colours have one, lightness when neither does) between
that colour and the colour perception reports for them. A colour word in adjective position
(before the noun: "the turquoise block", not "the orange") makes the objects nearest that colour
gain and the far ones lose, in the same grounding step as the sentence model's similarity.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache

from skills.types import ObjectInfo

#: what the objects nearest the colour said gain, and the far ones lose
BONUS = 0.1
#: no object within this distance of the colour said: the word decides nothing
NEAREST_MAX = 45.0
#: objects within this much of the nearest count as that colour; this much further away as another
SAME, OTHER = 10.0, 30.0
#: below this chroma (L*a*b*) a colour has no hue: white, gray, black, ivory, silver
CHROMA = 20.0
#: words after which a colour word is no adjective ("the lime and the orange", "the orange, please")
NOT_A_NOUN = frozenset(
    "and or but nor please then on in into onto at to from with by of for is are was goes go belongs the a an".split()
)
#: surface names perception uses that are not CSS colour names
_ALIASES = {"wood": "burlywood", "wooden": "burlywood", "brown": "sienna", "clear": "", "transparent": ""}


@lru_cache(maxsize=512)
def lab(name: str) -> tuple[float, float, float] | None:
    """CIE L*a*b* of a colour word (CSS name, "sky blue" or "skyblue"), or None."""
    key = _ALIASES.get(name.lower(), name.lower()).replace(" ", "").replace("-", "")
    if not key:
        return None
    from matplotlib import colors

    hexa = colors.CSS4_COLORS.get(key)
    if hexa is None:
        return None
    r, g, b = colors.to_rgb(hexa)

    def lin(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = lin(r), lin(g), lin(b)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    fx, fy, fz = f(x), f(y), f(z)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def distance(a: str, b: str) -> float | None:
    """How far apart two colour words are as people sort colours: by hue when both have one
    (navy is blue however dark), by lightness when neither does (ivory, white, gray), and far
    apart when only one does. None when either is no colour word."""
    la, lb = lab(a), lab(b)
    if la is None or lb is None:
        return None
    ca, cb = math.hypot(la[1], la[2]), math.hypot(lb[1], lb[2])
    if ca >= CHROMA and cb >= CHROMA:
        ha, hb = math.degrees(math.atan2(la[2], la[1])), math.degrees(math.atan2(lb[2], lb[1]))
        dh = abs((ha - hb + 180.0) % 360.0 - 180.0)
        return dh + 0.2 * abs(la[0] - lb[0]) + 0.1 * abs(ca - cb)
    if ca < CHROMA and cb < CHROMA:
        return abs(la[0] - lb[0])
    return 60.0 + 0.5 * abs(ca - cb)


def said_colour(phrase: str) -> str | None:
    """The colour word of a noun phrase in adjective position ("the turquoise block": turquoise),
    or None ("the orange" names a fruit, not a colour)."""
    words = re.findall(r"[a-z]+|[,.;:!?]", phrase.lower())
    for w, nxt in zip(words, words[1:], strict=False):
        if lab(w) is not None and nxt not in NOT_A_NOUN and nxt.isalpha():
            return w
    return None


def adjust(phrase: str, objects: Mapping[str, ObjectInfo], sims: dict[str, float]) -> dict[str, float]:
    """Grounding similarities with the colour said compared with each object's colour."""
    word = said_colour(phrase)
    if word is None:
        return sims
    dist = {}
    for name in sims:
        o = objects.get(name)
        d = distance(word, o.color) if o is not None and o.color else None
        if d is not None:
            dist[name] = d
    if not dist or min(dist.values()) > NEAREST_MAX:
        return sims
    best = min(dist.values())
    out = dict(sims)
    for name, d in dist.items():
        if d <= best + SAME:
            out[name] = sims[name] + BONUS
        elif d > best + OTHER:
            out[name] = sims[name] - BONUS
    return out


def nearest(word: str, objects: list[ObjectInfo]) -> list[ObjectInfo]:
    """The objects whose colour is the one ``word`` names (the nearest, and those as near), or []
    when none is near it."""
    dist = {o.name: distance(word, o.color) for o in objects if o.color}
    dist = {n: d for n, d in dist.items() if d is not None}
    if not dist or min(dist.values()) > NEAREST_MAX:
        return []
    best = min(dist.values())
    return [o for o in objects if o.name in dist and dist[o.name] <= best + SAME]
