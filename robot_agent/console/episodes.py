"""The console's episodes panel: the recorded episodes (``robot_agent.logs``), their events and
camera frames step by step, and a replay in the sim (``robot-agent replay``, i.e.
:func:`robot_agent.logs.replay.replay`, in a child process so that its PyBullet world never
shares the console's process with a live sim node).

Episodes are named by their directory under the log root (``log_dir`` of the agent node);
a name is never a path: anything else than one entry of :meth:`EpisodesPanel.names` is refused.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from robot_agent.errors import EpisodeLogError

#: most events returned for one episode (joint states are not events)
MAX_EVENTS = 2000
#: seconds a replay may run
REPLAY_TIMEOUT_S = 600.0


class EpisodeError(Exception):
    """A panel operation that cannot be done; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class EpisodesPanel:
    """Lists, opens and replays the episode logs under ``root``."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root).expanduser() if root else None
        self._lock = threading.Lock()
        self._open: tuple[str, float, list[dict[str, Any]], list[bytes]] | None = None
        self._replay: dict[str, Any] = {"state": "idle"}

    def names(self) -> list[str]:
        from robot_agent.logs import find_episode_logs

        if self.root is None or not self.root.is_dir():
            return []
        return sorted((p.name for p in find_episode_logs(self.root) if p.parent == self.root), reverse=True)

    def _path(self, name: str) -> Path:
        if self.root is None:
            raise EpisodeError("episode recording is off for this console (no log directory)", 404)
        if name not in self.names():
            raise EpisodeError(f"no episode {name!r} under {self.root}", 404)
        return self.root / name

    def list(self) -> list[dict[str, Any]]:
        """Newest first: name, task, outcome, corrections, duration (an unreadable log says why)."""
        from robot_agent.logs import EpisodeLogReader

        out = []
        for name in self.names():
            try:
                s = EpisodeLogReader(self.root / name, repair=False).summary()  # type: ignore[operator]
                out.append(
                    {
                        "name": name,
                        "task": s.task,
                        "success": s.success,
                        "corrections": s.n_corrections,
                        "duration_s": round(s.duration_s, 1),
                        "frames": int(s.counts.get("/camera/image_raw", 0)),
                        "in_progress": s.in_progress,
                    }
                )
            except (EpisodeLogError, OSError, KeyError, ValueError) as exc:
                out.append({"name": name, "error": str(exc)})
        return out

    def _load(self, name: str) -> tuple[list[dict[str, Any]], list[bytes]]:
        """The episode's events (JSON topics, with the frame shown at that time) and its frames as JPEG."""
        from robot_agent.console.frames import to_jpeg
        from robot_agent.logs import EVENT_TOPICS, IMAGE_TOPIC, EpisodeLogReader

        path = self._path(name)
        mtime = max((p.stat().st_mtime for p in path.iterdir()), default=0.0)
        with self._lock:
            if self._open is not None and self._open[0] == name and self._open[1] == mtime:
                return self._open[2], self._open[3]
        try:
            reader = EpisodeLogReader(path, repair=False)
            start = int(reader.meta.get("start_time_ns") or 0)
            events: list[dict[str, Any]] = []
            frames: list[bytes] = []
            for ev in reader.events([*EVENT_TOPICS, IMAGE_TOPIC]):
                if ev.topic == IMAGE_TOPIC:
                    frames.append(to_jpeg(ev.data["rgb"]))
                    continue
                if len(events) < MAX_EVENTS:
                    t = (ev.t_ns - start) / 1e9 if start else 0.0
                    events.append(
                        {"t": round(t, 3), "kind": ev.kind, "data": _jsonable(ev.data), "frame": len(frames) - 1}
                    )
        except (EpisodeLogError, OSError, KeyError, ValueError) as exc:
            raise EpisodeError(f"{name}: {exc}", 422) from None
        with self._lock:
            self._open = (name, mtime, events, frames)
        return events, frames

    def show(self, name: str) -> dict[str, Any]:
        events, frames = self._load(name)
        return {"name": name, "events": events, "frames": len(frames)}

    def frame(self, name: str, index: int) -> bytes:
        _, frames = self._load(name)
        if not 0 <= index < len(frames):
            raise EpisodeError(f"{name} has {len(frames)} frame(s); no frame {index}", 404)
        return frames[index]

    # -- replay --------------------------------------------------------------------------------------
    def replay(self, name: str) -> dict[str, Any]:
        """Start ``robot-agent replay`` of the episode in the background (one at a time)."""
        path = self._path(name)
        with self._lock:
            if self._replay.get("state") == "running":
                raise EpisodeError(f"a replay of {self._replay['name']} is running; wait for it", 409)
            self._replay = {"state": "running", "name": name, "started": time.time(), "output": ""}
        threading.Thread(target=self._run_replay, args=(name, path), daemon=True, name="console-replay").start()
        return self.replay_status()

    def _run_replay(self, name: str, path: Path) -> None:
        cmd = [sys.executable, "-m", "robot_agent.cli", "replay", str(path)]
        try:
            # a fixed argument list: this interpreter, our CLI, and a directory name checked against names()
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=REPLAY_TIMEOUT_S, check=False)  # noqa: S603
            result = {"state": "done", "returncode": done.returncode, "output": (done.stdout + done.stderr)[-20000:]}
        except (OSError, subprocess.TimeoutExpired) as exc:
            result = {"state": "done", "returncode": -1, "output": f"replay failed: {exc}"}
        with self._lock:
            self._replay.update(result, finished=time.time())

    def replay_status(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._replay)
