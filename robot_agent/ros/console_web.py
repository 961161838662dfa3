"""The browser console's ROS side: ``robot-agent console`` and ``robot-agent up ... --console``.

:class:`RosBridge` is one more ROS 2 client of the agent node, as ``task``, ``say`` and
``listen`` are (it is built on their :class:`~robot_agent.ros.console._Session`, and speech goes
through ``listen``'s :class:`~robot_agent.ros.listen.SpokenCorrections`): it follows
``~/status``, ``~/plan``, ``~/transcript``, ``~/knowledge`` and the camera topic into the
console's :class:`~robot_agent.console.hub.Hub`, sends ``RunTask`` goals, corrections and
cancels, and calls ``~/stop``. It spins its own private context on a thread of its own, so it
works the same beside the nodes of ``up`` (same process) and against a remote agent (another
process or machine on the same ``ROS_DOMAIN_ID``). The web app (``robot_agent.console.app``)
never imports rclpy; this module is its only door to ROS.
"""

from __future__ import annotations

import argparse
import io
import sys
import threading
import time
from typing import Any

from robot_agent.console.app import ConsoleOptions, create_app, needs_token, new_token
from robot_agent.console.episodes import EpisodesPanel
from robot_agent.console.hub import Hub
from robot_agent.console.knowledge import KnowledgePanel
from robot_agent.errors import ConfigError, MessageError, SpeechError
from robot_agent.ros import messages
from robot_agent.ros.console import _Session, add_agent_options, agent_path

#: most camera frames per second encoded for the pages
MAX_ENCODE_FPS = 15.0
#: seconds to wait for the agent to accept or refuse a goal
GOAL_ANSWER_S = 10.0
#: seconds to wait for ``~/stop`` to answer
STOP_ANSWER_S = 2.0


def _plan_dict(msg: Any) -> dict[str, Any]:
    return {
        "task_id": msg.task_id,
        "steps": [{**messages.step_dict(s), "text": messages.format_step(s)} for s in msg.steps],
        "replanned": bool(msg.replanned),
        "why": msg.why,
        "constraints": list(msg.constraints),
    }


def _transcript_dict(msg: Any) -> dict[str, Any]:
    return {
        "stamp": messages.from_time(msg.stamp),
        "task_id": msg.task_id,
        "kind_of_event": msg.type,
        "text": msg.text,
        "source": msg.source,
        "kind": msg.kind,
        "summary": msg.summary,
        "outcome": msg.outcome,
        "decision": msg.decision,
        "confidence": round(float(msg.confidence), 3),
        "question": msg.question,
        "choices": list(msg.choices),
        "refusal": msg.refusal,
        "step": int(msg.step),
    }


def _knowledge_dict(msg: Any) -> dict[str, Any]:
    return {
        "task_id": msg.task_id,
        "event": msg.event,
        "id": msg.id,
        "kind": msg.kind,
        "rule": msg.rule,
        "score": round(float(msg.score), 3),
        "detail": msg.detail,
    }


