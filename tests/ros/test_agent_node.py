"""The agent node over real DDS: tasks, corrections, stop, parameters, faults; the sim in its own process.

The agent node runs in the test process (the real Agent, the real correction parser and the
RosRobot), spun by a multi-threaded executor; the operator side is the console's ``say`` and
``run_task`` functions (their own ROS context) or raw publishers. The high-level policy is
scripted: the LLM is a true boundary and is not what these tests are about.
"""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import numpy as np
import pytest

from robot_agent.config import AgentConfig
from robot_agent.policy.types import SkillCall

from .conftest import call_trigger, goal_result, send_goal, wait_for, wait_moving

rclpy = pytest.importorskip("rclpy")

from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402

from robot_agent.ros import console, messages, qos  # noqa: E402
from robot_agent.ros.agent_node import AgentNode  # noqa: E402
from robot_agent_interfaces.msg import AgentStatus, Correction, Plan, TranscriptEvent  # noqa: E402
from robot_agent_interfaces.srv import SearchKnowledge  # noqa: E402

PLANS = {
    "put the red block in the bowl": [
        SkillCall("pick", {"object": "red_block"}),
        SkillCall("place", {"object": "red_block", "target": "bowl"}),
    ],
    "put the blue block on the plate": [
        SkillCall("pick", {"object": "blue_block"}),
        SkillCall("place", {"object": "blue_block", "target": "plate"}),
    ],
    "put the purple unicorn in the bowl": [
        SkillCall("pick", {"object": "purple_unicorn"}),
        SkillCall("place", {"object": "purple_unicorn", "target": "bowl"}),
    ],
}


class ScriptedPlanner:
    """Stands in for the LLM: a fixed plan per task; a replan drops the steps already done."""

    def plan(self, task: str, objects: Any, constraints: Any = ()) -> list[SkillCall]:
        return [SkillCall(c.skill, dict(c.args), dict(c.params)) for c in PLANS[task]]

    def replan(
        self, task: str, objects: Any, done_steps: Any = (), constraints: Any = (), *, holding: Any = ...
    ) -> list[SkillCall]:
        # The agent's replan call, as to the real Planner (holding: what the gripper holds now).
        done = {SkillCall.coerce(d).key() for d in done_steps}
        return [c for c in self.plan(task, objects) if c.key() not in done]


def scripted_agent(robot: Any, config: AgentConfig, camera: Any) -> Any:
    from robot_agent.agent import Agent
    from robot_agent.language.grammar import CorrectionParser

    return Agent(robot, ScriptedPlanner(), None, CorrectionParser(), config, camera=camera)


class Listener:
    """Collects the agent node's outputs as plain dicts (status is latched: the newest arrives on subscribe)."""

    def __init__(self, node: Node, agent: str = "/robot_agent") -> None:
        self.agent = agent
        self.node = node
        self.status: list[dict] = []
        self.transcript: list[Any] = []
        self.plans: list[Any] = []
        node.create_subscription(
            AgentStatus, f"{agent}/status", lambda m: self.status.append(messages.status_dict(m)), qos.LATCHED_FOLLOW
        )
        node.create_subscription(TranscriptEvent, f"{agent}/transcript", self.transcript.append, qos.EVENTS)
        node.create_subscription(Plan, f"{agent}/plan", self.plans.append, qos.LATCHED_FOLLOW)
        self.correction_pub = node.create_publisher(Correction, f"{agent}/correction", qos.COMMANDS)

    def send(self, task: str, task_id: str, feedback: list | None = None) -> Any:
        return send_goal(self.node, f"{self.agent}/run_task", task, task_id, feedback)

    def correct(self, text: str, source: str = "typed") -> None:
        self.correction_pub.publish(messages.correction_msg(text, source))

    def latest(self) -> dict:
        return self.status[-1] if self.status else {}

    def errors(self) -> list[str]:
        return [s["error"] for s in self.status if s.get("error")]

    def final(self, task_id: str) -> dict | None:
        for s in self.status:
            if s.get("task_id") == task_id and s["state"] in messages.TERMINAL_STATES:
                return s
        return None


