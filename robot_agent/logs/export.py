"""Training examples for the high-level policy from episode logs (``robot-agent export``).

YAY Robot's recipe, on this planner: every plan step is a choice the planner made after a
prompt (:mod:`robot_agent.policy.prompts`: the task, the perceived objects, the rules, and
the plan so far as the assistant's text). From a log we rebuild exactly that prompt (the
plan events carry the objects the planner was given and its constraints) and pair it with
the step that should follow:

* ``correction`` examples: a plan-level correction ("open the drawer first") made the
  agent replan. The prompt is the context *before* the correction (the scene and steps
  done when it came, the rules the planner had then, without the correction), the target
  the first step of the corrected plan. A policy trained on them picks that step without
  being told.
  The step the planner had chosen there is kept as ``rejected`` (for a pairwise loss).
* ``step`` examples: the steps of the executed plans that succeeded, with the prompt the
  planner rendered for them (the uncorrected behaviour to keep).
* ``hindsight`` examples: after a successful episode with a plan-level correction, the steps
  that were actually executed, less the picks that were undone (put back before the next
  call that needs an empty hand), form the plan that should have been made at the start.
  Each of its steps from the first one where it departs from the first plan is an example
  on the first plan's prompt; the first of them has the first plan's step as ``rejected``.
  This puts what the operator taught at the decision where it would have avoided the
  correction ("open the drawer first": ``open(cabinet)`` before ``pick(red_block)``), not
  only at the moment it was said. Examples identical to a ``correction`` or ``step`` one are
  not repeated.

Examples are split into train and held-out sets by episode (a hash of the episode id),
so no episode is in both.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_agent.logs import (
    EVENT_TOPICS,
    OUTCOME_TOPIC,
    PLAN_TOPIC,
    SKILL_RESULT_TOPIC,
    TASK_TOPIC,
    UNDERSTOOD_TOPIC,
    EpisodeLogError,
    EpisodeLogReader,
    find_episode_logs,
)

log = logging.getLogger(__name__)

EXPORT_FORMATS = ("sft-jsonl",)
SFT_SCHEMA = "robot_agent/sft/v1"


@dataclass
class SFTExample:
    """One prompt and the plan step that should follow it.

    Attributes:
        messages: (role, content) chat messages: the planner's system and user turns.
        prefix: the assistant text before the step (the plan so far, one call per line).
        completion: the step, e.g. ``open(cabinet)`` (training appends the newline).
        kind: ``correction`` or ``step``.
        episode_id / log / t_ns: where it comes from.
        correction: the operator's words, for ``correction`` examples.
        rejected: the step the planner had chosen instead (``correction`` examples, and the
            first ``hindsight`` example), or None.
    """

    messages: list[tuple[str, str]]
    prefix: str
    completion: str
    kind: str
    episode_id: str
    log: str
    t_ns: int
    task: str
    correction: str | None = None
    split: str = "train"
    rejected: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SFT_SCHEMA,
            "kind": self.kind,
            "split": self.split,
            "task": self.task,
            "messages": [{"role": r, "content": c} for r, c in self.messages],
            "prefix": self.prefix,
            "completion": self.completion,
            "rejected": self.rejected,
            "correction": self.correction,
            "episode_id": self.episode_id,
            "log": self.log,
            "t_ns": self.t_ns,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "<memory>") -> SFTExample:
        """Read one JSONL record back.

        Raises:
            ValueError: not an example of this schema (the message names ``where``).
        """
        if not isinstance(d, dict) or d.get("schema") != SFT_SCHEMA:
            raise ValueError(f"{where}: not a {SFT_SCHEMA} record")
        try:
            msgs = [(str(m["role"]), str(m["content"])) for m in d["messages"]]
            rejected = d.get("rejected")
            if rejected is not None and not isinstance(rejected, str):
                raise TypeError(f"rejected must be a string or null, got {type(rejected).__name__}")
            return cls(
                msgs,
                str(d["prefix"]),
                str(d["completion"]),
                str(d["kind"]),
                str(d["episode_id"]),
                str(d["log"]),
                int(d["t_ns"]),
                str(d["task"]),
                d.get("correction"),
                str(d.get("split", "train")),
                rejected,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{where}: malformed example ({type(exc).__name__}: {exc})") from None


@dataclass
class _PlanContext:
    objects: list[Any]
    constraints: list[Any]
    done_texts: list[str] = field(default_factory=list)


def _constraint(c: Any) -> Any:
    """A constraint as the agent held it: the plan event stores ``str()`` of each (a dict's
    Python repr, or a text rule). ``literal_eval`` reads literals only; it runs no code."""
    if isinstance(c, str) and c.startswith("{"):
        try:
            return ast.literal_eval(c)
        except (ValueError, SyntaxError):
            return c
    return c


def _scene_objects(scene: Any, where: str) -> list[Any]:
    """Objects from the meta scene, for logs whose plan events lack the perceived objects."""
    from sim.catalog import geometry
    from sim.scene import parse_scene
    from skills.types import ObjectInfo

    try:
        spec = parse_scene(scene, f"{where}: /episode/meta scene")
    except ValueError as exc:
        raise EpisodeLogError(str(exc)) from None
    out = []
    for o in spec.objects:
        geo = geometry(o.type, o.shape, o.size)
        state = dict(o.state)
        if o.type == "cabinet":
            opening = float(state.get("opening", 0.0))
            state.setdefault("drawer", "open" if opening >= 0.10 else "closed")
        out.append(
            ObjectInfo(o.name, o.type, o.pose, o.size, o.color, o.shape, state, {**geo.parts, **geo.drawer_parts})
        )
    return out


def _prompt(
    task: str, ctx: _PlanContext, constraints: Sequence[Any], steps: Sequence[str]
) -> tuple[list[tuple[str, str]], str]:
    from robot_agent.policy.constraint_compile import compile_knowledge
    from robot_agent.policy.prompts import PromptContext, assistant_prefix, object_lines

    cons, hints, _warnings = compile_knowledge(list(constraints))
    pc = PromptContext(task, object_lines(ctx.objects), [c.describe() for c in cons] + hints)
    return [("system", pc.system()), ("user", pc.user())], assistant_prefix(steps)


def _call_text(call: Any) -> str:
    from robot_agent.policy.types import SkillCall

    if isinstance(call, str):  # the writer also takes steps as text: "pick(red_block)"
        return call.strip()
    return SkillCall.coerce(call).text()


def examples_from_log(path: str | Path) -> list[SFTExample]:
    """The SFT examples of one episode log (see the module docs).

    Raises:
        EpisodeLogError: the log is unreadable or lacks what the prompt needs.
    """
    from skills.types import ObjectInfo

    reader = EpisodeLogReader(path)
    where = str(reader.mcap_path)
    task = str(reader.meta.get("task") or "")
    out: list[SFTExample] = []
    done: list[str] = []
    ctx: _PlanContext | None = None
    plan_steps: list[str] = []
    pending: tuple[str, int] | None = None  # a plan-level correction waiting for its replan
    first: tuple[_PlanContext, list[str]] | None = None  # the episode's first plan and its context
    success, end_ns = False, 0
    redo = 0  # leading steps of the current plan that pick up again what was put back
    for event in reader.events(EVENT_TOPICS):
        d = event.data
        if event.topic == TASK_TOPIC and not task:
            task = str(d.get("text") or "")
        elif event.topic == PLAN_TOPIC:
            raw_objs = d.get("objects")
            try:
                objects = (
                    [ObjectInfo.from_dict(o) for o in raw_objs]
                    if isinstance(raw_objs, list)
                    else _scene_objects(reader.meta.get("scene"), where)
                )
                steps = [_call_text(s) for s in d.get("steps") or []]
            except (KeyError, TypeError, ValueError, RuntimeError) as exc:  # RuntimeError: PolicyError
                raise EpisodeLogError(f"{where}: plan at t={event.t_ns} is malformed ({exc})") from None
            constraints = [_constraint(c) for c in d.get("constraints") or []]
            new = _PlanContext(objects, constraints, list(done))
            if first is None:
                first = (new, steps)
            # The agent put back what it held before replanning; picking it up again redoes a
            # step already in the history, not a choice the correction taught.
            put_back = {f"pick({o})" for o in d.get("put_back") or []}
            n_redo = 0
            while n_redo < len(steps) and steps[n_redo] in put_back:
                n_redo += 1
            if pending is not None and ctx is not None and n_redo < len(steps):
                k = len(done) - len(ctx.done_texts)  # steps of the old plan done: the wrong one is next
                wrong = plan_steps[k] if 0 <= k < len(plan_steps) else None
                if steps[n_redo] != wrong:
                    # The prompt the planner rendered when it chose the wrong step, and the right one.
                    messages, prefix = _prompt(task, ctx, ctx.constraints, ctx.done_texts + plan_steps[: max(k, 0)])
                    out.append(
                        SFTExample(
                            messages,
                            prefix,
                            steps[n_redo],
                            "correction",
                            reader.episode_id,
                            str(reader.path),
                            pending[1],
                            task,
                            pending[0],
                            rejected=wrong,
                        )
                    )
            pending = None
            ctx, plan_steps, redo = new, steps, n_redo
        elif event.topic == UNDERSTOOD_TOPIC and d.get("outcome") == "replanned":
            pending = (str(d.get("text") or ""), event.t_ns)
        elif event.topic == SKILL_RESULT_TOPIC:
            if d.get("status") != "succeeded" or ctx is None:
                continue
            k = len(done) - len(ctx.done_texts)
            if 0 <= k < len(plan_steps) and plan_steps[k].split("(")[0] == d.get("skill"):
                if k >= redo:
                    messages, prefix = _prompt(task, ctx, ctx.constraints, ctx.done_texts + plan_steps[:k])
                    out.append(
                        SFTExample(
                            messages,
                            prefix,
                            plan_steps[k],
                            "step",
                            reader.episode_id,
                            str(reader.path),
                            event.t_ns,
                            task,
                        )
                    )
                done.append(plan_steps[k])
            else:
                log.info(
                    "%s: a %s result at t=%d is not the plan's next step; no example", where, d.get("skill"), event.t_ns
                )
        elif event.topic == OUTCOME_TOPIC:
            success, end_ns = bool(d.get("success")), event.t_ns
    if not task:
        raise EpisodeLogError(f"{where}: the log has no task")
    if success and first is not None and any(ex.kind == "correction" for ex in out):
        out += _hindsight(task, first[0], first[1], done, out, reader.episode_id, str(reader.path), end_ns)
    return out


#: calls that need an empty hand: a pick followed by one of them was undone (put back) in between
_EMPTY_HAND = ("pick", "open", "close", "push")


def undo_put_back(done: Sequence[str]) -> list[str]:
    """The executed steps without the picks that were undone.

    When a correction came while the robot held something, the agent put it back before
    replanning; the log shows ``pick(x)`` followed by a call that needs an empty hand. Those
    picks are dropped: the rest is the plan that did the task.
    """
    out: list[str] = []
    for i, step in enumerate(done):
        nxt = done[i + 1].split("(")[0] if i + 1 < len(done) else ""
        if step.startswith("pick(") and nxt in _EMPTY_HAND:
            continue
        out.append(step)
    return out


def _hindsight(
    task: str,
    ctx: _PlanContext,
    first_plan: Sequence[str],
    done: Sequence[str],
    existing: Sequence[SFTExample],
    episode_id: str,
    log_path: str,
    t_ns: int,
) -> list[SFTExample]:
    """The ``hindsight`` examples of a corrected, successful episode (see the module docs)."""
    from robot_agent.policy.state import initial_state, precondition_failure
    from robot_agent.policy.types import SkillCall

    executed = undo_put_back(list(done))
    if ctx.done_texts or not executed:
        return []  # the first plan started mid-episode: no clean start to relabel
    # The relabelled plan must be valid from the first plan's state (an undone pick is
    # recognised only by what follows it; anything else stays out rather than teach nonsense).
    by_name = {o.name: o for o in ctx.objects}
    state = initial_state(ctx.objects)
    for step in executed:
        m = _STEP_RE.match(step)
        if m is None:
            return []
        skill, args = m.group(1), [a.strip() for a in m.group(2).split(",") if a.strip()]
        roles = {
            "pick": ("object",),
            "place": ("object", "target"),
            "open": ("object",),
            "close": ("object",),
            "push": ("object",),
            "go_home": (),
        }.get(skill)
        if roles is None or len(roles) != len(args):
            return []
        call = SkillCall(skill, dict(zip(roles, args, strict=True)))
        if precondition_failure(call, state, by_name) is not None:
            return []
        state = state.apply(call)
    seen = {(tuple(ex.messages), ex.prefix, ex.completion) for ex in existing}
    out: list[SFTExample] = []
    diverged = False
    for i, step in enumerate(executed):
        wrong = first_plan[i] if i < len(first_plan) else None
        if not diverged and step == wrong:
            continue
        messages, prefix = _prompt(task, ctx, ctx.constraints, executed[:i])
        rejected = wrong if not diverged and wrong != step else None
        diverged = True
        if (tuple(messages), prefix, step) in seen:
            continue
        out.append(SFTExample(messages, prefix, step, "hindsight", episode_id, log_path, t_ns, task, rejected=rejected))
    return out


_STEP_RE = re.compile(r"^(\w+)\((.*)\)$")


def split_of(episode_id: str, val_fraction: float) -> str:
    """``val`` for a stable ``val_fraction`` share of episode ids, else ``train``."""
    h = int.from_bytes(hashlib.sha1(episode_id.encode("utf8"), usedforsecurity=False).digest()[:8], "big") / 2**64
    return "val" if h < val_fraction else "train"


def collect_logs(paths: Iterable[str | Path]) -> list[Path]:
    """Episode log directories: each path is a log or a directory searched for logs.

    Raises:
        EpisodeLogError: a path that does not exist or holds no log.
    """
    found: list[Path] = []
    for p in paths:
        logs = find_episode_logs(p)
        if not logs:
            raise EpisodeLogError(f"{p}: no episode logs there")
        found += [q for q in logs if q not in found]
    return found


def export_sft(
    paths: Iterable[str | Path], out_dir: str | Path, *, val_fraction: float = 0.2, errors: list[str] | None = None
) -> dict[str, int]:
    """Write ``train.jsonl`` and ``val.jsonl`` under ``out_dir`` from episode logs.

    Args:
        paths: logs, or directories holding logs.
        out_dir: created if missing.
        val_fraction: share of episodes held out (by a hash of the episode id).
        errors: when given, unreadable logs are reported here and skipped; otherwise the
            first one raises.

    Returns:
        Counts: ``logs``, ``train``, ``val``, ``correction``, ``step``, ``hindsight``.

    Raises:
        EpisodeLogError: an unreadable log (unless ``errors`` is given), or no log at all.
        ValueError: a bad ``val_fraction``.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    logs = collect_logs(paths)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    counts = {"logs": 0, "train": 0, "val": 0, "correction": 0, "step": 0, "hindsight": 0}
    with (
        (out / "train.jsonl").open("w", encoding="utf8") as ftrain,
        (out / "val.jsonl").open("w", encoding="utf8") as fval,
    ):
        for p in logs:
            try:
                examples = examples_from_log(p)
            except EpisodeLogError as exc:
                if errors is None:
                    raise
                errors.append(str(exc))
                continue
            counts["logs"] += 1
            for ex in examples:
                ex.split = split_of(ex.episode_id, val_fraction)
                (fval if ex.split == "val" else ftrain).write(json.dumps(ex.to_dict(), ensure_ascii=False) + "\n")
                counts[ex.split] += 1
                counts[ex.kind] += 1
    return counts