class RosBridge:
    """The console's ROS client of one agent node (see the module docstring).

    Args:
        hub: where the live state goes.
        agent, namespace: which agent node (as ``task --agent/--namespace``).
        image_topic: the camera topic, relative to ``namespace`` (hardware: the remapped name).
        config_path: parameter file for the speech settings (default ``config/agent.yaml``).
    """

    def __init__(
        self,
        hub: Hub,
        *,
        agent: str = "robot_agent",
        namespace: str = "",
        image_topic: str = "camera/image_raw",
        scene_topic: str = "scene/objects",
        config_path: str | None = None,
    ) -> None:
        from rclpy.action import ActionClient
        from sensor_msgs.msg import Image
        from std_srvs.srv import Trigger

        from robot_agent.ros import qos
        from robot_agent_interfaces.action import RunTask
        from robot_agent_interfaces.msg import AgentStatus, KnowledgeEvent, Plan, Scene, TranscriptEvent

        self.hub = hub
        self.config_path = config_path
        self.s = _Session(agent_path(agent, namespace), namespace)
        node = self.s.node
        self.pub = self.s.correction_publisher()
        self.stop_client: Any = node.create_client(Trigger, self.s.topic("stop"))
        self.action = ActionClient(node, RunTask, self.s.topic("run_task"))
        self._goal: Any = None
        self._lock = threading.Lock()
        self._scene: list[str] = []
        self._recognizer: tuple[tuple[str, ...], Any, Any] | None = None
        self._spoken: Any = None
        self.s.subscribe(AgentStatus, "status", self._on_status, latched=True)
        self.s.subscribe(Plan, "plan", lambda m: hub.publish("plan", {"plan": _plan_dict(m)}), latched=True)
        self.s.subscribe(
            TranscriptEvent, "transcript", lambda m: hub.publish("transcript", _transcript_dict(m)), latched=True
        )
        self.s.subscribe(
            KnowledgeEvent, "knowledge", lambda m: hub.publish("knowledge", _knowledge_dict(m)), latched=True
        )
        node.create_subscription(Scene, scene_topic, self._on_scene, qos.SCENE_IN)
        self._image: Any = None
        self._image_ready = threading.Event()
        node.create_subscription(Image, image_topic, self._on_image, qos.IMAGES)
        self.image_topic = node.resolve_topic_name(image_topic)
        self._running = True
        self._spinner = threading.Thread(target=self._spin, name="console-ros", daemon=True)
        self._encoder = threading.Thread(target=self._encode, name="console-camera", daemon=True)
        self._spinner.start()
        self._encoder.start()

    # -- ROS callbacks (the spinner thread) ---------------------------------------------------------
    def _spin(self) -> None:
        while self._running:
            try:
                self.s.executor.spin_once(timeout_sec=0.1)
            except Exception:  # noqa: BLE001 - shutting down
                if self._running:
                    time.sleep(0.05)

    def _on_status(self, msg: Any) -> None:
        self.hub.publish("status", {"status": messages.status_dict(msg)})

    def _on_scene(self, msg: Any) -> None:
        try:
            self._scene = sorted(messages.parse_scene(msg))
        except MessageError:
            pass  # the agent reports a bad scene itself; speech just lacks the names

    def _on_image(self, msg: Any) -> None:
        self._image = msg  # the encoder thread takes the newest; the executor is never held up
        self._image_ready.set()

    def _encode(self) -> None:
        from robot_agent.console.frames import image_array, to_jpeg

        last = 0.0
        while self._running:
            if not self._image_ready.wait(0.5):
                continue
            self._image_ready.clear()
            msg = self._image
            if msg is None or self.hub.clients == 0:
                continue
            wait = 1.0 / MAX_ENCODE_FPS - (time.monotonic() - last)
            if wait > 0:
                time.sleep(wait)
                msg = self._image
            last = time.monotonic()
            try:
                rgb = image_array(msg.width, msg.height, msg.encoding, msg.step, memoryview(msg.data).cast("B"))
                self.hub.set_frame(to_jpeg(rgb))
            except MessageError as exc:
                self.hub.publish("notice", {"text": f"camera: {exc}"})
                time.sleep(2.0)

    # -- the Backend of robot_agent.console.app (the web server's worker threads) ------------------
    def stop(self) -> dict[str, Any]:
        """Call ``~/stop`` now; when the service is not there, a "stop" correction (which also halts)."""
        from std_srvs.srv import Trigger

        t0 = time.perf_counter()
        if not self.stop_client.service_is_ready():
            self.pub.publish(messages.correction_msg("stop", "typed"))
            return {"ok": False, "message": "~/stop is not available; sent a stop correction", "service_ms": None}
        done = threading.Event()
        future = self.stop_client.call_async(Trigger.Request())
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(STOP_ANSWER_S) or future.result() is None:
            self.pub.publish(messages.correction_msg("stop", "typed"))
            return {"ok": False, "message": "~/stop did not answer; sent a stop correction", "service_ms": None}
        res = future.result()
        ms = (time.perf_counter() - t0) * 1000.0
        return {"ok": bool(res.success), "message": res.message, "service_ms": round(ms, 2)}

    async def stop_async(self) -> dict[str, Any]:
        """:meth:`stop` on the web server's event loop: the request reaches ``~/stop`` without a thread hop."""
        import asyncio

        from std_srvs.srv import Trigger

        if not self.stop_client.service_is_ready():
            return await asyncio.to_thread(self.stop)
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()

        def wake(_f: Any) -> None:
            loop.call_soon_threadsafe(lambda: answered.done() or answered.set_result(None))

        t0 = time.perf_counter()
        future = self.stop_client.call_async(Trigger.Request())
        future.add_done_callback(wake)
        try:
            await asyncio.wait_for(answered, STOP_ANSWER_S)
        except TimeoutError:
            pass
        res = future.result() if future.done() else None
        if res is None:
            self.pub.publish(messages.correction_msg("stop", "typed"))
            return {"ok": False, "message": "~/stop did not answer; sent a stop correction", "service_ms": None}
        ms = (time.perf_counter() - t0) * 1000.0
        return {"ok": bool(res.success), "message": res.message, "service_ms": round(ms, 2)}

    def run_task(self, text: str) -> dict[str, Any]:
        """Send a ``RunTask`` goal (validated as the node validates it); says whether it was accepted."""
        from robot_agent_interfaces.action import RunTask

        goal = RunTask.Goal(task=text, id=messages.new_task_id())
        req = messages.parse_goal(goal)  # MessageError (a ValueError): refused before it leaves
        goal.task, goal.id = req.text, req.task_id
        if not self.action.server_is_ready():
            return {
                "accepted": False,
                "task_id": req.task_id,
                "reason": f"no agent answers on {self.s.topic('run_task')}",
            }
        answered = threading.Event()
        sent = self.action.send_goal_async(goal, feedback_callback=self._on_feedback)
        sent.add_done_callback(lambda _f: answered.set())
        if not answered.wait(GOAL_ANSWER_S) or sent.result() is None:
            return {"accepted": False, "task_id": req.task_id, "reason": "the agent did not answer the goal"}
        handle = sent.result()
        if not handle.accepted:
            time.sleep(0.2)  # the reason rides on ~/status
            st = (self.hub.latest("status") or {}).get("status") or {}
            return {"accepted": False, "task_id": req.task_id, "reason": st.get("error") or "the agent refused it"}
        with self._lock:
            self._goal = handle
        handle.get_result_async().add_done_callback(lambda f: self._on_result(req.task_id, f))
        return {"accepted": True, "task_id": req.task_id, "task": req.text}

    def _on_feedback(self, fb_msg: Any) -> None:
        fb = fb_msg.feedback
        self.hub.publish(
            "feedback",
            {
                "state": fb.state,
                "step": int(fb.step),
                "skill": fb.skill,
                "result_status": fb.result_status,
                "reason": fb.reason,
                "corrections": int(fb.corrections),
            },
        )

    def _on_result(self, task_id: str, future: Any) -> None:
        got = future.result()
        res = got.result if got is not None else None
        if res is None:
            return
        self.hub.publish(
            "result",
            {
                "task_id": task_id,
                "success": bool(res.success),
                "state": res.state,
                "reason": res.reason,
                "corrections": int(res.corrections),
                "duration_s": round(float(res.duration_s), 2),
                "knowledge_used": [_knowledge_dict(k) for k in res.knowledge_used],
                "knowledge_distilled": [_knowledge_dict(k) for k in res.knowledge_distilled],
            },
        )

    def cancel(self) -> dict[str, Any]:
        """Cancel the console's goal (the arm halts, the task ends stopped)."""
        with self._lock:
            handle = self._goal
        if handle is None:
            return {"ok": False, "message": "no task was started from this console; use STOP"}
        done = threading.Event()
        fut = handle.cancel_goal_async()
        fut.add_done_callback(lambda _f: done.set())
        if not done.wait(5.0) or fut.result() is None:
            return {"ok": False, "message": "the cancel was not answered", **self.stop()}
        return {"ok": bool(fut.result().goals_canceling), "message": "goal canceled"}

    def correct(self, text: str, source: str = "typed") -> dict[str, Any]:
        """Publish a correction (validated as the node validates it)."""
        msg = messages.correction_msg(text, source)  # MessageError (a ValueError) when refused
        self.pub.publish(msg)
        return {"sent": msg.text, "source": source, "at": time.time()}

    def speech(self, wav: bytes) -> dict[str, Any]:
        """A push-to-talk recording through ``listen``'s recognizer and its spoken-correction path."""
        from robot_agent.speech import decode_wav

        try:
            listener = self._listener()
            samples = decode_wav(wav, listener.recognizer.sample_rate, name="the recording")
        except (SpeechError, ConfigError) as exc:
            raise ValueError(str(exc)) from None
        step = max(1, listener.recognizer.sample_rate // 10)
        heard = []
        for i in range(0, samples.size, step):
            heard.extend(listener.feed(samples[i : i + step]))
        heard.extend(listener.flush())
        out = []
        for t in heard:
            self._spoken.handle(t)
            out.append({"text": t.text, "stop": bool(t.is_stop), "confidence": t.confidence})
        self._spoken.out = io.StringIO()  # what listen would print; the page shows the transcript instead
        return {"heard": out, "seconds": round(samples.size / listener.recognizer.sample_rate, 2)}

    def _listener(self) -> Any:
        from robot_agent.config import AgentConfig
        from robot_agent.ros.listen import SpokenCorrections
        from robot_agent.speech import make_listener, make_recognizer

        names = tuple(self._scene)
        with self._lock:
            if self._spoken is None:
                self._spoken = SpokenCorrections(self.s, io.StringIO())
            if self._recognizer is None or self._recognizer[0] != names:
                cfg = (AgentConfig.load(self.config_path) if self.config_path else AgentConfig.load()).speech
                self._recognizer = (names, cfg, make_recognizer(cfg, list(names)))
            _, cfg, recognizer = self._recognizer
        return make_listener(cfg, recognizer)

    def close(self) -> None:
        self._running = False
        self._image_ready.set()
        self._spinner.join(timeout=2.0)
        self._encoder.join(timeout=2.0)
        self.s.close()


class Console:
    """A running console: the ROS bridge and the web server (see :func:`start_console`)."""

    def __init__(self, bridge: RosBridge, server: Any, knowledge: KnowledgePanel) -> None:
        self.bridge, self.server, self.knowledge = bridge, server, knowledge

    def url(self) -> str:
        return str(self.server.url())

    def close(self) -> None:
        self.server.stop()
        self.bridge.close()
        self.knowledge.close()


def start_console(
    options: ConsoleOptions,
    *,
    agent: str = "robot_agent",
    namespace: str = "",
    image_topic: str = "camera/image_raw",
    get_kb: Any = None,
    kb_config: str | None = None,
    kb_dir: str | None = None,
    episodes_dir: str | None = None,
    config_path: str | None = None,
) -> Console:
    """Start the bridge and serve the page; ``rclpy`` needs no init (the bridge has its own context).

    Raises:
        ValueError: a host other than loopback without a token.
        OSError: the port cannot be bound.
    """
    from robot_agent.console.server import ConsoleServer

    if needs_token(options.host) and not options.token:
        options.token = new_token()
    open_kb = None
    if get_kb is None:

        def open_kb(read_only: bool) -> Any:
            from memory import open_knowledge_base
            from robot_agent.config import AgentConfig

            cfg = AgentConfig.load(kb_config) if kb_config else AgentConfig.load()
            if kb_dir:
                cfg.memory.kb_dir = kb_dir
            return open_knowledge_base(cfg.memory, read_only=read_only)

    hub = Hub()
    bridge = RosBridge(hub, agent=agent, namespace=namespace, image_topic=image_topic, config_path=config_path)
    knowledge = KnowledgePanel(get_kb=get_kb, open_kb=open_kb)
    app = create_app(bridge, hub, options, knowledge=knowledge, episodes=EpisodesPanel(episodes_dir))
    server = ConsoleServer(app, options)
    try:
        server.start()
    except BaseException:
        bridge.close()
        raise
    return Console(bridge, server, knowledge)


def announce(console: Console, out: Any = sys.stdout) -> None:
    """Print where the page is (with its token when there is one)."""
    opts = console.server.options
    print(f"console: {console.url()}", file=out, flush=True)
    if opts.token:
        print(f"console token: {opts.token} (needed on every request from {opts.host})", file=out, flush=True)


def add_console_options(p: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--token``, ``--keep-running-on-disconnect`` (``console`` and ``up --console``)."""
    p.add_argument("--host", default="127.0.0.1", help="console address (default 127.0.0.1; any other needs a token)")
    p.add_argument("--port", type=int, default=8080, help="console port (default 8080; 0 = any free one)")
    p.add_argument("--token", default=None, help="console token for a non-loopback host (default: random, printed)")
    p.add_argument(
        "--keep-running-on-disconnect",
        action="store_true",
        help="do not stop the arm when the last console page closes while a task runs (default: stop it)",
    )


def console_options(args: argparse.Namespace) -> ConsoleOptions:
    return ConsoleOptions(
        host=args.host, port=args.port, token=args.token, stop_on_disconnect=not args.keep_running_on_disconnect
    )


def _cmd_console(args: argparse.Namespace) -> int:
    from robot_agent.deps import require

    require("rclpy", "robot-agent console")
    try:
        console = start_console(
            console_options(args),
            agent=args.agent,
            namespace=args.namespace,
            image_topic=args.image_topic,
            kb_config=args.params,
            kb_dir=args.kb,
            episodes_dir=args.episodes,
            config_path=args.params,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    announce(console)
    import signal

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    # Ctrl-C and SIGTERM end it, also when started in the background (where SIGINT comes ignored)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        while True:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        console.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``console`` to the ``robot-agent`` command."""
    p = sub.add_parser(
        "console",
        help="the operator console in the browser (ROS 2 client of the running agent)",
        description="Serve the operator console: camera, state, plan, transcript, knowledge and episodes, "
        "task and correction boxes, push-to-talk and STOP, for the agent node of `robot-agent up` on "
        "the same ROS_DOMAIN_ID. `robot-agent up sim --console` starts it beside the nodes instead.",
    )
    add_console_options(p)
    add_agent_options(p)
    p.add_argument("--image-topic", default="camera/image_raw", help="camera topic, relative to --namespace")
    p.add_argument("--params", help="parameter file for memory and speech settings (default config/agent.yaml)")
    p.add_argument(
        "--kb", metavar="DIR", help="knowledge base directory (default memory.kb_dir; read-only while the agent runs)"
    )
    p.add_argument("--episodes", metavar="DIR", default="~/.robot_agent/episodes", help="episode log directory")
    p.set_defaults(func=_cmd_console)
