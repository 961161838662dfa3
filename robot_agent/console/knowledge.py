"""The console's knowledge panel: the operations of ``robot-agent kb`` (search, view, edit, delete,
restore a demoted or retired item), plus undo of the panel's own deletes and edits, on the agent's
knowledge base.

Next to ``robot-agent up --console`` the panel works on the agent's own store (the object the
agent retrieves from, so an edit counts at the next retrieval, and no second writer lock is
needed). A console started on its own (``robot-agent console``) opens the store at
``memory.kb_dir`` read-only for searching and viewing; an edit or delete then needs the writer
lock, which a running agent holds, and the panel says so (as ``kb edit`` does).

Undo: every delete and edit keeps the item as it was; :meth:`KnowledgePanel.undo` puts the
last one back (a deleted item is added again with its id, counts and provenance; an edited one
gets its old fields). A restored skill item has no image embedding (text retrieval only).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from robot_agent.errors import KnowledgeBaseError

#: most undo steps kept
UNDO_DEPTH = 50
#: longest rule text accepted from the page (characters)
MAX_RULE_CHARS = 500
#: most parameters in one edit
MAX_PARAMETERS = 32


class KnowledgeError(Exception):
    """A panel operation that cannot be done; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def item_dict(item: Any, score: float | None = None) -> dict[str, Any]:
    """An item for the page: its fields, provenance and use counts (and the search score)."""
    d = item.to_dict()
    if score is not None:
        d["score"] = round(float(score), 4)
    return d


def _check_parameters(params: Any) -> dict[str, Any]:
    """Numbers, lists of up to 3 numbers, short words or booleans: what skill parameters are."""
    if not isinstance(params, Mapping) or len(params) > MAX_PARAMETERS:
        raise KnowledgeError(f"parameters must be a mapping of at most {MAX_PARAMETERS} names")
    out: dict[str, Any] = {}
    for name, value in params.items():
        if not isinstance(name, str) or not name.isidentifier() or len(name) > 64:
            raise KnowledgeError(f"parameter name {name!r} is not a name")
        values = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not 1 <= len(value) <= 3:
            raise KnowledgeError(f"parameter {name}: a list holds 1 to 3 numbers")
        for v in values:
            if isinstance(v, bool) or (isinstance(v, str) and len(v) <= 64 and not isinstance(value, list)):
                continue
            if not isinstance(v, (int, float)) or not math.isfinite(float(v)):
                raise KnowledgeError(f"parameter {name}: {v!r} is not a finite number, a word or true/false")
        out[name] = value
    return out


class KnowledgePanel:
    """Search, view, edit, delete and undo on a knowledge base.

    Args:
        get_kb: the agent's own store (None while it is not built yet), for a console in the
            agent's process.
        open_kb: opens the store at the configured directory (``read_only`` as argument), for a
            console on its own.
    """

    def __init__(
        self,
        get_kb: Callable[[], Any] | None = None,
        open_kb: Callable[[bool], Any] | None = None,
    ) -> None:
        self._get_kb = get_kb
        self._open_kb = open_kb
        self._reader: Any = None
        self._undo: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def _kb(self, write: bool) -> tuple[Any, bool]:
        """(store, opened here: close it after use)."""
        if self._get_kb is not None:
            kb = self._get_kb()
            if kb is None:
                raise KnowledgeError("the agent has no knowledge base yet (still loading, or memory is off)", 503)
            return kb, False
        if self._open_kb is None:
            raise KnowledgeError("no knowledge base is configured for this console", 503)
        if not write:
            if self._reader is None:
                self._reader = self._open_kb(True)
            return self._reader, False
        try:
            return self._open_kb(False), True
        except KnowledgeBaseError as exc:
            raise KnowledgeError(
                f"cannot change the knowledge base: {exc} (a running agent holds its writer lock; "
                f"start the console with `robot-agent up sim|hardware --console` to edit it live)",
                409,
            ) from None

    def _run(self, write: bool, fn: Callable[[Any], Any]) -> Any:
        with self._lock:
            kb, close = self._kb(write)
            try:
                return fn(kb)
            except KnowledgeBaseError as exc:
                status = 404 if "no knowledge item" in str(exc) else 400
                raise KnowledgeError(str(exc), status) from None
            finally:
                if close:
                    kb.close()

    # -- reading -------------------------------------------------------------------------------------
    def search(self, text: str, k: int = 20, kind: str | None = None) -> list[dict[str, Any]]:
        """Items best first by meaning (no threshold, as ``kb search``); an empty text lists them all."""
        text = (text or "").strip()[:500]
        k = max(1, min(100, int(k)))
        if kind not in (None, "", "plan", "skill", "phrase"):
            raise KnowledgeError(f"unknown kind {kind!r}; valid: plan, skill, phrase")
        if not text:
            return self._run(False, lambda kb: [item_dict(i) for i in kb.list(kind=kind or None)[:k]])
        return self._run(False, lambda kb: [item_dict(i, s) for i, s in kb.search(text, k=k, kind=kind or None)])

    def get(self, item_id: str) -> dict[str, Any]:
        return self._run(False, lambda kb: item_dict(kb.get(item_id)))

    def undo_depth(self) -> int:
        return len(self._undo)

    # -- writing -------------------------------------------------------------------------------------
    def edit(self, item_id: str, rule: str | None = None, parameters: Any = None) -> dict[str, Any]:
        """Change an item's rule and/or parameters (each replaces the whole field), as ``kb edit``."""
        fields: dict[str, Any] = {}
        if rule is not None:
            if not isinstance(rule, str) or not rule.strip() or len(rule) > MAX_RULE_CHARS:
                raise KnowledgeError(f"the rule must be 1..{MAX_RULE_CHARS} characters")
            fields["rule"] = " ".join(rule.split())
        if parameters is not None:
            fields["parameters"] = _check_parameters(parameters)
        if not fields:
            raise KnowledgeError("nothing to change: give a rule or parameters")

        def do(kb: Any) -> dict[str, Any]:
            before = kb.get(item_id).to_dict()
            after = kb.update(item_id, **fields)
            self._push("edit", before)
            return item_dict(after)

        return self._run(True, do)

    def delete(self, item_id: str) -> dict[str, Any]:
        def do(kb: Any) -> dict[str, Any]:
            before = kb.get(item_id).to_dict()
            kb.delete(item_id)
            self._push("delete", before)
            return {"deleted": item_id, "undo": len(self._undo)}

        return self._run(True, do)

    def restore(self, item_id: str) -> dict[str, Any]:
        """Make a demoted or retired item active again (``kb restore``); its counts stay."""

        def do(kb: Any) -> dict[str, Any]:
            if not callable(getattr(kb, "restore", None)):
                raise KnowledgeError("this knowledge base has no demoted or retired items to restore", 409)
            return item_dict(kb.restore(item_id))

        return self._run(True, do)

    def undo(self) -> dict[str, Any]:
        """Put back the item of the last delete or edit."""
        if not self._undo:
            raise KnowledgeError("nothing to undo", 409)
        action, before = self._undo[-1]

        def do(kb: Any) -> dict[str, Any]:
            if action == "delete":
                restored = kb.add(before, merge=False)
            else:
                fields = {k: before[k] for k in ("rule", "scope", "parameters", "provenance")}
                restored = kb.update(before["id"], **fields)
            self._undo.pop()
            return {"restored": item_dict(restored), "undid": action, "undo": len(self._undo)}

        return self._run(True, do)

    def _push(self, action: str, before: dict[str, Any]) -> None:
        self._undo.append((action, before))
        del self._undo[:-UNDO_DEPTH]

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
