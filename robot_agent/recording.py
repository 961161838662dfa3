"""Recording an agent episode into a rosbag2 episode log (``robot_agent.episode_log``).

:class:`EpisodeRecorder` is what the agent's ``episode_logger`` hook expects: it turns each
agent event into the matching ``/episode/*`` message, and samples the robot's joint states
(every control tick, rate-limited by the writer) and camera frames. The same recorder serves
the CLI and the benchmark; the ROS node records the same events.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from robot_agent.episode_log import EpisodeLogWriter

log = logging.getLogger(__name__)


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

    def __init__(self, path: str | Path, episode_id: str, *, task: str, scene: dict[str, Any] | None = None,
                 robot: Any = None, camera: Any = None, image_hz: float = 2.0, joint_state_hz: float = 50.0,
                 meta: dict[str, Any] | None = None) -> None:
        self.writer = EpisodeLogWriter(path, episode_id, meta={"task": task, "scene": scene or {}, **(meta or {})},
                                       image_max_hz=image_hz, joint_state_max_hz=joint_state_hz).open()
        self.writer.task(task)
        self.robot = robot
        self.camera = camera
        self._wrapped: list[tuple[str, Any]] = []
        self._step = 0
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
        import time

        period = 1.0 / float(self.writer.image_max_hz or 1.0)
        now = time.monotonic()
        if now - getattr(self, "_last_frame", -1e9) >= period:
            self._last_frame = now
            return True
        return False

    # -- agent events ----------------------------------------------------------------------------
    def log_event(self, e: dict[str, Any]) -> None:
        """The agent's event hook."""
        w = self.writer
        t = e.get("type")
        if t == "plan":
            w.plan(e["plan"], reason="correction" if e.get("replanned") else "initial",
                   constraints=e.get("constraints", []))
        elif t == "status" and e.get("state") == "executing":
            self._step = int(e.get("step", 0))
            sk = e["skill"]
            w.skill_call(sk["skill"], sk["args"], sk["params"], step=self._step)
        elif t == "skill_result":
            w.skill_result(e["call"]["skill"], {"status": e["status"], "reason": e["reason"],
                                                "facts": e.get("facts", {})}, step=self._step)
        elif t == "correction":
            w.correction(e["text"], e.get("source", "typed"), dropped=e.get("dropped"))
        elif t == "dropped":
            w.correction(e["text"], e.get("source", "typed"), dropped=e.get("reason"))
        elif t == "understood":
            w.understood(e["text"], e["kind"], summary=e.get("summary"), outcome=e.get("outcome"),
                         question=e.get("question"), refusal=e.get("refusal"), source=e.get("source"),
                         correction=e.get("correction"))
        elif t == "knowledge":
            if e.get("event") == "used":
                w.knowledge(used=[{k: v for k, v in e.items() if k not in ("type", "t")}])
            elif e.get("event") == "distilled":
                w.knowledge(distilled=[{k: v for k, v in e.items() if k not in ("type", "t")}])
            else:
                w.knowledge(error=e.get("error"))

    def finish(self, success: bool, *, corrections: int, reason: str = "", **extra: Any) -> None:
        """Write the outcome and close the bag (restores the robot's methods)."""
        try:
            self.writer.outcome(success, corrections=corrections, reason=reason, **extra)
        finally:
            for name, inner in self._wrapped:
                setattr(self.robot, name, inner)
            self._wrapped.clear()
            self.writer.close()
