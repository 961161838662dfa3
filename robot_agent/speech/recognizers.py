"""Recognizers: one utterance of audio in, a :class:`Transcript` out (pocketsphinx, Whisper)."""

from __future__ import annotations

import abc
import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot_agent.deps import require
from robot_agent.errors import SpeechError
from robot_agent.speech.audio import SAMPLE_RATE, add_noise_floor, pcm_to_int16, read_wav
from robot_agent.speech.grammar import _LETTER_PHONES, Grammar, build_grammar
from robot_agent.speech.stops import find_stop_phrase
from robot_agent.speech.text import STOP_WORDS, has_stop_word, normalize_words

log = logging.getLogger(__name__)


#: recognizer backends make_recognizer knows
BACKENDS = ("pocketsphinx", "whisper")


def _decode(decoder: Any, audio: Any) -> Any:
    """One whole utterance through a pocketsphinx decoder (the caller holds its lock): its hypothesis."""
    try:
        decoder.start_utt()
        decoder.process_raw(audio.astype("<i2").tobytes(), full_utt=True)
        decoder.end_utt()
    except RuntimeError as exc:
        raise SpeechError(f"pocketsphinx failed to decode: {exc}") from None
    return decoder.hyp()


@dataclass(frozen=True)
class Transcript:
    """What was heard.

    Attributes:
        text: lower-case words, wake word removed ("" when nothing was recognized).
        confidence: 0..1, how sure the recognizer is; None when the backend gives
            no estimate (Whisper through transformers).
        is_stop: True when the utterance asks the arm to stop (a stop word heard).
        complete: True when the decoder's search ended on a whole sentence of the
            grammar. False when it ended inside one (then the text is the longest
            prefix of its path that is a sentence, or the raw partial path when no
            prefix is, and the confidence is halved). Always True for free-form
            backends.
        start_s: start of the utterance in the stream (s), when known.
        end_s: end of the utterance in the stream (s), when known.
        source: what produced it: ``"grammar"``, ``"spotter"``, ``"whisper"``, ``"open"``,
            ``"hear"`` (:func:`robot_agent.speech.hear`: both decodes).
        woken: True when the utterance started with the wake word.
        question: what to ask instead of acting when the decodes disagree ("Did you say
            '...'?"; then ``text`` is the transcript asked about); None otherwise.
    """

    text: str
    confidence: float | None
    is_stop: bool
    complete: bool = True
    start_s: float | None = None
    end_s: float | None = None
    source: str = "grammar"
    woken: bool = False
    question: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for the ``~/transcript`` topic and the episode log)."""
        return {
            "text": self.text,
            "confidence": self.confidence,
            "is_stop": self.is_stop,
            "complete": self.complete,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "source": self.source,
            "woken": self.woken,
            "question": self.question,
        }


class SpeechRecognizer(abc.ABC):
    """Turns one utterance of audio into a :class:`Transcript`."""

    #: the sample rate (Hz) :meth:`transcribe` expects
    sample_rate: int = SAMPLE_RATE

    @abc.abstractmethod
    def transcribe(self, pcm: bytes | np.ndarray) -> Transcript:
        """Transcribe one utterance.

        Args:
            pcm: mono 16-bit samples at :attr:`sample_rate` (bytes or an int16 array).

        Returns:
            The transcript (empty text when nothing was recognized).

        Raises:
            SpeechError: the audio could not be decoded.
        """

    def transcribe_file(self, path: str | Path) -> Transcript:
        """Transcribe a WAV file (any rate; resampled to :attr:`sample_rate`).

        Raises:
            SpeechError: the file is not a readable PCM WAV file.
        """
        return self.transcribe(read_wav(path, self.sample_rate))

    def close(self) -> None:  # noqa: B027 - optional hook: most recognizers hold nothing to release
        """Release the model (the recognizer is unusable after)."""

    def __enter__(self) -> SpeechRecognizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pocketsphinx(feature: str) -> Any:
    return require("pocketsphinx", feature)


#: pocketsphinx search beams, narrower than its defaults (1e-48, 1e-48, 7e-29): on the
#: benchmark they halve decoding time and do not raise the word error rate (docs/speech.md)
DEFAULT_DECODER_OPTIONS: dict[str, Any] = {"beam": 1e-30, "pbeam": 1e-30, "wbeam": 1e-20}


class PocketSphinxRecognizer(SpeechRecognizer):
    """Grammar-constrained pocketsphinx recognizer (the embedded default).

    Words of the grammar missing from the pronunciation dictionary are pronounced
    as the dictionary words they are made of ("pushbutton" = "push" + "button"),
    else spelled out as letters ("ycb" = "Y C B"); a warning names them and
    :attr:`added_words` keeps them.

    Args:
        vocabulary: the grammar (:func:`build_grammar`); default: no scene objects.
        sample_rate: rate of the audio given to :meth:`transcribe`; 16000 for the
            bundled model (another rate needs a ``model_dir`` trained for it).
        noise_floor: faint noise added before decoding, in 16-bit LSB (see
            :func:`add_noise_floor`); 0 for none.
        pad_s: seconds of noise-floor silence added around each utterance, so the
            decoder sees silence on both sides of the words.
        model_dir: acoustic model directory; default: pocketsphinx's en-us model.
        dictionary: pronunciation dictionary; default: pocketsphinx's CMUdict.
        decoder_options: extra pocketsphinx configuration (``beam``, ``lw``...).

    Raises:
        ImportError: pocketsphinx is not installed (with the install command).
        SpeechError: the model cannot be loaded or the grammar does not compile.
    """

    def __init__(
        self,
        vocabulary: Grammar | None = None,
        sample_rate: int = SAMPLE_RATE,
        noise_floor: float = 10.0,
        pad_s: float = 0.25,
        model_dir: str | Path | None = None,
        dictionary: str | Path | None = None,
        decoder_options: Mapping[str, Any] | None = None,
    ) -> None:
        ps = _pocketsphinx("spoken corrections")
        if model_dir is None and sample_rate != SAMPLE_RATE:
            raise SpeechError(
                f"the bundled en-us model decodes {SAMPLE_RATE} Hz audio, not {sample_rate}: "
                "resample the input (read_wav and audio_chunk_to_pcm do), or give the "
                "model_dir of a model for that rate"
            )
        if noise_floor < 0 or pad_s < 0:
            raise SpeechError("noise_floor and pad_s must be >= 0")
        self.sample_rate = int(sample_rate)
        self.noise_floor = float(noise_floor)
        self.pad_s = float(pad_s)
        kwargs: dict[str, Any] = {"lm": None, "loglevel": "FATAL", "samprate": self.sample_rate}
        if model_dir is not None:
            kwargs["hmm"] = str(model_dir)
        if dictionary is not None:
            kwargs["dict"] = str(dictionary)
        kwargs.update(DEFAULT_DECODER_OPTIONS)
        kwargs.update(dict(decoder_options or {}))
        try:
            self._decoder = ps.Decoder(**kwargs)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise SpeechError(
                f"cannot start pocketsphinx ({exc}); check model_dir, dictionary and decoder_options"
            ) from None
        self._lock = threading.Lock()
        self._searches = 0
        self._fsg: Any = None
        self.added_words: dict[str, str] = {}
        self.grammar: Grammar = vocabulary if vocabulary is not None else build_grammar()
        self.set_vocabulary(self.grammar)

    # ------------------------------------------------------------------ vocabulary
    def pronunciation(self, word: str) -> str:
        """ARPABET phones of ``word``: the dictionary's, else its parts', else its letters'."""
        phones = self._decoder.lookup_word(word)
        if phones:
            return str(phones)
        parts = self._split_known(word)
        if parts:
            return " ".join(str(self._decoder.lookup_word(p)) for p in parts)
        return " ".join(_LETTER_PHONES[c] for c in word if c in _LETTER_PHONES)

    def _split_known(self, word: str) -> list[str] | None:
        """``word`` as the fewest dictionary words of 3+ letters, or None."""
        n = len(word)
        best: list[list[str] | None] = [None] * (n + 1)
        best[0] = []
        for end in range(3, n + 1):
            for start in range(0, end - 2):
                prev = best[start]
                if prev is None or not self._decoder.lookup_word(word[start:end]):
                    continue
                cur = best[end]
                if cur is None or len(prev) + 1 < len(cur):
                    best[end] = prev + [word[start:end]]
        found = best[n]
        return found if found is not None and len(found) > 1 else None

    def set_vocabulary(self, grammar: Grammar) -> None:
        """Switch to another grammar (a new scene); takes effect for the next utterance.

        Raises:
            SpeechError: the grammar does not compile.
        """
        with self._lock:
            added = []
            for word in sorted(grammar.words):
                if self._decoder.lookup_word(word):
                    continue
                phones = self.pronunciation(word)
                if not phones:
                    raise SpeechError(f"no pronunciation for the word {word!r}")
                self._decoder.add_word(word, phones, True)
                self.added_words[word] = phones
                added.append(f"{word} ({phones})")
            if added:
                log.warning("not in the pronunciation dictionary, pronounced as: %s", ", ".join(added))
            self._searches += 1
            name = f"grammar{self._searches}"
            try:
                fsg = self._decoder.parse_jsgf(grammar.jsgf)
                self._decoder.add_jsgf_string(name, grammar.jsgf)
            except (ValueError, RuntimeError) as exc:
                raise SpeechError(f"the speech grammar does not compile: {exc}") from None
            self._decoder.activate_search(name)
            if self._searches > 1:
                self._decoder.remove_search(f"grammar{self._searches - 1}")
            self._fsg = fsg
            self.grammar = grammar

    def set_objects(self, objects: Iterable[str], extra_phrases: Iterable[str] = ()) -> None:
        """Rebuild the grammar for new scene objects, keeping the wake word.

        Raises:
            SpeechError: the grammar does not compile.
        """
        self.set_vocabulary(build_grammar(objects, extra_phrases, wake_word=self.grammar.wake_word))

    def accepts(self, text: str) -> bool:
        """True when ``text`` is a whole sentence of the current grammar."""
        words = normalize_words(text)
        return bool(words) and bool(self._fsg.accept(" ".join(words)))

    # ------------------------------------------------------------------ decoding
    def transcribe(self, pcm: bytes | np.ndarray) -> Transcript:
        """Decode one utterance with the grammar.

        The confidence is pocketsphinx's posterior probability of the hypothesis,
        halved when the hypothesis is not a whole sentence of the grammar.
        """
        samples = pcm_to_int16(pcm)
        if samples.size == 0:
            return Transcript("", 0.0, False, complete=False)
        audio = add_noise_floor(samples, self.noise_floor, seed=0, pad_s=self.pad_s, sample_rate=self.sample_rate)
        with self._lock:
            if self._decoder is None:
                raise SpeechError("the recognizer is closed")
            hyp = _decode(self._decoder, audio)
            fsg = self._fsg
        words = normalize_words(hyp.hypstr) if hyp is not None else []
        complete = bool(words) and bool(fsg.accept(" ".join(words)))
        if words and not complete:
            # The search ended inside a sentence, usually after a junk word matched to the
            # trailing silence ("go higher a"): keep the longest prefix that is a sentence.
            for end in range(len(words) - 1, 0, -1):
                if fsg.accept(" ".join(words[:end])):
                    words = words[:end]
                    break
        wake = self.grammar.wake_word
        woken = bool(wake) and bool(words) and words[0] == wake
        if woken:
            words = words[1:]
        text = " ".join(words)
        confidence = 0.0
        if hyp is not None and words:
            confidence = min(max(float(hyp.prob), 0.0), 1.0) * (1.0 if complete else 0.5)
        return Transcript(
            text=text,
            confidence=confidence,
            is_stop=has_stop_word(text, self.grammar.stop_words),
            complete=complete,
            woken=woken,
        )

    def close(self) -> None:
        with self._lock:
            self._decoder = None


