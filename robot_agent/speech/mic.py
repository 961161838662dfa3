"""Microphone input (sounddevice / PortAudio), push-to-talk and continuous listening."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from robot_agent.deps import require
from robot_agent.errors import SpeechError
from robot_agent.speech.audio import SAMPLE_RATE, pcm_to_int16
from robot_agent.speech.recognizers import Transcript
from robot_agent.speech.segment import SpeechListener

log = logging.getLogger(__name__)


def _sounddevice() -> Any:
    try:
        return require("sounddevice", "microphone input")
    except OSError as exc:  # the module is there but PortAudio is not
        raise SpeechError(
            f"no audio input available ({exc}); install PortAudio: apt-get install -y libportaudio2"
        ) from None


class MicrophoneSource:
    """Mono 16-bit microphone input through ``sounddevice`` (PortAudio).

    Use as a context manager; :meth:`frames` yields blocks of ``block_s`` seconds.

    Args:
        sample_rate: capture rate (Hz); 16000 suits the recognizers.
        device: input device name or index ("" / None = the system default).
        block_s: seconds per block.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, device: str | int | None = None, block_s: float = 0.03) -> None:
        self.sample_rate = int(sample_rate)
        self.device = device if device not in ("", None) else None
        self.block = max(1, int(round(block_s * sample_rate)))
        self._stream: Any = None

    def __enter__(self) -> MicrophoneSource:
        sd = _sounddevice()
        try:
            self._stream = sd.RawInputStream(
                samplerate=self.sample_rate, blocksize=self.block, device=self.device, channels=1, dtype="int16"
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError, OSError) as exc:
            raise SpeechError(f"cannot open the microphone {self.device or '(default)'}: {exc}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None

    def read(self) -> np.ndarray:
        """The next block of samples (blocks until it is recorded)."""
        if self._stream is None:
            raise SpeechError("the microphone is not open (use MicrophoneSource as a context manager)")
        data, overflowed = self._stream.read(self.block)
        if overflowed:
            log.warning("microphone input overflowed: audio was lost")
        return np.frombuffer(bytes(data), "<i2").astype(np.int16)

    def frames(self) -> Iterator[np.ndarray]:
        """Blocks of samples, forever."""
        while True:
            yield self.read()


def record_push_to_talk(
    frames: Iterable[np.ndarray], released: threading.Event, max_s: float = 15.0, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Collect audio from ``frames`` until ``released`` is set (push-to-talk), at most ``max_s``.

    ``frames`` is a :meth:`MicrophoneSource.frames` generator (or any iterable of
    sample blocks); the caller sets ``released`` when the operator lets go of
    the key. Transcribe the result with :meth:`SpeechRecognizer.transcribe`.
    """
    got: list[np.ndarray] = []
    total = 0
    for block in frames:
        got.append(pcm_to_int16(block))
        total += got[-1].size
        if released.is_set() or total >= max_s * sample_rate:
            break
    return np.concatenate(got) if got else np.zeros(0, np.int16)


def listen_continuous(
    listener: SpeechListener,
    frames: Iterable[np.ndarray],
    on_transcript: Callable[[Transcript], None],
    stop_listening: threading.Event | None = None,
) -> None:
    """Feed ``frames`` to ``listener`` and hand each transcript to ``on_transcript``.

    Stops when ``stop_listening`` is set or the frames run out (then flushes).
    """
    for block in frames:
        for t in listener.feed(block):
            on_transcript(t)
        if stop_listening is not None and stop_listening.is_set():
            break
    for t in listener.flush():
        on_transcript(t)
