"""Fault handling around a policy backend: retry with backoff, then a safe stop or the symbolic order.

A language-model backend can fail in four ways: it times out, it raises (server down,
out of memory, a broken model file), it answers nothing, or it answers garbage (no
usable ranking). :class:`ResilientBackend` wraps any :class:`PolicyBackend` and retries
each of these with exponential backoff, within the planner's time budget; it is the only
retry layer (the backends ask once per call, the OpenAI client does not retry). When every
try failed it either raises :class:`BackendUnavailableError` (``on_failure="stop"``),
which the agent turns into a safe stop (the arm holds) and a question to the operator, or
answers "no usable ranking" (``on_failure="fallback"``), which makes the planner keep its
symbolic order. It never lets a half-answer through, and it never invents a ranking.

The backend only ever ranks candidate calls that the planner built from registered
skills with validated parameters, so nothing a model says can reach the arm as a call.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace

from robot_agent.errors import PolicyError
from robot_agent.policy.backends import PolicyBackend, RankRequest, RankResult

log = logging.getLogger(__name__)

#: what ResilientBackend does when no try gave a usable answer
ON_FAILURE = ("stop", "fallback")


class BackendUnavailableError(PolicyError):
    """The policy backend gave no usable answer after every retry.

    Attributes:
        attempts: how many times the backend was asked.
        failures: one line per failed try ("TimeoutError: ...", "no usable answer: ...").
    """

    def __init__(self, message: str, attempts: int, failures: list[str]) -> None:
        super().__init__(message)
        self.attempts = attempts
        self.failures = list(failures)


class ResilientBackend(PolicyBackend):
    """Retries a backend's unusable answers with exponential backoff, then gives up as told.

    Args:
        inner: the backend that does the ranking.
        retries: extra tries after the first (0 = ask once). Each try gets
            ``RankRequest.attempt`` (0 for the first), so a backend can ask a repeated question
            more strictly.
        backoff_s: wait before the first retry; doubled before each further one.
        max_backoff_s: cap on one wait.
        on_failure: when no try gave a usable answer: ``"stop"`` raises
            :class:`BackendUnavailableError`; ``"fallback"`` answers ``scores=None`` (method
            ``"fallback"``, every failure in ``detail``) and the planner keeps its symbolic order.
        sleep: how to wait (``time.sleep``; tests of timing pass their own clock's sleep).

    Raises:
        ValueError: a negative retry count, a non-finite / negative backoff or an unknown
            ``on_failure``.
    """

    def __init__(
        self,
        inner: PolicyBackend,
        *,
        retries: int = 2,
        backoff_s: float = 0.2,
        max_backoff_s: float = 2.0,
        on_failure: str = "stop",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries must be a whole number >= 0, got {retries!r}")
        for name, v in (("backoff_s", backoff_s), ("max_backoff_s", max_backoff_s)):
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if on_failure not in ON_FAILURE:
            raise ValueError(f"on_failure must be one of {', '.join(ON_FAILURE)}, got {on_failure!r}")
        self.inner = inner
        self.retries = retries
        self.on_failure = on_failure
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.name = inner.name
        self.chat_model = inner.chat_model
        #: every failed try so far, for the reliability figures
        self.failures_seen = 0
        #: every wait, in seconds, in order
        self.waits: list[float] = []

    def __getattr__(self, attr: str) -> object:
        # Anything else (the local backend's ``model``, its scoring mode...) is the wrapped
        # backend's: callers that inspect or warm up the backend keep working through the wrapper.
        if attr == "inner":  # not set yet (during __init__ or unpickling): no recursion
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def describe(self) -> str:
        return f"{self.inner.describe()} (retries {self.retries}, backoff {self.backoff_s:g} s, then {self.on_failure})"

    def rank(self, request: RankRequest) -> RankResult:
        """Rank with retries.

        Raises:
            BackendUnavailableError: with ``on_failure="stop"``: every try raised, timed out or
                gave no usable scores.
        """
        n = len(request.candidates)
        failures: list[str] = []
        wait = self.backoff_s
        attempts = 0
        for attempt in range(self.retries + 1):
            attempts += 1
            try:
                res = self.inner.rank(replace(request, attempt=attempt))
            except Exception as exc:  # noqa: BLE001 - any backend fault counts as a failed try
                failures.append(f"{type(exc).__name__}: {exc}")
            else:
                problem = _unusable(res, n)
                if problem is None:
                    return res
                failures.append(problem)
            self.failures_seen += 1
            log.warning(
                "policy backend %s: try %d of %d failed: %s",
                self.inner.name,
                attempt + 1,
                self.retries + 1,
                failures[-1],
            )
            if attempt == self.retries:
                break
            if request.deadline is not None and time.monotonic() + wait > request.deadline:
                failures.append("the plan time budget would run out before the next try")
                break
            self.waits.append(wait)
            self._sleep(wait)
            wait = min(wait * 2.0, self.max_backoff_s)
        if self.on_failure == "fallback":
            tries = f"{attempts} tr{'y' if attempts == 1 else 'ies'}"
            return RankResult(
                None, "fallback", f"{tries}: " + "; ".join(failures), {"attempts": attempts, "failures": failures}
            )
        raise BackendUnavailableError(
            f"the {self.inner.name} policy backend gave no usable answer in {attempts} tries (last: {failures[-1]})",
            attempts,
            failures,
        )


def _unusable(res: RankResult, n: int) -> str | None:
    """Why a result cannot be used as a ranking, or None when it can."""
    if res.method == "symbolic":
        return None  # a backend that never ranks: the planner's own order is its answer
    if res.scores is None:
        return f"no usable answer ({res.detail or res.method})"
    if len(res.scores) != n:
        return f"{len(res.scores)} scores for {n} candidates"
    if not all(isinstance(s, (int, float)) and math.isfinite(s) for s in res.scores):
        return "non-finite scores"
    return None


__all__ = ["ON_FAILURE", "BackendUnavailableError", "ResilientBackend"]
