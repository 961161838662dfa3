"""Semantic skill adjustments: parameter changes named by words rather than by a direction."""

from __future__ import annotations

import math
import re

from robot_agent.language.grammar.lexicon import EXTRA_DISTANCE, FASTER, ROTATION_DEG, SLOWER
from robot_agent.language.grammar.mentions import _Mentions
from robot_agent.language.grammar.object_words import _PARTS
from robot_agent.language.grammar.patterns import (
    _APPROACH_RE,
    _CLOSE_MORE_RE,
    _FASTER_RE,
    _GENTLE_RE,
    _GRASP_VERB_RE,
    _LESS_WORDS_RE,
    _LIFT_RE,
    _MORE_WORDS_RE,
    _OPEN_MORE_RE,
    _PLACE_VERB_RE,
    _PULL_RE,
    _PUSH_RE,
    _RAISE_RE,
    _REGION_RE,
    _ROT_DIR_RE,
    _ROT_VERB_RE,
    _SLOWER_RE,
    _SPEED_SET_RE,
    _STRAIGHT_RE,
    FRACTIONS,
)
from robot_agent.language.grammar.state import _or_list
from skills.params import spec as param_spec


class _Adjustments(_Mentions):
    """Semantic skill adjustments: speed, rotation, grasp region, pull, push, lift, approach, place height."""

    def semantic(self) -> None:
        self.speed()
        self.rotation()
        self.grasp_region()
        self.pull()
        self.push()
        self.lift_and_approach()
        self.place_height()

    def speed(self) -> None:
        skill = self.ctx.skill
        for m in self.find(_SPEED_SET_RE):
            sp = param_spec(skill or "go_home", "speed")
            if m.group("frac"):  # "a quarter of max speed"
                self.add_change(skill, "speed", "set", sp.high * FRACTIONS[m.group("frac")], explicit=True)
            elif m.group("full") or m.group().startswith("as fast"):
                self.add_change(skill, "speed", "set", sp.high)
            elif m.group("min") or m.group().startswith("as slow"):
                self.add_change(skill, "speed", "set", sp.low)
            elif m.group("norm"):
                self.add_change(skill, "speed", "set", sp.default)
            elif m.group("half"):
                self.add_change(skill, "speed", "scale", 0.5, explicit=True)
            else:
                self.add_change(skill, "speed", "scale", 2.0, explicit=True)
        speed_word = re.search(r"\b(?:speed|fast|velocity|pace|slow)\b", self.s)
        if speed_word:
            for i, j, pct in list(self.percents):
                self.add_change(skill, "speed", "set", pct / 100.0, explicit=True)
                self.percents.remove((i, j, pct))
            for i, j, val in list(self.bare):
                near = self.tokens[max(0, i - 3) : i]
                if any(w in ("speed", "velocity", "pace") for w in near) and val <= 100:
                    self.add_change(skill, "speed", "set", val / 100.0 if val > 1 else val, explicit=True)
                    self.bare.remove((i, j, val))
                    self.use_toks(i, j)
        for rx, table in ((_SLOWER_RE, SLOWER), (_FASTER_RE, FASTER)):
            for m in self.find(rx):
                tok = self.tok_of(m.start())
                cls, _g = self.word_class(tok, before=3, after=1)
                self.add_change(skill, "speed", "scale", table[cls])
        for m in self.find(_GENTLE_RE):
            if re.match(r" (?:around|near|not to|of)\b", self.s[m.end() :]):
                self.used[self.tok_of(m.start())] = False
                continue  # "careful around the glass" is a keep-away, "careful not to hit" too
            with_obj = re.match(r" with\b", self.s[m.end() :])
            if with_obj:
                after = self.mention_after(self.tok_of(m.end() + 1), within=2)
                if after is not None:
                    self.use_toks(after.start - 1, after.end)
            tok = self.tok_of(m.start())
            cls, _g = self.word_class(tok, before=3, after=1)
            self.add_change(skill, "speed", "scale", SLOWER[cls])
            if self.place_context():
                self.add_change("place", "place_height", "scale", 0.5)

    def rotation(self) -> None:
        verbs = self.find(_ROT_VERB_RE)
        if not verbs:
            verbs = [m for m in _ROT_DIR_RE.finditer(self.s) if m.group("cw") or m.group("ccw")]
            if not verbs and self.angles:
                i, _j, _v = self.angles[0]
                verbs = [m for m in re.finditer(r"\S+", self.s) if self.tok_of(m.start()) == i][:1]
        if not verbs:
            return
        if re.search(r"\bturn (?:it |that )?(?:off|on|down|up)\b", self.s):
            return
        start = min(verbs[0].start(), self.starts[self.angles[0][0]] if self.angles else verbs[0].start())
        sign = 0.0
        perp = False
        for m in _ROT_DIR_RE.finditer(self.s, start):
            if self.is_used(m.start(), m.end()):
                continue
            if m.group("ccw"):
                sign = 1.0
            elif m.group("cw"):
                sign = -1.0
            elif m.group("lr"):
                sign = 1.0 if m.group("lr") == "left" else -1.0
            else:
                perp = True
            self.use(m.start(), m.end())
            break
        angle: float | None = None
        explicit = False
        tok = self.tok_of(start)
        if self.angles:
            i, j, angle = self.angles.pop(0)
            explicit = True
        else:
            for i, j, val in list(self.bare):
                if i > tok and val >= 5:
                    angle = math.radians(val)
                    explicit = True
                    self.bare.remove((i, j, val))
                    self.use_toks(i, j)
                    break
        if angle is None:
            if perp:
                angle = math.pi / 2
            else:
                cls, g = self.word_class(tok, before=2, after=6)
                angle = math.radians(ROTATION_DEG["large" if g is None and sign == 0 else cls])
        if abs(angle) > 2 * math.pi + 1e-9:
            self.refuse(
                f"a {math.degrees(angle):.0f} degree turn is more than one full turn; ask for at most 360 degrees"
            )
            return
        if sign == 0.0:
            quarter = abs(angle / (math.pi / 2) - round(angle / (math.pi / 2))) < 1e-6
            if not quarter:
                self.questions.append(
                    "Which way should I turn the gripper: clockwise or counter-clockwise (seen from above)?"
                )
                return
            sign = 1.0  # a parallel gripper grasps the same after +90 or -90 degrees
        self.add_change("pick", "gripper_yaw", "add", round(sign * angle, 4), explicit=explicit)

    def grasp_region(self) -> None:
        for m in _REGION_RE.finditer(self.s):
            if self.is_used(m.start(), m.end()):
                continue
            word = m.group("r") or m.group("r2") or m.group("r3")
            region = {"above": "top", "overhead": "top", "directly above": "top", "sideways": "side"}.get(
                word, _PARTS.get(word, word)
            )
            grasp_verb = _GRASP_VERB_RE.search(self.s)
            place_verb = _PLACE_VERB_RE.search(self.s[: m.start()])
            if word == "sideways" and not grasp_verb and self.ctx.skill != "pick":
                continue
            loose_prep = m.group().split()[0] in ("at", "on", "around", "near", "for", "with")
            if m.group("r") and loose_prep and not grasp_verb:
                continue  # "stop at the edge", "on the top": not about where to grasp
            if place_verb and not grasp_verb:
                continue
            if not grasp_verb and self.ctx.skill not in (None, "pick"):
                continue
            if region in ("top", "center") and re.search(r"\b(?:on|onto) (?:the )?top\b", m.group()) and not grasp_verb:
                continue
            self.use(m.start(), m.end())
            obj_m = next(
                (x for x in self.mentions if not x.pronoun and not x.unknown and x.refs and len(x.refs) == 1), None
            )
            obj = self.ctx.find(obj_m.refs[0]) if obj_m else self.ref_object()
            if obj is not None and obj.parts and region in ("handle", "rim") and region not in obj.parts:
                parts = [p for p in obj.parts if p in ("handle", "rim", "top", "center")] + ["side"]
                self.questions.append(f"The {obj.name} has no {region}. Which part should I grasp: {_or_list(parts)}?")
                return
            if obj_m is not None:
                self.object_name = obj_m.refs[0]
            self.add_change("pick", "grasp_region", "set", region)
            return

    def pull(self) -> None:
        pulls = self.find(_PULL_RE)
        opens = [] if pulls else [m for m in _OPEN_MORE_RE.finditer(self.s) if not self.is_used(m.start(), m.end())]
        if not pulls and not (opens and (self.ctx.skill in (None, "open") or self.cabinet_mentioned())):
            return
        for m in opens:
            self.use(m.start(), m.end())
        tok = self.tok_of((pulls or opens)[0].start())
        if self.find(_STRAIGHT_RE):
            self.add_change("open", "pull_axis", "set", [1.0, 0.0, 0.0])
            return
        more = [m for m in _MORE_WORDS_RE.finditer(self.s)] or [m for m in opens]
        less = [m for m in _LESS_WORDS_RE.finditer(self.s)]
        for m in more + less:
            self.use(m.start(), m.end())
        g = self.take_mag(tok, before=3, after=8)
        if g is not None and g.cls is None:
            q = g.metres or 0.0
            if less:
                self.add_change("open", "pull_distance", "add", -q, explicit=True)
            elif more:
                self.add_change("open", "pull_distance", "add", q, explicit=True)
            else:
                self.add_change("open", "pull_distance", "set", q, explicit=True)
            return
        if more or less:
            all_the_way = re.search(r"\ball the way|fully|completely\b", self.s) is not None
            cls = (g.cls if g is not None else None) or ("large" if all_the_way else "medium")
            if less:
                cls = cls if g is not None else "small"
            step = EXTRA_DISTANCE[cls]
            self.add_change("open", "pull_distance", "add", -step if less else step)
            return
        self.pull_direction_wanted = True

    def push(self) -> None:
        closing = [m for m in _CLOSE_MORE_RE.finditer(self.s) if not self.is_used(m.start(), m.end())]
        pushes = [m for m in _PUSH_RE.finditer(self.s) if not self.is_used(m.start(), m.end())]
        if not closing and not (
            pushes
            and (self.ctx.skill in ("push", "close") or _MORE_WORDS_RE.search(self.s) or _LESS_WORDS_RE.search(self.s))
        ):
            return
        more = list(_MORE_WORDS_RE.finditer(self.s))
        less = list(_LESS_WORDS_RE.finditer(self.s))
        if pushes and not closing and not more and not less:
            self.push_direction_wanted = True
            for m in pushes:
                self.use(m.start(), m.end())
            return
        for m in closing + pushes + more + less:
            self.use(m.start(), m.end())
        skill = "close" if (closing or self.ctx.skill == "close" or self.cabinet_mentioned()) else "push"
        name = "push_distance" if skill == "close" else "distance"
        tok = self.tok_of((closing or pushes)[0].start())
        g = self.take_mag(tok, before=3, after=8)
        if g is not None and g.cls is None:
            q = g.metres or 0.0
            op, val = ("add", -q) if less else ("add", q) if more else ("set", q)
            self.add_change(skill, name, op, val, explicit=True)
            return
        cls = (g.cls if g is not None else None) or (
            "large" if re.search(r"\ball the way|fully|completely\b", self.s) else "small" if less else "medium"
        )
        step = EXTRA_DISTANCE[cls]
        self.add_change(skill, name, "add", -step if less else step)

    def lift_and_approach(self) -> None:
        lift = (_LIFT_RE, _RAISE_RE) if self.ctx.skill == "pick" else (_LIFT_RE,)
        readings = [(rx, "pick", "lift_height") for rx in lift] + [(_APPROACH_RE, None, "approach_height")]
        for rx, skill_default, name in readings:
            hits = [m for m in rx.finditer(self.s) if not self.is_used(m.start(), m.end())]
            if not hits:
                continue
            rest = self.s[hits[0].end() :]
            # "coming in too low": too low is a fault, so higher is meant
            up = re.search(
                r"\b(?:higher|more|further|farther|up|from higher(?: up)?|further up|(?:too|so) low)\b", rest
            )
            down = re.search(r"\b(?:lower|less|not so high|down|from lower|closer|too high)\b", rest)
            if not up and not down:
                continue
            skill = skill_default or (self.ctx.skill if self.ctx.skill in ("pick", "place") else "pick")
            self.use(hits[0].start(), hits[0].end())
            word = up if up is not None else down
            if word is not None:
                self.use(hits[0].end() + word.start(), hits[0].end() + word.end())
            tok = self.tok_of(hits[0].start())
            g = self.take_mag(tok, before=3, after=8)
            sign = 1.0 if up else -1.0
            if g is not None and g.cls is None:
                self.add_change(skill, name, "add", sign * (g.metres or 0.0), explicit=True)
            else:
                cls = g.cls if g is not None and g.cls else "medium"
                self.add_change(skill, name, "add", sign * EXTRA_DISTANCE[cls])

    def place_height(self) -> None:
        if not self.place_context():
            return
        for i, (a, b) in enumerate(zip(self.tokens, self.tokens[1:], strict=False)):
            if (a in ("above", "over") and b in ("the", "it", "table", "surface", "plate", "target")) or (
                a == "above" and b.startswith("@")
            ):
                g = next((g for g in self.mags if g.cls is None and not g.claimed and g.end == i), None)
                if g is not None:
                    g.claimed = True
                    self.use_toks(i, i + 1)
                    self.add_change("place", "place_height", "set", g.metres, explicit=True)
                    return
