"""Audio in: 16 kHz mono 16-bit PCM from WAV files, audio-topic messages and arrays; the noise floor."""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from robot_agent.errors import SpeechError

#: sample rate (Hz) every recognizer here works at; input audio is resampled to it
SAMPLE_RATE = 16000


def pcm_to_int16(pcm: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Mono 16-bit samples from raw little-endian 16-bit bytes or a numeric array.

    Integer arrays are taken as 16-bit values (clipped); float arrays as [-1, 1]
    full scale; 2-D arrays as (samples, channels), averaged to mono.

    Raises:
        SpeechError: an odd byte count, or an array that is not 1-D/2-D numeric audio.
    """
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        raw = bytes(pcm)
        if len(raw) % 2:
            raise SpeechError(f"16-bit PCM needs an even number of bytes, got {len(raw)}")
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    arr = np.asarray(pcm)
    if arr.dtype == np.int16 and arr.ndim == 1:
        return arr
    if arr.dtype.kind not in "iuf" or arr.ndim not in (1, 2):
        raise SpeechError(
            f"audio must be a 1-D (or samples x channels) numeric array, got shape {arr.shape} dtype {arr.dtype}"
        )
    x = arr.astype(np.float64)
    if arr.dtype.kind == "f":
        x = x * 32767.0
    if x.ndim == 2:
        x = x.mean(axis=1)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = SAMPLE_RATE) -> np.ndarray:
    """Resample 16-bit mono audio (windowed-sinc low-pass, then linear interpolation).

    Good enough for speech recognition. Stateless: a stream resampled chunk by
    chunk carries a little distortion at the chunk edges, so feed streams at the
    recognizer's rate when the source allows it.

    Raises:
        SpeechError: a rate that is not a positive whole number of Hz.
    """
    for r in (rate_in, rate_out):
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r <= 0:
            raise SpeechError(f"sample rates must be positive whole numbers of Hz, got {rate_in} -> {rate_out}")
    x = pcm_to_int16(samples)
    if rate_in == rate_out or x.size == 0:
        return x
    y = x.astype(np.float64)
    if rate_out < rate_in:
        cutoff = 0.45 * rate_out / rate_in  # cycles per input sample, below the new Nyquist frequency
        taps = np.arange(-32, 33)
        h = 2 * cutoff * np.sinc(2 * cutoff * taps) * np.hamming(taps.size)
        y = np.convolve(y, h / h.sum(), mode="same")
    n_out = int(round(y.size * rate_out / rate_in))
    t = np.arange(n_out) * (rate_in / rate_out)
    return np.clip(np.round(np.interp(t, np.arange(y.size), y)), -32768, 32767).astype(np.int16)


def read_wav(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a PCM WAV file as mono 16-bit samples at ``sample_rate``.

    Any rate, 8/16/24/32-bit integer PCM, any channel count (averaged to mono).

    Raises:
        SpeechError: the file is missing, not a WAV file, compressed, or truncated.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise SpeechError(f"{p}: cannot read audio file: {exc.strerror or exc}") from None
    return decode_wav(data, sample_rate, name=str(p))


def decode_wav(data: bytes, sample_rate: int = SAMPLE_RATE, name: str = "WAV data") -> np.ndarray:
    """:func:`read_wav` on bytes already in memory.

    Raises:
        SpeechError: not a WAV file, compressed, or truncated.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            channels, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            frames = w.readframes(n)
    except (wave.Error, EOFError, ValueError) as exc:
        raise SpeechError(f"{name}: unreadable WAV file ({exc}); only uncompressed PCM WAV is supported") from None
    if channels < 1 or rate <= 0 or width not in (1, 2, 3, 4):
        raise SpeechError(f"{name}: unsupported WAV format ({channels} channels, {width * 8}-bit, {rate} Hz)")
    got = len(frames) // (width * channels)
    if got < n:
        raise SpeechError(f"{name}: truncated WAV file ({got} of {n} frames)")
    x = _int_pcm_to_float(frames[: got * width * channels], width).reshape(-1, channels).mean(axis=1)
    return resample(np.clip(np.round(x), -32768, 32767).astype(np.int16), rate, sample_rate)


def _int_pcm_to_float(frames: bytes, width: int) -> np.ndarray:
    """Integer PCM bytes -> float samples on the 16-bit scale."""
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(frames, np.uint8).astype(np.float64) - 128.0) * 256.0
    if width == 2:
        return np.frombuffer(frames, "<i2").astype(np.float64)
    if width == 3:
        b = np.frombuffer(frames, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return v.astype(np.float64) / 256.0
    return np.frombuffer(frames, "<i4").astype(np.float64) / 65536.0


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono 16-bit samples as a WAV file (recordings, test fixtures)."""
    p = Path(path)
    with wave.open(str(p), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm_to_int16(samples).astype("<i2").tobytes())
    return p


#: sample formats an audio topic may carry -> (numpy dtype, factor to the 16-bit scale)
_TOPIC_FORMATS: dict[str, tuple[str, float]] = {
    "S16LE": ("<i2", 1.0),
    "S32LE": ("<i4", 1.0 / 65536.0),
    "F32LE": ("<f4", 32767.0),
    "U8": ("u1", 256.0),
}


def audio_chunk_to_pcm(
    data: bytes | bytearray | memoryview | Sequence[int],
    sample_rate: int,
    channels: int = 1,
    sample_format: str = "S16LE",
    target_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """One audio-topic message -> mono 16-bit samples at ``target_rate``.

    The adapter between a ROS audio topic (``audio_common_msgs/AudioData`` holds a
    ``uint8[]`` of interleaved samples; rate, channels and format come from the
    stream's ``AudioInfo`` or from parameters) and :class:`SpeechListener`. Pure:
    the ROS node calls it on each message and feeds the result to the listener.

    Args:
        data: the message's raw bytes (or the list of byte values rclpy gives).
        sample_rate: rate of the stream (Hz).
        channels: interleaved channels (averaged to mono).
        sample_format: ``S16LE``, ``S32LE``, ``F32LE`` or ``U8``.
        target_rate: rate to resample to.

    Raises:
        SpeechError: an unknown format, a bad channel count, or a byte count that is
            not a whole number of frames.
    """
    fmt = str(sample_format).upper()
    if fmt not in _TOPIC_FORMATS:
        raise SpeechError(f"unsupported audio format {sample_format!r}; valid: {', '.join(_TOPIC_FORMATS)}")
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise SpeechError(f"channels must be a positive integer, got {channels!r}")
    try:
        raw = bytes(data)
    except (TypeError, ValueError) as exc:
        raise SpeechError(f"audio chunk is not bytes: {exc}") from None
    dtype, scale = _TOPIC_FORMATS[fmt]
    frame = np.dtype(dtype).itemsize * channels
    if len(raw) % frame:
        raise SpeechError(
            f"audio chunk of {len(raw)} bytes is not a whole number of "
            f"{channels}-channel {fmt} frames ({frame} bytes each)"
        )
    x = np.frombuffer(raw, dtype).astype(np.float64)
    if fmt == "U8":
        x = x - 128.0
    x = (x * scale).reshape(-1, channels).mean(axis=1)
    return resample(np.clip(np.round(x), -32768, 32767).astype(np.int16), sample_rate, target_rate)


def add_noise_floor(
    samples: np.ndarray,
    level: float,
    seed: int | np.random.Generator = 0,
    pad_s: float = 0.0,
    sample_rate: int = SAMPLE_RATE,
) -> np.ndarray:
    """``samples`` with a faint Gaussian noise floor added (and optionally padded with it).

    pocketsphinx computes log filter-bank energies; stretches of exact digital
    silence (synthesized speech, gated or padded audio) give extreme values that
    derail its cepstral mean normalization, and recognition collapses (measured:
    word error rate 0.44 -> 0.04 on espeak-ng speech, see docs/speech.md). A
    microphone never delivers exact zeros, so a floor of ``level`` LSB (10 =
    -70 dBFS, below any real microphone's own noise) changes nothing for live audio.

    Args:
        samples: mono 16-bit samples.
        level: standard deviation of the noise, in 16-bit LSB; 0 adds none.
        seed: seed or generator (a fixed seed keeps results reproducible).
        pad_s: seconds of noise-floor "silence" added before and after.
        sample_rate: rate of ``samples`` (for ``pad_s``).
    """
    x = pcm_to_int16(samples).astype(np.float64)
    pad = int(round(pad_s * sample_rate))
    if pad:
        x = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    if level > 0:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        x = x + rng.normal(0.0, level, x.size)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)
