"""Speech that cannot turn into a different command: two decodes, stop evidence, and questions.

A grammar-constrained decoder always returns some sentence of its grammar: "wait, don't
move" came out as "way backward", "no, I meant the green one" as "go up by twenty
centimeter", and its posterior (0.003 to 0.02) did not tell those from correct transcripts.
:func:`hear` decodes each utterance twice, with the scene's grammar and open-vocabulary
(pocketsphinx's US-English language model), runs the stop-keyphrase spotter over it, and
scores both transcripts against the audio by forced alignment (:class:`TextAligner`: acoustic
log-likelihood per frame, no language model, so the two compare directly):

* **stop**: a stop-like word in either transcript or from the spotter ("freeze", "hold on",
  "don't move"...), or a stop-like phrase that explains the whole utterance about as well as
  the transcripts do (keyword verification: "hold on" heard as "gold on", "freeze" as "three";
  :meth:`Hearer.acoustic_stop`) makes the utterance a stop (``text="stop"``), whatever else
  was heard; halting is the safe side;
* **grammar** (``agreed``): the grammar transcript explains the audio about as well as the
  open one (:attr:`Heard.margin`), no swap of one of its meaning words explains it nearly as
  well ("much lower" for "much slower": :attr:`Heard.rival_margin`), each of its meaning words
  fits the audio on its own frames, the open transcript holds some of its content words (or
  the grammar's fits clearly better) and, given a ``meaning`` reader, is not read as a
  different motion: the clean grammar transcript is the text;
* **open** (off by default, ``open_margin``): the open transcript explains the audio clearly
  better than the grammar's: it is the text (the understanding layer handles open language);
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
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
# Thresholds, chosen on the tuning voices of scripts/bench_speech.py --open-set (docs/speech.md): no
# stop-like utterance missed, and the most acted-on right meanings with no correction acted on wrongly.
# Scores are acoustic log-likelihoods per 10 ms frame of a text force-aligned to the audio (no language
# model); pocketsphinx normalizes each frame by its best senone, so 0 is "fits as well as anything".

#: the grammar transcript is acted on only when it explains the audio about as well as the open one
#: (grammar text's score minus the open text's at least this) ...
ACCEPT_MARGIN = -0.7
#: ... and no swap of one meaning word explains the audio nearly as well: its score minus the best
#: swap's at least this ("much slower" against "much lower") ...
RIVAL_MARGIN = 0.2
#: ... and either this fraction of its content words is in the open transcript ...
AGREE_THRESHOLD = 0.3
#: ... or it explains the audio this much better than the open transcript ...
STRONG_MARGIN = 0.3
#: ... and every word of it that carries the meaning (direction, number, object, "don't": see
#: SLOT_CLASSES) fits the audio at least this well on its own frames (a word-level confidence)
MEANING_FIT = -3.5
#: the open transcript is passed on when it explains the audio this much better than the grammar's
#: and each of its content words fits at least OPEN_WORD_FIT; None: never (the open decode of this
#: pocketsphinx model is too poor to act on: its passed-on transcripts were most of the wrong motions)
OPEN_MARGIN: float | None = None
OPEN_WORD_FIT = -2.0
#: keyword verification of the whole utterance as a stop-like phrase (:meth:`Hearer.acoustic_stop`):
#: the phrase covers at least this fraction of the speech the better transcript covers ...
STOP_COVER = 0.6
#: ... and its score per speech frame is at most this much below that transcript's ...
STOP_LLR = -0.7
#: ... (at least that transcript's when the two decodes agree on a correction) ...
STOP_LLR_AGREED = 0.0
#: ... with this much slack when the utterance holds at most STOP_SHORT_S of speech (stops are short)
STOP_SHORT_BONUS = 0.3
STOP_SHORT_S = 0.9
#: the stop-like phrases aligned to the audio for that check (each also said twice and three
#: times, see :func:`stop_sounds`)
STOP_SOUNDS = (
    "stop",
    "halt",
    "freeze",
    "wait",
    "wait a moment",
    "hold on",
    "hold on a second",
    "whoa",
    "abort",
    "don't move",
    "no no",
    "please stop",
    "stop right there",
    # the typed stop check's other phrases (robot_agent.language.grammar.is_stop), so a stop it
    # knows is also verified on the audio when both decodes miss it ("hang on" -> "turn on")
    "hang on",
    "hang on a second",
    "hold it",
    "hold up",
    "pause",
    "that's enough",
    "don't",
)


def stop_sounds(phrases: Iterable[str] = STOP_SOUNDS) -> list[str]:
    """The stop-like phrases, each also repeated ("abort abort", "stop stop stop": stops are repeated)."""
    out: list[str] = []
    for p in phrases:
        out += [p, f"{p} {p}"] + ([f"{p} {p} {p}"] if len(p.split()) == 1 else [])
    return out


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
            better transcript (None when not computed; the acoustic stop check,
            :meth:`Hearer.acoustic_stop`, uses the finer ``features``).
        features: the alignment scores behind the decision: ``grammar_fit``, ``open_fit``,
            ``stop_fit`` (log-likelihood per speech frame), ``grammar_speech_s``,
            ``open_speech_s``, ``stop_speech_s`` (speech each alignment covers), ``meaning_fit``
            (worst meaning word of the grammar transcript), ``open_word_fit`` (worst content word
            of the open one), ``stop_sound`` (the best stop-like phrase).
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
    features: dict[str, Any] = field(default_factory=dict)

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
            "features": {k: round(v, 3) if isinstance(v, float) else v for k, v in self.features.items()},
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
        open_margin: margin at or below which the open transcript is passed on instead (None: never).
        open_word_fit: least fit of each content word of an open transcript passed on.
        meaning_fit: least fit of each meaning word of an acted-on grammar transcript (None: unchecked).
        stop_cover, stop_llr, stop_llr_agreed, stop_short_s, stop_short_bonus: the acoustic stop
            check (:meth:`acoustic_stop`).
        meaning: text -> ``(kind, meaning keys)`` (e.g. the understanding layer's reading): when
            given, a grammar transcript is not acted on when the open transcript is read as a
            different motion (:meth:`meanings_differ`).
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
        open_margin: float | None = OPEN_MARGIN,
        open_word_fit: float | None = OPEN_WORD_FIT,
        meaning_fit: float | None = MEANING_FIT,
        stop_cover: float = STOP_COVER,
        stop_llr: float = STOP_LLR,
        stop_llr_agreed: float = STOP_LLR_AGREED,
        stop_short_s: float = STOP_SHORT_S,
        stop_short_bonus: float = STOP_SHORT_BONUS,
        wake_word: str = WAKE_WORD,
        meaning: Callable[[str], Any] | None = None,
    ) -> None:
        objects = list(objects)
        self.noise_floor = float(noise_floor)
        self.accept_margin = float(accept_margin)
        self.open_margin = open_margin
        self.open_word_fit = open_word_fit
        self.rival_margin = float(rival_margin)
        self.agree_threshold = float(agree_threshold)
        self.strong_margin = float(strong_margin)
        self.meaning_fit = meaning_fit
        self.stop_cover = float(stop_cover)
        self.stop_llr = float(stop_llr)
        self.stop_llr_agreed = float(stop_llr_agreed)
        self.stop_short_s = float(stop_short_s)
        self.stop_short_bonus = float(stop_short_bonus)
        self.meaning = meaning
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

    def meaning_words(self, word: str) -> bool:
        """True for a word that carries a correction's meaning (see :data:`SLOT_CLASSES`, the scene's objects)."""
        if word == "don't" or any(word in cls for cls in SLOT_CLASSES):
            return True
        return any(word in phrase.split() for phrase in self.grammar.grammar.objects)

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
            rival = ""
            feats: dict[str, Any] = {}
            heard_stop = spotted or find_stop_phrase(g.text) or find_stop_phrase(o.text)
            if g.text or o.text:
                audio = self.aligner.prepare(samples)
                seg_g = self.aligner.align(g.text, audio) if g.text else None
                seg_o = self.aligner.align(o.text, audio) if o.text and o.text != g.text else seg_g
                sg, so = _per_frame(seg_g), _per_frame(seg_o)
                if sg is not None and so is not None:
                    margin = sg - so
                best = self.aligner.best_of(self.rivals(g.text), audio) if sg is not None and not heard_stop else None
                if best is not None:
                    rival, rival_margin = best[0], sg - best[1]
                feats["grammar_fit"], feats["grammar_speech_s"], feats["meaning_fit"] = _fits(seg_g, self.meaning_words)
                feats["open_fit"], feats["open_speech_s"], feats["open_word_fit"] = _fits(seg_o, _content)
                # does a stop-like phrase explain the audio about as well as what the decodes heard?
                ref = max((x for x in (sg, so) if x is not None), default=None)
                stop = self.aligner.best_of(stop_sounds(), audio)
                if stop is not None:
                    feats["stop_fit"], feats["stop_speech_s"], _ = _fits(self.aligner.align(stop[0], audio), None)
                    feats["stop_sound"] = stop[0]
                    if ref is not None:
                        stop_margin = stop[1] - ref
        took = time.perf_counter() - t0
        return self.decide(
            g,
            o,
            spotted,
            margin=margin,
            rival=rival,
            rival_margin=rival_margin,
            stop_margin=stop_margin,
            decode_s=took,
            features=feats,
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
        features: dict[str, Any] | None = None,
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
            features=dict(features or {}),
        )
        if not sounds_like and features:
            sounds_like = self.acoustic_stop(features, self.accepts(margin, rival_margin, agree) if g.text else False)
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
        feats = features or {}
        if (
            g.text
            and self.accepts(margin, rival_margin, agree)
            and self.words_sure(feats, "meaning_fit", self.meaning_fit)
            and not self.meanings_differ(g.text, o.text)
        ):
            conf = min(
                _logistic(margin - self.accept_margin),  # type: ignore[operator]
                1.0 if rival_margin is None else _logistic(rival_margin - self.rival_margin + 0.3),
            )
            return Heard(g.text, conf, True, stop=False, decision="grammar", **common)
        if (
            o.text
            and margin is not None
            and self.open_margin is not None
            and margin <= self.open_margin
            and self.words_sure(feats, "open_word_fit", self.open_word_fit)
        ):
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

    def acoustic_stop(self, features: dict[str, Any], agreed: bool = False) -> str:
        """The stop-like phrase the audio sounds like, from the alignment scores of :meth:`hear`
        ("" when none): keyword verification against what the decodes heard.

        * **the whole utterance**: the best stop-like phrase (:func:`stop_sounds`) covers at least
          ``stop_cover`` of the speech the better transcript covers, and its log-likelihood per
          speech frame is at most ``stop_llr`` below that transcript's (``stop_llr_agreed``
          when the two decodes agree on a correction; else ``stop_short_bonus`` lower for an
          utterance of at most ``stop_short_s`` of speech: stops are short).

        pocketsphinx normalizes each frame by its best senone, so the scores are already ratios
        against an unconstrained model; taking the transcripts' fit as the reference as well asks
        whether the stop phrase explains the speech about as well as the words the decodes found
        ("gold on" for "hold on", "three" for "freeze"). A phrase forced onto a longer correction
        covers only part of it, or fits clearly worse; repeated stops ("abort abort") are phrases
        of their own (:func:`stop_sounds`).
        """
        fits = [features.get(k) for k in ("grammar_fit", "open_fit")]
        ref = max((x for x in fits if x is not None), default=None)
        speech = max((features.get(k) or 0.0 for k in ("grammar_speech_s", "open_speech_s")), default=0.0)
        fit, covered = features.get("stop_fit"), features.get("stop_speech_s") or 0.0
        if fit is not None and ref is not None and speech > 0 and covered >= self.stop_cover * speech:
            need = self.stop_llr_agreed if agreed else self.stop_llr
            if speech <= self.stop_short_s and not agreed:
                need -= self.stop_short_bonus
            if fit - ref >= need:
                return str(features.get("stop_sound", "stop"))
        return ""

    def meanings_differ(self, grammar_text: str, open_text: str) -> bool:
        """True when the open transcript means a different motion than the grammar transcript.

        Needs :attr:`meaning` (text -> ``(kind, keys)``, e.g. from the understanding layer); the
        open transcript contradicts only when it is itself read as a motion ("skill" or "plan")
        with other meaning keys: an open decode too poor to mean anything does not.
        """
        if self.meaning is None or not open_text or not grammar_text:
            return False
        mo = self.meaning(open_text)
        return bool(mo) and mo[0] in ("skill", "plan") and mo != self.meaning(grammar_text)

    @staticmethod
    def words_sure(features: dict[str, Any], key: str, least: float | None) -> bool:
        """True when the worst-fitting word that decides the meaning fits the audio at least ``least``
        (log-likelihood per frame against the best senone; None: not checked, or no such word)."""
        if least is None:
            return True
        got = features.get(key)
        return got is None or got >= least

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


_SILENCES = frozenset({"<sil>", "<s>", "</s>", "(NULL)", "[NOISE]"})


def _per_frame(segs: list[tuple[str, int, int, float]] | None) -> float | None:
    """Acoustic log-likelihood per frame of an alignment (None without one)."""
    if not segs:
        return None
    return sum(x[3] for x in segs) / max(1, sum(b - a + 1 for _, a, b, _ in segs))


def _base_word(word: str) -> str:
    """A segment's word without its pronunciation-variant suffix ("the(2)" -> "the")."""
    return word.split("(", 1)[0] if not word.startswith("(") else word


def _content(word: str) -> bool:
    return word not in FUNCTION_WORDS


def _fits(
    segs: list[tuple[str, int, int, float]] | None, which: Any = None
) -> tuple[float | None, float | None, float | None]:
    """(fit, speech seconds, worst word fit) of an alignment: fit = acoustic log-likelihood per
    speech frame (silences left out); the worst word fit is over the words ``which`` selects
    (None: not computed)."""
    if not segs:
        return None, None, None
    speech = [(_base_word(w), a, b, sc) for w, a, b, sc in segs if w not in _SILENCES and not w.startswith("+")]
    n = sum(b - a + 1 for _, a, b, _ in speech)
    if not n:
        return None, 0.0, None
    fit = sum(sc for *_, sc in speech) / n
    worst = None
    if which is not None:
        per = [sc / (b - a + 1) for w, a, b, sc in speech if which(w)]
        worst = min(per) if per else None
    return fit, n / 100.0, worst


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
    "MEANING_FIT",
    "OPEN_WORD_FIT",
    "STOP_COVER",
    "STOP_LLR",
    "STOP_SOUNDS",
    "STRONG_MARGIN",
    "Heard",
    "Hearer",
    "default_hearer",
    "fix_homophones",
    "stop_sounds",
    "hear",
]
