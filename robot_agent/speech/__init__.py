"""Speech to text for spoken corrections, offline.

The embedded recognizer is pocketsphinx constrained by a grammar built at run time
(:func:`build_grammar`) from the correction vocabulary, the skill names and the scene's
object names. A grammar-constrained decoder always returns *some* sentence of its grammar,
so speech outside it ("no, I meant the green one") would come out as a different, confident
command; :func:`hear` therefore decodes every utterance twice, with the grammar and
open-vocabulary (pocketsphinx's US-English language model), spots stop-like words in both
and in a keyphrase search, and answers with a :class:`Heard`: the clean grammar transcript
when the two decodes agree, the open transcript when only it is clear, a stop when any
decode hears a stop-like word, and otherwise a question ("Did you say ...?").

Modules:

* :mod:`~robot_agent.speech.audio`: 16 kHz mono PCM from WAV files, audio-topic messages,
  arrays; resampling; the noise floor pocketsphinx needs on synthetic audio;
* :mod:`~robot_agent.speech.grammar`: the JSGF grammar of the scene;
* :mod:`~robot_agent.speech.recognizers`: :class:`PocketSphinxRecognizer` (grammar),
  :class:`OpenRecognizer` (open vocabulary), :class:`WhisperRecognizer` (local model);
* :mod:`~robot_agent.speech.stops`: stop-like words and phrases, and spotting them in text;
* :mod:`~robot_agent.speech.hear`: :func:`hear`, :class:`Hearer`, :class:`Heard`;
* :mod:`~robot_agent.speech.segment`: :class:`UtteranceSegmenter`, :class:`StopSpotter`,
  :class:`SpeechListener` (pure, frame-fed);
* :mod:`~robot_agent.speech.mic`: :class:`MicrophoneSource`, push-to-talk, continuous;
* :mod:`~robot_agent.speech.tts`: espeak-ng synthesis (tests, benchmarks, demos);
* :mod:`~robot_agent.speech.wer`, :mod:`~robot_agent.speech.text`: word error rate, words.

``docs/speech.md`` has the grammar, the measured word error rates and the commands.
"""

from __future__ import annotations

from robot_agent.errors import SpeechError
from robot_agent.speech.audio import (
    SAMPLE_RATE,
    add_noise_floor,
    audio_chunk_to_pcm,
    decode_wav,
    pcm_to_int16,
    read_wav,
    resample,
    write_wav,
)
from robot_agent.speech.benchset import BENCH_OBJECTS, BENCH_UTTERANCES
from robot_agent.speech.factories import make_listener, make_recognizer
from robot_agent.speech.grammar import WAKE_WORD, Grammar, build_grammar
from robot_agent.speech.hear import Heard, Hearer, default_hearer, hear
from robot_agent.speech.mic import MicrophoneSource, _sounddevice, listen_continuous, record_push_to_talk
from robot_agent.speech.recognizers import (
    BACKENDS,
    DEFAULT_DECODER_OPTIONS,
    OpenRecognizer,
    PocketSphinxRecognizer,
    SpeechRecognizer,
    TextAligner,
    Transcript,
    WhisperRecognizer,
)
from robot_agent.speech.segment import SpeechListener, StopSpotter, Utterance, UtteranceSegmenter, listen_wav
from robot_agent.speech.stops import STOP_PHRASES, find_stop_phrase
from robot_agent.speech.text import STOP_WORDS, has_stop_word, normalize_words, number_words, object_phrase
from robot_agent.speech.tts import synthesize
from robot_agent.speech.wer import edit_distance, word_error_rate

__all__ = [
    "BACKENDS",
    "BENCH_OBJECTS",
    "BENCH_UTTERANCES",
    "DEFAULT_DECODER_OPTIONS",
    "SAMPLE_RATE",
    "STOP_PHRASES",
    "STOP_WORDS",
    "WAKE_WORD",
    "Grammar",
    "Heard",
    "Hearer",
    "MicrophoneSource",
    "OpenRecognizer",
    "PocketSphinxRecognizer",
    "SpeechError",
    "SpeechListener",
    "SpeechRecognizer",
    "StopSpotter",
    "TextAligner",
    "Transcript",
    "Utterance",
    "UtteranceSegmenter",
    "WhisperRecognizer",
    "_sounddevice",
    "add_noise_floor",
    "audio_chunk_to_pcm",
    "build_grammar",
    "decode_wav",
    "default_hearer",
    "edit_distance",
    "find_stop_phrase",
    "has_stop_word",
    "hear",
    "listen_continuous",
    "listen_wav",
    "make_listener",
    "make_recognizer",
    "normalize_words",
    "number_words",
    "object_phrase",
    "pcm_to_int16",
    "read_wav",
    "record_push_to_talk",
    "resample",
    "synthesize",
    "word_error_rate",
    "write_wav",
]
