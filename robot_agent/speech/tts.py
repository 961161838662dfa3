"""Speech synthesis with espeak-ng, for tests, benchmarks and demos."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from robot_agent.errors import SpeechError
from robot_agent.speech.audio import SAMPLE_RATE, read_wav


def synthesize(
    text: str,
    voice: str = "en-us",
    words_per_minute: int = 175,
    sample_rate: int = SAMPLE_RATE,
    espeak: str = "espeak-ng",
) -> np.ndarray:
    """Speak ``text`` with espeak-ng; mono 16-bit samples at ``sample_rate``.

    For tests, benchmarks and demos (a spoken correction without a microphone).
    The result holds exact digital silence around and between words.

    Raises:
        SpeechError: espeak-ng is not installed or fails.
    """
    exe = shutil.which(espeak)
    if exe is None:
        raise SpeechError(f"{espeak} is not installed; install it with: apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory(prefix="robot_agent_tts_") as tmp:
        wav = Path(tmp) / "speech.wav"
        try:
            subprocess.run(  # noqa: S603 - espeak-ng by path with an argument list; the text follows "--"
                [exe, "-v", voice, "-s", str(int(words_per_minute)), "-w", str(wav), "--", text],
                capture_output=True,
                check=True,
                timeout=30,
            )
        except subprocess.CalledProcessError as exc:
            raise SpeechError(f"{espeak} failed: {exc.stderr.decode(errors='replace').strip()}") from None
        except subprocess.TimeoutExpired:
            raise SpeechError(f"{espeak} took more than 30 s") from None
        return read_wav(wav, sample_rate)