class WhisperRecognizer(SpeechRecognizer):
    """A Whisper-type model through ``transformers``, from a local directory only.

    Free-form, so it also transcribes sentences outside the grammar; much heavier.
    The model is never downloaded: ``model_path`` must be a directory written by
    ``save_pretrained`` (``config.json``, weights, tokenizer, feature extractor).

    Args:
        model_path: the model directory.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:0"``...
        wake_word: removed from the front of a transcript (and ``woken`` set).
        stop_words: words that make a transcript a stop (free text is not
            checked for negation here: "don't stop" counts as a stop, the safe side;
            the correction parser decides afterwards).

    Raises:
        SpeechError: the directory is missing, holds no model, or fails to load.
        ImportError: transformers is not installed (with the install command).
    """

    def __init__(
        self, model_path: str | Path, device: str = "cpu", wake_word: str = "", stop_words: Sequence[str] = STOP_WORDS
    ) -> None:
        if not str(model_path).strip():
            raise SpeechError(
                "no Whisper model configured: set speech.whisper_model_path to a local "
                "model directory (models are never downloaded)"
            )
        p = Path(str(model_path)).expanduser()
        if not p.is_dir():
            raise SpeechError(
                f"Whisper model directory {p} does not exist; set speech.whisper_model_path "
                "to a directory saved with save_pretrained (models are never downloaded)"
            )
        if not (p / "config.json").is_file():
            raise SpeechError(f"{p} holds no config.json: not a saved transformers model directory")
        transformers = require("transformers", "Whisper speech recognition")
        self.sample_rate = SAMPLE_RATE
        self.stop_words = tuple(stop_words)
        self.wake_word = " ".join(normalize_words(wake_word))
        try:
            self._pipe = transformers.pipeline(
                "automatic-speech-recognition", model=str(p), device=device, model_kwargs={"local_files_only": True}
            )
        except (OSError, ValueError, RuntimeError, KeyError) as exc:
            raise SpeechError(f"cannot load a speech recognition model from {p}: {exc}") from None

    def transcribe(self, pcm: bytes | np.ndarray) -> Transcript:
        """Transcribe one utterance (confidence None: the pipeline gives no estimate)."""
        if self._pipe is None:
            raise SpeechError("the recognizer is closed")
        samples = pcm_to_int16(pcm).astype(np.float32) / 32768.0
        if samples.size == 0:
            return Transcript("", None, False, source="whisper")
        try:
            out = self._pipe({"raw": samples, "sampling_rate": self.sample_rate})
        except (ValueError, RuntimeError) as exc:
            raise SpeechError(f"Whisper failed to transcribe: {exc}") from None
        words = normalize_words(out.get("text", "") if isinstance(out, dict) else str(out))
        woken = bool(self.wake_word) and bool(words) and words[0] == self.wake_word
        text = " ".join(words[1:] if woken else words)
        return Transcript(
            text=text, confidence=None, is_stop=has_stop_word(text, self.stop_words), source="whisper", woken=woken
        )

    def close(self) -> None:
        self._pipe = None


