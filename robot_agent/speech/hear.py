"""Speech that cannot turn into a different command: two decodes, stop evidence, and questions.

A grammar-constrained decoder always returns some sentence of its grammar: "wait, don't
move" came out as "way backward", "no, I meant the green one" as "go up by twenty
centimeter", and its posterior (0.003 to 0.02) did not tell those from correct transcripts.
:func:`hear` decodes each utterance twice, with the scene's grammar and open-vocabulary
(pocketsphinx's US-English language model), runs the stop-keyphrase spotter over it, and
scores both transcripts against the audio by forced alignment (:class:`TextAligner`: acoustic
log-likelihood per frame, no language model, so the two compare directly):

* **stop**: a stop-like word in either transcript or from the spotter ("freeze", "hold on",
  "don't move"...) makes the utterance a stop (``text="stop"``), whatever else was heard;
  halting is the safe side;
* **grammar** (``agreed``): the grammar transcript explains the audio about as well as the
  open one (:attr:`Heard.margin`), no swap of one of its meaning words explains it nearly as
  well ("much lower" for "much slower": :attr:`Heard.rival_margin`), and the open transcript
  holds some of its content words (or the grammar's fits clearly better): the clean grammar
  transcript is the text;
* **open**: the open transcript explains the audio clearly better than the grammar's: it is
  the text (the understanding layer handles open language);
* **question**: otherwise nothing is acted on: ``text`` is "" and ``question`` asks
  "Did you say '...'?" about the grammar transcript (the open one when the grammar heard
  nothing).

The recognizers are built once (:func:`default_hearer`) and the grammar is rebuilt only when
the scene's objects change. ``docs/speech.md`` has the measurements behind the thresholds.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robot_agent.speech.audio import SAMPLE_RATE, pcm_to_int16, read_wav
from robot_agent.speech.grammar import WAKE_WORD, build_grammar
from robot_agent.speech.recognizers import OpenRecognizer, PocketSphinxRecognizer, TextAligner, Transcript
from robot_agent.speech.stops import find_stop_phrase
from robot_agent.speech.text import normalize_words
from robot_agent.speech.wer import edit_distance

log = logging.getLogger(__name__)

#: words that carry no meaning of their own in a correction; agreement is counted on the others
FUNCTION_WORDS = frozenset("a an the it to by at from of is be that's and or this that its".split())
#: words that carry a correction's meaning, in classes whose members an acoustic confusion swaps
#: ("much slower" / "much lower"): the grammar transcript is checked against each swap (object
#: words come from the scene)
SLOT_CLASSES: tuple[frozenset[str], ...] = (
    frozenset(
        "left right forward backward back up down higher lower slower faster harder softer further "
        "more less clockwise counterclockwise".split()
    ),
    frozenset("handle rim top side center middle".split()),
    frozenset("open close shut push pick place put grab grasp hold use pull rotate turn".split()),
    frozenset("in on into onto inside next".split()),
    frozenset(
        "one two three four five six seven eight nine ten fifteen twenty thirty forty fifty sixty ninety".split()
    ),
    frozenset("centimeter centimeters millimeter millimeters inch inches degrees".split()),
    frozenset("first instead later".split()),
)
#: the grammar transcript is acted on only when it explains the audio about as well as the open one:
#: acoustic log-likelihood per 10 ms frame of the grammar text minus the open text's (both aligned to
#: the audio, no language model) at least this ...
ACCEPT_MARGIN = -0.3
#: ... and no swap of one meaning word explains the audio nearly as well: its score minus the best
#: swap's at least this ("much slower" against "much lower") ...
RIVAL_MARGIN = 0.2
#: ... and either this fraction of its content words is in the open transcript ...
AGREE_THRESHOLD = 0.3
#: ... or it explains the audio this much better than the open transcript
STRONG_MARGIN = 0.4
#: the open transcript is passed on when it explains the audio this much better than the grammar's
OPEN_MARGIN = -1.5
#: a stop-like phrase that explains the audio this well compared with the better transcript (or
#: better) makes the utterance a stop: "hold on" heard as "go lower" and "wait a moment" as nothing
#: (when the grammar transcript would be acted on, the phrase must explain the audio better than it)
STOP_MARGIN = -0.3
#: the stop-like phrases aligned to the audio for that check
STOP_SOUNDS = (
    "stop",
    "stop stop",
    "halt",
    "freeze",
    "wait",
    "wait a moment",
    "hold on",
    "hold on a second",
    "whoa",
    "whoa whoa",
    "abort",
    "don't move",
    "no no no",
    "please stop",
    "stop right there",
)
#: thresholds chosen on the tuning voices of scripts/bench_speech.py --open-set (docs/speech.md):
#: the most acted-on right meanings with at most 2% of the corrections acted on wrongly

#: "to" before these words is the homophone "too" ("you're going to fast"): fixed in open transcripts
_TOO_WORDS = (
    "fast slow far high low close hard much quick quickly slowly soft heavy big small long short strong "
    "tight loose near"
).split()
_TOO_RE = re.compile(r"\bto (" + "|".join(_TOO_WORDS) + r")\b")


def fix_homophones(text: str) -> str:
    """Open-transcript fixes the language model gets wrong: "going to fast" -> "going too fast"."""
    return _TOO_RE.sub(r"too \1", text)


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
        stop_sources: which of ``"grammar"``, ``"open"``, ``"spotter"``, ``"acoustic"`` heard it.
        grammar_confidence: the grammar decode's posterior (0..1).
        open_confidence: the open decode's posterior (0..1).
        agreement: fraction of the grammar transcript's content words found in the open decode.
        margin: acoustic log-likelihood per 10 ms frame of the grammar transcript minus that of
            the open transcript, both aligned to the audio (None when one is empty): near 0 or
            above when the grammar's sentence explains the audio as well as free words do.
        rival: the grammar transcript with one meaning word swapped ("much lower" for "much
            slower") that explains the audio best ("" when there is none).
        rival_margin: the grammar transcript's score minus the rival's (None without a rival):
            small or negative when the words that carry the meaning are uncertain.
        stop_margin: score of the stop-like phrase that best explains the audio minus that of the
            better transcript (None when not computed): at or above the hearer's ``stop_margin``
            the utterance sounds like a stop and is one (stop source ``"acoustic"``).
        decision: ``"stop"``, ``"grammar"``, ``"open"``, ``"ask"`` or ``"none"``.
        woken: the grammar transcript started with the wake word.
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
    margin: float | None = None
    rival: str = ""
    rival_margin: float | None = None
    stop_margin: float | None = None
    decision: str = "none"
    woken: bool = False
    decode_s: float = 0.0

    def to_transcript(self, start_s: float | None = None, end_s: float | None = None) -> Transcript:
        """The :class:`Transcript` a :class:`SpeechListener` hands on (a question keeps the text asked about)."""
        text = self.text
        if self.question is not None:
            text = self.grammar_text or self.open_text
        return Transcript(
            text=text,
            confidence=float(self.confidence),
            is_stop=self.stop,
            complete=self.decision != "ask",
            start_s=start_s,
            end_s=end_s,
            source="hear",
            woken=self.woken or self.stop,
            question=self.question,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "text": self.text,
            "confidence": round(float(self.confidence), 3),
            "agreed": self.agreed,
            "grammar_text": self.grammar_text,
            "open_text": self.open_text,
            "stop": self.stop,
            "question": self.question,
            "stop_phrase": self.stop_phrase,
            "stop_sources": list(self.stop_sources),
            "grammar_confidence": round(float(self.grammar_confidence), 4),
            "open_confidence": round(float(self.open_confidence), 4),
            "agreement": round(float(self.agreement), 3),
            "margin": None if self.margin is None else round(float(self.margin), 3),
            "rival": self.rival,
            "rival_margin": None if self.rival_margin is None else round(float(self.rival_margin), 3),
            "stop_margin": None if self.stop_margin is None else round(float(self.stop_margin), 3),
            "decision": self.decision,
            "woken": self.woken,
            "decode_s": round(float(self.decode_s), 3),
        }


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
        accept_margin: least acoustic margin of the grammar transcript over the open one to
            act on it (see :attr:`Heard.margin`).
        rival_margin: least margin of the grammar transcript over its best one-word swap
            (see :attr:`Heard.rival_margin`).
        agree_threshold: content-word agreement with the open transcript needed to act on the
            grammar transcript, unless its margin reaches ``strong_margin``.
        strong_margin: margin that accepts the grammar transcript without word agreement.
        open_margin: margin at or below which the open transcript is passed on instead.
        stop_margin: margin of the best stop-like phrase over the better transcript at which the
            utterance is taken for a stop (see :attr:`Heard.stop_margin`).
        wake_word: optional first word of the grammar (removed from transcripts).

    Raises:
        ImportError: pocketsphinx is not installed.
        SpeechError: a model cannot be loaded.
    """

    def __init__(
        self,
        objects: Iterable[Any] = (),
        *,
        noise_floor: float = 10.0,
        spot_stops: bool = True,
        accept_margin: float = ACCEPT_MARGIN,
        rival_margin: float = RIVAL_MARGIN,
        agree_threshold: float = AGREE_THRESHOLD,
        strong_margin: float = STRONG_MARGIN,
        open_margin: float = OPEN_MARGIN,
        stop_margin: float = STOP_MARGIN,
        wake_word: str = WAKE_WORD,
    ) -> None:
        objects = list(objects)
        self.noise_floor = float(noise_floor)
        self.accept_margin = float(accept_margin)
        self.open_margin = float(open_margin)
        self.rival_margin = float(rival_margin)
        self.agree_threshold = float(agree_threshold)
        self.strong_margin = float(strong_margin)
        self.stop_margin = float(stop_margin)
        self.wake_word = wake_word
        self._objects = _object_key(objects)
        self._lock = threading.Lock()
        self.grammar = PocketSphinxRecognizer(build_grammar(objects, wake_word=wake_word), noise_floor=noise_floor)
        self.open = OpenRecognizer(noise_floor=noise_floor)
        self.aligner = TextAligner(noise_floor=noise_floor)
        self.aligner.add_words(self.grammar.added_words)
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
            self.aligner.add_words(self.grammar.added_words)
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

    def rivals(self, text: str) -> list[str]:
        """``text`` with one meaning word swapped for another of its class (see :data:`SLOT_CLASSES`)."""
        objects = {w for phrase in self.grammar.grammar.objects for w in phrase.split()}
        classes = [*SLOT_CLASSES, frozenset(objects | {"object"})]
        words = normalize_words(text)
        out: list[str] = []
        for i, w in enumerate(words):
            if w == "don't":  # a dropped or added negation flips the meaning
                out.append(" ".join(words[:i] + words[i + 1 :]))
                continue
            for cls in classes:
                if w in cls:
                    out += [" ".join(words[:i] + [alt] + words[i + 1 :]) for alt in sorted(cls) if alt != w]
        if words and words[0] != "don't" and words[0] in SLOT_CLASSES[2]:
            out.append(" ".join(["don't", *words]))
        return [o for o in out if o and o != text]

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
            margin = rival_margin = stop_margin = None
            rival = sounds_like = ""
            heard_stop = spotted or find_stop_phrase(g.text) or find_stop_phrase(o.text)
            if (g.text or o.text) and not heard_stop:
                audio = self.aligner.prepare(samples)
                sg = self.aligner.score(g.text, audio) if g.text else None
                so = self.aligner.score(o.text, audio) if o.text and o.text != g.text else sg
                if sg is not None and so is not None:
                    margin = sg - so
                best = self.aligner.best_of(self.rivals(g.text), audio) if sg is not None else None
                if best is not None:
                    rival, rival_margin = best[0], sg - best[1]
                # does a stop-like phrase explain the audio about as well as what the decodes heard?
                ref = max((x for x in (sg, so) if x is not None), default=None)
                stop = self.aligner.best_of(STOP_SOUNDS, audio) if ref is not None else None
                if stop is not None and ref is not None:
                    stop_margin = stop[1] - ref
                    # two decodes that agree on a correction are evidence against a stop: then the
                    # stop-like phrase must explain the audio better than the transcript does
                    agreed = sg is not None and self.accepts(margin, rival_margin, self.agreement(g.text, o.text))
                    if stop_margin >= (max(0.0, self.stop_margin) if agreed else self.stop_margin):
                        sounds_like = stop[0]
        took = time.perf_counter() - t0
        return self.decide(
            g,
            o,
            spotted,
            margin=margin,
            rival=rival,
            rival_margin=rival_margin,
            stop_margin=stop_margin,
            sounds_like=sounds_like,
            decode_s=took,
        )

    def decide(
        self,
        g: Transcript,
        o: Transcript,
        spotted: str = "",
        margin: float | None = None,
        rival: str = "",
        rival_margin: float | None = None,
        stop_margin: float | None = None,
        sounds_like: str = "",
        decode_s: float = 0.0,
    ) -> Heard:
        """The :class:`Heard` for a grammar transcript ``g``, an open one ``o``, a spotted stop, the
        acoustic margin of ``g`` over ``o`` and over its best rival (see :class:`Heard`)."""
        gc = float(g.confidence or 0.0)
        oc = float(o.confidence or 0.0)
        agree = self.agreement(g.text, o.text) if g.text and o.text else 0.0
        common = dict(
            grammar_text=g.text,
            open_text=o.text,
            grammar_confidence=gc,
            open_confidence=oc,
            agreement=agree,
            margin=margin,
            rival=rival,
            rival_margin=rival_margin,
            stop_margin=stop_margin,
            woken=g.woken,
            decode_s=decode_s,
        )
        sources: list[str] = []
        phrase = ""
        for name, found in (
            ("grammar", find_stop_phrase(g.text) if g.text else None),
            ("open", find_stop_phrase(o.text) if o.text else None),
            ("spotter", spotted or None),
            ("acoustic", sounds_like or None),
        ):
            if found:
                sources.append(name)
                phrase = phrase or found
        if sources:
            conf = min(1.0, 0.5 + 0.25 * (len(sources) - 1))
            return Heard(
                "stop",
                conf,
                "grammar" in sources and "open" in sources,
                stop=True,
                question=None,
                stop_phrase=phrase,
                stop_sources=tuple(sources),
                decision="stop",
                **common,
            )
        if not g.text and not o.text:
            return Heard("", 0.0, False, stop=False, decision="none", **common)
        if g.text and self.accepts(margin, rival_margin, agree):
            conf = min(
                _logistic(margin - self.accept_margin),  # type: ignore[operator]
                1.0 if rival_margin is None else _logistic(rival_margin - self.rival_margin + 0.3),
            )
            return Heard(g.text, conf, True, stop=False, decision="grammar", **common)
        if o.text and margin is not None and margin <= self.open_margin:
            return Heard(
                fix_homophones(o.text),
                _logistic(self.open_margin - margin + 0.3),
                False,
                stop=False,
                decision="open",
                **common,
            )
        said = g.text or fix_homophones(o.text)
        conf = 0.0 if margin is None else min(0.49, _logistic(margin - self.accept_margin))
        return Heard("", conf, False, stop=False, question=f"Did you say '{said}'?", decision="ask", **common)

    def accepts(self, margin: float | None, rival_margin: float | None, agreement: float) -> bool:
        """True when a grammar transcript with these scores is acted on (see the module doc)."""
        if margin is None or margin < self.accept_margin:
            return False
        if rival_margin is not None and rival_margin < self.rival_margin:
            return False
        return agreement >= self.agree_threshold or margin >= self.strong_margin

    def hear_file(self, path: str | Path, objects: Iterable[Any] | None = None) -> Heard:
        """:meth:`hear` on a WAV file (any rate; resampled).

        Raises:
            SpeechError: the file is not a readable PCM WAV file.
        """
        return self.hear(read_wav(path), objects)

    def close(self) -> None:
        self.grammar.close()
        self.open.close()


def _logistic(x: float, slope: float = 6.0) -> float:
    """0..1: 0.5 at 0, about 0.95 at +0.5 (margins are in nats per 10 ms frame)."""
    return 1.0 / (1.0 + math.exp(-slope * max(-50.0, min(50.0, x))))


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


__all__ = [
    "ACCEPT_MARGIN",
    "AGREE_THRESHOLD",
    "FUNCTION_WORDS",
    "OPEN_MARGIN",
    "RIVAL_MARGIN",
    "STOP_MARGIN",
    "STOP_SOUNDS",
    "STRONG_MARGIN",
    "Heard",
    "Hearer",
    "default_hearer",
    "fix_homophones",
    "hear",
]