def start_agent(spinner, sim, **robot_params: Any) -> tuple[AgentNode, Node, Listener]:
    """An agent node (scripted planner) in the sim's namespace, and an operator node listening to it."""
    overrides = [Parameter("robot.connect_timeout", value=30.0)]
    overrides += [Parameter(k, value=v) for k, v in robot_params.items()]
    ns = sim.namespace or "/"
    agent = AgentNode(agent_factory=scripted_agent, parameter_overrides=overrides, namespace=ns)
    spinner.add(agent)
    agent.start()
    client = spinner.add(Node("test_operator"))
    listener = Listener(client, agent.get_fully_qualified_name())
    wait_for(lambda: listener.latest().get("ready"), 40.0, "the agent to report ready")
    wait_for(lambda: listener.correction_pub.get_subscription_count(), 5.0, "the agent's subscriptions")
    return agent, client, listener


@pytest.fixture
def agent_on_shared_sim(spinner, sim_process):
    agent, client, listener = start_agent(spinner, sim_process)
    res = call_trigger(client, "/sim/reset")
    assert res.success, res.message
    time.sleep(0.3)  # a scene from the fresh world
    return agent, client, listener


def test_malformed_inputs_give_an_error_status_not_a_crash(agent_on_shared_sim) -> None:
    agent, client, listener = agent_on_shared_sim
    for task, task_id, expect in [
        ("   ", "t-blank", "goal.task: empty"),
        ("x" * 1001, "t-long", "the limit is 1000"),
        ("open the drawer", "no spaces allowed", "goal.id"),
    ]:
        handle = listener.send(task, task_id)
        assert not handle.accepted
        wait_for(
            lambda expect=expect: any(expect in e for e in listener.errors()), 5.0, f"an error status for {task[:20]!r}"
        )
    listener.correction_pub.publish(Correction(text="left", source="Mic 1"))
    wait_for(
        lambda: any("malformed correction refused" in e and "source" in e for e in listener.errors()),
        5.0,
        "correction error",
    )
    listener.correct("a bit to the left")
    wait_for(
        lambda: any(t.outcome.startswith("dropped") and t.type == "dropped" for t in listener.transcript),
        5.0,
        "a dropped correction",
    )
    assert listener.latest()["state"] == "idle" and listener.latest()["ready"]
    assert agent._worker is not None


def test_goal_gives_feedback_and_a_result_and_a_correction_is_applied(agent_on_shared_sim) -> None:
    """``robot-agent task`` (an action client) + ``robot-agent say`` (a Correction) complete a corrected task."""
    agent, client, listener = agent_on_shared_sim
    out = io.StringIO()
    codes: list[int] = []
    runner = threading.Thread(
        target=lambda: codes.append(
            console.run_task("put the red block in the bowl", task_id="t-corrected", timeout=90.0, out=out)
        )
    )
    runner.start()
    wait_moving(listener, agent, "t-corrected", commands=30)
    said = io.StringIO()
    code = console.say("a bit to the left", source="spoken", timeout=15.0, out=said)
    assert code == console.OK, said.getvalue()
    assert "understood as" in said.getvalue()
    runner.join(timeout=120.0)
    assert codes == [console.OK], out.getvalue()
    text = out.getvalue()
    assert "plan: pick(red_block) -> place(red_block, bowl)" in text
    assert "step 1: pick(red_block)" in text and "step 2: place(red_block, bowl)" in text, text
    assert 'operator (spoken): "a bit to the left"' in text
    assert "task t-corrected: done" in text
    heard = [t for t in listener.transcript if t.text == "a bit to the left"]
    assert heard and heard[0].task_id == "t-corrected" and heard[0].kind == "skill" and heard[0].type == "understood"
    final = wait_for(lambda: listener.final("t-corrected"), 5.0, "the final status on the test's own subscription")
    assert final["state"] == "done" and final["success"] is True
    scene = agent.robot.perceive()
    local = scene["bowl"].pose.to_local(scene["red_block"].pose.position)
    assert abs(local[0]) < 0.08 and abs(local[1]) < 0.08, local


