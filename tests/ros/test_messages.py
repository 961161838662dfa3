"""JSON payload rules of the ROS face (pure Python: no ROS needed)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from robot_agent.errors import MessageError
from robot_agent.ros import messages
from skills.types import ObjectInfo, Pose


def test_task_plain_text_and_json() -> None:
    req = messages.parse_task("  put the red block\tin the bowl \n")
    assert req.text == "put the red block in the bowl" and len(req.task_id) == 12
    req = messages.parse_task('{"task": "open the drawer", "id": "t-1"}')
    assert (req.text, req.task_id) == ("open the drawer", "t-1")
    assert json.loads(messages.encode_task("open the drawer", "abc"))["id"] == "abc"


@pytest.mark.parametrize("payload, needle", [
    ("", "empty"),
    ("   \x00  ", "empty"),
    ('{"task": ', "does not parse"),
    ('["open the drawer"]', "expected a JSON object"),
    ('{"text": "open the drawer"}', "unknown field(s) text"),
    ('{"task": 3}', "expected a string"),
    ('{"task": "go", "id": "no spaces allowed"}', "task.id"),
    ("x" * (messages.MAX_TASK_CHARS + 1), "the limit is"),
])
def test_malformed_tasks_are_refused_with_a_reason(payload: str, needle: str) -> None:
    with pytest.raises(MessageError, match=None) as info:
        messages.parse_task(payload)
    assert needle in str(info.value)


def test_corrections() -> None:
    assert messages.parse_correction("a bit to the left") == messages.CorrectionRequest("a bit to the left", "typed")
    req = messages.parse_correction('{"text": "stop", "source": "spoken", "confidence": 0.8}')
    assert (req.text, req.source) == ("stop", "spoken")
    for payload, needle in [('{"text": ""}', "empty"), ('{"text": "left", "source": "Mic 1"}', "source"),
                            ('{"text": "left", "confidence": 2}', "confidence"), ('{"txt": "left"}', "unknown"),
                            ("{not json", "does not parse")]:
        with pytest.raises(MessageError) as info:
            messages.parse_correction(payload)
        assert needle in str(info.value), payload


def test_status_roundtrip_and_schema_fields() -> None:
    st = messages.status_payload("executing", task_id="t1", task="x", step=0,
                                 skill={"skill": "pick", "args": {"object": "a"}, "params": {"speed": np.float64(0.5)}})
    back = messages.parse_status(messages.dumps(st))
    assert set(messages.STATUS_SCHEMA["required"]) <= set(back)
    assert back["skill"]["params"]["speed"] == 0.5 and back["schema"] == messages.STATUS_SCHEMA_ID
    with pytest.raises(MessageError):
        messages.status_payload("dancing")
    with pytest.raises(MessageError, match="schema"):
        messages.parse_status('{"state": "idle"}')


def test_dumps_is_strict_json() -> None:
    text = messages.dumps({"a": np.array([1.0, math.nan]), "b": np.int64(3), "c": math.inf})
    assert json.loads(text) == {"a": [1.0, None], "b": 3, "c": None}


def test_scene_roundtrip_and_validation() -> None:
    objs = [ObjectInfo("red_block", "block", Pose((0.4, 0.1, 0.0), 0.3), (0.04, 0.04, 0.04), "red", "cube",
                       {}, {"top": [0, 0, 0.04]}),
            ObjectInfo("cabinet", "cabinet", Pose((0.7, -0.1, 0.0)), (0.3, 0.4, 0.3), state={"opening": 0.1})]
    back = messages.parse_scene(messages.encode_scene(objs))
    assert back["red_block"].pose == objs[0].pose and back["cabinet"].state == {"opening": 0.1}
    bad = [("{}", "expected a JSON list"), ('[{"name": "a"}]', "missing field"),
           ('[{"name": "a", "category": "block", "pose": {"position": [0, 0]}, "size": [1, 1, 1]}]', "position"),
           ('[{"name": "a", "category": "block", "pose": {"position": [0, 0, "x"]}, "size": [1, 1, 1]}]', "position"),
           ('[{"name": "a", "category": "b", "pose": {"position": [0, 0, 0]}, "size": [1, 1, 1]},'
            ' {"name": "a", "category": "b", "pose": {"position": [0, 0, 0]}, "size": [1, 1, 1]}]', "duplicate")]
    for payload, needle in bad:
        with pytest.raises(MessageError) as info:
            messages.parse_scene(payload)
        assert needle in str(info.value), payload


def test_event_readers() -> None:
    ev = messages.parse_event('{"task_id": null, "text": "left", "source": "typed", "kind": "skill", '
                              '"outcome": "applied"}', "transcript")
    assert ev["outcome"] == "applied"
    with pytest.raises(MessageError, match="missing"):
        messages.parse_event('{"task_id": null}', "plan")
