"""The parser: one utterance in, one :class:`Correction` out (see the package docstring)."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from robot_agent.config import SafetyConfig
from robot_agent.errors import ParameterError, SkillError
from robot_agent.language.grammar.adjustments import _Adjustments
from robot_agent.language.grammar.describe import _fmt_len
from robot_agent.language.grammar.lexicon import _CONFIRM_CORE, _CONFIRM_FILLER, _KNOWN_WORDS, _NEGATIVE, MAX_TEXT_CHARS
from robot_agent.language.grammar.params import apply_parameter_changes
from robot_agent.language.grammar.patterns import _CONFIRM_PHRASE_RE, _INJECTION_RE, _MORE_WORDS_RE, _RETRY_RE
from robot_agent.language.grammar.plans import _Plans
from robot_agent.language.grammar.state import _round
from robot_agent.language.grammar.stop import _STOP_RE, _stop_match, is_stop
from robot_agent.language.grammar.translation import _Translation
from robot_agent.language.grammar.types import Correction, CorrectionContext, CorrectionKind, FallbackFn

log = logging.getLogger(__name__)


class _Parse(_Adjustments, _Translation, _Plans):
    """State of one parse; see :class:`CorrectionParser`."""

    def run(self) -> Correction:
        text = self.text if isinstance(self.text, str) else str(self.text)
        self.text = text
        if not text.strip():
            return self.unclear("I didn't catch anything. What should I change?")
        if len(text) > MAX_TEXT_CHARS:
            if self.allow_stop and is_stop(text):
                return Correction(text, CorrectionKind.STOP)
            return self.unclear("That is too long for one correction; please say one change at a time.")
        self.tokenize()
        if self.allow_stop and is_stop(text):
            return self.stop()
        if not any(re.search(r"[a-z0-9@]", t) for t in self.tokens):
            return self.unclear(self.generic_question())
        injection = _INJECTION_RE.search(self.s)
        if injection is not None:
            self.refuse(
                "I can't ignore, change or work around my safety limits or instructions; "
                "give me a correction within the limits"
            )
        self.find_mentions()
        self.find_quantities()
        self.find_magnitudes()
        self.semantic()
        self.directions()
        delta, explicit = self.translation()
        if delta is None and not self.questions and not self.changes and not _RETRY_RE.search(self.s):
            delta, explicit = self.relative_to_last()
        plan = None
        if not self.questions:
            plan = self.plan()
        if delta is not None and not self.questions:
            self.ground_translation(delta, explicit)
            if self.drop_delta:
                delta = None
        return self.decide(plan, delta, explicit)

    def decide(self, plan: dict[str, Any] | None, delta: list[float] | None, explicit: bool) -> Correction:
        text = self.text
        if self.refusal is not None:
            if plan:
                kind = CorrectionKind.PLAN
            else:
                kind = CorrectionKind.SKILL if (delta or self.changes) else CorrectionKind.UNCLEAR
            return Correction(text, kind, refusal=self.refusal, confidence=1.0, object=self.object_name)
        if self.questions:
            return self.unclear(self.questions[0])
        if plan is None and delta is None and not self.changes:
            return self.no_action()
        delta, skill, params = self.bound(delta, explicit)
        if self.refusal is not None:
            kind = CorrectionKind.PLAN if plan else CorrectionKind.SKILL
            return Correction(text, kind, refusal=self.refusal, confidence=1.0, skill=skill, object=self.object_name)
        if self.questions:
            return self.unclear(self.questions[0])
        kind = CorrectionKind.PLAN if plan is not None else CorrectionKind.SKILL
        if skill != self.ctx.skill and self.object_name == self.ctx.object:
            self.object_name = None  # the change is for another skill than the one on ctx.object
        if not params and delta is None:
            skill = self.object_name = None  # a pure plan change: the plan dict says what it is about
        c = Correction(
            text,
            kind,
            delta_m=None if delta is None else [_round(v) for v in delta],
            parameters=params,
            skill=skill,
            object=self.object_name,
            plan=plan,
        )
        c.confidence = self.confidence()
        if c.confidence < 0.5:
            return self.unclear(f"Did you mean: {c.describe()}? Please say it again in other words.")
        return c

    def confidence(self) -> float:
        unknown = known = 0
        for k, t in enumerate(self.tokens):
            if not re.fullmatch(r"[a-z][a-z']*", t):
                continue
            if self.used[k]:
                known += 1
            elif t not in _KNOWN_WORDS and t not in self.scene_words:
                unknown += 1
        if unknown >= 2 and unknown > known:
            return round(max(0.0, 0.5 - 0.05 * (unknown - known)), 2)
        total = max(1, known + unknown)
        return round(1.0 - 0.4 * unknown / total, 2)

    def no_action(self) -> Correction:
        if self.s.strip(" .!?") == "right":
            return self.unclear('Do you mean "move to the right" or "that\'s right"? Say "to the right" or "yes".')
        words = [t for t in self.tokens if re.fullmatch(r"[a-z][a-z']*", t)]
        content = [w for w in words if w not in _CONFIRM_FILLER and w not in ("please", "robot", "hey")]
        negative = any(w in _NEGATIVE for w in words) or "not" in words
        if (
            words
            and not negative
            and content
            and all(w in _CONFIRM_CORE or w in _CONFIRM_FILLER for w in words)
            and any(w in _CONFIRM_CORE for w in words)
        ):
            return Correction(self.text, CorrectionKind.CONFIRM, confidence=0.95)
        if words and not negative and _CONFIRM_PHRASE_RE.fullmatch(self.s.strip(" .!")):
            return Correction(self.text, CorrectionKind.CONFIRM, confidence=0.95)
        if re.search(r"\b(?:don't|do not|no need to) (?:stop|wait|halt)\b", self.s):
            return Correction(self.text, CorrectionKind.CONFIRM, confidence=0.9)
        if negative:
            return self.unclear(
                "What should I do differently? For example: a direction and amount "
                '("2 cm to the left"), "slower", or which object to use.'
            )
        amounts = [g for g in self.mags if g.cls is None and g.metres]
        own = {"push": "distance", "open": "pull_distance", "close": "push_distance"}.get(self.ctx.skill or "")
        if own and len(amounts) == 1 and not re.search(r"\b(?:move|shift|adjust|nudge|reposition)\b", self.s):
            # "five centimetres, tops" while pushing: a distance said bare is the push's own;
            # "another two centimetres": on top of it
            more = _MORE_WORDS_RE.search(self.s) is not None
            self.add_change(
                self.ctx.skill,
                own,
                *(("add", amounts[0].metres) if more else ("set", amounts[0].metres)),
                explicit=True,
            )
            self.use_toks(amounts[0].start, amounts[0].end)
            return self.decide(None, None, True)
        if self.mags or re.search(r"\b(?:move|shift|adjust|go|nudge|reposition|correct|fix)\b", self.s):
            return self.unclear("Which way should I move: left, right, forward, back, up or down, and how far?")
        if re.search(r"\b(?:sideways|diagonally|across)\b", self.s):
            return self.unclear("Which way exactly: left, right, forward or back, and how far?")
        if self.bare:
            return self.unclear(
                f'{self.bare[0][2]:g} what? Please give a direction and a unit, e.g. "2 cm to the left".'
            )
        return self.unclear(self.generic_question(), generic=True)

    def generic_question(self) -> str:
        q = (
            f"Sorry, I didn't understand {self.text.strip()[:80]!r}. You can say a direction and amount "
            '("a bit to the left", "2 cm up"), an adjustment ("slower", "grasp it by the handle"), '
            'a plan change ("open the drawer first", "the blue one"), or "stop".'
        )
        if self.objects:
            q += f" I can see: {', '.join(o.name for o in self.objects)}."
        return q

    def unclear(self, question: str, generic: bool = False) -> Correction:
        self.generic_unclear = generic
        return Correction(
            self.text, CorrectionKind.UNCLEAR, question=question, confidence=0.0, refusal=getattr(self, "refusal", None)
        )

    def stop(self) -> Correction:
        follow = None
        rest = after_stop(self.text)
        if rest:
            fc = _Parse(self.parser, rest, self.ctx, allow_stop=False).run()
            if fc.actionable:
                fc.text = self.text
                follow = fc
        return Correction(self.text, CorrectionKind.STOP, confidence=1.0, followup=follow)


def after_stop(text: str) -> str:
    """What an utterance with a stop in it asks besides halting ("hang on, open the drawer first"
    -> "open the drawer first"), or "" when it says nothing more."""
    m = _stop_match(text)
    if m is None:
        return ""
    # the text as the stop was found in it (a stretched "stoooop" cut to "stop"), so it goes too
    rest = _STOP_RE.sub(" ", m.string)
    rest = re.sub(r"\b(?:no|now|please|robot|hey|immediately|right now|at once)\b", " ", rest)
    return " ".join(rest.split()).strip(" ,.;:!-") if re.search(r"[a-z]{2,}", rest) else ""


class CorrectionParser:
    """Turns operator utterances into :class:`Correction` objects.

    Deterministic and model-free; safe to share between threads (it keeps no state
    between calls).

    Args:
        safety: the robot's safety limits (``max_cartesian_step`` bounds a single
            translational correction). Defaults to :class:`SafetyConfig` defaults.
        fallback: optional function ``(text, context) -> Correction | None`` tried
            when the rules understand nothing at all (e.g. an LLM). Its answer passes
            the same checks: a translation larger than the safety step or a
            parameter outside its bounds is refused.
        strict: re-raise internal errors instead of answering with a question
            (tests use it to find bugs; at run time a correction must never crash
            the agent).
    """

    def __init__(
        self, safety: SafetyConfig | None = None, fallback: FallbackFn | None = None, strict: bool = False
    ) -> None:
        self.safety = safety or SafetyConfig()
        self.fallback = fallback
        self.strict = strict

    def parse(self, text: str, context: CorrectionContext | None = None) -> Correction:
        """Classify and ground one utterance.

        Args:
            text: what the operator typed or said.
            context: scene objects, the current skill and object, the operator's frame.

        Returns:
            A :class:`Correction`; never raises for any text.
        """
        try:
            state = _Parse(self, text, context)
            c = state.run()
        except Exception:  # a correction must never crash the agent: logged, answered with a question
            if self.strict:
                raise
            log.exception("could not parse correction %r", text)
            return Correction(
                str(text),
                CorrectionKind.UNCLEAR,
                question="Sorry, I couldn't process that; please say it another way.",
                confidence=0.0,
            )
        if state.generic_unclear and self.fallback is not None and c.refusal is None:
            c = self._ask_fallback(str(text), context, c)
        return c

    def _ask_fallback(self, text: str, context: CorrectionContext | None, unclear: Correction) -> Correction:
        try:
            alt = self.fallback(text, context) if self.fallback is not None else None
        except Exception:  # the fallback is optional: its failure leaves the question standing
            log.exception("correction fallback failed on %r", text)
            return unclear
        if alt is None or not isinstance(alt, Correction):
            return unclear
        alt.text = text
        if alt.kind is CorrectionKind.STOP:
            return alt
        if alt.delta_m is not None:
            if len(alt.delta_m) != 3 or not all(math.isfinite(float(v)) for v in alt.delta_m):
                return unclear
            norm = math.sqrt(sum(float(v) ** 2 for v in alt.delta_m))
            if norm > self.safety.max_cartesian_step + 1e-9:
                return Correction(
                    text,
                    alt.kind,
                    refusal=f"a {_fmt_len(norm)} move is more than the "
                    f"{_fmt_len(self.safety.max_cartesian_step)} one correction may move the arm",
                )
        if alt.parameters:
            skill = alt.skill or (context.skill if context else None) or "go_home"
            try:
                apply_parameter_changes(
                    skill, context.params if context and context.skill == skill else None, alt.parameters
                )
            except (ParameterError, SkillError) as exc:
                return Correction(text, alt.kind, refusal=f"{exc}; the change was not applied")
        alt.confidence = min(float(alt.confidence), 0.6)
        return alt


_DEFAULT_PARSER: CorrectionParser | None = None


def parse_correction(text: str, context: CorrectionContext | None = None) -> Correction:
    """Parse with a shared default :class:`CorrectionParser` (default safety limits)."""
    global _DEFAULT_PARSER
    if _DEFAULT_PARSER is None:
        _DEFAULT_PARSER = CorrectionParser()
    return _DEFAULT_PARSER.parse(text, context)
