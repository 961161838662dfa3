"""Speech to text for spoken corrections, offline.

The embedded recognizer is pocketsphinx constrained by a grammar built at run time
(:func:`build_grammar`) from the correction vocabulary, the skill names and the
scene's object names: free-form recognition with pocketsphinx's default language
model is too poor for robot commands, while a grammar of a few hundred words turns
the task into picking the best-fitting sentence the operator could have said.
An optional Whisper-type model runs through ``transformers`` from a configured
local directory (:class:`WhisperRecognizer`); nothing is ever downloaded.

Audio reaches a recognizer from three sources, all converted to 16 kHz mono
16-bit PCM first:

* WAV files (:func:`read_wav`; any PCM rate and channel count);
* an audio topic: :func:`audio_chunk_to_pcm` turns one message's raw bytes
  (``audio_common_msgs/AudioData`` style) into that PCM, and a ROS node feeds the
  result to a :class:`SpeechListener`;
* a microphone (:class:`MicrophoneSource`, needs ``sounddevice`` and PortAudio),
  push-to-talk (:func:`record_push_to_talk`) or continuous (:func:`listen_continuous`).

Streaming audio goes through :class:`SpeechListener`, a pure, frame-fed pipeline:
a :class:`StopSpotter` (pocketsphinx keyphrase search) raises a stop as soon as the
word "stop" is heard, without waiting for the end of the utterance; an
:class:`UtteranceSegmenter` cuts the stream into utterances (energy against a
tracked noise floor), each transcribed with the grammar; in wake-word mode an
utterance is taken as a correction only when it starts with the wake word
("robot, a bit to the left"), while a stop never needs it. ``docs/speech.md`` has the grammar, the
measured word error rates and the command that measures them.
"""

from __future__ import annotations

import abc
import collections
import dataclasses
import io
import logging
import re
import shutil
import subprocess
import tempfile
import threading
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from robot_agent.deps import require
from robot_agent.errors import SpeechError

if TYPE_CHECKING:  # pragma: no cover
    from robot_agent.config import SpeechConfig

log = logging.getLogger(__name__)

#: sample rate (Hz) every recognizer here works at; input audio is resampled to it
SAMPLE_RATE = 16000
#: words that make a transcript a stop
STOP_WORDS = ("stop", "halt")
#: default wake word for continuous listening
WAKE_WORD = "robot"

#: recognizer backends make_recognizer knows
BACKENDS = ("pocketsphinx", "whisper")


# --------------------------------------------------------------------------- results

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
        source: what produced it: ``"grammar"``, ``"spotter"``, ``"whisper"``.
        woken: True when the utterance started with the wake word.
    """

    text: str
    confidence: float | None
    is_stop: bool
    complete: bool = True
    start_s: float | None = None
    end_s: float | None = None
    source: str = "grammar"
    woken: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (for the ``~/transcript`` topic and the episode log)."""
        return {"text": self.text, "confidence": self.confidence, "is_stop": self.is_stop,
                "complete": self.complete, "start_s": self.start_s, "end_s": self.end_s,
                "source": self.source, "woken": self.woken}


