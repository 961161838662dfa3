"""Scenarios: a scene, a task, and hidden requirements for the simulated operator.

A scenario file (YAML)::

    name: drawer_train_1
    family: drawer                  # task family (for the benchmark's grouping)
    split: train                    # train | novel
    task: put the red block in the drawer
    scene:                          # a scene, as in sim/scenes/*.yaml
      objects: [...]
    hidden:                         # only the simulated operator and the success check read this
      requirements:
        - {type: order, first: {skill: open, object: cabinet}, then: {skill: place, target: cabinet}}
        - {type: param_min, skill: open, object: cabinet, param: pull_distance, value: 0.18}
      success:
        - {type: in, object: red_block, target: cabinet}

The agent receives only :meth:`Scenario.public` (task text + scene); the ``hidden``
block stays with :class:`sim.operator.SimulatedOperator` and :func:`check_success`.

Requirement types:
- ``order``: ``first`` (skill + object) must succeed before any call matching ``then``.
- ``target``: objects of ``category`` (or the named ``object``) must be placed in/on ``target``.
- ``grasp_region``: picks of ``category`` must use ``region``.
- ``param_max`` / ``param_min``: a skill's parameter on objects of ``category`` (or ``object``)
  must stay at most / at least ``value`` (``speed``, ``place_height``, ``pull_distance``...).
- ``param_near``: a vector parameter must be within ``tolerance`` of ``value`` (``frame: target``: the
  value is in the place target's frame, as ``place_offset`` is).
- ``avoid``: the gripper's path must not pass over ``object`` (xy within its footprint + margin).
- ``stack``: when stacking objects of ``category``, the ``largest`` (or ``smallest``) goes at the
  ``bottom`` (``key: size``, the footprint area).
``target`` and the ``param_*`` types may narrow ``category`` by ``color`` ("red blocks go in the blue bin").
Success conditions: ``in`` / ``on`` (object within target), ``state`` (object state key == value),
``stacked`` (object on top of another).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_agent.errors import SceneError
from sim.scene import SceneSpec, load_yaml, parse_scene
from skills.params import SKILL_PARAMS

REQUIREMENT_TYPES = {"order", "target", "grasp_region", "param_max", "param_min", "param_near", "avoid", "stack"}
SUCCESS_TYPES = {"in", "on", "state", "stacked"}
SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"


@dataclass
class Scenario:
    """A validated scenario."""

    name: str
    family: str
    split: str
    task: str
    scene: SceneSpec
    requirements: list[dict[str, Any]] = field(default_factory=list)
    success: list[dict[str, Any]] = field(default_factory=list)
    source: str = "<memory>"

    @property
    def objects(self) -> list:
        """Scene objects as ObjectInfo at their declared poses (no simulation needed)."""
        from sim.catalog import geometry
        from skills.types import ObjectInfo

        out = []
        for o in self.scene.objects:
            geo = geometry(o.type, o.shape, o.size)
            parts = {**geo.parts, **geo.drawer_parts}
            out.append(ObjectInfo(o.name, o.type, o.pose, o.size, o.color, o.shape, dict(o.state), parts))
        return out

    def public(self) -> dict[str, Any]:
        """What the agent may see: the task text and the scene. Never the hidden block."""
        return {"name": self.name, "task": self.task, "scene": self.scene.to_dict()}


def _check_ref(ref: Any, where: str, scene: SceneSpec, keys: tuple[str, ...]) -> None:
    if not isinstance(ref, Mapping):
        raise SceneError(f"{where}: expected a mapping with {', '.join(keys)}")
    for k in ("object", "target"):
        if k in ref and (not isinstance(ref[k], str) or ref[k] not in {o.name for o in scene.objects}):
            raise SceneError(f"{where}.{k}: unknown object {ref[k]!r}")
    if "skill" in ref and (not isinstance(ref["skill"], str) or ref["skill"] not in SKILL_PARAMS):
        raise SceneError(f"{where}.skill: unknown skill {ref['skill']!r}")


def parse_scenario(data: Any, source: str = "<memory>") -> Scenario:
    """Validate a scenario mapping; errors name the file and the field."""
    if not isinstance(data, Mapping):
        raise SceneError(f"{source}: expected a mapping with name, task, scene and hidden")
    for key in ("task", "scene"):
        if key not in data:
            raise SceneError(f"{source}: {key}: missing")
    task = data["task"]
    if not isinstance(task, str) or not task.strip():
        raise SceneError(f"{source}: task: expected a sentence")
    scene = parse_scene(data["scene"], f"{source}: scene")
    split = data.get("split", "train")
    if split not in ("train", "novel"):
        raise SceneError(f"{source}: split: expected train or novel, got {split!r}")
    hidden = data.get("hidden", {}) or {}
    if not isinstance(hidden, Mapping):
        raise SceneError(f"{source}: hidden: expected a mapping")
    reqs = hidden.get("requirements", []) or []
    succ = hidden.get("success", []) or []
    if not isinstance(reqs, list) or not isinstance(succ, list):
        raise SceneError(f"{source}: hidden.requirements and hidden.success must be lists")
    for i, r in enumerate(reqs):
        where = f"{source}: hidden.requirements[{i}]"
        if not isinstance(r, Mapping) or not isinstance(r.get("type"), str) or r["type"] not in REQUIREMENT_TYPES:
            raise SceneError(f"{where}.type: expected one of {', '.join(sorted(REQUIREMENT_TYPES))}")
        _check_ref(r, where, scene, ("type",))
        for k in ("first", "then"):
            if k in r:
                _check_ref(r[k], f"{where}.{k}", scene, ("skill", "object"))
        if r["type"].startswith("param_") and (
            not isinstance(r.get("param"), str)
            or r["param"] not in {p.name for ps in SKILL_PARAMS.values() for p in ps}
        ):
            raise SceneError(f"{where}.param: unknown parameter {r.get('param')!r}")
        if r["type"] == "param_near":
            v = r.get("value")
            if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v)):
                raise SceneError(f"{where}.value: expected [x, y, z] in metres, got {v!r}")
            if not isinstance(r.get("tolerance"), (int, float)) or r["tolerance"] <= 0:
                raise SceneError(f"{where}.tolerance: expected a positive number of metres, got {r.get('tolerance')!r}")
            if r.get("frame", "base") not in ("base", "target"):
                raise SceneError(f"{where}.frame: expected base or target, got {r.get('frame')!r}")
        if r["type"] == "stack" and (r.get("key", "size") != "size" or r.get("bottom") not in ("largest", "smallest")):
            raise SceneError(
                f"{where}: expected key: size and bottom: largest or smallest, got "
                f"key={r.get('key')!r}, bottom={r.get('bottom')!r}"
            )
        if r["type"] in ("target", "avoid") and not (r.get("target") or r.get("object")):
            raise SceneError(f"{where}: {r['type']} needs {'target' if r['type'] == 'target' else 'object'}")
    for i, s in enumerate(succ):
        where = f"{source}: hidden.success[{i}]"
        if not isinstance(s, Mapping) or not isinstance(s.get("type"), str) or s["type"] not in SUCCESS_TYPES:
            raise SceneError(
                f"{where}.type: expected one of {', '.join(sorted(SUCCESS_TYPES))} "
                f'(quote "on": YAML reads a bare on as true), got {s.get("type") if isinstance(s, Mapping) else s!r}'
            )
        _check_ref(s, where, scene, ("type", "object"))
    return Scenario(
        name=str(data.get("name", Path(source).stem)),
        family=str(data.get("family", "misc")),
        split=split,
        task=task.strip(),
        scene=scene,
        requirements=[dict(r) for r in reqs],
        success=[dict(s) for s in succ],
        source=source,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file."""
    return parse_scenario(load_yaml(path), source=str(path))


def load_suite(directory: str | Path) -> list[Scenario]:
    """Every ``*.yaml`` scenario under ``directory`` (recursively), sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        raise SceneError(f"{d}: not a directory of scenario files")
    out = [load_scenario(p) for p in sorted(d.rglob("*.yaml"))]
    if not out:
        raise SceneError(f"{d}: no scenario files (*.yaml)")
    return out


def load_split(directory: str | Path) -> dict[str, dict[str, list[Scenario]]]:
    """A suite's scenarios by family and split: ``{family: {"train": [...], "novel": [...]}}``.

    The benchmark runs round 1 on the ``train`` lists and later rounds on the ``novel`` ones;
    training scripts (``scripts/bench_train.py``) fit on ``train`` and evaluate on ``novel``.
    Each list is sorted by scenario name, so the split is the same on every machine.

    Raises:
        SceneError: the directory is missing, holds no scenario, or a file is invalid.
    """
    out: dict[str, dict[str, list[Scenario]]] = {}
    for sc in load_suite(directory):
        out.setdefault(sc.family, {"train": [], "novel": []})[sc.split].append(sc)
    return dict(sorted(out.items()))
