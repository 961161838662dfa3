"""Safety limits enforced below every skill: workspace box, joint limits, joint speed,
table/fixture collisions. Limits come from :class:`robot_agent.config.SafetyConfig`
and nothing at run time (a correction, the LLM, a knowledge item) can widen them:
the checker keeps its own frozen copy.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from robot_agent.config import SafetyConfig
from robot_agent.errors import RobotLinkError, SafetyError, UnreachableError


class StaleStateError(RobotLinkError):
    """The robot's joint states stopped arriving: moving on them would be blind."""


class SafetyChecker:
    """Checks Cartesian targets and joint trajectories against the configured limits."""

    def __init__(self, config: SafetyConfig) -> None:
        self._cfg = copy.deepcopy(config)
        self._lo = np.array(self._cfg.workspace_min, dtype=float)
        self._hi = np.array(self._cfg.workspace_max, dtype=float)

    @property
    def config(self) -> SafetyConfig:
        """A copy: changing it changes nothing here."""
        return copy.deepcopy(self._cfg)

    def check_target(self, position: Sequence[float], what: str = "target") -> np.ndarray:
        """Refuse a tool-point target outside the workspace box or below the table margin.

        Raises:
            UnreachableError: with the offending coordinate and the limit.
        """
        try:
            p = np.asarray(position, dtype=float)
        except (TypeError, ValueError):
            raise UnreachableError(f"{what} {position!r} is not a finite 3-D point") from None
        if p.shape != (3,) or not np.all(np.isfinite(p)):
            raise UnreachableError(f"{what} {position!r} is not a finite 3-D point")
        axes = "xyz"
        for i in range(3):
            if p[i] < self._lo[i] - 1e-9 or p[i] > self._hi[i] + 1e-9:
                raise UnreachableError(
                    f"{what} {np.round(p, 3).tolist()} is outside the workspace: {axes[i]}={p[i]:.3f} m "
                    f"not in [{self._lo[i]:.3f}, {self._hi[i]:.3f}]"
                )
        if p[2] < self._cfg.min_tool_height - 1e-9:
            raise UnreachableError(
                f"{what} {np.round(p, 3).tolist()} is below the table margin ({self._cfg.min_tool_height} m)"
            )
        return p

    @property
    def joint_state_timeout(self) -> float:
        """Seconds after which joint states count as stale (the watchdog halts the arm)."""
        return float(self._cfg.joint_state_timeout)

    def check_fresh(self, age: float) -> None:
        """Refuse to move on joint states older than ``safety.joint_state_timeout``.

        Raises:
            StaleStateError: with the age and the limit.
        """
        if not age <= self._cfg.joint_state_timeout:  # also catches NaN
            raise StaleStateError(
                f"joint-state watchdog: joint states are {age:.3f} s old (limit {self._cfg.joint_state_timeout:g} s, "
                f"safety.joint_state_timeout): the arm was halted"
            )

    def check_joints(self, q: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        """Refuse joint positions outside the joint limits."""
        bad = np.nonzero((q < lower - 1e-6) | (q > upper + 1e-6))[0]
        if bad.size:
            j = int(bad[0])
            raise SafetyError(f"joint {j + 1} at {q[j]:.3f} rad is outside [{lower[j]:.3f}, {upper[j]:.3f}]")

    def max_joint_step(self, speed_fraction: float, dt: float) -> float:
        """Largest joint change per tick at a speed fraction (clamped to (0, 1])."""
        frac = float(np.clip(speed_fraction, 0.01, 1.0))
        return self._cfg.max_joint_speed * frac * dt
