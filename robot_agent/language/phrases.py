"""The operator's own words, learned: an answered clarification becomes an exemplar.

When the robot asks "Do you mean: 1. grasp it by the handle, 2. grasp it by the rim?" about
"grab the mug by the loop" and the operator says "1", the utterance and its meaning are kept
in the knowledge base as a ``phrase`` item (listed by ``robot-agent kb list``, deleted like
any other item). Next time a similar utterance is scored against it as one more rendering of
that meaning, in any scene where the meaning exists: "the loop" is understood as the handle
afterwards. Meanings about objects are kept by category and colour, not by name, so they
carry over to other instances.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from skills.types import ObjectInfo

log = logging.getLogger(__name__)

#: families whose value names scene objects (kept as category + colour)
OBJECT_FAMILIES = {
    "swap_object",
    "swap_target",
    "avoid",
    "forbid",
    "order",
    "order_first",
    "step",
    "stack",
    "pick",
    "push",
    "open",
    "close",
    "away",
    "put",
}


def _obj_ref(name: str, objects: dict[str, ObjectInfo]) -> dict[str, str]:
    o = objects.get(name)
    return {} if o is None else {"category": o.category, "color": o.color}


def _matches(ref: dict[str, str], name: str, objects: dict[str, ObjectInfo]) -> bool:
    o = objects.get(name)
    if o is None or o.category != ref.get("category"):
        return False
    return (
        not ref.get("color")
        or o.color == ref["color"]
        or sum(1 for x in objects.values() if x.category == o.category) == 1
    )


class PhraseMemory:
    """Phrase exemplars in a knowledge base.

    Args:
        kb: a :class:`memory.KnowledgeBase` opened for writing.
        k: exemplars looked at per utterance.
    """

    def __init__(self, kb: Any, k: int = 5) -> None:
        self.kb = kb
        self.k = k

    def meaning(self, cand: Any, objects: Sequence[ObjectInfo]) -> dict[str, Any]:
        by = {o.name: o for o in objects}
        m: dict[str, Any] = {"family": cand.family, "what": cand.what, "label": cand.label}
        if cand.family in OBJECT_FAMILIES and cand.value:
            m["refs"] = [_obj_ref(n, by) for n in cand.value.split(">")]
        else:
            m["value"] = cand.value
        return m

    def learn(
        self,
        utterance: str,
        cand: Any,
        objects: Sequence[ObjectInfo],
        skill: str | None,
        object_category: str | None,
        episode_id: str = "",
    ) -> Any:
        """Keep ``utterance`` as meaning ``cand`` (a :class:`Candidate`); returns the stored item."""
        from memory.item import KnowledgeItem

        meaning = self.meaning(cand, objects)
        scope = {k: v for k, v in (("skill", skill), ("object_category", object_category)) if v}
        item = KnowledgeItem(
            "phrase",
            f'"{utterance.strip()}" means: {cand.label}',
            scope=scope,
            parameters={"utterance": utterance.strip(), "meaning": meaning},
            provenance={"corrections": [utterance.strip()], **({"episode_ids": [episode_id]} if episode_id else {})},
        )
        try:
            return self.kb.add(item)
        except Exception:  # noqa: BLE001 - a knowledge-base fault costs the lesson, not the task
            log.warning("could not keep the phrase %r", utterance, exc_info=True)
            return None

    def exemplars(self, query_vec: Any, what: str) -> list[tuple[str, dict[str, Any]]]:
        """(utterance, meaning) of the phrases nearest the utterance (no threshold: scored by the caller)."""
        try:
            hits = self.kb.search_embedding(query_vec, k=self.k, kind="phrase")
        except Exception:  # noqa: BLE001
            log.warning("phrase lookup failed", exc_info=True)
            return []
        return [
            (it.parameters["utterance"], it.parameters["meaning"])
            for it, _ in hits
            if it.parameters.get("meaning", {}).get("what", "correction") == what
        ]

    @staticmethod
    def applies(meaning: dict[str, Any], cand: Any, objects: Sequence[ObjectInfo]) -> bool:
        """Does a stored meaning name this candidate in this scene?"""
        if meaning.get("family") != cand.family:
            return False
        if "refs" not in meaning:
            return meaning.get("value") == cand.value
        by = {o.name: o for o in objects}
        names = cand.value.split(">") if cand.value else []
        refs = meaning["refs"]
        return len(names) == len(refs) and all(_matches(r, n, by) for r, n in zip(refs, names, strict=True))
