"""Recording an agent episode into a rosbag2 episode log (``robot_agent.logs``).

:class:`EpisodeRecorder` is what the agent's ``episode_logger`` hook expects: it turns each
agent event into the matching ``/episode/*`` message, and samples the robot's joint states
(every control tick, rate-limited by the writer) and camera frames. The same recorder serves
the CLI and the benchmark; the ROS node records the same events.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from robot_agent.logs import EpisodeLogWriter

log = logging.getLogger(__name__)


def sim_clock(robot: Any) -> Callable[[], int]:
    """The episode clock for ``robot``: sim time when it is simulated, else wall time.

    A simulated robot (one with ``world.sim_time``, seconds) gets a clock that starts at the
    wall time of the call and advances with simulated time only, so stamps are absolute
    (tools show a real date) while their differences are sim seconds: sensor rates, durations
    and the correction times in the log do not depend on how fast the simulation ran.
    """
    world = getattr(robot, "world", None)
    if world is None or not isinstance(getattr(world, "sim_time", None), (int, float)):
        return time.time_ns
    base = time.time_ns() - int(round(float(world.sim_time) * 1e9))
    last = [0]

    def clock() -> int:
        # Planning and understanding take wall time but no sim time: keep stamps strictly
        # increasing (1 ns apart) so events keep their order in every reader.
        now = base + int(round(float(world.sim_time) * 1e9))
        last[0] = max(now, last[0] + 1)
        return last[0]

    return clock


class EpisodeRecorder:
    """Writes one episode.

    Args:
        path: the bag directory to create.
        episode_id: the episode's id.
        task: the task text.
        scene: the public scene (what the agent sees), for replay.
        robot: the robot whose joint states are recorded (its ``step``/``hold`` are wrapped).
        camera: optional camera with ``render()``; frames are taken at ``image_hz``.
        image_hz / joint_state_hz: recording rates.
    """

    def __init__(
        self,
        path: str | Path,
        episode_id: str,
        *,
        task: str,
        scene: dict[str, Any] | None = None,
        robot: Any = None,
        camera: Any = None,
        image_hz: float = 2.0,
        joint_state_hz: float = 50.0,
        meta: dict[str, Any] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.robot = robot
        self.camera = camera
        if clock is None:
            clock = sim_clock(robot)
        self.clock = clock
        self.writer = EpisodeLogWriter(
            path,
            episode_id,
            meta={"task": task, "scene": scene or {}, **(meta or {})},
            image_max_hz=image_hz,
            joint_state_max_hz=joint_state_hz,
            clock=clock,
        ).open()
        self.writer.task(task)
        self._wrapped: list[tuple[str, Any]] = []
        self._step = 0
        self._last_frame_ns: int | None = None
        self._put_back: list[str] = []
        self._nudges: list[dict[str, Any]] = []  # bare "2 cm to the left" moves since the last call or plan
        if robot is not None:
            self._wrap(robot)

    # -- robot sampling ----------------------------------------------------------------------
    def _wrap(self, robot: Any) -> None:
        for name in ("step", "hold"):
            inner = getattr(robot, name)
            self._wrapped.append((name, inner))

            def make(inner_fn: Any) -> Any:
                def wrapped(*a: Any, **kw: Any) -> Any:
                    out = inner_fn(*a, **kw)
                    self._sample()
                    return out

                return wrapped

            setattr(robot, name, make(inner))

    def _sample(self) -> None:
        try:
            q = self.robot.joint_positions()
            self.writer.joint_state(list(self.robot.joint_names), q)
            if self.camera is not None and self.writer.image_max_hz and self._frame_due():
                self.writer.image(self.camera.render().rgb)
        except Exception:  # noqa: BLE001 - recording must never stop the arm
            log.warning("recording a sample failed", exc_info=True)

    def _frame_due(self) -> bool:
        # Decided on the episode clock (sim time in simulation), before rendering: a frame
        # the writer would skip is never rendered.
        period_ns = round(1e9 / float(self.writer.image_max_hz or 1.0))
        now = int(self.clock())
        if self._last_frame_ns is None or now - self._last_frame_ns >= period_ns:
            self._last_frame_ns = now
            return True
        return False

    # -- agent events ----------------------------------------------------------------------------
    def _objects(self) -> list[dict[str, Any]] | None:
        """The scene as the robot perceives it now (what the planner was given), for export."""
        perceive = getattr(self.robot, "perceive", None)
        if perceive is None:
            return None
        try:
            return [o.to_dict() for o in perceive().values()]
        except Exception:  # noqa: BLE001 - a perception fault costs the snapshot, not the episode
            log.warning("perceiving the scene for the log failed", exc_info=True)
            return None

    def _take_between_calls(self) -> dict[str, Any]:
        # What the agent did between two logged calls: nudges (always first: they are made while
        # corrections are understood) and put-backs (after them, before a retry or a replan).
        out: dict[str, Any] = {"put_back": list(self._put_back)} if self._put_back else {}
        if self._nudges:
            out["nudges"] = list(self._nudges)
        self._put_back.clear()
        self._nudges.clear()
        return out

    def log_event(self, e: dict[str, Any]) -> None:
        """The agent's event hook."""
        w = self.writer
        t = e.get("type")
        if t == "plan":
            # Objects and constraints as the planner had them: export renders the exact prompt.
            w.plan(
                e["plan"],
                reason="correction" if e.get("replanned") else "initial",
                constraints=e.get("constraints", []),
                objects=self._objects(),
                **self._take_between_calls(),
            )
        elif t == "status" and e.get("state") == "executing":
            self._step = int(e.get("step", 0))
            sk = e["skill"]
            w.skill_call(sk["skill"], sk["args"], sk["params"], step=self._step, **self._take_between_calls())
        elif t == "skill_result":
            w.skill_result(
                e["call"]["skill"],
                {"status": e["status"], "reason": e["reason"], "facts": e.get("facts", {})},
                step=self._step,
            )
        elif t == "correction":
            w.correction(e["text"], e.get("source", "typed"), dropped=e.get("dropped"))
        elif t == "dropped":
            w.correction(e["text"], e.get("source", "typed"), dropped=e.get("reason"))
        elif t == "understood":
            details = {
                "summary": e.get("summary"),
                "outcome": e.get("outcome"),
                "question": e.get("question"),
                "refusal": e.get("refusal"),
                "source": e.get("source"),
                "step": e.get("step"),
                "call": e.get("call"),
            }
            try:
                w.understood(e["text"], e["kind"], correction=e.get("correction"), **details)
            except TypeError:  # a parser detail JSON cannot hold: keep the rest of the event
                log.warning("understood event: the parsed correction is not JSON-able; logged without it")
                w.understood(e["text"], e["kind"], correction=None, **details)
        elif t == "put_back":
            # Logged with the next call or plan: replay puts the object back before running it.
            self._put_back.append(str(e.get("object")))
        elif t == "nudge":
            self._nudges.append({k: e.get(k) for k in ("delta", "status", "reason", "ticks")})
        elif t == "knowledge":
            if e.get("event") == "used":
                w.knowledge(used=[{k: v for k, v in e.items() if k not in ("type", "t")}])
            elif e.get("event") == "distilled":
                w.knowledge(distilled=[{k: v for k, v in e.items() if k not in ("type", "t")}])
            elif e.get("event") in ("overridden", "irrelevant", "hint", "corrected"):
                # retrieved but not used (with the reason), or corrected after use: kept apart from "used"
                w.knowledge(skipped=[{k: v for k, v in e.items() if k not in ("type", "t")}])
            else:
                w.knowledge(error=e.get("error"))

    def finish(self, success: bool, *, corrections: int, reason: str = "", **extra: Any) -> None:
        """Write the outcome (with the final scene, for replay) and close the bag.

        The robot's wrapped methods are restored whatever happens.
        """
        try:
            final = self._objects()
            if final is not None:
                extra.setdefault("final_objects", final)
            self.writer.outcome(success, corrections=corrections, reason=reason, **extra)
        finally:
            for name, inner in self._wrapped:
                setattr(self.robot, name, inner)
            self._wrapped.clear()
            self.writer.close()
