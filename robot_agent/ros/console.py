"""Operator console over ROS 2: ``robot-agent say`` and ``robot-agent task``.

``say "a bit to the left"`` publishes a correction on the agent's ``~/correction`` and
prints what it was understood as (from ``~/transcript``). ``task "put the red block in
the bowl"`` sends a task on ``~/task`` and follows ``~/status``, ``~/plan`` and
``~/transcript`` until the task is done, failed or stopped; Ctrl-C calls ``~/stop``.
Both talk to the agent node of ``robot-agent up`` (or ``ros2 launch``) on the same
``ROS_DOMAIN_ID``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Callable, TextIO

from robot_agent.ros import messages

#: exit codes
OK, FAILED, NO_AGENT = 0, 1, 2


def _fmt_call(call: Any) -> str:
    if not isinstance(call, dict):
        return str(call)
    return f"{call.get('skill', '?')}({', '.join(map(str, (call.get('args') or {}).values()))})"


class _Session:
    """A short-lived console node: publishers and subscriptions to one agent node, spun by hand."""

    def __init__(self, agent: str) -> None:
        from robot_agent.deps import require

        require("rclpy", "the operator console")
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        from robot_agent.ros import qos

        self.agent = "/" + agent.strip("/")
        self.rclpy = rclpy
        # A private context: the console works beside any other rclpy user in the process, and
        # Ctrl-C stays a plain KeyboardInterrupt (so `task` can call ~/stop on the way out).
        self.context = Context()
        rclpy.init(args=[], context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(f"robot_agent_console_{os.getpid()}_{id(self):x}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.qos = qos

    def topic(self, name: str) -> str:
        return f"{self.agent}/{name}"

    def publisher(self, name: str) -> Any:
        from std_msgs.msg import String

        return self.node.create_publisher(String, self.topic(name), self.qos.COMMANDS)

    def subscribe(self, name: str, callback: Callable[[str], None], latched: bool = False) -> Any:
        from std_msgs.msg import String

        profile = self.qos.LATCHED_FOLLOW if latched else self.qos.EVENTS
        return self.node.create_subscription(String, self.topic(name), lambda m: callback(m.data), profile)

    def spin_until(self, done: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.executor.spin_once(timeout_sec=min(0.05, left))
        return True

    def wait_for_agent(self, pub: Any, timeout: float) -> bool:
        """Until the agent subscribes to ``pub`` (DDS discovery), at most ``timeout`` s."""
        return self.spin_until(lambda: pub.get_subscription_count() > 0, timeout)

    def call_trigger(self, name: str, timeout: float = 5.0) -> tuple[bool, str]:
        from std_srvs.srv import Trigger

        client: Any = self.node.create_client(Trigger, self.topic(name))
        if not client.wait_for_service(timeout_sec=timeout):
            return False, f"service {self.topic(name)} is not available"
        future = client.call_async(Trigger.Request())
        if not self.spin_until(future.done, timeout):
            return False, f"{self.topic(name)} did not answer within {timeout:g} s"
        res = future.result()
        if res is None:
            return False, f"{self.topic(name)} failed: {future.exception()}"
        return bool(res.success), str(res.message)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


def _no_agent(agent: str, what: str) -> str:
    return (f"no agent node is listening on {agent}/{what}: start it with `robot-agent up sim` (or hardware) "
            f"on the same ROS_DOMAIN_ID (here {os.environ.get('ROS_DOMAIN_ID', '0')})")


def say(text: str, *, source: str = "typed", agent: str = "/robot_agent", timeout: float = 10.0,
        wait: bool = True, out: TextIO = sys.stdout) -> int:
    """Publish one correction; with ``wait``, print what it was understood as.

    Returns:
        0 when it was published (and, with ``wait``, understood), 1 when it was dropped,
        refused or not answered, 2 when no agent node is listening.
    """
    try:
        payload = messages.encode_correction(text, source)
    except messages.MessageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED
    req = messages.parse_correction(payload)
    s = _Session(agent)
    try:
        heard: list[dict[str, Any]] = []
        errors: list[str] = []
        sent_at = [float("inf")]

        def on_transcript(data: str) -> None:
            try:
                ev = messages.parse_event(data, "transcript")
            except messages.MessageError:
                return
            # Transcripts are replayed to late joiners: only an answer to this utterance, sent now.
            if ev.get("text", "").strip().lower() == req.text.lower() and ev.get("stamp", 0.0) >= sent_at[0]:
                heard.append(ev)

        def on_status(data: str) -> None:
            try:
                st = messages.parse_status(data)
            except messages.MessageError:
                return
            if st.get("error") and "correction" in st["error"] and st["stamp"] >= sent_at[0]:
                errors.append(st["error"])

        pub = s.publisher("correction")
        if wait:
            transcript = s.subscribe("transcript", on_transcript)
            s.subscribe("status", on_status, latched=True)
        if not s.wait_for_agent(pub, min(timeout, 10.0)):
            print(f"error: {_no_agent(s.agent, 'correction')}", file=sys.stderr)
            return NO_AGENT
        if wait:  # the agent's transcript publisher too, or its answer could pass us by
            s.spin_until(lambda: transcript.get_publisher_count() > 0, min(timeout, 10.0))
        from std_msgs.msg import String

        sent_at[0] = time.time() - 0.05
        pub.publish(String(data=payload))
        if not wait:
            from rclpy.duration import Duration

            acked = pub.wait_for_all_acked(Duration(seconds=timeout))
            print(f"sent: {req.text!r}" + ("" if acked else " (delivery not confirmed)"), file=out)
            return OK if acked else FAILED
        if not s.spin_until(lambda: bool(heard) or bool(errors), timeout):
            print(f"sent: {req.text!r}; no transcript from the agent within {timeout:g} s", file=out)
            return FAILED
        if heard:
            ev = heard[0]
            print(f"understood as: {ev.get('summary') or ev.get('kind')} [{ev.get('outcome')}]", file=out)
            if ev.get("question"):
                print(f"robot asks: {ev['question']}", file=out)
            if ev.get("refusal"):
                print(f"robot refuses: {ev['refusal']}", file=out)
            outcome = str(ev.get("outcome", ""))
            return FAILED if outcome.startswith(("dropped", "refused")) else OK
        print(f"refused: {errors[0]}", file=out)
        return FAILED
    finally:
        s.close()


def run_task(text: str, *, agent: str = "/robot_agent", timeout: float = 600.0, ready_timeout: float = 120.0,
             task_id: str | None = None, out: TextIO = sys.stdout) -> int:
    """Send a task and follow it until it ends.

    Returns:
        0 when the task is done successfully, 1 when it failed, was stopped, refused or timed
        out (a timeout also calls ``~/stop``), 2 when no agent node answers.
    """
    payload = messages.encode_task(text, task_id)
    tid = json.loads(payload)["id"]
    s = _Session(agent)
    state: dict[str, Any] = {"ready": False, "final": None, "refused": None, "last": None, "result": None}

    def on_status(data: str) -> None:
        try:
            st = messages.parse_status(data)
        except messages.MessageError as exc:
            print(f"  (unreadable status: {exc})", file=out)
            return
        state["ready"] = bool(st["ready"])
        err = st.get("error")
        if err and f"task {tid} refused" in err:
            state["refused"] = err
        if st.get("task_id") != tid:
            return
        if err:
            print(f"  ! {err}", file=out)
        key = (st["state"], st.get("step"), json.dumps(st.get("skill"), sort_keys=True))
        if key != state["last"]:
            state["last"] = key
            if st["state"] == "executing" and st.get("skill"):
                print(f"  step {int(st.get('step') or 0) + 1}: {_fmt_call(st['skill'])}", file=out)
            elif st["state"] not in messages.TERMINAL_STATES:
                print(f"  {st['state']}", file=out)
        res = st.get("result")
        if res and res != state["result"] and res.get("status") not in (None, "succeeded"):
            print(f"    -> {res.get('status')}: {res.get('reason', '')}", file=out)
        state["result"] = res
        if st["state"] in messages.TERMINAL_STATES:
            state["final"] = st

    def on_plan(data: str) -> None:
        try:
            ev = messages.parse_event(data, "plan")
        except messages.MessageError:
            return
        if ev.get("task_id") == tid:
            head = "replan" if ev.get("replanned") else "plan"
            print(f"  {head}: " + " -> ".join(_fmt_call(c) for c in ev.get("plan", [])), file=out)

    def on_transcript(data: str) -> None:
        try:
            ev = messages.parse_event(data, "transcript")
        except messages.MessageError:
            return
        if ev.get("task_id") == tid:
            print(f"  operator ({ev.get('source') or '?'}): \"{ev.get('text')}\" -> "
                  f"{ev.get('summary') or ev.get('kind')} [{ev.get('outcome')}]", file=out)

    def on_knowledge(data: str) -> None:
        try:
            ev = messages.parse_event(data, "knowledge")
        except messages.MessageError:
            return
        if ev.get("task_id") == tid and ev.get("event") in ("used", "distilled"):
            print(f"  knowledge {ev['event']}: {ev.get('rule', '')}", file=out)

    try:
        s.subscribe("status", on_status, latched=True)
        s.subscribe("plan", on_plan, latched=True)
        s.subscribe("transcript", on_transcript)
        s.subscribe("knowledge", on_knowledge)
        pub = s.publisher("task")
        if not s.wait_for_agent(pub, min(ready_timeout, 15.0)):
            print(f"error: {_no_agent(s.agent, 'task')}", file=sys.stderr)
            return NO_AGENT
        if not s.spin_until(lambda: state["ready"], ready_timeout):
            print(f"error: the agent at {s.agent} did not report ready within {ready_timeout:g} s", file=sys.stderr)
            return NO_AGENT
        from std_msgs.msg import String

        print(f"task {tid}: {json.loads(payload)['task']}", file=out)
        pub.publish(String(data=payload))
        try:
            finished = s.spin_until(lambda: state["final"] is not None or state["refused"] is not None, timeout)
        except KeyboardInterrupt:
            ok, msg = s.call_trigger("stop")
            print(f"interrupted: {msg}", file=out)
            return FAILED
        if state["refused"]:
            print(f"refused: {state['refused']}", file=out)
            return FAILED
        if not finished:
            ok, msg = s.call_trigger("stop")
            print(f"timed out after {timeout:g} s; {msg}", file=out)
            return FAILED
        final = state["final"]
        verdict = final["state"] + (f" ({final['reason']})" if final.get("reason") else "")
        print(f"task {tid}: {verdict}", file=out)
        return OK if final["state"] == "done" and final.get("success") is not False else FAILED
    finally:
        s.close()


def _cmd_say(args: argparse.Namespace) -> int:
    return say(" ".join(args.text), source=args.source, agent=args.agent, timeout=args.timeout,
               wait=not args.no_wait)


def _cmd_task(args: argparse.Namespace) -> int:
    return run_task(" ".join(args.text), agent=args.agent, timeout=args.timeout, ready_timeout=args.ready_timeout,
                    task_id=args.id)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``say`` and ``task`` to the ``robot-agent`` command."""
    p = sub.add_parser("say", help="send a correction to the running agent (ROS 2)",
                       description="Publish a correction on the agent node's ~/correction topic and print what "
                                   "it was understood as. The agent must be running (robot-agent up).")
    p.add_argument("text", nargs="+", help='the correction, e.g. "a bit to the left" or "stop"')
    p.add_argument("--source", default="typed", choices=messages.CORRECTION_SOURCES,
                   help="where it came from (default: typed)")
    p.add_argument("--agent", default="/robot_agent", help="agent node name (default: /robot_agent)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the transcript")
    p.add_argument("--no-wait", action="store_true", help="publish and return without waiting for the transcript")
    p.set_defaults(func=_cmd_say)
    t = sub.add_parser("task", help="send a task to the running agent and follow it (ROS 2)",
                       description="Publish a task on the agent node's ~/task topic and follow ~/status, ~/plan "
                                   "and ~/transcript until it is done, failed or stopped. Ctrl-C stops the arm.")
    t.add_argument("text", nargs="+", help='the task, e.g. "put the red block in the bowl"')
    t.add_argument("--agent", default="/robot_agent", help="agent node name (default: /robot_agent)")
    t.add_argument("--id", help="task id to use (default: a random one)")
    t.add_argument("--timeout", type=float, default=600.0, help="seconds before giving up (and stopping the arm)")
    t.add_argument("--ready-timeout", type=float, default=120.0,
                   help="seconds to wait for the agent to report ready (models may be loading)")
    t.set_defaults(func=_cmd_task)
