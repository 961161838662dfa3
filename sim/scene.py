"""Scenes declared in YAML: objects, poses and states.

Format (all lengths in metres, angles in degrees)::

    name: drawer_basic
    description: a red block and a closed cabinet
    objects:
      - name: red_block          # unique, [a-z0-9_]
        type: block              # a catalog category (sim/catalog.py)
        shape: cube              # optional, the category's default otherwise
        color: red               # optional, a catalog colour
        size: [0.04, 0.04, 0.04] # optional, the shape's default otherwise
        pose: {position: [0.45, 0.15, 0.0], yaw_deg: 0}   # z defaults to 0 (on the table)
        state: {opening: 0.0}    # optional; cabinets: drawer opening in metres

Every error names the file and the field (``scene.yaml: objects[1].pose.position: ...``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from robot_agent.errors import SceneError
from sim.catalog import CATEGORIES, COLORS, DRAWER_TRAVEL, category
from skills.types import Pose

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
#: reachable table area in front of the robot (base frame, m)
TABLE_AREA = ((0.20, 0.85), (-0.55, 0.55))


@dataclass
class ObjectSpec:
    """One object of a scene, validated."""

    name: str
    type: str
    shape: str
    color: str
    size: tuple[float, float, float]
    pose: Pose
    state: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "shape": self.shape,
            "color": self.color,
            "size": list(self.size),
            "pose": {"position": list(self.pose.position), "yaw_deg": math.degrees(self.pose.yaw)},
            "state": dict(self.state),
        }


@dataclass
class SceneSpec:
    """A validated scene."""

    name: str
    objects: list[ObjectSpec]
    description: str = ""
    source: str = "<memory>"

    def object(self, name: str) -> ObjectSpec:
        for o in self.objects:
            if o.name == name:
                return o
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "objects": [o.to_dict() for o in self.objects]}


def _num(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise SceneError(f"{where}: expected a finite number, got {v!r}")
    return float(v)


def parse_object(data: Any, where: str) -> ObjectSpec:
    """Validate one object mapping; ``where`` prefixes every error message."""
    if not isinstance(data, Mapping):
        raise SceneError(f"{where}: expected a mapping with name, type and pose, got {type(data).__name__}")
    allowed = {"name", "type", "shape", "color", "size", "pose", "state"}
    extra = sorted(set(map(str, data)) - allowed)
    if extra:
        raise SceneError(f"{where}: unknown field(s) {', '.join(extra)}; allowed: {', '.join(sorted(allowed))}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise SceneError(f"{where}.name: expected a lower-case identifier like 'red_block', got {name!r}")
    typ = data.get("type")
    if not isinstance(typ, str) or typ not in CATEGORIES:
        raise SceneError(f"{where}.type: unknown object type {typ!r}; valid types: {', '.join(sorted(CATEGORIES))}")
    cat = category(typ)
    shape = data.get("shape", cat.shapes[0])
    if not isinstance(shape, str) or shape not in cat.shapes:
        raise SceneError(f"{where}.shape: {shape!r} is not a {typ} shape; valid: {', '.join(cat.shapes)}")
    color = data.get("color", cat.default_color)
    if not isinstance(color, str) or color not in COLORS:
        raise SceneError(f"{where}.color: unknown colour {color!r}; valid: {', '.join(sorted(COLORS))}")
    size_raw = data.get("size", list(cat.default_size[shape]))
    if not isinstance(size_raw, (list, tuple)) or len(size_raw) != 3:
        raise SceneError(f"{where}.size: expected [x, y, z] in metres, got {size_raw!r}")
    size = tuple(_num(v, f"{where}.size[{i}]") for i, v in enumerate(size_raw))
    if not all(0.01 <= s <= 0.6 for s in size):
        raise SceneError(f"{where}.size: every extent must be within [0.01, 0.6] m, got {list(size)}")
    if cat.graspable and min(size[0], size[1]) > 0.078:
        raise SceneError(
            f"{where}.size: a graspable {typ} must be narrower than the gripper (0.078 m), got {list(size)}"
        )
    pose_raw = data.get("pose")
    if not isinstance(pose_raw, Mapping) or "position" not in pose_raw:
        raise SceneError(f"{where}.pose: expected {{position: [x, y] or [x, y, z], yaw_deg: angle}}, got {pose_raw!r}")
    bad = sorted(set(map(str, pose_raw)) - {"position", "yaw_deg"})
    if bad:
        raise SceneError(f"{where}.pose: unknown field(s) {', '.join(bad)}; allowed: position, yaw_deg")
    pos = pose_raw["position"]
    if not isinstance(pos, (list, tuple)) or len(pos) not in (2, 3):
        raise SceneError(f"{where}.pose.position: expected [x, y] or [x, y, z] in metres, got {pos!r}")
    xyz = [_num(v, f"{where}.pose.position[{i}]") for i, v in enumerate(pos)] + ([0.0] if len(pos) == 2 else [])
    (x0, x1), (y0, y1) = TABLE_AREA
    if not (x0 <= xyz[0] <= x1 and y0 <= xyz[1] <= y1 and 0.0 <= xyz[2] <= 0.5):
        raise SceneError(
            f"{where}.pose.position: {xyz} is off the table area x in [{x0}, {x1}], y in [{y0}, {y1}], z in [0, 0.5]"
        )
    yaw = math.radians(_num(pose_raw.get("yaw_deg", 0.0), f"{where}.pose.yaw_deg"))
    state = data.get("state", {}) or {}
    if not isinstance(state, Mapping):
        raise SceneError(f"{where}.state: expected a mapping, got {state!r}")
    state = dict(state)
    if cat.articulated:
        bad = sorted(set(state) - {"opening"})
        if bad:
            raise SceneError(f"{where}.state: unknown field(s) {', '.join(bad)} for a {typ}; allowed: opening")
        opening = _num(state.get("opening", 0.0), f"{where}.state.opening")
        if not 0.0 <= opening <= DRAWER_TRAVEL:
            raise SceneError(f"{where}.state.opening: must be within [0, {DRAWER_TRAVEL}] m, got {opening}")
        state = {"opening": opening}
    elif state:
        raise SceneError(f"{where}.state: a {typ} has no state fields (got {', '.join(map(str, state))})")
    return ObjectSpec(name, typ, shape, color, size, Pose(tuple(xyz), yaw), state)


def parse_scene(data: Any, source: str = "<memory>") -> SceneSpec:
    """Validate a scene mapping.

    Raises:
        SceneError: naming ``source`` and the offending field.
    """
    if not isinstance(data, Mapping):
        raise SceneError(f"{source}: expected a mapping with 'objects', got {type(data).__name__}")
    objs = data.get("objects")
    if not isinstance(objs, list) or not objs:
        raise SceneError(f"{source}: objects: expected a non-empty list")
    specs = [parse_object(o, f"{source}: objects[{i}]") for i, o in enumerate(objs)]
    seen: set[str] = set()
    for i, s in enumerate(specs):
        if s.name in seen:
            raise SceneError(f"{source}: objects[{i}].name: duplicate name {s.name!r}")
        seen.add(s.name)
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise SceneError(f"{source}: name: expected a string")
    desc = data.get("description", "")
    return SceneSpec(name=name, objects=specs, description=str(desc), source=source)


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file with a clear error naming it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SceneError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SceneError(f"{p}: cannot read: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SceneError(f"{p}: not valid YAML: {exc}") from None
    except RecursionError:  # thousands of nested brackets
        raise SceneError(f"{p}: not valid YAML: nested too deeply") from None


def load_scene(path: str | Path) -> SceneSpec:
    """Load and validate a scene file."""
    return parse_scene(load_yaml(path), source=str(path))


SCENES_DIR = Path(__file__).resolve().parent / "scenes"


def builtin_scene(name: str) -> SceneSpec:
    """A scene shipped in ``sim/scenes/`` by name (without ``.yaml``)."""
    path = SCENES_DIR / f"{name}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in SCENES_DIR.glob("*.yaml"))
        raise SceneError(f"no built-in scene {name!r}; available: {', '.join(names)}")
    return load_scene(path)
