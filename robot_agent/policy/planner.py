"""The high-level planner: SayCan-style choice of the next skill call, step by step.

At each step the planner

1. generates every call of the plannable skills over the scene objects (``SKILL_ARGS``),
2. keeps those whose preconditions hold on the symbolic state (the affordance),
3. drops those a hard constraint forbids (order, avoid, preference, required-last),
4. when the task's goal was understood, keeps the calls that start a shortest plan to
   it (a breadth-first search over the symbolic state, under the same constraints), plus
   preparatory calls that start a valid plan one step longer (``open`` of a closed drawer
   the goal puts something into), ranked with ``detour_penalty`` off their score,
5. asks the LLM backend to rank what is left when more than one call remains (the
   likelihood of each call as the next line of the plan, after a prompt with the task,
   scene, rules and steps so far), and takes the best,
6. applies the call's effects and repeats until the goal holds.

So every call is valid by construction, the constraints hold, and the plan ends when
the goal does; the LLM decides between equally good alternatives ("a block" when there
are three) and, for tasks no goal pattern understands, drives the plan on its own
(with ``done()`` as a candidate). See docs/policy.md for why the small model is kept
on this short leash.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from robot_agent.config import AgentConfig, PolicyConfig
from robot_agent.errors import ParameterError, PolicyError
from robot_agent.policy.backends import PolicyBackend, RankRequest, make_backend, policy_config
from robot_agent.policy.constraint_compile import CompiledConstraints, compile_knowledge
from robot_agent.policy.constraints import (
    PlanConstraint,
    parse_call_phrase,
    skill_word,
)
from robot_agent.policy.goals import Goal, parse_goal, rewrite_goal
from robot_agent.policy.grounding import ground, parse_mention
from robot_agent.policy.prompts import DONE, PromptContext, object_lines
from robot_agent.policy.search import Key, _Search
from robot_agent.policy.state import PLANNABLE, SymbolicState, generate_calls, initial_state, precondition_failure
from robot_agent.policy.types import Plan, ScoredCandidate, SkillCall, StepTrace
from skills.library import GRASPABLE
from skills.params import SKILL_ARGS, validate_params
from skills.types import ObjectInfo

log = logging.getLogger(__name__)

#: score taken off a candidate per step its plan is longer than the shortest (the local backend's
#: scores are mean token log-probs; see docs/policy.md for how this value was measured)
DETOUR_PENALTY = 0.3


# --------------------------------------------------------------------------- planner


class Planner:
    """The high-level policy: plans and replans skill calls for a task on a perceived scene.

    Args:
        backend: ranks equally good candidates (see :func:`make_backend`).
        max_steps: longest plan produced.
        timeout_s: LLM time budget per planning call.
    """

    def __init__(
        self,
        backend: PolicyBackend,
        *,
        max_steps: int = 12,
        timeout_s: float = 10.0,
        detour_penalty: float = DETOUR_PENALTY,
    ) -> None:
        if max_steps < 1:
            raise ValueError("max_steps must be >= 1")
        if not (detour_penalty >= 0.0 and detour_penalty != float("inf")):
            raise ValueError(f"detour_penalty must be a finite number >= 0, got {detour_penalty!r}")
        self.backend = backend
        self.max_steps = max_steps
        self.timeout_s = timeout_s
        self.detour_penalty = detour_penalty

    @classmethod
    def from_config(cls, config: PolicyConfig | AgentConfig, *, backend: PolicyBackend | None = None) -> Planner:
        """A planner with the configured backend (loaded now) and limits."""
        cfg = policy_config(config)
        return cls(
            backend or make_backend(cfg),
            max_steps=cfg.max_steps,
            timeout_s=cfg.timeout_s,
            detour_penalty=float(getattr(cfg, "detour_penalty", DETOUR_PENALTY)),
        )

    # -- public API -----------------------------------------------------------------------
    def plan(
        self,
        task: str,
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        knowledge: Iterable[Any] | None = None,
        *,
        holding: str | None | object = ...,
    ) -> Plan:
        """Plan ``task`` from scratch.

        Args:
            task: the operator's words, e.g. "put the red block in the drawer".
            objects: the perceived scene.
            knowledge: retrieved plan knowledge and corrections: :class:`PlanConstraint`
                objects, constraint dicts (any accepted format) or text rules.
            holding: what the gripper holds, when known (default: inferred from the poses).

        Returns:
            The plan; ``plan.calls`` are valid calls on this scene.

        Raises:
            PolicyError: the task names something not in the scene, no valid plan reaches
                the goal under the constraints, or the backend failed (local timeout).
        """
        return self._plan(task, objects, [], knowledge, holding)

    def replan(
        self,
        task: str,
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        done_steps: Sequence[Any] = (),
        constraints: Iterable[Any] | None = None,
        *,
        holding: str | None | object = ...,
    ) -> Plan:
        """Plan the remaining steps from the current state.

        Args:
            task: the task text.
            objects: the scene as perceived now.
            done_steps: calls that succeeded so far in this episode (SkillCall, dicts, or
                objects with ``skill``/``args``/``params``); they set the symbolic state's
                history (order constraints, required steps) and, with the poses, what is held.
            constraints: knowledge plus the corrections received so far.
            holding: what the gripper holds when the caller knows (``robot.holding()``);
                by default it is inferred from ``done_steps`` and checked against the poses.

        Returns:
            The remaining calls (none when the goal already holds).

        Raises:
            PolicyError: as for :meth:`plan`.
        """
        return self._plan(task, objects, [SkillCall.coerce(d) for d in done_steps], constraints, holding)

    def check_plan(
        self,
        raw: str | Sequence[Any],
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        knowledge: Iterable[Any] | None = None,
        *,
        done_steps: Sequence[Any] = (),
        holding: str | None | object = ...,
    ) -> Plan:
        """Validate a plan written elsewhere (an LLM's text, a log), repairing what is safe to repair.

        Each line or item is parsed into a call (skill synonyms, object names grounded
        from words), then simulated on the symbolic state. Repairs: a ``place`` of an
        object not in hand gets the missing ``pick`` before it; an exact repeat of the
        previous call is dropped. Anything else invalid is refused.

        Raises:
            PolicyError: a line names an unknown skill or object, an ambiguous object, a
                call whose preconditions fail, or a call a constraint forbids; the message
                names the step and the reason.
        """
        objs = _object_list(objects)
        by_name = {o.name: o for o in objs}
        items = parse_calls(raw) if isinstance(raw, str) else list(raw)
        done = [SkillCall.coerce(d) for d in done_steps]
        constraints, hints, warnings = compile_knowledge(knowledge)
        cc = CompiledConstraints(constraints, objs, warnings)
        state = initial_state(objs, done, holding)
        flags, req = cc.history(done)
        out: list[SkillCall] = []
        repairs: list[str] = []
        for n, item in enumerate(items, 1):
            call = repair_call(item, objs)
            if out and call.key() == out[-1].key():
                repairs.append(f"step {n}: dropped a repeat of {call.text()}")
                continue
            if call.skill == "place" and state.holding != call.args["object"] and state.holding is None:
                pick = SkillCall("pick", {"object": call.args["object"]})
                if precondition_failure(pick, state, by_name) is None and not cc.forbidden(
                    pick, state, flags, req, False
                ):
                    out.append(pick)
                    state = state.apply(pick)
                    flags |= cc.new_flags(pick)
                    repairs.append(f"step {n}: inserted {pick.text()} before {call.text()}")
            why = precondition_failure(call, state, by_name)
            if why:
                raise PolicyError(f"step {n} {call.text()} is invalid: {why}")
            why = cc.forbidden(call, state, flags, req, True)
            if why:
                raise PolicyError(f"step {n} {call.text()} breaks a constraint: {why}")
            try:
                call.params = {**cc.params_for(call), **call.params}
                validate_params(call.skill, call.params)
            except ParameterError as exc:
                raise PolicyError(f"step {n} {call.text()}: {exc}") from exc
            out.append(call)
            state = state.apply(call)
            flags |= cc.new_flags(call)
            req |= cc.new_required(call)
        return Plan(
            out,
            constraints=[c.to_dict() for c in constraints],
            hints=hints,
            warnings=warnings + repairs,
            backend="check",
        )

    # -- internals ------------------------------------------------------------------------
    def _plan(
        self,
        task: str,
        objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo],
        done: list[SkillCall],
        knowledge: Iterable[Any] | None,
        holding: str | None | object,
    ) -> Plan:
        t0 = time.monotonic()
        deadline = t0 + self.timeout_s
        if not isinstance(task, str) or not task.strip():
            raise PolicyError("the task is empty")
        objs = _object_list(objects)
        by_name = {o.name: o for o in objs}
        constraints, hints, warnings = compile_knowledge(knowledge)
        goal = parse_goal(task, objs)
        if goal is not None:
            goal = rewrite_goal(goal, constraints, objs, warnings)
        cc = CompiledConstraints(constraints, objs, warnings)
        if goal is not None:
            _check_goal_conflicts(goal, cc, warnings)
        state = initial_state(objs, done, holding)
        flags, req = cc.history(done)
        search = _Search(goal, cc, objs, state, self.max_steps) if goal is not None else None
        stage = search.initial_stage(state, done) if search else 0
        ctx = PromptContext(task, object_lines(objs), [c.describe() for c in constraints] + hints)
        steps = [c.text() for c in done]
        plan = Plan(
            goal=goal.describe() if goal else "",
            constraints=[c.to_dict() for c in constraints],
            hints=hints,
            warnings=warnings,
            backend=self.backend.describe(),
        )
        seen = {state.core()}
        all_calls = generate_calls(objs, PLANNABLE)
        for _ in range(self.max_steps):
            if search is not None and search.reached(stage, req):
                break
            goal_done = search is None or stage >= len(search.atoms)
            valid = [c for c in all_calls if precondition_failure(c, state, by_name) is None]
            allowed = [c for c in valid if cc.forbidden(c, state, flags, req, goal_done) is None]
            nxt = [c for c in allowed if any(p.matches(c) for p in cc.pending_next(req))]
            steps_to_goal: dict[Key, int] = {}
            if nxt:
                tier = nxt
            elif search is not None:
                found = search.first_steps(state, stage, flags, req)
                if found is None:
                    raise PolicyError(self._no_plan_message(goal, constraints, state))  # type: ignore[arg-type]
                depth, firsts = found
                tier = [c for c in allowed if c.key() in firsts]
                steps_to_goal = {c.key(): depth for c in tier}
                # Longer by a step, after the shortest ones: the symbolic order still picks a shortest plan.
                for c in search.preparatory(state, stage, flags, req, depth, allowed, firsts):
                    tier.append(c)
                    steps_to_goal[c.key()] = depth + 1
            else:
                tier = [c for c in allowed if state.apply(c).core() not in seen]
            texts = [c.text() for c in tier]
            if search is None and cc.required_done(req):
                texts.append(DONE)
            if not texts:
                break
            shortest = min(steps_to_goal.values()) if steps_to_goal else 0
            extra = [
                steps_to_goal.get(tier[i].key(), shortest) - shortest if i < len(tier) else 0 for i in range(len(texts))
            ]
            how, idx, scores = self._choose(
                ctx, steps, texts, deadline, plan, open_ended=search is None, extra_steps=extra
            )
            plan.trace.append(
                StepTrace(
                    texts[idx],
                    how,
                    [
                        ScoredCandidate(
                            t,
                            steps_to_goal.get(tier[i].key()) if i < len(tier) else None,
                            scores[i] if scores else None,
                        )
                        for i, t in enumerate(texts)
                    ],
                    len(all_calls),
                    len(valid),
                )
            )
            if texts[idx] == DONE:
                break
            call = tier[idx]
            call = SkillCall(call.skill, dict(call.args), cc.params_for(call))
            plan.calls.append(call)
            steps.append(call.text())
            state = state.apply(call)
            seen.add(state.core())
            flags |= cc.new_flags(call)
            req |= cc.new_required(call)
            if search is not None:
                stage = search.advance(stage, state, call)
        if search is not None and not search.reached(stage, req):
            raise PolicyError(f"no plan of at most {self.max_steps} steps reaches the goal ({search.describe()})")
        if search is None and not plan.calls and not done:
            raise PolicyError(
                f"could not understand the task {task!r} as a goal, and the "
                f"{self.backend.name} backend proposed no step"
            )
        plan.latency_s = time.monotonic() - t0
        log.info("planned %s in %.3f s: %s", task, plan.latency_s, ", ".join(plan.texts()) or "(nothing to do)")
        return plan

    def _choose(
        self,
        ctx: PromptContext,
        steps: list[str],
        texts: list[str],
        deadline: float,
        plan: Plan,
        open_ended: bool,
        extra_steps: Sequence[int] = (),
    ) -> tuple[str, int, list[float] | None]:
        """(how, index of the chosen text, the backend's raw scores). A candidate that starts a plan
        longer than the shortest by k steps ranks with ``k * detour_penalty`` taken off its score."""
        if len(texts) == 1:
            return "forced", 0, None
        res = self.backend.rank(RankRequest(ctx, list(steps), list(texts), deadline))
        if res.method in ("loglik", "choice", "fallback"):
            plan.llm_calls += 1
        if res.scores is None or len(res.scores) != len(texts):
            if res.method == "fallback":
                plan.warnings.append(f"backend gave no usable ranking ({res.detail}); symbolic order used")
            # Symbolic order: the generation order; with no goal, stopping is the safe default.
            idx = texts.index(DONE) if open_ended and DONE in texts else 0
            return ("fallback" if res.method == "fallback" else "symbolic"), idx, None
        extra = list(extra_steps) or [0] * len(texts)
        ranked = [res.scores[i] - self.detour_penalty * extra[i] for i in range(len(texts))]  # type: ignore[index]
        best = max(range(len(texts)), key=lambda i: (ranked[i], -i))
        return ("llm" if res.method == "loglik" else "choice"), best, list(res.scores)

    @staticmethod
    def _no_plan_message(goal: Goal, constraints: Sequence[PlanConstraint], state: SymbolicState) -> str:
        rules = "; ".join(c.describe() for c in constraints) or "none"
        return (
            f"no valid plan reaches the goal ({goal.describe()}) from the current state ({state.describe()}) "
            f"under the constraints ({rules})"
        )


def _check_goal_conflicts(goal: Goal, cc: CompiledConstraints, warnings: list[str] | None = None) -> None:
    """Refuse a goal whose every alternative object is one a constraint says to keep off.

    A remembered constraint (``source == "memory"``) yields instead: the operator's task
    names the object now, and knowledge generalized from another scene ("keep away from
    glasses" learned while moving a block past a glass) must not veto it. It is dropped
    with a warning. The operator's own words in this episode still refuse the goal.
    """
    named = {n for a in goal.atoms if a.kind == "at" and len(a.targets) == 1 for n in a.objects}
    for i, (c, sel, tgts) in enumerate(list(cc.prefs)):
        # explicit words win: a remembered preference does not hold an object the task sends elsewhere
        keep = frozenset(n for n in sel if n not in named or any(t in tgts for t in _targets_of(goal, n)))
        if c.source == "memory" and keep != sel:
            cc.prefs[i] = (c, keep, tgts)
            if warnings is not None:
                warnings.append(
                    f"remembered '{c.describe()}' not applied to {', '.join(sorted(sel - keep))}: "
                    "the task names its destination"
                )
    for a in goal.atoms:
        if not a.objects:
            continue
        for entry in list(cc.avoids):
            c, pat, any_role = entry
            if any_role and pat.objects and set(a.objects) <= pat.objects:
                if c.source == "memory":
                    cc.avoids.remove(entry)
                    if warnings is not None:
                        warnings.append(
                            f"remembered '{c.describe()}' not applied: the task asks for {', '.join(a.objects)}"
                        )
                    continue
                raise PolicyError(f"the task needs {', '.join(a.objects)} but a constraint says: {c.describe()}")


def _targets_of(goal: Goal, name: str) -> list[str]:
    return [t for a in goal.atoms if a.kind == "at" and name in a.objects for t in a.targets]


def _object_list(objects: Sequence[ObjectInfo] | Mapping[str, ObjectInfo]) -> list[ObjectInfo]:
    objs = list(objects.values()) if isinstance(objects, Mapping) else list(objects)
    names = [o.name for o in objs]
    if len(set(names)) != len(names):
        raise PolicyError(f"object names must be unique, got {names}")
    return objs


# --------------------------------------------------------------------------- parsing LLM text

_CALL_RE = re.compile(r"^\s*(?:\d+\s*[.):]\s*|[-*]\s*)?(?P<skill>[A-Za-z_ ]+?)\s*\((?P<args>[^()]*)\)\s*[.;,]?\s*$")


def parse_calls(text: str) -> list[str | dict[str, Any]]:
    """Split an LLM's plan text into one raw item per non-empty line (``repair_call`` reads each)."""
    return [
        ln.strip()
        for ln in text.splitlines()
        if ln.strip() and not ln.strip().lower().startswith(("plan:", "here", "sure", "steps:")) and ln.strip() != DONE
    ]


def repair_call(raw: Any, objects: Sequence[ObjectInfo]) -> SkillCall:
    """A valid-shaped call on this scene from an LLM's item, or PolicyError.

    Accepts ``SkillCall``/dicts, ``skill(arg, arg)`` text (numbered or bulleted, ``target=``
    keywords, spaces for underscores), or plain words ("pick up the red block",
    "put the red block in the drawer"). Skill synonyms map to skills; object words are
    grounded on the scene and must name exactly one object.

    Raises:
        PolicyError: unknown skill, unknown or ambiguous object, wrong arguments, bad params.
    """
    names = {o.name for o in objects}
    if isinstance(raw, str):
        m = _CALL_RE.match(raw)
        if m:
            skill = skill_word(m.group("skill").strip()) or m.group("skill").strip()
            parts = [p.strip() for p in m.group("args").split(",") if p.strip()]
            parts = [re.sub(r"^\w+\s*=\s*", "", p).strip("'\" ") for p in parts]
            args_list = parts
        else:
            pat = parse_call_phrase(raw)
            if pat is None:
                raise PolicyError(f"cannot read a skill call in {raw!r}")
            skill = pat.skill
            args_list = [r.text or r.name for r in (pat.object, pat.target) if r is not None]
        params: dict[str, Any] = {}
    else:
        call = SkillCall.coerce(raw)
        skill = skill_word(call.skill) or call.skill
        roles = SKILL_ARGS.get(skill, tuple(call.args))
        args_list = [call.args[r] for r in roles if r in call.args]
        params = dict(call.params)
    if skill not in SKILL_ARGS:
        raise PolicyError(f"unknown skill {skill!r} in {raw!r}; valid: {', '.join(sorted(SKILL_ARGS))}")
    roles = SKILL_ARGS[skill]
    if len(args_list) != len(roles):
        raise PolicyError(f"{skill} takes ({', '.join(roles) or 'no arguments'}), got {args_list} in {raw!r}")
    args: dict[str, str] = {}
    for role, word in zip(roles, args_list, strict=True):
        if word in names:
            args[role] = word
            continue
        cats = GRASPABLE if role == "object" and skill in ("pick", "place", "push") else None
        if skill in ("open", "close"):
            cats = {"cabinet"}
        found = ground(parse_mention(word), objects, categories=cats)
        if role == "object" and skill in ("open", "close"):
            found = [o for o in found if o.category == "cabinet"]
        if len(found) != 1:
            what = "no object" if not found else f"several objects ({', '.join(o.name for o in found)})"
            raise PolicyError(f"{word!r} in {raw!r} matches {what} in the scene ({', '.join(sorted(names))})")
        args[role] = found[0].name
    try:
        validate_params(skill, params)
    except ParameterError as exc:
        raise PolicyError(f"{raw!r}: {exc}") from exc
    return SkillCall(skill, args, params)


def make_planner(config: PolicyConfig | AgentConfig | None = None, *, backend: PolicyBackend | None = None) -> Planner:
    """The configured planner (default config: the embedded local model), loaded and ready."""
    return Planner.from_config(config if config is not None else PolicyConfig(), backend=backend)
