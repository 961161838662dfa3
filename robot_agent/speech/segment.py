"""Streaming: the utterance segmenter, the stop spotter and the frame-fed listener."""

from __future__ import annotations

import collections
import dataclasses
import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot_agent.errors import SpeechError
from robot_agent.speech.audio import SAMPLE_RATE, add_noise_floor, pcm_to_int16, read_wav
from robot_agent.speech.recognizers import SpeechRecognizer, Transcript, _pocketsphinx
from robot_agent.speech.stops import STOP_KEYPHRASES
from robot_agent.speech.text import normalize_words

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Utterance:
    """A stretch of speech cut from a stream.

    Attributes:
        pcm: mono 16-bit samples (with a little silence before and after).
        start_s: where it starts in the stream (s).
        end_s: where it ends in the stream (s).
    """

    pcm: np.ndarray
    start_s: float
    end_s: float


class UtteranceSegmenter:
    """Cuts a stream of audio into utterances by energy against a tracked noise floor.

    Pure: fed with chunks of any size, it returns the utterances that ended in
    them. A frame (30 ms) is speech when its energy is ``threshold_db`` above the
    noise floor: the quietest frame of the last ``floor_window_s`` (minimum
    statistics), never below ``min_floor_db``; so the floor follows the room, and
    a noise that starts suddenly and persists is taken for speech for at most
    ``floor_window_s``. An utterance starts after
    ``start_s`` of speech (with ``pre_roll_s`` of audio kept before it) and ends
    after ``end_silence_s`` of non-speech; one longer than ``max_utterance_s`` is
    cut there; one with less than ``min_speech_s`` of speech (a click) is dropped.

    Raises:
        SpeechError: a setting out of range.
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        frame_s: float = 0.03,
        threshold_db: float = 12.0,
        min_floor_db: float = -65.0,
        floor_window_s: float = 2.0,
        start_s: float = 0.09,
        end_silence_s: float = 0.5,
        pre_roll_s: float = 0.2,
        max_utterance_s: float = 10.0,
        min_speech_s: float = 0.12,
    ) -> None:
        if sample_rate <= 0 or not 0.005 <= frame_s <= 0.1:
            raise SpeechError("sample_rate must be > 0 and frame_s in [0.005, 0.1] s")
        if (
            threshold_db <= 0
            or end_silence_s <= 0
            or max_utterance_s <= end_silence_s
            or pre_roll_s < 0
            or floor_window_s <= end_silence_s
        ):
            raise SpeechError(
                "need threshold_db > 0, end_silence_s > 0, pre_roll_s >= 0, "
                "max_utterance_s > end_silence_s and floor_window_s > end_silence_s"
            )
        self.sample_rate = int(sample_rate)
        self.frame = max(1, int(round(frame_s * sample_rate)))
        self.frame_s = self.frame / self.sample_rate
        self.threshold_db = float(threshold_db)
        self.min_floor_db = float(min_floor_db)
        self.floor_frames = max(2, int(round(floor_window_s / self.frame_s)))
        self.start_frames = max(1, int(round(start_s / self.frame_s)))
        self.end_frames = max(1, int(round(end_silence_s / self.frame_s)))
        self.pre_frames = int(round(pre_roll_s / self.frame_s))
        self.max_frames = max(self.end_frames + 1, int(round(max_utterance_s / self.frame_s)))
        self.min_speech_frames = max(1, int(round(min_speech_s / self.frame_s)))
        self.reset()

    def reset(self) -> None:
        """Forget the stream (the noise floor is learned again)."""
        self._pending = np.zeros(0, np.int16)
        self._index = 0  # frames seen
        self.noise_floor_db: float | None = None
        self._energies: collections.deque[float] = collections.deque(maxlen=self.floor_frames)
        self._ring: list[np.ndarray] = []
        self._run = 0
        self._utt: list[np.ndarray] | None = None
        self._utt_start = 0
        self._silence = 0
        self._speech_frames = 0

    @property
    def in_speech(self) -> bool:
        """True while an utterance is open."""
        return self._utt is not None

    def frame_energy_db(self, frame: np.ndarray) -> float:
        """RMS level of a frame in dB relative to 16-bit full scale (-100 for silence)."""
        rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) if frame.size else 0.0
        return 20.0 * np.log10(max(rms, 1e-5 * 32768.0) / 32768.0)

    def feed(self, pcm: bytes | np.ndarray) -> list[Utterance]:
        """Add audio; return the utterances that ended in it.

        Raises:
            SpeechError: the audio is not 16-bit mono PCM.
        """
        x = np.concatenate([self._pending, pcm_to_int16(pcm)])
        out: list[Utterance] = []
        n_full = x.size // self.frame
        for k in range(n_full):
            utt = self._step(x[k * self.frame : (k + 1) * self.frame])
            if utt is not None:
                out.append(utt)
        self._pending = x[n_full * self.frame :].copy()
        return out

    def flush(self) -> list[Utterance]:
        """End of stream: close the open utterance, if any."""
        out: list[Utterance] = []
        if self._utt is not None:
            if self._pending.size:
                self._utt.append(self._pending)
            utt = self._close(trailing=0)
            if utt is not None:
                out.append(utt)
        self._pending = np.zeros(0, np.int16)
        return out

    def _step(self, frame: np.ndarray) -> Utterance | None:
        e = self.frame_energy_db(frame)
        self._energies.append(e)
        floor = min(self._energies)
        self.noise_floor_db = floor
        speech = e > max(floor, self.min_floor_db) + self.threshold_db
        self._index += 1
        if self._utt is None:
            self._ring.append(frame)
            del self._ring[: max(0, len(self._ring) - (self.pre_frames + self.start_frames))]
            self._run = self._run + 1 if speech else 0
            if self._run >= self.start_frames:
                self._utt = list(self._ring)
                self._utt_start = self._index - len(self._ring)
                self._silence = 0
                self._speech_frames = self._run
                self._ring = []
            return None
        self._utt.append(frame)
        if speech:
            self._silence = 0
            self._speech_frames += 1
        else:
            self._silence += 1
        if self._silence >= self.end_frames:
            return self._close(trailing=max(0, self._silence - self.pre_frames))
        if len(self._utt) >= self.max_frames:
            utt = self._close(trailing=0)
            self._utt, self._utt_start, self._silence, self._speech_frames = [], self._index, 0, 0
            return utt
        return None

    def _close(self, trailing: int) -> Utterance | None:
        """Emit the open utterance, dropping ``trailing`` frames of its closing silence."""
        frames = self._utt or []
        if trailing:
            frames = frames[:-trailing]
        speech = self._speech_frames
        start = self._utt_start
        self._utt, self._run, self._ring = None, 0, []
        if speech < self.min_speech_frames or not frames:
            return None
        pcm = np.concatenate(frames)
        start_s = start * self.frame_s
        return Utterance(pcm=pcm, start_s=start_s, end_s=start_s + pcm.size / self.sample_rate)


class StopSpotter:
    """Flags stop-like keyphrases the moment they are heard in a stream (pocketsphinx keyword search).

    Runs on every chunk, independently of utterance segmentation, so a stop is
    raised within a frame or two of the word's end (not after the end-of-utterance
    silence a full transcription waits for).

    Args:
        keyphrase: what to listen for: one phrase (with ``threshold``), several phrases
            (each with ``threshold``), or a mapping of phrase -> its own threshold. Default:
            :data:`robot_agent.speech.stops.STOP_KEYPHRASES` ("stop", "freeze", "hold on",
            "don't move"...), thresholds chosen on espeak-ng speech (docs/speech.md).
        threshold: keyword-search detection threshold (smaller = more detections) for
            phrases given without one.
        sample_rate: rate of the fed audio (16000, the bundled model's).
        noise_floor: faint noise added to the audio (see :func:`add_noise_floor`).
        block_s: audio decoded between two checks for the keyphrase.

    Attributes:
        keyphrase: the first phrase (with one phrase: that phrase).
        keyphrases: every phrase and its threshold.
        last_phrase: the phrase of the latest detection ("" before any).

    Raises:
        ImportError: pocketsphinx is not installed.
        SpeechError: a bad setting, or a keyphrase with words missing from the dictionary.
    """

    def __init__(
        self,
        keyphrase: str | Sequence[str] | Mapping[str, float] | None = None,
        threshold: float = 1e-12,
        sample_rate: int = SAMPLE_RATE,
        noise_floor: float = 10.0,
        block_s: float = 0.03,
    ) -> None:
        ps = _pocketsphinx("stop spotting")
        if keyphrase is None:
            keyphrase = dict(STOP_KEYPHRASES)
        if isinstance(keyphrase, str):
            wanted: dict[str, float] = {keyphrase: threshold}
        elif isinstance(keyphrase, Mapping):
            wanted = {str(k): float(v) for k, v in keyphrase.items()}
        else:
            wanted = {str(k): threshold for k in keyphrase}
        phrases: dict[str, float] = {}
        for phrase, thr in wanted.items():
            words = normalize_words(phrase)
            if not words:
                raise SpeechError("a stop keyphrase is empty")
            if not 0.0 < thr < 1.0:
                raise SpeechError(f"the stop threshold must be in (0, 1), got {thr} for {phrase!r}")
            phrases[" ".join(words)] = thr
        if not phrases:
            raise SpeechError("no stop keyphrase given")
        if sample_rate != SAMPLE_RATE:
            raise SpeechError(f"stop spotting decodes {SAMPLE_RATE} Hz audio (the bundled model), not {sample_rate}")
        self.keyphrases = phrases
        self.keyphrase = next(iter(phrases))
        self.last_phrase = ""
        self.sample_rate = int(sample_rate)
        self.noise_floor = float(noise_floor)
        self.block = max(1, int(round(block_s * sample_rate)))
        kwargs: dict[str, Any] = {"lm": None, "loglevel": "FATAL", "samprate": self.sample_rate}
        with tempfile.TemporaryDirectory(prefix="robot_agent_kws_") as tmp:
            if len(phrases) == 1:
                kwargs.update(keyphrase=self.keyphrase, kws_threshold=phrases[self.keyphrase])
            else:  # a keyphrase file: one "phrase /threshold/" a line
                kws = Path(tmp) / "stops.kws"
                kws.write_text("".join(f"{p} /{t:.0e}/\n" for p, t in phrases.items()))
                kwargs["kws"] = str(kws)
            try:
                self._decoder = ps.Decoder(**kwargs)
            except (ValueError, RuntimeError) as exc:
                raise SpeechError(f"cannot start stop spotting for {', '.join(phrases)}: {exc}") from None
        missing = sorted({w for p in phrases for w in p.split() if not self._decoder.lookup_word(w)})
        if missing:
            raise SpeechError(f"stop keyphrase word(s) not in the dictionary: {', '.join(missing)}")
        self._rng = np.random.default_rng(0)
        self._samples = 0
        self._pending = np.zeros(0, np.int16)
        self._decoder.start_utt()

    @property
    def position_s(self) -> float:
        """Seconds of audio decoded so far."""
        return self._samples / self.sample_rate

    @property
    def pending_s(self) -> float:
        """Seconds of audio fed but not decoded yet (less than one block)."""
        return self._pending.size / self.sample_rate

    def reset(self) -> None:
        """Start afresh (the stream position keeps counting)."""
        self._decoder.end_utt()
        self._decoder.start_utt()

    def feed(self, pcm: bytes | np.ndarray) -> float | None:
        """Decode more audio; the stream time (s) a keyphrase was spotted at, or None.

        :attr:`last_phrase` says which phrase it was.

        After a detection the search restarts, so one spoken stop gives one detection.
        The rest of the chunk after the detection is decoded too.
        """
        x = np.concatenate([self._pending, pcm_to_int16(pcm)])
        hit: float | None = None
        n_full = x.size // self.block
        for k in range(n_full):
            block = add_noise_floor(x[k * self.block : (k + 1) * self.block], self.noise_floor, self._rng)
            self._decoder.process_raw(block.astype("<i2").tobytes())
            self._samples += block.size
            hyp = self._decoder.hyp()
            if hyp is not None:
                if hit is None:
                    hit = self.position_s
                    self.last_phrase = " ".join(normalize_words(hyp.hypstr)) or self.keyphrase
                self.reset()
        self._pending = x[n_full * self.block :].copy()
        return hit

    def close(self) -> None:
        self._decoder.end_utt()


class SpeechListener:
    """Streaming speech front end: audio chunks in, transcripts out. Pure and frame-fed.

    Every chunk goes to the :class:`StopSpotter` (a stop comes out at once, with
    ``source="spotter"``) and to the :class:`UtteranceSegmenter`; each finished
    utterance is transcribed by the recognizer. With a wake word, an utterance is
    passed on only when it starts with it (the wake word is removed from the
    text); a stop never needs it. Empty transcripts and those below
    ``min_confidence`` are dropped. A spoken "stop" usually comes out twice: from
    the spotter as soon as it is heard, and from the recognizer when the utterance
    ends; stopping is idempotent, so consumers simply act on the first. Times
    (``start_s``, ``end_s``) count from the listener's first sample.

    Args:
        recognizer: transcribes the utterances.
        spotter: flags stops early; None to rely on the transcripts alone.
        segmenter: cuts utterances; default settings when None.
        wake_word: required first word of a correction ("" = none).
        min_confidence: transcripts below it are dropped (those without a
            confidence estimate are kept).
        hearer: a :class:`robot_agent.speech.Hearer`: each utterance is then heard with
            both decodes (:meth:`Hearer.hear`) instead of the recognizer alone, and a
            transcript whose decodes disagree carries a ``question`` ("Did you say ...?")
            to ask instead of acting.
    """

    def __init__(
        self,
        recognizer: SpeechRecognizer,
        spotter: StopSpotter | None = None,
        segmenter: UtteranceSegmenter | None = None,
        wake_word: str = "",
        min_confidence: float = 0.0,
        hearer: Any = None,
    ) -> None:
        self.recognizer = recognizer
        self.hearer = hearer
        self.spotter = spotter
        self.segmenter = segmenter or UtteranceSegmenter(sample_rate=recognizer.sample_rate)
        self.wake_word = " ".join(normalize_words(wake_word))
        self.min_confidence = float(min_confidence)
        self._fed = 0  # samples fed so far: the listener's clock

    def feed(self, pcm: bytes | np.ndarray) -> list[Transcript]:
        """Add audio; return what was heard in it, in stream order.

        Raises:
            SpeechError: the audio is not 16-bit mono PCM, or decoding failed.
        """
        samples = pcm_to_int16(pcm)
        out: list[Transcript] = []
        if self.spotter is not None:
            # the spotter may be shared and older than this listener: put its times on our clock
            offset = (self._fed / self.recognizer.sample_rate - self.spotter.pending_s) - self.spotter.position_s
            at = self.spotter.feed(samples)
            if at is not None:
                at += offset
                out.append(
                    Transcript(
                        self.spotter.last_phrase or self.spotter.keyphrase,
                        None,
                        True,
                        start_s=at,
                        end_s=at,
                        source="spotter",
                    )
                )
        self._fed += samples.size
        for utt in self.segmenter.feed(samples):
            t = self._transcribe(utt)
            if t is not None:
                out.append(t)
        return out

    def flush(self) -> list[Transcript]:
        """End of stream: transcribe the utterance still open."""
        out = []
        for utt in self.segmenter.flush():
            t = self._transcribe(utt)
            if t is not None:
                out.append(t)
        return out

    def _transcribe(self, utt: Utterance) -> Transcript | None:
        if self.hearer is not None:
            t = self.hearer.hear(utt.pcm).to_transcript(start_s=utt.start_s, end_s=utt.end_s)
        else:
            t = dataclasses.replace(self.recognizer.transcribe(utt.pcm), start_s=utt.start_s, end_s=utt.end_s)
        if not t.text:
            return None
        if t.is_stop:
            return t
        if self.wake_word and not t.woken:
            log.debug("ignored (no wake word %r): %r", self.wake_word, t.text)
            return None
        if t.confidence is not None and t.confidence < self.min_confidence:
            log.info("ignored (confidence %.2f < %.2f): %r", t.confidence, self.min_confidence, t.text)
            return None
        return t


def listen_wav(listener: SpeechListener, path: str | Path, chunk_s: float = 0.1) -> list[Transcript]:
    """Run a WAV file through a listener as if it were streamed live (tests, replays).

    Raises:
        SpeechError: the file is not a readable PCM WAV file.
    """
    samples = read_wav(path, listener.recognizer.sample_rate)
    step = max(1, int(chunk_s * listener.recognizer.sample_rate))
    out: list[Transcript] = []
    for i in range(0, samples.size, step):
        out.extend(listener.feed(samples[i : i + step]))
    out.extend(listener.flush())
    return out
