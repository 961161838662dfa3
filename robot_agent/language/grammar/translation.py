"""Directions and amounts: a base-frame move, grounded in the skill's frame, fitted to the limits."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from robot_agent.errors import ParameterError, SkillError
from robot_agent.language.grammar.describe import _fmt_len
from robot_agent.language.grammar.lexicon import _DIR_VEC, _DIR_WORD, _OPPOSITE, MAGNITUDE_FACTORS, WORD_STEP_BOUNDS
from robot_agent.language.grammar.mentions import _Mentions
from robot_agent.language.grammar.params import apply_parameter_changes
from robot_agent.language.grammar.patterns import (
    _DIR_MASKS,
    _DIR_RE,
    _MORE_RE,
    _OTHER_WAY_RE,
    _SAME_WAY_RE,
    _TOO_DIR_RE,
    _TOO_FAR_RE,
    _UNDO_RE,
)
from robot_agent.language.grammar.state import _Change, _Dir, _round
from robot_agent.language.grammar.types import Correction
from skills.params import ParamSpec, validate_params
from skills.params import spec as param_spec

log = logging.getLogger(__name__)


class _Translation(_Mentions):
    """Directions and amounts as a base-frame move, grounded into skill offsets, bounded by the safety limits."""

    def rotate(self, vec: tuple[float, float, float], yaw: float) -> tuple[float, float, float]:
        c, s_ = math.cos(yaw), math.sin(yaw)
        return (c * vec[0] - s_ * vec[1], s_ * vec[0] + c * vec[1], vec[2])

    def directions(self) -> None:
        s = self.s
        for rx in _DIR_MASKS:
            for m in rx.finditer(s):
                if "m" in rx.groupindex and m.group("m") is not None:
                    self.mask(m.start("m"), m.end("m"))
                else:
                    self.mask(m.start(), m.end())
        for k, used in enumerate(self.used):
            if used:
                self.mask(self.starts[k], self.starts[k] + len(self.tokens[k]))
        for mt in self.mentions:
            if mt.start < len(self.starts):
                self.mask(self.starts[mt.start], self.starts[mt.end - 1] + len(self.tokens[mt.end - 1]))
        ms = "".join(self.masked)
        robot_view = re.search(
            r"\b(?:from )?(?:your|the robot's|its|robot's) "
            r"(?:point of view|perspective|view|side)\b",
            s,
        )
        default_yaw = 0.0 if robot_view else self.ctx.operator_yaw
        for m in _TOO_DIR_RE.finditer(ms):
            word = m.group("d").split()[-1]
            name = _DIR_WORD.get(_OPPOSITE.get(word, word), _OPPOSITE.get(word, word))
            name = _DIR_WORD.get(name, name)
            if name not in _DIR_VEC:
                continue
            self.dirs.append(
                _Dir(self.tok_of(m.start()), name, self.rotate(_DIR_VEC[name], default_yaw), reversed=True)
            )
            self.use(m.start(), m.end())
            self.mask(m.start(), m.end())
        ms = "".join(self.masked)
        for m in _DIR_RE.finditer(ms):
            text = m.group()
            if m.group("me") or m.group("away_me"):
                name, yaw = ("back" if m.group("me") else "forward"), self.ctx.operator_yaw
            elif m.group("you") or m.group("away_you"):
                name, yaw = ("back" if m.group("you") else "forward"), 0.0
            else:
                name = _DIR_WORD[m.group("w")]
                if re.search(r"\b(?:your|its|robot's)\b", text):
                    yaw = 0.0
                elif re.search(r"\bmy\b", text):
                    yaw = self.ctx.operator_yaw
                else:
                    yaw = default_yaw
            self.dirs.append(
                _Dir(self.tok_of(m.start("w") if m.group("w") else m.start()), name, self.rotate(_DIR_VEC[name], yaw))
            )
            self.use(m.start(), m.end())
        self.object_directions()

    def object_directions(self) -> None:
        for mt in self.mentions:
            if mt.pronoun or mt.start >= len(self.starts):
                continue
            prefix = self.s[: self.starts[mt.start]]
            rel = re.search(
                r"\b(?:(?P<toward>towards?|closer to|nearer to|in the direction of|over to)|"
                r"(?P<away>away from|further from|farther from))(?: the)? $",
                prefix,
            )
            if rel is None or re.search(r"\b(?:keep|stay|steer|keeping|staying)(?: \S+){0,3} $", prefix[: rel.start()]):
                continue  # "keep (it well) away from the glass" is a keep-away constraint, not a move
            self.use(rel.start(), rel.end())
            self.use_toks(mt.start, mt.end)
            name, question = self.resolve(mt)
            if question:
                self.questions.append(question)
                return
            goal, ref = self.ctx.find(name), self.ref_object()
            if goal is None or ref is None or goal is ref:
                what = mt.text or "it"
                self.questions.append(
                    f"Which way is {what} from here? Please say left, right, forward, back, up or down."
                )
                return
            v = [goal.pose.position[0] - ref.pose.position[0], goal.pose.position[1] - ref.pose.position[1]]
            norm = math.hypot(*v)
            if norm < 1e-6:
                continue
            sign = -1.0 if rel.group("away") else 1.0
            self.dirs.append(
                _Dir(
                    mt.start,
                    f"towards {name}" if sign > 0 else f"away from {name}",
                    (sign * v[0] / norm, sign * v[1] / norm, 0.0),
                )
            )

    def assign_magnitudes(self) -> None:
        free = [g for g in self.mags if not g.claimed]
        for d in self.dirs:
            if len(free) == 1:
                d.mag = free[0]
                continue
            best = None
            for g in free:
                dist = (d.tok - g.end + 1, 0) if g.end <= d.tok else (g.start - d.tok, 1)
                if best is None or dist < best[0]:
                    best = (dist, g)
            if best is not None and best[0][0] <= 6:
                d.mag = best[1]
        # "a touch to the left, about an inch": a size said in words, then said exactly: the exact one
        vague = [d for d in self.dirs if d.mag is not None and d.mag.cls is not None]
        exact = [g for g in free if g.cls is None and all(d.mag is not g for d in self.dirs)]
        if len(vague) == 1 and len(exact) == 1:
            vague[0].mag = exact[0]
        for d in self.dirs:
            if d.mag is not None:
                d.mag.claimed = True

    def translation(self) -> tuple[list[float] | None, bool]:
        """Sum of the direction vectors times their magnitudes; (delta, explicit)."""
        if not self.dirs:
            return None, False
        self.assign_magnitudes()
        names: dict[str, _Dir] = {}
        dirs: list[_Dir] = []
        for d in self.dirs:
            explicit = d.mag is not None and d.mag.cls is None
            if d.name in names and (not explicit or names[d.name].mag is d.mag):
                continue  # "back towards me, 3 cm": one direction said twice, one amount: once
            names[d.name] = d
            dirs.append(d)
        for a, b in (("left", "right"), ("forward", "back"), ("up", "down")):
            if a in names and b in names:
                self.questions.append(f"Should I move {a} or {b}?")
                return None, False
        for d in dirs:
            if d.mag is None or d.mag.cls is not None:
                for i, _j, val in self.bare:
                    if abs(i - d.tok) <= 3:
                        self.questions.append(f"{val:g} what: millimetres, centimetres or inches?")
                        return None, False
        size = self.reference_size()
        lo, hi = WORD_STEP_BOUNDS
        delta = [0.0, 0.0, 0.0]
        explicit = False
        for d in dirs:
            if d.mag is not None and d.mag.cls is None:
                length = float(d.mag.metres or 0.0)
                explicit = True
            else:
                cls = d.mag.cls if d.mag is not None and d.mag.cls else ("small" if d.reversed else "medium")
                length = min(max(MAGNITUDE_FACTORS[cls] * size, lo), hi)
            for k in range(3):
                if d.vec[k]:
                    delta[k] += d.vec[k] * length
        return delta, explicit

    def relative_to_last(self) -> tuple[list[float] | None, bool]:
        """ "more", "again", "too far", "the other way", "undo that": relative to the previous correction."""
        last = self.ctx.last
        last_delta = last.delta_m if last is not None and last.refusal is None else None
        undo = self.find(_UNDO_RE)
        other = [] if undo else self.find(_OTHER_WAY_RE)
        too_far = [] if other or undo else self.find(_TOO_FAR_RE)
        more = [] if other or too_far or undo else self.find(_MORE_RE)
        if not (undo or other or too_far or more):
            return None, False
        if undo:
            if last_delta:
                return [-v for v in last_delta], False  # back to where it was before the last change
            if last is not None and last.parameters and last.refusal is None:
                self.repeat_parameters(last, -1.0)
                return None, False
            self.questions.append("Which change should I take back?")
            return None, False
        if other:
            if last_delta:
                return [-2.0 * v for v in last_delta], False
            self.questions.append("Which way should I go instead: left, right, forward, back, up or down?")
            return None, False
        if too_far:
            if last_delta and self.find(_SAME_WAY_RE):
                return [0.5 * v for v in last_delta], False  # "half of that, same direction", "again but less"
            if last_delta:
                return [-0.5 * v for v in last_delta], False
            if last is not None and last.parameters and last.refusal is None:
                self.repeat_parameters(last, -0.5)
                return None, False
            self.questions.append("Too far in which direction, and by how much?")
            return None, False
        cls, _g = self.word_class(self.tok_of(more[0].start()), before=3, after=3)
        factor = {"tiny": 0.25, "small": 0.5, "medium": 1.0, "large": 2.0}[cls]
        if last_delta:
            return [factor * v for v in last_delta], False
        if last is not None and last.parameters and last.refusal is None:
            self.repeat_parameters(last, factor)
            return None, False
        if not re.fullmatch(r"(?:even )?(?:more|further|farther)", more[0].group(0)):
            self.repeated = True  # "once more, exactly the same", no move or change before it: the attempt again
            return None, False
        self.questions.append(
            "More of what? Please say which way (left, right, forward, back, up, down) or what to change."
        )
        return None, False

    def repeat_parameters(self, last: Correction, factor: float) -> None:
        for name, change in last.parameters.items():
            ((op, value),) = change.items()
            if op == "add" and isinstance(value, list):
                self.add_change(last.skill, name, "add", [factor * float(v) for v in value])
            elif op == "add":
                self.add_change(last.skill, name, "add", factor * float(value))
            elif op == "scale" and float(value) > 0:
                self.add_change(last.skill, name, "scale", float(value) ** factor)
            elif op == "set" and isinstance(value, (int, float)) and factor > -1:
                # "push it 5 cm", then "half that": 2.5 cm; "more": further than that
                self.add_change(last.skill, name, "set", float(value) * (1.0 + factor))
            else:
                self.questions.append(f"How should I change {name} now?")
                return

    def ground_translation(self, delta: list[float], explicit: bool) -> None:
        """Express a base-frame displacement in the current skill's own parameters."""
        skill = self.ctx.skill
        if self.pull_direction_wanted:
            cab = self.ref_object() if self.ctx.skill == "open" else None
            if cab is None:
                cab = next(
                    (
                        self.ctx.find(n)
                        for m in self.mentions
                        for n in m.refs
                        if (o := self.ctx.find(n)) is not None and o.category == "cabinet"
                    ),
                    None,
                )
            local = cab.pose.vector_to_local(delta) if cab is not None else delta
            norm = math.sqrt(sum(float(v) ** 2 for v in local))
            if norm > 1e-9:
                self.add_change("open", "pull_axis", "set", [round(float(v) / norm, 4) for v in local])
                self.drop_delta = True
            return
        if self.push_direction_wanted:
            norm = math.hypot(delta[0], delta[1])
            if norm > 1e-9:
                self.add_change("push", "direction", "set", [round(delta[0] / norm, 4), round(delta[1] / norm, 4), 0.0])
                self.drop_delta = True
                return
            if abs(delta[2]) <= 1e-9 or (skill or self.ctx.skill) != "push":
                return
            # "push higher up on it": no way to push, the height it is pushed at (below)
        if skill == "pick":
            obj = self.ref_object()
            local = obj.pose.vector_to_local(delta) if obj is not None else delta
            self.add_change("pick", "grasp_offset", "add", [float(v) for v in local], explicit, True)
        elif skill == "place":
            tgt = self.ctx.find(self.ctx.target)
            xy = [delta[0], delta[1], 0.0]
            if abs(delta[0]) > 1e-9 or abs(delta[1]) > 1e-9:
                local = tgt.pose.vector_to_local(xy) if tgt is not None else xy
                self.add_change("place", "place_offset", "add", [float(v) for v in local], explicit, True)
            if abs(delta[2]) > 1e-9:
                self.add_change("place", "place_height", "add", float(delta[2]), explicit, True)
        elif skill == "open":
            obj = self.ref_object()
            local = obj.pose.vector_to_local(delta) if obj is not None else delta
            self.add_change("open", "grasp_offset", "add", [float(v) for v in local], explicit, True)
        elif skill == "push" and abs(delta[2]) > 1e-9:
            self.add_change("push", "contact_height", "add", float(delta[2]), explicit, True)

    def merged_changes(self) -> tuple[str | None, list[_Change]] | None:
        skills = {c.skill for c in self.changes if c.skill is not None}
        non_speed = {c.skill for c in self.changes if c.skill is not None and c.name != "speed"}
        if len(non_speed) > 1:
            self.questions.append(
                "That changes several skills at once ("
                + ", ".join(sorted(non_speed))
                + "); please give one correction at a time."
            )
            return None
        skill = next(iter(non_speed), None) or next(iter(skills), None) or self.ctx.skill
        merged: dict[str, _Change] = {}
        order: list[str] = []
        for c in self.changes:
            c.skill = skill
            old = merged.get(c.name)
            if old is None or old.op != c.op or c.op == "set":
                if c.name not in merged:
                    order.append(c.name)
                merged[c.name] = _Change(skill, c.name, c.op, c.value, c.explicit, c.translational)
            elif c.op == "scale":
                old.value = float(old.value) * float(c.value)
                old.explicit = old.explicit or c.explicit
            elif isinstance(old.value, list):
                old.value = [float(a) + float(b) for a, b in zip(old.value, c.value, strict=True)]
            else:
                old.value = float(old.value) + float(c.value)
        return skill, [merged[n] for n in order]

    def bound(
        self, delta: list[float] | None, explicit: bool
    ) -> tuple[list[float] | None, str | None, dict[str, dict[str, Any]]]:
        """Check the request against the safety limits; fit word-sized requests, refuse explicit ones."""
        max_step = self.parser.safety.max_cartesian_step
        if delta is not None:
            norm = math.sqrt(sum(v * v for v in delta))
            if norm > max_step + 1e-9:
                if explicit:
                    self.refuse(
                        f"a {_fmt_len(norm)} move is more than the {_fmt_len(max_step)} one correction may "
                        f"move the arm (safety.max_cartesian_step); ask for a smaller step"
                    )
                    return None, None, {}
                k = max_step / norm
                delta = [v * k for v in delta]
                for c in self.changes:
                    if c.translational:
                        c.value = [float(v) * k for v in c.value] if isinstance(c.value, list) else float(c.value) * k
        merged = self.merged_changes()
        if merged is None:
            return None, None, {}
        skill, changes = merged
        check_skill = skill or "go_home"
        current = dict(self.ctx.params or {}) if skill == self.ctx.skill and self.ctx.params else None
        try:
            params = validate_params(check_skill, current)
        except (ParameterError, SkillError) as exc:
            log.warning("current parameters of %s are invalid (%s); checking against defaults", check_skill, exc)
            params = validate_params(check_skill, None)
        out: dict[str, dict[str, Any]] = {}
        shrink = 1.0
        for c in changes:
            try:
                ps = param_spec(check_skill, c.name)
            except (ParameterError, SkillError) as exc:
                self.refuse(str(exc))
                return None, None, {}
            try:
                params = apply_parameter_changes(check_skill, params, {c.name: {c.op: c.value}})
            except ParameterError as exc:
                fitted = None if c.explicit else self.fit(ps, params[c.name], c)
                if fitted is None:
                    msg = str(exc) if skill else str(exc).replace(f"{check_skill}.", "", 1)
                    self.refuse(f"{msg}; the change was not applied")
                    return None, None, {}
                c.op, c.value, t = fitted
                if c.translational:
                    shrink = min(shrink, t)
                params = apply_parameter_changes(check_skill, params, {c.name: {c.op: c.value}})
            out[c.name] = {c.op: _round(c.value)}
        if delta is not None and shrink < 1.0:
            delta = [v * shrink for v in delta]  # the translation shrinks with the offset that carries it
        return delta, skill, out

    def fit(self, ps: ParamSpec, old: Any, c: _Change) -> tuple[str, Any, float] | None:
        """The largest part of a word-sized change that stays inside the bounds, or None."""
        if c.op == "scale" and ps.kind == "float":
            new = ps.clamp(float(old) * float(c.value))
            if abs(new - float(old)) < 1e-9:
                return None
            return "set", new, 1.0
        if c.op == "add" and ps.kind == "float":
            v = float(c.value)
            bound = ps.high if v > 0 else ps.low
            t = max(0.0, min(1.0, (bound - float(old)) / v)) if v else 0.0
        elif c.op == "add" and ps.kind == "vec3":
            t = 1.0
            for o, v in zip(old, c.value, strict=True):
                if abs(float(v)) > 1e-12:
                    bound = ps.high if v > 0 else ps.low
                    t = min(t, max(0.0, (bound - float(o)) / float(v)))
        else:
            return None
        if t < 0.1:
            return None
        value = [float(v) * t for v in c.value] if isinstance(c.value, list) else float(c.value) * t
        return "add", value, t