# --------------------------------------------------------------------------- text

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def normalize_words(text: str) -> list[str]:
    """Lower-case words of ``text``: accents folded to ASCII, punctuation dropped.

    Underscores and hyphens separate words (``"red_block"`` -> ``["red", "block"]``);
    apostrophes inside words stay (``"don't"``).
    """
    decomposed = unicodedata.normalize("NFKD", str(text).replace("\u2019", "'"))
    folded = "".join(c if ord(c) < 128 else ("" if unicodedata.combining(c) else " ") for c in decomposed)
    folded = folded.lower().replace("_", " ").replace("-", " ")
    return _WORD_RE.findall(folded)


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Corpus word error rate: total word edits over total reference words.

    Args:
        references: one reference sentence, or a list of them.
        hypotheses: the recognized sentence(s), same length as ``references``.

    Returns:
        The WER (0 = perfect; can exceed 1 when the recognizer inserts many words).

    Raises:
        ValueError: the lists differ in length, or the references hold no words.
    """
    refs = [references] if isinstance(references, str) else list(references)
    hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    edits = words = 0
    for r, h in zip(refs, hyps, strict=True):
        rw, hw = normalize_words(r), normalize_words(h)
        edits += edit_distance(rw, hw)
        words += len(rw)
    if words == 0:
        raise ValueError("the references hold no words")
    return edits / words


def has_stop_word(text: str, stop_words: Iterable[str] = STOP_WORDS) -> bool:
    """True when a stop word is one of the words of ``text``."""
    stops = set(stop_words)
    return any(w in stops for w in normalize_words(text))


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
         "fifteen sixteen seventeen eighteen nineteen").split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_words(n: int) -> list[str]:
    """English words of a whole number 0..999 (``42`` -> ``["forty", "two"]``)."""
    if not 0 <= n <= 999:
        raise ValueError(f"number_words covers 0..999, got {n}")
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10 - 2]] + ([_ONES[n % 10]] if n % 10 else [])
    return [_ONES[n // 100], "hundred"] + (number_words(n % 100) if n % 100 else [])


def object_phrase(name: str) -> str:
    """How an operator says a scene object's name.

    ``"red_block"`` -> ``"red block"``, ``"mugHandle"`` -> ``"mug handle"``,
    ``"cup2"`` -> ``"cup two"``.
    """
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", str(name))
    spaced = re.sub(r"(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])", " ", spaced)
    out: list[str] = []
    for w in normalize_words(spaced):
        if w.isdigit():
            out.extend(number_words(int(w)) if len(w) <= 3 else [_ONES[int(c)] for c in w])
        else:
            out.append(w)
    return " ".join(out)


# --------------------------------------------------------------------------- grammar

#: the correction vocabulary, as JSGF rule bodies; <object> and <skill_call> are filled in
#: by build_grammar. Kept close to what robot_agent.corrections understands.
_RULES: dict[str, str] = {
    "stop": "stop [stop | now | it | moving | there] | halt",
    "confirm": ("yes | okay | good | perfect | correct | that's right | that's good | "
                "continue | go on | that's fine"),
    "mag": ("a bit | a little | a little bit | slightly | a tiny bit | a lot | way | "
            "a bit more | a little more"),
    "num": ("one | two | three | four | five | six | seven | eight | nine | ten | fifteen | "
            "twenty | thirty | forty | forty five | fifty | sixty | ninety"),
    "dist_unit": "centimeter | centimeters | millimeter | millimeters | inch | inches",
    "amount": "<mag> | <num> <dist_unit>",
    "direction": "to the left | to the right | left | right | forward | backward | back | up | down | higher | lower",
    "move": ("[move | go | shift | move it] [<amount>] [more] <direction> | "
             "(move | go | move it) <direction> [by] <amount>"),
    "speed": ("[go | move] [<mag> | much] (slower | faster) | slow down | speed up | "
              "(more | less) (slowly | quickly) | be careful | gently"),
    "effort": "(pull | push) [it] [<mag> | much] (harder | softer | further | more | less | gently)",
    "part": "handle | rim | top | side | center | middle",
    "grasp": ("(grasp | grab | hold | pick) (it | the <object>) [up] (by | from | at) the <part> | "
              "(grasp | grab | hold) it [<mag>] (higher | lower)"),
    "rotate": ("(rotate | turn) [it] [<mag> | <num> degrees] "
               "(clockwise | counterclockwise | to the left | to the right)"),
    "plan": ("<skill_call> [first | instead | later] | "
             "(put | place) it (in | on | into | onto | next to | inside) the <object> [instead] | "
             "don't <skill_call> | use the <object> [instead]"),
    "correction": "<move> | <speed> | <effort> | <grasp> | <rotate> | <plan>",
    # One correction per utterance: allowing "<correction> and <correction>" let the decoder pad
    # short commands with junk ("pull harder and a bit"): 72 instead of 78 of 96 exact matches.
    "command": "<stop> | <confirm> | <correction> | <extra>",
}

#: how each skill is said when called on an object (skills without objects are phrases of their own)
_SKILL_VERBS: dict[str, str] = {
    "pick": "pick up | pick | grab | grasp",
    "place": "place | put down",
    "push": "push",
    "open": "open",
    "close": "close | shut",
}
_SKILL_PHRASES: dict[str, str] = {"go_home": "go home", "move_by": ""}  # move_by: the <move> rule

#: ARPABET of each letter, for words the dictionary lacks (spelled out as letters)
_LETTER_PHONES: dict[str, str] = {
    "a": "EY", "b": "B IY", "c": "S IY", "d": "D IY", "e": "IY", "f": "EH F", "g": "JH IY",
    "h": "EY CH", "i": "AY", "j": "JH EY", "k": "K EY", "l": "EH L", "m": "EH M", "n": "EH N",
    "o": "OW", "p": "P IY", "q": "K Y UW", "r": "AA R", "s": "EH S", "t": "T IY", "u": "Y UW",
    "v": "V IY", "w": "D AH B AH L Y UW", "x": "EH K S", "y": "W AY", "z": "Z IY",
    "0": "Z IH R OW", "1": "W AH N", "2": "T UW", "3": "TH R IY", "4": "F AO R", "5": "F AY V",
    "6": "S IH K S", "7": "S EH V AH N", "8": "EY T", "9": "N AY N",
}

_RULE_REF = re.compile(r"<([a-z_]+)>")
_JSGF_SYNTAX = re.compile(r"<[a-z_]+>|/[0-9.eE+-]+/|[|\[\]()*+;=]")


@dataclass(frozen=True)
class Grammar:
    """A JSGF grammar of what the operator may say, and what it was built from.

    Attributes:
        jsgf: the grammar text (public rule ``<utterance>``).
        words: every word the grammar can produce.
        objects: the spoken forms of the scene objects it names.
        wake_word: the optional wake word in front of a command ("" = none).
        stop_words: words that make an utterance a stop.
    """

    jsgf: str
    words: frozenset[str]
    objects: tuple[str, ...] = ()
    wake_word: str = WAKE_WORD
    stop_words: tuple[str, ...] = STOP_WORDS


def _alternatives(phrases: Iterable[str]) -> str:
    seen: list[str] = []
    for p in phrases:
        w = " ".join(normalize_words(p))
        if w and w not in seen:
            seen.append(w)
    return " | ".join(seen)


def build_grammar(objects: Iterable[Any] = (), extra_phrases: Iterable[str] = (),
                  skills: Iterable[str] | None = None, wake_word: str = WAKE_WORD) -> Grammar:
    """Build the correction grammar for a scene.

    Args:
        objects: scene object names (``"red_block"``, said "red block") or objects
            with ``name`` and ``category`` (``skills.types.ObjectInfo``). The grammar
            also knows each name's last word ("the block") and each category.
        extra_phrases: whole utterances to accept as they are (task-specific phrases).
        skills: skill names whose calls the operator may name ("open the drawer
            first"); default: every skill of ``skills.params.SKILL_PARAMS``.
        wake_word: word that may start any command (continuous listening); "" for none.

    Returns:
        The grammar.

    Raises:
        SpeechError: the wake word is not a single plain word.
    """
    from skills.params import SKILL_ARGS, SKILL_PARAMS

    if skills is None:
        skills = tuple(SKILL_PARAMS)
    wake = " ".join(normalize_words(wake_word))
    if wake_word and (not wake or " " in wake):
        raise SpeechError(f"the wake word must be one plain word, got {wake_word!r}")
    spoken: list[str] = []
    generic: list[str] = []
    for obj in objects:
        name = obj if isinstance(obj, str) else getattr(obj, "name", "")
        phrase = object_phrase(name)
        if phrase and phrase not in spoken:
            spoken.append(phrase)
        if phrase:
            generic.append(phrase.split()[-1])  # "red block" -> "the block"
        category = "" if isinstance(obj, str) else getattr(obj, "category", "")
        if isinstance(category, str) and category:
            generic.append(object_phrase(category))
    object_alts = _alternatives([*spoken, *generic, "object"])
    rules = dict(_RULES)
    rules["object"] = object_alts
    calls: list[str] = []
    for skill in skills:
        if SKILL_ARGS.get(skill):
            verbs = _SKILL_VERBS.get(skill) or " ".join(normalize_words(skill))
            calls.append(f"({verbs}) the <object>")
        else:
            phrase = _SKILL_PHRASES.get(skill, " ".join(normalize_words(skill)))
            if phrase:
                calls.append(phrase)
    if calls:
        rules["skill_call"] = " | ".join(calls)
    else:  # no skill names to say: drop the alternatives that name one
        rules["plan"] = " | ".join(alt for alt in _split_alternatives(rules["plan"]) if "<skill_call>" not in alt)
    extra = _alternatives(extra_phrases)
    if extra:
        rules["extra"] = extra
    else:
        rules["command"] = re.sub(r"\s*\|\s*(?:/[0-9.]+/\s*)?<extra>", "", rules["command"])
    top = f"[{wake}] <command>" if wake else "<command>"
    lines = ["#JSGF V1.0;", "grammar robot_agent;", f"public <utterance> = {top};"]
    lines += [f"<{name}> = {body};" for name, body in rules.items()]
    jsgf = "\n".join(lines) + "\n"
    words = set()
    for body in rules.values():
        words.update(_JSGF_SYNTAX.sub(" ", body).split())
    if wake:
        words.add(wake)
    _check_rules(rules)
    return Grammar(jsgf=jsgf, words=frozenset(words), objects=tuple(spoken), wake_word=wake,
                   stop_words=STOP_WORDS)


def _split_alternatives(body: str) -> list[str]:
    """The top-level alternatives of a JSGF rule body (bars inside brackets stay)."""
    out: list[str] = []
    cur: list[str] = []
    depth = 0
    for c in body:
        depth += c in "(["
        depth -= c in ")]"
        if c == "|" and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur).strip())
    return out


def _check_rules(rules: Mapping[str, str]) -> None:
    missing = {ref for body in rules.values() for ref in _RULE_REF.findall(body)} - set(rules)
    if missing:  # a programming error in the rule table, not a user error
        raise SpeechError(f"grammar refers to undefined rule(s): {', '.join(sorted(missing))}")


# --------------------------------------------------------------------------- audio

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
        raise SpeechError(f"audio must be a 1-D (or samples x channels) numeric array, "
                          f"got shape {arr.shape} dtype {arr.dtype}")
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
    "S16LE": ("<i2", 1.0), "S32LE": ("<i4", 1.0 / 65536.0), "F32LE": ("<f4", 32767.0), "U8": ("u1", 256.0),
}


def audio_chunk_to_pcm(data: bytes | bytearray | memoryview | Sequence[int], sample_rate: int,
                       channels: int = 1, sample_format: str = "S16LE",
                       target_rate: int = SAMPLE_RATE) -> np.ndarray:
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
        raise SpeechError(f"audio chunk of {len(raw)} bytes is not a whole number of "
                          f"{channels}-channel {fmt} frames ({frame} bytes each)")
    x = np.frombuffer(raw, dtype).astype(np.float64)
    if fmt == "U8":
        x = x - 128.0
    x = (x * scale).reshape(-1, channels).mean(axis=1)
    return resample(np.clip(np.round(x), -32768, 32767).astype(np.int16), sample_rate, target_rate)


def add_noise_floor(samples: np.ndarray, level: float, seed: int | np.random.Generator = 0,
                    pad_s: float = 0.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
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


# --------------------------------------------------------------------------- recognizers

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

    def close(self) -> None:
        """Release the model (the recognizer is unusable after)."""

    def __enter__(self) -> "SpeechRecognizer":
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

    def __init__(self, vocabulary: Grammar | None = None, sample_rate: int = SAMPLE_RATE,
                 noise_floor: float = 10.0, pad_s: float = 0.25, model_dir: str | Path | None = None,
                 dictionary: str | Path | None = None, decoder_options: Mapping[str, Any] | None = None) -> None:
        ps = _pocketsphinx("spoken corrections")
        if model_dir is None and sample_rate != SAMPLE_RATE:
            raise SpeechError(f"the bundled en-us model decodes {SAMPLE_RATE} Hz audio, not {sample_rate}: "
                              "resample the input (read_wav and audio_chunk_to_pcm do), or give the "
                              "model_dir of a model for that rate")
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
            raise SpeechError(f"cannot start pocketsphinx ({exc}); check model_dir, dictionary "
                              "and decoder_options") from None
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
            try:
                self._decoder.start_utt()
                self._decoder.process_raw(audio.astype("<i2").tobytes(), full_utt=True)
                self._decoder.end_utt()
            except RuntimeError as exc:
                raise SpeechError(f"pocketsphinx failed to decode: {exc}") from None
            hyp = self._decoder.hyp()
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
        return Transcript(text=text, confidence=confidence, is_stop=has_stop_word(text, self.grammar.stop_words),
                          complete=complete, woken=woken)

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

    def __init__(self, model_path: str | Path, device: str = "cpu", wake_word: str = "",
                 stop_words: Sequence[str] = STOP_WORDS) -> None:
        if not str(model_path).strip():
            raise SpeechError("no Whisper model configured: set speech.whisper_model_path to a local "
                              "model directory (models are never downloaded)")
        p = Path(str(model_path)).expanduser()
        if not p.is_dir():
            raise SpeechError(f"Whisper model directory {p} does not exist; set speech.whisper_model_path "
                              "to a directory saved with save_pretrained (models are never downloaded)")
        if not (p / "config.json").is_file():
            raise SpeechError(f"{p} holds no config.json: not a saved transformers model directory")
        transformers = require("transformers", "Whisper speech recognition")
        self.sample_rate = SAMPLE_RATE
        self.stop_words = tuple(stop_words)
        self.wake_word = " ".join(normalize_words(wake_word))
        try:
            self._pipe = transformers.pipeline("automatic-speech-recognition", model=str(p), device=device,
                                               model_kwargs={"local_files_only": True})
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
        return Transcript(text=text, confidence=None, is_stop=has_stop_word(text, self.stop_words),
                          source="whisper", woken=woken)

    def close(self) -> None:
        self._pipe = None


# --------------------------------------------------------------------------- streaming

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

    def __init__(self, sample_rate: int = SAMPLE_RATE, frame_s: float = 0.03, threshold_db: float = 12.0,
                 min_floor_db: float = -65.0, floor_window_s: float = 2.0, start_s: float = 0.09,
                 end_silence_s: float = 0.5, pre_roll_s: float = 0.2, max_utterance_s: float = 10.0,
                 min_speech_s: float = 0.12) -> None:
        if sample_rate <= 0 or not 0.005 <= frame_s <= 0.1:
            raise SpeechError("sample_rate must be > 0 and frame_s in [0.005, 0.1] s")
        if threshold_db <= 0 or end_silence_s <= 0 or max_utterance_s <= end_silence_s or pre_roll_s < 0 \
                or floor_window_s <= end_silence_s:
            raise SpeechError("need threshold_db > 0, end_silence_s > 0, pre_roll_s >= 0, "
                              "max_utterance_s > end_silence_s and floor_window_s > end_silence_s")
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
            utt = self._step(x[k * self.frame:(k + 1) * self.frame])
            if utt is not None:
                out.append(utt)
        self._pending = x[n_full * self.frame:].copy()
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
    """Flags the stop keyphrase the moment it is heard in a stream (pocketsphinx keyword search).

    Runs on every chunk, independently of utterance segmentation, so a stop is
    raised within a frame or two of the word's end (not after the end-of-utterance
    silence a full transcription waits for).

    Args:
        keyphrase: what to listen for.
        threshold: keyword-search detection threshold (smaller = more detections);
            the default was chosen on espeak-ng speech (docs/speech.md).
        sample_rate: rate of the fed audio (16000, the bundled model's).
        noise_floor: faint noise added to the audio (see :func:`add_noise_floor`).
        block_s: audio decoded between two checks for the keyphrase.

    Raises:
        ImportError: pocketsphinx is not installed.
        SpeechError: a bad setting, or a keyphrase with words missing from the dictionary.
    """

    def __init__(self, keyphrase: str = "stop", threshold: float = 1e-12, sample_rate: int = SAMPLE_RATE,
                 noise_floor: float = 10.0, block_s: float = 0.03) -> None:
        ps = _pocketsphinx("stop spotting")
        words = normalize_words(keyphrase)
        if not words:
            raise SpeechError("the stop keyphrase is empty")
        if not 0.0 < threshold < 1.0:
            raise SpeechError(f"the stop threshold must be in (0, 1), got {threshold}")
        if sample_rate != SAMPLE_RATE:
            raise SpeechError(f"stop spotting decodes {SAMPLE_RATE} Hz audio (the bundled model), not {sample_rate}")
        self.keyphrase = " ".join(words)
        self.sample_rate = int(sample_rate)
        self.noise_floor = float(noise_floor)
        self.block = max(1, int(round(block_s * sample_rate)))
        kwargs: dict[str, Any] = {"lm": None, "loglevel": "FATAL", "samprate": self.sample_rate,
                                  "keyphrase": self.keyphrase, "kws_threshold": float(threshold)}
        try:
            self._decoder = ps.Decoder(**kwargs)
        except (ValueError, RuntimeError) as exc:
            raise SpeechError(f"cannot start stop spotting for {self.keyphrase!r}: {exc}") from None
        missing = [w for w in words if not self._decoder.lookup_word(w)]
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
        """Decode more audio; the stream time (s) the keyphrase was spotted at, or None.

        After a detection the search restarts, so one spoken stop gives one detection.
        The rest of the chunk after the detection is decoded too.
        """
        x = np.concatenate([self._pending, pcm_to_int16(pcm)])
        hit: float | None = None
        n_full = x.size // self.block
        for k in range(n_full):
            block = add_noise_floor(x[k * self.block:(k + 1) * self.block], self.noise_floor, self._rng)
            self._decoder.process_raw(block.astype("<i2").tobytes())
            self._samples += block.size
            if self._decoder.hyp() is not None:
                if hit is None:
                    hit = self.position_s
                self.reset()
        self._pending = x[n_full * self.block:].copy()
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
    """

    def __init__(self, recognizer: SpeechRecognizer, spotter: StopSpotter | None = None,
                 segmenter: UtteranceSegmenter | None = None, wake_word: str = "",
                 min_confidence: float = 0.0) -> None:
        self.recognizer = recognizer
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
                out.append(Transcript(self.spotter.keyphrase, None, True, start_s=at, end_s=at, source="spotter"))
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
        out.extend(listener.feed(samples[i:i + step]))
    out.extend(listener.flush())
    return out


# --------------------------------------------------------------------------- microphone

def _sounddevice() -> Any:
    try:
        return require("sounddevice", "microphone input")
    except OSError as exc:  # the module is there but PortAudio is not
        raise SpeechError(f"no audio input available ({exc}); install PortAudio: "
                          "apt-get install -y libportaudio2") from None


class MicrophoneSource:
    """Mono 16-bit microphone input through ``sounddevice`` (PortAudio).

    Use as a context manager; :meth:`frames` yields blocks of ``block_s`` seconds.

    Args:
        sample_rate: capture rate (Hz); 16000 suits the recognizers.
        device: input device name or index ("" / None = the system default).
        block_s: seconds per block.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, device: str | int | None = None,
                 block_s: float = 0.03) -> None:
        self.sample_rate = int(sample_rate)
        self.device = device if device not in ("", None) else None
        self.block = max(1, int(round(block_s * sample_rate)))
        self._stream: Any = None

    def __enter__(self) -> "MicrophoneSource":
        sd = _sounddevice()
        try:
            self._stream = sd.RawInputStream(samplerate=self.sample_rate, blocksize=self.block,
                                             device=self.device, channels=1, dtype="int16")
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


def record_push_to_talk(frames: Iterable[np.ndarray], released: threading.Event,
                        max_s: float = 15.0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
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


def listen_continuous(listener: SpeechListener, frames: Iterable[np.ndarray],
                      on_transcript: Callable[[Transcript], None],
                      stop_listening: threading.Event | None = None) -> None:
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


# --------------------------------------------------------------------------- factories

def make_recognizer(config: "SpeechConfig", objects: Iterable[str] = (),
                    extra_phrases: Iterable[str] = ()) -> SpeechRecognizer:
    """The recognizer ``config.backend`` names.

    Raises:
        SpeechError: an unknown backend (naming the valid ones), or a model that
            cannot be loaded.
    """
    if config.backend == "pocketsphinx":
        return PocketSphinxRecognizer(build_grammar(objects, extra_phrases, wake_word=config.wake_word),
                                      noise_floor=config.noise_floor)
    if config.backend == "whisper":
        return WhisperRecognizer(config.whisper_model_path, device=config.whisper_device,
                                 wake_word=config.wake_word)
    raise SpeechError(f"unknown speech backend {config.backend!r}; valid: {', '.join(BACKENDS)}")


def make_listener(config: "SpeechConfig", recognizer: SpeechRecognizer) -> SpeechListener:
    """A :class:`SpeechListener` set up from ``config`` around ``recognizer``."""
    spotter = None
    if config.stop_keyphrase:
        spotter = StopSpotter(config.stop_keyphrase, threshold=config.stop_threshold,
                              sample_rate=recognizer.sample_rate, noise_floor=config.noise_floor)
    segmenter = UtteranceSegmenter(sample_rate=recognizer.sample_rate, threshold_db=config.vad_threshold_db,
                                   end_silence_s=config.end_silence_s, max_utterance_s=config.max_utterance_s,
                                   floor_window_s=max(2.0, config.end_silence_s + 1.0))
    wake = config.wake_word if config.mode == "continuous" else ""
    return SpeechListener(recognizer, spotter, segmenter, wake_word=wake, min_confidence=config.min_confidence)


# --------------------------------------------------------------------------- benchmark set

#: scene of the spoken-correction benchmark (scripts/bench_speech.py, tests/test_speech.py)
BENCH_OBJECTS = ("red_block", "blue_cup", "drawer", "mug", "plate", "green_bowl")
#: spoken-correction benchmark: (utterance, the CorrectionKind value it should be understood as),
#: spoken while the robot picks up the mug
BENCH_UTTERANCES: tuple[tuple[str, str], ...] = (
    ("stop", "stop"),
    ("stop now", "stop"),
    ("a bit to the left", "skill"),
    ("move five centimeters to the right", "skill"),
    ("go higher", "skill"),
    ("a little lower", "skill"),
    ("move it two inches forward", "skill"),
    ("go back a bit", "skill"),
    ("slower", "skill"),
    ("go a bit faster", "skill"),
    ("pull harder", "skill"),
    ("push it a bit further", "skill"),
    ("grasp it by the handle", "skill"),
    ("pick it up from the side", "skill"),
    ("rotate it ninety degrees clockwise", "skill"),
    ("turn it a bit to the left", "skill"),
    ("open the drawer first", "plan"),
    ("put it on the plate instead", "plan"),
    ("pick up the red block first", "plan"),
    ("don't push the blue cup", "plan"),
    ("use the green bowl instead", "plan"),
    ("close the drawer", "plan"),
    ("yes", "confirm"),
    ("that's right", "confirm"),
)


# --------------------------------------------------------------------------- synthesis (tests, demos)

def synthesize(text: str, voice: str = "en-us", words_per_minute: int = 175,
               sample_rate: int = SAMPLE_RATE, espeak: str = "espeak-ng") -> np.ndarray:
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
            subprocess.run([exe, "-v", voice, "-s", str(int(words_per_minute)), "-w", str(wav), "--", text],
                           capture_output=True, check=True, timeout=30)
        except subprocess.CalledProcessError as exc:
            raise SpeechError(f"{espeak} failed: {exc.stderr.decode(errors='replace').strip()}") from None
        except subprocess.TimeoutExpired:
            raise SpeechError(f"{espeak} took more than 30 s") from None
        return read_wav(wav, sample_rate)
