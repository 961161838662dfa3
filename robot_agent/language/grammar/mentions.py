"""Mentions of objects and their grounding in the scene."""

from __future__ import annotations

import math
import re

from robot_agent.language.grammar.lexicon import (
    _ANGLE_UNITS,
    _DIST_UNITS,
    _KNOWN_WORDS,
    _QUANTIFIERS,
    DEFAULT_OBJECT_SIZE,
    MAX_REFERENCE_SIZE,
)
from robot_agent.language.grammar.object_words import (
    _COLOR_CANON,
    _COLORS,
    _DETERMINERS,
    _GENERIC_HEADS,
    _NOUN_CATEGORY,
    _POS_ADJ,
    _PRONOUNS,
    _SHAPE_ADJ,
    _SIZE_ADJ,
)
from robot_agent.language.grammar.quantities import _Quantities, and_a_fraction
from robot_agent.language.grammar.state import _a, _Mention, _or_list, _singular
from skills.types import ObjectInfo

#: words that may follow an object said by its adjectives alone ("a small one" elided: "a small,
#: please", "a small into the bowl"); any other word after "a <size>" is what the size is of
_LINKS = frozenset("and or to into in inside on onto of for please then from with at by".split())
#: nouns of a path, a side or a time that follow "the other", "the same", "the opposite": no object
_NOT_THINGS = frozenset("way ways direction directions side sides end time times".split())


