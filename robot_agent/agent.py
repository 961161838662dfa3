"""The hierarchical agent loop: plan -> execute skills -> take corrections -> distill.

The same loop serves the CLI, the ROS node and the benchmark:

1. Retrieve plan knowledge for the task text and plan with the high-level policy.
2. For each skill call: retrieve skill knowledge (skill + object description + object
   crop), apply it to the call's parameters, and execute the skill with a fresh
   cancel token, checked at every control tick.
3. Corrections arrive at any time, from any thread, through :meth:`Agent.submit_correction`
   (typed, spoken, ROS topic) or from an in-loop observer (the simulated operator).
   ``stop`` halts the arm within one tick; any other correction also interrupts the
   running skill at once, then is understood: skill-level -> adjust that skill's
   parameters and retry; plan-level -> replan the remaining steps from the current
   state with the correction as a constraint; unclear -> ask, never guess, and hold the
   arm until the operator answers (a stop or a warning said in words no check knows
   must not let the motion go on).
4. At the end, the episode's corrections are distilled into knowledge items and
   merged into the knowledge base; outcomes of the knowledge used are recorded.

Nothing here knows about hidden scenario requirements: the simulated operator is
passed in as an :class:`robot_agent.episode.Observer` and speaks only words.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from robot_agent.agent_knowledge import KnowledgeMixin
from robot_agent.config import AgentConfig
from robot_agent.episode import AgentState, CorrectionRecord, EpisodeResult, Observer, StepRecord
from robot_agent.errors import ParameterError, PolicyError
from robot_agent.language import answers
from robot_agent.language.grammar import (
    Correction,
    CorrectionContext,
    CorrectionKind,
    CorrectionParser,
    apply_parameter_changes,
    is_stop,
)
from robot_agent.policy.resilience import BackendUnavailableError
from skills.library import get_skill
from skills.params import validate_params
from skills.result import SkillResult, SkillStatus
from skills.robot import CancelToken, Robot
from skills.safety import SafetyChecker
from skills.types import ObjectInfo

log = logging.getLogger(__name__)

#: memory modes compared by the benchmark
MEMORY_MODES = ("full", "no-memory", "raw-memory", "text-only")


@dataclass
class _Call:
    """A skill call being executed (duck-compatible with the policy's SkillCall)."""

    skill: str
    args: dict[str, str]
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"skill": self.skill, "args": dict(self.args), "params": dict(self.params)}


