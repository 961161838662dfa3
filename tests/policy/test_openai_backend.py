"""The openai backend against a real HTTP server on 127.0.0.1 speaking the OpenAI chat API.

The server is the true boundary: it answers with scripted replies (a number, garbage,
an error, or too late) and records every request it got.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from robot_agent.config import AgentConfig, PolicyConfig
from robot_agent.errors import ConfigError
from robot_agent.policy import OpenAIBackend, Planner, make_backend, make_planner
from robot_agent.policy.resilience import ResilientBackend
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as s:
        yield s


def _planner(server: FakeOpenAI, timeout: float = 5.0) -> Planner:
    # on_failure=fallback and one retry: these tests are about the backend and its fallback;
    # retry-then-stop (the default) is covered in tests/reliability/test_faults.py.
    cfg = PolicyConfig(
        backend="openai",
        base_url=server.url,
        model="tiny-test",
        api_key="sk-test",
        timeout_s=timeout,
        on_failure="fallback",
        retries=1,
        retry_backoff_s=0.0,
    )
    return make_planner(cfg)


TASK = "put a block in the tray"  # three blocks fit: the model's choice decides which


def test_a_good_answer_picks_the_candidate(server: FakeOpenAI, scenes: SimpleNamespace) -> None:
    server.replies = ["2"]
    planner = _planner(server)
    assert isinstance(planner.backend, ResilientBackend) and isinstance(planner.backend.inner, OpenAIBackend)
    plan = planner.plan(TASK, scenes.blocks())
    assert plan.texts() == ["pick(blue_block)", "place(blue_block, tray)"]
    assert plan.trace[0].how == "choice" and plan.llm_calls == 1 and plan.fallbacks == 0
    scenes.assert_valid(plan, scenes.blocks())
    req = server.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["body"]["model"] == "tiny-test"
    assert req["auth"] == "Bearer sk-test"
    prompt = req["body"]["messages"][-1]["content"]
    assert "1. pick(red_block)\n2. pick(blue_block)\n3. pick(green_block)" in prompt
    assert "Task: put a block in the tray" in prompt and "number" in prompt


def test_garbage_is_asked_again_once(server: FakeOpenAI, scenes: SimpleNamespace) -> None:
    server.replies = ["I would pick the green block because it is nice.", " 3 "]
    plan = _planner(server).plan(TASK, scenes.blocks())
    assert plan.texts()[0] == "pick(green_block)" and plan.trace[0].how == "choice"
    assert len(server.requests) == 2
    assert "digits only" in server.requests[1]["body"]["messages"][-1]["content"]


@pytest.mark.parametrize("replies", [["maybe", "pick(blue_block)"], ["7", "0"], [500, 500]])
def test_unusable_answers_fall_back_to_the_symbolic_order(
    server: FakeOpenAI, scenes: SimpleNamespace, replies: list[Any]
) -> None:
    server.replies = list(replies)
    plan = _planner(server).plan(TASK, scenes.blocks())
    # Still a valid plan to the goal: the planner's own order (first candidate).
    assert plan.texts() == ["pick(red_block)", "place(red_block, tray)"]
    assert plan.trace[0].how == "fallback" and plan.fallbacks == 1
    assert any("no usable ranking" in w for w in plan.warnings)
    assert len(server.requests) == 2  # the retry layer asks once more, a server error too


def test_a_slow_server_times_out_and_falls_back(server: FakeOpenAI, scenes: SimpleNamespace) -> None:
    server.replies = [("sleep", 10.0, "2")]
    t0 = time.monotonic()
    plan = _planner(server, timeout=0.5).plan(TASK, scenes.blocks())
    assert time.monotonic() - t0 < 5.0
    assert plan.texts() == ["pick(red_block)", "place(red_block, tray)"]
    assert plan.trace[0].how == "fallback" and "Timeout" in plan.warnings[0]


def test_forced_steps_never_ask_the_server(server: FakeOpenAI, scenes: SimpleNamespace) -> None:
    plan = _planner(server).plan("put the red block in the drawer", scenes.drawer(), ["open the drawer first"])
    assert plan.texts() == ["open(cabinet)", "pick(red_block)", "place(red_block, cabinet)"]
    assert server.requests == [] and plan.llm_calls == 0


def test_factory_choices_and_errors() -> None:
    with pytest.raises(ConfigError, match="valid: local, openai, symbolic"):
        PolicyConfig(backend="llama")
    cfg = PolicyConfig(backend="symbolic")
    cfg.backend = "gpt9"  # mutated after validation: the factory checks again
    with pytest.raises(ConfigError, match="unknown policy backend 'gpt9'; valid: local, openai, symbolic"):
        make_backend(cfg)
    with pytest.raises(ConfigError, match="policy.model"):
        PolicyConfig(backend="openai")
    with pytest.raises(ConfigError, match="PolicyConfig or AgentConfig"):
        make_backend({"backend": "local"})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="score"):
        PolicyConfig(score="max")
    with pytest.raises(ConfigError, match="timeout_s"):
        PolicyConfig(timeout_s=0)
    assert make_backend(PolicyConfig(backend="symbolic")).name == "symbolic"
    agent = AgentConfig.from_params({"policy.backend": "symbolic", "policy.max_steps": 5})
    planner = make_planner(agent)
    assert planner.max_steps == 5 and planner.backend.name == "symbolic"
    with pytest.raises(ConfigError, match="unknown parameter"):
        AgentConfig.from_params({"policy.temperature": 0.3})
    shipped = AgentConfig.load()
    assert shipped.policy == PolicyConfig()
    local = make_backend(PolicyConfig(), load=False)
    assert local.name == "local" and local.model.model_dir is None  # nothing loaded yet