def bundled_model() -> dict[str, str]:
    """Paths of pocketsphinx's bundled US-English model: ``hmm``, ``lm``, ``dict``.

    Raises:
        ImportError: pocketsphinx is not installed.
        SpeechError: the bundled files are missing.
    """
    ps = _pocketsphinx("open-vocabulary speech recognition")
    root = Path(ps.get_model_path()) / "en-us"
    paths = {"hmm": root / "en-us", "lm": root / "en-us.lm.bin", "dict": root / "cmudict-en-us.dict"}
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        raise SpeechError(f"pocketsphinx's bundled model is incomplete: missing {', '.join(missing)}")
    return {k: str(v) for k, v in paths.items()}


#: open-vocabulary search beams: narrower than pocketsphinx's defaults, for speed (docs/speech.md)
OPEN_DECODER_OPTIONS: dict[str, Any] = {"beam": 1e-40, "pbeam": 1e-40, "wbeam": 1e-25}


class OpenRecognizer(SpeechRecognizer):
    """Open-vocabulary pocketsphinx: the bundled US-English language model and CMUdict.

    Poor at robot commands on its own (it turned "a bit to the left" into "that left"),
    but it is not forced onto the grammar's sentences: :func:`robot_agent.speech.hear`
    uses it to check the grammar transcript and to hear what the grammar cannot say.
    The confidence is pocketsphinx's posterior probability of the hypothesis.

    Args:
        noise_floor: faint noise added before decoding (see :func:`add_noise_floor`).
        pad_s: seconds of noise-floor silence added around each utterance.
        decoder_options: extra pocketsphinx configuration.

    Raises:
        ImportError: pocketsphinx is not installed.
        SpeechError: the model cannot be loaded.
    """

    def __init__(
        self, noise_floor: float = 10.0, pad_s: float = 0.25, decoder_options: Mapping[str, Any] | None = None
    ) -> None:
        ps = _pocketsphinx("open-vocabulary speech recognition")
        if noise_floor < 0 or pad_s < 0:
            raise SpeechError("noise_floor and pad_s must be >= 0")
        self.sample_rate = SAMPLE_RATE
        self.noise_floor = float(noise_floor)
        self.pad_s = float(pad_s)
        kwargs: dict[str, Any] = {**bundled_model(), "loglevel": "FATAL", "samprate": SAMPLE_RATE}
        kwargs.update(OPEN_DECODER_OPTIONS)
        kwargs.update(dict(decoder_options or {}))
        try:
            self._decoder = ps.Decoder(**kwargs)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise SpeechError(f"cannot start open-vocabulary pocketsphinx ({exc})") from None
        self._lock = threading.Lock()

    def lookup(self, word: str) -> str:
        """The word's ARPABET phones in the dictionary ("" when it is not there)."""
        with self._lock:
            return str(self._decoder.lookup_word(word) or "") if self._decoder is not None else ""

    def transcribe(self, pcm: bytes | np.ndarray) -> Transcript:
        """Decode one utterance with the language model (fillers and pronunciation variants removed)."""
        samples = pcm_to_int16(pcm)
        if samples.size == 0:
            return Transcript("", 0.0, False, source="open")
        audio = add_noise_floor(samples, self.noise_floor, seed=0, pad_s=self.pad_s, sample_rate=self.sample_rate)
        with self._lock:
            if self._decoder is None:
                raise SpeechError("the recognizer is closed")
            hyp = _decode(self._decoder, audio)
        text = " ".join(normalize_words(hyp.hypstr)) if hyp is not None else ""
        confidence = min(max(float(hyp.prob), 0.0), 1.0) if hyp is not None and text else 0.0
        return Transcript(text=text, confidence=confidence, is_stop=find_stop_phrase(text) is not None, source="open")

    def close(self) -> None:
        with self._lock:
            self._decoder = None


