"""The FAISS indexes of the knowledge base: build, load and reconcile with SQLite, save, search.

Each index holds the vectors of the active items of one kind (plan, skill and phrase text, skill
crops), with the SQLite row id as its id. An index file is derived data: at open it is checked
against the checksum SQLite recorded, rebuilt when missing, corrupt or of the wrong kind, and
caught up when it lags behind the database. Up to ``memory.approx_above`` items an index is exact
(inner product), above it an inverted file tuned by measurement at build (:mod:`memory.ann`).
Deletes and edits remove the old vector from either kind at once. The embedder calls that make
query and item vectors live here too.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from memory import ann
from memory.database import _SQL_CHUNK, DB_NAME, _Database, _vec
from memory.item import KnowledgeItem
from robot_agent.errors import KnowledgeBaseError
from robot_agent.fsutil import atomic_write

log = logging.getLogger("memory.store")  # the knowledge base logs under one name

INDEXES = ("plan_text", "skill_text", "phrase_text", "skill_image")
#: the text index each kind of item lives in
TEXT_INDEX = {"plan": "plan_text", "skill": "skill_text", "phrase": "phrase_text"}
#: a filtered search that would need more candidates than this scores the candidates exactly
MAX_FETCH = 4096


class _Indexes(_Database):
    """The FAISS side: which index holds what, its lifecycle, filtered search, and embedding."""

    def _index_names(self) -> tuple[str, ...]:
        # Without an image embedder the image index is neither loaded nor rewritten: its
        # file stays as it is for the next run that has one.
        return INDEXES if self.image is not None else tuple(n for n in INDEXES if n != "skill_image")

    def _where(self, name: str) -> tuple[str, list[Any]]:
        # Indexes hold active items only; superseded ones are history, found by id.
        if name == "plan_text":
            return "kind='plan' AND superseded_by IS NULL", []
        if name == "skill_text":
            return "kind='skill' AND superseded_by IS NULL", []
        if name == "phrase_text":
            return "kind='phrase' AND superseded_by IS NULL", []
        return (
            "kind='skill' AND superseded_by IS NULL AND image_emb IS NOT NULL AND image_model=?",
            [self._image_name()],
        )

    def _image_name(self) -> str:
        return self.image.name if self.image is not None else ""

    def _column(self, name: str) -> str:
        return "image_emb" if name == "skill_image" else "text_emb"

    def _dim(self, name: str) -> int:
        return self.image.dim if name == "skill_image" and self.image is not None else self.text.dim

    def _rids(self, name: str) -> np.ndarray:
        where, args = self._where(name)
        rows = self._sql(f"SELECT rid FROM items WHERE {where} ORDER BY rid", args)  # noqa: S608 - fixed SQL text and ? placeholders only
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _vectors(self, name: str, rids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of one index's items (all, or the given rids) from SQLite."""
        where, args = self._where(name)
        col, dim = self._column(name), self._dim(name)
        chunks: list[list[Any]] = (
            [[None]]
            if rids is None
            else [list(map(int, rids[i : i + _SQL_CHUNK])) for i in range(0, len(rids), _SQL_CHUNK)]
        )
        ids: list[int] = []
        vecs: list[np.ndarray] = []
        for chunk in chunks:
            q, a = f"SELECT rid, {col} FROM items WHERE {where}", list(args)  # noqa: S608 - fixed SQL text and ? placeholders only
            if rids is not None:
                q += f" AND rid IN ({','.join('?' * len(chunk))})"
                a += chunk
            for rid, blob in self._sql(q + " ORDER BY rid", a):
                v = _vec(blob, dim)
                if v is not None:
                    ids.append(rid)
                    vecs.append(v)
        return (np.asarray(ids, dtype=np.int64), np.vstack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32))

    def _approximate(self, n: int) -> bool:
        return n > self.cfg.approx_above

    def _is_approximate(self, index: Any) -> bool:
        return ann.kind(self.faiss, index) != "flat"

    def _build(self, name: str) -> Any:
        """Exact inner-product search up to ``approx_above`` items, IVF above; ids = rids."""
        ids, vecs = self._vectors(name)
        if self._approximate(len(ids)):
            index, info = ann.build_ivf(self.faiss, vecs, ids)
            self._index_info[name] = info
            log.info("%s: %s: built IVF index %s", self.path, name, info)
            return index
        index = self.faiss.IndexIDMap2(self.faiss.IndexFlatIP(self._dim(name)))
        if len(ids):
            index.add_with_ids(vecs, ids)
        self._index_info.pop(name, None)
        return index

    def _wrong_kind(self, index: Any, n: int) -> str:
        """Why a loaded index must be rebuilt for ``n`` items ("" when it suits them)."""
        have, want = ann.kind(self.faiss, index), ("ivf" if self._approximate(n) else "flat")
        if have != want:
            return f"{n} items, switching from {have} to {want} search"
        if have == "ivf" and ann.nlist_for(n) >= ann.REBUILD_GROWTH * index.nlist:
            return f"{n} items in {index.nlist} lists (built for fewer); rebuilding"
        return ""

    def index_stats(self, name: str) -> dict[str, Any]:
        """Size, kind and recall@10 of one index: exact for flat, as measured at build for IVF."""
        index = self._indexes[name]
        out: dict[str, Any] = {"vectors": int(index.ntotal), "type": ann.kind(self.faiss, index)}
        if out["type"] == "flat":
            out["recall_at_10"] = 1.0
        elif out["type"] == "ivf":
            info = self._index_info.get(name) or {}
            out.update(nlist=int(index.nlist), nprobe=int(index.nprobe))
            out["recall_at_10"] = info.get("recall_at_10")  # None: not recorded (built elsewhere)
            for key in ("recall_queries", "measured_on"):
                if key in info:
                    out[key] = info[key]
        return out

    def _report(self, msg: str) -> None:
        if self._writer_running:
            log.info("%s: %s (a writer is running; repaired in memory only)", self.path, msg)
            return
        log.warning("%s: %s", self.path, msg)
        self.open_report.append(msg)

    def _load_index(self, name: str) -> Any:
        """Load an index file and make it agree with SQLite, or rebuild it."""
        file = self.path / f"{name}.faiss"
        meta = self._meta()
        db_rids = self._rids(name)
        index, why = None, ""
        if file.exists():
            try:
                data = file.read_bytes()
            except OSError as exc:
                data, why = b"", f"unreadable ({exc})"
            if not why and meta.get(f"{name}.sha256") != hashlib.sha256(data).hexdigest():
                why = "checksum mismatch (truncated, corrupt, or not the file this database saved)"
            if not why:
                try:
                    index = self.faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
                except RuntimeError as exc:
                    why = f"unreadable ({str(exc).splitlines()[0]})"
                else:
                    if ann.kind(self.faiss, index) == "other":
                        why, index = "not a knowledge-base index", None
                    elif index.d != self._dim(name):
                        why, index = f"dimension {index.d}, expected {self._dim(name)}", None
                    elif name == "skill_image" and meta.get(f"{name}.model") != self._image_name():
                        log.info(
                            "%s: %s was made with %s; rebuilding for %s",
                            self.path,
                            file.name,
                            meta.get(f"{name}.model"),
                            self._image_name(),
                        )
                        index = None
        elif len(db_rids):
            why = "missing"
        if index is not None and (change := self._wrong_kind(index, len(db_rids))):
            log.info("%s: %s: %s", self.path, file.name, change)
            index = None
        if index is None:
            index = self._build(name)
            if why:
                self._report(f"{file.name}: {why}; rebuilt from {DB_NAME} ({index.ntotal} items)")
            if not self.read_only and (why or file.exists() or index.ntotal):
                self._dirty.add(name)
            return index
        # An intact file: add what was committed after it was saved, drop what was deleted.
        try:
            self._index_info[name] = json.loads(meta.get(f"{name}.info") or "{}")
        except ValueError:
            self._index_info[name] = {}
        have = ann.ids_of(self.faiss, index)
        missing = np.setdiff1d(db_rids, have, assume_unique=True)
        extra = np.setdiff1d(have, db_rids, assume_unique=True)
        if len(missing):
            ids, vecs = self._vectors(name, missing)
            if len(ids):
                index.add_with_ids(vecs, ids)
            self._report(
                f"{file.name}: {len(missing)} item(s) committed after the last save (the writer did not "
                f"close cleanly); added from {DB_NAME}"
            )
            self._dirty.add(name)
        if len(extra):
            index.remove_ids(extra)
            self._dirty.add(name)
        if self.read_only:
            self._dirty.discard(name)
        return index

    def _save_index(self, name: str) -> None:
        """Atomic write: temp file, fsync, rename, fsync the directory; checksum kept in SQLite."""
        index = self._indexes[name]
        data = self.faiss.serialize_index(index).tobytes()
        final = self.path / f"{name}.faiss"
        try:
            atomic_write(final, data)
        except OSError as exc:
            raise KnowledgeBaseError(
                f"{final}: could not save the index ({exc}); {DB_NAME} is intact and the "
                f"index will be rebuilt at the next open"
            ) from None
        rows = [(f"{name}.sha256", hashlib.sha256(data).hexdigest()), (f"{name}.count", str(index.ntotal))]
        if name == "skill_image" and self.image is not None:
            rows.append((f"{name}.model", self.image.name))
        rows.append((f"{name}.info", json.dumps(self._index_info.get(name, {}))))
        with self._tx() as cur:
            cur.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
        self._dirty.discard(name)

    def _save_all(self) -> None:
        for name in sorted(self._dirty):
            self._save_index(name)

    def _drop_from_indexes(self, rids: Sequence[int]) -> None:
        """Remove the vectors of deleted, edited or superseded items from every index."""
        arr = np.asarray(list(rids), dtype=np.int64)
        for name, index in self._indexes.items():
            if len(arr) and index.remove_ids(arr):
                self._dirty.add(name)

    def _index_add(self, added: Sequence[tuple[int, KnowledgeItem, np.ndarray, np.ndarray | None]]) -> None:
        groups: dict[str, tuple[list[int], list[np.ndarray]]] = {}
        for rid, item, t, i in added:
            if item.superseded_by is not None:
                continue  # history (an import of superseded items): stored, never retrieved
            name = TEXT_INDEX[item.kind]
            groups.setdefault(name, ([], []))[0].append(rid)
            groups[name][1].append(t)
            if i is not None and "skill_image" in self._indexes:
                groups.setdefault("skill_image", ([], []))[0].append(rid)
                groups["skill_image"][1].append(i)
        for name, (rids, vecs) in groups.items():
            self._indexes[name].add_with_ids(np.vstack(vecs).astype(np.float32), np.asarray(rids, dtype=np.int64))
            self._dirty.add(name)

    # -- search -------------------------------------------------------------------------------
    def _search(self, name: str, query: np.ndarray, k: int, accept: Callable[[int], bool]) -> list[tuple[int, float]]:
        """Top ``k`` accepted (rid, cosine) of one index, fetching more while filters reject."""
        index = self._indexes.get(name)
        if index is None or index.ntotal == 0 or k <= 0:
            return []
        n = int(index.ntotal)
        fetch = min(n, max(4 * k, 32))
        q = np.ascontiguousarray(query, dtype=np.float32)[None, :]
        ivf = isinstance(index, self.faiss.IndexIVF)
        while True:
            if fetch > MAX_FETCH and ivf:
                return self._exact(name, query, k, accept)
            if ivf:  # more candidates than the tuned lists hold on average: probe more lists
                per_list = max(index.ntotal / index.nlist, 1.0)
                nprobe = min(index.nlist, max(index.nprobe, int(np.ceil(2 * fetch / per_list))))
                scores, ids = index.search(q, fetch, params=self.faiss.SearchParametersIVF(nprobe=nprobe))
            else:
                scores, ids = index.search(q, fetch)
            out = [(int(r), float(s)) for r, s in zip(ids[0], scores[0], strict=True) if r >= 0 and accept(int(r))]
            if len(out) >= k or fetch >= n:
                return out[:k]
            fetch = min(n, fetch * 4)

    def _exact(self, name: str, query: np.ndarray, k: int, accept: Callable[[int], bool]) -> list[tuple[int, float]]:
        """Exact scores over the accepted active items (a very selective filter on a large index)."""
        rids = [r for r in self._active if accept(r)]
        ids, vecs = self._vectors(name, sorted(rids))
        if not len(ids):
            return []
        scores = vecs @ np.asarray(query, dtype=np.float32)
        top = np.argsort(-scores)[:k]
        return [(int(ids[i]), float(scores[i])) for i in top]

    # -- embeddings ---------------------------------------------------------------------------
    def _embed_query(self, text: str) -> np.ndarray:
        """Query embedding, cached: the agent asks the same questions again and again."""
        v = self._query_cache.get(text)
        if v is None:
            v = self._checked(self._call_embedder(self.text, [text]), self.text.dim, "text embedder")[0]
            self._query_cache[text] = v
            if len(self._query_cache) > 512:
                self._query_cache.popitem(last=False)
        else:
            self._query_cache.move_to_end(text)
        return v

    def _call_embedder(self, embedder: Any, inputs: Sequence[Any]) -> Any:
        """Run an embedder; any fault in it becomes a KnowledgeBaseError (nothing is written then)."""
        try:
            return embedder.embed(inputs)
        except KnowledgeBaseError:
            raise
        except Exception as exc:  # noqa: BLE001 - a model fault of any kind: report it, change nothing
            raise KnowledgeBaseError(
                f"{self.path}: the {getattr(embedder, 'name', 'embedding')} embedder failed "
                f"({type(exc).__name__}: {exc}); nothing was changed"
            ) from None

    @staticmethod
    def _checked(vecs: Any, dim: int, what: str) -> np.ndarray:
        arr = np.asarray(vecs, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != dim or not np.all(np.isfinite(arr)):
            raise KnowledgeBaseError(f"{what}: expected finite {dim}-d vectors, got shape {arr.shape}")
        return arr
