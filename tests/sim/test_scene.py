"""Scene YAML: valid scenes load; every error names the file and the field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from robot_agent.errors import SceneError
from sim.catalog import CATEGORIES
from sim.scene import SCENES_DIR, builtin_scene, load_scene, parse_scene


def write(tmp_path: Path, data: object, name: str = "scene.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return p


def block(**over: object) -> dict:
    d = {"name": "red_block", "type": "block", "color": "red", "pose": {"position": [0.5, 0.0]}}
    d.update(over)
    return d


def test_builtin_scenes_load_and_cover_every_category() -> None:
    scene = builtin_scene("tabletop")
    assert {o.type for o in scene.objects} >= {"block", "mug", "bowl", "plate", "cabinet", "shelf", "tray", "fruit"}
    for path in SCENES_DIR.glob("*.yaml"):
        assert load_scene(path).objects


def test_defaults_from_catalog(tmp_path: Path) -> None:
    s = load_scene(
        write(
            tmp_path, {"objects": [{"name": "m", "type": "mug", "pose": {"position": [0.4, 0.1, 0.0], "yaw_deg": 90}}]}
        )
    )
    m = s.objects[0]
    assert m.shape == CATEGORIES["mug"].shapes[0]
    assert m.size == CATEGORIES["mug"].default_size[m.shape]
    assert math.isclose(m.pose.yaw, math.pi / 2)
    assert s.name == "scene"


@pytest.mark.parametrize(
    "obj, field, words",
    [
        (block(type="spaceship"), "objects[0].type", ["spaceship", "valid types", "block"]),
        (block(pose={"position": [0.5]}), "objects[0].pose.position", ["[x, y]"]),
        (block(pose={"position": [0.5, "left"]}), "objects[0].pose.position[1]", ["finite number"]),
        (block(pose={"position": [3.0, 0.0]}), "objects[0].pose.position", ["off the table"]),
        (block(pose={"position": [0.5, 0.0], "yaw": 3}), "objects[0].pose", ["unknown field", "yaw"]),
        (block(pose="here"), "objects[0].pose", ["position"]),
        (block(pose={"position": [0.5, 0.0], "yaw_deg": float("nan")}), "objects[0].pose.yaw_deg", ["finite"]),
        (block(color="octarine"), "objects[0].color", ["octarine"]),
        (block(shape="pyramid"), "objects[0].shape", ["pyramid", "cube"]),
        (block(size=[0.04, 0.04]), "objects[0].size", ["[x, y, z]"]),
        (block(size=[0.2, 0.2, 0.04]), "objects[0].size", ["narrower than the gripper"]),
        (block(name="Red Block"), "objects[0].name", ["identifier"]),
        (block(state={"opening": 0.1}), "objects[0].state", ["no state"]),
        (block(wings=2), "objects[0]", ["unknown field", "wings"]),
        (
            {"name": "c", "type": "cabinet", "pose": {"position": [0.7, 0.0]}, "state": {"opening": 0.9}},
            "objects[0].state.opening",
            ["within"],
        ),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, obj: dict, field: str, words: list[str]) -> None:
    path = write(tmp_path, {"objects": [obj]})
    with pytest.raises(SceneError) as info:
        load_scene(path)
    msg = str(info.value)
    assert str(path) in msg and field in msg, msg
    for w in words:
        assert w in msg, msg


def test_duplicate_names_and_empty_scene(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match=r"objects\[1\].name: duplicate"):
        load_scene(write(tmp_path, {"objects": [block(), block()]}))
    with pytest.raises(SceneError, match="non-empty list"):
        load_scene(write(tmp_path, {"objects": []}))


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match="no such file"):
        load_scene(tmp_path / "missing.yaml")
    with pytest.raises(SceneError, match="not valid YAML"):
        load_scene(write(tmp_path, "objects: [unclosed"))
    with pytest.raises(SceneError, match="expected a mapping"):
        load_scene(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(SceneError, match="no built-in scene"):
        builtin_scene("nope")


def test_round_trip(tmp_path: Path) -> None:
    scene = builtin_scene("tabletop")
    again = parse_scene(scene.to_dict(), "again")
    assert [o.to_dict() for o in again.objects] == [o.to_dict() for o in scene.objects]
