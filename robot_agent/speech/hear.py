"""Speech that cannot turn into a different command: two decodes, stop evidence, and questions.

A grammar-constrained decoder always returns some sentence of its grammar: "wait, don't
move" came out as "way backward", "no, I meant the green one" as "go up by twenty
centimeter", and its posterior (0.003 to 0.02) did not tell those from correct transcripts.
:func:`hear` decodes each utterance twice, with the scene's grammar and open-vocabulary
(pocketsphinx's US-English language model), and runs the stop-keyphrase spotter over it:

* **stop**: any stop-like word in either transcript or from the spotter ("freeze",
  "hold on", "don't move"...) makes the utterance a stop (``text="stop"``), whatever else
  was heard; halting is the safe side;
* **agreed**: enough of the grammar transcript's content words are in the open decode
  (a word matches when it is the same word or sounds nearly the same: "drawer"/"door"):
  the clean grammar transcript is the text;
* **open**: the grammar heard nothing, or disagrees, but the open decode is confident: the
  open transcript is the text (the understanding layer handles open language);
* **question**: otherwise nothing is acted on: ``text`` is "" and ``question`` asks
  "Did you say '...'?" about the grammar transcript.

The recognizers are built once (:func:`default_hearer`) and the grammar is rebuilt only
when the scene's objects change. ``docs/speech.md`` has the measurements behind the
thresholds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from robot_agent.speech.audio import SAMPLE_RATE, pcm_to_int16, read_wav
from robot_agent.speech.grammar import WAKE_WORD, build_grammar
from robot_agent.speech.recognizers import OpenRecognizer, PocketSphinxRecognizer, Transcript
from robot_agent.speech.stops import find_stop_phrase
from robot_agent.speech.text import normalize_words
from robot_agent.speech.wer import edit_distance

log = logging.getLogger(__name__)

#: words that carry no meaning of their own in a correction; agreement is counted on the others
FUNCTION_WORDS = frozenset(
    "a an the it to by at from of is be that's and or this that its".split())
#: fraction of the grammar transcript's content words the open decode must hold for agreement
AGREE_THRESHOLD = 0.5
#: open-decode posterior above which the open transcript is passed on when the grammar disagrees
OPEN_CLEAR = 0.5


@dataclass
class Heard:
    """What :func:`hear` made of one utterance.

    Attributes:
        text: what to understand: the grammar transcript (agreed), the open transcript
            (grammar unreliable, open decode clear), "stop" (any stop evidence), or ""
            (nothing heard, or a question is asked: act on nothing).
        confidence: 0..1, how sure the text is what was said.
        agreed: True when the grammar and open decodes agree on the grammar transcript.
        grammar_text: the grammar-constrained transcript (wake word removed).
        open_text: the open-vocabulary transcript.
        stop: True when a stop-like word was heard by any decode or the spotter.
        question: "Did you say '...'?" when the decodes disagree and nothing is acted on.
        stop_phrase: the stop-like phrase heard ("" when none).
        stop_sources: which of ``"grammar"``, ``"open"``, ``"spotter"`` heard it.
        grammar_confidence: the grammar decode's posterior (0..1).
        open_confidence: the open decode's posterior (0..1).
        agreement: fraction of the grammar transcript's content words found in the open decode.
        decision: ``"stop"``, ``"grammar"``, ``"open"``, ``"ask"`` or ``"none"``.
        decode_s: seconds spent decoding.
    """

    text: str
    confidence: float
    agreed: bool
    grammar_text: str
    open_text: str
    stop: bool
    question: str | None = None
    stop_phrase: str = ""
    stop_sources: tuple[str, ...] = ()
    grammar_confidence: float = 0.0
    open_confidence: float = 0.0
    agreement: float = 0.0
    decision: str = "none"
    decode_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"text": self.text, "confidence": round(float(self.confidence), 3), "agreed": self.agreed,
                "grammar_text": self.grammar_text, "open_text": self.open_text, "stop": self.stop,
                "question": self.question, "stop_phrase": self.stop_phrase, "stop_sources": list(self.stop_sources),
                "grammar_confidence": round(float(self.grammar_confidence), 4),
                "open_confidence": round(float(self.open_confidence), 4),
                "agreement": round(float(self.agreement), 3), "decision": self.decision,
                "decode_s": round(float(self.decode_s), 3)}


def _object_key(objects: Iterable[Any]) -> tuple[tuple[str, str], ...]:
    out = []
    for o in objects:
        if isinstance(o, str):
            out.append((o, ""))
        else:
            cat = getattr(o, "category", "")
            out.append((str(getattr(o, "name", "")), cat if isinstance(cat, str) else ""))
    return tuple(out)


class Hearer:
    """Grammar + open-vocabulary + stop-spotter decoding of single utterances (see the module doc).

    Args:
        objects: the scene's objects (names or ``ObjectInfo``) for the grammar.
        noise_floor: faint noise added before decoding (see :func:`add_noise_floor`).
        spot_stops: run the stop-keyphrase spotter over each utterance too.
        agree_threshold: content-word agreement needed to act on the grammar transcript.
        open_clear: open-decode posterior needed to pass the open transcript on.
        wake_word: optional first word of the grammar (removed from transcripts).

    Raises:
        ImportError: pocketsphinx is not installed.
        SpeechError: a model cannot be loaded.
    """

    def __init__(self, objects: Iterable[Any] = (), *, noise_floor: float = 10.0, spot_stops: bool = True,
                 agree_threshold: float = AGREE_THRESHOLD, open_clear: float = OPEN_CLEAR,
                 wake_word: str = WAKE_WORD) -> None:
        objects = list(objects)
        self.noise_floor = float(noise_floor)
        self.agree_threshold = float(agree_threshold)
        self.open_clear = float(open_clear)
        self.wake_word = wake_word
        self._objects = _object_key(objects)
        self._lock = threading.Lock()
        self.grammar = PocketSphinxRecognizer(build_grammar(objects, wake_word=wake_word), noise_floor=noise_floor)
        self.open = OpenRecognizer(noise_floor=noise_floor)
        self.spotter: Any = None
        if spot_stops:
            from robot_agent.speech.segment import StopSpotter

            self.spotter = StopSpotter(noise_floor=noise_floor)
        self._phones: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ scene
    def set_objects(self, objects: Iterable[Any]) -> bool:
        """Rebuild the grammar when the scene's objects changed; True when it was rebuilt."""
        objects = list(objects)
        key = _object_key(objects)
        with self._lock:
            if key == self._objects:
                return False
            self.grammar.set_vocabulary(build_grammar(objects, wake_word=self.wake_word))
            self._objects = key
            return True

    # ------------------------------------------------------------------ agreement
    def phones(self, word: str) -> list[str]:
        """ARPABET phones of a word (dictionary, else the grammar recognizer's fallback), cached."""
        got = self._phones.get(word)
        if got is None:
            text = self.open.lookup(word) or self.grammar.pronunciation(word)
            got = self._phones[word] = text.split()
        return got

    def word_matches(self, word: str, others: Iterable[str]) -> bool:
        """True when ``word`` is one of ``others`` or sounds nearly the same as one of them.

        Nearly the same, for words of 4+ phones: at most a quarter of the word's phones
        differ (at least one may): "drawer" (D R AO R) matches "door" (D AO R).
        """
        p = self.phones(word)
        for o in others:
            if o == word:
                return True
            if len(p) >= 4:
                q = self.phones(o)
                if q and edit_distance(p, q) <= max(1, len(p) // 4):
                    return True
        return False

    def agreement(self, grammar_text: str, open_text: str) -> float:
        """Fraction of the grammar transcript's content words found in the open transcript (0..1)."""
        content = [w for w in normalize_words(grammar_text) if w not in FUNCTION_WORDS]
        if not content:
            content = normalize_words(grammar_text)
        if not content:
            return 0.0
        others = normalize_words(open_text)
        return sum(self.word_matches(w, others) for w in content) / len(content)

    # ------------------------------------------------------------------ hearing
    def spot(self, samples: np.ndarray) -> str:
        """The stop keyphrase the spotter hears in one utterance ("" when none)."""
        if self.spotter is None:
            return ""
        self.spotter.reset()
        self.spotter.last_phrase = ""
        pad = np.zeros(int(0.25 * SAMPLE_RATE), np.int16)
        hit = self.spotter.feed(np.concatenate([pad, samples, pad, pad]))
        return self.spotter.last_phrase if hit is not None else ""

    def hear(self, pcm: bytes | np.ndarray, objects: Iterable[Any] | None = None) -> Heard:
        """Hear one utterance (16 kHz mono 16-bit PCM); see the module doc for the decision.

        Args:
            pcm: the utterance.
            objects: the scene's objects; the grammar is rebuilt when they differ from the
                last ones (None keeps the current grammar).

        Raises:
            SpeechError: the audio is not 16-bit mono PCM, or decoding failed.
        """
        if objects is not None:
            self.set_objects(objects)
        samples = pcm_to_int16(pcm)
        t0 = time.perf_counter()
        with self._lock:
            g = self.grammar.transcribe(samples)
            o = self.open.transcribe(samples)
            spotted = self.spot(samples)
        took = time.perf_counter() - t0
        return self.decide(g, o, spotted, decode_s=took)

    def decide(self, g: Transcript, o: Transcript, spotted: str = "", decode_s: float = 0.0) -> Heard:
        """The :class:`Heard` for a grammar transcript ``g``, an open one ``o`` and a spotted stop."""
        gc = float(g.confidence or 0.0)
        oc = float(o.confidence or 0.0)
        agree = self.agreement(g.text, o.text) if g.text and o.text else 0.0
        common = dict(grammar_text=g.text, open_text=o.text, grammar_confidence=gc, open_confidence=oc,
                      agreement=agree, decode_s=decode_s)
        sources: list[str] = []
        phrase = ""
        for name, found in (("grammar", find_stop_phrase(g.text) if g.text else None),
                            ("open", find_stop_phrase(o.text) if o.text else None),
                            ("spotter", spotted or None)):
            if found:
                sources.append(name)
                phrase = phrase or found
        if sources:
            conf = min(1.0, 0.5 + 0.25 * (len(sources) - 1))
            return Heard("stop", conf, "grammar" in sources and "open" in sources, stop=True, question=None,
                         stop_phrase=phrase, stop_sources=tuple(sources), decision="stop", **common)
        if not g.text and not o.text:
            return Heard("", 0.0, False, stop=False, decision="none", **common)
        if g.text and agree >= self.agree_threshold:
            return Heard(g.text, agree, True, stop=False, decision="grammar", **common)
        if o.text and oc >= self.open_clear:
            return Heard(o.text, oc, False, stop=False, decision="open", **common)
        said = g.text or o.text
        return Heard("", agree if g.text else oc, False, stop=False, question=f"Did you say '{said}'?",
                     decision="ask", **common)

    def hear_file(self, path: str | Path, objects: Iterable[Any] | None = None) -> Heard:
        """:meth:`hear` on a WAV file (any rate; resampled).

        Raises:
            SpeechError: the file is not a readable PCM WAV file.
        """
        return self.hear(read_wav(path), objects)

    def close(self) -> None:
        self.grammar.close()
        self.open.close()


_DEFAULT: Hearer | None = None
_DEFAULT_LOCK = threading.Lock()


def default_hearer() -> Hearer:
    """The process-wide :class:`Hearer` (built on first use, then reused)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = Hearer()
        return _DEFAULT


def hear(pcm: bytes | np.ndarray, objects: Iterable[Any] = ()) -> Heard:
    """Hear one utterance with the process-wide :class:`Hearer` (see :meth:`Hearer.hear`).

    Args:
        pcm: 16 kHz mono 16-bit samples (bytes or an int16 array) of one utterance.
        objects: the scene's object names or ``ObjectInfo``s (the grammar follows them).
    """
    return default_hearer().hear(pcm, objects)


__all__ = ["AGREE_THRESHOLD", "FUNCTION_WORDS", "OPEN_CLEAR", "Heard", "Hearer", "default_hearer", "hear"]
