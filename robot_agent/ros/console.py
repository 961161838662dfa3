"""Operator console over ROS 2: ``robot-agent say`` and ``robot-agent task``.

``say "a bit to the left"`` publishes a ``Correction`` on the agent's ``~/correction`` and
prints what it was understood as (from ``~/transcript``). ``task "put the red block in the
bowl"`` sends a ``RunTask`` goal to the agent's ``~/run_task`` action, prints its feedback and
the plan, transcript and knowledge events of that task until the result; Ctrl-C cancels the
goal (the arm halts). Both talk to the agent node of ``robot-agent up`` (or ``ros2 launch``) on
the same ``ROS_DOMAIN_ID``; ``--namespace`` picks one agent among several.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from robot_agent.errors import MessageError
from robot_agent.ros import messages

#: exit codes
OK, FAILED, NO_AGENT = 0, 1, 2


def agent_path(agent: str = "robot_agent", namespace: str = "") -> str:
    """The agent node's full name: ``/robot1/robot_agent`` from ``robot_agent`` in ``robot1``.

    An ``agent`` starting with ``/`` is already a full name and the namespace is ignored.
    """
    if agent.startswith("/"):
        return "/" + agent.strip("/")
    ns = namespace.strip().strip("/")
    return "/" + "/".join(p for p in (ns, agent.strip("/")) if p)


class _Session:
    """A short-lived console node: publishers, subscriptions and clients to one agent node, spun by hand.

    Args:
        agent: the agent node's full name (see :func:`agent_path`).
        namespace: the console node's namespace, so that relative topics (the scene) are the agent's.
    """

    def __init__(self, agent: str, namespace: str = "") -> None:
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
        # Ctrl-C stays a plain KeyboardInterrupt (so `task` can cancel its goal on the way out).
        self.context = Context()
        rclpy.init(args=[], context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        ns = "/" + namespace.strip().strip("/") if namespace.strip().strip("/") else "/"
        self.node = rclpy.create_node(
            f"robot_agent_console_{os.getpid()}_{id(self):x}", namespace=ns, context=self.context
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.qos = qos

    def topic(self, name: str) -> str:
        return f"{self.agent}/{name}"

    def correction_publisher(self) -> Any:
        from robot_agent_interfaces.msg import Correction

        return self.node.create_publisher(Correction, self.topic("correction"), self.qos.COMMANDS)

    def subscribe(self, msg_type: Any, name: str, callback: Callable[[Any], None], latched: bool = False) -> Any:
        profile = self.qos.LATCHED_FOLLOW if latched else self.qos.EVENTS
        return self.node.create_subscription(msg_type, self.topic(name), callback, profile)

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
    return (
        f"no agent node is listening on {agent}/{what}: start it with `robot-agent up sim` (or hardware) "
        f"on the same ROS_DOMAIN_ID (here {os.environ.get('ROS_DOMAIN_ID', '0')}) and namespace"
    )


def say(
    text: str,
    *,
    source: str = "typed",
    agent: str = "robot_agent",
    namespace: str = "",
    timeout: float = 10.0,
    wait: bool = True,
    out: TextIO = sys.stdout,
) -> int:
    """Publish one correction; with ``wait``, print what it was understood as.

    Returns:
        0 when it was published (and, with ``wait``, understood), 1 when it was dropped,
        refused or not answered, 2 when no agent node is listening.
    """
    try:
        msg = messages.correction_msg(text, source)
    except MessageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED
    from robot_agent_interfaces.msg import AgentStatus, TranscriptEvent

    s = _Session(agent_path(agent, namespace), namespace)
    try:
        heard: list[Any] = []
        errors: list[str] = []
        sent_at = [float("inf")]

        def on_transcript(ev: TranscriptEvent) -> None:
            # Transcripts are replayed to late joiners: only an answer to this utterance, sent now.
            if ev.text.strip().lower() == msg.text.lower() and messages.from_time(ev.stamp) >= sent_at[0]:
                heard.append(ev)

        def on_status(st: AgentStatus) -> None:
            if st.error and "correction" in st.error and messages.from_time(st.stamp) >= sent_at[0]:
                errors.append(st.error)

        pub = s.correction_publisher()
        if wait:
            transcript = s.subscribe(TranscriptEvent, "transcript", on_transcript)
            s.subscribe(AgentStatus, "status", on_status, latched=True)
        if not s.wait_for_agent(pub, min(timeout, 10.0)):
            print(f"error: {_no_agent(s.agent, 'correction')}", file=sys.stderr)
            return NO_AGENT
        if wait:  # the agent's transcript publisher too, or its answer could pass us by
            s.spin_until(lambda: transcript.get_publisher_count() > 0, min(timeout, 10.0))
        sent_at[0] = time.time() - 0.05
        msg.stamp = messages.to_time(time.time())
        pub.publish(msg)
        if not wait:
            from rclpy.duration import Duration

            acked = pub.wait_for_all_acked(Duration(seconds=timeout))
            print(f"sent: {msg.text!r}" + ("" if acked else " (delivery not confirmed)"), file=out)
            return OK if acked else FAILED
        if not s.spin_until(lambda: bool(heard) or bool(errors), timeout):
            print(f"sent: {msg.text!r}; no transcript from the agent within {timeout:g} s", file=out)
            return FAILED
        if heard:
            ev = heard[0]
            print(f"understood as: {ev.summary or ev.kind} [{ev.outcome}]", file=out)
            if ev.question:
                print(f"robot asks: {ev.question}", file=out)
                for i, choice in enumerate(ev.choices, 1):
                    print(f"  {i}. {choice}", file=out)
            if ev.refusal:
                print(f"robot refuses: {ev.refusal}", file=out)
            return FAILED if ev.outcome.startswith(("dropped", "refused")) else OK
        print(f"refused: {errors[0]}", file=out)
        return FAILED
    finally:
        s.close()


class _TaskPrinter:
    """Prints a task's feedback, plans, transcript and knowledge events, each once."""

    def __init__(self, task_id: str, out: TextIO) -> None:
        self.tid, self.out = task_id, out
        self.last: tuple[Any, ...] | None = None
        self.last_result = ""
        self.feedback = 0
        self.refusal: str | None = None
        self.sent_at = float("inf")

    def on_feedback(self, fb_msg: Any) -> None:
        fb = fb_msg.feedback
        self.feedback += 1
        skill = messages.format_step(fb.plan[fb.step]) if 0 <= fb.step < len(fb.plan) else fb.skill
        key = (fb.state, fb.step, skill)
        if key != self.last:
            self.last = key
            if fb.state == "executing" and skill:
                print(f"  step {fb.step + 1}: {skill}", file=self.out)
            elif fb.state not in messages.TERMINAL_STATES:
                print(f"  {fb.state}", file=self.out)
        if fb.result_status and fb.result_status != "succeeded" and fb.result_status != self.last_result:
            print(f"    -> {fb.result_status}: {fb.reason}", file=self.out)
        self.last_result = fb.result_status

    def on_status(self, st: Any) -> None:
        if st.error and f"task {self.tid} refused" in st.error and messages.from_time(st.stamp) >= self.sent_at:
            self.refusal = st.error

    def on_plan(self, ev: Any) -> None:
        if ev.task_id == self.tid:
            head = "replan" if ev.replanned else "plan"
            print(f"  {head}: " + " -> ".join(messages.format_step(c) for c in ev.steps), file=self.out)

    def on_transcript(self, ev: Any) -> None:
        if ev.task_id != self.tid:
            return
        if ev.type == "question":
            print(f"  robot asks: {ev.question}", file=self.out)
            for i, choice in enumerate(ev.choices, 1):
                print(f"    {i}. {choice}", file=self.out)
            return
        print(f'  operator ({ev.source or "?"}): "{ev.text}" -> {ev.summary or ev.kind} [{ev.outcome}]', file=self.out)

    def on_knowledge(self, ev: Any) -> None:
        if ev.task_id == self.tid and ev.event in ("used", "distilled"):
            print(f"  knowledge {ev.event}: {ev.rule}", file=self.out)


