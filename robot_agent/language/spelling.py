"""Typed text as it was meant: typos and chat shorthand respelled before the layer reads it.

An operator typing in a hurry writes "teh", "drwer", "grean", "lowr", "pls" and "u". The grammar
reads none of these, and the sentence model reads a word it has never seen as noise, so "put teh
blue cube in the drawr" asked about a "drawr" that is not in the scene.

Two mechanisms, both about English in general, not about any scene or sentence:

* **Chat shorthand**: the conventional texting spellings of common words ("u", "ur", "pls", "thx",
  "b4", "w8", "fwd") are spelled out, and chat's discourse markers ("lol", "tbh") are dropped like
  "um". This is the standard lexical-normalisation table of chat English, kept short.
* **Typos** (a noisy-channel speller): a word English does not have (not in the frequency
  dictionary ``pyspellchecker`` ships, nor a word of the scene) is replaced by the known word it
  most likely came from. Candidates are the known words one deletion away from the typed word, or
  whose one-deletion forms meet the typed word's (SymSpell's deletion index: that covers a letter
  left out, one too many, one swapped for another, two swapped). Each is scored by what typing
  errors cost: a letter doubled or left undoubled is cheap, a vowel left out or two letters swapped
  ("teh") is cheaper than a consonant left out, a neighbouring key is cheaper than any other
  letter; minus the word's log frequency in English, plus a bonus for the scene's own words
  ("grean" is the green apple here, not "great"). When two candidates score close, the word stays
  as typed: a guess between two words is no reading.

Speech never needs this: a recogniser only writes words of its dictionary.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Iterable
from functools import lru_cache

#: conventional chat spellings of common words (lexical normalisation of texting English)
SHORTHAND = {
    "u": "you",
    "r": "are",
    "n": "and",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "thnx": "thanks",
    "ty": "thank you",
    "b4": "before",
    "w8": "wait",
    "fwd": "forward",
    "bk": "back",
    "abt": "about",
    "cuz": "because",
    "bc": "because",
    "rn": "right now",
    "nvm": "never mind",
    "approx": "about",
    "lg": "large",
    "sm": "small",
    "med": "medium",
    "obv": "obviously",
    "pos": "position",
    "dist": "distance",
    "cont": "continue",
    "asap": "now",
    "thru": "through",
    "tho": "though",
    "ya": "you",
    "yr": "your",
    "em": "them",
    "im": "I'm",
    "ive": "I've",
}
#: chat's discourse markers: they carry no request (like "um" in speech)
MARKERS = {"lol", "lmao", "rofl", "tbh", "ngl", "bruh", "imo", "imho", "fr", "smh", "jk"}
#: the words a typo is respelled to: at least this frequent (rarer ones are no likelier than a typo)
TARGET_COUNT = 500
#: the most a respelling may cost (in typing errors, see :func:`typing_cost`), and per letter typed
MAX_COST = 0.9
MAX_COST_PER_LETTER = 0.3
#: how much a tenfold more frequent word is worth, in typing errors
FREQ_WEIGHT = 0.3
#: a word of the scene is this much likelier
SCENE_BONUS = 0.5
#: the best respelling must lead the next by this much, else the word stays as typed
MARGIN = 0.2

_VOWELS = set("aeiou")
_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_KEY = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
_TOKEN = re.compile(r"[A-Za-z][A-Za-z'\d]*|\d+[A-Za-z]+\d*|\d+")

#: sounds written as words ("erm", "mhm", "uhh", "ahh", "pfft"): no typos of a word
_SOUND = re.compile(r"u+h+|u+m+|e+r+m+|h+m+|m+h+m+|m+|a+h+|o+h+|e+h+|a+w+|a+y+|s+h+|p+f+t+|b+r+|w+h+e+w+")

_lock = threading.Lock()
log = logging.getLogger(__name__)


def _neighbours(a: str, b: str) -> bool:
    if a not in _KEY or b not in _KEY:
        return False
    (ra, ca), (rb, cb) = _KEY[a], _KEY[b]
    return abs(ra - rb) <= 1 and abs(ca - cb) <= 1


@lru_cache(maxsize=1)
def _english() -> tuple[dict[str, int], dict[str, list[str]]]:
    """English word counts, and the deletion index of the words a typo may be respelled to."""
    try:
        from spellchecker import SpellChecker  # noqa: PLC0415 - loaded once, on first typed word
    except ImportError:  # pinned in requirements.txt; without it typos stay as typed
        log.warning("pyspellchecker is not installed: typed words are not respelled (pip install pyspellchecker)")
        return {}, {}
    counts = dict(SpellChecker(distance=1).word_frequency.dictionary)
    index: dict[str, list[str]] = {}
    for w, c in counts.items():
        if c >= TARGET_COUNT and w.isalpha() and len(w) >= 2:
            for x in {w} | {w[:i] + w[i + 1 :] for i in range(len(w))}:
                index.setdefault(x, []).append(w)
    return counts, index


def load() -> None:
    """Read the dictionary now (about 0.7 s), not on the first typed word."""
    with _lock:
        _english()


def typing_cost(typed: str, word: str) -> float:
    """What turning ``word`` into ``typed`` costs in typing errors (a weighted Damerau-Levenshtein
    distance): a doubled letter dropped or added 0.3, a vowel left out 0.4, two letters swapped 0.5,
    a neighbouring key 0.6, an apostrophe left out 0.2, any other letter 0.8-1.0."""

    def delete(i: int) -> float:  # a letter of the word left out of the typed one
        ch = word[i - 1]
        if ch == "'":
            return 0.2
        if i >= 2 and word[i - 2] == ch:
            return 0.3
        return 0.4 if ch in _VOWELS else 0.8

    def insert(j: int) -> float:  # a letter typed that the word lacks
        ch = typed[j - 1]
        return 0.3 if j >= 2 and typed[j - 2] == ch else 0.8

    def sub(a: str, b: str) -> float:
        if a == b:
            return 0.0
        if _neighbours(a, b):
            return 0.6
        return 0.7 if a in _VOWELS and b in _VOWELS else 1.0

    n, m = len(word), len(typed)
    d = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        d[i][0] = d[i - 1][0] + delete(i)
    for j in range(1, m + 1):
        d[0][j] = d[0][j - 1] + insert(j)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best = min(
                d[i - 1][j] + delete(i), d[i][j - 1] + insert(j), d[i - 1][j - 1] + sub(word[i - 1], typed[j - 1])
            )
            if i > 1 and j > 1 and word[i - 1] == typed[j - 2] and word[i - 2] == typed[j - 1]:
                best = min(best, d[i - 2][j - 2] + 0.5)
            d[i][j] = best
    return d[n][m]


def known(word: str, scene: frozenset[str] = frozenset()) -> bool:
    """Whether ``word`` is English (or a word of the scene) as it is spelled."""
    w = word.lower()
    if w in scene or not w.isalpha() and "'" not in w:
        return True
    counts, _ = _english()
    if not counts or w in counts or w.replace("'", "") in counts:
        return True
    return any(v in counts for v in _american(w))  # the dictionary spells American English


def _american(w: str) -> set[str]:
    """The American spellings of a British one ("centimetres", "colour", "tidying", "realise")."""
    out = {re.sub(r"tre(s?)$", r"ter\1", w), re.sub(r"our(s|ed|ing)?$", r"or\1", w), w.replace("our", "or")}
    out |= {re.sub(r"is(e|es|ed|ing|ation)$", r"iz\1", w), re.sub(r"ys(e|es|ed|ing)$", r"yz\1", w)}
    out |= {re.sub(r"ll(ed|ing|er)$", r"l\1", w), w.replace("metre", "meter")}
    return out - {w}


def respelled_word(typed: str, scene: frozenset[str] = frozenset()) -> str:
    """The word ``typed`` most likely meant, or ``typed`` itself when it is English already, too
    short to tell, or two words are about as likely."""
    w = typed.lower()
    if len(w) < 3 or "'" in w or not w.isalpha() or w in scene or re.search(r"(.)\1\1", w) or _SOUND.fullmatch(w):
        return typed  # too short to tell; stretched ("sooo") or a sound ("erm", "mhm"): checks.clean
    counts, index = _english()
    contracted = max((w[:i] + "'" + w[i:] for i in range(1, len(w))), key=lambda c: counts.get(c, 0))
    if counts.get(contracted, 0) > 100 * counts.get(w, 0):
        return contracted  # "dont", "thats": the apostrophe left out (not "its", "ill" or "lets")
    if known(w, scene):
        return typed
    longer = [s for s in scene if s.isalpha() and s.startswith(w) and len(s) >= len(w) + 2]
    if len(longer) == 1:
        return longer[0]  # "cyl": a word of the scene cut short
    found: set[str] = set()
    for x in {w} | {w[:i] + w[i + 1 :] for i in range(len(w))}:
        found.update(index.get(x, ()))
    found.update(s for s in scene if s.isalpha() and abs(len(s) - len(w)) <= 2)
    if w[-1] != "g" and counts.get(w + "g", 0) >= TARGET_COUNT and w.endswith("in"):
        found.add(w + "g")  # "stickin": the g dropped in writing as said
    scored = []
    for cand in found:
        cost = typing_cost(w, cand)
        if cost > min(MAX_COST, MAX_COST_PER_LETTER * len(w)):
            continue
        score = cost - FREQ_WEIGHT * math.log10(max(counts.get(cand, 0), 1)) - SCENE_BONUS * (cand in scene)
        scored.append((score, cand))
    if not scored:
        return typed
    scored.sort()
    if len(scored) > 1 and scored[1][0] - scored[0][0] < MARGIN:
        return typed
    return scored[0][1]


def _not_a_noun(word: str) -> bool:
    """Whether ``word`` cannot follow "your": a verb's -ing form, "gonna", or a word WordNet knows
    only as an adjective or adverb ("too", "nearly", "off")."""
    if word.endswith(("ing", "in'")) or word in ("gonna", "not", "a", "an", "the"):
        return True
    from robot_agent.language import wordnet  # noqa: PLC0415 - only for "ur"

    wn = wordnet.load()
    if wn is None:
        return False
    return not wn.synsets(word, "n") and bool(wn.synsets(word, "a") or wn.synsets(word, "r"))


def respelled(text: str, scene_words: Iterable[str] = ()) -> str:
    """``text`` with chat shorthand spelled out, chat markers dropped and typos respelled; the
    same string when nothing needed it."""
    scene = frozenset(w.lower() for w in scene_words)

    def one(m: re.Match[str]) -> str:
        tok = m.group(0)
        low = tok.lower()
        if low in MARKERS:
            return ""
        if low in SHORTHAND:
            return SHORTHAND[low]
        if low == "ur":  # "ur hitting it", "ur gonna clip it" / "lower ur fingers"
            nxt = re.match(r"\W*([a-z']+)", text[m.end() :].lower())
            return "you're" if nxt and _not_a_noun(nxt.group(1)) else "your"
        if tok[0].isupper():
            return tok  # a name ("Mrs Patel") is no typo; typed chat has no capitals
        return respelled_word(tok, scene)

    said = text
    # typed notation: an arrow for "to" ("beaker -> bin", "arm => home"), "+"/"&" for "and",
    # "w/" and "w/o" for "with"/"without"
    text = re.sub(r"\s*(?:-+>|=+>|\u2192|\u21d2)\s*", " to ", text)
    text = re.sub(r"(?<=[\w)])\s*[+&]\s*(?=[\w(])", " and ", text)
    text = re.sub(r"\bw/o\b", "without", text, flags=re.IGNORECASE)
    text = re.sub(r"\bw/(?=\s|[a-z])", "with ", text, flags=re.IGNORECASE)
    with _lock:
        out = _TOKEN.sub(one, text)
    out = re.sub(r"\b4 (?=(?:me|you|us|her|him|them|now)\b)", "for ", out)  # "hold it 4 me"
    out = re.sub(r"\s{2,}", " ", out).strip()
    return out if out.split() != said.split() else said
