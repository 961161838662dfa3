"""Property-based fuzzing of the ROS payload parsers (issue 8): any input gives a value or a MessageError.

Each parser is fed arbitrary text, arbitrary JSON, and near-valid payloads (valid ones with a field
swapped for an arbitrary JSON value). The only acceptable outcomes are a validated result or
:class:`MessageError` with a message that names the payload kind; anything else (KeyError,
TypeError, AttributeError, RecursionError...) is a crash the node would have to survive.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from robot_agent.errors import MessageError
from robot_agent.ros import messages

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALID_SCENE_ITEM = {"name": "red_block", "category": "block", "pose": {"position": [0.4, 0.0, 0.02], "yaw": 0.0},
                    "size": [0.04, 0.04, 0.04], "color": "red", "shape": "cube", "state": {}, "parts": {}}
VALID_STATUS = messages.status_payload("idle", stamp=1.0)


def _dump(value: Any) -> str:
    return json.dumps(value, allow_nan=True)  # NaN/Infinity tokens too: Python's json reads them back


def _check(parse: Callable[[str], Any], payload: str, what: str) -> Any:
    try:
        return parse(payload)
    except MessageError as exc:
        assert what in str(exc), (payload, str(exc))
        return None


PARSERS: list[tuple[Callable[[str], Any], str]] = [
    (messages.parse_task, "task"), (messages.parse_correction, "correction"), (messages.parse_scene, "scene"),
    (messages.parse_status, "status"), (lambda p: messages.parse_event(p, "transcript"), "transcript"),
    (lambda p: messages.parse_event(p, "plan"), "plan"), (lambda p: messages.parse_event(p, "knowledge"), "knowledge"),
]


@FUZZ
@given(st.text(max_size=300))
def test_any_text_gives_a_value_or_a_clear_error(text: str) -> None:
    for parse, what in PARSERS:
        _check(parse, text, what)


@FUZZ
@given(JSON)
def test_any_json_gives_a_value_or_a_clear_error(value: Any) -> None:
    payload = _dump(value)
    for parse, what in PARSERS:
        _check(parse, payload, what)


@FUZZ
@given(st.sampled_from(["task", "id"]), JSON)
def test_near_valid_tasks(field: str, value: Any) -> None:
    req = _check(messages.parse_task, _dump({"task": "put the red block in the bowl", "id": "t1", field: value}),
                 "task")
    if req is not None:  # accepted: then it is clean
        assert isinstance(req.text, str) and req.text and isinstance(req.task_id, str)


@FUZZ
@given(st.sampled_from(["text", "source", "confidence"]), JSON)
def test_near_valid_corrections(field: str, value: Any) -> None:
    req = _check(messages.parse_correction, _dump({"text": "a bit to the left", "source": "spoken", field: value}),
                 "correction")
    if req is not None:
        assert req.source in messages.CORRECTION_SOURCES
        assert req.confidence is None or 0.0 <= req.confidence <= 1.0


@FUZZ
@given(st.sampled_from(sorted(VALID_SCENE_ITEM)), JSON, st.sampled_from(["position", "yaw", None]))
def test_near_valid_scenes(field: str, value: Any, pose_field: str | None) -> None:
    item: dict[str, Any] = json.loads(json.dumps(VALID_SCENE_ITEM))
    if pose_field is not None and field == "pose":
        item["pose"][pose_field] = value
    else:
        item[field] = value
    scene = _check(messages.parse_scene, _dump([item]), "scene")
    if scene is not None:
        assert list(scene) == [item["name"]]


@FUZZ
@given(st.sampled_from(sorted(VALID_STATUS)), JSON)
def test_near_valid_status(field: str, value: Any) -> None:
    _check(messages.parse_status, _dump({**VALID_STATUS, field: value}), "status")


def test_deep_nesting_and_huge_payloads_are_refused_not_crashed() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for parse, what in PARSERS:
        _check(parse, deep, what)
    _check(messages.parse_correction, '{"text": "' + "a" * 20_000 + '"}', "correction")
