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
from typing import Any

from robot_agent.language import scene_words as sw
from skills.types import ObjectInfo

_PLACE = re.compile(r"^(?P<head>.*?)\s+(?P<o>(?:the|a|an|that|this|those|these|all|every|both|my|your|each)\b.+?)\s+"
                    r"(?:back\s+|away\s+|down\s+|over\s+)?(?P<p>into|inside of|inside|in|onto|on top of|on|over to|"
                    r"to|at)\s+(?P<t>(?:the|a|an|that|this|my|your)\b.+?)\W*$")
_PART = re.compile(r"\b(?:by|at|from|on|with)\s+(?:the|its|their|that|this)\s+(?P<p>[a-z][a-z ]{1,30}?)"
                   r"(?:\s+(?:instead|please|this time|part|bit))?\W*$")
#: weight of the grounded phrases against the whole-sentence score
SLOT_WEIGHT = 0.5


def _ground(phrase: str, options: Sequence[tuple[str, list[str]]], scorer: Any) -> dict[str, float]:
    """Similarity of ``phrase`` to each option (best over the option's phrases)."""
    sentences = [p for _, ps in options for p in ps]
    q = scorer.query(phrase)
    flat = scorer.scores(q, sentences)
    out: dict[str, float] = {}
    i = 0
    for name, ps in options:
        out[name] = float(flat[i:i + len(ps)].max())
        i += len(ps)
    return out


def placement(text: str, objects: Sequence[ObjectInfo], scorer: Any) -> tuple[dict[str, float], dict[str, float]] | None:
    """For "VERB <object> <in|on|into...> <place>": similarity of each movable object to the
    object phrase and of each receptacle to the place phrase; None without that structure."""
    m = _PLACE.match(text.lower().strip())
    if m is None:
        return None
    movable = [(o.name, [f"the {p}" for p in sw.phrases(o, objects)]) for o in sw.graspable(objects)]
    places = [(o.name, [f"the {p}" for p in sw.phrases(o, objects)]) for o in sw.receptacles(objects)]
    if not movable or not places:
        return None
    return _ground(m.group("o"), movable, scorer), _ground(m.group("t"), places, scorer)


def rescore_tasks(text: str, objects: Sequence[ObjectInfo], cands: Sequence[Any], scores: list[float],
                  scorer: Any) -> list[float]:
    """Task scores with the placement structure's grounded phrases mixed in."""
    found = placement(text, objects, scorer)
    if found is None:
        return scores
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


def rescore_parts(text: str, cands: Sequence[Any], scores: list[float], scorer: Any) -> list[float]:
    """Grasp-region scores with the part named after "by the" grounded on its own."""
    m = _PART.search(text.lower())
    idx = [i for i, c in enumerate(cands) if c.family == "grasp"]
    if m is None or not idx:
        return scores
    options = [(cands[i].value, [f"the {cands[i].value}"] + [w for w in sw.PART_WORDS.get(cands[i].value, ())])
               for i in idx]
    sims = _ground(f"the {m.group('p')}", options, scorer)
    out = list(scores)
    best = max(sims.values())
    for i in idx:
        out[i] = scores[i] + SLOT_WEIGHT * (sims[cands[i].value] - best)
    return out
