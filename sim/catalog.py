"""Object catalog: categories with per-instance appearance (colour, size, shape).

Every object is built from PyBullet primitives so no asset files are needed beyond
``pybullet_data`` (Panda, table). An object's frame has its origin at the centre of
its footprint on the support surface, z up, rotated by its yaw; for the cabinet the
local +x axis is the direction the drawer opens (its front faces +x).

Each category documents its named ``parts`` (positions in the object's frame) that
skills aim at: ``top`` (surface to place on), ``inside`` (floor to place into),
``handle``, ``rim``, ``center``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from skills.types import DRAWER_OPEN_AT as _DRAWER_OPEN_AT
from skills.types import ObjectInfo, Pose

COLORS: dict[str, tuple[float, float, float, float]] = {
    "red": (0.85, 0.12, 0.10, 1.0),
    "green": (0.15, 0.70, 0.20, 1.0),
    "blue": (0.12, 0.30, 0.85, 1.0),
    "yellow": (0.95, 0.85, 0.10, 1.0),
    "orange": (1.0, 0.55, 0.05, 1.0),
    "purple": (0.55, 0.20, 0.70, 1.0),
    "white": (0.92, 0.92, 0.92, 1.0),
    "black": (0.10, 0.10, 0.10, 1.0),
    "gray": (0.50, 0.50, 0.50, 1.0),
    "brown": (0.50, 0.30, 0.12, 1.0),
    "pink": (0.95, 0.50, 0.65, 1.0),
    "cyan": (0.10, 0.75, 0.80, 1.0),
    "wood": (0.72, 0.55, 0.35, 1.0),
    "clear": (0.75, 0.90, 0.95, 0.55),
}


@dataclass(frozen=True)
class Category:
    """One object category of the catalog.

    Attributes:
        name: category name (the scene file's ``type``).
        shapes: allowed shape variants, the first is the default.
        default_size: (x, y, z) extents in metres per shape.
        default_color: colour name.
        mass: kg; 0 means fixed to the world.
        graspable: a gripper can pick it.
        container: things are placed ``in`` it (else ``on`` it when it is a support).
        support: things can be placed on it.
        fragile: needs gentle handling (the operator may care).
        doc: one line for the LLM and the operator.
    """

    name: str
    shapes: tuple[str, ...]
    default_size: dict[str, tuple[float, float, float]]
    default_color: str
    mass: float
    graspable: bool = True
    container: bool = False
    support: bool = False
    fragile: bool = False
    articulated: bool = False
    doc: str = ""


CATEGORIES: dict[str, Category] = {
    c.name: c
    for c in (
        Category(
            "block",
            ("cube", "cuboid", "cylinder"),
            {"cube": (0.04, 0.04, 0.04), "cuboid": (0.035, 0.05, 0.06), "cylinder": (0.045, 0.045, 0.05)},
            "red",
            0.08,
            support=True,
            doc="a small toy block",
        ),
        Category(
            "fruit",
            ("apple", "orange", "lemon", "banana"),
            {
                "apple": (0.055, 0.055, 0.055),
                "orange": (0.06, 0.06, 0.06),
                "lemon": (0.045, 0.045, 0.045),
                "banana": (0.045, 0.12, 0.04),
            },
            "red",
            0.10,
            doc="a piece of (toy) fruit",
        ),
        Category(
            "mug",
            ("standard", "tall", "wide"),
            {"standard": (0.07, 0.07, 0.09), "tall": (0.06, 0.06, 0.11), "wide": (0.076, 0.076, 0.075)},
            "white",
            0.20,
            doc="a mug with a handle on its +y side",
        ),
        Category(
            "glass",
            ("tumbler", "flute"),
            {"tumbler": (0.06, 0.06, 0.09), "flute": (0.05, 0.05, 0.12)},
            "clear",
            0.15,
            fragile=True,
            doc="a fragile drinking glass",
        ),
        Category(
            "bowl",
            ("round", "deep"),
            {"round": (0.16, 0.16, 0.05), "deep": (0.14, 0.14, 0.07)},
            "white",
            0.0,
            graspable=False,
            container=True,
            doc="a bowl; things go in it",
        ),
        Category(
            "plate",
            ("round", "square"),
            {"round": (0.18, 0.18, 0.015), "square": (0.17, 0.17, 0.015)},
            "white",
            0.0,
            graspable=False,
            support=True,
            doc="a flat plate; things go on it",
        ),
        Category(
            "tray",
            ("bin", "flat"),
            {"bin": (0.20, 0.16, 0.06), "flat": (0.22, 0.18, 0.03)},
            "gray",
            0.0,
            graspable=False,
            container=True,
            doc="a tray or bin; things go in it",
        ),
        Category(
            "shelf",
            ("rack", "board"),
            {"rack": (0.16, 0.36, 0.10), "board": (0.14, 0.30, 0.08)},
            "wood",
            0.0,
            graspable=False,
            support=True,
            doc="a low shelf; things go on its top, left or right side",
        ),
        Category(
            "cabinet",
            ("drawer", "wide"),
            {"drawer": (0.24, 0.30, 0.14), "wide": (0.24, 0.36, 0.13)},
            "wood",
            0.0,
            graspable=False,
            container=True,
            articulated=True,
            doc="a cabinet with one drawer that opens along its +x axis (handle on the front)",
        ),
    )
}

#: How far the cabinet drawer can travel (m).
DRAWER_TRAVEL = 0.20
#: Opening above which a drawer counts as open (m): ``skills.types.DRAWER_OPEN_AT``.
DRAWER_OPEN_AT = _DRAWER_OPEN_AT


@dataclass
class Box:
    """A primitive in an object's frame: box (half extents) or cylinder/sphere/capsule."""

    kind: str  # "box" | "cylinder" | "sphere" | "capsule"
    pos: tuple[float, float, float]
    half: tuple[float, float, float] = (0.0, 0.0, 0.0)
    radius: float = 0.0
    length: float = 0.0
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass
class Geometry:
    """Primitives of a body (and of a drawer link for the cabinet) plus named parts."""

    base: list[Box]
    parts: dict[str, list[float]]
    drawer: list[Box] = field(default_factory=list)
    drawer_parts: dict[str, list[float]] = field(default_factory=dict)  # in the drawer frame (closed = object frame)


def _walls(cx: float, cy: float, z0: float, sx: float, sy: float, h: float, t: float, sides: str = "nsew") -> list[Box]:
    """Thin walls around a rectangle centred at (cx, cy), from z0 up to z0 + h."""
    out = []
    if "e" in sides:
        out.append(Box("box", (cx + sx / 2 - t / 2, cy, z0 + h / 2), (t / 2, sy / 2, h / 2)))
    if "w" in sides:
        out.append(Box("box", (cx - sx / 2 + t / 2, cy, z0 + h / 2), (t / 2, sy / 2, h / 2)))
    if "n" in sides:
        out.append(Box("box", (cx, cy + sy / 2 - t / 2, z0 + h / 2), (sx / 2, t / 2, h / 2)))
    if "s" in sides:
        out.append(Box("box", (cx, cy - sy / 2 + t / 2, z0 + h / 2), (sx / 2, t / 2, h / 2)))
    return out


def geometry(category: str, shape: str, size: tuple[float, float, float]) -> Geometry:
    """The primitives and parts of one instance."""
    sx, sy, sz = size
    r = min(sx, sy) / 2
    if category == "block":
        if shape == "cylinder":
            prims = [Box("cylinder", (0, 0, sz / 2), radius=r, length=sz)]
        else:
            prims = [Box("box", (0, 0, sz / 2), (sx / 2, sy / 2, sz / 2))]
        return Geometry(prims, {"center": [0, 0, sz / 2], "top": [0, 0, sz]})
    if category == "fruit":
        if shape == "banana":
            prims = [Box("capsule", (0, 0, sz / 2), radius=sz / 2, length=max(sy - sz, 0.01), rpy=(math.pi / 2, 0, 0))]
        else:
            prims = [Box("sphere", (0, 0, sz / 2), radius=sz / 2)]
        return Geometry(prims, {"center": [0, 0, sz / 2], "top": [0, 0, sz]})
    if category in ("mug", "glass"):
        prims = [Box("cylinder", (0, 0, sz / 2), radius=r, length=sz)]
        parts = {"center": [0, 0, sz / 2], "top": [0, 0, sz], "rim": [0, -r + 0.006, sz - 0.01]}
        if category == "mug":
            # The handle: a vertical bar standing off the +y side on two short arms.
            off = r + 0.025
            prims += [
                Box("box", (0, off, sz * 0.5), (0.006, 0.006, sz * 0.30)),
                Box("box", (0, (r + off) / 2, sz * 0.78), (0.006, (off - r) / 2 + 0.004, 0.006)),
                Box("box", (0, (r + off) / 2, sz * 0.22), (0.006, (off - r) / 2 + 0.004, 0.006)),
            ]
            parts["handle"] = [0.0, off, sz * 0.5]
        return Geometry(prims, parts)
    if category == "bowl":
        t = 0.008
        prims = [Box("cylinder", (0, 0, 0.005), radius=r * 0.75, length=0.01)]
        for k in range(10):  # a ring of staves
            a = 2 * math.pi * k / 10
            prims.append(
                Box("box", (r * math.cos(a), r * math.sin(a), sz / 2), (t / 2, r * 0.33, sz / 2), rpy=(0, 0, a))
            )
        return Geometry(prims, {"center": [0, 0, 0.01], "inside": [0, 0, 0.01], "rim": [r, 0, sz], "top": [0, 0, 0.01]})
    if category == "plate":
        if shape == "square":
            prims = [Box("box", (0, 0, sz / 2), (sx / 2, sy / 2, sz / 2))]
        else:
            prims = [Box("cylinder", (0, 0, sz / 2), radius=r, length=sz)]
        return Geometry(prims, {"center": [0, 0, sz], "top": [0, 0, sz]})
    if category == "tray":
        t = 0.008
        prims = [Box("box", (0, 0, 0.004), (sx / 2, sy / 2, 0.004))] + _walls(0, 0, 0.008, sx, sy, sz - 0.008, t)
        return Geometry(prims, {"center": [0, 0, 0.008], "inside": [0, 0, 0.008], "top": [0, 0, 0.008]})
    if category == "shelf":
        t = 0.012
        prims = [
            Box("box", (0, 0, sz - t / 2), (sx / 2, sy / 2, t / 2)),
            Box("box", (0, sy / 2 - t / 2, (sz - t) / 2), (sx / 2, t / 2, (sz - t) / 2)),
            Box("box", (0, -sy / 2 + t / 2, (sz - t) / 2), (sx / 2, t / 2, (sz - t) / 2)),
        ]
        return Geometry(
            prims, {"center": [0, 0, sz], "top": [0, 0, sz], "left": [0, sy / 4, sz], "right": [0, -sy / 4, sz]}
        )
    if category == "cabinet":
        t = 0.01
        # Shell: bottom, top, back and two sides; open at the front (+x).
        prims = [
            Box("box", (0, 0, t / 2), (sx / 2, sy / 2, t / 2)),
            Box("box", (0, 0, sz - t / 2), (sx / 2, sy / 2, t / 2)),
            Box("box", (-sx / 2 + t / 2, 0, sz / 2), (t / 2, sy / 2, sz / 2)),
            Box("box", (0, sy / 2 - t / 2, sz / 2), (sx / 2, t / 2, sz / 2)),
            Box("box", (0, -sy / 2 + t / 2, sz / 2), (sx / 2, t / 2, sz / 2)),
        ]
        # Drawer (its own link; frame = object frame when closed).
        dx, dy, dh = sx - 2 * t - 0.004, sy - 2 * t - 0.006, sz - 2 * t - 0.012
        cx, z0 = t / 2, t + 0.002
        drawer = [Box("box", (cx, 0, z0 + 0.004), (dx / 2, dy / 2, 0.004))] + _walls(
            cx, 0, z0 + 0.008, dx, dy, dh - 0.008, 0.008
        )
        hz = z0 + dh * 0.55
        stand = 0.045
        front = cx + dx / 2
        # A vertical bar handle on two arms: grasped from above with the fingers closing across it
        # (along the cabinet's y), so the hand stays clear of the cabinet top.
        drawer += [
            Box("box", (front + stand, 0, hz), (0.006, 0.006, 0.026)),
            Box("box", (front + stand / 2, 0, hz + 0.02), (stand / 2, 0.005, 0.005)),
            Box("box", (front + stand / 2, 0, hz - 0.02), (stand / 2, 0.005, 0.005)),
        ]
        drawer_parts = {"handle": [front + stand, 0.0, hz], "inside": [cx, 0.0, z0 + 0.008], "front": [front, 0.0, hz]}
        return Geometry(prims, {"top": [0, 0, sz]}, drawer=drawer, drawer_parts=drawer_parts)
    raise KeyError(category)


def category(name: str) -> Category:
    """The catalog category ``name``.

    Raises:
        KeyError: naming the valid categories.
    """
    try:
        return CATEGORIES[name]
    except KeyError:
        raise KeyError(f"unknown object type {name!r}; valid types: {', '.join(sorted(CATEGORIES))}") from None


Builder = Callable[..., Any]


def object_info(
    name: str,
    category: str,
    shape: str,
    color: str,
    xy: tuple[float, float],
    size: tuple[float, float, float],
    yaw: float = 0.0,
) -> ObjectInfo:
    """What perception would report of one catalog object on the table, its parts included (for
    code that builds a scene by hand: tests, tools)."""
    geo = geometry(category, shape, size)
    return ObjectInfo(
        name,
        category,
        Pose((xy[0], xy[1], 0.0), yaw),
        size,
        color=color,
        shape=shape,
        parts={**geo.parts, **geo.drawer_parts},
    )