class Agent(KnowledgeMixin):
    """Runs tasks on a robot with a planner, a knowledge base and a correction parser.

    Args:
        robot: the arm (PyBullet or ROS).
        policy: the high-level planner (``plan``/``replan``, see ``robot_agent.policy``).
        kb: the knowledge base, or None to run without memory.
        parser: understands corrections.
        config: the agent configuration.
        camera: optional camera with ``object_crops()`` for visual retrieval.
        on_event: called with every event dict (status, plan, understood, knowledge, ...).
        observer: an in-loop watcher that may speak corrections (the simulated operator).
        memory_mode: one of :data:`MEMORY_MODES`.
        max_attempts: retries of one step after failures before giving up.
    """

    def __init__(
        self,
        robot: Robot,
        policy: Any,
        kb: Any,
        parser: CorrectionParser,
        config: AgentConfig,
        *,
        camera: Any = None,
        on_event: Callable[[dict[str, Any]], None] | None = None,
        observer: Observer | None = None,
        memory_mode: str = "full",
        max_attempts: int = 3,
        max_corrections: int = 12,
        episode_logger: Any = None,
    ) -> None:
        if memory_mode not in MEMORY_MODES:
            raise ValueError(f"memory_mode {memory_mode!r}; valid: {', '.join(MEMORY_MODES)}")
        self.robot = robot
        self.policy = policy
        self.kb = kb if memory_mode != "no-memory" else None
        self.parser = parser
        # The understanding layer (robot_agent.language) when the parser is one: tasks are understood
        # through it too, and its questions carry choices the operator answers.
        self.language = parser if hasattr(parser, "understand_task") else None
        self.config = config
        self.camera = camera
        self.on_event = on_event
        self.observer = observer
        self.memory_mode = memory_mode
        self.max_attempts = max_attempts
        self.max_corrections = max_corrections
        self.episode_logger = episode_logger
        self.safety = SafetyChecker(config.safety)
        self.state = AgentState.IDLE
        # (text, source, received, unsure): unsure = the recognizer was not sure of the words
        self._inbox: queue.Queue[tuple[str, str, float, bool]] = queue.Queue(maxsize=256)
        self._cancel = CancelToken()
        self._aux_cancel = CancelToken()  # motions outside a skill (putting an object back)
        self._stop_requested = threading.Event()
        self._lock = threading.Lock()
        self.dropped = 0
        self._last_correction: Correction | None = None
        self._held_question = ""  # the question the arm is held on (a correction not understood)
        self._waiting_on_answer = False  # the arm is held on a question
        self._unconfirmed: Correction | None = None  # heard unsure and said back: "Did you say ...?"
        self._after_stop = False  # ... or what was asked after a stop: "Shall I do that and go on?"
        self._stops: list[str] = []  # why the arm was stopped since the last clear (a stop service's too)
        self._keep_out: list[str] = []  # objects the tool must not pass over (from avoid constraints)

    # -- thread-safe inputs ----------------------------------------------------------------
    def submit_correction(self, text: str, source: str = "typed", unsure: bool = False) -> None:
        """Queue an utterance from any thread. A stop halts the arm within one control tick.

        Any correction interrupts the running skill at once (the operator is telling the
        robot that what it is doing is wrong); it is understood in the agent's thread.
        ``unsure``: the recognizer is not sure these were the words (its two decodes disagree):
        the arm holds and the operator is asked "Did you say ...?" before anything is done.
        """
        now = time.monotonic()
        if not isinstance(text, str):
            text = str(text)
        if is_stop(text) and not (self._waiting_on_answer and answers.says_no(text)):
            self.stop(f"operator: {text[:80]}")
        else:  # (a bare "no" to a question asked while the arm is held is the answer, not a stop)
            self._cancel.cancel("correction received")
        try:
            self._inbox.put_nowait((text, source, now, bool(unsure)))
        except queue.Full:
            self.dropped += 1
            reason = "correction queue full"
            if is_stop(text):  # acted on already: the arm is halting; only the parsing is skipped
                reason = "correction queue full; the stop was acted on at once"
            self._emit({"type": "dropped", "text": text[:200], "source": source, "reason": reason})
            return
        # Logged on receipt, whatever becomes of it later.
        self._emit({"type": "correction", "text": text, "source": source})

    def stop(self, reason: str = "stop") -> None:
        """Halt the arm within one control tick and end the current task."""
        self._stops.append(reason)
        self._stop_requested.set()
        self._cancel.cancel(reason)
        self._aux_cancel.cancel(reason)

    def reset(self) -> None:
        """Clear a stop and any queued corrections, ready for the next task."""
        self._stop_requested.clear()
        self._stops.clear()
        self._unconfirmed, self._after_stop = None, False
        self._cancel.reset()
        self._aux_cancel.reset()
        while True:
            try:
                text, source, _, _ = self._inbox.get_nowait()
            except queue.Empty:
                break
            # Logged when it arrived; say what became of it.
            self._emit(
                {
                    "type": "understood",
                    "text": text,
                    "source": source,
                    "kind": "unparsed",
                    "summary": "not handled",
                    "outcome": "dropped: cleared by reset before it was handled",
                    "question": None,
                    "refusal": None,
                }
            )
        self.state = AgentState.IDLE

    def discard_pending(self, reason: str) -> int:
        """Drop every queued, not yet understood correction, each with a ``dropped`` event naming ``reason``.

        For callers that run tasks back to back (the ROS node): an utterance that arrived as a
        task ended must be accounted for, and must not be applied to the next task.

        Returns:
            how many were dropped.
        """
        n = 0
        while True:
            try:
                text, source, _, _ = self._inbox.get_nowait()
            except queue.Empty:
                return n
            n += 1
            self.dropped += 1
            self._emit({"type": "dropped", "text": text[:200], "source": source, "reason": reason})

    # -- events --------------------------------------------------------------------------------
    def _emit(self, event: dict[str, Any]) -> None:
        event.setdefault("t", time.time())
        if self.episode_logger is not None:
            try:
                self.episode_logger.log_event(event)
            except Exception:  # noqa: BLE001 - logging must never stop the arm
                log.exception("episode log write failed")
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # noqa: BLE001
                log.exception("event callback failed")

    def _set_state(self, state: AgentState, **extra: Any) -> None:
        self.state = state
        self._emit({"type": "status", "state": state.value, **extra})

    # -- the loop -------------------------------------------------------------------------------
    def run_task(self, task: str, episode_id: str | None = None) -> EpisodeResult:
        """Plan and execute ``task`` until done, failed or stopped. Blocking."""
        if not isinstance(task, str) or not task.strip():
            raise ValueError("task must be a non-empty sentence")
        t0 = time.monotonic()
        result = EpisodeResult(episode_id or uuid.uuid4().hex[:12], task.strip(), AgentState.PLANNING, False)
        self._episode = result
        self._last_correction: Correction | None = None
        self._unconfirmed, self._after_stop = None, False
        self._picked_from: dict[str, tuple[float, float, float]] = {}
        self._stop_requested.clear()
        self._stops.clear()
        self._cancel.reset()
        try:
            self._run(result)
        except BackendUnavailableError as exc:
            # The language model kept failing: hold the arm and hand the decision to the operator.
            self.robot.hold()
            question = (
                f"My planner's language model is not answering ({exc}). I have stopped the arm. "
                "Should I try again, or will you check the policy backend first?"
            )
            result.state, result.reason = AgentState.STOPPED, f"planning stopped: {exc}"
            result.questions.append(question)
            self._emit({"type": "question", "question": question, "reason": result.reason})
        except PolicyError as exc:
            result.state, result.reason = AgentState.FAILED, f"planning failed: {exc}"
            self.robot.hold()
        finally:
            result.duration_s = time.monotonic() - t0
            self._flush_inbox(result)
        if self.kb is not None:
            self._after_episode(result)
        self._set_state(result.state, reason=result.reason, success=result.success)
        return result

    def _flush_inbox(self, result: EpisodeResult) -> None:
        """Account for corrections still queued when the episode ends: none is lost silently.

        Each becomes a record with outcome ``dropped: ...`` and an ``understood`` event
        saying why it was not acted on (its receipt was logged when it arrived).
        """
        why = f"the task ended ({result.state.value}) before it was handled"
        while True:
            try:
                text, source, received, _ = self._inbox.get_nowait()
            except queue.Empty:
                break
            rec = CorrectionRecord(
                text, source, received, {"kind": "unparsed"}, len(result.steps), None, outcome=f"dropped: {why}"
            )
            result.corrections.append(rec)
            self._emit(
                {
                    "type": "understood",
                    "text": text,
                    "source": source,
                    "kind": "unparsed",
                    "summary": "not handled",
                    "outcome": rec.outcome,
                    "question": None,
                    "refusal": None,
                }
            )

    def _objects(self) -> dict[str, ObjectInfo]:
        return self.robot.perceive()

    @staticmethod
    def _keep_out_names(constraints: list[Any], objects: Mapping[str, ObjectInfo]) -> list[str]:
        """Objects named by the avoid constraints without a skill or target ("keep away from the glass").

        The planner keeps calls off them; this list keeps the arm's path off them too: every
        skill gets it as its keep-out list (this episode's corrections and remembered rules alike).
        """
        from robot_agent.policy.constraint_compile import compile_knowledge
        from robot_agent.policy.constraints import AvoidConstraint

        names: list[str] = []
        for c in compile_knowledge(constraints)[0]:
            if (
                isinstance(c, AvoidConstraint)
                and c.object is not None
                and not c.object.is_empty()
                and not c.skill
                and c.target is None
            ):
                names += [o.name for o in c.object.resolve(list(objects.values()))]
        return list(dict.fromkeys(names))

    def _understand_task(self, result: EpisodeResult) -> str | None:
        """The task in words the planner reads, or None (the episode then says why).

        Without an understanding layer the task goes to the planner as said. With one, a task
        it cannot read with confidence gets a question (with choices); the answer, from the
        simulated operator or any input (typed, spoken, ROS), continues the task.
        """
        if self.language is None:
            return result.task
        u = self.language.understand_task(result.task, list(self._objects().values()))
        self._emit({"type": "task_understood", **u.to_dict()})
        asked = 0
        while u.decision == "ask" and asked < 3:
            asked += 1
            question = u.question or "What should I do?"
            result.questions.append(question)
            self._set_state(AgentState.WAITING, question=question)
            self._emit(
                {
                    "type": "question",
                    "question": question,
                    "about": "task",
                    "reason": u.reason,
                    "choices": [c.to_dict() for c in u.choices],
                }
            )
            answer = self._await_answer(question, u.choices)
            if answer is None:
                result.reason = (
                    f"the task was not understood ({u.reason or 'no clear meaning'}); asked: {question} - no answer"
                )
                return None
            text, source = answer
            result.corrections.append(
                CorrectionRecord(text, source, time.monotonic(), {"kind": "answer"}, 0, None, outcome="answered")
            )
            u = self.language.understand_task(text, list(self._objects().values()), typed=source != "spoken")
            self._emit({"type": "task_understood", **u.to_dict(), "answer_to": question})
            self._report_learned(result)
        if u.decision != "act" or not u.task:
            result.reason = f"the task was not understood: {u.reason or u.question or 'no clear meaning'}"
            return None
        if u.task != result.task:
            self._emit({"type": "note", "text": f"task understood as: {u.goal} ({u.source})"})
        return u.task

    def _await_answer(self, question: str, choices: list[Any]) -> tuple[str, str] | None:
        """An answer to ``question``: the simulated operator's, or the next utterance received
        within ``language.answer_timeout_s`` (a stop ends the wait)."""
        answer_fn = getattr(self.observer, "answer", None)
        if answer_fn is not None:
            said = answer_fn(question, [c.to_dict() for c in choices])
            return None if said is None else (said.text, "simulated")
        timeout = float(getattr(getattr(self.config, "language", None), "answer_timeout_s", 0.0))
        deadline = time.monotonic() + timeout
        while not self._stop_requested.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                text, source, _, _ = self._inbox.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            self._cancel.reset()
            return text, source
        return None

    def _run(self, result: EpisodeResult) -> None:
        task = self._understand_task(result)
        if task is None:
            result.state = AgentState.STOPPED if self._stop_requested.is_set() else AgentState.FAILED
            if result.state is AgentState.STOPPED:
                result.reason = self._cancel.reason or "stopped"
            return
        self._set_state(AgentState.PLANNING)
        knowledge = self._plan_knowledge(task, result)
        constraints: list[Any] = list(knowledge)
        plan = self._make_plan(task, constraints, done=[])
        result.plan = [c.to_dict() for c in plan]
        self._emit({"type": "plan", "plan": result.plan, "constraints": [str(c) for c in constraints]})
        self._attribute_plan(plan, result)
        self._prepare_language(plan)
        adjustments: dict[tuple[str, str], dict[str, Any]] = {}  # (skill, object) -> params set in this episode
        done: list[_Call] = []
        i = 0
        attempts = 0
        regrasps = 0
        while i < len(plan):
            if self._stop_requested.is_set():
                result.state, result.reason = AgentState.STOPPED, self._cancel.reason or "stopped"
                self.robot.hold()
                return
            if result.n_corrections >= self.max_corrections:
                result.state, result.reason = AgentState.FAILED, "too many corrections"
                return
            call = plan[i]
            objects = self._objects()
            learned, items = self._skill_knowledge(call, objects)
            key = (call.skill, call.args.get("object", ""))
            try:
                params = validate_params(call.skill, {**learned, **call.params, **adjustments.get(key, {})})
            except ParameterError as exc:
                log.warning("knowledge parameters refused (%s); using the plan's", exc)
                params = validate_params(call.skill, {**call.params, **adjustments.get(key, {})})
            # only the items that changed a parameter of this call count as used (applicability.py)
            items = self._attribute_skill(call, items, learned, adjustments.get(key, {}), result)
            run_call = _Call(call.skill, dict(call.args), params)
            if run_call.skill == "pick" and run_call.args.get("object") in objects:
                self._picked_from[run_call.args["object"]] = objects[run_call.args["object"]].pose.position
            self._set_state(AgentState.EXECUTING, step=i, skill=run_call.to_dict())
            # The observer (simulated operator) sees the motion start.
            if self.observer is not None:
                said = self.observer.before_call(run_call, objects)
                if said is not None:
                    self.submit_correction(said.text, "simulated")
            self._keep_out = self._keep_out_names(constraints, objects)
            res = self._execute(run_call, result, items)
            if self.observer is not None and not self._inbox.qsize():
                said = self.observer.after_call(run_call, res, self._objects())
                if said is not None:
                    self.submit_correction(said.text, "simulated")
            # Corrections first: they may change what "next" means.
            outcome = self._drain_corrections(result, run_call, i, adjustments, constraints)
            if outcome == "hold":
                if not self._hold_for_answer(result):
                    return  # held already
                if res.status is SkillStatus.INTERRUPTED:
                    continue  # the same call again: the answer, queued, is read before it starts
            if outcome == "stop":
                result.state, result.reason = AgentState.STOPPED, self._cancel.reason or "stopped"
                self.robot.hold()
                return
            if outcome == "replan":
                plan = self._make_plan(task, constraints, done=done)
                result.plan = [c.to_dict() for c in plan]
                self._emit(
                    {
                        "type": "plan",
                        "plan": result.plan,
                        "replanned": True,
                        "constraints": [str(c) for c in constraints],
                    }
                )
                self._attribute_plan(plan, result)
                i, attempts = 0, 0
                continue
            if (outcome == "retry" or res.status is not SkillStatus.SUCCEEDED) and self._let_go_of(run_call):
                # Corrected or cut short after the fingers opened: the same place cannot work again
                # (nothing in the hand). Plan from where things are now, which picks the object up
                # again; bounded, like retries, so an object that keeps slipping ends the task.
                regrasps += 1
                if regrasps > self.max_attempts:
                    result.state, result.reason = (
                        AgentState.FAILED,
                        f"{call.skill} failed: the object keeps leaving the hand",
                    )
                    return
                plan = self._make_plan(task, constraints, done=done)
                result.plan = [c.to_dict() for c in plan]
                self._emit(
                    {
                        "type": "plan",
                        "plan": result.plan,
                        "replanned": True,
                        "why": "object no longer held",
                        "constraints": [str(c) for c in constraints],
                    }
                )
                i, attempts = 0, 0
                continue
            if outcome == "retry":
                attempts = 0
                continue
            if res.status is SkillStatus.SUCCEEDED:
                done.append(run_call)
                if items and self.kb is not None:
                    self._record(items, True)
                i += 1
                attempts = 0
                continue
            if res.status is SkillStatus.INTERRUPTED:
                continue  # a correction interrupted it and was handled (or dropped): try again
            attempts += 1
            if items and self.kb is not None:
                self._record(items, False)
            if attempts >= self.max_attempts:
                result.state, result.reason = AgentState.FAILED, f"{call.skill} failed: {res.reason}"
                return
        # Every call of the final plan succeeded (a failed call is retried or ends the episode above).
        result.state = AgentState.DONE
        result.success = True

    def _let_go_of(self, call: _Call) -> bool:
        """True when ``call`` is a place whose object is no longer in the hand."""
        if call.skill != "place":
            return False
        try:
            return self.robot.holding() != call.args.get("object")
        except Exception:  # noqa: BLE001 - no answer from the robot: let the normal retry path decide
            return False

    def _make_plan(self, task: str, constraints: list[Any], done: list[_Call]) -> list[_Call]:
        objects = list(self._objects().values())
        holding = self.robot.holding()
        if done or holding is not None:
            raw = self.policy.replan(task, objects, done_steps=done, constraints=constraints, holding=holding)
        else:
            raw = self.policy.plan(task, objects, constraints)
        calls = getattr(raw, "calls", raw)
        return [_Call(c.skill, dict(c.args), dict(getattr(c, "params", {}) or {})) for c in calls]

    def _execute(self, call: _Call, result: EpisodeResult, items: list[Any]) -> SkillResult:
        if self._cancel.cancelled and not self._stop_requested.is_set():
            # A correction arrived before the motion started: do not start it.
            res = SkillResult(SkillStatus.INTERRUPTED, "interrupted before start: correction received", {"ticks": 0})
        else:
            started = time.monotonic()
            res = get_skill(call.skill).execute(
                self.robot, call.args, call.params, self._cancel, self.safety, keep_out=self._keep_out
            )
            step = StepRecord(
                call.to_dict(),
                res.status.value,
                res.reason,
                {k: v for k, v in res.facts.items() if k != "path"},
                [it.id for it, _ in items],
                started,
                time.monotonic(),
            )
            result.steps.append(step)
            self._emit(
                {
                    "type": "skill_result",
                    "call": call.to_dict(),
                    "status": res.status.value,
                    "reason": res.reason,
                    "facts": step.facts,
                }
            )
        if not self._stop_requested.is_set():
            self._cancel.reset()
        return res

    def _context(self, call: _Call | None, corr_last: Correction | None) -> CorrectionContext:
        objs = list(self._objects().values())
        if call is None:
            return CorrectionContext(objects=objs, last=corr_last)
        return CorrectionContext(
            objects=objs,
            skill=call.skill,
            object=call.args.get("object"),
            target=call.args.get("target"),
            params=dict(call.params),
            last=corr_last,
        )

    def _drain_corrections(
        self,
        result: EpisodeResult,
        call: _Call,
        step: int,
        adjustments: dict[tuple[str, str], dict[str, Any]],
        constraints: list[Any],
    ) -> str:
        """Understand and act on every queued utterance. Returns "", "retry", "replan", "stop" or
        "hold" (a question asked of a person: the arm waits for the answer, ``_hold_for_answer``)."""
        outcome = ""
        held = ""
        last: Correction | None = self._last_correction
        while True:
            try:
                text, source, received, unsure = self._inbox.get_nowait()
            except queue.Empty:
                break
            if outcome == "hold":  # a later utterance is the answer, or says something else: read it
                outcome = ""
            corr, confirmed = self._confirmation(text, unsure), None
            if corr is not None and corr.kind is not CorrectionKind.UNCLEAR:
                confirmed = corr.text  # "yes": what was heard is what was said
            if corr is None:
                try:
                    # a transcript has no typos: the layer reads it as heard (the plain grammar takes no flag)
                    heard = {"typed": False} if source == "spoken" and self.language is not None else {}
                    corr = self.parser.parse(text, self._context(call, last), **heard)
                except Exception as exc:  # noqa: BLE001 - a parser bug must not move the arm
                    log.exception("correction parser failed")
                    corr = Correction(text, CorrectionKind.UNCLEAR, question=f"I could not understand that ({exc}).")
            heard_as = None
            if unsure:
                corr, heard_as = self._ask_if_heard(text, corr)
            last = self._last_correction = corr
            rec = CorrectionRecord(text, source, received, corr.to_dict(), step, call.to_dict())
            understood_by = getattr(getattr(self.language, "last", None), "source", None)
            if confirmed is not None:
                rec.understood["confirmed_heard"], understood_by = confirmed, "confirmed"
            if heard_as is not None:
                rec.understood["heard_as"] = heard_as
            if understood_by:
                rec.understood["understood_by"] = understood_by
            result.corrections.append(rec)
            if corr.kind is CorrectionKind.STOP:
                rec.outcome = "stopped"
                outcome = "stop"
                if corr.followup is not None and corr.followup.actionable:
                    # "hang on, open the drawer first": halted at once; the rest is not dropped unsaid
                    then = rec.understood["then"] = corr.followup.describe()
                    if self.observer is None and all(r == f"operator: {text[:80]}" for r in self._stops):
                        # a person: the arm stays halted and they say whether the rest is wanted
                        # ("yes": done and the task goes on; "no" or no answer: the stop stands)
                        held = f"Stopped. You also asked: {then}. Shall I do that and go on? (yes or no)"
                        result.questions.append(held)
                        self._unconfirmed, self._after_stop = corr.followup, True
                        # only this utterance stopped the arm (no stop service, button or other word):
                        # the task waits on the answer instead of ending
                        self._stops.clear()
                        self._stop_requested.clear()
                        self._aux_cancel.reset()
                        rec.outcome, outcome = "stopped; asked", "hold"
                    else:
                        result.questions.append(
                            f"Stopped. You also asked: {then}. "
                            "Give me the task again and say it once I am moving, if you still want it."
                        )
            elif corr.refusal:
                rec.outcome = "refused"
                result.questions.append(f"I won't do that: {corr.refusal}")
            elif corr.kind is CorrectionKind.UNCLEAR:
                rec.outcome = "asked"
                result.questions.append(corr.question or "Could you say that differently?")
                choices = self._pending_choices()
                if choices:
                    rec.understood["choices"] = [c.to_dict() for c in choices]
                answer_fn = getattr(self.observer, "answer", None)
                if answer_fn is not None:
                    said = answer_fn(corr.question or "", [c.to_dict() for c in choices])
                    if said is not None:
                        self.submit_correction(said.text, "simulated")
                elif outcome == "" and self.observer is None:
                    # Someone interrupted and was not understood (a stop said in words no check
                    # knows, a warning, a misheard word): the arm holds until they answer. (An
                    # in-loop observer speaks only through its callbacks: its answer, or its
                    # silence, is taken at once above.)
                    outcome = "hold"
                    held = corr.question or "Could you say that differently?"
            elif corr.kind is CorrectionKind.CONFIRM:
                rec.outcome = "confirmed"
            elif corr.kind is CorrectionKind.PLAN and corr.plan is not None:
                constraints.append(self._complete_constraint(corr.plan, call))
                self._yield_to_episode(constraints, constraints[-1], result)  # this episode's word wins
                rec.understood["plan"] = constraints[-1]
                rec.outcome = "replanned"
                if corr.parameters:  # "no, the blue one, and slower": the skill part applies too
                    self._apply_skill_correction(corr, call, adjustments)
                if outcome != "stop":
                    outcome = "replan"
            elif corr.kind is CorrectionKind.SKILL:
                rec.outcome = self._apply_skill_correction(corr, call, adjustments)
                if rec.outcome == "applied" and outcome not in ("stop", "replan"):
                    outcome = "retry"
            else:
                rec.outcome = "asked"
            self._report_learned(result)
            self._emit(
                {
                    "type": "understood",
                    "text": text,
                    "source": source,
                    "kind": corr.kind.value,
                    "summary": corr.describe(),
                    "outcome": rec.outcome,
                    "question": corr.question,
                    "choices": rec.understood.get("choices", []),
                    "refusal": corr.refusal,
                    "correction": rec.understood,
                    "call": call.to_dict(),
                    "step": step,
                }
            )
        if outcome in ("retry", "replan"):
            # The carry-back obeys what was just said too ("don't go over the glass" mid-transfer).
            self._keep_out = self._keep_out_names(constraints, self._objects())
            self._undo_partial(call, outcome)
        if outcome == "hold":
            self._held_question = held
        return outcome

    def _confirmation(self, text: str, unsure: bool) -> Correction | None:
        """``text`` as the answer to "Did you say ...?": the correction heard on "yes", a request to
        say it again on "no", None when it is not a yes or a no (then it is read as said)."""
        heard, self._unconfirmed = self._unconfirmed, None
        after_stop, self._after_stop = self._after_stop, False
        if heard is None or unsure:
            return None
        if answers.chosen_index(text, 1) == 0:
            heard.confidence = 1.0  # the operator confirmed the words and the reading said back
            return heard
        if answers.says_no(text) and after_stop:
            return Correction(text, CorrectionKind.STOP, confidence=1.0)  # the stop stands
        if answers.says_no(text):
            return Correction(text, CorrectionKind.UNCLEAR, question="What did you say, then? Please say it again.")
        return None

    def _ask_if_heard(self, text: str, corr: Correction) -> tuple[Correction, str | None]:
        """A correction whose words the recognizer was not sure of becomes a question: "Did you say
        '...'?" with what it would do, kept until the answer. A stop stays a stop (the safe side);
        a refusal stays a refusal (nothing moves)."""
        if corr.kind is CorrectionKind.STOP or corr.refusal:
            return corr, None
        if corr.kind is CorrectionKind.UNCLEAR:
            corr.question = f"I heard '{text}'. {corr.question or 'Could you say that differently?'}"
            return corr, None
        self._unconfirmed = corr
        heard_as = corr.describe()
        question = f"Did you say '{text}'? (I understood: {heard_as}; yes or no)"
        return Correction(text, CorrectionKind.UNCLEAR, question=question, confidence=0.0), heard_as

    def _hold_for_answer(self, result: EpisodeResult) -> bool:
        """Hold the arm still until the operator says anything (the answer, read by the next drain),
        within ``language.answer_timeout_s``. False, with the episode stopped and the reason said,
        on a stop or no answer: an interruption nobody explains never lets the arm move on."""
        question = self._held_question
        self.robot.hold()
        self._waiting_on_answer = True
        try:
            self._set_state(AgentState.WAITING, question=question, holding_arm=True)
            timeout = float(getattr(getattr(self.config, "language", None), "answer_timeout_s", 0.0))
            deadline = time.monotonic() + timeout
            while not self._stop_requested.is_set():
                if not self._inbox.empty():
                    return True
                if time.monotonic() >= deadline:
                    result.state = AgentState.STOPPED
                    result.reason = f"asked '{question}' and got no answer within {timeout:g} s; the arm is held"
                    self._emit({"type": "note", "text": result.reason})
                    return False
                time.sleep(0.02)
        finally:
            self._waiting_on_answer = False
        result.state, result.reason = AgentState.STOPPED, self._cancel.reason or "stopped"
        return False

    def _prepare_language(self, plan: list[_Call]) -> None:
        """Let the understanding layer embed what corrections during this plan could mean, now,
        rather than when the operator speaks."""
        prepare = getattr(self.language, "prepare", None)
        if prepare is None:
            return
        try:
            prepare([self._context(c, None) for c in plan])
        except Exception:  # noqa: BLE001 - a slower first correction, not a failed task
            log.warning("could not prepare the understanding layer", exc_info=True)

    def _pending_choices(self) -> list[Any]:
        pending = getattr(self.language, "pending_question", None) if self.language is not None else None
        return list(pending.choices) if pending is not None else []

    @staticmethod
    def _complete_constraint(plan: Mapping[str, Any], call: _Call) -> dict[str, Any]:
        """An order constraint said during a call ("open the drawer first") is about that call."""
        out = dict(plan)
        if out.get("type") == "order" and not out.get("then"):
            out["then"] = {"skill": call.skill, **{k: v for k, v in call.args.items() if k in ("object", "target")}}
            if call.skill == "place":  # "first X" during a place is about placing into that target
                out["then"].pop("object", None)
        return out

    def _apply_skill_correction(
        self, corr: Correction, call: _Call, adjustments: dict[tuple[str, str], dict[str, Any]]
    ) -> str:
        skill = corr.skill or call.skill
        obj = call.args.get("object", "") if skill == call.skill else (corr.object or "")
        key = (skill, obj)
        if not corr.parameters and corr.delta_m is not None:
            # A bare displacement ("2 cm to the left" with no skill offset to adjust): move the gripper.
            res = get_skill("move_by").execute(self.robot, {}, {"delta": corr.delta_m}, self._cancel, self.safety)
            # Logged (with the next call or plan) so that replay moves the arm the same way.
            self._emit(
                {
                    "type": "nudge",
                    "delta": [float(v) for v in corr.delta_m],
                    "status": res.status.value,
                    "reason": res.reason,
                    "ticks": res.facts.get("ticks"),
                }
            )
            if not self._stop_requested.is_set():  # a stop during the nudge must stay in force
                self._cancel.reset()
            return "applied" if res.ok else f"refused: {res.reason}"
        base = call.params if skill == call.skill else {}
        try:
            new = apply_parameter_changes(skill, {**base, **adjustments.get(key, {})}, corr.parameters)
        except (ParameterError, KeyError) as exc:
            return f"refused: {exc}"
        changed = {k: new[k] for k in corr.parameters}
        adjustments[key] = {**adjustments.get(key, {}), **changed}
        return "applied"

    def _undo_partial(self, call: _Call, outcome: str) -> None:
        """Before a retry or a replan, put a held object back where it was picked up.

        A retried pick starts from an empty hand, and a replan ("open the drawer first") may
        need the hand free; the object goes back to its original spot, so the new plan starts
        from a scene the planner knows. The carry-back goes around the keep-out objects in force,
        like any skill.
        """
        held = self.robot.holding()
        if held is None or (call.skill != "pick" and outcome != "replan"):
            return
        origin = self._picked_from.get(held)
        from skills.motion import KeepOut, Motion

        if self._stop_requested.is_set():
            return
        # Its own token (the step's may be reset meanwhile), which a stop cancels too.
        self._aux_cancel = CancelToken()
        objects = self._objects()
        keep_out = [KeepOut.around(objects[n]) for n in self._keep_out if n in objects and n != held]
        motion = Motion(self.robot, self.safety, self._aux_cancel, keep_out=keep_out)
        tool, yaw = self.robot.ee_pose()
        try:
            obj_z = self.robot.object_pose(held).position[2]
            hand_above_base = tool[2] - obj_z
            if origin is not None:
                above = [
                    origin[0] + tool[0] - self.robot.object_pose(held).position[0],
                    origin[1] + tool[1] - self.robot.object_pose(held).position[1],
                    max(tool[2], 0.2),
                ]
                motion.move_to(above, yaw, 0.4)
                motion.move_to([above[0], above[1], origin[2] + hand_above_base + 0.01], yaw, 0.3)
            else:
                motion.move_to([tool[0], tool[1], max(hand_above_base + 0.01, 0.03)], yaw, 0.3)
        except Exception as exc:  # noqa: BLE001 - releasing where it is still leaves the arm safe
            # (a keep-out with no way around refuses before moving: the object is set down here)
            log.info("could not carry %s back before releasing: %s", held, exc)
        if self._stop_requested.is_set():
            return  # stopped on the way: keep holding, nothing else moves
        self.robot.release()
        self._emit({"type": "put_back", "object": held})


def build_agent(
    robot: Robot,
    config: AgentConfig,
    *,
    camera: Any = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    **kwargs: Any,
) -> Agent:
    """An agent with the default components from config: the planner (``policy.*``), the
    knowledge base (``memory.*``, opened for writing) and the correction parser."""
    from memory import open_knowledge_base
    from robot_agent.language import make_language_layer
    from robot_agent.policy import make_planner

    policy = make_planner(config)
    kb = open_knowledge_base(config.memory)
    layer = make_language_layer(config, embedder=getattr(kb, "text", None), kb=kb)
    return Agent(robot, policy, kb, layer, config, camera=camera, on_event=on_event, **kwargs)
