"""Run scenarios end to end in PyBullet: the harness shared by ``robot-agent run``, the demo,
the benchmark and the tests. It wires the world, the camera, the (simulated or human) operator
and the agent; the agent itself never sees the scenario's hidden block. Rounds of scenarios
share one knowledge base: that is how the agent learns from one task to the next.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from robot_agent.agent import Agent
from robot_agent.config import AgentConfig
from robot_agent.episode import EpisodeResult
from robot_agent.scenarios.transcript import transcript_printer
from sim.camera import Camera
from sim.operator import SimulatedOperator, check_success
from sim.phrases import PhraseBank
from sim.scenario import Scenario
from sim.world import SimWorld

log = logging.getLogger(__name__)


@dataclass
class EpisodeOutcome:
    """One scenario run: the agent's record plus the hidden success check."""

    scenario: str
    family: str
    split: str
    result: EpisodeResult
    success: bool
    why_failed: list[str] = field(default_factory=list)
    corrections: int = 0
    wall_s: float = 0.0
    false_transfers: int = 0
    knowledge_caused: int = 0  # corrections of a decision a remembered item made

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "family": self.family,
            "split": self.split,
            "corrections": self.corrections,
            "success": self.success,
            "why_failed": self.why_failed,
            "knowledge_used": [k.get("rule") for k in self.result.knowledge_used],
            "knowledge_decisions": [f"{k.get('rule')} -> {k.get('decision')}" for k in self.result.knowledge_used],
            "knowledge_skipped": [
                f"{k.get('rule')}: {k.get('event')} ({k.get('reason')})" for k in self.result.knowledge_skipped
            ],
            "knowledge_distilled": [k.get("rule") for k in self.result.knowledge_distilled],
            "false_transfers": self.false_transfers,
            "knowledge_caused_corrections": self.knowledge_caused,
            "wall_s": round(self.wall_s, 2),
        }