def test_words_heard_unsure_hold_the_arm_and_are_said_back_before_they_act(agent_on_shared_sim) -> None:
    """A ``Correction`` marked ``unsure`` (``listen --verify`` when its two decodes disagree) holds the
    arm and asks "Did you say ...?"; the operator's "yes" applies it and the task goes on."""
    agent, _, listener = agent_on_shared_sim
    handle = listener.send("put the red block in the bowl", "t-unsure")
    wait_moving(listener, agent, "t-unsure", commands=30)
    listener.correction_pub.publish(messages.correction_msg("a bit to the left", "spoken", 0.3, unsure=True))
    asked = wait_for(
        lambda: next((t for t in listener.transcript if t.text == "a bit to the left"), None),
        15.0,
        "the question about the words heard",
    )
    assert asked.outcome == "asked" and asked.question.startswith("Did you say 'a bit to the left'?"), asked
    wait_for(lambda: listener.latest().get("state") == "waiting", 5.0, "the agent to wait on the answer")
    time.sleep(0.3)
    held_at = agent.robot.commands_sent
    time.sleep(1.0)
    assert agent.robot.commands_sent == held_at  # held: no motion while the question is open
    listener.correct("yes", "spoken")
    final = wait_for(lambda: listener.final("t-unsure"), 90.0, "the task to end")
    assert final["state"] == "done" and final["success"] is True, final
    _, result = goal_result(handle, 30.0)
    assert result.success, result
    yes = [t for t in listener.transcript if t.text == "yes"]
    assert yes and yes[0].kind == "skill" and yes[0].outcome == "applied", yes


def test_cancel_halts_the_arm_within_a_tick_and_a_second_goal_is_rejected(agent_on_shared_sim) -> None:
    from action_msgs.msg import GoalStatus

    agent, client, listener = agent_on_shared_sim
    feedback: list = []
    handle = listener.send("put the red block in the bowl", "t-cancel", feedback)
    assert handle.accepted
    wait_moving(listener, agent, commands=40)
    second = listener.send("put the red block in the bowl", "t-second")
    assert not second.accepted
    wait_for(
        lambda: any("task t-second refused: busy with task t-cancel" in e for e in listener.errors()),
        5.0,
        "the rejection's reason on ~/status",
    )
    states = [f.feedback.state for f in feedback]
    assert states[0] == "planning" and "executing" in states, states
    assert feedback[-1].feedback.plan and feedback[-1].feedback.plan[0].skill == "pick"
    cancel = handle.cancel_goal_async()
    wait_for(cancel.done, 10.0, "the cancel answer")
    assert cancel.result().goals_canceling
    served, at_hold = agent.last_cancel_at, agent.commands_at_stop
    hold = min(t for t in agent.robot.hold_times if t >= served)
    status, result = goal_result(handle, 15.0)
    assert status == GoalStatus.STATUS_CANCELED
    assert result.state == "stopped" and not result.success and result.task_id == "t-cancel", result
    tick = 1.0 / agent.robot_cfg.control_hz
    # "Within one control tick" in the arm's own clock: no motion command but the one of the tick in
    # progress left between the cancel being served and the hold (a wall-clock bound of one tick
    # measured the OS scheduler: 17.1 ms on a fresh-clone run with the 2 cores busy); the 100 ms
    # bound catches a hold that waited behind something.
    moved_while_serving = sum(1 for t in list(agent.robot.command_times) if served <= t <= hold) - 1
    print(
        f"\ncancel: served -> hold published {1e3 * (hold - served):.2f} ms, {moved_while_serving} motion "
        f"command(s) while serving, {agent.robot.commands_sent - at_hold} after it, control tick {1e3 * tick:.1f} ms"
    )
    assert moved_while_serving <= 1  # the hold left within the tick the cancel arrived in
    assert hold - served < 0.1
    assert agent.robot.commands_sent - at_hold <= 2  # at most the tick in progress and the skill's own hold
    sent, held = agent.robot.commands_sent, agent.robot.last_command()
    time.sleep(0.4)
    assert agent.robot.commands_sent == sent  # nothing streamed after the cancel
    assert np.max(np.abs(agent.robot.joint_positions() - held)) < 0.05  # the arm stays at the hold point
    res = call_trigger(client, "/robot_agent/reset")
    assert res.success, res.message


