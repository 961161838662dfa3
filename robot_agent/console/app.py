"""The console's web application (Starlette): the page, its JSON API and its websocket.

No rclpy here: the app talks to a :class:`Backend` (the ROS bridge,
``robot_agent.ros.console_web.RosBridge``, or a test double) and reads the live state from a
:class:`~robot_agent.console.hub.Hub`. The page and its scripts are files of
``robot_agent/console/static`` (no build step, nothing from a CDN).

Routes (``docs/console.md``): ``GET /`` the page; ``WS /ws`` a snapshot, then status, plan,
transcript, knowledge, feedback and result events as JSON text, camera frames as binary JPEG;
``POST /api/stop`` (a plain request, independent of the websocket), ``/api/task``,
``/api/cancel``, ``/api/correction``, ``/api/answer``, ``/api/speech`` (a WAV body);
``/api/kb/...`` and ``/api/episodes/...`` for the two panels.

Safety: with a token (required for any host but 127.0.0.1 / localhost) every request and the
websocket must carry it (``X-Console-Token`` header, ``token`` query parameter, or the cookie the
page gets when opened with ``?token=``); a request from a page of another origin is refused;
bodies are size-limited; texts go through the same validation as the ROS inputs (in the
backend); no route changes a parameter or a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from robot_agent.console.episodes import EpisodeError, EpisodesPanel
from robot_agent.console.hub import Hub
from robot_agent.console.knowledge import KnowledgeError, KnowledgePanel

STATIC = Path(__file__).with_name("static")
#: hosts that need no token
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: states in which the arm may be moving or about to (a task is running)
ACTIVE_STATES = frozenset({"planning", "executing", "waiting"})
#: largest JSON body accepted (bytes)
MAX_JSON = 64 * 1024
#: largest recording accepted (bytes): 60 s of 48 kHz 16-bit mono
MAX_AUDIO = 6 * 1024 * 1024
#: most camera frames per second sent to one page
MAX_PAGE_FPS = 20.0
COOKIE = "robot_agent_console"


class Backend(Protocol):
    """What the console asks of the agent (the ROS bridge implements it).

    Each method returns a JSON-able dict and raises ``ValueError`` for an input refused by
    validation (the message says why).
    """

    def run_task(self, text: str) -> dict[str, Any]: ...

    def cancel(self) -> dict[str, Any]: ...

    def correct(self, text: str, source: str = "typed") -> dict[str, Any]: ...

    def stop(self) -> dict[str, Any]: ...

    def speech(self, wav: bytes) -> dict[str, Any]: ...


@dataclass
class ConsoleOptions:
    """How the console serves and guards.

    Attributes:
        host, port: where it listens.
        token: required on every request when set (see :func:`needs_token`).
        stop_on_disconnect: halt the arm when the last page closes while a task runs.
        disconnect_grace_s: how long a reload may take before that stop.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    stop_on_disconnect: bool = True
    disconnect_grace_s: float = 1.5


def needs_token(host: str) -> bool:
    """Any host but the loopback ones (``0.0.0.0`` included) needs a token."""
    return host not in LOCAL_HOSTS


def new_token() -> str:
    return secrets.token_urlsafe(24)


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def _same_origin(headers: Any) -> bool:
    """No ``Origin`` (a tool, not a page) or an ``Origin`` whose host:port is the request's ``Host``."""
    origin = headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc == headers.get("host", "")


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > MAX_JSON:
        raise ValueError(f"request body over {MAX_JSON} bytes")
    try:
        data = json.loads(body or b"{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key!r} must be a string")
    return value


