"""Quantities: numbers with distance, angle and percent units, bare numbers, and word amounts."""

from __future__ import annotations

import math
import re

from robot_agent.language.grammar.lexicon import (
    _ANGLE_UNITS,
    _DIR_WORD,
    _DIST_UNITS,
    _MAGNITUDE_RE,
    _PERCENT,
    _SMALL_NUMBERS,
    _TENS,
)
from robot_agent.language.grammar.patterns import PARTS
from robot_agent.language.grammar.state import _Mag, _ParseBase


def and_a_fraction(toks: list[str], i: int, articles: tuple[str, ...] = ("a",)) -> float:
    """What "and a half" / "and a quarter" at token ``i`` adds (0.5, 0.25), else 0.0."""
    if toks[i : i + 1] == ["and"] and toks[i + 1 : i + 2] and toks[i + 1] in articles:
        return {"half": 0.5, "quarter": 0.25}.get(toks[i + 2] if i + 2 < len(toks) else "", 0.0)
    return 0.0


class _Quantities(_ParseBase):
    """Numbers with units ("2 cm", "15 degrees", "50 percent") and word amounts ("a bit")."""

    def number_at(self, i: int) -> tuple[float, int] | None:
        toks, n = self.tokens, len(self.tokens)
        if i >= n:
            return None
        t = toks[i]
        val: float | None = None
        j = i + 1
        if re.fullmatch(r"\d+(?:\.\d+)?|\.\d+", t):
            val = float(t)
            if j + 1 < n and toks[j] == "/" and re.fullmatch(r"\d+", toks[j + 1]) and float(toks[j + 1]) > 0:
                val /= float(toks[j + 1])
                j += 2
        elif t in _TENS:
            val = float(_TENS[t])
            if j < n and toks[j] in _SMALL_NUMBERS and 0 < _SMALL_NUMBERS[toks[j]] < 10:
                val += _SMALL_NUMBERS[toks[j]]
                j += 1
        elif t in _SMALL_NUMBERS:
            val = float(_SMALL_NUMBERS[t])
        elif t in ("half", "quarter"):
            val = 0.5 if t == "half" else 0.25
            if j < n and toks[j] == "of":
                j += 1
            if j < n and toks[j] in ("a", "an"):
                j += 1
        elif t in ("a", "an") and j < n and toks[j] in ("half", "quarter", "third", "fifth", "tenth", "couple", "few"):
            val = {"couple": 2.0, "few": 3.0}.get(toks[j]) or PARTS[toks[j]]
            j += 1
            if j < n and toks[j] == "of":
                j += 1
            if j < n and toks[j] in ("a", "an") and val < 1:
                j += 1
        elif t == "several":
            val = 3.0
        if val is None:
            return None
        if j < n and toks[j] in PARTS and t not in ("half", "quarter", "a", "an"):
            # "three quarters of an inch", "two thirds of a centimetre": the count times the part
            val *= PARTS[toks[j]]
            j += 1
            if j < n and toks[j] == "of":
                j += 1
            if j < n and toks[j] in ("a", "an"):
                j += 1
            return val, j
        if j + 1 < n and toks[j] == "point" and re.fullmatch(r"\d+", toks[j + 1]):
            val += float("0." + toks[j + 1])
            j += 2
        elif j + 1 < n and toks[j] == "point" and toks[j + 1] in _SMALL_NUMBERS and _SMALL_NUMBERS[toks[j + 1]] < 10:
            val += _SMALL_NUMBERS[toks[j + 1]] / 10
            j += 2
        if frac := and_a_fraction(toks, j, ("a", "one")):
            val += frac
            j += 3
        if j < n and toks[j] == "hundred":
            val *= 100
            j += 1
        return val, j

    def find_quantities(self) -> None:
        toks, n = self.tokens, len(self.tokens)
        i = 0
        while i < n:
            if self.used[i]:
                i += 1
                continue
            t = toks[i]
            if t in ("a", "an", "one") and i + 1 < n and (toks[i + 1] in _DIST_UNITS or toks[i + 1] in _ANGLE_UNITS):
                num: tuple[float, int] | None = (1.0, i + 1)
            else:
                num = self.number_at(i)
            if num is None:
                i += 1
                continue
            val, j = num
            val = min(val, 1e9) if math.isfinite(val) else 1e9  # absurd amounts stay finite, then get refused
            more_at = -1
            if j + 1 < n and toks[j] in ("more", "extra", "further", "farther") and toks[j + 1] in _DIST_UNITS:
                more_at, j = j, j + 1  # "ten more centimetres": the amount of a change; "more" stays to be read
            unit = toks[j] if j < n else ""
            follow = toks[j + 1] if j + 1 < n else ""
            if unit in _DIST_UNITS and not (unit == "m" and follow == "'"):
                end = j + 1
                if frac := and_a_fraction(toks, end):  # "an inch and a half"
                    val += frac
                    end += 3
                self.mags.append(_Mag(i, end, None, val * _DIST_UNITS[unit]))
                self.use_toks(i, end)
                if more_at >= 0:
                    self.used[more_at] = False
                i = end
            elif (
                unit == "in"
                and (not follow or follow in _DIR_WORD or follow in ",.;!?" or follow in ("to", "and"))
                and re.fullmatch(r"[\d.]+", t)
            ):
                self.mags.append(_Mag(i, j + 1, None, val * 0.0254))
                self.use_toks(i, j + 1)
                i = j + 1
            elif unit in _ANGLE_UNITS:
                self.angles.append((i, j + 1, val * _ANGLE_UNITS[unit]))
                self.use_toks(i, j + 1)
                i = j + 1
            elif unit in _PERCENT or (unit == "per" and follow == "cent"):
                end = j + (2 if unit == "per" else 1)
                self.percents.append((i, end, val))
                self.use_toks(i, end)
                i = end
            else:
                if re.fullmatch(r"[\d.]+", t) or (t not in ("one", "a", "an") and t in _SMALL_NUMBERS) or t in _TENS:
                    self.bare.append((i, j, val))
                i = j

    def find_magnitudes(self) -> None:
        for cls, rx in _MAGNITUDE_RE:
            for m in rx.finditer(self.s):
                i, j = self.span(m.start(), m.end())
                if any(self.used[i:j]):
                    continue
                prev = self.tokens[i - 1] if i > 0 else ""
                if cls == "small" and m.group() in ("little", "bit") and prev in ("the", "this", "that"):
                    continue  # "the little block" is a size, not an amount
                if m.group() == "far" and prev in ("too", "so", "that", "as", "how"):
                    continue
                if m.group() in ("way", "much") and prev in (
                    "the",
                    "that",
                    "this",
                    "too",
                    "so",
                    "other",
                    "wrong",
                    "as",
                    "how",
                ):
                    continue  # "the other way", "too much": not an amount
                self.mags.append(_Mag(i, j, cls))
                self.use_toks(i, j)
        self.mags.sort(key=lambda g: g.start)

    def take_mag(self, tok: int, before: int = 4, after: int = 3) -> _Mag | None:
        """The nearest unclaimed magnitude around token ``tok`` (ties: the one before)."""
        best: tuple[int, int, _Mag] | None = None
        for g in self.mags:
            if g.claimed:
                continue
            if g.end <= tok:
                d = tok - g.end + 1
                if d > before:
                    continue
                key = (d, 0, g)
            elif g.start > tok:
                d = g.start - tok
                if d > after:
                    continue
                key = (d, 1, g)
            else:
                key = (0, 0, g)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            return None
        best[2].claimed = True
        return best[2]

    def word_class(self, tok: int, before: int = 4, after: int = 3) -> tuple[str, _Mag | None]:
        g = self.take_mag(tok, before, after)
        if g is None:
            return "medium", None
        return (g.cls or "medium"), g