class TextAligner:
    """Scores how well a given text explains a stretch of audio (pocketsphinx forced alignment).

    The score is the acoustic log-likelihood (nats) of the best alignment of the text's
    words, with optional silence between them, to the whole utterance. Two texts scored on
    the same audio compare directly: no language model or grammar weight is involved, so a
    grammar transcript forced onto speech the grammar cannot say scores clearly below the
    open-vocabulary transcript of the same audio (:func:`robot_agent.speech.hear`).

    Args:
        noise_floor: faint noise added before decoding (see :func:`add_noise_floor`).
        pad_s: seconds of noise-floor silence added around each utterance.

    Raises:
        ImportError: pocketsphinx is not installed.
        SpeechError: the model cannot be loaded.
    """

    def __init__(self, noise_floor: float = 10.0, pad_s: float = 0.25) -> None:
        ps = _pocketsphinx("scoring transcripts")
        self.noise_floor = float(noise_floor)
        self.pad_s = float(pad_s)
        try:
            # batch cepstral mean normalization: each utterance is normalized on its own, so a score
            # does not depend on what was decoded before (live CMN carries over between utterances)
            self._decoder = ps.Decoder(lm=None, loglevel="FATAL", samprate=SAMPLE_RATE, cmn="batch")
        except (ValueError, RuntimeError) as exc:
            raise SpeechError(f"cannot start pocketsphinx for alignment ({exc})") from None
        self._lock = threading.Lock()
        self._known: set[str] = set()

    def add_words(self, words: Mapping[str, str]) -> None:
        """Pronunciations (word -> ARPABET phones) of words the dictionary lacks."""
        with self._lock:
            for word, phones in words.items():
                if word not in self._known and not self._decoder.lookup_word(word):
                    self._decoder.add_word(word, phones, True)
                self._known.add(word)

    def prepare(self, pcm: bytes | np.ndarray) -> np.ndarray:
        """The audio as :meth:`score` decodes it (noise floor and padding added): score it many times."""
        samples = pcm_to_int16(pcm)
        return add_noise_floor(samples, self.noise_floor, seed=0, pad_s=self.pad_s, sample_rate=SAMPLE_RATE)

    def align(self, text: str, audio: np.ndarray) -> list[tuple[str, int, int, float]] | None:
        """Forced alignment of ``text`` to prepared ``audio``: ``(word, first frame, last frame,
        acoustic log-likelihood)`` per segment, silences included as ``"<sil>"`` (10 ms frames).

        pocketsphinx normalizes each frame's senone scores by the frame's best one, so a word's
        log-likelihood per frame is already a ratio against an unconstrained model: near 0 where
        the word fits the audio as well as anything could, clearly negative where it does not.

        Returns:
            The segments, or None when the text is empty, holds a word without a pronunciation,
            or cannot be aligned.
        """
        words = normalize_words(text)
        if not words or audio.size == 0:
            return None
        with self._lock:
            try:
                self._decoder.set_align_text(" ".join(words))
                self._decoder.start_utt()
                self._decoder.process_raw(audio.astype("<i2").tobytes(), full_utt=True)
                self._decoder.end_utt()
                hyp = self._decoder.hyp()
                segs = list(self._decoder.seg() or ())
            except (RuntimeError, ValueError):
                return None
        # the search can end inside the text when the audio does not fit it ("hold on" aligned to
        # "go home" reaches "hold" only): that is no alignment of the text
        if hyp is None or normalize_words(hyp.hypstr) != words or len(segs) < 2:
            return None
        # pocketsphinx 5.1.1 repeats the score of the last but one segment for the last one (the
        # final silence or "</s>"): that segment is left out
        return [
            (str(s.word), int(s.start_frame), int(s.end_frame), math.log(max(float(s.ascore), 5e-324)))
            for s in segs[:-1]
        ]

    def score(self, text: str, audio: np.ndarray) -> float | None:
        """Acoustic log-likelihood per 10 ms frame of ``text`` aligned to prepared ``audio``.

        Returns:
            The score (higher is better; compare texts on the same audio), or None when the
            text is empty, holds a word without a pronunciation, or cannot be aligned.
        """
        segs = self.align(text, audio)
        if segs is None:
            return None
        frames = sum(b - a + 1 for _, a, b, _ in segs)
        return sum(s[3] for s in segs) / max(1, frames)

    def best_of(self, sentences: Iterable[str], audio: np.ndarray) -> tuple[str, float] | None:
        """The sentence of ``sentences`` that best explains prepared ``audio``, and its :meth:`score`.

        One decode over a grammar of the alternatives (no weights), then the winner is scored.
        None when no sentence can be used (empty, or words without a pronunciation).
        """
        alts = []
        for s in sentences:
            words = normalize_words(s)
            if words and all(self._decoder.lookup_word(w) for w in words):
                alts.append(" ".join(words))
        alts = sorted(set(alts))
        if not alts or audio.size == 0:
            return None
        if len(alts) == 1:
            got = self.score(alts[0], audio)
            return None if got is None else (alts[0], got)
        jsgf = "#JSGF V1.0;\ngrammar alts;\npublic <s> = " + " | ".join(alts) + ";\n"
        with self._lock:
            try:
                self._decoder.add_jsgf_string("alts", jsgf)
                self._decoder.activate_search("alts")
                self._decoder.start_utt()
                self._decoder.process_raw(audio.astype("<i2").tobytes(), full_utt=True)
                self._decoder.end_utt()
                hyp = self._decoder.hyp()
            except (RuntimeError, ValueError):
                return None
        if hyp is None or not hyp.hypstr:
            return None
        best = " ".join(normalize_words(hyp.hypstr))
        if best not in alts:
            # the search ended inside a sentence ("hold on a" of "hold on a second"): score the
            # sentences that begin with its first word ("hold on", "hold on a second"...) instead
            first = best.split()[0] + " "
            scored = [(a, self.score(a, audio)) for a in alts if (a + " ").startswith(first)][:8]
            got_all = [(a, sc) for a, sc in scored if sc is not None]
            return max(got_all, key=lambda x: x[1]) if got_all else None
        got = self.score(best, audio)
        return None if got is None else (best, got)
