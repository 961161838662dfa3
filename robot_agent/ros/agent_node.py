"""The agent node: a thin ROS 2 layer over :class:`robot_agent.agent.Agent` driving a :class:`RosRobot`.

Interfaces (``robot_agent_interfaces``; every field in ``docs/ros.md``):

* ``~/run_task`` (``RunTask`` action server): one task at a time. Feedback at every state change
  and plan; cancelling halts the arm within one control tick and ends the goal canceled; a goal
  sent while one runs, before the agent is ready or while the robot link is down is rejected,
  with the reason on ``~/status`` (``error``).
* ``~/correction`` (``Correction``, in), ``~/status`` (``AgentStatus``, latched), ``~/plan``
  (``Plan``, latched), ``~/transcript`` (``TranscriptEvent``: what each correction was understood
  as, questions with their choices, drops), ``~/knowledge`` (``KnowledgeEvent``).
* Services: ``~/stop``, ``~/reset``, ``~/save_knowledge`` (``std_srvs/Trigger``) and
  ``~/search_knowledge`` (``SearchKnowledge``).
* The robot's topics, relative to the node's namespace (see :mod:`robot_agent.ros.ros_robot`),
  and ``camera/image_raw``.

Parameters: every entry of ``config/agent.yaml`` (declared with those defaults, ranges and
``read_only`` for what is used only at start-up; validated by :meth:`AgentConfig.from_params`),
the ROS robot's ``robot.*`` (:class:`RosRobotConfig`) and the episode log's. A task runs in the
action's execute callback (a reentrant group on a multi-threaded executor), so stop, cancel,
corrections and parameter changes are served by the other threads while the arm moves.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from robot_agent.config import AGENT_NODE, AgentConfig
from robot_agent.deps import require
from robot_agent.errors import ConfigError, MessageError, RobotLinkError
from robot_agent.language.grammar import is_stop
from skills.robot import Robot

require("rclpy", "the agent node")

import rclpy  # noqa: E402
from rcl_interfaces.msg import SetParametersResult  # noqa: E402
from rclpy.action import ActionServer, CancelResponse, GoalResponse  # noqa: E402
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup  # noqa: E402
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor  # noqa: E402
from rclpy.logging import get_logger  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from sensor_msgs.msg import Image  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from robot_agent.ros import messages, qos  # noqa: E402
from robot_agent.ros.node_params import (  # noqa: E402
    DYNAMIC,
    NODE_PARAMETERS,
    _log_params,
    _plain,
    agent_parameter_defaults,
)
from robot_agent.ros.params import AGENT_RANGES, declare_all  # noqa: E402
from robot_agent.ros.ros_robot import CAMERA, RosRobot, RosRobotConfig  # noqa: E402
from robot_agent_interfaces.action import RunTask  # noqa: E402
from robot_agent_interfaces.msg import AgentStatus, Correction, KnowledgeEvent, Plan, TranscriptEvent  # noqa: E402
from robot_agent_interfaces.srv import SearchKnowledge  # noqa: E402

AgentFactory = Callable[[Robot, AgentConfig, Any], Any]


def _default_agent_factory(robot: Robot, config: AgentConfig, camera: Any) -> Any:
    from robot_agent.agent import build_agent

    return build_agent(robot, config, camera=camera)


class RosCamera:
    """The newest camera image from a ``sensor_msgs/Image`` topic (``camera/image_raw``).

    ``object_crops()`` returns no crops: a ROS camera image has no segmentation mask and
    no registered object boxes, so skill knowledge is retrieved by text only on this path
    (the image is kept for logging and future use).
    """

    def __init__(self, node: Node, topic: str = CAMERA) -> None:
        self._logger = node.get_logger()
        self._latest: tuple[float, np.ndarray] | None = None
        self._lock = threading.Lock()
        self.frames = 0
        #: called with each new RGB frame (the episode log while a task is recorded); None = nobody
        self.on_frame: Callable[[np.ndarray], Any] | None = None
        self.topic = node.create_subscription(Image, topic, self._on_image, qos.IMAGES).topic_name

    def _on_image(self, msg: Image) -> None:
        if msg.encoding not in ("rgb8", "bgr8") or msg.step < msg.width * 3:
            self._logger.warning(
                f"camera image with encoding {msg.encoding} ignored (rgb8/bgr8 expected)", throttle_duration_sec=10.0
            )
            return
        buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)
        if buf.size < msg.height * msg.step:
            return
        rows = buf[: msg.height * msg.step].reshape(msg.height, msg.step)[:, : msg.width * 3]
        rgb = rows.reshape(msg.height, msg.width, 3)
        if msg.encoding == "bgr8":
            rgb = rgb[:, :, ::-1]
        with self._lock:
            self._latest = (time.monotonic(), np.ascontiguousarray(rgb))
            self.frames += 1
            frame, sink = self._latest[1], self.on_frame
        if sink is not None:
            try:
                sink(frame)
            except Exception as exc:  # noqa: BLE001 - a log write must never cost the camera stream
                self._logger.warning(f"recording a camera frame failed: {exc}", throttle_duration_sec=10.0)

    def latest_image(self) -> np.ndarray | None:
        """The newest RGB frame (H, W, 3) uint8, or None before the first."""
        with self._lock:
            return None if self._latest is None else self._latest[1]

    def object_crops(self) -> dict[str, np.ndarray]:
        return {}


class AgentNode(Node):
    """The agent behind a ROS action, topics and services (see the module docstring).

    Args:
        agent_factory: ``(robot, config, camera) -> Agent``; default
            :func:`robot_agent.agent.build_agent` (policy, knowledge base and parser from config).
        **kwargs: passed to :class:`rclpy.node.Node` (``cli_args`` for parameter files and
            remappings, ``namespace``).

    Raises:
        ConfigError: a parameter from the parameter file is invalid.
    """

    def __init__(self, *, agent_factory: AgentFactory | None = None, **kwargs: Any) -> None:
        super().__init__(AGENT_NODE, **kwargs)
        try:
            self._setup(agent_factory)
        except BaseException:
            self.destroy_node()  # a half-built node must not linger in the graph
            raise

    def _setup(self, agent_factory: AgentFactory | None) -> None:
        # Stop latency is bounded by how soon the service thread gets the GIL back from threads busy in
        # Python (a correction flood, the agent parsing). The default 5 ms switch interval measured up to
        # 20 ms from a stop request to the hold command during a flood; 1 ms keeps it within one tick.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._defaults = agent_parameter_defaults()
        docs = {name: doc for name, (_, doc) in NODE_PARAMETERS.items()}
        declare_all(self, self._defaults, docs, DYNAMIC, AGENT_RANGES)
        flat = self.parameters_dict()
        self.config = AgentConfig.from_params(flat)
        self.robot_cfg = RosRobotConfig.from_params(flat)
        self.log_dir, self.log_image_hz, self.log_joint_state_hz = _log_params(flat)
        #: corrections received on ~/correction and dropped (with a reason on ~/transcript), since start
        self.counts = {"received": 0, "dropped": 0}
        #: monotonic time the last ~/stop request (or goal cancel) was served (latency figures)
        self.last_stop_at = -math.inf
        self._cancels_accepted: set[bytes] = set()  # goal ids whose cancel was accepted, not yet ended
        self.last_cancel_at = -math.inf
        #: arm commands sent when the ~/stop service (or a cancel) had halted the arm
        self.commands_at_stop = 0
        self._last_drop_error = -math.inf
        #: the episode log directory of the task running now, or of the last one
        self.last_log: Path | None = None
        self.robot = RosRobot(self, self.robot_cfg, self.config.safety)
        self.camera = RosCamera(self)
        self._factory = agent_factory or _default_agent_factory
        self.agent: Any = None
        self._lock = threading.Lock()
        self._status = messages.status_dict(messages.status_msg("idle", ready=False, reason="starting"))
        self._current: messages.TaskRequest | None = None
        self._accepted: messages.TaskRequest | None = None  # between the goal's acceptance and its execution
        self._goal: Any = None  # the ServerGoalHandle being executed
        self._plan: list[Any] = []  # PlanStep messages of the current plan (feedback)
        self._replanned = False
        self._task_corrections = 0
        self._busy = False
        self._ready = False
        self._link_error = ""
        self._submit_lock = threading.Lock()  # a correction is submitted to a running task, or not at all
        self._gate = threading.Lock()  # held while a task runs: the knowledge base's writer is the task then
        self._feedback_lock = threading.Lock()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="agent-setup", daemon=True)

        group = ReentrantCallbackGroup()
        self._status_pub = self.create_publisher(AgentStatus, "~/status", qos.LATCHED)
        self._plan_pub = self.create_publisher(Plan, "~/plan", qos.LATCHED)
        self._transcript_pub = self.create_publisher(TranscriptEvent, "~/transcript", qos.EVENTS)
        self._knowledge_pub = self.create_publisher(KnowledgeEvent, "~/knowledge", qos.EVENTS)
        self._action = ActionServer(
            self,
            RunTask,
            "~/run_task",
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
            callback_group=group,
        )
        # Corrections get a group of their own: a flood keeps at most one executor thread busy, so
        # ~/stop, a cancel and the watchdog timer are always served by the others.
        self.create_subscription(
            Correction,
            "~/correction",
            self._on_correction,
            qos.CORRECTIONS_IN,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self.create_service(Trigger, "~/stop", self._on_stop, callback_group=group)
        self.create_service(Trigger, "~/reset", self._on_reset, callback_group=group)
        self.create_service(Trigger, "~/save_knowledge", self._on_save_knowledge, callback_group=group)
        self.create_service(SearchKnowledge, "~/search_knowledge", self._on_search_knowledge, callback_group=group)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.create_timer(0.25, self._watch_link, callback_group=group)

        self._publish_status(reason=f"waiting for joint states on {self.robot.joint_states_topic}")

    def parameters_dict(self) -> dict[str, Any]:
        """Current values of every declared parameter, as plain Python."""
        return {name: _plain(self.get_parameter(name).value) for name in self._defaults}

    # -- lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the set-up thread: connect to the robot, build the agent; goals are accepted after it."""
        self._worker.start()

    def shutdown(self) -> None:
        """Stop any task, hold the arm, wait for the task to end. Call before ``destroy_node``."""
        self._stopping.set()
        if self.agent is not None:
            self.agent.stop("agent node shutting down")
        self.robot.hold()
        if self._worker.is_alive():
            self._worker.join(timeout=15.0)
        ended = self._gate.acquire(timeout=15.0)  # the running task (if any) has returned
        try:
            kb = getattr(self.agent, "kb", None)
            if kb is not None and ended and not self._worker.is_alive():
                try:
                    kb.close()  # writes stale indexes and releases the writer lock
                except Exception as exc:  # noqa: BLE001 - shutting down anyway
                    self.get_logger().error(f"closing the knowledge base failed: {exc}")
        finally:
            if ended:
                self._gate.release()
        self.robot.disconnect()

    def destroy_node(self) -> None:
        """Destroy the action server too (after the executor stopped spinning this node)."""
        action = getattr(self, "_action", None)
        if action is not None:
            action.destroy()
            self._action = None
        super().destroy_node()

    def _work(self) -> None:
        waited = 0.0
        while not self._stopping.is_set():  # short tries, so that a shutdown is not kept waiting
            try:
                self.robot.connect(timeout=1.0)
                break
            except RobotLinkError as exc:
                waited += 1.0
                if waited >= self.robot_cfg.connect_timeout:  # say so once per connect_timeout
                    waited = 0.0
                    self._publish_status(ready=False, error=f"{exc} (still waiting)", reason="waiting for the robot")
        if self._stopping.is_set():
            return
        self._publish_status(ready=False, reason="loading the agent (policy, knowledge base, parser)")
        try:
            agent = self._factory(self.robot, self.config, self.camera)
        except Exception as exc:  # noqa: BLE001 - reported on ~/status; the node stays up for stop/params
            self.get_logger().error(f"the agent could not be built: {type(exc).__name__}: {exc}")
            self._publish_status(
                ready=False, reason="the agent could not be built", error=f"{type(exc).__name__}: {exc}"
            )
            return
        agent.on_event = self._on_agent_event
        with self._lock:
            self.agent = agent
            self._ready = True
        self._publish_status(state="idle", ready=True, reason="ready")

    # -- the RunTask action --------------------------------------------------------------------------
    def _on_goal(self, goal: RunTask.Goal) -> GoalResponse:
        try:
            req = messages.parse_goal(goal)
        except MessageError as exc:
            self._publish_status(error=f"task {str(goal.id)[:64] or '?'} refused: malformed goal: {exc}")
            return GoalResponse.REJECT
        with self._lock:
            refusal = ""
            if not self._ready:
                refusal = f"not ready ({self._status['reason']})"
            elif self._link_error:
                refusal = self._link_error
            elif self._busy:
                cur = self._current or self._accepted
                refusal = f"busy with task {cur.task_id if cur else '?'}; wait for it to end, cancel it or call ~/stop"
            else:
                self._busy = True
                self._accepted = req
        if refusal:
            self._publish_status(error=f"task {req.task_id} refused: {refusal}")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle: Any) -> CancelResponse:
        self.last_cancel_at = served = time.monotonic()
        with self._lock:
            self._cancels_accepted.add(bytes(goal_handle.goal_id.uuid))
        agent = self.agent
        if agent is not None:
            agent.stop("goal canceled")  # cancel first, so the skill streams no further target
        RosRobot.hold(self.robot)  # the class's hold: see _on_stop
        self.commands_at_stop = self.robot.commands_sent
        held = max((t for t in self.robot.hold_times if t >= served), default=float("nan"))
        # Motion commands that left between serving the cancel and the hold (the hold itself excluded):
        # "within one control tick" in the arm's own clock.
        moved = max(0, sum(1 for t in list(self.robot.command_times) if served <= t <= held) - 1)
        self.get_logger().info(
            f"goal of task {self._task_id() or '?'} canceled: arm held "
            f"{1e3 * (held - served):.2f} ms after the cancel request was served, "
            f"{moved} motion command(s) in between"
        )
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle: Any) -> RunTask.Result:
        with self._lock:
            req, self._accepted = self._accepted, None
        if req is None:  # not reached: a goal is executed only after _on_goal accepted it
            req = messages.parse_goal(goal_handle.request)
        result = self._run(req, goal_handle)
        out = RunTask.Result(task_id=req.task_id)
        if result is None:
            canceled = goal_handle.is_cancel_requested
            out.state = "stopped" if canceled else "failed"
            out.reason = "goal canceled" if canceled else "internal error (see the node's log)"
        else:
            out.success = bool(result.success)
            out.state = str(getattr(result.state, "value", result.state))
            out.reason = str(result.reason or "")
            out.corrections = int(result.n_corrections)
            out.plan = [messages.plan_step(c) for c in (result.plan or [])]
            out.knowledge_used = [messages.knowledge_msg(k, req.task_id) for k in result.knowledge_used]
            out.knowledge_distilled = [messages.knowledge_msg(k, req.task_id) for k in result.knowledge_distilled]
            out.duration_s = float(result.duration_s)
        # An accepted cancel stops the task at once: wait (bounded) until the server has moved the goal
        # to CANCELING (after _on_cancel returns), or ending it would abort it and void the cancel.
        with self._lock:
            accepted = bytes(goal_handle.goal_id.uuid) in self._cancels_accepted
        deadline = time.monotonic() + 2.0
        while accepted and not goal_handle.is_cancel_requested and time.monotonic() < deadline:
            time.sleep(0.002)
        with self._lock:
            self._cancels_accepted.discard(bytes(goal_handle.goal_id.uuid))
        if goal_handle.is_cancel_requested:
            out.success = False
            out.state = "stopped"
            out.reason = out.reason or "goal canceled"
            goal_handle.canceled()
        elif out.success:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        return out

    def _run(self, req: messages.TaskRequest, goal_handle: Any) -> Any:
        with self._gate:
            with self._lock:
                self._current, self._goal = req, goal_handle
                self._plan, self._replanned, self._task_corrections = [], False, 0
            try:
                return self._run_locked(req, goal_handle)
            finally:
                with self._lock:
                    self._current = None
                    if self._goal is goal_handle:
                        self._goal = None

    def _run_locked(self, req: messages.TaskRequest, goal_handle: Any) -> Any:
        self._publish_status(
            state="planning",
            task_id=req.task_id,
            task=req.text,
            step=None,
            skill=None,
            result=None,
            reason="",
            success=None,
        )
        recorder = self._start_recording(req)
        result: Any = None
        try:
            self._discard_pending("it arrived before this task started")
            if goal_handle.is_cancel_requested:  # canceled before it started: nothing moved
                self._publish_status(state="stopped", reason="goal canceled", success=False)
                return None
            result = self.agent.run_task(req.text, episode_id=req.task_id)
            state = getattr(result.state, "value", str(result.state))
            self._publish_status(state=state, reason=result.reason, success=bool(result.success))
        except Exception as exc:  # noqa: BLE001 - a bug in a task must not take the node (or the arm) down
            self.get_logger().error(f"task {req.task_id} failed with an exception: {type(exc).__name__}: {exc}")
            self.robot.hold()
            self._publish_status(state="failed", reason=f"internal error: {type(exc).__name__}: {exc}", success=False)
        finally:
            with self._submit_lock, self._lock:
                self._busy = False  # from here on, corrections are answered "no task is running"
            # What came in while the task was ending: accounted for (and in this episode's log).
            self._discard_pending("the task ended before it was understood")
            if recorder is not None:
                self._finish_recording(recorder, result)
        return result

    def _discard_pending(self, reason: str) -> None:
        discard = getattr(self.agent, "discard_pending", None)
        if callable(discard):
            discard(reason)

    # -- episode log ----------------------------------------------------------------------------------
    def _start_recording(self, req: messages.TaskRequest) -> Any:
        """An :class:`EpisodeRecorder` hooked into the agent for this task, or None (off, or it failed)."""
        if not self.log_dir:
            return None
        from robot_agent.logs.recording import EpisodeRecorder

        path = Path(self.log_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}_{req.task_id}"
        scene = {name: obj.to_dict() for name, obj in self.robot.perceive().items()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder = EpisodeRecorder(
                path,
                req.task_id,
                task=req.text,
                scene=scene,
                robot=self.robot,
                camera=None,
                image_hz=self.log_image_hz or None,
                joint_state_hz=self.log_joint_state_hz,
                meta={
                    "source": "ros",
                    "node": self.get_fully_qualified_name(),
                    "joint_states_topic": self.robot.joint_states_topic,
                },
            )
        except Exception as exc:  # noqa: BLE001 - no log is a loss to report, not a reason to refuse the task
            self._publish_status(
                error=f"episode log {path} could not be created ({type(exc).__name__}: {exc}); the task runs unrecorded"
            )
            return None
        self.last_log = path
        self.agent.episode_logger = recorder
        if self.log_image_hz > 0:
            # Frames are pushed as they arrive from the topic; the writer keeps at most log_image_hz.
            self.camera.on_frame = recorder.writer.image
        return recorder

    def _finish_recording(self, recorder: Any, result: Any) -> None:
        self.agent.episode_logger = None
        self.camera.on_frame = None
        try:
            if result is None:
                recorder.finish(False, corrections=0, reason="internal error")
            else:
                recorder.finish(
                    bool(result.success), corrections=int(result.n_corrections), reason=str(result.reason or "")
                )
        except Exception as exc:  # noqa: BLE001 - reported; `robot-agent logs recover` repairs the bag
            self._publish_status(error=f"episode log {self.last_log} could not be closed: {exc}")

    # -- outputs --------------------------------------------------------------------------------------
    def _publish_status(self, *, error: str | None = None, **changes: Any) -> AgentStatus:
        with self._lock:
            st = dict(self._status)
            st.update(changes)
            st["error"] = None
            self._status = st
            msg = messages.status_msg(
                st["state"],
                ready=st["ready"],
                task_id=st["task_id"],
                task=st["task"],
                step=st["step"],
                skill=st["skill"],
                result=st["result"],
                reason=st["reason"],
                success=st["success"],
                error=error,
                corrections=self.counts,
            )
            goal = self._goal if (self._current is not None and st["task_id"] == self._current.task_id) else None
        if error:
            self.get_logger().warning(error)
        self._status_pub.publish(msg)
        if goal is not None:
            self._publish_feedback(goal, msg)
        return msg

    def _publish_feedback(self, goal: Any, status: AgentStatus) -> None:
        with self._lock:
            plan, replanned, corrections = list(self._plan), self._replanned, self._task_corrections
        fb = RunTask.Feedback(
            state=status.state,
            step=status.step,
            skill=status.skill.skill,
            plan=plan,
            replanned=replanned,
            result_status=status.result_status,
            reason=status.reason,
            corrections=corrections,
        )
        with self._feedback_lock:
            try:
                goal.publish_feedback(fb)
            except Exception as exc:  # noqa: BLE001 - a goal that just ended; the result says the rest
                self.get_logger().debug(f"feedback not published: {exc}")

    def status(self) -> dict[str, Any]:
        """The latest status (what ``~/status`` last said, without the error)."""
        with self._lock:
            return dict(self._status)

    def _task_id(self) -> str | None:
        with self._lock:
            return self._current.task_id if self._current else None

    def _transcript(self, event: Mapping[str, Any], type_: str) -> None:
        self._transcript_pub.publish(messages.transcript_msg(event, self._task_id(), type_=type_))

    def _on_agent_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "status":
            changes: dict[str, Any] = {"state": str(event.get("state", "idle"))}
            for key in ("step", "skill", "reason", "success"):
                if key in event:
                    changes[key] = event[key]
            if changes["state"] == "planning":
                changes.update(step=None, skill=None, result=None)
            elif changes["state"] == "executing":
                changes["result"] = None  # a new step: the last result belongs to the one before
            self._publish_status(**changes)
        elif kind == "skill_result":
            self._publish_status(
                result={"skill": event.get("call"), "status": event.get("status"), "reason": event.get("reason", "")}
            )
        elif kind == "plan":
            msg = messages.plan_msg(
                self._task_id(),
                event.get("plan") or [],
                replanned=bool(event.get("replanned")),
                why=str(event.get("why") or ""),
                constraints=event.get("constraints") or (),
            )
            with self._lock:
                self._plan, self._replanned = list(msg.steps), msg.replanned
                goal = self._goal
                status = self._status
            self._plan_pub.publish(msg)
            if goal is not None:
                self._publish_feedback(
                    goal,
                    messages.status_msg(
                        status["state"],
                        step=status["step"],
                        skill=status["skill"],
                        result=status["result"],
                        reason=status["reason"],
                    ),
                )
        elif kind == "understood":
            with self._lock:
                self._task_corrections += 1
            self._transcript(event, "understood")
        elif kind == "question":
            self._transcript(event, "question")
        elif kind == "dropped":
            with self._lock:
                self.counts["dropped"] += 1
                total = self.counts["dropped"]
            self._transcript(
                {
                    "text": event.get("text", ""),
                    "source": event.get("source", ""),
                    "kind": "none",
                    "outcome": f"dropped: {event.get('reason', '')}",
                    "dropped_total": total,
                },
                "dropped",
            )
        elif kind == "knowledge":
            self._knowledge_pub.publish(messages.knowledge_msg(event, self._task_id()))

    # -- inputs ---------------------------------------------------------------------------------------
    def _on_correction(self, msg: Correction) -> None:
        with self._lock:
            self.counts["received"] += 1
        try:
            req = messages.parse_correction(msg)
        except MessageError as exc:
            with self._lock:
                self.counts["dropped"] += 1
            self._drop_error(f"malformed correction refused: {exc}")
            return
        with self._submit_lock:  # the task cannot end between the check and the submit (see _run_locked)
            with self._lock:
                running = self._busy and self.agent is not None
            if running:
                if is_stop(req.text):
                    self.agent.stop(f"operator: {req.text[:80]}")  # cancel, then hold: no further target
                    self.robot.hold()
                self.agent.submit_correction(req.text, req.source, unsure=req.unsure)
                return
        if is_stop(req.text):
            if self.agent is not None:
                self.agent.stop(f"operator: {req.text[:80]}")
            self.robot.hold()
            self._transcript(
                {"text": req.text, "source": req.source, "kind": "stop", "summary": "stop", "outcome": "stopped"},
                "stop",
            )
            return
        with self._lock:
            self.counts["dropped"] += 1
            total = self.counts["dropped"]
        self._transcript(
            {
                "text": req.text,
                "source": req.source,
                "kind": "none",
                "outcome": "dropped: no task is running",
                "dropped_total": total,
            },
            "dropped",
        )
        self._drop_error(f"correction {req.text!r} ignored: no task is running")

    def _drop_error(self, error: str) -> None:
        """A dropped correction on ~/status (and the log), at most once a second with the running count,
        so that a flood of bad or untimely corrections does not become a flood of status messages."""
        with self._lock:
            now = time.monotonic()
            if now - self._last_drop_error < 1.0:
                return
            self._last_drop_error = now
            total = self.counts["dropped"]
        self._publish_status(error=f"{error} ({total} correction(s) dropped since start)")

    def _on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.last_stop_at = time.monotonic()
        if self.agent is not None:
            self.agent.stop("stop service")  # cancel first, so the skill streams no further target
        # The class's hold, not the instance attribute: while a task is recorded, the recorder wraps the
        # latter to sample a joint state afterwards, and that waits for the log's lock (held during the
        # fsync of a flood's correction events). The skill's own hold, a tick later, is sampled.
        RosRobot.hold(self.robot)
        self.commands_at_stop = self.robot.commands_sent
        task = self._task_id()
        response.success = True
        response.message = f"arm halted; task {task} is stopping" if task else "arm halted; no task was running"
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            busy, ready = self._busy, self._ready
        if not ready or self.agent is None:
            response.success, response.message = False, "not ready: the agent is not built yet"
        elif busy:
            response.success, response.message = False, "a task is running: cancel it or call ~/stop first"
        else:
            self.agent.reset()
            self._publish_status(
                state="idle", task_id=None, task=None, step=None, skill=None, result=None, reason="reset", success=None
            )
            response.success, response.message = True, "agent reset: stop cleared, queued corrections dropped"
        return response

    def _on_save_knowledge(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        kb = getattr(self.agent, "kb", None)
        if kb is None:
            response.success = False
            response.message = "no knowledge base: memory is disabled or the agent is not built yet"
            return response
        if not self._gate.acquire(blocking=False):
            response.success = False
            response.message = "a task is running and owns the knowledge base; call again when it has ended"
            return response
        try:
            kb.save()
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            response.success, response.message = False, f"saving the knowledge base failed: {exc}"
            return response
        finally:
            self._gate.release()
        response.success = True
        response.message = f"knowledge base saved ({self.config.memory.kb_path})"
        self._knowledge_pub.publish(
            messages.knowledge_msg({"event": "saved", "path": str(self.config.memory.kb_path)}, None)
        )
        return response

    def _on_search_knowledge(
        self, request: SearchKnowledge.Request, response: SearchKnowledge.Response
    ) -> SearchKnowledge.Response:
        kb = getattr(self.agent, "kb", None)
        if kb is None:
            response.success = False
            response.message = "no knowledge base: memory is disabled or the agent is not built yet"
            return response
        try:
            query = messages.clean_text(request.query, "query", messages.MAX_CORRECTION_CHARS)
            k = int(request.k) or 10
            if not 1 <= k <= 100:
                raise MessageError(f"k: expected 1..100 (0 = 10), got {k}")
            if request.kind not in ("", "plan", "skill"):
                raise MessageError(f"kind: expected plan, skill or empty, got {request.kind[:20]!r}")
            hits = kb.search(query, k=k, kind=request.kind or None)  # the store is thread-safe (its own lock)
        except MessageError as exc:
            response.success, response.message = False, f"search refused: {exc}"
            return response
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            response.success, response.message = False, f"search failed: {type(exc).__name__}: {exc}"
            return response
        response.items = [messages.knowledge_item_msg(item, score) for item, score in hits]
        response.success, response.message = True, f"{len(hits)} item(s)"
        return response

    def _on_set_parameters(self, params: list[Parameter]) -> SetParametersResult:
        # Read-only parameters never get here (ROS refuses them); these are the DYNAMIC ones.
        candidate = self.parameters_dict()
        for prm in params:
            if prm.name not in DYNAMIC:
                return SetParametersResult(
                    successful=False,
                    reason=(
                        f"{prm.name} is fixed at start-up; restart the node with a new parameter file "
                        f"(changeable now: {', '.join(sorted(DYNAMIC))})"
                    ),
                )
            candidate[prm.name] = _plain(prm.value)
        try:
            new = AgentConfig.from_params(candidate)
        except ConfigError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        # Update the live config objects in place: whoever holds a section (the knowledge base
        # holds memory) sees the new value at its next use.
        for prm in params:
            section, field_name = prm.name.split(".", 1)
            live, fresh = getattr(self.config, section, None), getattr(new, section, None)
            if live is not None and fresh is not None and hasattr(live, field_name):
                setattr(live, field_name, getattr(fresh, field_name))
        return SetParametersResult(successful=True)

    def _watch_link(self) -> None:
        """Report a dead or recovered robot link on ``~/status`` even when no task is running."""
        with self._lock:
            ready = self._ready
        if not ready:
            return
        age = self.robot.state_age()
        limit = self.config.safety.joint_state_timeout
        if age > limit and not self._link_error:
            self._link_error = (
                f"joint-state watchdog: no joint state on {self.robot.joint_states_topic} for "
                f"{age:.1f} s (limit {limit:g} s); the arm is held and commands are refused"
            )
            self.robot.hold()
            self._publish_status(ready=False, error=self._link_error)
        elif age <= limit and self._link_error:
            self._link_error = ""
            self._publish_status(ready=True, reason="joint states are back")


def main(args: list[str] | None = None) -> int:
    """Entry point of the ``agent_node`` executable (``--ros-args --params-file config/agent.yaml ...``)."""
    from robot_agent.ros.up import forward_python_logging, init_rclpy, spin_until_interrupted

    init_rclpy(args)
    forward_python_logging()
    node: AgentNode | None = None
    executor = MultiThreadedExecutor(num_threads=4)
    try:
        node = AgentNode()
        executor.add_node(node)
        node.start()
        spin_until_interrupted(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ConfigError as exc:
        get_logger(AGENT_NODE).error(f"agent node cannot start: {exc}")
        return 2
    finally:
        if node is not None:
            node.shutdown()
        executor.shutdown(timeout_sec=2.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