def test_stop_service_halts_the_arm_within_a_tick(agent_on_shared_sim) -> None:
    from action_msgs.msg import GoalStatus

    agent, client, listener = agent_on_shared_sim
    handle = listener.send("put the red block in the bowl", "t-stop")
    wait_moving(listener, agent, commands=40)
    res = call_trigger(client, "/robot_agent/stop")
    at_stop = agent.robot.commands_sent
    assert res.success and "halted" in res.message
    status, result = goal_result(handle, 10.0)
    assert status == GoalStatus.STATUS_ABORTED and result.state == "stopped", result
    # At most the tick in progress and the skill's own hold went out after the service answered.
    assert agent.robot.commands_sent - at_stop <= 2
    # The action result and the status topic travel separately: wait for the status too.
    assert wait_for(lambda: listener.final("t-stop"), 5.0, "the final status")["state"] == "stopped"
    sent = agent.robot.commands_sent
    held = agent.robot.last_command()
    time.sleep(0.4)
    assert agent.robot.commands_sent == sent  # nothing streamed after the stop
    q = agent.robot.joint_positions()
    assert np.max(np.abs(q - held)) < 0.05  # the arm stays at the hold point
    busy_res = call_trigger(client, "/robot_agent/reset")
    assert busy_res.success, busy_res.message
    wait_for(lambda: listener.latest()["state"] == "idle", 5.0, "the idle status after the reset")


def test_unknown_object_task_fails_with_a_clear_result(agent_on_shared_sim) -> None:
    from action_msgs.msg import GoalStatus

    agent, client, listener = agent_on_shared_sim
    sent = agent.robot.commands_sent
    handle = listener.send("put the purple unicorn in the bowl", "t-unknown")
    status, result = goal_result(handle, 20.0)
    assert status == GoalStatus.STATUS_ABORTED
    assert result.state == "failed" and not result.success and "purple_unicorn" in result.reason, result
    final = wait_for(lambda: listener.final("t-unknown"), 5.0, "the final status on the test's own subscription")
    assert final["state"] == "failed" and final["success"] is False
    assert agent.robot.commands_sent - sent <= 2  # at most hold commands: the arm never moved toward it
    search = client.create_client(SearchKnowledge, "/robot_agent/search_knowledge")
    assert search.wait_for_service(timeout_sec=5.0)
    future = search.call_async(SearchKnowledge.Request(query="red block"))
    wait_for(future.done, 5.0, "the search answer")
    assert not future.result().success and "no knowledge base" in future.result().message


def test_agent_parameters_have_ranges_read_only_flags_and_are_validated(agent_on_shared_sim) -> None:
    from rclpy.parameter_client import AsyncParameterClient

    agent, client, listener = agent_on_shared_sim
    params = AsyncParameterClient(client, "robot_agent")
    assert params.wait_for_services(timeout_sec=10.0)

    def set_one(name: str, value: Any) -> tuple[bool, str]:
        future = params.set_parameters([Parameter(name, value=value)])
        wait_for(future.done, 10.0, f"set {name}")
        r = future.result().results[0]
        return r.successful, r.reason

    future = params.describe_parameters(["safety.max_joint_speed", "memory.skill_threshold", "policy.max_steps"])
    wait_for(future.done, 10.0, "the descriptors")
    speed, threshold, steps = future.result().descriptors
    assert speed.read_only and speed.floating_point_range[0].to_value == 3.0
    assert not threshold.read_only and threshold.floating_point_range[0].from_value == -1.0
    assert steps.read_only and (steps.integer_range[0].from_value, steps.integer_range[0].to_value) == (1, 50)
    ok, reason = set_one("safety.max_joint_speed", 1.0)
    assert not ok and "read-only" in reason
    ok, reason = set_one("memory.skill_threshold", 7.5)  # outside the descriptor's range
    assert not ok and reason
    ok, reason = set_one("memory.skill_threshold", "very high")
    assert not ok and reason
    ok, reason = set_one("memory.text_weight", 0.0)
    ok2, reason2 = set_one("memory.image_weight", 0.0)  # the config's own rule: the weights cannot both be 0
    assert ok and not ok2 and "memory" in reason2, (reason, reason2)
    assert agent.config.memory.skill_threshold == pytest.approx(0.55)
    ok, reason = set_one("memory.skill_threshold", 0.7)
    assert ok, reason
    assert agent.config.memory.skill_threshold == pytest.approx(0.7)
    res = call_trigger(client, "/robot_agent/save_knowledge")  # this agent runs without memory
    assert not res.success and "no knowledge base" in res.message