def _human_operator(agent: Agent, stream: TextIO, done: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not done.is_set():
            line = stream.readline()
            if not line:
                return
            if line.strip():
                agent.submit_correction(line.strip(), "typed")

    t = threading.Thread(target=loop, name="operator-input", daemon=True)
    t.start()
    return t


def run_scenario(
    scenario: Scenario,
    *,
    policy: Any,
    kb: Any,
    parser: Any,
    config: AgentConfig,
    seed: int = 0,
    memory_mode: str = "full",
    operator: str = "sim",
    gui: bool = False,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    episode_logger: Any = None,
    cap: int = 8,
    stdin: TextIO | None = None,
    log_dir: str | Path | None = None,
    phrases: PhraseBank | None = None,
) -> EpisodeOutcome:
    """Run one scenario once.

    Args:
        scenario: what to run.
        policy/kb/parser: the agent's components (the KB persists across calls: that is learning).
        config: agent configuration (sim and safety sections are used here too).
        seed: seeds the operator's phrase choice.
        memory_mode: see :data:`robot_agent.agent.MEMORY_MODES`.
        operator: ``"sim"`` (the simulated operator corrects) or ``"human"`` (type corrections on stdin).
        gui: show the PyBullet GUI.
        cap: most corrections the simulated operator gives per task.
        log_dir: when given, the episode is recorded as a rosbag2 (MCAP) directory in it.
        phrases: the simulated operator's phrase bank (default: the built-in bank A).
    """
    sim_cfg = config.sim
    if gui:
        sim_cfg = replace(sim_cfg, gui=True)
    if operator == "human":
        # A person has to see the arm move and type in time: the sim runs at wall-clock speed.
        sim_cfg = replace(sim_cfg, real_time=True)
    t0 = time.perf_counter()
    with SimWorld(scenario.scene, sim_cfg, config.safety) as world:
        camera = Camera(world)
        op = SimulatedOperator(scenario, seed=seed, cap=cap, phrases=phrases) if operator == "sim" else None
        episode_id = f"{scenario.name}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}-{int(time.time() * 1000) % 1000:03d}"
        if log_dir is not None and episode_logger is None:
            from robot_agent.logs.recording import EpisodeRecorder

            episode_logger = EpisodeRecorder(
                Path(log_dir) / episode_id,
                episode_id,
                task=scenario.task,
                scene=scenario.public()["scene"],
                robot=world.robot,
                camera=camera,
                meta={"scenario": scenario.name, "memory_mode": memory_mode, "operator": operator},
            )
        agent = Agent(
            world.robot,
            policy,
            kb,
            parser,
            config,
            camera=camera,
            on_event=on_event,
            observer=op,
            memory_mode=memory_mode,
            max_corrections=cap + 2,
            episode_logger=episode_logger,
        )
        done = threading.Event()
        if operator == "human":
            _human_operator(agent, stdin or sys.stdin, done)
        try:
            result = agent.run_task(scenario.task, episode_id=episode_id)
        finally:
            done.set()
        objects = world.robot.perceive()
        ok, why = check_success(scenario, objects, result.succeeded_calls())
        ok = ok and result.state.value == "done"
        if result.state.value != "done":
            # What the agent said (a task it could not understand, a question left unanswered) comes
            # first: the scene check alone would hide why nothing happened.
            why = [f"{result.state.value}: {result.reason or 'no reason given'}"] + why
        if episode_logger is not None and hasattr(episode_logger, "finish"):
            episode_logger.finish(
                ok, corrections=result.n_corrections, reason="; ".join(why), agent_state=result.state.value
            )
    n = result.n_corrections
    # Attribution (robot_agent.applicability): a correction is knowledge-caused when it changed a decision
    # (a parameter value, a destination, an order) that a remembered item made; a false transfer is an item
    # that changed a decision on this episode which the operator then corrected (counted once per item).
    from robot_agent.applicability import knowledge_caused

    caused = knowledge_caused(result)
    false = len({item_id for _, item_id in caused})
    return EpisodeOutcome(
        scenario.name,
        scenario.family,
        scenario.split,
        result,
        ok,
        why,
        n,
        time.perf_counter() - t0,
        false,
        len({i for i, _ in caused}),
    )


def build_components(config: Any, kb_dir: str | Path | None, *, memory: bool = True) -> tuple[Any, Any, Any]:
    """The default policy, knowledge base and understanding layer from config (models loaded once)."""
    from memory import open_knowledge_base
    from robot_agent.language import make_language_layer
    from robot_agent.policy import make_planner

    policy = make_planner(config)
    kb = None
    if memory:
        if kb_dir is not None:
            config.memory.kb_dir = str(kb_dir)
        kb = open_knowledge_base(config.memory)
    return policy, kb, make_language_layer(config, embedder=getattr(kb, "text", None), kb=kb)


def run_rounds(
    scenarios_per_round: list[list[Any]],
    *,
    config: Any,
    kb_dir: Path,
    seed: int = 0,
    memory_mode: str = "full",
    operator: str = "sim",
    gui: bool = False,
    quiet: bool = False,
    components: tuple[Any, Any, Any] | None = None,
    log_dir: str | Path | None = None,
    phrases: Any = None,
) -> list[list[Any]]:
    """Run rounds of scenarios with one knowledge base; returns outcomes per round (``phrases``: the
    simulated operator's phrase bank, ``sim.phrases.PhraseBank``; None: the built-in one)."""
    policy, kb, parser = components or build_components(config, kb_dir, memory=memory_mode != "no-memory")
    printer = transcript_printer((lambda s: None) if quiet else print)
    rounds = []
    try:
        for r, scenarios in enumerate(scenarios_per_round, 1):
            outs = []
            for sc in scenarios:
                if not quiet:
                    print(f'\n== round {r}: {sc.name} ({sc.split}) — task: "{sc.task}"')
                o = run_scenario(
                    sc,
                    policy=policy,
                    kb=kb,
                    parser=parser,
                    config=config,
                    seed=seed,
                    memory_mode=memory_mode,
                    operator=operator,
                    gui=gui,
                    on_event=printer,
                    log_dir=log_dir,
                    phrases=phrases,
                )
                if not quiet:
                    verdict = "succeeded" if o.success else f"FAILED ({'; '.join(o.why_failed)})"
                    print(f"  => {verdict} with {o.corrections} correction(s) in {o.wall_s:.1f} s")
                outs.append(o)
            rounds.append(outs)
    finally:
        if kb is not None and components is None:
            kb.close()
    return rounds
