"""The SQLite side of the knowledge base: schema, migration, transactions, rows.

``kb.sqlite`` is the source of truth: every item with its embeddings and metadata. The FAISS
indexes (:mod:`memory.indexes`) are derived from it. This module holds what every part of
:class:`memory.store.KnowledgeBase` shares: the connection and its error handling, the schema and
its migration, reading an item row, and the map of active items that filters index hits.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from memory.embedders import ImageEmbedder, TextEmbedder
from memory.item import KnowledgeItem
from robot_agent.config import MemoryConfig
from robot_agent.errors import KnowledgeBaseError

log = logging.getLogger("memory.store")  # the knowledge base logs under one name

SCHEMA_VERSION = 2
DB_NAME = "kb.sqlite"
LOCK_NAME = "writer.lock"
_SQL_CHUNK = 900


def _blob(v: np.ndarray | None) -> bytes | None:
    return None if v is None else np.ascontiguousarray(v, dtype=np.float32).tobytes()


def _vec(b: bytes | None, dim: int) -> np.ndarray | None:
    if b is None:
        return None
    v = np.frombuffer(b, dtype=np.float32)
    return v if v.size == dim else None


def _insert(
    cur: sqlite3.Cursor, item: KnowledgeItem, text_blob: bytes | None, image_blob: bytes | None, image_model: str | None
) -> int:
    """One items row; returns its rid (fresh, never reused)."""
    cur.execute(
        "INSERT INTO items (id, kind, skill, category, merge_key, data, text_emb, image_emb, image_model, "
        "superseded_by, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            item.id,
            item.kind,
            item.scope.get("skill"),
            item.scope.get("object_category"),
            item.merge_key(),
            json.dumps(item.to_dict()),
            text_blob,
            image_blob,
            image_model,
            item.superseded_by,
            item.updated,
        ),
    )
    return int(cur.lastrowid)  # type: ignore[arg-type]


class _Database:
    """The state every part of the knowledge base shares, and its SQLite access.

    :class:`memory.store.KnowledgeBase` sets these attributes when it opens the store.
    """

    faiss: Any
    path: Path
    db_path: Path
    db: sqlite3.Connection | None
    text: TextEmbedder
    image: ImageEmbedder | None
    cfg: MemoryConfig
    read_only: bool
    #: what open found and repaired (rebuilt or caught-up indexes, a migration)
    open_report: list[str]
    _mutex: threading.RLock
    _closed: bool
    _query_cache: OrderedDict[str, np.ndarray]
    _indexes: dict[str, Any]
    _dirty: set[str]
    #: rid -> (kind, skill, object category) of every active (not superseded) item
    _active: dict[int, tuple[str, str | None, str | None]]
    #: a read-only open while a writer runs: index files lagging behind is normal then
    _writer_running: bool

    def _damaged(self, exc: BaseException) -> KnowledgeBaseError:
        return KnowledgeBaseError(
            f"{self.db_path}: the knowledge-base database is damaged or not a database ({exc}); it was left "
            f"untouched: restore it from a backup or an export (robot-agent kb import)"
        )

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
            raise KnowledgeBaseError(
                f"{self.db_path}: a SQLite file, but not a knowledge base "
                f"(tables: {', '.join(sorted(tables))}); it was left untouched"
            )
        meta = self._meta()
        try:
            version = int(meta.get("schema_version", "0") or 0)
        except ValueError:
            version = 0
        if version > SCHEMA_VERSION:
            raise KnowledgeBaseError(
                f"{self.db_path}: schema version {version} is newer than this robot_agent "
                f"supports ({SCHEMA_VERSION}); upgrade robot_agent"
            )
        if version < 1:
            raise KnowledgeBaseError(f"{self.db_path}: no schema version recorded; not a robot_agent knowledge base")
        if version < SCHEMA_VERSION:
            if self.read_only:
                raise KnowledgeBaseError(
                    f"{self.db_path}: schema version {version} must be migrated to {SCHEMA_VERSION}, which needs "
                    f"write access; run `robot-agent kb migrate --kb {self.path}` (or open it for writing once)"
                )
            self._migrate(version)
        dim = int(meta.get("text_dim", self.text.dim))
        if dim != self.text.dim or meta.get("text_model", self.text.name) != self.text.name:
            raise KnowledgeBaseError(
                f"{self.db_path}: built with text model {meta.get('text_model')} ({dim}-d) but {self.text.name} "
                f"({self.text.dim}-d) is configured; use the same model, or export and re-import elsewhere"
            )
        if self.image is None:
            log.debug("%s: no image embedder: skill knowledge is retrieved by text only", self.path)

    def _create_schema(self) -> None:
        with self._tx() as cur:
            cur.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            cur.execute(
                "CREATE TABLE items (rid INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
                "kind TEXT NOT NULL, skill TEXT, category TEXT, merge_key TEXT NOT NULL, data TEXT NOT NULL, "
                "text_emb BLOB NOT NULL, image_emb BLOB, image_model TEXT, superseded_by TEXT, "
                "updated REAL NOT NULL)"
            )
            cur.execute("CREATE INDEX items_kind ON items(kind, skill)")
            cur.execute("CREATE INDEX items_merge ON items(merge_key)")
            rows = [
                ("schema_version", str(SCHEMA_VERSION)),
                ("text_model", self.text.name),
                ("text_dim", str(self.text.dim)),
                ("created", str(time.time())),
            ]
            cur.executemany("INSERT INTO meta VALUES (?, ?)", rows)

    def _migrate(self, version: int) -> None:
        """Bring an older schema up to date, in one transaction (all or nothing)."""
        if version == 1:
            with self._tx() as cur:
                cur.execute("ALTER TABLE items ADD COLUMN category TEXT")
                cur.execute("ALTER TABLE items ADD COLUMN merge_key TEXT NOT NULL DEFAULT ''")
                for rid, data in list(cur.execute("SELECT rid, data FROM items")):
                    item = self._item(data)
                    cur.execute(
                        "UPDATE items SET category=?, merge_key=? WHERE rid=?",
                        (item.scope.get("object_category"), item.merge_key(), rid),
                    )
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

    def _check_open(self) -> None:
        if self._closed:
            raise KnowledgeBaseError(f"{self.path}: the knowledge base is closed")

    # -- items ----------------------------------------------------------------------------------
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

    # -- active-item map (query-time filter) --------------------------------------------------
    def _load_active(self) -> None:
        rows = self._sql("SELECT rid, kind, skill, category FROM items WHERE superseded_by IS NULL")
        self._active = {rid: (kind, skill, cat) for rid, kind, skill, cat in rows}

    def _activate(self, rid: int, item: KnowledgeItem) -> None:
        if item.superseded_by is None:
            self._active[rid] = (item.kind, item.scope.get("skill"), item.scope.get("object_category"))
