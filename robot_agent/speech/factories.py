"""Recognizers and listeners from the ``speech.*`` configuration."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from robot_agent.errors import SpeechError
from robot_agent.speech.grammar import build_grammar
from robot_agent.speech.recognizers import BACKENDS, PocketSphinxRecognizer, SpeechRecognizer, WhisperRecognizer
from robot_agent.speech.segment import SpeechListener, StopSpotter, UtteranceSegmenter
from robot_agent.speech.stops import STOP_KEYPHRASES

if TYPE_CHECKING:  # pragma: no cover
    from robot_agent.config import SpeechConfig


def make_recognizer(
    config: SpeechConfig, objects: Iterable[str] = (), extra_phrases: Iterable[str] = ()
) -> SpeechRecognizer:
    """The recognizer ``config.backend`` names.

    Raises:
        SpeechError: an unknown backend (naming the valid ones), or a model that
            cannot be loaded.
    """
    if config.backend == "pocketsphinx":
        return PocketSphinxRecognizer(
            build_grammar(objects, extra_phrases, wake_word=config.wake_word), noise_floor=config.noise_floor
        )
    if config.backend == "whisper":
        return WhisperRecognizer(config.whisper_model_path, device=config.whisper_device, wake_word=config.wake_word)
    raise SpeechError(f"unknown speech backend {config.backend!r}; valid: {', '.join(BACKENDS)}")


def stop_keyphrases(config: SpeechConfig) -> dict[str, float]:
    """The spotter's keyphrases and thresholds from ``speech.stop_keyphrase`` / ``speech.stop_threshold``.

    ``"stop"`` (the default) means every stop-like keyphrase of :data:`STOP_KEYPHRASES`
    ("stop", "freeze", "hold on", "don't move"...) at its tuned threshold, "stop" at
    ``stop_threshold``; any other value is a comma-separated list of phrases, each at
    ``stop_threshold``; "" turns spotting off (an empty dict).
    """
    value = config.stop_keyphrase.strip()
    if not value:
        return {}
    if value == "stop":
        return {**STOP_KEYPHRASES, "stop": float(config.stop_threshold)}
    return {p.strip(): float(config.stop_threshold) for p in value.split(",") if p.strip()}


def make_listener(config: SpeechConfig, recognizer: SpeechRecognizer, hearer: Any = None) -> SpeechListener:
    """A :class:`SpeechListener` set up from ``config`` around ``recognizer``.

    With a :class:`robot_agent.speech.Hearer`, each utterance is heard with both decodes
    (then pass ``hearer.grammar`` as ``recognizer``).
    """
    spotter = None
    phrases = stop_keyphrases(config)
    if phrases:
        spotter = StopSpotter(phrases, sample_rate=recognizer.sample_rate, noise_floor=config.noise_floor)
    segmenter = UtteranceSegmenter(
        sample_rate=recognizer.sample_rate,
        threshold_db=config.vad_threshold_db,
        end_silence_s=config.end_silence_s,
        max_utterance_s=config.max_utterance_s,
        floor_window_s=max(2.0, config.end_silence_s + 1.0),
    )
    wake = config.wake_word if config.mode == "continuous" else ""
    return SpeechListener(
        recognizer, spotter, segmenter, wake_word=wake, min_confidence=config.min_confidence, hearer=hearer
    )
