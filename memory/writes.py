"""Writes to the knowledge base: add (merging same-scope items), update, delete, outcomes.

Every write is one SQLite transaction; the in-memory views (the active-item map, the indexes)
change only after it commits, so a rolled-back row id is never left in them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from memory.database import _SQL_CHUNK, _blob, _insert, _vec
from memory.indexes import _Indexes
from memory.item import KnowledgeItem
from robot_agent.errors import KnowledgeBaseError


class _Writes(_Indexes):
    """Adding, merging, editing and deleting items, and counting their outcomes."""

    def add(
        self,
        item: KnowledgeItem | Mapping[str, Any],
        image: np.ndarray | None = None,
        *,
        merge: bool = True,
        text_emb: np.ndarray | None = None,
        image_emb: np.ndarray | None = None,
    ) -> KnowledgeItem:
        """Store an item (with the object's crop for skill items); durable when it returns.

        With ``merge`` (default), active items of the same scope are superseded (see
        :meth:`KnowledgeItem.merge_key`, and near-duplicate plan rules by meaning, see
        ``memory.merge_threshold``): they stay in the store with ``superseded_by`` set,
        their provenance is carried into the new item, and for skill items the parameters
        the new item does not set are carried over (a newer correction wins). Use and
        success counts are carried only from items the new one agrees with: the record of
        a contradicted rule is history, not evidence for its replacement.

        Args:
            item: the item (not changed; the stored copy is returned) or its dict.
            image: an (H, W, 3) uint8 crop of the object, for skill items.
            merge: supersede same-scope items (False: store as is, e.g. for imports).
            text_emb / image_emb: precomputed embeddings (benchmarks, imports).

        Returns:
            The stored item, as retrieval will return it.

        Raises:
            KnowledgeBaseError: an invalid item, an existing id, a read-only store, or a
                failed write (nothing is stored then).
        """
        return self.add_many(
            [item],
            [image],
            merge=merge,
            text_embs=None if text_emb is None else [text_emb],
            image_embs=None if image_emb is None else [image_emb],
        )[0]

    def add_many(
        self,
        items: Sequence[KnowledgeItem | Mapping[str, Any]],
        images: Sequence[np.ndarray | None] | None = None,
        *,
        merge: bool = True,
        text_embs: Sequence[np.ndarray] | np.ndarray | None = None,
        image_embs: Sequence[np.ndarray | None] | None = None,
    ) -> list[KnowledgeItem]:
        """Store several items in one transaction (all or nothing); see :meth:`add`."""
        with self._mutex:
            self._check_open()
            if self.read_only:
                raise KnowledgeBaseError(f"{self.path}: opened read-only; open it for writing to change it")
            batch = [i.copy() if isinstance(i, KnowledgeItem) else KnowledgeItem.from_dict(i) for i in items]
            if not batch:
                return []
            for name, seq in (("images", images), ("text_embs", text_embs), ("image_embs", image_embs)):
                if seq is not None and len(seq) != len(batch):
                    raise KnowledgeBaseError(f"{name} has {len(seq)} entries for {len(batch)} items")
            temb = (
                self._checked(text_embs, self.text.dim, "text_emb")
                if text_embs is not None
                else self._checked(
                    self._call_embedder(self.text, [i.embedding_text() for i in batch]), self.text.dim, "text embedder"
                )
            )
            iemb: list[np.ndarray | None] = [None] * len(batch)
            if self.image is not None:
                if image_embs is not None:
                    for n, v in enumerate(image_embs):
                        if v is not None and batch[n].kind == "skill":
                            iemb[n] = self._checked(v, self.image.dim, "image_emb")[0]
                elif images is not None:
                    todo = [n for n, img in enumerate(images) if img is not None and batch[n].kind == "skill"]
                    if todo:
                        vecs = self._checked(
                            self._call_embedder(self.image, [images[n] for n in todo]), self.image.dim, "image embedder"
                        )
                        for n, v in zip(todo, vecs, strict=True):
                            iemb[n] = v
            self._check_new_ids([i.id for i in batch], "this batch")
            added: list[tuple[int, KnowledgeItem, np.ndarray, np.ndarray | None]] = []
            superseded: list[int] = []
            with self._tx() as cur:
                pending: list[tuple[KnowledgeItem, np.ndarray]] = []
                in_batch: dict[int, KnowledgeItem] = {}
                for item, t, i in zip(batch, temb, iemb, strict=True):
                    olds = self._same_scope(cur, item, t, pending, superseded) if merge else []
                    if olds:
                        self._absorb(item, [o for _, o in olds])
                    rid = _insert(
                        cur,
                        item,
                        _blob(t),
                        _blob(i),
                        self.image.name if (self.image is not None and i is not None) else None,
                    )
                    for old_rid, old in olds:
                        old.superseded_by = item.id
                        cur.execute(
                            "UPDATE items SET superseded_by=?, data=? WHERE rid=?",
                            (item.id, json.dumps(old.to_dict()), old_rid),
                        )
                        superseded.append(old_rid)
                        if old_rid in in_batch:  # superseded by a later item of the same batch
                            in_batch[old_rid].superseded_by = item.id
                    added.append((rid, item, t, i))
                    in_batch[rid] = item
                    pending.append((item, t))
            # Committed: now the in-memory views (never before: a rolled-back rid could be reused).
            for rid in superseded:
                self._active.pop(rid, None)
            self._drop_from_indexes(superseded)
            for rid, item, _, _ in added:
                self._activate(rid, item)
            self._index_add(added)
            return [item for _, item, _, _ in added]

    def _check_new_ids(self, ids: Sequence[str], where: str) -> None:
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                raise KnowledgeBaseError(f"{where}: item {i} appears twice")
            seen.add(i)
        for s in range(0, len(ids), _SQL_CHUNK):
            chunk = list(ids[s : s + _SQL_CHUNK])
            clash = self._one(f"SELECT id FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk)  # noqa: S608 - fixed SQL text and ? placeholders only
            if clash:
                raise KnowledgeBaseError(
                    f"{where}: item {clash[0]} already exists in {self.path} (update() changes an item)"
                )

    def _same_scope(
        self,
        cur: sqlite3.Cursor,
        item: KnowledgeItem,
        temb: np.ndarray,
        pending: Sequence[tuple[KnowledgeItem, np.ndarray]],
        superseded: Sequence[int],
    ) -> list[tuple[int, KnowledgeItem]]:
        """Active items the new one supersedes: same merge key, or a plan rule of the same meaning."""
        if item.superseded_by is not None:
            return []
        found = {
            rid: self._item(data)
            for rid, data in cur.execute(
                "SELECT rid, data FROM items WHERE merge_key=? AND superseded_by IS NULL", (item.merge_key(),)
            )
        }
        if _free_text_plan(item) and self.cfg.merge_threshold < 1.0:
            # Near-duplicates: free-text rules of the same task family whose *rule texts* are
            # at least merge_threshold alike (the shared family words would inflate the
            # indexed similarity). The index proposes, the rule texts decide.
            family = item.scope.get("task_family", "")
            gone = set(superseded)
            cands: dict[int, KnowledgeItem] = {}
            proposed = [
                r
                for r, s in self._search(
                    "plan_text", temb, 16, lambda r: r not in gone and self._active.get(r, ("",))[0] == "plan"
                )
                if s >= self.cfg.merge_threshold - 0.2
            ]
            for p, _ in pending:  # earlier items of this batch are not in the index yet
                row = cur.execute("SELECT rid FROM items WHERE id=?", (p.id,)).fetchone()
                if row is not None:
                    proposed.append(row[0])
            for rid in proposed:
                row = cur.execute("SELECT data FROM items WHERE rid=? AND superseded_by IS NULL", (rid,)).fetchone()
                if row is None or rid in found:
                    continue
                other = self._item(row[0])
                if _free_text_plan(other) and other.scope.get("task_family", "") == family:
                    cands[rid] = other
            if cands:
                rules = [item.rule] + [o.rule for o in cands.values()]
                vecs = self._checked(self._call_embedder(self.text, rules), self.text.dim, "text embedder")
                for (rid, other), v in zip(cands.items(), vecs[1:], strict=True):
                    if float(np.dot(v, vecs[0])) >= self.cfg.merge_threshold:
                        found[rid] = other
        return sorted(found.items(), key=lambda kv: kv[0])

    @staticmethod
    def _absorb(item: KnowledgeItem, olds: Sequence[KnowledgeItem]) -> None:
        """Fold superseded items into the new one (oldest first, so newer values win)."""
        carried: dict[str, Any] = {}
        prov: dict[str, list[Any]] = {}
        for old in olds:
            if item.kind == "skill":
                carried.update(old.parameters)
            for k, v in old.provenance.items():
                prov.setdefault(k, []).extend(v if isinstance(v, list) else [v])
            if item.agrees_with(old):
                # the same knowledge said again: one item, its record carried over
                item.use_count += old.use_count
                item.success_count += old.success_count
                item.corrected_count += old.corrected_count
        if item.kind == "skill":
            extra = {k: v for k, v in carried.items() if k not in item.parameters}
            if extra:
                item.parameters = {**item.parameters, **extra}
                item.rule = _skill_rule(item)
        for k, v in item.provenance.items():
            prov.setdefault(k, []).extend(v if isinstance(v, list) else [v])
        prov["supersedes"] = prov.get("supersedes", []) + [o.id for o in olds]
        item.provenance = {k: _dedupe(v) for k, v in prov.items()}
        item.updated = time.time()
        item.validate()

    def merge(self, item: KnowledgeItem | Mapping[str, Any], image: np.ndarray | None = None) -> KnowledgeItem:
        """Add ``item``, superseding same-scope items: an alias of ``add(item, image, merge=True)``."""
        return self.add(item, image, merge=True)

    def update(self, item_id: str, **fields: Any) -> KnowledgeItem:
        """Change fields of an item (an operator's edit); the text is embedded again.

        Args:
            item_id: the item.
            **fields: any of ``rule``, ``scope``, ``parameters``, ``provenance``
                (each replaces the whole field).

        Returns:
            The updated item.

        Raises:
            KnowledgeBaseError: an unknown item or field, or a value that does not validate
                (nothing changes then).
        """
        with self._mutex:
            self._check_open()
            item = self.get(item_id)
            data = item.to_dict()
            for k, v in fields.items():
                if k not in ("rule", "scope", "parameters", "provenance"):
                    raise KnowledgeBaseError(f"cannot edit {k!r}; editable: rule, scope, parameters, provenance")
                data[k] = v
            data["updated"] = time.time()
            new = KnowledgeItem.from_dict(data)
            if new.kind != item.kind:
                raise KnowledgeBaseError("the kind of an item cannot change")
            temb = self._checked(
                self._call_embedder(self.text, [new.embedding_text()]), self.text.dim, "text embedder"
            )[0]
            with self._tx() as cur:
                old_rid, iblob, imodel = cur.execute(
                    "SELECT rid, image_emb, image_model FROM items WHERE id=?", (item_id,)
                ).fetchone()
                # A new rid for the new text: the old vector can never be mistaken for it.
                cur.execute("DELETE FROM items WHERE rid=?", (old_rid,))
                rid = _insert(cur, new, _blob(temb), iblob, imodel)
            self._active.pop(old_rid, None)
            self._drop_from_indexes([old_rid])
            iemb = None
            if self.image is not None and imodel == self.image.name:
                iemb = _vec(iblob, self.image.dim)
            self._activate(rid, new)
            self._index_add([(rid, new, temb, iemb)])
            return new

    def delete(self, item_id: str) -> None:
        """Remove an item for good (items it superseded stay superseded).

        Raises:
            KnowledgeBaseError: no such item.
        """
        with self._mutex:
            self._check_open()
            with self._tx() as cur:
                row = cur.execute("SELECT rid FROM items WHERE id=?", (item_id,)).fetchone()
                if row is None:
                    raise KnowledgeBaseError(f"no knowledge item {item_id!r} in {self.path}")
                cur.execute("DELETE FROM items WHERE rid=?", (row[0],))
            self._active.pop(row[0], None)
            self._drop_from_indexes([row[0]])

    def record_outcome(self, item_id: str, success: bool, *, corrected: bool = False) -> KnowledgeItem:
        """Count one use of an item, and whether the skill or plan then succeeded.

        With ``corrected`` the operator corrected the very decision the item made (a parameter
        value it set, a destination it chose): the use counts as failed, ``corrected_count``
        grows, and the item is demoted, or retired when it was demoted already (two corrected
        uses with no success in between). A successful use of a demoted item makes it active
        again. A retired item is never retrieved; :meth:`restore` brings it back.

        Returns:
            The item with its new counts and status.
        """
        with self._mutex:
            self._check_open()
            with self._tx() as cur:
                item = self._stored(cur, item_id)
                item.use_count += 1
                if corrected:
                    item.corrected_count += 1
                    item.status = "retired" if item.status != "active" else "demoted"
                elif success:
                    item.success_count += 1
                    if item.status == "demoted":
                        item.status = "active"
                item.updated = time.time()
                cur.execute(
                    "UPDATE items SET data=?, updated=? WHERE id=?", (json.dumps(item.to_dict()), item.updated, item_id)
                )
            return item

    def _stored(self, cur: Any, item_id: str) -> KnowledgeItem:
        """The item ``item_id`` read in the transaction of ``cur``.

        Raises:
            KnowledgeBaseError: no such item.
        """
        row = cur.execute("SELECT data FROM items WHERE id=?", (item_id,)).fetchone()
        if row is None:
            raise KnowledgeBaseError(f"no knowledge item {item_id!r} in {self.path}")
        return self._item(row[0])

    def restore(self, item_id: str) -> KnowledgeItem:
        """Make a demoted or retired item active again (the operator's undo of a retirement).

        Its counts stay (they are its history); the restore is noted in ``provenance.restored``.

        Raises:
            KnowledgeBaseError: no such item, or one superseded by a newer item (restore that
                one's replacement, or edit it, instead).
        """
        with self._mutex:
            self._check_open()
            with self._tx() as cur:
                item = self._stored(cur, item_id)
                if item.superseded_by is not None:
                    raise KnowledgeBaseError(
                        f"item {item_id} was superseded by {item.superseded_by}; restore works on retired items"
                    )
                item.provenance = {
                    **item.provenance,
                    "restored": list(item.provenance.get("restored", [])) + [{"from": item.status, "at": time.time()}],
                }
                item.status = "active"
                item.updated = time.time()
                cur.execute(
                    "UPDATE items SET data=?, updated=? WHERE id=?", (json.dumps(item.to_dict()), item.updated, item_id)
                )
            return item


def _free_text_plan(item: KnowledgeItem) -> bool:
    """A plan rule in words only (no structured constraint, not a raw-memory record)."""
    return (
        item.kind == "plan" and not item.scope.get("raw") and not isinstance(item.parameters.get("constraint"), Mapping)
    )


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _skill_rule(item: KnowledgeItem) -> str:
    params = ", ".join(f"{k}={v}" for k, v in item.parameters.items())
    return f"{item.scope.get('skill')} the {item.scope.get('object_category') or 'object'}: {params}"
