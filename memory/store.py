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
import json
import os
import sqlite3
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from memory.database import DB_NAME, LOCK_NAME, SCHEMA_VERSION, _blob, _insert
from memory.embedders import ImageEmbedder, TextEmbedder
from memory.item import KnowledgeItem
from memory.retrieval import _Retrieval
from memory.writes import _Writes
from robot_agent.config import MemoryConfig
from robot_agent.deps import require
from robot_agent.errors import KnowledgeBaseError, KnowledgeBaseLockedError
from robot_agent.fsutil import LockBusy, acquire_lock, atomic_open, lock_held, release_lock


class KnowledgeBase(_Writes, _Retrieval):
    """Distilled knowledge with text and visual retrieval.

    Thread-safe: one lock serializes every public call (the ROS node saves from a timer
    while the agent adds from its worker).

    The methods live by job: SQLite access and the schema in :mod:`memory.database`, the
    FAISS indexes in :mod:`memory.indexes`, reads in :mod:`memory.retrieval`, writes in
    :mod:`memory.writes`; this class opens, locks, saves and closes the store, and moves
    it whole to and from an export file.

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

    def __init__(
        self,
        path: str | os.PathLike[str],
        text_embedder: TextEmbedder,
        image_embedder: ImageEmbedder | None = None,
        config: MemoryConfig | None = None,
        read_only: bool = False,
    ) -> None:
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
        #: per approximate index: lists, nprobe and the recall@10 measured when it was built
        self._index_info: dict[str, dict[str, Any]] = {}
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
                f"open it read-only, or stop the other process"
            ) from None

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            release_lock(fd)

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

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save(self) -> None:
        """Write every changed index now (``close()`` does it too). Items are durable without it."""
        with self._mutex:
            self._check_open()
            if not self.read_only:
                self._save_all()

    def stats(self) -> dict[str, Any]:
        """Counts, models, index sizes, kinds and recall@10 (see :meth:`index_stats`), schema version."""
        with self._mutex:
            self._check_open()
            rows = self._sql("SELECT kind, COUNT(*), SUM(superseded_by IS NOT NULL) FROM items GROUP BY kind")
            by_kind = {k: {"active": int(n - (s or 0)), "superseded": int(s or 0)} for k, n, s in rows}
            indexes = {name: self.index_stats(name) for name in self._indexes}
            return {
                "path": str(self.path),
                "items": len(self._active),
                "by_kind": by_kind,
                "text_model": self.text.name,
                "image_model": self.image.name if self.image else None,
                "indexes": indexes,
                "schema_version": int(self._meta().get("schema_version", 0)),
                "read_only": self.read_only,
            }

    # -- export / import --------------------------------------------------------------------------
    def export(self, path: str | os.PathLike[str]) -> int:
        """Write every item (superseded ones too) with its embeddings to a JSON-lines file.

        The file is written atomically. Returns the number of items.
        """
        with self._mutex:
            self._check_open()
            n = 0
            with atomic_open(path, "w") as fh:
                fh.write(
                    json.dumps(
                        {
                            "robot_agent_kb_export": SCHEMA_VERSION,
                            "text_model": self.text.name,
                            "text_dim": self.text.dim,
                        }
                    )
                    + "\n"
                )
                for data, temb, iemb, imodel in self._sql(
                    "SELECT data, text_emb, image_emb, image_model FROM items ORDER BY rid"
                ):
                    rec = {
                        "item": json.loads(data),
                        "text_emb": base64.b64encode(temb).decode(),
                        "image_emb": base64.b64encode(iemb).decode() if iemb else None,
                        "image_model": imodel,
                    }
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
            raise KnowledgeBaseError(
                f"{p}:1: export of schema {head.get('robot_agent_kb_export')} with text model "
                f"{head.get('text_model')}; this knowledge base uses {SCHEMA_VERSION} / "
                f"{self.text.name}"
            )
        records = []
        for no, line in enumerate(lines[1:], 2):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                item = KnowledgeItem.from_dict(rec["item"])
                temb = np.frombuffer(base64.b64decode(rec["text_emb"], validate=True), dtype=np.float32)
                iemb = (
                    np.frombuffer(base64.b64decode(rec["image_emb"], validate=True), dtype=np.float32)
                    if rec.get("image_emb")
                    else None
                )
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
                    usable = (
                        iemb
                        if self.image is not None
                        and imodel == self.image.name
                        and iemb is not None
                        and iemb.size == self.image.dim
                        else None
                    )
                    added.append((rid, item, temb, usable))
            for rid, item, _, _ in added:
                self._activate(rid, item)
            self._index_add(added)
            return len(added)


def open_knowledge_base(
    config: MemoryConfig,
    *,
    read_only: bool = False,
    text_embedder: TextEmbedder | None = None,
    image_embedder: ImageEmbedder | None = None,
) -> KnowledgeBase:
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
    image = image_embedder or make_image_embedder(config.image_model, config.image_weights, config.image_model_config)
    return KnowledgeBase(config.kb_path, text, image, config, read_only=read_only)
