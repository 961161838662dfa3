"""Two robots on one ROS domain, each agent with its own sim, in namespaces ``robot1`` and ``robot2``.

Each sim runs in its own process in its namespace (as ``robot-agent up sim --namespace robotN``
puts it); each agent node runs in the test process in the same namespace with the scripted
planner. Both tasks run at the same time. No crosstalk means: each arm command topic has exactly
its own agent as publisher and its own sim as subscriber, every command an agent sent arrived on its
own topic only, each agent's status and feedback carry only its own task, and at the end each sim
holds only its own agent's work (robot1 put the red block in the bowl, robot2 the blue block on the
plate; the other block did not move in either world).
"""

from __future__ import annotations

import pytest

from .conftest import SimProcess, goal_result, wait_for
from .test_agent_node import start_agent

rclpy = pytest.importorskip("rclpy")

from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from trajectory_msgs.msg import JointTrajectory  # noqa: E402

TASKS = {
    "/robot1": ("put the red block in the bowl", "t-r1", "red_block", "bowl", "blue_block"),
    "/robot2": ("put the blue block on the plate", "t-r2", "blue_block", "plate", "red_block"),
}


def test_two_namespaced_robots_run_tasks_at_the_same_time_without_crosstalk(spinner, sim_params_file, tmp_path) -> None:
    from action_msgs.msg import GoalStatus

    sims = {ns: SimProcess(sim_params_file, tmp_path / f"sim{ns.strip('/')}.log", namespace=ns) for ns in TASKS}
    try:
        agents = {ns: start_agent(spinner, sims[ns]) for ns in TASKS}
        probe = spinner.add(Node("test_crosstalk_probe"))
        commands: dict[str, list] = {ns: [] for ns in TASKS}
        topics = {ns: f"{ns}/joint_trajectory_controller/joint_trajectory" for ns in TASKS}
        deep = QoSProfile(depth=2000, reliability=ReliabilityPolicy.RELIABLE)  # the probe keeps every command
        for ns in TASKS:
            probe.create_subscription(JointTrajectory, topics[ns], commands[ns].append, deep)
        wait_for(
            lambda: all(probe.count_publishers(t) == 1 and probe.count_subscribers(t) >= 2 for t in topics.values()),
            10.0,
            "each arm topic to have its agent and its sim",
        )
        before = {ns: agents[ns][0].robot.perceive() for ns in TASKS}
        sent0 = {ns: agents[ns][0].robot.commands_sent for ns in TASKS}
        feedback: dict[str, list] = {ns: [] for ns in TASKS}
        handles = {ns: agents[ns][2].send(TASKS[ns][0], TASKS[ns][1], feedback[ns]) for ns in TASKS}
        assert all(h.accepted for h in handles.values())
        wait_for(
            lambda: all(a[2].latest().get("state") == "executing" for a in agents.values()),
            20.0,
            "both arms to be moving at once",
        )
        results = {ns: goal_result(handles[ns], 90.0) for ns in TASKS}
        for ns, (status, result) in results.items():
            assert status == GoalStatus.STATUS_SUCCEEDED and result.success, (ns, result)
            assert result.task_id == TASKS[ns][1]
        for ns, (agent, _, listener) in agents.items():
            own = TASKS[ns][1]
            sent = agent.robot.commands_sent - sent0[ns]
            assert sent > 100, (ns, sent)
            # every command this agent sent arrives on its own topic (the probe also saw the pre-task
            # holds); on a loaded machine the probe's callbacks run behind the agents, so wait for it
            seen = commands[ns]
            wait_for(lambda seen=seen, sent=sent: len(seen) >= sent, 15.0, f"the probe to see {ns}'s {sent} commands")
            assert {s["task_id"] for s in listener.status if s["task_id"]} == {own}, ns
            assert {f.feedback.plan[0].args[0].text for f in feedback[ns] if f.feedback.plan} == {TASKS[ns][2]}
            assert probe.count_publishers(topics[ns]) == 1  # still only its own agent
        for ns, (agent, _, _) in agents.items():
            _, _, moved, target, other = TASKS[ns]
            scene = agent.robot.perceive()
            local = scene[target].pose.to_local(scene[moved].pose.position)
            assert abs(local[0]) < 0.1 and abs(local[1]) < 0.1, (ns, moved, local)
            drift = [
                abs(a - b) for a, b in zip(scene[other].pose.position, before[ns][other].pose.position, strict=True)
            ]
            assert max(drift) < 0.01, (ns, other, drift)  # the other robot's work did not happen here
    finally:
        for sim in sims.values():
            sim.stop()
