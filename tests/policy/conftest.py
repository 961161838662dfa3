"""Fixtures of the policy tests: scenes as perception reports them, and the real SmolLM2 loaded once."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from robot_agent.policy import LocalChatModel, Plan, SkillCall, initial_state, precondition_failure
from skills.params import SKILL_ARGS, validate_params
from skills.types import ObjectInfo, Pose

SIZES = {
    ("block", "cube"): (0.04, 0.04, 0.04),
    ("block", "cylinder"): (0.045, 0.045, 0.05),
    ("fruit", "apple"): (0.055, 0.055, 0.055),
    ("fruit", "banana"): (0.045, 0.12, 0.04),
    ("mug", "standard"): (0.07, 0.07, 0.09),
    ("mug", "tall"): (0.06, 0.06, 0.11),
    ("glass", "tumbler"): (0.06, 0.06, 0.09),
    ("bowl", "round"): (0.16, 0.16, 0.05),
    ("plate", "round"): (0.18, 0.18, 0.015),
    ("plate", "square"): (0.17, 0.17, 0.015),
    ("tray", "bin"): (0.20, 0.16, 0.06),
    ("shelf", "rack"): (0.16, 0.36, 0.10),
    ("cabinet", "drawer"): (0.24, 0.30, 0.14),
    ("cabinet", "wide"): (0.24, 0.36, 0.13),
}
DEFAULT_SHAPE = {
    "block": "cube",
    "fruit": "apple",
    "mug": "standard",
    "glass": "tumbler",
    "bowl": "round",
    "plate": "round",
    "tray": "bin",
    "shelf": "rack",
    "cabinet": "drawer",
}


def obj(
    name: str,
    category: str,
    x: float,
    y: float,
    z: float = 0.0,
    *,
    color: str = "",
    shape: str = "",
    yaw: float = 0.0,
    opening: float | None = None,
) -> ObjectInfo:
    """One object as ``SimWorld.object_info`` reports it (cabinets carry their drawer state)."""
    shape = shape or DEFAULT_SHAPE[category]
    state: dict[str, Any] = {}
    parts: dict[str, list[float]] = {}
    if category == "cabinet":
        s = opening or 0.0
        state = {"opening": s, "drawer": "open" if s >= 0.10 else "closed"}
        parts = {"handle": [0.14 + s, 0.0, 0.07], "top": [0.0, 0.0, 0.14]}
    if category == "mug":
        parts = {"handle": [0.0, 0.04, 0.045], "rim": [0.0, -0.03, 0.08]}
    return ObjectInfo(
        name,
        category,
        Pose((x, y, z), yaw),
        SIZES[(category, shape)],
        color=color,
        shape=shape,
        state=state,
        parts=parts,
    )


def drawer_scene(opening: float = 0.0, block_z: float = 0.0) -> list[ObjectInfo]:
    """sim/scenarios/demo/drawer_train.yaml's scene."""
    return [
        obj("red_block", "block", 0.42, 0.12, block_z, color="red"),
        obj("cabinet", "cabinet", 0.74, -0.10, color="wood", yaw=3.14159, opening=opening),
    ]


def drawer_novel_scene() -> list[ObjectInfo]:
    return [
        obj("blue_cylinder", "block", 0.40, -0.18, color="blue", shape="cylinder"),
        obj("white_cabinet", "cabinet", 0.73, 0.10, color="white", shape="wide", yaw=2.88),
    ]


def mug_scene() -> list[ObjectInfo]:
    return [obj("white_mug", "mug", 0.40, 0.18, color="white"), obj("plate", "plate", 0.38, -0.22, color="yellow")]


def mug_novel_scene() -> list[ObjectInfo]:
    return [
        obj("blue_mug", "mug", 0.46, 0.16, color="blue", shape="tall", yaw=0.52),
        obj("green_plate", "plate", 0.36, -0.24, color="green", shape="square"),
    ]


def tabletop() -> list[ObjectInfo]:
    """sim/scenes/tabletop.yaml: one of every category."""
    return [
        obj("red_block", "block", 0.45, 0.05, color="red"),
        obj("blue_block", "block", 0.40, -0.12, color="blue"),
        obj("white_mug", "mug", 0.35, 0.22, color="white"),
        obj("apple", "fruit", 0.52, 0.20, color="red"),
        obj("bowl", "bowl", 0.55, 0.38, color="white"),
        obj("plate", "plate", 0.30, -0.30, color="yellow"),
        obj("tray", "tray", 0.50, -0.36, color="gray"),
        obj("shelf", "shelf", 0.72, 0.22, color="wood"),
        obj("cabinet", "cabinet", 0.74, -0.10, color="wood", yaw=3.14159),
    ]


def fruit_scene() -> list[ObjectInfo]:
    return [
        obj("apple", "fruit", 0.45, 0.10, color="red"),
        obj("banana", "fruit", 0.40, -0.05, color="yellow", shape="banana"),
        obj("bowl", "bowl", 0.55, 0.30, color="white"),
        obj("tray", "tray", 0.50, -0.30, color="gray"),
        obj("plate", "plate", 0.30, -0.28, color="green"),
    ]


def blocks_scene() -> list[ObjectInfo]:
    return [
        obj("red_block", "block", 0.45, 0.05, color="red"),
        obj("blue_block", "block", 0.40, -0.12, color="blue"),
        obj("green_block", "block", 0.36, 0.15, color="green"),
        obj("tray", "tray", 0.50, -0.36, color="gray"),
        obj("glass", "glass", 0.30, 0.30, color="clear"),
    ]


def assert_valid_plan(
    plan: Plan | Sequence[SkillCall], objects: Sequence[ObjectInfo], done: Sequence[SkillCall] = (), holding: Any = ...
) -> None:
    """Every call: a registered skill, exactly its object roles, scene objects, valid params,
    and its preconditions hold when simulated in order from the scene's state."""
    by_name = {o.name: o for o in objects}
    state = initial_state(objects, list(done), holding)
    for call in plan:
        assert call.skill in SKILL_ARGS
        assert set(call.args) == set(SKILL_ARGS[call.skill]), call
        assert all(v in by_name for v in call.args.values()), call
        validate_params(call.skill, call.params)
        why = precondition_failure(call, state, by_name)
        assert why is None, f"{call.text()}: {why}"
        state = state.apply(call)


@pytest.fixture
def scenes() -> SimpleNamespace:
    return SimpleNamespace(
        drawer=drawer_scene,
        drawer_novel=drawer_novel_scene,
        mug=mug_scene,
        mug_novel=mug_novel_scene,
        tabletop=tabletop,
        fruit=fruit_scene,
        blocks=blocks_scene,
        obj=obj,
        assert_valid=assert_valid_plan,
    )


def model_cache_dir(tmp_factory: pytest.TempPathFactory) -> Path:
    """Where the dequantized SmolLM2 lives for tests: $ROBOT_AGENT_MODEL_CACHE, else the user cache
    (made on first use, ~1 min; later runs load in seconds); ROBOT_AGENT_MODEL_CACHE=tmp uses a fresh
    session directory (checks the dequantization path, slower)."""
    env = os.environ.get("ROBOT_AGENT_MODEL_CACHE", "")
    if env == "tmp":
        return tmp_factory.mktemp("models")
    return Path(os.path.expanduser(env or "~/.cache/robot_agent/models"))


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChatModel]:
    """The real embedded SmolLM2-135M-Instruct, loaded once per test session."""
    model = LocalChatModel(cache_dir=str(model_cache_dir(tmp_path_factory)), timeout_s=60.0, max_new_tokens=16)
    model.load()
    yield model