class _Mentions(_Quantities):
    """Object mentions ("the red one", "the mug's handle") and their grounding in the scene."""

    def find_mentions(self) -> None:
        toks, n = self.tokens, len(self.tokens)
        adj_words = _COLORS | set(_SIZE_ADJ) | set(_POS_ADJ) | _SHAPE_ADJ | {"other", "same"}
        i = 0
        while i < n:
            t = toks[i]
            ref_at = i + 1 if t in _DETERMINERS and i + 1 < n and toks[i + 1].startswith("@") else i
            if toks[ref_at].startswith("@"):
                name = self.ref_names.get(toks[ref_at], "")
                det = t if ref_at > i else None
                self.mentions.append(
                    _Mention(
                        i, ref_at + 1, name, [name], [], det=det, refs=[name] if name else [], exact=True, text=name
                    )
                )
                i = ref_at + 1
                continue
            if t in _PRONOUNS:
                self.mentions.append(_Mention(i, i + 1, t, [], [], pronoun=True, text=t))
                i += 1
                continue
            j = i
            det = None
            if t in _DETERMINERS:
                det = t
                j += 1
            adjs: list[str] = []
            k = j
            phrase_words = adj_words | self.nouns | _GENERIC_HEADS
            while k < n and toks[k] in adj_words:
                if toks[k] in _NOUN_CATEGORY and (k + 1 >= n or toks[k + 1] not in phrase_words):
                    break  # "the orange" alone is the fruit, "the orange block" the colour
                adjs.append(toks[k])
                k += 1
            heads: list[str] = []
            plural = False
            while k < n:
                if toks[k] == "one" and (
                    toks[k + 1 : k + 2]
                    and (toks[k + 1] in _DIST_UNITS or toks[k + 1] in _ANGLE_UNITS)
                    or and_a_fraction(toks, k + 1)
                ):
                    break  # "left one and a half inches", "up one centimetre": an amount, not "the left one"
                word, pl = _singular(toks[k], self.nouns | _GENERIC_HEADS)
                if word in self.nouns or word in _GENERIC_HEADS:
                    heads.append(word)
                    plural = pl or word == "ones"
                    k += 1
                    if word in _GENERIC_HEADS:
                        break
                else:
                    break
            if heads:
                head = heads[-1]
                mods = heads[:-1]
            elif (
                det in ("a", "an")
                and adjs
                and all(a in _SIZE_ADJ for a in adjs)
                and k < n
                and re.fullmatch(r"[a-z]+", toks[k])
                and toks[k] not in _LINKS
            ):
                i = k  # "a tiny push", "a little nudge": the size of something said, not a thing
                continue
            elif adjs and det is not None and k < n and toks[k] in _NOT_THINGS:
                i = k + 1  # "go back the other way", "the other side": a way or a side, not a thing
                continue
            elif adjs and det is not None and any(a in _COLORS or a in _SIZE_ADJ or a == "other" for a in adjs):
                head, mods = "one", []
            elif (
                det is not None
                and det not in _QUANTIFIERS
                and j < n
                and re.fullmatch(r"[a-z]{3,}", toks[j])
                and toks[j] not in _KNOWN_WORDS
            ):
                self.mentions.append(_Mention(i, j + 1, toks[j], [toks[j]], [], det=det, unknown=True, text=toks[j]))
                i = j + 1
                continue
            else:
                i += 1
                continue
            if head in ("one", "ones") and not adjs and not mods and det in ("that", "this", "those", "these"):
                self.mentions.append(_Mention(i, k, head, [], [], det=det, pronoun=True, text=f"{det} {head}"))
                i = k
                continue
            words = [
                _COLOR_CANON.get(a, a)
                for a in adjs
                if a in _COLORS or (a in self.scene_words and a not in _SIZE_ADJ and a not in _POS_ADJ)
            ]
            words += [w for w in [*mods, head] if w not in _GENERIC_HEADS]
            m = _Mention(
                i,
                k,
                head,
                words,
                adjs,
                det=det,
                plural=plural,
                other="other" in adjs or det == "another",
                text=" ".join(toks[j:k]),
            )
            m.refs = self.match(m)
            self.mentions.append(m)
            i = k
        self.positional_mentions()
        for m in self.mentions:
            back = m.start - 1
            steps = 0
            while back >= 0 and steps < 3 and toks[back] not in (",", ";", ".", "!", "?", "but"):
                if toks[back] in ("not", "never", "wrong") or (toks[back] == "no" and back + 1 == m.start):
                    m.negated = True
                    break
                back -= 1
                steps += 1

    def positional_mentions(self) -> None:
        """ "the one on the left", "the block at the back": a position word after the noun picks the object."""
        for m in self.mentions:
            if m.pronoun or m.exact or m.unknown:
                continue
            after = " ".join(self.tokens[m.end : m.end + 5])
            pos = re.match(r"(?:on|at|in) the (left|right|front|back|far side|near side)\b", after)
            if pos is None:
                # "the one furthest away", "the block nearest to me": a superlative after the noun,
                # measured from the operator (not "nearest the drawer": that is from an object)
                pos = re.match(
                    r"(?:(?:that's|that is|which is) )?(furthest|farthest|nearest|closest)"
                    r"(?: (?:away|out|back|(?:from|to) (?:me|you|us)))?\b(?! (?:to |from )?(?:the|that|this|a|an)\b)",
                    after,
                )
            if pos is None:
                continue
            word = {"far side": "far", "near side": "near"}.get(pos.group(1), pos.group(1))
            m.adjs.append(word)
            m.end += len(pos.group().split())
            m.refs = self.match(m)

    def match(self, m: _Mention) -> list[str]:
        """Scene objects a noun phrase can mean, narrowed by size and position words."""
        if not self.objects:
            return []
        words = list(m.words)
        cands = [o for o in self.objects if all(w in self.desc[o.name] for w in words)]
        if not cands and len(words) > 1:
            head = [m.head] if m.head not in _GENERIC_HEADS else []
            colors = [w for w in words if w in _COLORS]
            cands = [o for o in self.objects if all(w in self.desc[o.name] for w in head + colors)]
        if m.head in _GENERIC_HEADS and not m.other and not any(w in _COLORS for w in words):
            base = self.ctx.find(self.ctx.object)
            same = [o for o in cands if base is not None and o.category == base.category]
            if same:
                cands = same  # "the big one" while handling a block: one of the blocks
        if m.other:
            base = self.ctx.find(self.ctx.object)
            cands = [o for o in cands if o.name != self.ctx.object]
            if base is not None and not words:
                cands = [o for o in cands if o.category == base.category]
        for a in m.adjs:
            if len(cands) < 2:
                break
            if a in _SIZE_ADJ:
                sign = _SIZE_ADJ[a]
                cands.sort(key=lambda o: -sign * o.characteristic_size())
                if abs(cands[0].characteristic_size() - cands[1].characteristic_size()) > 1e-6:
                    cands = cands[:1]
            elif a in _POS_ADJ and _POS_ADJ[a] != "middle":
                score = {o.name: self.operator_coord(o, _POS_ADJ[a]) for o in cands}
                cands.sort(key=lambda o: -score[o.name])
                if abs(score[cands[0].name] - score[cands[1].name]) > 1e-3:
                    cands = cands[:1]
        return [o.name for o in cands]

    def operator_coord(self, o: ObjectInfo, pos: str) -> float:
        """How far ``o`` lies toward the operator's left / right / far side / near side."""
        c, s_ = math.cos(self.ctx.operator_yaw), math.sin(self.ctx.operator_yaw)
        x, y = o.pose.position[0], o.pose.position[1]
        fwd, left = c * x + s_ * y, -s_ * x + c * y
        away = math.hypot(x, y)
        return {"left": left, "right": -left, "far": fwd, "near": -fwd, "farthest": away, "nearest": -away}[pos]

    def resolve(self, m: _Mention) -> tuple[str | None, str | None]:
        """(object name or None, question or None) for a mention."""
        if m.pronoun:
            return self.ctx.object, None
        if not self.objects:
            return None, None
        if len(m.refs) == 1:
            return m.refs[0], None
        if (
            self.ctx.object in m.refs
            and not m.negated
            and not m.other
            and not any(a in _SIZE_ADJ or a in _POS_ADJ for a in m.adjs)
        ):
            return self.ctx.object, None  # "the block" while handling one of several blocks: that one
        names = [o.name for o in self.objects]
        if not m.refs:
            if m.other and self.ctx.object:
                return None, (f"Which other object do you mean? I can see: {', '.join(names)}.")
            return None, (
                f"I can't see {_a(m.text or m.head)} here. Which object do you mean? I can see: {', '.join(names)}."
            )
        what = m.head if m.head not in _GENERIC_HEADS else "one"
        return None, f"Which {what} do you mean: {_or_list(m.refs)}?"

    def dest_relation(self, m: _Mention) -> str | None:
        """How a mention is introduced as a destination: "in", "on", "left_of", "next_to"..., or None."""
        t, k = self.tokens, m.start
        prev = t[k - 1] if k > 0 else ""
        prev2 = t[k - 2] if k > 1 else ""
        if prev in ("in", "into", "inside"):
            return "in"
        if prev in ("on", "onto"):
            return "on"
        if prev == "of":
            return {"top": "on", "left": "left_of", "right": "right_of", "front": "in_front_of", "inside": "in"}.get(
                prev2
            )
        if prev == "behind":
            return "behind"
        if prev in ("beside", "near") or (prev == "to" and prev2 == "next"):
            return "next_to"
        return None

    def mention_after(self, tok: int, within: int = 6) -> _Mention | None:
        for m in self.mentions:
            if tok <= m.start <= tok + within:
                return m
        return None

    def mention_before(self, tok: int, within: int = 8) -> _Mention | None:
        best = None
        for m in self.mentions:
            if m.end <= tok and tok - m.end <= within:
                best = m
        return best

    def ref_object(self, name: str | None = None) -> ObjectInfo | None:
        return self.ctx.find(name or self.object_name or self.ctx.object)

    def reference_size(self) -> float:
        if self.ctx.skill in ("open", "close"):
            return DEFAULT_OBJECT_SIZE  # the thing being moved is the handle, not the cabinet
        o = self.ref_object()
        if o is None:
            return DEFAULT_OBJECT_SIZE
        return min(max(o.characteristic_size(), 0.01), MAX_REFERENCE_SIZE)

    def articulated_object(self) -> str | None:
        """What "it" means for open/close: a cabinet named in the utterance, the current one, or the only one."""
        for m in self.mentions:
            for name in m.refs:
                o = self.ctx.find(name)
                if o is not None and o.category == "cabinet":
                    return name
        cur = self.ctx.find(self.ctx.object)
        if cur is not None and cur.category == "cabinet":
            return cur.name
        cabinets = [o.name for o in self.objects if o.category == "cabinet"]
        return cabinets[0] if len(cabinets) == 1 else self.ctx.object

    def cabinet_mentioned(self) -> bool:
        for m in self.mentions:
            for name in m.refs:
                o = self.ctx.find(name)
                if o is not None and o.category == "cabinet":
                    return True
            if m.head in ("drawer", "cabinet", "cupboard"):
                return True
        return False
