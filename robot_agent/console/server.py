"""Serving the console app with uvicorn in a thread of its own (beside the ROS nodes)."""

from __future__ import annotations

import threading
import time
from typing import Any

from robot_agent.console.app import ConsoleOptions


class ConsoleServer:
    """uvicorn serving ``app`` on a daemon thread; :meth:`start` returns once it listens.

    Raises (from :meth:`start`):
        OSError: the port is taken or the address cannot be bound.
    """

    def __init__(self, app: Any, options: ConsoleOptions) -> None:
        import uvicorn

        self.options = options
        config = uvicorn.Config(
            app,
            host=options.host,
            port=options.port,
            log_level="warning",
            ws="websockets-sansio",
            lifespan="off",
            access_log=False,
        )
        self.server = uvicorn.Server(config)
        self.server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self.thread = threading.Thread(target=self._run, name="console-http", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # noqa: BLE001 - reported by start()
            self.error = exc

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise OSError(
                    f"the console could not listen on {self.options.host}:{self.options.port}"
                    + (f": {self.error}" if self.error else " (port in use?)")
                )
            time.sleep(0.02)

    @property
    def port(self) -> int:
        """The port it listens on (the real one when started with port 0)."""
        for server in getattr(self.server, "servers", []) or []:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.options.port

    def url(self) -> str:
        wildcard = self.options.host in ("0.0.0.0", "::")  # noqa: S104 - recognizing it, not binding
        host = "127.0.0.1" if wildcard else self.options.host
        base = f"http://{host}:{self.port}/"
        return base + (f"?token={self.options.token}" if self.options.token else "")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5.0)
