"""Preparatory steps as candidates: opening a closed drawer first is offered next to the shortest
plan, the symbolic backend keeps the shortest, and a backend's scores (less the detour penalty)
decide between them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from robot_agent.config import PolicyConfig
from robot_agent.policy import LocalBackend, LocalChatModel, Planner, SymbolicBackend
from robot_agent.policy.backends import PolicyBackend, RankRequest, RankResult

TASK = "put the red block in the drawer"


class PrefixBackend(PolicyBackend):
    """Scores a candidate by how it starts: a real ranking, with fixed preferences per skill.

    Scores ``bonus`` for candidates starting with ``prefix`` and 0 for the rest, so a test can
    set the margin the planner must weigh against its detour penalty.
    """

    name = "prefix"

    def __init__(self, prefix: str, bonus: float) -> None:
        self.prefix = prefix
        self.bonus = bonus
        self.requests: list[RankRequest] = []

    def rank(self, request: RankRequest) -> RankResult:
        self.requests.append(request)
        return RankResult([self.bonus if c.startswith(self.prefix) else 0.0 for c in request.candidates], "loglik")


def _first(plan):  # noqa: ANN001, ANN202
    return plan.trace[0]


def test_open_first_is_a_candidate_and_the_symbolic_backend_keeps_the_shortest(scenes: SimpleNamespace) -> None:
    plan = Planner(SymbolicBackend()).plan(TASK, scenes.drawer())
    assert plan.texts() == ["pick(red_block)", "place(red_block, cabinet)"]
    cands = {c.call: c.steps_to_goal for c in _first(plan).candidates}
    assert cands == {"pick(red_block)": 2, "open(cabinet)": 3}
    assert [c.call for c in _first(plan).candidates][0] == "pick(red_block)"  # shortest first
    scenes.assert_valid(plan, scenes.drawer())


def test_no_open_candidate_when_the_drawer_is_open_or_not_the_destination(scenes: SimpleNamespace) -> None:
    planner = Planner(SymbolicBackend())
    opened = planner.plan(TASK, scenes.drawer(opening=0.2))
    assert [c.call for c in _first(opened).candidates] == ["pick(red_block)"]
    tabletop = planner.plan("stack the red block on the blue block", scenes.tabletop())
    assert all(not c.call.startswith("open(") for t in tabletop.trace for c in t.candidates)


@pytest.mark.parametrize(
    "bonus, penalty, expected",
    [
        (0.5, 0.3, ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"]),
        (0.2, 0.3, ["pick(red_block)", "place(red_block, cabinet)"]),
        (0.2, 0.0, ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"]),
    ],
)
def test_scores_less_the_detour_penalty_decide(
    scenes: SimpleNamespace, bonus: float, penalty: float, expected: list[str]
) -> None:
    backend = PrefixBackend("open(", bonus)
    plan = Planner(backend, detour_penalty=penalty).plan(TASK, scenes.drawer())
    assert plan.texts() == expected
    scenes.assert_valid(plan, scenes.drawer())
    assert backend.requests[0].candidates == ["pick(red_block)", "open(cabinet)"]
    assert _first(plan).how == "llm"


def test_the_penalty_comes_from_the_config() -> None:
    planner = Planner.from_config(PolicyConfig(backend="symbolic", detour_penalty=1.25))
    assert planner.detour_penalty == 1.25
    with pytest.raises(ValueError, match="detour_penalty"):
        Planner(SymbolicBackend(), detour_penalty=-1.0)


def test_the_local_model_scores_both_and_the_planner_applies_the_penalty(
    smollm2: LocalChatModel, scenes: SimpleNamespace
) -> None:
    """Whatever the untrained model prefers, the choice is its mean log-prob less the penalty."""
    objects = scenes.drawer_novel()
    task = "place the blue cylinder inside the cabinet drawer"
    backend = LocalBackend(smollm2)
    free = Planner(backend, detour_penalty=0.0).plan(task, objects)
    scored = {c.call: c.llm for c in _first(free).candidates}
    assert set(scored) == {"pick(blue_cylinder)", "open(white_cabinet)"} and None not in scored.values()
    best = max(scored, key=lambda k: scored[k])
    assert free.texts()[0] == best
    margin = scored["open(white_cabinet)"] - scored["pick(blue_cylinder)"]
    strict = Planner(backend, detour_penalty=max(margin, 0.0) + 0.05).plan(task, objects)
    assert strict.texts() == ["pick(blue_cylinder)", "place(blue_cylinder, white_cabinet)"]
    scenes.assert_valid(free, objects)