def read_examples(path: str | Path) -> list[SFTExample]:
    """Examples from a JSONL file written by :func:`export_sft`.

    Raises:
        ValueError: a missing file or a bad line (naming the file and line).
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    out = []
    with p.open(encoding="utf8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{p}:{n}: not JSON ({exc.msg})") from None
            out.append(SFTExample.from_dict(d, f"{p}:{n}"))
    return out


# --------------------------------------------------------------------------- episodes for kb rebuild


def episode_from_log(path: str | Path) -> tuple[Any, dict[str, Any], str]:
    """The agent's record of a logged episode, as distillation reads it.

    Returns:
        (``EpisodeResult`` with task, steps and corrections; the scene objects at the end of
        the episode by name; the episode's memory mode).

    Raises:
        EpisodeLogError: an unreadable log, or one whose corrections lack their parse
            (written before the understood events carried it).
    """
    from robot_agent.episode import AgentState, CorrectionRecord, EpisodeResult, StepRecord
    from robot_agent.logs import CORRECTION_TOPIC, OUTCOME_TOPIC, SKILL_CALL_TOPIC
    from skills.types import ObjectInfo

    reader = EpisodeLogReader(path)
    where = str(reader.mcap_path)
    result = EpisodeResult(reader.episode_id, str(reader.meta.get("task") or ""), AgentState.DONE, False)
    call: dict[str, Any] | None = None
    sources: dict[str, str] = {}
    objects: list[Any] | None = None
    final: Any = None
    for event in reader.events(EVENT_TOPICS):
        d = event.data
        if event.topic == SKILL_CALL_TOPIC:
            call = {"skill": d.get("skill"), "args": dict(d.get("args") or {}), "params": dict(d.get("params") or {})}
        elif event.topic == SKILL_RESULT_TOPIC and call is not None:
            result.steps.append(
                StepRecord(call, str(d.get("status")), str(d.get("reason") or ""), dict(d.get("facts") or {}))
            )
            call = None
        elif event.topic == CORRECTION_TOPIC:
            sources[str(d.get("text"))] = str(d.get("source") or "typed")
        elif event.topic == UNDERSTOOD_TOPIC:
            parsed = d.get("correction")
            if not isinstance(parsed, dict):
                raise EpisodeLogError(
                    f"{where}: the understood event at t={event.t_ns} lacks the parsed correction "
                    f"(a log from before corrections were logged in full); it cannot be re-distilled"
                )
            result.corrections.append(
                CorrectionRecord(
                    str(d.get("text")),
                    str(d.get("source") or sources.get(str(d.get("text")), "typed")),
                    event.t_ns / 1e9,
                    dict(parsed),
                    int(d.get("step") or 0),
                    d.get("call"),
                    str(d.get("outcome") or ""),
                )
            )
        elif event.topic == PLAN_TOPIC and isinstance(d.get("objects"), list):
            objects = d["objects"]
        elif event.topic == OUTCOME_TOPIC:
            final = d.get("final_objects")
            result.success = bool(d.get("success"))
    raw = final if isinstance(final, list) else objects
    try:
        objs = (
            [ObjectInfo.from_dict(o) for o in raw]
            if isinstance(raw, list)
            else _scene_objects(reader.meta.get("scene"), where)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EpisodeLogError(f"{where}: malformed objects in the log ({exc})") from None
    if not result.task:
        raise EpisodeLogError(f"{where}: the log has no task")
    return result, {o.name: o for o in objs}, str(reader.meta.get("memory_mode") or "full")