def test_garbage_in_the_parameter_file_stops_the_node_with_a_reason(ros_context) -> None:
    from robot_agent.errors import ConfigError, SceneError
    from sim.ros.sim_node import SimNode

    with pytest.raises(ConfigError, match="max_joint_speed"):
        AgentNode(agent_factory=scripted_agent, parameter_overrides=[Parameter("safety.max_joint_speed", value=99.0)])
    with pytest.raises(ConfigError, match="robot.control_hz"):
        AgentNode(agent_factory=scripted_agent, parameter_overrides=[Parameter("robot.control_hz", value=0.5)])
    with pytest.raises(ConfigError, match="trajectory_lead"):
        AgentNode(agent_factory=scripted_agent, parameter_overrides=[Parameter("robot.trajectory_lead", value=0.0)])
    with pytest.raises(SceneError, match="no built-in scene 'atlantis'"):
        SimNode(parameter_overrides=[Parameter("scene", value="atlantis")])


def test_sim_killed_mid_task_gives_failed_result_and_a_held_arm(spinner, start_sim) -> None:
    sim = start_sim("/dies")
    agent, client, listener = start_agent(spinner, sim)
    handle = listener.send("put the red block in the bowl", "t-killed")
    wait_for(lambda: agent.robot.commands_sent > 40, 20.0, "the arm to be moving")
    sim.kill()
    status, result = goal_result(handle, 15.0)
    assert result.state == "failed" and "joint-state watchdog" in result.reason, result
    wait_for(
        lambda: any("joint-state watchdog" in e for e in listener.errors()) and not listener.latest()["ready"],
        5.0,
        "the watchdog error on the status",
    )
    sent = agent.robot.commands_sent
    time.sleep(0.5)
    assert agent.robot.commands_sent - sent <= 1  # halted: no stream, at most a hold from the watchdog timer
    after = listener.send("put the red block in the bowl", "t-after")
    assert not after.accepted
    wait_for(
        lambda: any("t-after refused" in e and "watchdog" in e for e in listener.errors()),
        5.0,
        "a rejection while the link is dead",
    )
    assert listener.latest()["state"] == "failed"


def test_agent_started_before_the_sim_waits_then_becomes_ready(spinner, start_sim) -> None:
    """A launch file starts both nodes at once: the agent must wait for the arm, saying so, not fail."""
    overrides = [Parameter("robot.connect_timeout", value=1.0)]
    agent = spinner.add(AgentNode(agent_factory=scripted_agent, parameter_overrides=overrides, namespace="/late0"))
    agent.start()
    listener = Listener(spinner.add(Node("test_late_operator")), "/late0/robot_agent")
    wait_for(
        lambda: any("no joint states on /late0/joint_states" in e and "still waiting" in e for e in listener.errors()),
        10.0,
        "a 'waiting for the robot' status",
    )
    assert not listener.latest()["ready"]
    assert start_sim("/late").namespace == "/late0"
    wait_for(lambda: listener.latest().get("ready"), 40.0, "the agent to become ready once the sim is up")
