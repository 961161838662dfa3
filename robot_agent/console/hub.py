"""The console's live state and its fan-out to the open pages (no ROS, no web framework).

The ROS bridge (``robot_agent.ros.console_web``) calls :meth:`Hub.publish` and
:meth:`Hub.set_frame` from its own threads; every open page (a websocket, see
:mod:`robot_agent.console.app`) holds a :class:`Client` whose queue the hub fills through the
web server's event loop (``call_soon_threadsafe``). A page that connects late gets
:meth:`Hub.snapshot` first, then the events. Camera frames are not queued: each client keeps
only the newest (a late frame is worth nothing), so a slow page never holds the server back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from typing import Any

#: events of each kind kept for pages that connect later
KEEP = {"transcript": 200, "knowledge": 200, "feedback": 1, "result": 20, "notice": 20}
#: most events waiting for one page; a page that falls this far behind is disconnected (it reconnects
#: and starts again from a snapshot)
CLIENT_QUEUE = 1000


class Client:
    """One open page: its event queue and its newest camera frame."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(CLIENT_QUEUE)
        self.frame_ready = asyncio.Event()
        self.frame_seq = -1
        self.overflowed = False

    def _put(self, event: dict[str, Any]) -> None:  # on the loop's thread
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)  # the sender sees None and closes; the page reconnects


class Hub:
    """Thread-safe store of the latest status, plan, events and camera frame, with its subscribers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, Any] = {"status": None, "plan": None}
        self._events: dict[str, deque[dict[str, Any]]] = {k: deque(maxlen=n) for k, n in KEEP.items()}
        self._frame: bytes | None = None
        self._frame_seq = 0
        self._frame_times: deque[float] = deque(maxlen=30)
        self._clients: set[Client] = set()
        self.last_disconnect = 0.0

    # -- producers (any thread) --------------------------------------------------------------------
    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        """Record an event (``status``, ``plan``: the latest only; others: the last few) and send it."""
        event = {"type": kind, "t": time.time(), **payload}
        with self._lock:
            if kind in self._latest:
                self._latest[kind] = event
            else:
                self._events.setdefault(kind, deque(maxlen=20)).append(event)
            clients = list(self._clients)
        for c in clients:
            try:
                c.loop.call_soon_threadsafe(c._put, event)
            except RuntimeError:  # its loop is closed: the server is going down
                pass

    def set_frame(self, jpeg: bytes) -> None:
        """The newest camera frame (JPEG bytes); every page is told a new one is there."""
        with self._lock:
            self._frame = jpeg
            self._frame_seq += 1
            self._frame_times.append(time.monotonic())
            clients = list(self._clients)
        for c in clients:
            try:
                c.loop.call_soon_threadsafe(c.frame_ready.set)
            except RuntimeError:
                pass

    # -- readers -----------------------------------------------------------------------------------
    def frame(self) -> tuple[int, bytes | None]:
        with self._lock:
            return self._frame_seq, self._frame

    def frame_rate(self) -> float:
        """Frames per second over the last few frames (0 when fewer than two or none lately)."""
        with self._lock:
            times = list(self._frame_times)
        if len(times) < 2 or time.monotonic() - times[-1] > 2.0:
            return 0.0
        return (len(times) - 1) / max(1e-6, times[-1] - times[0])

    def latest(self, kind: str) -> dict[str, Any] | None:
        with self._lock:
            return self._latest.get(kind)

    def state(self) -> str:
        """The agent's state from the latest status (``unknown`` before the first)."""
        st = self.latest("status")
        return str((st or {}).get("status", {}).get("state") or "unknown")

    def snapshot(self) -> dict[str, Any]:
        """Everything a page needs to draw itself from scratch."""
        with self._lock:
            return {
                "type": "snapshot",
                "t": time.time(),
                **{k: v for k, v in self._latest.items()},
                **{k: list(v) for k, v in self._events.items()},
                "consoles": len(self._clients),
            }

    # -- subscribers (the web server's loop) --------------------------------------------------------
    def connect(self, loop: asyncio.AbstractEventLoop) -> Client:
        client = Client(loop)
        with self._lock:
            self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> int:
        """Forget a page; returns how many are left."""
        with self._lock:
            self._clients.discard(client)
            self.last_disconnect = time.monotonic()
            return len(self._clients)

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._clients)
