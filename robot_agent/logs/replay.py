"""Replay an episode log in PyBullet (``robot-agent replay LOG``, :mod:`robot_agent.cli.logs`).

The scene comes from the log's ``/episode/meta`` (the public scene the agent saw); the
commands are the recorded skill calls with the parameters actually used (after knowledge and
corrections) and the keep-out objects each kept off, run in the recorded order, plus the
put-backs the agent made before a retry or a replan and the bare moves ("2 cm to the left")
it made while understanding corrections. Nothing is planned or understood again: replay checks
that the recorded commands lead to the recorded outcome, skill by skill and in the final scene.

A call the agent never started (a correction arrived first: no ``/episode/skill_result``
follows it) is not run either. A skill the operator interrupted mid-motion is run up to the
control tick the log says it was interrupted at.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from robot_agent.logs import (
    EVENT_TOPICS,
    OUTCOME_TOPIC,
    PLAN_TOPIC,
    SKILL_CALL_TOPIC,
    SKILL_RESULT_TOPIC,
    EpisodeLogError,
    EpisodeLogReader,
)

#: final object positions further apart than this (m) do not match
POSITION_TOLERANCE_M = 0.02


@dataclass
class StepCheck:
    """One recorded skill call and what it did again."""

    index: int
    skill: str
    args: dict[str, Any]
    recorded: str
    replayed: str
    reason: str = ""

    @property
    def matches(self) -> bool:
        return self.recorded == self.replayed

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "skill": self.skill,
            "args": self.args,
            "recorded": self.recorded,
            "replayed": self.replayed,
            "matches": self.matches,
            "reason": self.reason,
        }


@dataclass
class ReplayReport:
    """Whether the replay reproduced the recording."""

    log: str
    episode_id: str
    steps: list[StepCheck] = field(default_factory=list)
    object_errors: list[str] = field(default_factory=list)
    recorded_success: bool | None = None
    final_checked: bool = False
    sim_s: float = 0.0
    wall_s: float = 0.0

    @property
    def matches(self) -> bool:
        """Every skill ended as recorded and the final scene agrees (when the log has it)."""
        return all(s.matches for s in self.steps) and not self.object_errors

    def to_dict(self) -> dict[str, Any]:
        return {
            "log": self.log,
            "episode_id": self.episode_id,
            "matches": self.matches,
            "recorded_success": self.recorded_success,
            "final_scene_checked": self.final_checked,
            "object_errors": self.object_errors,
            "steps": [s.to_dict() for s in self.steps],
            "sim_s": round(self.sim_s, 3),
            "wall_s": round(self.wall_s, 3),
        }


@dataclass
class _Command:
    """A recorded skill call to run again."""

    skill: str
    args: dict[str, Any]
    params: dict[str, Any]
    put_back_before: list[str]
    recorded: str | None = None  # None: the agent never started it
    ticks: int | None = None
    keep_out: list[str] = field(default_factory=list)  # objects the tool kept off, as recorded
    nudges_before: list[dict[str, Any]] = field(default_factory=list)  # bare moves ("2 cm left") first


def load_commands(reader: EpisodeLogReader) -> tuple[list[_Command], dict[str, Any] | None]:
    """The recorded skill calls in order (with their results) and the outcome event."""
    commands: list[_Command] = []
    pending_put_back: list[str] = []
    pending_nudges: list[dict[str, Any]] = []
    outcome: dict[str, Any] | None = None
    where = str(reader.mcap_path)
    for event in reader.events(EVENT_TOPICS):
        d = event.data
        if event.topic == PLAN_TOPIC:
            pending_put_back += [str(o) for o in d.get("put_back") or []]
            pending_nudges += _nudges(d, where, event.t_ns)
        elif event.topic == SKILL_CALL_TOPIC:
            if (
                not isinstance(d.get("skill"), str)
                or not isinstance(d.get("args"), dict)
                or not isinstance(d.get("params"), dict)
            ):
                raise EpisodeLogError(f"{where}: skill_call at t={event.t_ns} lacks skill, args or params")
            pending_put_back += [str(o) for o in d.get("put_back") or []]
            pending_nudges += _nudges(d, where, event.t_ns)
            commands.append(
                _Command(d["skill"], dict(d["args"]), dict(d["params"]), pending_put_back, nudges_before=pending_nudges)
            )
            pending_put_back, pending_nudges = [], []
        elif event.topic == SKILL_RESULT_TOPIC and commands and commands[-1].recorded is None:
            commands[-1].recorded = str(d.get("status"))
            facts = d.get("facts") or {}
            commands[-1].ticks = facts.get("ticks") if isinstance(facts.get("ticks"), int) else None
            keep_out = facts.get("keep_out")
            commands[-1].keep_out = [str(n) for n in keep_out] if isinstance(keep_out, list) else []
        elif event.topic == OUTCOME_TOPIC:
            outcome = d
    return commands, outcome


def _nudges(d: dict[str, Any], where: str, t_ns: int) -> list[dict[str, Any]]:
    """The bare moves logged with a call or plan, checked: a 3-vector of metres and a status."""
    out = []
    for n in d.get("nudges") or []:
        delta = n.get("delta") if isinstance(n, dict) else None
        if not (
            isinstance(delta, list)
            and len(delta) == 3
            and all(isinstance(v, (int, float)) and math.isfinite(v) for v in delta)
        ):
            raise EpisodeLogError(f"{where}: event at t={t_ns} has a nudge without a 3-vector delta: {n!r}")
        out.append(
            {
                "delta": [float(v) for v in delta],
                "status": str(n.get("status")),
                "ticks": n.get("ticks") if isinstance(n.get("ticks"), int) else None,
            }
        )
    return out


class _TickLimit:
    """A cancel token that trips after the robot has stepped ``limit`` control ticks."""

    def __init__(self, robot: Any, limit: int) -> None:
        from skills.robot import CancelToken

        self._token = CancelToken()
        self._robot = robot
        self._limit = limit
        self._start = robot.ticks_done

    def __getattr__(self, name: str) -> Any:
        return getattr(self._token, name)

    @property
    def cancelled(self) -> bool:
        if not self._token.cancelled and self._robot.ticks_done - self._start >= self._limit:
            self._token.cancel("replayed interruption")
        return self._token.cancelled


def _pace(robot: Any, world: Any, speed: float) -> None:
    """Wrap the robot's control tick so sim time runs at most ``speed`` times real time,
    and count ticks (for replayed interruptions)."""
    robot.ticks_done = 0
    t0_wall = time.monotonic()
    t0_sim = world.sim_time
    for name in ("step", "hold"):
        inner = getattr(robot, name)

        def make(fn: Any) -> Any:
            def wrapped(*a: Any, **kw: Any) -> Any:
                out = fn(*a, **kw)
                robot.ticks_done += 1
                if speed > 0:
                    ahead = (world.sim_time - t0_sim) / speed - (time.monotonic() - t0_wall)
                    if ahead > 0:
                        time.sleep(ahead)
                return out

            return wrapped

        setattr(robot, name, make(inner))


def _put_back(robot: Any, config: Any, name: str, origin: tuple[float, float, float] | None) -> None:
    """What the agent does before a retry or replan: carry the held object back and let go."""
    from robot_agent.agent import Agent, _Call

    if robot.holding() != name:
        return
    agent = Agent(robot, None, None, None, config)  # only its put-back motion is used
    agent._picked_from = {name: origin} if origin is not None else {}
    agent._undo_partial(_Call("pick", {"object": name}, {}), "replan")


def _compare_objects(final: list[dict[str, Any]], objects: dict[str, Any]) -> list[str]:
    errors = []
    for rec in final:
        name = rec.get("name")
        if name not in objects:
            errors.append(f"{name}: not in the replayed scene")
            continue
        want = [float(v) for v in rec.get("pose", {}).get("position", [])]
        got = list(objects[name].pose.position)
        if len(want) == 3 and math.dist(want, got) > POSITION_TOLERANCE_M:
            errors.append(
                f"{name}: ends at ({', '.join(f'{v:.3f}' for v in got)}), recorded "
                f"({', '.join(f'{v:.3f}' for v in want)})"
            )
        want_drawer = (rec.get("state") or {}).get("drawer")
        got_drawer = objects[name].state.get("drawer")
        if want_drawer is not None and want_drawer != got_drawer:
            errors.append(f"{name}: drawer {got_drawer}, recorded {want_drawer}")
    return errors


def replay(
    log_path: str | Path, config: Any = None, *, gui: bool = False, speed: float = 0.0, out: TextIO | None = None
) -> ReplayReport:
    """Run a logged episode again in PyBullet and compare it with the recording.

    Args:
        log_path: the episode log directory.
        config: the agent configuration (sim and safety sections); default ``config/agent.yaml``.
        gui: show the PyBullet GUI.
        speed: sim time per wall second; 0 runs as fast as possible (1 = real time).
        out: where to print one line per step (None: silent).

    Returns:
        The comparison.

    Raises:
        EpisodeLogError: the log is unreadable, or lacks its scene.
        ValueError: a bad speed.
    """
    from dataclasses import replace

    from robot_agent.config import AgentConfig
    from sim.scene import parse_scene
    from sim.world import SimWorld
    from skills.library import get_skill
    from skills.robot import CancelToken
    from skills.safety import SafetyChecker

    if not (math.isfinite(speed) and speed >= 0):
        raise ValueError(f"speed must be a number >= 0 (0: as fast as possible), got {speed!r}")
    cfg = config or AgentConfig.load()
    reader = EpisodeLogReader(log_path)
    scene = reader.meta.get("scene")
    if not isinstance(scene, dict) or not scene.get("objects"):
        raise EpisodeLogError(f"{reader.mcap_path}: /episode/meta has no scene to replay")
    try:
        spec = parse_scene(scene, f"{reader.mcap_path}: /episode/meta scene")
    except ValueError as exc:
        raise EpisodeLogError(str(exc)) from None
    commands, outcome = load_commands(reader)
    report = ReplayReport(
        str(reader.path), reader.episode_id, recorded_success=None if outcome is None else bool(outcome.get("success"))
    )
    sim_cfg = replace(cfg.sim, gui=True) if gui else cfg.sim
    t0 = time.monotonic()
    with SimWorld(spec, sim_cfg, cfg.safety) as world:
        robot = world.robot
        _pace(robot, world, speed)
        safety = SafetyChecker(cfg.safety)
        picked_from: dict[str, tuple[float, float, float]] = {}
        for i, cmd in enumerate(commands):
            for nudge in cmd.nudges_before:
                cancel_n: Any = CancelToken()
                if nudge["status"] == "interrupted" and nudge["ticks"]:
                    cancel_n = _TickLimit(robot, nudge["ticks"])
                res = get_skill("move_by").execute(robot, {}, {"delta": nudge["delta"]}, cancel_n, safety)
                check = StepCheck(i, "move_by", {}, nudge["status"], res.status.value, res.reason)
                report.steps.append(check)
                if out is not None:
                    mark = "ok" if check.matches else f"MISMATCH (recorded {check.recorded})"
                    print(
                        f"  move_by({', '.join(f'{v:+.3f}' for v in nudge['delta'])}) [nudge]: "
                        f"{check.replayed}  {mark}",
                        file=out,
                    )
            for name in cmd.put_back_before:
                _put_back(robot, cfg, name, picked_from.get(name))
            if cmd.recorded is None:
                continue  # interrupted before it started: the agent did not run it
            objects = robot.perceive()
            if cmd.skill == "pick" and cmd.args.get("object") in objects:
                picked_from[cmd.args["object"]] = objects[cmd.args["object"]].pose.position
            cancel: Any = CancelToken()
            if cmd.recorded == "interrupted" and cmd.ticks:
                cancel = _TickLimit(robot, cmd.ticks)
            res = get_skill(cmd.skill).execute(robot, cmd.args, cmd.params, cancel, safety, keep_out=cmd.keep_out)
            check = StepCheck(i, cmd.skill, cmd.args, cmd.recorded, res.status.value, res.reason)
            report.steps.append(check)
            if out is not None:
                args = ", ".join(str(v) for v in cmd.args.values())
                mark = "ok" if check.matches else f"MISMATCH (recorded {check.recorded})"
                print(f"  {cmd.skill}({args}): {check.replayed}  {mark}", file=out)
        final = (outcome or {}).get("final_objects")
        if isinstance(final, list):
            report.final_checked = True
            report.object_errors = _compare_objects(final, robot.perceive())
        report.sim_s = world.sim_time
    report.wall_s = time.monotonic() - t0
    return report
