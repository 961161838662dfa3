"""Motion under every skill: safety-checked targets, IK waypoints, interpolated joint
trajectories streamed one control tick at a time, checking the cancel token at every tick.

Keep-out regions (:class:`KeepOut`, an object's footprint grown by a margin) are xy areas the
tool point must not pass over at any height ("don't go over the glass"): a Cartesian segment
whose straight line crosses one is routed around it, the shorter way first; a joint-space move
that would sweep over one goes to its end point around it first. A target inside one, or no
reachable way around, refuses the motion before it starts (:class:`KeepOutError`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from robot_agent.errors import SafetyError, UnreachableError
from skills.robot import CancelToken, Robot
from skills.safety import SafetyChecker, StaleStateError
from skills.types import ObjectInfo

log = logging.getLogger(__name__)

#: Cartesian segments are split into IK waypoints at most this far apart (m)
WAYPOINT_SPACING = 0.03
#: the hand turns at most this much between neighbouring waypoints (rad)
YAW_SPACING = 0.15
#: largest joint change (rad) allowed between neighbouring Cartesian waypoints
MAX_WAYPOINT_JUMP = 0.6
#: wrist angle minus hand yaw at the home pose (rad), for choosing a symmetric grasp yaw
WRIST_HOME = 0.785
#: joint-space moves are collision-checked at configurations at most this far apart (rad)
JOINT_CHECK_SPACING = 0.1
#: joint error (rad) at which a move counts as arrived
ARRIVE_TOL = 0.01
#: a keep-out footprint is an object's box grown by this much on every side (m): an operator's
#: "don't go over it" margin (a few cm) plus room for the fingers and for tracking error
KEEP_OUT_MARGIN = 0.05
#: detour corners sit this far outside a keep-out footprint, so the legs between them clear it (m)
DETOUR_PAD = 0.01
#: joint-space moves are checked against keep-outs at tool points this far apart in joint space (rad)
KEEP_OUT_JOINT_SPACING = 0.05
#: how many ways around the keep-outs a Cartesian segment tries before it gives up
DETOUR_CANDIDATES = 4


class Interrupted(Exception):
    """The cancel token was set; the arm has been told to hold."""


class Collision(SafetyError):
    """A planned configuration would hit the table or a fixture."""


class KeepOutError(UnreachableError):
    """No motion reaches the goal without passing over a keep-out region (refused before motion)."""


@dataclass(frozen=True)
class KeepOut:
    """An xy region the tool point must not pass over, at any height: an oriented box.

    Attributes:
        name: the object it protects (for messages and facts).
        center: box centre (x, y) in the base frame (m).
        yaw: box orientation about z (rad).
        half: half extents along the box's own x and y (m), margin included.
    """

    name: str
    center: tuple[float, float]
    yaw: float
    half: tuple[float, float]

    def __post_init__(self) -> None:
        vals = [*self.center, self.yaw, *self.half]
        if len(self.center) != 2 or len(self.half) != 2 or not all(math.isfinite(float(v)) for v in vals):
            raise ValueError(f"keep-out {self.name!r}: centre, yaw and half extents must be finite numbers")
        if min(self.half) <= 0:
            raise ValueError(f"keep-out {self.name!r}: half extents must be positive, got {self.half}")

    @classmethod
    def around(cls, obj: ObjectInfo, margin: float = KEEP_OUT_MARGIN) -> KeepOut:
        """The footprint of ``obj`` (its pose and box size) grown by ``margin`` on every side."""
        if not (math.isfinite(margin) and margin >= 0):
            raise ValueError(f"keep-out margin must be a number >= 0, got {margin!r}")
        return cls(
            obj.name,
            (obj.pose.position[0], obj.pose.position[1]),
            obj.pose.yaw,
            (obj.size[0] / 2 + margin, obj.size[1] / 2 + margin),
        )

    def local(self, xy: Sequence[float]) -> np.ndarray:
        """A base-frame point's (x, y) in the box's frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = float(xy[0]) - self.center[0], float(xy[1]) - self.center[1]
        return np.array([c * dx + s * dy, -s * dx + c * dy])

    def contains(self, xy: Sequence[float]) -> bool:
        """Is the point's (x, y) inside the footprint (its boundary counts as outside)?"""
        p = self.local(xy)
        return bool(abs(p[0]) < self.half[0] - 1e-9 and abs(p[1]) < self.half[1] - 1e-9)

    def crosses(self, a: Sequence[float], b: Sequence[float]) -> bool:
        """Does the straight xy segment from ``a`` to ``b`` pass through the footprint's interior?"""
        pa, pb = self.local(a), self.local(b)
        d = pb - pa
        t0, t1 = 0.0, 1.0
        for k in range(2):  # Liang-Barsky: clip the segment to the slab |x_k| < half_k
            h = self.half[k] - 1e-9
            if abs(d[k]) < 1e-12:
                if abs(pa[k]) >= h:
                    return False
                continue
            lo, hi = sorted(((-h - pa[k]) / d[k], (h - pa[k]) / d[k]))
            t0, t1 = max(t0, lo), min(t1, hi)
            if t0 >= t1:
                return False
        return True

    def corners(self, pad: float = DETOUR_PAD) -> list[np.ndarray]:
        """The box's corners grown by ``pad``, as base-frame (x, y) points."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        hx, hy = self.half[0] + pad, self.half[1] + pad
        return [
            np.array([self.center[0] + c * x - s * y, self.center[1] + s * x + c * y])
            for x, y in ((hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy))
        ]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "center": [round(v, 4) for v in self.center],
            "yaw": round(self.yaw, 4),
            "half": [round(v, 4) for v in self.half],
        }


def _angle_diff(a: float, b: float) -> float:
    """a - b wrapped to [-pi, pi)."""
    return (a - b + math.pi) % (2 * math.pi) - math.pi


def wrap_grip_yaw(yaw: float) -> float:
    """A parallel gripper is symmetric: keep the yaw within [-pi/2, pi/2]."""
    y = (yaw + math.pi / 2) % math.pi - math.pi / 2
    return y


@dataclass
class Motion:
    """Executes Cartesian and joint moves for one skill run and records what happened.

    Attributes:
        robot: the arm.
        safety: the limit checker.
        cancel: checked at every tick.
        path: tool-point positions sampled during the run (for the operator's checks).
        ticks: control ticks used.
        max_speed_fraction: the highest commanded speed fraction.
        keep_out: xy regions the tool point must not pass over (see :class:`KeepOut`).
        detours: names of the keep-outs a move went around during this run.
    """

    robot: Robot
    safety: SafetyChecker
    cancel: CancelToken
    path: list[list[float]] = field(default_factory=list)
    ticks: int = 0
    max_speed_fraction: float = 0.0
    keep_out: list[KeepOut] = field(default_factory=list)
    detours: list[str] = field(default_factory=list)

    def check_cancel(self) -> None:
        """Every tick: hold and raise when cancelled, or when joint states went stale (the watchdog).

        Raises:
            Interrupted: the cancel token was set.
            StaleStateError: the newest joint state is older than ``safety.joint_state_timeout``.
        """
        if self.cancel.cancelled:
            self.robot.hold()
            raise Interrupted(self.cancel.reason or "cancelled")
        age = self.robot.joint_state_age()
        if age > 0.0 or age != age:  # cheap path for robots that read their state directly
            try:
                self.safety.check_fresh(age)
            except SafetyError:
                self.robot.hold()
                raise

    def plan_cartesian(self, waypoints: Sequence[Sequence[float]], yaw: float) -> list[list[np.ndarray]]:
        """IK for a polyline of tool positions, every target and configuration checked first.

        Returns one list of joint waypoints per segment (from the current pose to
        ``waypoints[0]``, then between neighbours), ready for :meth:`follow`. A segment whose
        straight xy line crosses a keep-out region goes around it instead (its list then holds
        the detour's waypoints too), so callers keep one speed per segment.

        Raises:
            UnreachableError: a target outside the workspace or without IK solution.
            KeepOutError: a target inside a keep-out region, or no reachable way around one.
            Collision: a configuration would hit the table or a fixture.
        """
        start = self.robot.ee_pose()[0]
        pts = [np.asarray(start)] + [self.safety.check_target(w, "target") for w in waypoints]
        routes = self._route_segments(pts)
        if self.robot.holding() is None:
            # An empty parallel gripper is symmetric: yaw and yaw + pi are the same grasp. Prefer the one
            # that keeps the wrist joint mid-range, fall back to the other.
            goal = pts[-1]
            base_angle = math.atan2(goal[1], goal[0])
            now = self.robot.ee_pose()[1]

            def cost(y: float) -> float:
                wrist = WRIST_HOME - (y - base_angle)  # estimated wrist joint at the goal
                return abs(_angle_diff(y, now)) + (10.0 if abs(wrist) > 2.6 else 0.0)

            w = wrap_grip_yaw(yaw)
            options = sorted((w, w + math.pi, w - math.pi), key=cost)[:2]
            try:
                return self._plan(routes, options[0])
            except UnreachableError:
                return self._plan(routes, options[1])
        return self._plan(routes, yaw)

    # -- keep-out regions ------------------------------------------------------------------
    def _active_keep_outs(self, start: Sequence[float]) -> list[KeepOut]:
        """The keep-outs this move must respect: all but those the tool is already over.

        The arm may have to leave a region it is in (a correction arrived while it was over
        the glass); refusing every move then would strand it.
        """
        out = []
        for k in self.keep_out:
            if k.contains(start):
                log.warning("the tool is already over the keep-out region of %s; leaving it directly", k.name)
            else:
                out.append(k)
        return out

    def _route_segments(self, pts: list[np.ndarray]) -> list[list[list[np.ndarray]]]:
        """Candidate polylines (shortest first) for each segment of ``pts``; a straight one where nothing is in the way.

        Raises:
            KeepOutError: a target inside a keep-out region, or no way around one inside the workspace.
        """
        active = self._active_keep_outs(pts[0])
        for p in pts[1:]:
            for k in active:
                if k.contains(p):
                    raise KeepOutError(
                        f"target {np.round(p, 3).tolist()} is over the keep-out region of {k.name} "
                        f"(its footprint plus {KEEP_OUT_MARGIN:g} m)"
                    )
        routes: list[list[list[np.ndarray]]] = []
        for a, b in pairwise(pts):
            blocking = [k for k in active if k.crosses(a, b)]
            if not blocking:
                routes.append([[a, b]])
                continue
            vias = _detours_xy(a[:2], b[:2], active, self._workspace_xy())
            if not vias:
                names = ", ".join(sorted({k.name for k in blocking}))
                raise KeepOutError(
                    f"no way from {np.round(a, 3).tolist()} to {np.round(b, 3).tolist()} around the "
                    f"keep-out region of {names} inside the workspace"
                )
            routes.append([self._lift_polyline(a, b, via) for via in vias])
        return routes

    def _workspace_xy(self) -> tuple[np.ndarray, np.ndarray]:
        cfg = self.safety.config
        return np.asarray(cfg.workspace_min[:2], dtype=float), np.asarray(cfg.workspace_max[:2], dtype=float)

    @staticmethod
    def _lift_polyline(a: np.ndarray, b: np.ndarray, via: Sequence[np.ndarray]) -> list[np.ndarray]:
        """3-D polyline a -> via... -> b, height changing in proportion to the xy distance covered."""
        xy = [a[:2]] + [np.asarray(v, dtype=float) for v in via] + [b[:2]]
        legs = [float(np.linalg.norm(q - p)) for p, q in pairwise(xy)]
        total = sum(legs) or 1.0
        out = [a]
        done = 0.0
        for v, leg in zip(xy[1:-1], legs, strict=False):  # the last leg ends at b, no via point
            done += leg
            out.append(np.array([v[0], v[1], a[2] + (b[2] - a[2]) * done / total]))
        out.append(b)
        return out

    def _plan(self, routes: list[list[list[np.ndarray]]], yaw: float) -> list[list[np.ndarray]]:
        lo, hi = self.robot.joint_limits()
        seed = self.robot.joint_positions()
        segments: list[list[np.ndarray]] = []
        yaw0 = self.robot.ee_pose()[1]
        turn = _angle_diff(yaw, yaw0)
        for i, candidates in enumerate(routes):
            min_n = int(math.ceil(abs(turn) / YAW_SPACING)) if i == 0 else 1  # turn the hand over the first segment
            error: Exception | None = None
            for poly in candidates:
                try:
                    qs = self._ik_polyline(poly, min_n, yaw0, turn if i == 0 else None, yaw, seed, lo, hi)
                except (UnreachableError, Collision) as exc:
                    error = exc
                    continue
                break
            else:
                assert error is not None  # noqa: S101 - type narrowing: every failed try sets it
                if len(candidates[0]) == 2:  # a straight segment: its own error says it best
                    raise error
                a, b = candidates[0][0], candidates[0][-1]
                names = ", ".join(sorted({k.name for k in self.keep_out if k.crosses(a, b)}))
                raise KeepOutError(f"no reachable way around the keep-out region of {names}: {error}") from None
            if len(poly) > 2:
                for k in self.keep_out:
                    if k.crosses(poly[0], poly[-1]) and k.name not in self.detours:
                        self.detours.append(k.name)
            segments.append(qs)
            seed = qs[-1]
        return segments

    def _ik_polyline(
        self,
        poly: list[np.ndarray],
        min_n: int,
        yaw0: float,
        turn: float | None,
        yaw: float,
        seed: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> list[np.ndarray]:
        """Joint waypoints along ``poly``, at most WAYPOINT_SPACING apart, checked like every target."""
        legs = list(pairwise(poly))
        ns = [max(1, int(math.ceil(np.linalg.norm(b - a) / WAYPOINT_SPACING))) for a, b in legs]
        if sum(ns) < min_n:
            ns = [min_n] if len(ns) == 1 else [n * int(math.ceil(min_n / sum(ns))) for n in ns]
        total = sum(ns)
        for p in poly[1:-1]:  # detour corners: inside the workspace like any target
            self.safety.check_target(p, "detour waypoint")
        qs: list[np.ndarray] = []
        j = 0
        for (a, b), n in zip(legs, ns, strict=True):
            for k in range(1, n + 1):
                j += 1
                p = a + (b - a) * k / n
                y = yaw0 + turn * j / total if turn is not None else yaw
                q = self.robot.inverse_kinematics(p, y, seed=seed)
                if float(np.max(np.abs(q - seed))) > MAX_WAYPOINT_JUMP:
                    raise UnreachableError(f"no continuous path to {np.round(p, 3).tolist()} (the wrist would flip)")
                self.safety.check_joints(q, lo, hi)
                hit = self.robot.in_collision(q)
                if hit:
                    raise Collision(f"motion to {np.round(p, 3).tolist()} refused: {hit}")
                qs.append(q)
                seed = q
        return qs

    def follow(self, qs: Sequence[np.ndarray], speed: float) -> None:
        """Stream joint waypoints at ``speed`` (fraction of the max joint speed).

        Raises:
            Interrupted: the cancel token was set (the arm holds where it is).
        """
        step = self.safety.max_joint_step(speed, self.robot.control_dt)
        self.max_speed_fraction = max(self.max_speed_fraction, float(speed))
        current = self.robot.joint_positions()
        cmd = current.copy()
        for goal in qs:
            while True:
                self.check_cancel()
                delta = goal - cmd
                dist = float(np.max(np.abs(delta)))
                if dist <= 1e-9:
                    break
                cmd = cmd + delta * min(1.0, step / dist)
                self.robot.step(cmd)
                self._tick()
        # Settle: let the controller catch up with the last target.
        for _ in range(60):
            self.check_cancel()
            if float(np.max(np.abs(self.robot.joint_positions() - cmd))) < ARRIVE_TOL:
                break
            self.robot.step(cmd)
            self._tick()

    def move_to(self, position: Sequence[float], yaw: float, speed: float) -> None:
        """Straight-line tool move to ``position`` pointing down at ``yaw``."""
        self.follow(self.plan_cartesian([position], yaw)[0], speed)

    def follow_segments(self, segments: Sequence[Sequence[np.ndarray]], speeds: Sequence[float]) -> None:
        """Follow planned segments, each at its own speed fraction."""
        for seg, speed in zip(segments, speeds, strict=True):
            self.follow(seg, speed)

    def move_joints(self, q: np.ndarray, speed: float) -> None:
        """Joint-space move to ``q``, checked before it starts: limits, collisions and keep-outs along the way.

        When the tool would sweep over a keep-out region, it first goes to where the move ends
        by a Cartesian path around the region, then the joint move only reconfigures the arm there.

        Raises:
            SafetyError: ``q`` is outside the joint limits.
            Collision: a configuration on the straight joint-space path would hit the table or a fixture.
            KeepOutError: the tool would pass over a keep-out region and no detour avoids it.
        """
        lo, hi = self.robot.joint_limits()
        goal = np.asarray(q, dtype=float)
        self.safety.check_joints(goal, lo, hi)
        start = self.robot.joint_positions()
        self._check_joint_sweep(start, goal)
        lead: list[np.ndarray] = []
        over = self._sweep_keep_out(start, goal)
        if over:
            tool_goal = self.robot.forward_kinematics(goal)
            yaw = self.robot.ee_pose()[1]
            lead = [
                q_
                for seg in self.plan_cartesian([tool_goal], yaw if self.robot.holding() else wrap_grip_yaw(yaw))
                for q_ in seg
            ]
            self._check_joint_sweep(lead[-1], goal)
            still = self._sweep_keep_out(lead[-1], goal, active=self._active_keep_outs(self.robot.ee_pose()[0]))
            if still:
                raise KeepOutError(f"joint move refused: the tool would pass over the keep-out region of {still}")
            if over not in self.detours:
                self.detours.append(over)
        if lead:
            self.follow(lead, speed)
        self.follow([goal], speed)

    def _check_joint_sweep(self, start: np.ndarray, goal: np.ndarray) -> None:
        n = max(1, int(math.ceil(float(np.max(np.abs(goal - start))) / JOINT_CHECK_SPACING)))
        for k in range(1, n + 1):
            hit = self.robot.in_collision(start + (goal - start) * k / n)
            if hit:
                raise Collision(f"joint move refused: {hit}")

    def _sweep_keep_out(self, start: np.ndarray, goal: np.ndarray, active: list[KeepOut] | None = None) -> str | None:
        """The keep-out the tool point would pass over on the straight joint-space path, or None."""
        if not self.keep_out:
            return None
        if active is None:
            active = self._active_keep_outs(self.robot.forward_kinematics(start))
        if not active:
            return None
        n = max(1, int(math.ceil(float(np.max(np.abs(goal - start))) / KEEP_OUT_JOINT_SPACING)))
        for k in range(1, n + 1):
            p = self.robot.forward_kinematics(start + (goal - start) * k / n)
            for region in active:
                if region.contains(p):
                    return region.name
        return None

    def gripper(self, width: float, ticks: int = 25) -> float:
        self.check_cancel()
        w = self.robot.set_gripper(width, ticks=ticks, cancel=self.cancel)
        self.ticks += ticks
        self.check_cancel()
        return w

    def _tick(self) -> None:
        self.ticks += 1
        if self.ticks % 5 == 0:
            self.path.append([round(float(v), 4) for v in self.robot.ee_pose()[0]])


def _detours_xy(
    a: np.ndarray, b: np.ndarray, regions: Sequence[KeepOut], workspace: tuple[np.ndarray, np.ndarray]
) -> list[list[np.ndarray]]:
    """Ways from ``a`` to ``b`` (xy) around ``regions``, as lists of corner via-points, shortest first.

    A visibility graph over the regions' padded corners that lie inside the workspace and
    outside every region: the shortest path goes round the nearer side; the alternatives (each
    avoiding one corner of the best path) go the other way, for when the short side is unreachable.
    """
    lo, hi = workspace
    nodes = [np.asarray(a, dtype=float), np.asarray(b, dtype=float)]
    for k in regions:
        for c in k.corners():
            if np.all(c >= lo) and np.all(c <= hi) and not any(r.contains(c) for r in regions):
                nodes.append(c)
    n = len(nodes)
    dist = np.full((n, n), math.inf)
    for i in range(n):
        for j in range(i + 1, n):
            if not any(r.crosses(nodes[i], nodes[j]) for r in regions):
                dist[i, j] = dist[j, i] = float(np.linalg.norm(nodes[j] - nodes[i]))

    def shortest(banned: frozenset[int]) -> tuple[float, list[int]] | None:
        best = [math.inf] * n
        prev = [-1] * n
        best[0] = 0.0
        todo = set(range(n)) - banned
        while todo:
            u = min(todo, key=lambda x: best[x])
            if best[u] == math.inf:
                return None
            todo.discard(u)
            if u == 1:
                path = [1]
                while path[-1] != 0:
                    path.append(prev[path[-1]])
                return best[1], path[::-1]
            for v in todo:
                d = best[u] + dist[u, v]
                if d < best[v]:
                    best[v], prev[v] = d, u
        return None

    first = shortest(frozenset())
    if first is None:
        return []
    found = {tuple(first[1]): first[0]}
    for node in first[1][1:-1]:
        alt = shortest(frozenset({node}))
        if alt is not None:
            found.setdefault(tuple(alt[1]), alt[0])
    ranked = sorted(found.items(), key=lambda kv: kv[1])[:DETOUR_CANDIDATES]
    return [[nodes[i] for i in path[1:-1]] for path, _ in ranked]


__all__ = [
    "Motion",
    "Interrupted",
    "Collision",
    "KeepOut",
    "KeepOutError",
    "KEEP_OUT_MARGIN",
    "StaleStateError",
    "UnreachableError",
    "wrap_grip_yaw",
]