def create_app(
    backend: Backend,
    hub: Hub,
    options: ConsoleOptions | None = None,
    *,
    knowledge: KnowledgePanel | None = None,
    episodes: EpisodesPanel | None = None,
) -> Starlette:
    """The console application for one agent."""
    opts = options or ConsoleOptions()
    if needs_token(opts.host) and not opts.token:
        raise ValueError(f"serving on {opts.host} needs a token (only 127.0.0.1 / localhost may go without)")
    kb = knowledge or KnowledgePanel()
    eps = episodes or EpisodesPanel(None)
    watchers: set[asyncio.Task[None]] = set()

    def authorized(conn: Request | WebSocket) -> bool:
        if not opts.token:
            return True
        given = conn.headers.get("x-console-token") or conn.query_params.get("token") or conn.cookies.get(COOKIE) or ""
        return hmac.compare_digest(given.encode(), opts.token.encode())

    class Guard:
        """Token and origin checks on every HTTP request (pure ASGI: no extra task per request,
        so STOP pays nothing for it); the websocket checks its own in :func:`ws`."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return
            request = Request(scope)
            refusal = None
            if not authorized(request):
                refusal = _error("a console token is required (printed when the console started)", 401)
            elif request.method not in ("GET", "HEAD") and not _same_origin(request.headers):
                refusal = _error("refused: the request comes from a page of another origin", 403)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            if not (opts.token and request.query_params.get("token")):
                await self.app(scope, receive, send)
                return
            cookie = Response()
            cookie.set_cookie(COOKIE, opts.token, httponly=True, samesite="strict")
            extra = [(k, v) for k, v in cookie.raw_headers if k == b"set-cookie"]

            async def send_with_cookie(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", []), *extra]}
                await send(message)

            await self.app(scope, receive, send_with_cookie)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def call(fn: Any, *args: Any) -> JSONResponse:
        try:
            result = await run_in_threadpool(fn, *args)
        except (KnowledgeError, EpisodeError) as exc:
            return _error(str(exc), exc.status)
        except ValueError as exc:
            return _error(str(exc), 400)
        return JSONResponse(result)

    async def state(request: Request) -> Response:
        snap = hub.snapshot()
        snap["fps"] = round(hub.frame_rate(), 1)
        return JSONResponse(snap)

    async def stop(request: Request) -> Response:
        stop_async = getattr(backend, "stop_async", None)
        if stop_async is None:
            return await call(backend.stop)
        return JSONResponse(await stop_async())  # no worker thread between the request and ~/stop

    async def task(request: Request) -> Response:
        try:
            text = _text(await _json_body(request), "text")
        except ValueError as exc:
            return _error(str(exc))
        return await call(backend.run_task, text)

    async def cancel(request: Request) -> Response:
        return await call(backend.cancel)

    async def correction(request: Request) -> Response:
        try:
            text = _text(await _json_body(request), "text")
        except ValueError as exc:
            return _error(str(exc))
        return await call(backend.correct, text, "typed")

    async def answer(request: Request) -> Response:
        """A choice button: the answer is the choice's number, understood among the choices offered."""
        try:
            n = (await _json_body(request)).get("choice")
            if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
                raise ValueError("'choice' must be the number of a choice (1..20)")
        except ValueError as exc:
            return _error(str(exc))
        return await call(backend.correct, str(n), "typed")

    async def speech(request: Request) -> Response:
        size = request.headers.get("content-length")
        if size is not None and (not size.isdigit() or int(size) > MAX_AUDIO):
            return _error(f"a recording is at most {MAX_AUDIO} bytes", 413)
        body = await request.body()
        if len(body) > MAX_AUDIO:
            return _error(f"a recording is at most {MAX_AUDIO} bytes", 413)
        return await call(backend.speech, body)

    # -- knowledge panel --------------------------------------------------------------------------
    async def kb_search(request: Request) -> Response:
        q = request.query_params
        k = q.get("k", "20")
        if not k.isdigit():
            return _error("k must be a number")
        return await call(kb.search, q.get("q", ""), int(k), q.get("kind") or None)

    async def kb_item(request: Request) -> Response:
        item_id = request.path_params["item_id"]
        if request.method == "GET":
            return await call(kb.get, item_id)
        if request.method == "DELETE":
            return await call(kb.delete, item_id)
        try:
            data = await _json_body(request)
        except ValueError as exc:
            return _error(str(exc))
        return await call(kb.edit, item_id, data.get("rule"), data.get("parameters"))

    async def kb_restore(request: Request) -> Response:
        return await call(kb.restore, request.path_params["item_id"])

    async def kb_undo(request: Request) -> Response:
        return await call(kb.undo)

    # -- episodes panel ---------------------------------------------------------------------------
    async def ep_list(request: Request) -> Response:
        return await call(lambda: {"episodes": eps.list(), "replay": eps.replay_status()})

    async def ep_show(request: Request) -> Response:
        return await call(eps.show, request.path_params["name"])

    async def ep_frame(request: Request) -> Response:
        try:
            data = await run_in_threadpool(eps.frame, request.path_params["name"], int(request.path_params["index"]))
        except EpisodeError as exc:
            return _error(str(exc), exc.status)
        return Response(data, media_type="image/jpeg")

    async def ep_replay(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse(eps.replay_status())
        return await call(eps.replay, request.path_params["name"])

    # -- live state -------------------------------------------------------------------------------
    async def stop_if_unattended() -> None:
        await asyncio.sleep(opts.disconnect_grace_s)
        if hub.clients == 0 and hub.state() in ACTIVE_STATES:
            result = await run_in_threadpool(backend.stop)
            hub.publish("notice", {"text": "the last console closed while a task ran: arm stopped", "stop": result})

    async def ws(websocket: WebSocket) -> None:
        if not authorized(websocket) or not _same_origin(websocket.headers):
            await websocket.close(code=1008)
            return
        await websocket.accept()
        client = hub.connect(asyncio.get_running_loop())
        send_lock = asyncio.Lock()

        async def events() -> None:
            async with send_lock:
                await websocket.send_text(json.dumps(hub.snapshot()))
            while True:
                event = await client.queue.get()
                if event is None:
                    return
                async with send_lock:
                    await websocket.send_text(json.dumps(event, allow_nan=False, default=str))

        async def frames() -> None:
            period = 1.0 / MAX_PAGE_FPS
            while True:
                await client.frame_ready.wait()
                client.frame_ready.clear()
                seq, jpeg = hub.frame()
                if jpeg is not None and seq != client.frame_seq:
                    client.frame_seq = seq
                    async with send_lock:
                        await websocket.send_bytes(jpeg)
                    await asyncio.sleep(period)

        async def receive() -> None:
            while True:
                msg = await websocket.receive()
                if msg["type"] == "websocket.disconnect":
                    return

        tasks = [asyncio.create_task(c()) for c in (events, frames, receive)]
        if hub.frame()[1] is not None:
            client.frame_ready.set()
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(BaseException):
                    await t
            left = hub.disconnect(client)
            if left == 0 and opts.stop_on_disconnect:
                watcher = asyncio.create_task(stop_if_unattended())
                watchers.add(watcher)
                watcher.add_done_callback(watchers.discard)
            with contextlib.suppress(Exception):
                await websocket.close()

    routes = [
        Route("/", index),
        Route("/api/state", state),
        Route("/api/stop", stop, methods=["POST"]),
        Route("/api/task", task, methods=["POST"]),
        Route("/api/cancel", cancel, methods=["POST"]),
        Route("/api/correction", correction, methods=["POST"]),
        Route("/api/answer", answer, methods=["POST"]),
        Route("/api/speech", speech, methods=["POST"]),
        Route("/api/kb/search", kb_search),
        Route("/api/kb/undo", kb_undo, methods=["POST"]),
        Route("/api/kb/item/{item_id:str}", kb_item, methods=["GET", "POST", "DELETE"]),
        Route("/api/kb/item/{item_id:str}/restore", kb_restore, methods=["POST"]),
        Route("/api/episodes", ep_list),
        Route("/api/episodes/replay", ep_replay),
        Route("/api/episodes/{name:str}", ep_show),
        Route("/api/episodes/{name:str}/frame/{index:int}", ep_frame),
        Route("/api/episodes/{name:str}/replay", ep_replay, methods=["POST"]),
        WebSocketRoute("/ws", ws),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard)])
    app.state.options = opts
    app.state.hub = hub
    return app
