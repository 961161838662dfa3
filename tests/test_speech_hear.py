"""hear(): speech that cannot turn into a different command.

Real pocketsphinx (grammar, open vocabulary, keyphrase spotting, alignment) on espeak-ng audio
synthesized here (argument lists, no shell); the recognizers are loaded once for the module. The
sentences are phrased for these tests, not taken from the grammar's rule lists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from robot_agent.language import LanguageLayer
from robot_agent.language.grammar import CorrectionContext
from robot_agent.speech import (
    BENCH_OBJECTS,
    STOP_PHRASES,
    Heard,
    Hearer,
    StopSpotter,
    default_hearer,
    find_stop_phrase,
    hear,
    synthesize,
    write_wav,
)
from robot_agent.speech.hear import stop_sounds
from robot_agent.speech.stops import STOP_KEYPHRASES

REPO = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).with_name("robot-agent"))
needs_espeak = pytest.mark.skipif(
    shutil.which("espeak-ng") is None and not os.environ.get("CI"),
    reason="espeak-ng is not installed (apt-get install -y espeak-ng)",
)

#: the stop-like words of the brief, each spoken by two voices
STOP_LIKE = ("stop", "freeze", "wait", "halt", "hold on", "no no no", "whoa", "abort", "don't move")
STOP_VOICES = ("en-us", "en-us+f2")


@pytest.fixture(scope="module")
def hearer() -> Hearer:
    return Hearer(BENCH_OBJECTS)


@pytest.fixture(scope="module")
def layer() -> LanguageLayer:
    return LanguageLayer(mode="grammar")


def _ctx() -> CorrectionContext:
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_speech", REPO / "scripts" / "bench_speech.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.bench_context()


def _is_motion(layer: LanguageLayer, text: str, ctx: CorrectionContext) -> bool:
    u = layer.understand_correction(text, ctx)
    return u.decision == "act" and u.correction is not None and u.correction.kind.value in ("skill", "plan")


# --------------------------------------------------------------------------- stops


@needs_espeak
@pytest.mark.parametrize("voice", STOP_VOICES)
def test_every_stop_like_word_is_a_stop(hearer, voice) -> None:
    missed = {}
    for word in STOP_LIKE:
        h = hearer.hear(synthesize(word, voice=voice))
        if not (h.stop and h.text == "stop" and h.question is None):
            missed[word] = h.to_dict()
    assert not missed, missed


def test_stop_evidence_in_either_transcript_wins_over_a_motion(hearer) -> None:
    """A motion in the grammar transcript with a stop-like word in the open one is a stop."""
    from robot_agent.speech import Transcript

    g = Transcript("way to the left", 0.01, False)
    for o_text, spotted in (("wait don't move", ""), ("way to go into it", "don't move"), ("hold on", "")):
        h = hearer.decide(g, Transcript(o_text, 0.0, False, source="open"), spotted, margin=0.5)
        assert h.stop and h.text == "stop" and h.question is None, h
    assert hearer.decide(Transcript("freeze", 0.01, True), Transcript("breathe", 0.0, False), "").stop
    calm = hearer.decide(
        g, Transcript("way to the left", 0.0, False), "", margin=0.0, rival="way to the right", rival_margin=0.4
    )
    assert not calm.stop and calm.text == "way to the left" and calm.agreed


#: stop-like utterances both decodes mishear in these voices ("gold on", "pull it a bit", "a lot to the
#: left", "turn on turn on", "go leafs"...): only the acoustic check (keyword verification of the
#: whole utterance) catches them
MISHEARD_STOPS = ("hold on", "hold on a second", "abort abort", "hang on hang on", "hold it", "hold up", "pause")


@needs_espeak
@pytest.mark.parametrize("voice", ("en-us", "en-us+f3"))
def test_stops_the_decodes_mishear_are_stops_by_their_sound(hearer, voice) -> None:
    for text in MISHEARD_STOPS:
        h = hearer.hear(synthesize(text, voice=voice))
        assert h.stop and h.text == "stop" and h.question is None, (text, h.to_dict())
        f = h.features
        assert f["stop_fit"] is not None and f["stop_speech_s"] > 0.2, f  # "pause": about a quarter second


@needs_espeak
def test_corrections_are_not_stops_by_their_sound(hearer) -> None:
    """Corrections of one to three words, where a stop-like phrase is closest in length."""
    for text in ("go home", "much lower", "go a bit faster", "pull harder"):
        h = hearer.hear(synthesize(text))
        assert not h.stop and "acoustic" not in h.stop_sources, (text, h.to_dict())


def test_acoustic_stop_needs_the_phrase_to_cover_and_fit_the_speech(hearer) -> None:
    fits = {"grammar_fit": -2.0, "open_fit": -1.8, "grammar_speech_s": 0.7, "open_speech_s": 0.7}
    sure = {**fits, "stop_fit": -2.0, "stop_speech_s": 0.65, "stop_sound": "hold on"}
    assert hearer.acoustic_stop(sure) == "hold on"
    # two decodes agreeing on a correction: the phrase must fit at least as well as their transcript
    assert hearer.acoustic_stop(sure, agreed=True) == ""
    assert hearer.acoustic_stop({**sure, "stop_fit": -1.7}, agreed=True) == "hold on"
    # the phrase squeezed into part of the speech, the rest left to silence: no stop
    assert hearer.acoustic_stop({**sure, "stop_speech_s": 0.2}) == ""
    # clearly worse than the transcripts: no stop
    assert hearer.acoustic_stop({**sure, "stop_fit": -3.5}) == ""
    # stops are short: the same fit passes in a short utterance and not in a long one
    short = {**sure, "stop_fit": -1.8 + hearer.stop_llr - hearer.stop_short_bonus / 2}
    long = {**short, "grammar_speech_s": 2.0, "open_speech_s": 2.0, "stop_speech_s": 1.9}
    assert hearer.acoustic_stop(short) == "hold on" and hearer.acoustic_stop(long) == ""
    assert hearer.acoustic_stop({}) == "" and hearer.acoustic_stop({**fits, "stop_fit": None}) == ""
    assert {"abort abort", "stop stop stop", "hold on hold on"} <= set(stop_sounds())


@needs_espeak
def test_alignment_covers_the_whole_text_or_nothing(hearer) -> None:
    audio = hearer.aligner.prepare(synthesize("hold on a second"))
    segs = hearer.aligner.align("hold on a second", audio)
    assert segs is not None
    words = [w.split("(")[0] for w, *_ in segs if w != "<sil>"]
    assert words == ["hold", "on", "a", "second"]
    assert all(b >= a for _, a, b, _ in segs) and all(sc <= 0 for *_, sc in segs)
    # the right text explains the audio better than a wrong one (or the wrong one cannot be aligned)
    wrong = hearer.aligner.score("open the drawer first", audio)
    assert wrong is None or hearer.aligner.score("hold on a second", audio) > wrong
    best = hearer.aligner.best_of(stop_sounds(), audio)
    assert best is not None and best[0] == "hold on a second"


def test_grammar_transcript_is_asked_about_when_the_open_one_means_another_motion(hearer) -> None:
    from robot_agent.speech import Transcript

    g = Transcript("a bit to the left", 0.02, False)
    o = Transcript("a bit to the right", 0.0, False, source="open")
    kw = dict(margin=0.5, rival="a bit to the right", rival_margin=0.5)
    assert hearer.decide(g, o, "", **kw).decision == "grammar"  # no reader: words agree enough
    saved = hearer.meaning
    try:
        hearer.meaning = lambda text: ("skill", frozenset({text.split()[-1]}))
        h = hearer.decide(g, o, "", **kw)
        assert h.decision == "ask" and h.text == "" and h.question == "Did you say 'a bit to the left'?"
        hearer.meaning = lambda text: ("ask", frozenset())  # an open transcript that means nothing
        assert hearer.decide(g, o, "", **kw).decision == "grammar"
    finally:
        hearer.meaning = saved


def test_grammar_transcript_is_asked_about_when_a_meaning_word_fits_badly(hearer) -> None:
    from robot_agent.speech import Transcript

    g = Transcript("go a bit faster", 0.02, False)
    o = Transcript("go a bit faster", 0.0, False, source="open")
    kw = dict(margin=0.0, rival="go a bit slower", rival_margin=0.5)
    assert hearer.decide(g, o, "", **kw, features={"meaning_fit": hearer.meaning_fit + 1}).decision == "grammar"
    bad = hearer.decide(g, o, "", **kw, features={"meaning_fit": hearer.meaning_fit - 1})
    assert bad.decision == "ask" and bad.question is not None
    assert hearer.meaning_words("faster") and hearer.meaning_words("plate") and not hearer.meaning_words("bit")


def test_stop_phrases_in_text() -> None:
    for text in ("freeze!", "Hold on a second", "no, no, no", "whoa there", "please don't move", "abort"):
        assert find_stop_phrase(text), text
    for text in ("don't stop", "hold it from the top", "go home", "a bit to the left", "no, I meant the green one"):
        assert find_stop_phrase(text) is None, text
    assert {"stop", "freeze", "wait", "hold on", "don't move"} <= set(STOP_PHRASES)


def test_spotter_takes_a_keyphrase_list_with_thresholds() -> None:
    s = StopSpotter()
    assert set(s.keyphrases) == set(STOP_KEYPHRASES) and len(s.keyphrases) > 1
    one = StopSpotter("stop", threshold=1e-12)
    assert one.keyphrase == "stop" and one.keyphrases == {"stop": 1e-12}
    with pytest.raises(Exception, match="threshold"):
        StopSpotter({"stop": 2.0})


# --------------------------------------------------------------------------- out of grammar / in grammar

#: out-of-grammar corrections: each names the wrong choice without a grammar sentence
OUT_OF_GRAMMAR = ("no, I wanted the other bowl", "that's not the one I asked for", "you grabbed the wrong thing")


@needs_espeak
@pytest.mark.parametrize("voice", ("en-us", "en-us+m3"))
def test_out_of_grammar_speech_never_becomes_a_confident_motion(hearer, layer, voice) -> None:
    ctx = _ctx()
    for text in OUT_OF_GRAMMAR:
        h = hearer.hear(synthesize(text, voice=voice))
        if h.question is not None:
            assert h.text == "" and not h.agreed
            assert h.question.startswith("Did you say '")
            continue
        assert h.stop or not h.text or not _is_motion(layer, h.text, ctx), (text, h.to_dict())


@needs_espeak
def test_in_grammar_correction_is_agreed_with_the_right_text(hearer) -> None:
    for text in ("open the drawer first", "put it on the plate instead"):
        h = hearer.hear(synthesize(text))
        assert h.agreed and h.decision == "grammar", h.to_dict()
        assert h.text == h.grammar_text == text
        assert not h.stop and h.question is None and 0.5 <= h.confidence <= 1.0
        assert h.margin is not None and h.margin >= hearer.accept_margin


@needs_espeak
def test_hear_reuses_the_recognizers_and_follows_the_scene() -> None:
    audio = synthesize("pick up the yellow sponge first")
    first = hear(audio, ["yellow_sponge", "drawer"])
    h = default_hearer()
    assert default_hearer() is h
    assert not h.set_objects(["yellow_sponge", "drawer"])  # same scene: no rebuild
    assert first.grammar_text == "pick up the yellow sponge first"  # the new object is in the grammar
    assert not first.stop
    # acted on (agreed), or asked about, never turned into something else
    assert (first.text, first.question) in {
        ("pick up the yellow sponge first", None),
        ("", "Did you say 'pick up the yellow sponge first'?"),
    }
    d = first.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d) >= {"text", "confidence", "agreed", "grammar_text", "open_text", "stop", "question"}
    assert isinstance(first, Heard) and 0.0 <= first.confidence <= 1.0
    assert hear(b"").text == "" and hear(b"").question is None


# --------------------------------------------------------------------------- understand --wav


@needs_espeak
def test_understand_wav_prints_what_was_heard_and_understood(tmp_path) -> None:
    scenario = REPO / "sim" / "scenarios" / "demo" / "mug_train.yaml"
    said = write_wav(tmp_path / "said.wav", synthesize("put it on the plate instead"))
    stop = write_wav(tmp_path / "stop.wav", synthesize("freeze"))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    base = [EXE, "understand", "--scenario", str(scenario), "--skill", "pick", "--object", "white_mug", "--json"]
    out = subprocess.run([*base, "--wav", str(said)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["heard"]["text"] == "put it on the plate instead" and data["heard"]["agreed"]
    assert data["understanding"]["decision"] == "act"
    assert data["understanding"]["correction"]["kind"] == "plan"
    assert "heard: 'put it on the plate instead'" in out.stdout
    out = subprocess.run(
        [*base, "--wav", str(stop), "--language-mode", "grammar"], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["heard"]["stop"] and data["understanding"]["decision"] == "stop"
    assert "halt the arm" in out.stdout
    bad = subprocess.run(
        [*base, "--wav", str(tmp_path / "missing.wav")], capture_output=True, text=True, timeout=120, env=env
    )
    assert bad.returncode != 0 and "missing.wav" in bad.stderr
