"""The typed messages' builders and readers (robot_agent_interfaces, no ROS graph needed)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("robot_agent_interfaces", reason="robot_agent_interfaces is not built (make interfaces)")

from geometry_msgs.msg import Pose as PoseMsg  # noqa: E402
from geometry_msgs.msg import Quaternion

from robot_agent.errors import MessageError  # noqa: E402
from robot_agent.ros import messages  # noqa: E402
from robot_agent_interfaces.action import RunTask  # noqa: E402
from robot_agent_interfaces.msg import Correction, Scene, SceneObject  # noqa: E402
from skills.types import ObjectInfo, Pose  # noqa: E402


def test_goals_are_cleaned_and_given_an_id() -> None:
    req = messages.parse_goal(RunTask.Goal(task="  put the red block\tin the bowl \n"))
    assert req.text == "put the red block in the bowl" and len(req.task_id) == 12
    req = messages.parse_goal(RunTask.Goal(task="open the drawer", id="t-1"))
    assert (req.text, req.task_id) == ("open the drawer", "t-1")


@pytest.mark.parametrize(
    "task, task_id, needle",
    [
        ("", "", "goal.task: empty"),
        ("   \x00  ", "", "goal.task: empty"),
        ("x" * (messages.MAX_TASK_CHARS + 1), "", "the limit is"),
        ("go", "no spaces allowed", "goal.id"),
        ("go", "x" * 65, "goal.id"),
    ],
)
def test_malformed_goals_are_refused_with_a_reason(task: str, task_id: str, needle: str) -> None:
    with pytest.raises(MessageError) as info:
        messages.parse_goal(RunTask.Goal(task=task, id=task_id))
    assert needle in str(info.value)


def test_corrections() -> None:
    msg = messages.correction_msg("a bit  to the left")
    assert (msg.text, msg.source, msg.confidence) == ("a bit to the left", "typed", 1.0) and msg.stamp.sec > 0
    req = messages.parse_correction(Correction(text="stop", source="spoken", confidence=0.8))
    assert (req.text, req.source) == ("stop", "spoken") and req.confidence == pytest.approx(0.8)
    assert messages.parse_correction(Correction(text="left")).source == "typed"  # empty source = typed
    for kwargs, needle in [
        ({"text": ""}, "empty"),
        ({"text": "left", "source": "Mic 1"}, "source"),
        ({"text": "left", "confidence": 2.0}, "confidence"),
        ({"text": "left", "confidence": math.nan}, "confidence"),
        ({"text": "x" * 501}, "the limit is 500"),
    ]:
        with pytest.raises(MessageError) as info:
            messages.parse_correction(Correction(**kwargs))
        assert needle in str(info.value), kwargs
    with pytest.raises(MessageError, match="source"):
        messages.correction_msg("left", "telepathy")


def test_plan_steps_keep_arguments_and_typed_parameters() -> None:
    call = {
        "skill": "pick",
        "args": {"object": "mug"},
        "params": {"speed": np.float64(0.5), "grasp_offset": [0.0, 0.02, 0.0], "grasp_region": "handle"},
    }
    step = messages.plan_step(call)
    assert step.skill == "pick" and [(a.name, a.text) for a in step.args] == [("object", "mug")]
    assert messages.step_dict(step) == {
        "skill": "pick",
        "args": {"object": "mug"},
        "params": {"speed": 0.5, "grasp_offset": [0.0, 0.02, 0.0], "grasp_region": "handle"},
    }
    assert messages.format_step(step) == "pick(mug)"
    plan = messages.plan_msg(
        "t1",
        [call, {"skill": "go_home"}],
        replanned=True,
        why="correction",
        constraints=["open the drawer before placing"],
    )
    assert [s.skill for s in plan.steps] == ["pick", "go_home"] and plan.replanned and plan.task_id == "t1"


def test_status_roundtrip() -> None:
    st = messages.status_msg(
        "executing",
        task_id="t1",
        task="x",
        step=0,
        skill={"skill": "pick", "args": {"object": "a"}, "params": {"speed": 0.5}},
        result={"status": "failed", "reason": "missed"},
        corrections={"received": 3, "dropped": 1},
    )
    back = messages.status_dict(st)
    assert back["skill"] == {"skill": "pick", "args": {"object": "a"}, "params": {"speed": 0.5}}
    assert back["step"] == 0 and back["success"] is None and back["result"] == {"status": "failed", "reason": "missed"}
    assert back["corrections"] == {"received": 3, "dropped": 1} and back["error"] is None
    done = messages.status_dict(messages.status_msg("done", success=True))
    assert done["success"] is True and done["step"] is None and done["skill"] is None
    with pytest.raises(MessageError):
        messages.status_msg("dancing")


def test_transcript_events_carry_questions_with_their_choices() -> None:
    ev = messages.transcript_msg(
        {
            "type": "question",
            "question": "Which one: 1. the mug 2. the bowl?",
            "choices": [{"label": "the mug", "canonical": "pick mug"}, "the bowl"],
            "decision": "ask",
            "confidence": 0.4,
            "step": 1,
        },
        "t1",
        type_="question",
    )
    assert ev.type == "question" and list(ev.choices) == ["the mug", "the bowl"] and ev.step == 1
    assert ev.decision == "ask" and ev.confidence == pytest.approx(0.4)
    understood = messages.transcript_msg(
        {
            "text": "left",
            "source": "spoken",
            "kind": "skill",
            "outcome": "applied",
            "confidence": math.nan,
            "step": None,
        },
        None,
    )
    assert understood.confidence == 0.0 and understood.step == -1 and understood.task_id == ""


def _scene_objects() -> list[ObjectInfo]:
    return [
        ObjectInfo(
            "red_block",
            "block",
            Pose((0.4, 0.1, 0.0), 0.3),
            (0.04, 0.04, 0.04),
            "red",
            "cube",
            {},
            {"top": [0, 0, 0.04]},
        ),
        ObjectInfo(
            "cabinet",
            "cabinet",
            Pose((0.7, -0.1, 0.0), -2.5),
            (0.3, 0.4, 0.3),
            state={"opening": 0.1, "drawer": "open"},
        ),
    ]


def test_scene_roundtrip() -> None:
    msg = messages.scene_msg(_scene_objects(), "panda_link0")
    assert msg.header.frame_id == "panda_link0" and msg.objects[0].colour == "red"
    back = messages.parse_scene(msg)
    assert back["red_block"].pose.position == (0.4, 0.1, 0.0)
    assert back["red_block"].pose.yaw == pytest.approx(0.3) and back["cabinet"].pose.yaw == pytest.approx(-2.5)
    assert back["red_block"].parts == {"top": [0.0, 0.0, 0.04]} and back["red_block"].shape == "cube"
    assert back["cabinet"].state == {"opening": 0.1, "drawer": "open"}


def test_bad_scenes_are_refused_naming_the_object() -> None:
    def with_first(**changes) -> Scene:
        msg = messages.scene_msg(_scene_objects(), "base")
        for key, value in changes.items():
            setattr(msg.objects[0], key, value)
        return msg

    tilted = Quaternion(x=0.3826834, y=0.0, z=0.0, w=0.9238795)
    nan_pose = messages.scene_msg(_scene_objects(), "base")
    nan_pose.objects[0].pose.position.x = math.nan
    for msg, needle in [
        (with_first(name=""), "name"),
        (with_first(category=""), "category"),
        (nan_pose, "red_block) .pose.position".replace(" ", "")),
        (
            Scene(objects=[SceneObject(name="a", category="b", pose=PoseMsg(orientation=Quaternion(w=0.0)))]),
            "orientation",
        ),
        (with_first(name="cabinet"), "duplicate"),
    ]:
        with pytest.raises(MessageError) as info:
            messages.parse_scene(msg)
        assert needle in str(info.value), (needle, str(info.value))
    msg = messages.scene_msg(_scene_objects(), "base")
    msg.objects[0].pose.orientation = tilted
    with pytest.raises(MessageError, match="about z alone"):
        messages.parse_scene(msg)
