"""The knowledge base: FAISS indexes over a SQLite (WAL) store that holds every embedding.

Layout of a knowledge-base directory::

    kb.sqlite            items, their embeddings and metadata (the source of truth)
    plan_text.faiss      text index of plan items      } derived: reconciled with kb.sqlite
    skill_text.faiss     text index of skill items     } at every open, rebuilt from it when
    skill_image.faiss    image index of skill items    } missing, corrupt or of the wrong kind
    writer.lock          held (flock) by the one process that may write

Guarantees:

* Every write is one SQLite transaction (WAL, ``synchronous=FULL``): a process killed at
  any point loses nothing already committed, and never leaves half an item.
* Index files are written atomically (temp file, fsync, rename, fsync of the directory)
  with their SHA-256 recorded in SQLite. At open a missing, truncated, corrupt or
  foreign index is detected, rebuilt from SQLite, and reported (log and ``open_report``);
  an intact index that lags behind the database (the writer was killed before it saved)
  gets the missing vectors added from SQLite, also reported.
* A database that is not a valid SQLite file, or is damaged, gives a
  :class:`KnowledgeBaseError` naming the file; it is never overwritten.
* One writer at a time: a second process opening the same directory for writing gets
  :class:`KnowledgeBaseLockedError`. Read-only opens take no lock.
* The schema version is stored; version 1 stores are migrated in one transaction, newer
  versions are refused with a clear message.

Row ids (``rid``) are never reused (SQLite ``AUTOINCREMENT``), so a vector left in an index
for a deleted or edited item can never be mistaken for another item: such leftovers are
filtered at query time and dropped at the next rebuild. Retrieval scores are cosine
similarities; see :meth:`KnowledgeBase.retrieve_for_skill` for how text and visual
similarity are combined.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from memory.embedders import ImageEmbedder, TextEmbedder
from memory.item import KINDS, KnowledgeItem
from robot_agent.config import MemoryConfig
from robot_agent.deps import require
from robot_agent.errors import KnowledgeBaseError, KnowledgeBaseLockedError
from robot_agent.fsutil import LockBusy, acquire_lock, atomic_open, atomic_write, lock_held, release_lock

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
DB_NAME = "kb.sqlite"
LOCK_NAME = "writer.lock"
INDEXES = ("plan_text", "skill_text", "phrase_text", "skill_image")
#: the text index each kind of item lives in
TEXT_INDEX = {"plan": "plan_text", "skill": "skill_text", "phrase": "phrase_text"}
#: HNSW graph settings; the search breadth is ``memory.hnsw_ef_search`` (512: recall@10 0.98-0.99 at
#: 100k synthetic items with paraphrase-far queries, where 128 gave 0.91-0.92; docs/memory.md)
HNSW_M, HNSW_EF_CONSTRUCTION = 32, 80
#: an approximate index with more leftover vectors than this fraction is rebuilt at open
MAX_STALE_FRACTION = 0.2
#: a filtered search that would need more candidates than this scores the candidates exactly
MAX_FETCH = 4096
_SQL_CHUNK = 900

Hit = tuple[KnowledgeItem, float]


def _blob(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.ascontiguousarray(v, dtype=np.float32).tobytes()


def _vec(b: bytes | None, dim: int) -> np.ndarray | None:
    if b is None:
        return None
    v = np.frombuffer(b, dtype=np.float32)
    return v if v.size == dim else None


class KnowledgeBase:
    """Distilled knowledge with text and visual retrieval.

    Thread-safe: one lock serializes every public call (the ROS node saves from a timer
    while the agent adds from its worker).

    Args:
        path: the knowledge-base directory (created if missing, unless read-only).
        text_embedder: embeds rules, object descriptions and queries.
        image_embedder: embeds object crops; None = text-only retrieval.
        config: weights, thresholds and the approximate-index size. Read at every call,
            so a live change of ``text_weight`` or a threshold applies at the next query.
        read_only: open without the writer lock; writes raise.

    Raises:
        KnowledgeBaseLockedError: another process holds the store for writing.
        KnowledgeBaseError: the database is missing (read-only), damaged, foreign, newer
            than this code, or was built with another text model.
    """

    def __init__(self, path: str | os.PathLike[str], text_embedder: TextEmbedder,
                 image_embedder: ImageEmbedder | None = None, config: MemoryConfig | None = None,
                 read_only: bool = False) -> None:
        self.faiss = require("faiss", "the knowledge base")
        self.path = Path(os.path.expanduser(str(path)))
        self.db_path = self.path / DB_NAME
        self.text = text_embedder
        self.image = image_embedder
        self.cfg = config or MemoryConfig()
        self.read_only = read_only
        #: what open found and repaired (rebuilt or caught-up indexes, a migration)
        self.open_report: list[str] = []
        self._mutex = threading.RLock()
        self._lock_fd: int | None = None
        self._closed = False
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._indexes: dict[str, Any] = {}
        self._dirty: set[str] = set()
        #: rid -> (kind, skill, object category) of every active (not superseded) item
        self._active: dict[int, tuple[str, str | None, str | None]] = {}
        #: a read-only open while a writer runs: index files lagging behind is normal then
        self._writer_running = False
        if read_only:
            if not self.db_path.exists():
                raise KnowledgeBaseError(f"{self.path}: no knowledge base here ({DB_NAME} missing)")
            self._writer_running = lock_held(self.path / LOCK_NAME)
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            self._acquire_lock()
        self.db: sqlite3.Connection | None = None
        try:
            self._open_db()
            self._load_active()
            for name in self._index_names():
                self._indexes[name] = self._load_index(name)
        except BaseException as exc:
            if self.db is not None:
                self.db.close()
            self._release_lock()
            if isinstance(exc, sqlite3.DatabaseError):
                raise self._damaged(exc) from None
            raise

    # -- lifecycle -----------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        try:
            self._lock_fd = acquire_lock(self.path / LOCK_NAME, f"{os.getpid()}\n")
        except LockBusy as exc:
            who = f" (pid {exc.holder})" if exc.holder.isdigit() else ""
            raise KnowledgeBaseLockedError(
                f"{self.path}: the knowledge base is locked by another writer process{who}; "
                f"open it read-only, or stop the other process") from None

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            release_lock(fd)

    def _damaged(self, exc: BaseException) -> KnowledgeBaseError:
        return KnowledgeBaseError(
            f"{self.db_path}: the knowledge-base database is damaged or not a database ({exc}); it was left "
            f"untouched: restore it from a backup or an export (robot-agent kb import)")

    def _sql(self, query: str, args: Sequence[Any] = ()) -> list[Any]:
        """Run one statement and fetch every row; a damaged file becomes a KnowledgeBaseError naming it."""
        if self.db is None:
            raise KnowledgeBaseError(f"{self.path}: the knowledge base is closed")
        try:
            return self.db.execute(query, args).fetchall()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, (sqlite3.IntegrityError, sqlite3.ProgrammingError)):
                raise
            raise self._damaged(exc) from None

    def _open_db(self) -> None:
        uri = f"file:{self.db_path}?mode=ro" if self.read_only else f"file:{self.db_path}"
        try:
            self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise KnowledgeBaseError(f"{self.db_path}: cannot open ({exc})") from None
        self._sql("PRAGMA busy_timeout=5000")
        if not self.read_only:
            self._sql("PRAGMA journal_mode=WAL")
            self._sql("PRAGMA synchronous=FULL")
        tables = {r[0] for r in self._sql("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            if self.read_only:
                raise KnowledgeBaseError(f"{self.db_path}: empty database, not a knowledge base")
            self._create_schema()
        elif not {"meta", "items"} <= tables:
            raise KnowledgeBaseError(f"{self.db_path}: a SQLite file, but not a knowledge base "
                                     f"(tables: {', '.join(sorted(tables))}); it was left untouched")
        meta = self._meta()
        try:
            version = int(meta.get("schema_version", "0") or 0)
        except ValueError:
            version = 0
        if version > SCHEMA_VERSION:
            raise KnowledgeBaseError(f"{self.db_path}: schema version {version} is newer than this robot_agent "
                                     f"supports ({SCHEMA_VERSION}); upgrade robot_agent")
        if version < 1:
            raise KnowledgeBaseError(f"{self.db_path}: no schema version recorded; not a robot_agent knowledge base")
        if version < SCHEMA_VERSION:
            if self.read_only:
                raise KnowledgeBaseError(
                    f"{self.db_path}: schema version {version} must be migrated to {SCHEMA_VERSION}, which needs "
                    f"write access; run `robot-agent kb migrate --kb {self.path}` (or open it for writing once)")
            self._migrate(version)
        dim = int(meta.get("text_dim", self.text.dim))
        if dim != self.text.dim or meta.get("text_model", self.text.name) != self.text.name:
            raise KnowledgeBaseError(
                f"{self.db_path}: built with text model {meta.get('text_model')} ({dim}-d) but {self.text.name} "
                f"({self.text.dim}-d) is configured; use the same model, or export and re-import elsewhere")
        if self.image is None:
            log.debug("%s: no image embedder: skill knowledge is retrieved by text only", self.path)

    def _create_schema(self) -> None:
        with self._tx() as cur:
            cur.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            cur.execute("CREATE TABLE items (rid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
                        "kind TEXT NOT NULL, skill TEXT, category TEXT, merge_key TEXT NOT NULL, data TEXT NOT NULL, "
                        "text_emb BLOB NOT NULL, image_emb BLOB, image_model TEXT, superseded_by TEXT, "
                        "updated REAL NOT NULL)")
            cur.execute("CREATE INDEX items_kind ON items(kind, skill)")
            cur.execute("CREATE INDEX items_merge ON items(merge_key)")
            rows = [("schema_version", str(SCHEMA_VERSION)), ("text_model", self.text.name),
                    ("text_dim", str(self.text.dim)), ("created", str(time.time()))]
            cur.executemany("INSERT INTO meta VALUES (?, ?)", rows)

    def _migrate(self, version: int) -> None:
        """Bring an older schema up to date, in one transaction (all or nothing)."""
        if version == 1:
            with self._tx() as cur:
                cur.execute("ALTER TABLE items ADD COLUMN category TEXT")
                cur.execute("ALTER TABLE items ADD COLUMN merge_key TEXT NOT NULL DEFAULT ''")
                for rid, data in list(cur.execute("SELECT rid, data FROM items")):
                    item = self._item(data)
                    cur.execute("UPDATE items SET category=?, merge_key=? WHERE rid=?",
                                (item.scope.get("object_category"), item.merge_key(), rid))
                cur.execute("CREATE INDEX items_merge ON items(merge_key)")
                cur.execute("DELETE FROM meta WHERE key LIKE '%.count' OR key = 'image_model'")
                cur.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
            msg = f"{DB_NAME}: migrated schema version 1 to {SCHEMA_VERSION}"
            log.warning("%s: %s", self.path, msg)
            self.open_report.append(msg)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction: committed on success, rolled back on any error."""
        if self.read_only:
            raise KnowledgeBaseError(f"{self.path}: opened read-only; open it for writing to change it")
        if self.db is None:
            raise KnowledgeBaseError(f"{self.path}: the knowledge base is closed")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None
        try:
            yield self.db.cursor()
            self.db.execute("COMMIT")
        except BaseException as exc:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.IntegrityError):
                raise KnowledgeBaseError(f"{self.db_path}: write refused, nothing changed: {exc}") from None
            if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
                raise self._damaged(exc) from None
            if isinstance(exc, sqlite3.Error):
                raise KnowledgeBaseError(f"{self.db_path}: write failed, nothing changed: {exc}") from None
            raise

    def _one(self, query: str, args: Sequence[Any] = ()) -> Any:
        rows = self._sql(query, args)
        return rows[0] if rows else None

    def _meta(self) -> dict[str, str]:
        return dict(self._sql("SELECT key, value FROM meta"))

    def close(self) -> None:
        """Save changed indexes atomically, close the database and release the writer lock.

        Calling it twice is harmless.
        """
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            try:
                if not self.read_only and self.db is not None:
                    self._save_all()
            finally:
                try:
                    if self.db is not None:
                        self.db.close()
                        self.db = None
                finally:
                    self._release_lock()

    def __enter__(self) -> "KnowledgeBase":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- indexes ------------------------------------------------------------------------------
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
        return ("kind='skill' AND superseded_by IS NULL AND image_emb IS NOT NULL AND image_model=?",
                [self._image_name()])

    def _image_name(self) -> str:
        return self.image.name if self.image is not None else ""

    def _column(self, name: str) -> str:
        return "image_emb" if name == "skill_image" else "text_emb"

    def _dim(self, name: str) -> int:
        return self.image.dim if name == "skill_image" and self.image is not None else self.text.dim

    def _rids(self, name: str) -> np.ndarray:
        where, args = self._where(name)
        rows = self._sql(f"SELECT rid FROM items WHERE {where} ORDER BY rid", args)
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))

    def _vectors(self, name: str, rids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of one index's items (all, or the given rids) from SQLite."""
        where, args = self._where(name)
        col, dim = self._column(name), self._dim(name)
        chunks: list[list[Any]] = ([[None]] if rids is None else
                                   [list(map(int, rids[i:i + _SQL_CHUNK])) for i in range(0, len(rids), _SQL_CHUNK)])
        ids: list[int] = []
        vecs: list[np.ndarray] = []
        for chunk in chunks:
            q, a = f"SELECT rid, {col} FROM items WHERE {where}", list(args)
            if rids is not None:
                q += f" AND rid IN ({','.join('?' * len(chunk))})"
                a += chunk
            for rid, blob in self._sql(q + " ORDER BY rid", a):
                v = _vec(blob, dim)
                if v is not None:
                    ids.append(rid)
                    vecs.append(v)
        return (np.asarray(ids, dtype=np.int64),
                np.vstack(vecs) if vecs else np.zeros((0, dim), dtype=np.float32))

    def _approximate(self, n: int) -> bool:
        return n > self.cfg.approx_above

    def _is_approximate(self, index: Any) -> bool:
        return self._hnsw(index) is not None

    def _hnsw(self, index: Any) -> Any | None:
        inner = self.faiss.downcast_index(index.index)
        return inner if isinstance(inner, self.faiss.IndexHNSW) else None

    def _new_index(self, dim: int, n: int) -> Any:
        """Exact inner-product search up to ``approx_above`` items, HNSW above; ids = rids."""
        f = self.faiss
        if self._approximate(n):
            inner = f.IndexHNSWFlat(dim, HNSW_M, f.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            inner = f.IndexFlatIP(dim)
        return f.IndexIDMap2(inner)

    def _build(self, name: str) -> Any:
        ids, vecs = self._vectors(name)
        index = self._new_index(self._dim(name), len(ids))
        if len(ids):
            index.add_with_ids(vecs, ids)
        return index

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
                    if not isinstance(index, self.faiss.IndexIDMap2):
                        why, index = "not a knowledge-base index", None
                    elif index.d != self._dim(name):
                        why, index = f"dimension {index.d}, expected {self._dim(name)}", None
                    elif name == "skill_image" and meta.get(f"{name}.model") != self._image_name():
                        log.info("%s: %s was made with %s; rebuilding for %s", self.path, file.name,
                                 meta.get(f"{name}.model"), self._image_name())
                        index = None
        elif len(db_rids):
            why = "missing"
        if index is not None and self._is_approximate(index) != self._approximate(len(db_rids)):
            log.info("%s: %s: %d items, switching to %s search", self.path, file.name, len(db_rids),
                     "approximate" if self._approximate(len(db_rids)) else "exact")
            index = None
        if index is None:
            index = self._build(name)
            if why:
                self._report(f"{file.name}: {why}; rebuilt from {DB_NAME} ({index.ntotal} items)")
            if not self.read_only and (why or file.exists() or index.ntotal):
                self._dirty.add(name)
            return index
        # An intact file: add what was committed after it was saved, drop what was deleted.
        have = self.faiss.vector_to_array(index.id_map).astype(np.int64)
        missing = np.setdiff1d(db_rids, have, assume_unique=True)
        extra = np.setdiff1d(have, db_rids, assume_unique=True)
        if len(missing):
            ids, vecs = self._vectors(name, missing)
            if len(ids):
                index.add_with_ids(vecs, ids)
            self._report(f"{file.name}: {len(missing)} item(s) committed after the last save (the writer did not "
                         f"close cleanly); added from {DB_NAME}")
            self._dirty.add(name)
        if len(extra):
            if not self._is_approximate(index):
                index.remove_ids(extra)
                self._dirty.add(name)
            elif len(extra) > MAX_STALE_FRACTION * max(index.ntotal, 1):
                log.info("%s: %s: %d stale vectors; rebuilding", self.path, file.name, len(extra))
                index = self._build(name)
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
            raise KnowledgeBaseError(f"{final}: could not save the index ({exc}); {DB_NAME} is intact and the "
                                     f"index will be rebuilt at the next open") from None
        rows = [(f"{name}.sha256", hashlib.sha256(data).hexdigest()), (f"{name}.count", str(index.ntotal))]
        if name == "skill_image" and self.image is not None:
            rows.append((f"{name}.model", self.image.name))
        with self._tx() as cur:
            cur.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows)
        self._dirty.discard(name)

    def _save_all(self) -> None:
        for name in sorted(self._dirty):
            self._save_index(name)

    def save(self) -> None:
        """Write every changed index now (``close()`` does it too). Items are durable without it."""
        with self._mutex:
            self._check_open()
            if not self.read_only:
                self._save_all()

    def _check_open(self) -> None:
        if self._closed:
            raise KnowledgeBaseError(f"{self.path}: the knowledge base is closed")

    def _drop_from_indexes(self, rids: Sequence[int]) -> None:
        """Remove vectors from exact indexes; approximate ones keep them (filtered at query time)."""
        arr = np.asarray(list(rids), dtype=np.int64)
        for name, index in self._indexes.items():
            if len(arr) and not self._is_approximate(index) and index.remove_ids(arr):
                self._dirty.add(name)

    # -- active-item map (query-time filter) --------------------------------------------------
    def _load_active(self) -> None:
        rows = self._sql("SELECT rid, kind, skill, category FROM items WHERE superseded_by IS NULL")
        self._active = {rid: (kind, skill, cat) for rid, kind, skill, cat in rows}

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
            raise KnowledgeBaseError(f"{self.path}: the {getattr(embedder, 'name', 'embedding')} embedder failed "
                                     f"({type(exc).__name__}: {exc}); nothing was changed") from None

    @staticmethod
    def _checked(vecs: Any, dim: int, what: str) -> np.ndarray:
        arr = np.asarray(vecs, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != dim or not np.all(np.isfinite(arr)):
            raise KnowledgeBaseError(f"{what}: expected finite {dim}-d vectors, got shape {arr.shape}")
        return arr

    # -- writes ---------------------------------------------------------------------------------
    def add(self, item: KnowledgeItem | Mapping[str, Any], image: np.ndarray | None = None, *,
            merge: bool = True, text_emb: np.ndarray | None = None,
            image_emb: np.ndarray | None = None) -> KnowledgeItem:
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
        return self.add_many([item], [image], merge=merge,
                             text_embs=None if text_emb is None else [text_emb],
                             image_embs=None if image_emb is None else [image_emb])[0]

    def add_many(self, items: Sequence[KnowledgeItem | Mapping[str, Any]],
                 images: Sequence[np.ndarray | None] | None = None, *, merge: bool = True,
                 text_embs: Sequence[np.ndarray] | np.ndarray | None = None,
                 image_embs: Sequence[np.ndarray | None] | None = None) -> list[KnowledgeItem]:
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
            temb = (self._checked(text_embs, self.text.dim, "text_emb") if text_embs is not None else
                    self._checked(self._call_embedder(self.text, [i.embedding_text() for i in batch]),
                                  self.text.dim, "text embedder"))
            iemb: list[np.ndarray | None] = [None] * len(batch)
            if self.image is not None:
                if image_embs is not None:
                    for n, v in enumerate(image_embs):
                        if v is not None and batch[n].kind == "skill":
                            iemb[n] = self._checked(v, self.image.dim, "image_emb")[0]
                elif images is not None:
                    todo = [n for n, img in enumerate(images) if img is not None and batch[n].kind == "skill"]
                    if todo:
                        vecs = self._checked(self._call_embedder(self.image, [images[n] for n in todo]),
                                             self.image.dim, "image embedder")
                        for n, v in zip(todo, vecs):
                            iemb[n] = v
            self._check_new_ids([i.id for i in batch], "this batch")
            added: list[tuple[int, KnowledgeItem, np.ndarray, np.ndarray | None]] = []
            superseded: list[int] = []
            with self._tx() as cur:
                pending: list[tuple[KnowledgeItem, np.ndarray]] = []
                in_batch: dict[int, KnowledgeItem] = {}
                for item, t, i in zip(batch, temb, iemb):
                    olds = self._same_scope(cur, item, t, pending, superseded) if merge else []
                    if olds:
                        self._absorb(item, [o for _, o in olds])
                    rid = _insert(cur, item, _blob(t), _blob(i),
                                  self.image.name if (self.image is not None and i is not None) else None)
                    for old_rid, old in olds:
                        old.superseded_by = item.id
                        cur.execute("UPDATE items SET superseded_by=?, data=? WHERE rid=?",
                                    (item.id, json.dumps(old.to_dict()), old_rid))
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
            chunk = list(ids[s:s + _SQL_CHUNK])
            clash = self._one(f"SELECT id FROM items WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            if clash:
                raise KnowledgeBaseError(f"{where}: item {clash[0]} already exists in {self.path} "
                                         f"(update() changes an item)")

    def _activate(self, rid: int, item: KnowledgeItem) -> None:
        if item.superseded_by is None:
            self._active[rid] = (item.kind, item.scope.get("skill"), item.scope.get("object_category"))

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

    def _same_scope(self, cur: sqlite3.Cursor, item: KnowledgeItem, temb: np.ndarray,
                    pending: Sequence[tuple[KnowledgeItem, np.ndarray]],
                    superseded: Sequence[int]) -> list[tuple[int, KnowledgeItem]]:
        """Active items the new one supersedes: same merge key, or a plan rule of the same meaning."""
        if item.superseded_by is not None:
            return []
        found = {rid: self._item(data) for rid, data in cur.execute(
            "SELECT rid, data FROM items WHERE merge_key=? AND superseded_by IS NULL", (item.merge_key(),))}
        if _free_text_plan(item) and self.cfg.merge_threshold < 1.0:
            # Near-duplicates: free-text rules of the same task family whose *rule texts* are
            # at least merge_threshold alike (the shared family words would inflate the
            # indexed similarity). The index proposes, the rule texts decide.
            family = item.scope.get("task_family", "")
            gone = set(superseded)
            cands: dict[int, KnowledgeItem] = {}
            proposed = [r for r, s in self._search("plan_text", temb, 16, lambda r: r not in gone and self._active.get(
                r, ("",))[0] == "plan") if s >= self.cfg.merge_threshold - 0.2]
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
                for (rid, other), v in zip(cands.items(), vecs[1:]):
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
                item.use_count += old.use_count
                item.success_count += old.success_count
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
            temb = self._checked(self._call_embedder(self.text, [new.embedding_text()]), self.text.dim,
                                 "text embedder")[0]
            with self._tx() as cur:
                old_rid, iblob, imodel = cur.execute("SELECT rid, image_emb, image_model FROM items WHERE id=?",
                                                     (item_id,)).fetchone()
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

    def record_outcome(self, item_id: str, success: bool) -> KnowledgeItem:
        """Count one use of an item, and whether the skill or plan then succeeded.

        Returns:
            The item with its new counts.
        """
        with self._mutex:
            self._check_open()
            with self._tx() as cur:
                row = cur.execute("SELECT data FROM items WHERE id=?", (item_id,)).fetchone()
                if row is None:
                    raise KnowledgeBaseError(f"no knowledge item {item_id!r} in {self.path}")
                item = self._item(row[0])
                item.use_count += 1
                item.success_count += int(bool(success))
                item.updated = time.time()
                cur.execute("UPDATE items SET data=?, updated=? WHERE id=?",
                            (json.dumps(item.to_dict()), item.updated, item_id))
            return item

    # -- reads ----------------------------------------------------------------------------------
    def _item(self, data: str) -> KnowledgeItem:
        try:
            return KnowledgeItem.from_dict(json.loads(data))
        except (ValueError, KnowledgeBaseError) as exc:
            raise KnowledgeBaseError(f"{self.db_path}: a stored item is unreadable: {exc}") from None

    def get(self, item_id: str) -> KnowledgeItem:
        """One item by id (superseded ones too).

        Raises:
            KnowledgeBaseError: no such item.
        """
        with self._mutex:
            self._check_open()
            row = self._one("SELECT data FROM items WHERE id=?", (item_id,))
            if row is None:
                raise KnowledgeBaseError(f"no knowledge item {item_id!r} in {self.path}")
            return self._item(row[0])

    def list(self, kind: str | None = None, skill: str | None = None, include_superseded: bool = False,
             category: str | None = None, task_family: str | None = None) -> list[KnowledgeItem]:
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
            out = [i for i in out if i.scope.get("object_category") == category
                   or category in (i.scope.get("object_categories") or [])]
        if task_family:
            out = [i for i in out if i.scope.get("task_family") == task_family]
        return out

    def __len__(self) -> int:
        """Number of active (not superseded) items."""
        with self._mutex:
            return len(self._active)

    def _search(self, name: str, query: np.ndarray, k: int,
                accept: Callable[[int], bool]) -> list[tuple[int, float]]:
        """Top ``k`` accepted (rid, cosine) of one index, fetching more while filters reject."""
        index = self._indexes.get(name)
        if index is None or index.ntotal == 0 or k <= 0:
            return []
        n = int(index.ntotal)
        fetch = min(n, max(4 * k, 32))
        q = np.ascontiguousarray(query, dtype=np.float32)[None, :]
        hnsw = self._hnsw(index)
        while True:
            if fetch > MAX_FETCH and hnsw is not None:
                return self._exact(name, query, k, accept)
            if hnsw is not None:  # read at every search: the operator's setting, not the file's
                hnsw.hnsw.efSearch = max(int(self.cfg.hnsw_ef_search), fetch)
            scores, ids = index.search(q, fetch)
            out = [(int(r), float(s)) for r, s in zip(ids[0], scores[0]) if r >= 0 and accept(int(r))]
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

    def _by_rids(self, rids: Sequence[int]) -> dict[int, KnowledgeItem]:
        if not len(rids):
            return {}
        marks = ",".join("?" * len(rids))
        rows = self._sql(f"SELECT rid, data FROM items WHERE superseded_by IS NULL AND rid IN ({marks})",
                         [int(r) for r in rids])
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
                for r, s in self._search("plan_text", q, k, lambda r: self._active.get(r, ("",))[0] == "plan"):
                    best[r] = max(s, best.get(r, -1.0))
            hits = sorted(best.items(), key=lambda rs: -rs[1])[:k]
            hits = [(r, s) for r, s in hits if s >= self.cfg.plan_threshold]
            items = self._by_rids([r for r, _ in hits])
            return [(items[r], s) for r, s in hits if r in items]

    def retrieve_for_skill(self, skill: str, object_description: str, image: np.ndarray | None = None,
                           k: int = 3, category: str | None = None) -> list[Hit]:
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
            n_cand = k if qi is None else max(4 * k, 32)
            text_hits = self._search("skill_text", qt, n_cand, accept)
            if qi is None:
                scored = [(r, s) for r, s in text_hits if s >= self.cfg.skill_threshold]
            else:
                cands = {r for r, _ in text_hits} | {r for r, _ in self._search("skill_image", qi, n_cand, accept)}
                scored = self._combined(sorted(cands), qt, qi)
                scored = [(r, s) for r, s in scored if s >= self.cfg.skill_threshold]
            scored.sort(key=lambda t: -t[1])
            scored = scored[:k]
            items = self._by_rids([r for r, _ in scored])
            return [(items[r], s) for r, s in scored if r in items]

    def _combined(self, rids: Sequence[int], qt: np.ndarray, qi: np.ndarray) -> list[tuple[int, float]]:
        """The documented text + visual score of each candidate, from its stored embeddings."""
        if not rids:
            return []
        marks = ",".join("?" * len(rids))
        rows = self._sql(f"SELECT rid, text_emb, image_emb, image_model FROM items WHERE rid IN ({marks})",
                         list(rids))
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

    def stats(self) -> dict[str, Any]:
        """Counts, models, index sizes and kinds, schema version."""
        with self._mutex:
            self._check_open()
            rows = self._sql("SELECT kind, COUNT(*), SUM(superseded_by IS NOT NULL) FROM items GROUP BY kind")
            by_kind = {k: {"active": int(n - (s or 0)), "superseded": int(s or 0)} for k, n, s in rows}
            indexes = {}
            for name, index in self._indexes.items():
                indexes[name] = {"vectors": int(index.ntotal),
                                 "type": "hnsw" if self._is_approximate(index) else "flat"}
            return {"path": str(self.path), "items": len(self._active), "by_kind": by_kind,
                    "text_model": self.text.name, "image_model": self.image.name if self.image else None,
                    "indexes": indexes, "schema_version": int(self._meta().get("schema_version", 0)),
                    "read_only": self.read_only}

    # -- export / import --------------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str]) -> int:
        """Write every item (superseded ones too) with its embeddings to a JSON-lines file.

        The file is written atomically. Returns the number of items.
        """
        with self._mutex:
            self._check_open()
            n = 0
            with atomic_open(path, "w") as fh:
                fh.write(json.dumps({"robot_agent_kb_export": SCHEMA_VERSION, "text_model": self.text.name,
                                     "text_dim": self.text.dim}) + "\n")
                for data, temb, iemb, imodel in self._sql(
                        "SELECT data, text_emb, image_emb, image_model FROM items ORDER BY rid"):
                    rec = {"item": json.loads(data), "text_emb": base64.b64encode(temb).decode(),
                           "image_emb": base64.b64encode(iemb).decode() if iemb else None, "image_model": imodel}
                    fh.write(json.dumps(rec) + "\n")
                    n += 1
            return n

    def import_file(self, path: str | os.PathLike[str]) -> int:
        """Add every item of an export file as it is (no merging), all or nothing.

        Returns:
            The number of items added.

        Raises:
            KnowledgeBaseError: naming the file and line of the first bad record, or an id
                that already exists; nothing is added then.
        """
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
        if head.get("robot_agent_kb_export") not in (1, SCHEMA_VERSION) or head.get("text_model") != self.text.name:
            raise KnowledgeBaseError(f"{p}:1: export of schema {head.get('robot_agent_kb_export')} with text model "
                                     f"{head.get('text_model')}; this knowledge base uses {SCHEMA_VERSION} / "
                                     f"{self.text.name}")
        records = []
        for no, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                item = KnowledgeItem.from_dict(rec["item"])
                temb = np.frombuffer(base64.b64decode(rec["text_emb"], validate=True), dtype=np.float32)
                iemb = (np.frombuffer(base64.b64decode(rec["image_emb"], validate=True), dtype=np.float32)
                        if rec.get("image_emb") else None)
                imodel = rec.get("image_model")
            except (ValueError, KeyError, TypeError, binascii.Error, KnowledgeBaseError) as exc:
                raise KnowledgeBaseError(f"{p}:{no}: bad record: {exc}") from None
            if temb.size != self.text.dim or not np.all(np.isfinite(temb)):
                raise KnowledgeBaseError(f"{p}:{no}: text embedding has {temb.size} values, expected {self.text.dim}")
            if iemb is not None and (not isinstance(imodel, str) or not np.all(np.isfinite(iemb))):
                raise KnowledgeBaseError(f"{p}:{no}: image embedding without a valid image_model")
            records.append((item, temb, iemb, imodel))
        if not records:
            return 0
        with self._mutex:
            self._check_open()
            self._check_new_ids([r[0].id for r in records], str(p))
            added: list[tuple[int, KnowledgeItem, np.ndarray, np.ndarray | None]] = []
            with self._tx() as cur:
                for item, temb, iemb, imodel in records:
                    rid = _insert(cur, item, _blob(temb), _blob(iemb), imodel)
                    usable = (iemb if self.image is not None and imodel == self.image.name
                              and iemb is not None and iemb.size == self.image.dim else None)
                    added.append((rid, item, temb, usable))
            for rid, item, _, _ in added:
                self._activate(rid, item)
            self._index_add(added)
            return len(added)


def _insert(cur: sqlite3.Cursor, item: KnowledgeItem, text_blob: bytes | None, image_blob: bytes | None,
            image_model: str | None) -> int:
    """One items row; returns its rid (fresh, never reused)."""
    cur.execute("INSERT INTO items (id, kind, skill, category, merge_key, data, text_emb, image_emb, image_model, "
                "superseded_by, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (item.id, item.kind, item.scope.get("skill"), item.scope.get("object_category"), item.merge_key(),
                 json.dumps(item.to_dict()), text_blob, image_blob, image_model, item.superseded_by, item.updated))
    return int(cur.lastrowid)  # type: ignore[arg-type]


def _free_text_plan(item: KnowledgeItem) -> bool:
    """A plan rule in words only (no structured constraint, not a raw-memory record)."""
    return item.kind == "plan" and not item.scope.get("raw") and not isinstance(item.parameters.get("constraint"),
                                                                                 Mapping)


def _dedupe(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _skill_rule(item: KnowledgeItem) -> str:
    params = ", ".join(f"{k}={v}" for k, v in item.parameters.items())
    return f"{item.scope.get('skill')} the {item.scope.get('object_category') or 'object'}: {params}"


def open_knowledge_base(config: MemoryConfig, *, read_only: bool = False,
                        text_embedder: TextEmbedder | None = None,
                        image_embedder: ImageEmbedder | None = None) -> KnowledgeBase:
    """A knowledge base at ``config.kb_dir`` with the configured embedders.

    Args:
        config: the memory section of the agent config.
        read_only: open without the writer lock.
        text_embedder / image_embedder: already-loaded embedders to reuse; by default
            they are made from ``memory.text_model`` and ``memory.image_weights`` (no
            image weights: text-only retrieval, said once in the log).
    """
    from memory.embedders import make_image_embedder, make_text_embedder

    text = text_embedder or make_text_embedder(config.text_model)
    image = image_embedder or make_image_embedder(config.image_model, config.image_weights,
                                                  config.image_model_config)
    return KnowledgeBase(config.kb_path, text, image, config, read_only=read_only)
