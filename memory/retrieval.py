"""Reads of the knowledge base: listing, free-text search, and retrieval for a task or a skill.

Scores are cosine similarities; :meth:`_Retrieval.retrieve_for_skill` says how text and visual
similarity are combined, and the thresholds (``memory.plan_threshold``, ``memory.skill_threshold``)
keep knowledge from transferring to unrelated tasks and objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from memory.database import _vec
from memory.indexes import TEXT_INDEX, _Indexes
from memory.item import KINDS, KnowledgeItem
from robot_agent.errors import KnowledgeBaseError

Hit = tuple[KnowledgeItem, float]


class _Retrieval(_Indexes):
    """Listing, search and retrieval (the agent's and the operator's reads)."""

    def list(
        self,
        kind: str | None = None,
        skill: str | None = None,
        include_superseded: bool = False,
        category: str | None = None,
        task_family: str | None = None,
    ) -> list[KnowledgeItem]:
        """Items, most recently updated first.

        Args:
            kind: ``"plan"`` or ``"skill"``.
            skill: only skill items of this skill.
            include_superseded: also the history.
            category: items about this object category (``object_category`` or one of
                ``object_categories``).
            task_family: items of this task family.
        """
        if kind is not None and kind not in KINDS:
            raise KnowledgeBaseError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        q = "SELECT data FROM items WHERE 1=1"
        args: list[Any] = []
        for col, val in (("kind", kind), ("skill", skill)):
            if val:
                q += f" AND {col}=?"
                args.append(val)
        if not include_superseded:
            q += " AND superseded_by IS NULL"
        q += " ORDER BY updated DESC, rid DESC"
        with self._mutex:
            self._check_open()
            out = [self._item(r[0]) for r in self._sql(q, args)]
        if category:
            out = [
                i
                for i in out
                if i.scope.get("object_category") == category or category in (i.scope.get("object_categories") or [])
            ]
        if task_family:
            out = [i for i in out if i.scope.get("task_family") == task_family]
        return out

    def __len__(self) -> int:
        """Number of active (not superseded) items."""
        with self._mutex:
            return len(self._active)

    def _by_rids(self, rids: Sequence[int]) -> dict[int, KnowledgeItem]:
        if not len(rids):
            return {}
        marks = ",".join("?" * len(rids))
        rows = self._sql(
            f"SELECT rid, data FROM items WHERE superseded_by IS NULL AND rid IN ({marks})",  # noqa: S608 - fixed SQL text and ? placeholders only
            [int(r) for r in rids],
        )
        return {rid: self._item(d) for rid, d in rows}

    def search(self, text: str, k: int = 10, kind: str | None = None) -> list[Hit]:
        """Free-text search over active items (the operator's ``kb search``), best first, no threshold."""
        with self._mutex:
            self._check_open()
            return self.search_embedding(self._embed_query(text), k, kind)

    def search_embedding(self, vector: np.ndarray, k: int = 10, kind: str | None = None) -> list[Hit]:
        """Like :meth:`search`, for an already-embedded query (a unit vector of the text model)."""
        if kind is not None and kind not in KINDS:
            raise KnowledgeBaseError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        q = self._checked(vector, self.text.dim, "query vector")[0]
        with self._mutex:
            self._check_open()
            hits: list[tuple[int, float]] = []
            for want, name in TEXT_INDEX.items():
                if kind in (None, want):
                    hits += self._search(name, q, k, lambda r, w=want: self._active.get(r, ("",))[0] == w)
            hits.sort(key=lambda t: -t[1])
            hits = hits[:k]
            items = self._by_rids([r for r, _ in hits])
            return [(items[r], s) for r, s in hits if r in items]

    def retrieve_for_task(self, task: str, k: int = 5, also: Sequence[str] = ()) -> list[Hit]:
        """Plan knowledge for a task, best first.

        Args:
            task: the operator's task sentence.
            k: at most this many items.
            also: more texts for the same task (e.g. the task written with object categories,
                :func:`robot_agent.distill.task_queries`); an item's score is its best cosine
                over ``task`` and these.

        Returns:
            (item, cosine similarity of the task and the item's rule + task family), only
            items at or above ``memory.plan_threshold``.
        """
        with self._mutex:
            self._check_open()
            best: dict[int, float] = {}
            for text in dict.fromkeys([task, *also]):
                q = self._embed_query(text)
                for r, s in self._search("plan_text", q, k + 4, lambda r: self._active.get(r, ("",))[0] == "plan"):
                    best[r] = max(s, best.get(r, -1.0))
            hits = sorted(best.items(), key=lambda rs: -rs[1])
            hits = [(r, s) for r, s in hits if s >= self.cfg.plan_threshold]
            items = self._by_rids([r for r, _ in hits])
            # retired items (see KnowledgeBase.record_outcome) are never retrieved
            return [(items[r], s) for r, s in hits if r in items and items[r].status != "retired"][:k]

    def retrieve_for_skill(
        self,
        skill: str,
        object_description: str,
        image: np.ndarray | None = None,
        k: int = 3,
        category: str | None = None,
    ) -> list[Hit]:
        """Skill knowledge for one skill on one object, best first.

        Only items of the same skill are considered (DROC: knowledge of opening is not
        knowledge of placing); with ``category``, only items about that object category.
        Each candidate is scored

        ``score = (w_t * s_text + w_i * s_image) / (w_t + w_i)`` when the query and the item
        both have an image embedding (and ``w_i > 0``), else ``score = s_text``,

        where ``s_text`` is the cosine of "<skill> the <object description>" and the
        item's "<skill> the <its object description>", ``s_image`` the cosine of the two
        crops, ``w_t``/``w_i`` are ``memory.text_weight``/``memory.image_weight``. Items
        under ``memory.skill_threshold`` are not returned, so knowledge does not transfer
        to unrelated objects. Candidates are the best text matches and the best visual
        matches; each is then scored exactly from its stored embeddings.

        Args:
            skill: the skill about to run.
            object_description: the object in words (``ObjectInfo.description()``).
            image: the object's (H, W, 3) uint8 crop, or None.
            k: at most this many items.
            category: restrict to this object category (None: any).

        Returns:
            (item, score) pairs.
        """
        with self._mutex:
            self._check_open()

            def accept(r: int) -> bool:
                a = self._active.get(r)
                return a is not None and a[0] == "skill" and a[1] == skill and (category is None or a[2] == category)

            qt = self._embed_query(f"{skill} the {object_description}")
            qi = None
            if image is not None and self.image is not None and self.cfg.image_weight > 0:
                qi = self._checked(self._call_embedder(self.image, [image]), self.image.dim, "image embedder")[0]
            # Text-only: the index scores are the final scores. With an image, the visual
            # score can reorder, so take more candidates from both indexes and rescore them.
            n_cand = k + 4 if qi is None else max(4 * k, 32)  # a few spare: retired items are dropped below
            text_hits = self._search("skill_text", qt, n_cand, accept)
            if qi is None:
                scored = [(r, s) for r, s in text_hits if s >= self.cfg.skill_threshold]
            else:
                cands = {r for r, _ in text_hits} | {r for r, _ in self._search("skill_image", qi, n_cand, accept)}
                scored = self._combined(sorted(cands), qt, qi)
                scored = [(r, s) for r, s in scored if s >= self.cfg.skill_threshold]
            scored.sort(key=lambda t: -t[1])
            items = self._by_rids([r for r, _ in scored])
            return [(items[r], s) for r, s in scored if r in items and items[r].status != "retired"][:k]

    def _combined(self, rids: Sequence[int], qt: np.ndarray, qi: np.ndarray) -> list[tuple[int, float]]:
        """The documented text + visual score of each candidate, from its stored embeddings."""
        if not rids:
            return []
        marks = ",".join("?" * len(rids))
        rows = self._sql(
            f"SELECT rid, text_emb, image_emb, image_model FROM items WHERE rid IN ({marks})",  # noqa: S608 - fixed SQL text and ? placeholders only
            list(rids),
        )
        wt, wi = float(self.cfg.text_weight), float(self.cfg.image_weight)
        out = []
        for rid, tblob, iblob, imodel in rows:
            tv = _vec(tblob, self.text.dim)
            if tv is None:
                continue
            score = float(np.dot(qt, tv))
            iv = _vec(iblob, self.image.dim) if self.image is not None and imodel == self.image.name else None
            if iv is not None:
                score = (wt * score + wi * float(np.dot(qi, iv))) / (wt + wi)
            out.append((int(rid), score))
        return out
