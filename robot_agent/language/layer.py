"""The understanding layer: one entry point for tasks and corrections.

1. **Stop first.** A stop-like utterance halts the arm; nothing else is consulted.
2. **The grammar** (:class:`CorrectionParser`, :func:`parse_goal`) is the fast path when it is
   confident: every word accounted for, and its reading one of the meanings the context allows.
3. **The models** otherwise: the meanings the scene, skill and plan allow are enumerated
   (:mod:`robot_agent.language.candidates`), rendered as sentences, and the utterance is scored
   against all of them with the embedded sentence model in one batch (:class:`Scorer`). Polarity
   ("too fast" against "faster") is read from the words themselves (:mod:`polarity`), since a
   sentence embedding barely separates opposites.
4. **A calibrated decision**: act when the best meaning clears an absolute score and a margin over
   the next one; otherwise ask, naming the best two or three ("Do you mean: 1. ..., 2. ...?").
   The answer (a number or words) goes through the same layer.

The task half (a task's words to a goal) is :class:`~robot_agent.language.tasks.TaskReading`,
mixed in; the corrections, the ranking, the decision and the questions are here.

Thresholds were tuned on the dev split of ``sim/corpus/understanding.yaml`` only
(``docs/understanding.md``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from robot_agent.language import (
    answers,
    guards,
    judgement,
    naming,
    nouns,
    polarity,
    reference,
    spelling,
    steps,
    structure,
    verbs,
)
from robot_agent.language import scene_words as sw
from robot_agent.language.candidates import Candidate, correction_candidates, task_candidates
from robot_agent.language.checks import (
    HEDGED,
    PLAN_FAMILIES,
    clauses,
    clean,
    learner,
    learner_task,
    less_said,
    names_unused_object,
    pointless_step,
    reading_allowed,
    repaired,
    request_said,
    situation,
    without_company,
)
from robot_agent.language.grammar import Correction, CorrectionContext, CorrectionKind, CorrectionParser, is_stop
from robot_agent.language.grammar.parse import after_stop
from robot_agent.language.grammar.patterns import OTHER_WAY, TAKEN_BACK
from robot_agent.language.grammar.state import without_limit_words
from robot_agent.language.meaning import correction_keys, decision, family
from robot_agent.language.tasks import TaskReading
from robot_agent.language.types import Choice, Thresholds, Understanding
from robot_agent.language.voice import active
from skills.params import SKILL_PARAMS
from skills.types import ObjectInfo

log = logging.getLogger(__name__)


def taken_back(text: str) -> bool:
    """The words take the last correction back ("the other way", "too far", "undo that") and say
    no direction of their own ("too far left" is a direction said)."""
    low = text.lower()
    if OTHER_WAY.search(low):
        return True
    return bool(TAKEN_BACK.search(low)) and not polarity.said_values("move", low)


MODES = ("grammar", "full")


@dataclass
class _Pending:
    """A question asked and not answered yet."""

    what: str
    text: str
    choices: list[Choice]
    cands: list[Candidate]
    ctx: CorrectionContext | None
    objects: list[ObjectInfo] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)


class LanguageLayer(TaskReading):
    """Understands operator utterances in the context of the scene, the skill and the plan.

    Args:
        parser: the grammar (:class:`CorrectionParser`), the fast path and the executor of
            canonical meanings.
        embedder: a text embedder (``memory.embedders``) for the model path; None = grammar only.
        mode: ``"grammar"`` (the grammar alone) or ``"full"`` (grammar, models, questions).
        thresholds: the decision's calibration.
        question_ttl_s: how long an unanswered question stays open.
        phrases: a :class:`robot_agent.language.phrases.PhraseMemory`: answered questions are
            kept there and its exemplars are scored like renderings; None = nothing learned.
        llm: a :class:`robot_agent.language.llm.LLMChooser` (``policy.backend: openai``): where the
            grammar is not sure, the served model picks among the meanings; on any failure the
            embedded decision stands.
    """

    def __init__(
        self,
        parser: CorrectionParser | None = None,
        embedder: Any = None,
        mode: str = "full",
        thresholds: Thresholds | None = None,
        question_ttl_s: float = 120.0,
        phrases: Any = None,
        llm: Any = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "full" and embedder is None:
            raise ValueError("mode 'full' needs a text embedder (memory.embedders.make_text_embedder)")
        self.parser = parser or CorrectionParser()
        self.embedder = embedder
        self.mode = mode
        self.th = thresholds or Thresholds()
        self.question_ttl_s = question_ttl_s
        self._pending: _Pending | None = None
        self.last: Understanding | None = None  # the latest correction understood (its source, for the logs)
        self.phrases = phrases
        self.llm = llm
        self.learned: list[Any] = []  # phrase items kept since the caller last took them
        self._lock = threading.RLock()
        self._dry = False  # a dry run (:meth:`_phrases_first`): no served model, no state kept
        self.scorer = None
        if embedder is not None:
            from robot_agent.language.scorer import Scorer

            self.scorer = Scorer(embedder)
        if mode == "full":
            from robot_agent.language import wordnet

            # WordNet's indexes load in the background (about 1 s); a first utterance before
            # they are in waits on the reader's lock, never reads half an index.
            threading.Thread(target=wordnet.warm, name="wordnet-warm", daemon=True).start()
            threading.Thread(target=spelling.load, name="spelling-warm", daemon=True).start()

    # ------------------------------------------------------------------ public

    @property
    def pending_question(self) -> Understanding | None:
        """The question waiting for an answer, if any."""
        p = self._pending_now()
        if p is None:
            return None
        return Understanding(p.text, p.what, "ask", question=answers.question(p.choices), choices=list(p.choices))

    def forget_question(self) -> None:
        with self._lock:
            self._pending = None

    def understand_correction(
        self, text: str, ctx: CorrectionContext | None = None, typed: bool = True
    ) -> Understanding:
        """What a correction asks for, in ``ctx``; see the module doc for the steps. ``typed``:
        the words were typed (respelled first); a recogniser's transcript is read as heard."""
        t0 = time.perf_counter()
        said = text if isinstance(text, str) else str(text)
        ctx = ctx or CorrectionContext()
        meant = self._respelled(said, ctx.objects) if typed else said  # "lowr ur fingers": typos, chat
        if self.mode == "full":  # "more high" -> "higher"; "..., chef": no thing; the passive turned round
            meant = active(learner(steps.without_address(meant, sw.all_words(ctx.objects))))
        with self._lock:
            before = self._pending
            u = self._correction(meant, ctx)
            if meant != said and u.decision not in ("act", "stop"):
                self._pending = before  # the question asked just now is no question to answer
                u = self._correction(said, ctx)  # no reading either way: ask in the words typed
            elif meant != said:
                u = replace(u, text=said)
            if u.correction is not None and u.decision == "act":
                u.correction.confidence = float(u.confidence)  # what distillation reads
            self.last = u
        u.latency_ms = (time.perf_counter() - t0) * 1e3
        return u

    def understand_task(self, text: str, objects: Sequence[ObjectInfo], typed: bool = True) -> Understanding:
        """The goal a task asks for on ``objects``, or a question / reason (``typed``: see
        :meth:`understand_correction`)."""
        t0 = time.perf_counter()
        said = text if isinstance(text, str) else str(text)
        meant = self._respelled(said, objects) if typed else said  # "pls put teh cube in the drawr"
        # a learner's forms, the person addressed, a request in the passive ("the cup is to be placed on the tray")
        if self.mode == "full":
            meant = active(learner_task(steps.without_address(meant, sw.all_words(objects))))
        # a story or a remark around the request is left out ("... my back is killing me. Would you ...?")
        request = steps.restated(steps.requested(clean(meant), objects)) if self.mode == "full" else clean(meant)
        with self._lock:
            self._phrases_first(lambda: self._task(meant if request == clean(meant) else request, list(objects)))
            before = self._pending
            u = self._task(meant if request == clean(meant) else request, list(objects))
            if meant != said and u.decision != "act":  # no reading either way: ask in the words typed
                self._pending = before
                plain = steps.restated(steps.requested(clean(said), objects))
                meant, u = said, self._task(said if plain == clean(said) else plain, list(objects))
            if self.mode == "full" and u.decision == "act" and u.source != "answer":
                whole = guards.whole(u, clean(meant), list(objects))  # never done in part
                self._pending, u = (self._pending, u) if whole is u else (None, whole)
        u.text = said
        u.latency_ms = (time.perf_counter() - t0) * 1e3
        return u

    def _phrases_first(self, run: Any) -> None:
        """Embed, in one batch, the phrases ``run`` (a task's understanding) will ground.

        The words heard are grounded phrase by phrase ("the leftmost mug", "the plate", "the
        mug"), and each phrase not heard before costs a forward pass of its own, bound by
        reading the model's weights; a batch of five costs about two. So ``run`` goes once dry
        first, with every unknown phrase scoring 0, no served model asked and no question or
        learned phrase kept, to list what it asks for; those are embedded together and the real
        run finds them kept. A phrase only the real run reaches (its scores took it elsewhere)
        is embedded when asked, as before: the result never depends on the dry run.

        Only tasks: a correction grounds one or two phrases, and its dry run cost more than the
        batch saved (the fast path's p95 doubled, ``scripts/bench_understanding_latency.py``).
        """
        if self.scorer is None or self._pending is not None:  # an answer to a question: short, and learns
            return
        pending, learned, last = self._pending, list(self.learned), self.last
        self._dry = True
        try:
            with self.scorer.deferring() as missed:
                run()
        except Exception as exc:  # noqa: BLE001 - only a guess at the phrases: the real run raises it again
            log.debug("dry run of an understanding failed: %s: %s", type(exc).__name__, exc)
        finally:
            self._dry = False
            self._pending, self.learned, self.last = pending, learned, last
        if len(missed) > 1:  # one phrase alone gains nothing from a batch
            self.scorer.embed_queries(missed)

    def _respelled(self, text: str, objects: Sequence[ObjectInfo]) -> str:
        """Typed text as it was meant (:mod:`spelling`); the grammar-only mode reads it as typed."""
        if self.mode != "full":
            return text
        return spelling.respelled(text, sw.all_words(objects))

    def prepare(self, contexts: Sequence[CorrectionContext]) -> None:
        """Embed the renderings of every meaning these contexts allow, ahead of time (one batch),
        so a correction said during them is scored without embedding them first."""
        if self.scorer is None:
            return
        self.scorer.warm([r for ctx in contexts for c in correction_candidates(ctx) for r in c.renderings])

    def parse(self, text: str, ctx: CorrectionContext | None = None, typed: bool = True) -> Correction:
        """Drop-in for :meth:`CorrectionParser.parse`: the correction to act on (an ``unclear``
        one carrying the question when the layer asks)."""
        u = self.understand_correction(text, ctx, typed)
        assert u.correction is not None  # noqa: S101 - type narrowing: understand_correction always sets it
        return u.correction

    # ------------------------------------------------------------------ corrections

    def _correction(self, text: str, ctx: CorrectionContext) -> Understanding:
        # "knock it off", "pause": ceasing; "my hand's in there!": a person's body where the arm works
        halts = self.mode == "full" and bool(verbs.halting(clean(text)) or nouns.body_at_risk(text))
        if is_stop(text) or halts:
            c = self.parser.parse(text, ctx)
            if c.kind is CorrectionKind.STOP or halts:
                said = c.kind is CorrectionKind.STOP
                c = c if said else Correction(text, CorrectionKind.STOP, confidence=0.9)
                source = ("model", "grammar")[said]
                rest = after_stop(text) if said and self.mode == "full" else ""
                if polarity.gerund_first(rest):
                    rest = ""  # "stop lowering it": what to stop doing, no request after the stop
                if rest and len(rest) < len(text.strip()):  # shorter each time: it ends
                    # what the rest asks, once halted, read by the whole layer ("hang on, the
                    # drawer's shut. open that before anything else"); nothing when it is unsure
                    then = self._correction(rest, ctx)
                    c.followup = then.correction if then.decision == "act" else None
                    if c.followup is not None:
                        c.followup.text = text
                    if then.source != "grammar":
                        source = "grammar+model"  # the stop is the grammar's, what follows the models'
                self._pending = None
                return Understanding(text, "correction", "stop", correction=c, confidence=c.confidence, source=source)
        why = verbs.refusal(clean(text)) if self.mode == "full" else None
        if why is not None:  # "just chuck it over to me"
            self._pending = None
            c = Correction(text, CorrectionKind.UNCLEAR, refusal=why, confidence=1.0)
            return Understanding(text, "correction", "refuse", correction=c, reason=why, source="model")
        # "go right - sorry, left"; "eight centimetres, no more than that"; "have another crack at it"
        if (
            self.mode == "full"
            and (fixed := verbs.another_try(without_limit_words(without_company(repaired(text))))) != text
        ):
            u = self._correction(fixed, ctx)
            return replace(u, text=text)
        # "You came down on it from a great height. Could you start lower? ...": the sentence that asks
        if self.mode == "full" and (asked := steps.asked_of_robot(clean(text), ctx.objects)) != clean(text):
            return replace(self._correction(asked, ctx), text=text)
        request = clean(text) if self.mode == "grammar" else naming.request_part(clean(text))
        g = self.parser.parse(request, ctx)
        g.text = text
        if self.mode == "grammar":
            return self._from_grammar(text, g)
        if g.refusal:
            self._pending = None
            return self._from_grammar(text, g)
        pending = self._pending_now()
        if pending is not None and pending.what == "correction":
            ans = self._answer(text, pending)
            if ans is not None:
                return ans
        if g.kind is CorrectionKind.UNCLEAR:  # the readings below only for what the grammar did not read
            said = clean(text)
            if (plain := verbs.directed(said)) != said:
                return replace(self._correction(plain, ctx), text=text)  # "descend by eight centimetres"
            if (opposite := less_said(said)) != said:
                return replace(self._correction(opposite, ctx), text=text)  # "drop it from less high"
            asked = request_said(said)
            if asked != said and self.parser.parse(asked, ctx).kind is CorrectionKind.SKILL:
                # "it's overhanging on the left, shift it right by a centimetre": the request is whole
                return replace(self._correction(asked, ctx), text=text)
        absent = structure.absent_phrase(clean(text), ctx.objects)
        if absent is not None:  # "in the red bowl" when the one bowl is blue
            return self._not_here(text, "correction", absent, ctx.objects)
        cands = correction_candidates(ctx)
        defaults = self._defaults(ctx)
        gkeys = correction_keys(g, defaults) if g.kind is not CorrectionKind.UNCLEAR else set()
        cand_keys = {c.key for c in cands}
        allowed = reading_allowed(gkeys, cand_keys) and not pointless_step(g, ctx)
        if (
            gkeys
            and allowed
            and g.confidence >= 0.999
            # "the other way", "too far", "undo that" take the last correction back, which the
            # sentence models cannot see (a direction said with them is read by the models)
            and (not HEDGED.search(request.lower()) or (ctx.last is not None and taken_back(text)))
            and not polarity.describes_fault(text)
            and not (structure.stack_order(text) and not any(family(k).startswith("stack") for k in gkeys))
            and not (structure.later_step(text) and any(family(k) == "swap_object" for k in gkeys))
            and not names_unused_object(text, g, ctx)
            # "looks good to me(, drop it)" is no "to me" motion
            and all(judgement.approval(part) <= 0 for part in (clean(text), *clauses(clean(text))))
        ):
            return self._from_grammar(text, g)
        ranked = self._rank(text, cands, ctx, request=request)
        if gkeys and allowed:
            # The grammar read something allowed but left words unexplained: keep its reading when
            # the models do not prefer another meaning clearly.
            best_g = max((s for c, s in ranked if c.key in gkeys), default=None)
            # A plan change (another object, another place, a keep-out...) changes what the robot
            # does next: the models must rank it first, not merely close.
            # Except a step forbidden with its verb negated ("don't shut it"): the sentence models
            # hardly hear the "don't", so the grammar's reading holds when it is close.
            plan_change = any(family(k) in PLAN_FAMILIES | {"prefer"} for k in gkeys)
            lead = 0.0 if plan_change and not all(family(k) == "forbid" for k in gkeys) else self.th.margin
            if ranked and ranked[0][0].key not in gkeys and ranked[0][0].family in {family(k) for k in gkeys}:
                # The models prefer the other value of the grammar's own family ("too slow": faster,
                # not slower): the grammar's word spotting must not win by being close.
                lead = 0.0
            if best_g is not None and best_g >= ranked[0][1] - lead:
                return self._from_grammar(text, g, source="grammar+model", confidence=min(g.confidence, best_g))
        if not ranked:
            return self._ask(text, "correction", [], ctx, g)
        judged = self._judge(text, "correction", situation(ctx), ranked)
        if judged is not None:
            cand, conf = judged
            if cand is None:
                return self._ask(text, "correction", [], ctx, g)
            c = self._build(text, cand, ctx)
            if c is not None:
                return Understanding(
                    text,
                    "correction",
                    decision(c),
                    correction=c,
                    confidence=conf,
                    source="llm",
                    reason=c.refusal or "",
                )
        top, s1 = ranked[0]
        first = (steps.said_order(clean(text), ctx.objects) or (set(),))[0] if top.family == "order_first" else set()
        same = {f"order_first:{n}" for n in first} if top.value in first else set()  # "apples first": either
        if top.family in polarity.DISTANCE_FAMILIES:
            built = self._build(text, top, ctx)
            if built is not None and any("set" in ch for ch in built.parameters.values()):
                # "push it a good 20 cm": a distance set, which "further" and "less far" both become
                same = {c.key for c in cands if c.family == top.family}
        s2 = next((s for c, s in ranked[1:] if c.key != top.key and c.key not in same), 0.0)
        if top.family == "stop" and s1 >= self.th.ask:
            # A stop-like phrase the word list lacks ("hang on a sec"): halting is the safe side.
            c = Correction(text, CorrectionKind.STOP, confidence=float(s1))
            self._pending = None
            return Understanding(text, "correction", "stop", correction=c, confidence=float(s1), source="model")
        akin = guards.akin_choices(clean(text), ranked, ctx.objects)
        if akin is not None:  # "put it on the teapot": no teapot, a mug
            return self._ask(text, "correction", akin[1], ctx, g, reason=akin[0])
        held = next((o for o in ctx.objects if o.name == ctx.object), None)
        # one part of the object in hand named, and grasping by it ranked first ("handle, please")
        part = top.family == "grasp" and top.value == naming.part_meant(clean(text), held) and s1 >= self.th.ask
        if self._clear(s1, s2) or part:
            c = self._build(text, top, ctx)
            if c is not None and c.kind is not CorrectionKind.UNCLEAR:
                return Understanding(
                    text,
                    "correction",
                    decision(c),
                    correction=c,
                    confidence=float(s1),
                    source="model",
                    reason=c.refusal or "",
                )
        close = [(c, s) for c, s in ranked[:3] if s >= self.th.ask and s >= s1 - 3 * self.th.margin]
        if ranked[0][0].family == "grasp" and structure.named_part(clean(text), ctx.objects, self.scorer):
            # "by the ear": a part nobody here calls that; offer every part this object has.
            close = [(c, s) for c, s in ranked if c.family == "grasp"][:4]
        return self._ask(text, "correction", close, ctx, g)

    def _rank(
        self,
        text: str,
        cands: list[Candidate],
        ctx: CorrectionContext | None,
        objects: Sequence[ObjectInfo] | None = None,
        ruled_out: set[str] | None = None,
        request: str | None = None,
    ) -> list[tuple[Candidate, float]]:
        """Candidates by score, best first (polarity families resolved by the words); ``request``:
        a correction's request part when the caller has it already."""
        if not cands or self.scorer is None:
            return []
        sentences = [r for c in cands for r in c.renderings]
        if objects is not None:
            request = clean(text)
        elif request is None:
            # a correction's warning says why, its request what to do ("lift it more, you'll clip the cube")
            request = naming.request_part(clean(text))
        q = self.scorer.query(request)
        flat = self.scorer.scores(q, sentences)
        scores: list[float] = []
        i = 0
        for c in cands:
            n = len(c.renderings)
            scores.append(float(flat[i : i + n].max()) if n else 0.0)
            i += n
        scores = self._exemplars(
            q,
            cands,
            scores,
            objects if objects is not None else (ctx.objects if ctx else []),
            "task" if objects is not None else "correction",
        )
        scores = polarity.adjust(text, q, cands, scores, self.scorer)
        if objects is not None:
            scores = structure.rescore_tasks(clean(text), objects, cands, scores, self.scorer, q, ruled_out)
            scores = naming.task_cue(clean(text), cands, scores, objects, self.scorer)
            scores = naming.place_cue(clean(text), cands, scores, objects, self.scorer)
        else:
            handled = [o for o in (ctx.objects if ctx else []) if o.name in (ctx.object, ctx.target)]
            held = next((o for o in handled if o.name == ctx.object), None) if ctx else None
            scores = structure.rescore_parts(clean(text), cands, scores, self.scorer, ctx.objects if ctx else (), held)
            part = naming.part_meant(clean(text), held)  # "when the handle's right there": that part
            scores = [s + structure.PART_SAID * (c.key == f"grasp:{part}") for c, s in zip(cands, scores, strict=True)]
            about = frozenset(w for o in handled for w in sw.words(o))  # "on the tray's fine": the target
            scores = judgement.rescore(clean(text), cands, scores, about)
            if ctx is not None:
                scores = structure.scene_cues(clean(text), cands, scores, ctx, self.scorer)
                scores = naming.object_cue(clean(text), cands, scores, ctx.objects, self.scorer, ctx.object)
                scores = naming.place_cue(clean(text), cands, scores, ctx.objects, self.scorer)
                scores = steps.not_done_cue(clean(text), cands, scores)
                now = (ctx.object, ctx.target)
                scores = reference.swap_cue(clean(text), cands, scores, ctx.objects, self.scorer, now)
        order = sorted(range(len(cands)), key=lambda k: -scores[k])
        return [(cands[k], scores[k]) for k in order]

    def _clear(self, s1: float, s2: float) -> bool:
        """Act on the best meaning: it scores high and leads, or it leads the next one by far."""
        return (s1 >= self.th.act and s1 - s2 >= self.th.margin) or (
            s1 >= self.th.ask and s1 - s2 >= self.th.clear_lead
        )

    def _home(self, s1: float, s2: float) -> bool:
        """Going home ranked first clears its own, lower bar (:class:`Thresholds` ``home_act``)."""
        return self._clear(s1, s2) or (s1 >= self.th.home_act and s1 - s2 >= self.th.home_lead)

    def _judge(
        self, text: str, what: str, situation: str, ranked: list[tuple[Candidate, float]]
    ) -> tuple[Candidate | None, float] | None:
        """The served model's pick among the best-scored meanings: (candidate or None for "none
        fits", confidence); None when there is no model or it failed (the embedded path decides)."""
        if self.llm is None or self._dry:
            return None
        from robot_agent.language.llm import MAX_SHOWN, LLMUnusable

        shown = [c for c, _ in ranked[:MAX_SHOWN]]
        try:
            idx, conf = self.llm.choose(text, what, situation, [c.label for c in shown])
        except LLMUnusable as exc:
            log.warning("understanding falls back to the embedded models: %s", exc)
            return None
        return (None if idx is None else shown[idx]), conf

    def _exemplars(
        self, q: Any, cands: list[Candidate], scores: list[float], objects: Sequence[ObjectInfo], what: str
    ) -> list[float]:
        """Scores raised by the operator's own earlier words for the same meaning (phrase items)."""
        if self.phrases is None:
            return scores
        found = self.phrases.exemplars(q[0], what)
        if not found:
            return scores
        sims = self.scorer.scores(q, [u for u, _ in found])
        out = list(scores)
        for (_, meaning), sim in zip(found, sims, strict=True):
            for i, c in enumerate(cands):
                if self.phrases.applies(meaning, c, objects):
                    out[i] = max(out[i], float(sim))
        return out

    def _learn(self, text: str, cand: Candidate, p: _Pending) -> None:
        if self.phrases is None:
            return
        objs = list(p.objects) if p.what == "task" else list(p.ctx.objects if p.ctx else [])
        cat = None
        if p.ctx is not None and p.ctx.object:
            cat = next((o.category for o in objs if o.name == p.ctx.object), None)
        item = self.phrases.learn(text, cand, objs, p.ctx.skill if p.ctx else None, cat)
        if item is not None:
            self.learned.append(item)

    def take_learned(self) -> list[Any]:
        """The phrase items kept since the last call (the agent reports them as knowledge)."""
        out, self.learned = self.learned, []
        return out

    def _build(self, text: str, cand: Candidate, ctx: CorrectionContext | None) -> Correction | None:
        """The correction a chosen candidate means, built by the grammar from its canonical words."""
        canonical = cand.canonical
        if cand.family == "move":
            mag = polarity.amount_said(text) or polarity.magnitude_words(text)
            canonical = re.sub(r"\ba bit\b", mag, canonical, count=1)
        c = self.parser.parse(canonical, ctx)
        if c.kind is CorrectionKind.UNCLEAR and cand.family == "move" and canonical != cand.canonical:
            c = self.parser.parse(cand.canonical, ctx)
        c.text = text
        if c.kind is CorrectionKind.UNCLEAR:
            log.info("candidate %s (%r) did not parse: %s", cand.key, canonical, c.question)
            return None
        return polarity.distance_said(text, cand.family, c)

    def _from_grammar(
        self, text: str, g: Correction, source: str = "grammar", confidence: float | None = None
    ) -> Understanding:
        d = decision(g)
        if d != "ask":
            self._pending = None
        if self.mode == "full" and d == "act":
            g = polarity.limit_said(text, g)  # "12 centimetres only, not more": to, not by
        return Understanding(
            text,
            "correction",
            d,
            correction=g,
            question=g.question,
            reason=g.refusal or "",
            confidence=g.confidence if confidence is None else confidence,
            source=source,
        )

    @staticmethod
    def _defaults(ctx: CorrectionContext) -> dict[str, Any]:
        return {**{p.name: p.default for p in SKILL_PARAMS.get(ctx.skill or "", ())}, **(ctx.params or {})}

    # ------------------------------------------------------------------ questions and answers

    def _not_here(self, text: str, what: str, phrase: str, objects: Sequence[ObjectInfo]) -> Understanding:
        """A question with its reason: ``phrase`` names nothing in the scene ("the red bowl")."""
        self._pending = None
        why = f"I can't see {phrase.strip()} here"
        q = f"{why}. I can see: {', '.join(o.name for o in objects)}. What should I do?"
        corr = Correction(text, CorrectionKind.UNCLEAR, question=q, confidence=0.0) if what == "correction" else None
        return Understanding(text, what, "ask", correction=corr, question=q, reason=why, source="model")

    def _ask(
        self,
        text: str,
        what: str,
        close: list[tuple[Candidate, float]],
        ctx: CorrectionContext | None,
        g: Correction | None,
        objects: Sequence[ObjectInfo] = (),
        reason: str = "",
    ) -> Understanding:
        choices = []
        acted_on: list[Candidate] = []  # the meaning of each choice
        seen: set[str] = set()
        for c, s in close:
            if c.key in seen:
                continue
            seen.add(c.key)
            meaning: dict[str, Any] = {}
            if what == "correction":
                built = self._build(text, c, ctx)
                if built is None:
                    continue
                meaning = built.to_dict()
            else:
                meaning = {"atoms": c.atoms}
            choices.append(Choice(c.label, c.canonical, float(s), meaning))
            acted_on.append(c)
        scene = list(objects) or (list(ctx.objects) if ctx is not None else [])
        choices, offered = answers.told_apart(choices, acted_on, scene)
        if choices:
            q = answers.question(choices)
            self._pending = _Pending(what, text, choices, offered, ctx, list(objects))
            corr = (
                Correction(text, CorrectionKind.UNCLEAR, question=q, confidence=0.0) if what == "correction" else None
            )
            return Understanding(
                text,
                what,
                "ask",
                correction=corr,
                question=q,
                choices=choices,
                reason=reason or "more than one meaning fits",
                confidence=float(close[0][1]),
                source="model",
            )
        self._pending = None
        if g is not None and g.kind is CorrectionKind.UNCLEAR and g.question and not g.question.startswith("Sorry"):
            q = g.question  # the grammar's own, specific question ("2 what: ...?", "Which block ...?")
        else:
            q = (
                f"Sorry, I didn't understand {text.strip()!r}. You can tell me a direction and how far, "
                "slower or faster, which part to grasp, which object or place you meant, or what to do first."
            )
        corr = Correction(text, CorrectionKind.UNCLEAR, question=q, confidence=0.0) if what == "correction" else None
        return Understanding(
            text, what, "ask", correction=corr, question=q, reason=reason or "nothing fits well enough", source="model"
        )

    def _pending_now(self) -> _Pending | None:
        p = self._pending
        if p is not None and time.monotonic() - p.at > self.question_ttl_s:
            self._pending = None
            return None
        return p

    def _says_another(self, text: str, p: _Pending, score: float) -> bool:
        """The words mean something the question did not offer, clearly better than what they
        pick among its choices ("from now on glasses go on the tray" after "1. put it on the
        tray, 2. keep away from the tray?"): a new request, not an answer."""
        offered = {c.key for c in p.cands}
        every = task_candidates(p.objects) if p.what == "task" else correction_candidates(p.ctx or CorrectionContext())
        ranked = self._rank(text, every, p.ctx, p.objects if p.what == "task" else None)
        return bool(ranked) and ranked[0][0].key not in offered and ranked[0][1] >= score + self.th.margin

    def _answer(self, text: str, p: _Pending) -> Understanding | None:
        """``text`` as an answer to the pending question, or None when it is not one."""
        idx = answers.chosen_index(text, len(p.choices))
        if idx is not None:
            pass
        elif answers.says_none(text):
            self._pending = None
            q = "What did you mean, then? Please say it in other words."
            corr = (
                Correction(text, CorrectionKind.UNCLEAR, question=q, confidence=0.0) if p.what == "correction" else None
            )
            return Understanding(
                text, p.what, "ask", correction=corr, question=q, reason="none of the choices", source="answer"
            )
        elif self.scorer is not None and p.cands:
            ranked = self._rank(text, p.cands, p.ctx, p.objects if p.what == "task" else None)
            if (
                ranked
                and ranked[0][1] >= self.th.answer
                and (len(ranked) == 1 or ranked[0][1] - ranked[1][1] >= self.th.margin)
                and not self._says_another(text, p, ranked[0][1])
            ):
                idx = next(i for i, c in enumerate(p.choices) if c.canonical == ranked[0][0].canonical)
        if idx is None or not 0 <= idx < len(p.choices):
            return None
        choice = p.choices[idx]
        cand = next(c for c in p.cands if c.canonical == choice.canonical)
        self._pending = None
        self._learn(p.text, cand, p)
        if p.what == "task":
            u = self._task_from(p.text, cand, p.objects, 1.0, "answer")
            if u is not None:
                u.text = text
            return u
        c = self._build(p.text, cand, p.ctx)
        if c is None:
            return None
        return Understanding(
            text,
            "correction",
            decision(c),
            correction=c,
            confidence=1.0,
            source="answer",
            reason=f"answer to: {p.text}",
        )