def run_task(
    text: str,
    *,
    agent: str = "robot_agent",
    namespace: str = "",
    timeout: float = 600.0,
    ready_timeout: float = 120.0,
    task_id: str | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Send a ``RunTask`` goal and follow it until its result.

    Returns:
        0 when the task succeeded, 1 when it failed, was stopped, canceled (Ctrl-C), rejected or
        timed out (a timeout also cancels the goal), 2 when no agent node answers.
    """
    from rclpy.action import ActionClient

    from robot_agent_interfaces.action import RunTask
    from robot_agent_interfaces.msg import AgentStatus, KnowledgeEvent, Plan, TranscriptEvent

    try:
        goal = RunTask.Goal(task=text, id=task_id or messages.new_task_id())
        req = messages.parse_goal(goal)
    except MessageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return FAILED
    goal.task, goal.id = req.text, req.task_id
    s = _Session(agent_path(agent, namespace), namespace)
    p = _TaskPrinter(req.task_id, out)
    ready = [False]

    def on_status(st: AgentStatus) -> None:
        ready[0] = bool(st.ready)
        p.on_status(st)

    try:
        s.subscribe(AgentStatus, "status", on_status, latched=True)
        s.subscribe(Plan, "plan", p.on_plan, latched=True)
        s.subscribe(TranscriptEvent, "transcript", p.on_transcript)
        s.subscribe(KnowledgeEvent, "knowledge", p.on_knowledge)
        client = ActionClient(s.node, RunTask, s.topic("run_task"))
        if not s.spin_until(client.server_is_ready, min(ready_timeout, 15.0)):
            print(f"error: {_no_agent(s.agent, 'run_task')}", file=sys.stderr)
            return NO_AGENT
        if not s.spin_until(lambda: ready[0], ready_timeout):
            print(f"error: the agent at {s.agent} did not report ready within {ready_timeout:g} s", file=sys.stderr)
            return NO_AGENT
        print(f"task {req.task_id}: {req.text}", file=out)
        p.sent_at = time.time() - 0.05
        sent = client.send_goal_async(goal, feedback_callback=p.on_feedback)
        if not s.spin_until(sent.done, 30.0) or sent.result() is None:
            print(f"error: {s.topic('run_task')} did not answer the goal within 30 s", file=sys.stderr)
            return FAILED
        handle = sent.result()
        if not handle.accepted:
            s.spin_until(lambda: p.refusal is not None, 2.0)  # the reason rides on ~/status
            print(f"rejected: {p.refusal or 'the agent rejected the goal'}", file=out)
            return FAILED
        result = handle.get_result_async()
        try:
            finished = s.spin_until(result.done, timeout)
        except KeyboardInterrupt:
            print(f"interrupted: {_cancel(s, handle, result)}", file=out)
            return FAILED
        if not finished:
            print(f"timed out after {timeout:g} s; {_cancel(s, handle, result)}", file=out)
            return FAILED
        res = result.result().result
        verdict = res.state + (f" ({res.reason})" if res.reason else "")
        print(f"task {req.task_id}: {verdict}", file=out)
        return OK if res.success else FAILED
    finally:
        s.close()


def _cancel(s: _Session, handle: Any, result: Any) -> str:
    """Cancel the goal and wait (briefly) for it to end; what happened, in words."""
    cancel = handle.cancel_goal_async()
    if not s.spin_until(cancel.done, 5.0) or cancel.result() is None:
        ok, msg = s.call_trigger("stop")  # the action server did not answer: stop the arm anyway
        return f"the cancel was not answered; ~/stop: {msg}"
    if not cancel.result().goals_canceling:
        return "the goal had already ended"
    s.spin_until(result.done, 10.0)
    res = result.result().result if result.done() and result.result() is not None else None
    return "goal canceled, arm halted" + (f" (task {res.state})" if res is not None else "")


def _cmd_say(args: argparse.Namespace) -> int:
    return say(
        " ".join(args.text),
        source=args.source,
        agent=args.agent,
        namespace=args.namespace,
        timeout=args.timeout,
        wait=not args.no_wait,
    )


def _cmd_task(args: argparse.Namespace) -> int:
    return run_task(
        " ".join(args.text),
        agent=args.agent,
        namespace=args.namespace,
        timeout=args.timeout,
        ready_timeout=args.ready_timeout,
        task_id=args.id,
    )


def add_agent_options(p: argparse.ArgumentParser) -> None:
    """``--namespace`` and ``--agent``: which agent node to talk to."""
    p.add_argument(
        "--namespace", default="", help="the agent's namespace, as given to `robot-agent up` (default: none)"
    )
    p.add_argument(
        "--agent", default="robot_agent", help="agent node name, or a full name starting with / (default: robot_agent)"
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``say`` and ``task`` to the ``robot-agent`` command."""
    p = sub.add_parser(
        "say",
        help="send a correction to the running agent (ROS 2)",
        description="Publish a correction (robot_agent_interfaces/Correction) on the agent node's "
        "~/correction and print what it was understood as. The agent must be running "
        "(robot-agent up).",
    )
    p.add_argument("text", nargs="+", help='the correction, e.g. "a bit to the left" or "stop"')
    p.add_argument(
        "--source", default="typed", choices=messages.CORRECTION_SOURCES, help="where it came from (default: typed)"
    )
    add_agent_options(p)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the transcript")
    p.add_argument("--no-wait", action="store_true", help="publish and return without waiting for the transcript")
    p.set_defaults(func=_cmd_say)
    t = sub.add_parser(
        "task",
        help="run a task on the running agent and follow it (ROS 2 action)",
        description="Send a goal to the agent node's ~/run_task action (RunTask), print its feedback, "
        "plans, corrections and knowledge until the result. Ctrl-C cancels the goal and "
        "the arm halts.",
    )
    t.add_argument("text", nargs="+", help='the task, e.g. "put the red block in the bowl"')
    add_agent_options(t)
    t.add_argument("--id", help="task id to use (default: a random one)")
    t.add_argument("--timeout", type=float, default=600.0, help="seconds before giving up (and cancelling)")
    t.add_argument(
        "--ready-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the agent to report ready (models may be loading)",
    )
    t.set_defaults(func=_cmd_task)
