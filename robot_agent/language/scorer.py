"""Scoring an utterance against rendered meanings with the embedded sentence model (MiniLM).

Two measures from one forward pass of the utterance: whole-sentence cosine similarity (what
the sentence is about) and a word alignment (each word's best match in the rendering, and
back, as BERTScore does), which keeps the specific words ("handle" against "rim", "leftward"
against "left") from being averaged away. Renderings are embedded once and cached, so a scene's
candidates cost one batch when the scene is first seen and nothing after; the utterances and the
phrases grounded from them are kept too (fewer), since a scene's noun phrases recur.

A forward pass of one short phrase is bound by reading the model's weights (about 90 MB), not
by arithmetic: several phrases in one batch cost little more than one. :meth:`deferring` lets
a caller list the phrases a dry run of its own would ask for, and :meth:`embed_queries` embeds
them in one batch before the real run.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

#: weight of the word alignment against the sentence cosine
ALIGN_WEIGHT = 0.5
#: most renderings kept embedded
CACHE_SIZE = 20000
#: most utterance phrases kept embedded: the noun phrases grounded ("the plate", "the drawer")
#: come back utterance after utterance in one scene, and each costs a forward pass of its own
#: (about 14 kB each: a sentence vector and its word vectors)
QUERY_CACHE_SIZE = 1024
_Caches = tuple[OrderedDict[str, Any], OrderedDict[str, Any], threading.Lock]
_CACHES: weakref.WeakKeyDictionary[Any, _Caches] = weakref.WeakKeyDictionary()


class Scorer:
    """Similarity of utterances to sentences, with a cache of the sentences' embeddings.

    Args:
        embedder: a :class:`memory.embedders.TextEmbedder`; with ``embed_tokens`` (MiniLM) the
            word alignment is used, else the sentence cosine alone.
    """

    def __init__(self, embedder: object) -> None:
        self.embedder = embedder
        # One cache per embedder, shared by every scorer on it (layers made per task or per test).
        try:
            self._cache, self._queries, self._lock = _CACHES.setdefault(
                embedder, (OrderedDict(), OrderedDict(), threading.Lock())
            )
        except TypeError:  # an embedder that cannot be weakly referenced: caches of its own
            self._cache, self._queries, self._lock = OrderedDict(), OrderedDict(), threading.Lock()
        self._tokens = hasattr(embedder, "embed_tokens")
        self._deferred = threading.local()  # per thread: the phrases a dry run asked for

    def _embed(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray | None]]:
        if self._tokens:
            sent, toks = self.embedder.embed_tokens(list(texts))  # type: ignore[attr-defined]
            return [(sent[i], toks[i]) for i in range(len(texts))]
        sent = self.embedder.embed(list(texts))  # type: ignore[attr-defined]
        return [(sent[i], None) for i in range(len(texts))]

    def warm(self, sentences: Sequence[str]) -> None:
        """Embed the sentences not cached yet (one batch)."""
        with self._lock:
            missing = list(dict.fromkeys(s for s in sentences if s not in self._cache))
        if not missing:
            return
        vecs = []
        for i in range(0, len(missing), 256):
            vecs += self._embed(missing[i : i + 256])
        self._keep(self._cache, missing, vecs, CACHE_SIZE)

    def query(self, text: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The sentence vector and word vectors of an utterance or a phrase of it, kept for later
        utterances (least recently used first out): a scene's noun phrases come back again and
        again, and each would cost a forward pass."""
        text = self._phrase(text)
        with self._lock:
            hit = self._queries.get(text)
            if hit is not None:
                self._queries.move_to_end(text)
                return hit
        missed = getattr(self._deferred, "missed", None)
        if missed is not None:  # a dry run: note it, answer "like nothing" (every score 0), keep nothing
            missed.append(text)
            return np.zeros(int(getattr(self.embedder, "dim", 384)), np.float32), None
        vec = self._embed([text])[0]
        self._keep(self._queries, [text], [vec], QUERY_CACHE_SIZE)
        return vec

    def _keep(self, cache: OrderedDict[str, Any], texts: Sequence[str], vecs: Sequence[Any], size: int) -> None:
        """Keep embeddings in one of the caches, the least recently used out beyond ``size``."""
        with self._lock:
            for t, v in zip(texts, vecs, strict=True):
                cache[t] = v
            while len(cache) > size:
                cache.popitem(last=False)

    @staticmethod
    def _phrase(text: str) -> str:
        return re.sub(r"^(?:the\s+)+the\b", "the", text)  # "the the blue cube": a phrase given its article twice

    @contextmanager
    def deferring(self) -> Iterator[list[str]]:
        """Within it (in this thread), :meth:`query` embeds nothing: a phrase not kept yet is
        noted in the list yielded and scores 0 against everything. A dry run of an understanding
        inside it lists the phrases the real run will ask for (those its control flow reaches
        with every unknown phrase scoring 0), for :meth:`embed_queries` to embed in one batch."""
        missed: list[str] = []
        outer = getattr(self._deferred, "missed", None)
        self._deferred.missed = missed
        try:
            yield missed
        finally:
            self._deferred.missed = outer

    def embed_queries(self, texts: Sequence[str]) -> int:
        """Embed the phrases not kept yet in one batch and keep them as :meth:`query` would;
        the number embedded."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in map(self._phrase, texts) if t not in self._queries))
        missing = missing[: QUERY_CACHE_SIZE // 4]  # never a batch that evicts what it embeds
        if not missing:
            return 0
        self._keep(self._queries, missing, self._embed(missing), QUERY_CACHE_SIZE)
        return len(missing)

    def forget_queries(self) -> None:
        """Drop the phrases kept from earlier utterances (the renderings stay): for timing an
        utterance as if its words had not been heard before."""
        with self._lock:
            self._queries.clear()

    def scores(self, query: tuple[np.ndarray, np.ndarray | None], sentences: Sequence[str]) -> np.ndarray:
        """Similarity of the query to each sentence (0..1-ish; higher is closer)."""
        self.warm(sentences)
        qv, qt = query
        with self._lock:
            rows = [self._cache[s] for s in sentences]
        out = (np.stack([r[0] for r in rows]) @ qv).astype(np.float32) if rows else np.empty(0, np.float32)
        if qt is None or not len(qt):
            return out
        # The word alignment of every sentence at once: one product of the query's word vectors
        # with all the sentences' word vectors side by side, then each sentence's block reduced.
        aligned = [i for i, r in enumerate(rows) if r[1] is not None and len(r[1])]
        if not aligned:
            return out
        blocks = [rows[i][1] for i in aligned]
        lens = np.array([len(b) for b in blocks])
        starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
        sim = qt @ np.concatenate(blocks).T  # (query words, all sentence words)
        recall = np.maximum(np.maximum.reduceat(sim, starts, axis=1).mean(axis=0), 0.0)
        precision = np.maximum(np.add.reduceat(sim.max(axis=0), starts) / lens, 0.0)
        f1 = 2 * recall * precision / np.maximum(recall + precision, 1e-9)
        idx = np.array(aligned)
        out[idx] = (1 - ALIGN_WEIGHT) * out[idx] + ALIGN_WEIGHT * f1
        return out

    def word_match(self, query: tuple[np.ndarray, np.ndarray | None], words: Sequence[str]) -> np.ndarray:
        """For each anchor word, its best similarity to any word of the query (word vectors)."""
        self.warm(words)
        qv, qt = query
        with self._lock:
            rows = [self._cache[w] for w in words]
        if qt is None or not len(qt):
            return np.stack([r[0] for r in rows]) @ qv
        return np.array(
            [float((qt @ r[1].T).max()) if r[1] is not None and len(r[1]) else float(r[0] @ qv) for r in rows],
            dtype=np.float32,
        )
