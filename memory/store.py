"""The knowledge base: FAISS indexes over a SQLite (WAL) store that holds every embedding.

Layout of a knowledge-base directory::

    kb.sqlite            items, their embeddings and metadata (the source of truth)
    plan_text.faiss      text index of plan items      } derived: rebuilt from kb.sqlite
    skill_text.faiss     text index of skill items     } whenever missing, stale or corrupt
    skill_image.faiss    image index of skill items    }
    writer.lock          held (flock) by the one process that may write

Guarantees:

* Every write is one SQLite transaction (WAL, synchronous=FULL): a process killed at any
  point loses nothing already committed, and never leaves a half item.
* Index files are written atomically (temp file, fsync, rename) with their checksum and
  item count recorded in SQLite; at open a missing, truncated, corrupt or stale index is
  detected, rebuilt from SQLite, and reported in the log and in ``open_report``.
* A database that is not a valid SQLite file gives a :class:`KnowledgeBaseError` naming the
  file; it is never overwritten.
* One writer at a time: a second process opening the same directory for writing gets
  :class:`KnowledgeBaseLockedError`. Read-only opens take no lock.
* The schema version is stored; a newer version is refused with a clear message.

Retrieval scores are cosine similarities. Skill retrieval (DROC: only from the same
kind of task) searches items of the same skill and combines
``score = (w_t * text + w_i * image) / (w_t + w_i)`` when both the query and the item
have an image embedding, else ``score = text``; items under the threshold are not returned.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from robot_agent.config import MemoryConfig
from robot_agent.deps import require
from robot_agent.errors import KnowledgeBaseError, KnowledgeBaseLockedError
from memory.embedders import ImageEmbedder, TextEmbedder
from memory.item import KINDS, KnowledgeItem

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
DB_NAME = "kb.sqlite"
LOCK_NAME = "writer.lock"
INDEXES = ("plan_text", "skill_text", "skill_image")


def _blob(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.asarray(v, dtype=np.float32).tobytes()


def _vec(b: bytes | None, dim: int) -> np.ndarray | None:
    if b is None:
        return None
    v = np.frombuffer(b, dtype=np.float32)
    return v if v.size == dim else None


class KnowledgeBase:
    """Distilled knowledge with text and visual retrieval.

    Args:
        path: the knowledge-base directory (created if missing, unless read-only).
        text_embedder: embeds rules and object descriptions.
        image_embedder: embeds object crops; None = text-only retrieval.
        config: weights, thresholds and the approximate-index size.
        read_only: open without the writer lock; writes raise.
    """

    def __init__(self, path: str | os.PathLike[str], text_embedder: TextEmbedder,
                 image_embedder: ImageEmbedder | None = None, config: MemoryConfig | None = None,
                 read_only: bool = False) -> None:
        self.faiss = require("faiss", "the knowledge base")
        self.path = Path(os.path.expanduser(str(path)))
        self.text = text_embedder
        self.image = image_embedder
        self.cfg = config or MemoryConfig()
        self.read_only = read_only
        self.open_report: list[str] = []
        self._lock_fd: int | None = None
        if read_only:
            if not (self.path / DB_NAME).exists():
                raise KnowledgeBaseError(f"{self.path}: no knowledge base here ({DB_NAME} missing)")
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()
        try:
            self._open_db()
            self._indexes: dict[str, Any] = {}
            self._dirty: set[str] = set()
            for name in INDEXES:
                self._indexes[name] = self._load_or_rebuild(name)
        except BaseException:
            self._release_lock()
            raise

    # -- lifecycle -----------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise KnowledgeBaseLockedError(
                f"{self.path}: the knowledge base is locked by another writer process "
                f"(open it read-only, or stop the other process)") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _open_db(self) -> None:
        db = self.path / DB_NAME
        uri = f"file:{db}?mode=ro" if self.read_only else f"file:{db}"
        try:
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=5000")
            if not self.read_only:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=FULL")
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise KnowledgeBaseError(f"{db}: not a usable knowledge-base database ({exc}); "
                                     f"it was left untouched") from None
        if not tables:
            if self.read_only:
                raise KnowledgeBaseError(f"{db}: empty database")
            self._create_schema()
        elif not {"meta", "items"} <= tables:
            raise KnowledgeBaseError(f"{db}: a SQLite file, but not a knowledge base (tables: {sorted(tables)}); "
                                     f"it was left untouched")
        meta = self._meta()
        version = int(meta.get("schema_version", "0") or 0)
        if version > SCHEMA_VERSION:
            raise KnowledgeBaseError(f"{db}: schema version {version} is newer than this robot_agent supports "
                                     f"({SCHEMA_VERSION}); upgrade robot_agent")
        if version < 1:
            raise KnowledgeBaseError(f"{db}: no schema version recorded; not a robot_agent knowledge base")
        dim = int(meta.get("text_dim", self.text.dim))
        if dim != self.text.dim or meta.get("text_model", self.text.name) != self.text.name:
            raise KnowledgeBaseError(
                f"{db}: built with text model {meta.get('text_model')} ({dim}-d) but {self.text.name} "
                f"({self.text.dim}-d) is configured; use the same model or rebuild the knowledge base")
        if self.image is not None and meta.get("image_model") not in (None, "", self.image.name) \
                and not self.read_only:
            log.warning("%s: image embeddings were made with %s, %s is configured: visual scores of old items "
                        "are ignored", db, meta.get("image_model"), self.image.name)

    def _create_schema(self) -> None:
        with self._tx() as cur:
            cur.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            cur.execute("CREATE TABLE items (rid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
                        "kind TEXT NOT NULL, skill TEXT, data TEXT NOT NULL, text_emb BLOB NOT NULL, "
                        "image_emb BLOB, image_model TEXT, superseded_by TEXT, updated REAL NOT NULL)")
            cur.execute("CREATE INDEX items_kind ON items(kind, skill)")
            rows = [("schema_version", str(SCHEMA_VERSION)), ("text_model", self.text.name),
                    ("text_dim", str(self.text.dim)), ("created", str(time.time())),
                    ("image_model", self.image.name if self.image else "")]
            cur.executemany("INSERT INTO meta VALUES (?, ?)", rows)

    def _tx(self):  # noqa: ANN202
        kb = self

        class _Tx:
            def __enter__(self) -> sqlite3.Cursor:
                if kb.read_only:
                    raise KnowledgeBaseError(f"{kb.path}: opened read-only")
                kb.db.execute("BEGIN IMMEDIATE")
                self.cur = kb.db.cursor()
                return self.cur

            def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
                if exc_type is None:
                    try:
                        kb.db.execute("COMMIT")
                    except sqlite3.Error as err:
                        kb.db.execute("ROLLBACK")
                        raise KnowledgeBaseError(f"{kb.path / DB_NAME}: write failed, nothing changed: {err}") from None
                else:
                    kb.db.execute("ROLLBACK")
                    if isinstance(exc, sqlite3.Error):
                        raise KnowledgeBaseError(f"{kb.path / DB_NAME}: write failed, nothing changed: {exc}") from exc

        return _Tx()

    def _meta(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM meta"))

    def close(self) -> None:
        """Save stale indexes atomically and release the writer lock."""
        try:
            if not self.read_only:
                for name in list(self._dirty):
                    self._save_index(name)
            self.db.close()
        finally:
            self._release_lock()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexes ------------------------------------------------------------------------------
    def _rows_for(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        if name == "plan_text":
            q = "SELECT rid, text_emb FROM items WHERE kind='plan'"
            dim = self.text.dim
        elif name == "skill_text":
            q = "SELECT rid, text_emb FROM items WHERE kind='skill'"
            dim = self.text.dim
        else:
            if self.image is None:
                return np.zeros(0, dtype=np.int64), np.zeros((0, 0), dtype=np.float32)
            q = ("SELECT rid, image_emb FROM items WHERE kind='skill' "
                 f"AND image_emb IS NOT NULL AND image_model = '{self.image.name.replace(chr(39), '')}'")
            dim = self.image.dim
        ids, vecs = [], []
        for rid, blob in self.db.execute(q):
            v = _vec(blob, dim)
            if v is not None:
                ids.append(rid)
                vecs.append(v)
        return np.asarray(ids, dtype=np.int64), (np.vstack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32))

    def _dim(self, name: str) -> int:
        return self.image.dim if name == "skill_image" and self.image else self.text.dim

    def _new_index(self, dim: int, n: int) -> Any:
        f = self.faiss
        if n > self.cfg.approx_above:
            inner = f.IndexHNSWFlat(dim, 32, f.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = 80
            inner.hnsw.efSearch = 128
        else:
            inner = f.IndexFlatIP(dim)
        return f.IndexIDMap2(inner)

    def _build(self, name: str) -> Any:
        ids, vecs = self._rows_for(name)
        index = self._new_index(self._dim(name), len(ids))
        if len(ids):
            index.add_with_ids(np.ascontiguousarray(vecs, dtype=np.float32), ids)
        return index

    def _load_or_rebuild(self, name: str) -> Any:
        file = self.path / f"{name}.faiss"
        meta = self._meta()
        count = self._count_for(name)
        why = ""
        if not file.exists():
            why = "missing" if count else ""
        else:
            data = file.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if meta.get(f"{name}.sha256") != digest:
                why = "checksum mismatch (truncated, corrupt or written by another process)"
            else:
                try:
                    index = self.faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
                except RuntimeError as exc:
                    why = f"unreadable ({exc})"
                else:
                    if index.ntotal != count or int(meta.get(f"{name}.count", -1)) != count:
                        why = f"stale ({index.ntotal} vectors, {count} items)"
                    elif index.d != self._dim(name):
                        why = f"dimension {index.d} != {self._dim(name)}"
                    elif (count > self.cfg.approx_above) != ("HNSW" in type(
                            self.faiss.downcast_index(index.index)).__name__):
                        why = f"{count} items: switching between exact and approximate search"
                    else:
                        return index
        index = self._build(name)
        if why:
            msg = f"{file.name}: {why}; rebuilt from {DB_NAME} ({index.ntotal} items)"
            log.warning("%s: %s", self.path, msg)
            self.open_report.append(msg)
            if not self.read_only:
                self._dirty.add(name)
        return index

    def _count_for(self, name: str) -> int:
        ids, _ = self._rows_for(name)
        return int(len(ids))

    def _save_index(self, name: str) -> None:
        """Atomic write: temp file, fsync, rename; checksum and count recorded in SQLite."""
        index = self._indexes[name]
        data = self.faiss.serialize_index(index).tobytes()
        final = self.path / f"{name}.faiss"
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=self.path)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise KnowledgeBaseError(f"{final}: could not save the index ({exc}); {DB_NAME} is intact and the "
                                     f"index will be rebuilt at the next open") from None
        with self._tx() as cur:
            cur.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                            [(f"{name}.sha256", hashlib.sha256(data).hexdigest()),
                             (f"{name}.count", str(index.ntotal))])
        self._dirty.discard(name)

    def save(self) -> None:
        """Write every stale index now (close() does it too)."""
        for name in list(self._dirty):
            self._save_index(name)

    def _refresh(self, names: Iterable[str]) -> None:
        for name in set(names):
            self._indexes[name] = self._build(name)
            self._dirty.add(name)

    # -- writes ---------------------------------------------------------------------------------
    def _embed_text(self, item: KnowledgeItem) -> np.ndarray:
        return self.text.embed([item.embedding_text()])[0]

    def _embed_image(self, image: np.ndarray | None) -> np.ndarray | None:
        if image is None or self.image is None:
            return None
        return self.image.embed([image])[0]

    def add(self, item: KnowledgeItem | dict[str, Any], image: np.ndarray | None = None, *,
            merge: bool = True, text_emb: np.ndarray | None = None,
            image_emb: np.ndarray | None = None) -> KnowledgeItem:
        """Store an item (with the object's crop for skill items).

        With ``merge`` (default), an active item of the same scope (see
        :meth:`KnowledgeItem.merge_key`) is superseded: it stays in the store with
        ``superseded_by`` set, its provenance and counts are carried into the new item,
        and the new item's parameters override its values (a newer correction wins).

        Returns:
            The stored item.
        """
        if not isinstance(item, KnowledgeItem):
            item = KnowledgeItem.from_dict(item)
        item.validate()
        temb = text_emb if text_emb is not None else self._embed_text(item)
        iemb = image_emb if image_emb is not None else (self._embed_image(image) if item.kind == "skill" else None)
        olds = self._same_scope(item) if merge else []
        if olds:
            params: dict[str, Any] = {}
            prov: dict[str, list[Any]] = {}
            for old in olds:
                params.update(old.parameters if old.kind == "skill" else {})
                for k, v in old.provenance.items():
                    prov.setdefault(k, []).extend(v if isinstance(v, list) else [v])
            if item.kind == "skill":
                item.parameters = {**params, **item.parameters}
                item.rule = _skill_rule(item)
            for k, v in item.provenance.items():
                prov.setdefault(k, []).extend(v if isinstance(v, list) else [v])
            item.provenance = {k: _dedupe(v) for k, v in prov.items()}
            item.provenance.setdefault("supersedes", [])
            item.provenance["supersedes"] = _dedupe(item.provenance["supersedes"] + [o.id for o in olds])
            item.use_count += sum(o.use_count for o in olds)
            item.success_count += sum(o.success_count for o in olds)
            item.updated = time.time()
            item.validate()
        with self._tx() as cur:
            cur.execute("INSERT INTO items (id, kind, skill, data, text_emb, image_emb, image_model, superseded_by, "
                        "updated) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                        (item.id, item.kind, item.scope.get("skill"), json.dumps(item.to_dict()), _blob(temb),
                         _blob(iemb), self.image.name if (self.image and iemb is not None) else None, item.updated))
            rid = cur.lastrowid
            for old in olds:
                old.superseded_by = item.id
                cur.execute("UPDATE items SET superseded_by=?, data=? WHERE id=?",
                            (item.id, json.dumps(old.to_dict()), old.id))
        # Superseded items stay in the indexes (their history is searchable by id) and are
        # filtered out at query time, so a merge never forces an index rebuild.
        self._add_to_index(item, rid, temb, iemb)
        return item

    def _index_names(self, item: KnowledgeItem) -> list[str]:
        return ["plan_text"] if item.kind == "plan" else ["skill_text", "skill_image"]

    def _add_to_index(self, item: KnowledgeItem, rid: int, temb: np.ndarray, iemb: np.ndarray | None) -> None:
        ids = np.asarray([rid], dtype=np.int64)
        name = "plan_text" if item.kind == "plan" else "skill_text"
        self._indexes[name].add_with_ids(np.asarray([temb], dtype=np.float32), ids)
        self._dirty.add(name)
        if iemb is not None and item.kind == "skill":
            self._indexes["skill_image"].add_with_ids(np.asarray([iemb], dtype=np.float32), ids)
            self._dirty.add("skill_image")

    def _same_scope(self, item: KnowledgeItem) -> list[KnowledgeItem]:
        key = item.merge_key()
        return [o for o in self.list(kind=item.kind) if o.merge_key() == key and o.id != item.id]

    def update(self, item_id: str, **fields: Any) -> KnowledgeItem:
        """Change fields of an item (``rule``, ``scope``, ``parameters``, ``provenance``); re-embeds the text."""
        item = self.get(item_id)
        data = item.to_dict()
        for k, v in fields.items():
            if k not in ("rule", "scope", "parameters", "provenance"):
                raise KnowledgeBaseError(f"cannot edit {k!r}; editable: rule, scope, parameters, provenance")
            data[k] = v
        data["updated"] = time.time()
        new = KnowledgeItem.from_dict(data)
        temb = self._embed_text(new)
        with self._tx() as cur:
            cur.execute("UPDATE items SET data=?, text_emb=?, skill=?, updated=? WHERE id=?",
                        (json.dumps(new.to_dict()), _blob(temb), new.scope.get("skill"), new.updated, item_id))
            rid = cur.execute("SELECT rid FROM items WHERE id=?", (item_id,)).fetchone()[0]
        name = "plan_text" if new.kind == "plan" else "skill_text"
        self._remove_rid(name, rid)
        self._indexes[name].add_with_ids(np.asarray([temb], dtype=np.float32), np.asarray([rid], dtype=np.int64))
        self._dirty.add(name)
        return new

    def delete(self, item_id: str) -> None:
        """Remove an item (and from the indexes)."""
        item = self.get(item_id)
        with self._tx() as cur:
            rid = cur.execute("SELECT rid FROM items WHERE id=?", (item_id,)).fetchone()[0]
            cur.execute("DELETE FROM items WHERE id=?", (item_id,))
        for name in self._index_names(item):
            self._remove_rid(name, rid)

    def _remove_rid(self, name: str, rid: int) -> None:
        """Drop one vector; approximate indexes that cannot remove are rebuilt."""
        try:
            self._indexes[name].remove_ids(np.asarray([rid], dtype=np.int64))
        except RuntimeError:
            self._indexes[name] = self._build(name)
        self._dirty.add(name)

    def merge(self, item: KnowledgeItem | dict[str, Any], image: np.ndarray | None = None) -> KnowledgeItem:
        """Add ``item``, superseding same-scope items (alias of ``add(merge=True)``)."""
        return self.add(item, image, merge=True)

    def record_outcome(self, item_id: str, success: bool) -> KnowledgeItem:
        """Count one use of an item, and whether it went well."""
        item = self.get(item_id)
        item.use_count += 1
        item.success_count += int(bool(success))
        item.updated = time.time()
        with self._tx() as cur:
            cur.execute("UPDATE items SET data=?, updated=? WHERE id=?", (json.dumps(item.to_dict()), item.updated,
                                                                          item_id))
        return item

    # -- reads ----------------------------------------------------------------------------------
    def _item(self, data: str) -> KnowledgeItem:
        try:
            return KnowledgeItem.from_dict(json.loads(data))
        except (ValueError, KnowledgeBaseError) as exc:
            raise KnowledgeBaseError(f"{self.path / DB_NAME}: a stored item is unreadable: {exc}") from None

    def get(self, item_id: str) -> KnowledgeItem:
        row = self.db.execute("SELECT data FROM items WHERE id=?", (item_id,)).fetchone()
        if row is None:
            raise KnowledgeBaseError(f"no knowledge item {item_id!r} in {self.path}")
        return self._item(row[0])

    def list(self, kind: str | None = None, skill: str | None = None, include_superseded: bool = False,
             category: str | None = None) -> list[KnowledgeItem]:
        """Items, newest first, filtered."""
        if kind is not None and kind not in KINDS:
            raise KnowledgeBaseError(f"kind must be one of {', '.join(KINDS)}")
        q = "SELECT data FROM items WHERE 1=1"
        args: list[Any] = []
        if kind:
            q += " AND kind=?"
            args.append(kind)
        if skill:
            q += " AND skill=?"
            args.append(skill)
        if not include_superseded:
            q += " AND superseded_by IS NULL"
        q += " ORDER BY updated DESC, rid DESC"
        out = [self._item(r[0]) for r in self.db.execute(q, args)]
        if category:
            out = [i for i in out if i.scope.get("object_category") == category
                   or category in (i.scope.get("object_categories") or [])]
        return out

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM items WHERE superseded_by IS NULL").fetchone()[0])

    def _by_rids(self, rids: Sequence[int]) -> dict[int, KnowledgeItem]:
        if not len(rids):
            return {}
        marks = ",".join("?" * len(rids))
        rows = self.db.execute(f"SELECT rid, data FROM items WHERE superseded_by IS NULL AND rid IN ({marks})",
                               [int(r) for r in rids])
        return {rid: self._item(d) for rid, d in rows}

    def _search(self, name: str, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        index = self._indexes[name]
        if index.ntotal == 0:
            return []
        scores, ids = index.search(np.asarray([query], dtype=np.float32), min(k, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def search(self, text: str, k: int = 10, kind: str | None = None) -> list[tuple[KnowledgeItem, float]]:
        """Free-text search over every item (the operator's ``kb search``)."""
        q = self.text.embed([text])[0]
        hits: list[tuple[int, float]] = []
        for name in (["plan_text"] if kind == "plan" else ["skill_text"] if kind == "skill"
                     else ["plan_text", "skill_text"]):
            hits += self._search(name, q, k)
        items = self._by_rids([r for r, _ in hits])
        out = [(items[r], s) for r, s in hits if r in items]
        return sorted(out, key=lambda t: -t[1])[:k]

    def retrieve_for_task(self, task: str, k: int = 5) -> list[tuple[KnowledgeItem, float]]:
        """Plan knowledge relevant to a task text, best first, above ``plan_threshold``."""
        q = self.text.embed([task])[0]
        hits = self._search("plan_text", q, max(k * 4, 20))
        items = self._by_rids([r for r, _ in hits])
        out = [(items[r], s) for r, s in hits if r in items and s >= self.cfg.plan_threshold]
        return out[:k]

    def retrieve_for_skill(self, skill: str, object_description: str, image: np.ndarray | None = None,
                           k: int = 3, category: str | None = None) -> list[tuple[KnowledgeItem, float]]:
        """Skill knowledge for one skill on one object, best first, above ``skill_threshold``.

        Only items of the same skill are considered. Text similarity compares
        "<skill> the <description>"; visual similarity compares the object's crop with the
        crops stored with items (when an image embedder is configured and both have one).
        """
        q = self.text.embed([f"{skill} the {object_description}"])[0]
        text_hits = dict(self._search("skill_text", q, 256))
        img_hits: dict[int, float] = {}
        if image is not None and self.image is not None:
            img_hits = dict(self._search("skill_image", self.image.embed([image])[0], 256))
        items = self._by_rids(list(text_hits))
        wt, wi = self.cfg.text_weight, self.cfg.image_weight
        out = []
        for rid, ts in text_hits.items():
            item = items.get(rid)
            if item is None or item.scope.get("skill") != skill:
                continue
            if rid in img_hits and wi > 0:
                score = (wt * ts + wi * img_hits[rid]) / (wt + wi)
            else:
                score = ts
            if score >= self.cfg.skill_threshold:
                out.append((item, float(score)))
        out.sort(key=lambda t: -t[1])
        return out[:k]

    def stats(self) -> dict[str, Any]:
        rows = self.db.execute("SELECT kind, COUNT(*), SUM(superseded_by IS NOT NULL) FROM items GROUP BY kind")
        by_kind = {k: {"active": int(n - (s or 0)), "superseded": int(s or 0)} for k, n, s in rows}
        return {"path": str(self.path), "items": len(self), "by_kind": by_kind,
                "text_model": self.text.name, "image_model": self.image.name if self.image else None,
                "indexes": {n: int(self._indexes[n].ntotal) for n in INDEXES},
                "schema_version": int(self._meta().get("schema_version", 0))}

    # -- export / import --------------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str]) -> int:
        """Write every item (superseded ones too) with its embeddings to a JSON-lines file."""
        import base64

        out = Path(path)
        n = 0
        tmp = out.with_name(out.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"robot_agent_kb_export": SCHEMA_VERSION, "text_model": self.text.name,
                                 "text_dim": self.text.dim}) + "\n")
            for data, temb, iemb, imodel in self.db.execute(
                    "SELECT data, text_emb, image_emb, image_model FROM items ORDER BY rid"):
                rec = {"item": json.loads(data), "text_emb": base64.b64encode(temb).decode(),
                       "image_emb": base64.b64encode(iemb).decode() if iemb else None, "image_model": imodel}
                fh.write(json.dumps(rec) + "\n")
                n += 1
        os.replace(tmp, out)
        return n

    def import_file(self, path: str | os.PathLike[str]) -> int:
        """Add every item of an export file, all or nothing.

        Raises:
            KnowledgeBaseError: naming the file and line of the first bad record; nothing is added.
        """
        import base64
        import binascii

        p = Path(path)
        try:
            lines = p.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise KnowledgeBaseError(f"{p}: cannot read: {exc}") from None
        if not lines:
            raise KnowledgeBaseError(f"{p}: empty file")
        try:
            head = json.loads(lines[0])
        except ValueError:
            head = None
        if not isinstance(head, dict) or "robot_agent_kb_export" not in head:
            raise KnowledgeBaseError(f"{p}:1: not a robot_agent knowledge-base export")
        if head.get("robot_agent_kb_export") != SCHEMA_VERSION or head.get("text_model") != self.text.name:
            raise KnowledgeBaseError(f"{p}:1: export of schema {head.get('robot_agent_kb_export')} with text model "
                                     f"{head.get('text_model')}; this knowledge base uses {SCHEMA_VERSION} / "
                                     f"{self.text.name}")
        records = []
        existing = {r[0] for r in self.db.execute("SELECT id FROM items")}
        for no, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                item = KnowledgeItem.from_dict(rec["item"])
                temb = np.frombuffer(base64.b64decode(rec["text_emb"], validate=True), dtype=np.float32)
                iemb = (np.frombuffer(base64.b64decode(rec["image_emb"], validate=True), dtype=np.float32)
                        if rec.get("image_emb") else None)
            except (ValueError, KeyError, TypeError, binascii.Error, KnowledgeBaseError) as exc:
                raise KnowledgeBaseError(f"{p}:{no}: bad record: {exc}") from None
            if temb.size != self.text.dim or not np.all(np.isfinite(temb)):
                raise KnowledgeBaseError(f"{p}:{no}: text embedding has {temb.size} values, expected {self.text.dim}")
            if item.id in existing:
                raise KnowledgeBaseError(f"{p}:{no}: item {item.id} already exists in {self.path}")
            existing.add(item.id)
            records.append((item, temb, iemb, rec.get("image_model")))
        with self._tx() as cur:
            for item, temb, iemb, imodel in records:
                cur.execute("INSERT INTO items (id, kind, skill, data, text_emb, image_emb, image_model, "
                            "superseded_by, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            (item.id, item.kind, item.scope.get("skill"), json.dumps(item.to_dict()), _blob(temb),
                             _blob(iemb), imodel, item.superseded_by, item.updated))
        self._refresh(INDEXES)
        return len(records)


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _skill_rule(item: KnowledgeItem) -> str:
    params = ", ".join(f"{k}={v}" for k, v in item.parameters.items())
    return f"{item.scope.get('skill')} the {item.scope.get('object_category', 'object')}: {params}"


def open_knowledge_base(config: MemoryConfig, *, read_only: bool = False,
                        text_embedder: TextEmbedder | None = None) -> KnowledgeBase:
    """A knowledge base from config, with the configured embedders."""
    from memory.embedders import make_image_embedder, make_text_embedder

    text = text_embedder or make_text_embedder(config.text_model)
    image = make_image_embedder(config.image_model, config.image_weights,
                                getattr(config, "image_model_config", ""))
    return KnowledgeBase(config.kb_path, text, image, config, read_only=read_only)
