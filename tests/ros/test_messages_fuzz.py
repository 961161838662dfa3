"""Property-based fuzzing of the typed-message readers and builders: any field values give a validated
value or a MessageError naming the message, never another exception.

The wire format now enforces types, so what is fuzzed is what a type cannot rule out: any text
(control characters, huge lengths, empty), any float (NaN, infinities, negatives), any number of
objects and parts, arbitrary quaternions, and arbitrary agent event dicts turned into events.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("robot_agent_interfaces", reason="robot_agent_interfaces is not built (make interfaces)")

from geometry_msgs.msg import Point, Pose, Quaternion, Vector3  # noqa: E402

from robot_agent.errors import MessageError  # noqa: E402
from robot_agent.ros import messages  # noqa: E402
from robot_agent_interfaces.action import RunTask  # noqa: E402
from robot_agent_interfaces.msg import Correction, NamedValue, ObjectPart, Scene, SceneObject  # noqa: E402

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TEXT = st.text(max_size=40) | st.sampled_from(["", " ", "\x00", "stop", "red_block", "x" * 2000])
F64 = st.floats(allow_nan=True, allow_infinity=True)
F32 = st.floats(allow_nan=True, allow_infinity=True, width=32)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | F64 | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _check(parse: Any, msg: Any, what: str) -> Any:
    try:
        return parse(msg)
    except MessageError as exc:
        assert what in str(exc), str(exc)
        return None


@FUZZ
@given(TEXT, TEXT)
def test_any_goal_gives_a_task_or_a_clear_error(task: str, task_id: str) -> None:
    req = _check(messages.parse_goal, RunTask.Goal(task=task, id=task_id), "goal")
    if req is not None:
        assert req.text and req.text == req.text.strip() and len(req.text) <= messages.MAX_TASK_CHARS
        assert 1 <= len(req.task_id) <= 64


@FUZZ
@given(TEXT, st.text(max_size=32), F32)
def test_any_correction_gives_a_request_or_a_clear_error(text: str, source: str, confidence: float) -> None:
    req = _check(messages.parse_correction, Correction(text=text, source=source, confidence=confidence), "correction")
    if req is not None:
        assert req.source in messages.CORRECTION_SOURCES and 0.0 <= req.confidence <= 1.0
        assert req.text and len(req.text) <= messages.MAX_CORRECTION_CHARS


def _point(v: list[float]) -> Point:
    return Point(x=v[0], y=v[1], z=v[2])


OBJECT = st.builds(
    lambda name, cat, pos, quat, size, parts, state: SceneObject(
        name=name,
        category=cat,
        pose=Pose(position=_point(pos), orientation=Quaternion(x=quat[0], y=quat[1], z=quat[2], w=quat[3])),
        size=Vector3(x=size[0], y=size[1], z=size[2]),
        parts=[ObjectPart(name=n, position=_point(p)) for n, p in parts],
        state=[NamedValue(name=n, values=v, text=t) for n, v, t in state],
    ),
    TEXT,
    TEXT,
    st.lists(F64, min_size=3, max_size=3),
    st.sampled_from([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.7071068, 0.7071068]]) | st.lists(F64, min_size=4, max_size=4),
    st.lists(F64, min_size=3, max_size=3),
    st.lists(st.tuples(TEXT, st.lists(F64, min_size=3, max_size=3)), max_size=3),
    st.lists(st.tuples(TEXT, st.lists(F64, max_size=3), TEXT), max_size=3),
)


@FUZZ
@given(st.lists(OBJECT, max_size=4))
def test_any_scene_gives_objects_or_a_clear_error(objects: list) -> None:
    scene = _check(messages.parse_scene, Scene(objects=objects), "scene")
    if scene is not None:
        assert len(scene) == len(objects)
        for obj in scene.values():
            assert all(abs(v) < float("inf") for v in obj.pose.position) and min(obj.size) >= 0.0


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "text",
                "source",
                "kind",
                "summary",
                "outcome",
                "question",
                "choices",
                "refusal",
                "decision",
                "confidence",
                "step",
                "dropped_total",
                "event",
                "id",
                "rule",
                "score",
                "error",
                "path",
            ]
        ),
        JSONISH,
        max_size=10,
    )
)
def test_any_agent_event_becomes_a_message(event: dict) -> None:
    """Agent events are the node's own, but a bug must not cost a crash in the publishing callback."""
    try:
        messages.transcript_msg(event, "t1", type_="question")
        messages.knowledge_msg(event, None)
    except (ValueError, TypeError, OverflowError) as exc:  # a value our builders do not coerce
        pytest.fail(f"{type(exc).__name__}: {exc} for {event!r}")
