#!/usr/bin/env python3
"""Spoken-correction benchmark: word error rate and understood-rate on espeak-ng speech.

Usage: python scripts/bench_speech.py [--voices en-us,en-us+m3,...] [--noise-floor LSB]
                                      [--stop-threshold T] [--no-spotter] [--show] [--json]
       python scripts/bench_speech.py --open-set [--voices ...] [--mode grammar|full] [--show] [--json]

``--open-set`` measures :func:`robot_agent.speech.hear` (grammar + open-vocabulary decodes, stop
evidence, questions) on freely phrased speech: ``EVERYDAY_CORRECTIONS`` and ``STOP_UTTERANCES``
(none of them a sentence of the grammar), each spoken in every voice, heard, and its text
understood by ``robot_agent.language.LanguageLayer`` in the same context. The meaning of what was
said is what the layer makes of the same words typed. Printed: WER of the grammar, open and
combined transcripts; stop-like utterances missed and heard as a motion; confidently wrong
motions (a skill or plan correction acted on whose meaning differs from the typed one); asks;
false stops; and the same counts for the grammar transcript alone (the old pipeline).

Each utterance of ``robot_agent.speech.BENCH_UTTERANCES`` is spoken by espeak-ng in
every voice of the panel and streamed (0.1 s chunks, 0.5 s of silence around it)
through a ``SpeechListener``: stop spotter, segmenter, grammar-constrained
pocketsphinx recognizer (grammar built for ``BENCH_OBJECTS``). The transcript is
parsed by ``robot_agent.language.grammar.CorrectionParser`` in the context "picking up
the mug". Printed per voice and overall:

* WER: word error rate of the transcripts (word edit distance / reference words);
* exact: transcripts equal to the utterance;
* understood: a spoken stop flagged as a stop, any other utterance parsed as the
  correction kind it means (and not taken for a stop);
* stop spotting: spoken stops the spotter caught, and when, relative to the end
  of the audio of the words;
* decode time per utterance and real-time factor.

Needs espeak-ng (apt-get install -y espeak-ng). docs/speech.md quotes the output;
tests/test_speech.py runs ``evaluate`` on two voices and asserts on it.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np

from robot_agent.speech import (
    BENCH_OBJECTS,
    BENCH_UTTERANCES,
    SAMPLE_RATE,
    PocketSphinxRecognizer,
    SpeechListener,
    StopSpotter,
    UtteranceSegmenter,
    build_grammar,
    normalize_words,
    synthesize,
    word_error_rate,
)

DEFAULT_VOICES = "en-us,en-us+m3,en-us+f2,en-us+f3"


def bench_context():  # type: ignore[no-untyped-def]
    """The parser context of the benchmark: six objects, the robot picking up the mug."""
    from robot_agent.language.grammar import CorrectionContext
    from skills.types import ObjectInfo, Pose

    objects = [
        ObjectInfo("red_block", "block", Pose((0.50, 0.10, 0.0)), (0.05, 0.05, 0.05), color="red"),
        ObjectInfo("blue_cup", "cup", Pose((0.45, -0.15, 0.0)), (0.08, 0.08, 0.10), color="blue"),
        ObjectInfo(
            "drawer", "drawer", Pose((0.60, 0.30, 0.0)), (0.30, 0.40, 0.20), parts={"handle": [0.15, 0.0, 0.10]}
        ),
        ObjectInfo("mug", "mug", Pose((0.40, 0.00, 0.0)), (0.08, 0.10, 0.10), parts={"handle": [0.0, 0.06, 0.05]}),
        ObjectInfo("plate", "plate", Pose((0.55, -0.30, 0.0)), (0.20, 0.20, 0.02)),
        ObjectInfo("green_bowl", "bowl", Pose((0.35, 0.25, 0.0)), (0.15, 0.15, 0.07), color="green"),
    ]
    return CorrectionContext(objects=objects, skill="pick", object="mug")


def speech_end_s(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Time of the last sample louder than -40 dBFS (where the spoken words end)."""
    loud = np.nonzero(np.abs(samples.astype(np.int32)) > 328)[0]
    return float(loud[-1] + 1) / rate if loud.size else 0.0


def evaluate(
    voices: list[str],
    recognizer: PocketSphinxRecognizer,
    spotter: StopSpotter | None,
    chunk_s: float = 0.1,
    pad_s: float = 0.5,
) -> dict[str, Any]:
    """Speak every benchmark utterance in every voice and stream it through a ``SpeechListener``.

    Each clip (padded with ``pad_s`` of digital silence) is fed in ``chunk_s``
    chunks to a listener made of ``recognizer``, ``spotter`` and a fresh
    segmenter, as live audio would be. The recognizer's transcripts give the WER;
    an utterance is *understood* when it was meant as a stop and a stop was
    flagged (by the spotter or the transcript), or when no stop was flagged and
    the correction parser gives the transcript the intended kind.

    Returns:
        The report: overall and per-voice WER, exact and understood counts, the
        misrecognitions, stop-spotting hits and timing, false stops, decode time.
    """
    from robot_agent.language.grammar import CorrectionParser

    parser, ctx = CorrectionParser(), bench_context()
    report: dict[str, Any] = {"voices": {}, "utterances_per_voice": len(BENCH_UTTERANCES)}
    all_refs: list[str] = []
    all_hyps: list[str] = []
    n = exact_all = understood_all = stops = spotted = false_stops = 0
    spot_after_end: list[float] = []
    decode_s = audio_s = 0.0
    pad = np.zeros(int(pad_s * SAMPLE_RATE), np.int16)
    step = int(chunk_s * SAMPLE_RATE)
    for voice in voices:
        refs, hyps, errors = [], [], []
        exact = understood = 0
        for text, kind in BENCH_UTTERANCES:
            audio = synthesize(text, voice=voice)
            clip = np.concatenate([pad, audio, pad])
            if spotter is not None:
                spotter.reset()
            listener = SpeechListener(recognizer, spotter, UtteranceSegmenter(sample_rate=SAMPLE_RATE))
            t0 = time.perf_counter()
            heard = []
            for i in range(0, clip.size, step):
                heard += listener.feed(clip[i : i + step])
            heard += listener.flush()
            decode_s += time.perf_counter() - t0
            audio_s += clip.size / SAMPLE_RATE
            said = " ".join(t.text for t in heard if t.source == "grammar")
            stop_flagged = any(t.is_stop for t in heard)
            spot = [t.start_s for t in heard if t.source == "spotter" and t.start_s is not None]
            if stop_flagged:
                got = "stop"
            else:
                got = parser.parse(said, ctx).kind.value if said else "unclear"
            refs.append(text)
            hyps.append(said)
            ok_exact = said == " ".join(normalize_words(text))
            exact += ok_exact
            understood += got == kind
            if kind == "stop":
                stops += 1
                if spot:
                    spotted += 1
                    spot_after_end.append(spot[0] - (pad_s + speech_end_s(audio)))
            elif stop_flagged:
                false_stops += 1
            if not ok_exact or got != kind:
                errors.append(
                    {"said": text, "heard": said, "understood_as": got, "expected": kind, "spotted_stop": bool(spot)}
                )
        all_refs += refs
        all_hyps += hyps
        n += len(refs)
        exact_all += exact
        understood_all += understood
        report["voices"][voice] = {
            "wer": round(word_error_rate(refs, hyps), 3),
            "exact": exact,
            "understood": understood,
            "n": len(refs),
            "errors": errors,
        }
    report.update(
        {
            "n": n,
            "wer": round(word_error_rate(all_refs, all_hyps), 3),
            "exact": exact_all,
            "understood": understood_all,
            "exact_rate": round(exact_all / n, 3),
            "understood_rate": round(understood_all / n, 3),
            "stops": stops,
            "stops_spotted": spotted,
            "false_stops": false_stops,
            "spot_after_end_s": [round(v, 3) for v in spot_after_end],
            "decode_s_per_utterance": round(decode_s / n, 3),
            "real_time_factor": round(decode_s / audio_s, 3),
        }
    )
    return report


DEFAULT_OPEN_VOICES = "en-us+m1,en-us+f1,en-us+m5,en-gb-x-rp"


def meaning_of(u: Any) -> tuple[str, frozenset[str]]:
    """(decision, meaning keys) of an ``Understanding``: what acting on it would do."""
    from robot_agent.language.meaning import acted_keys

    return acted_keys(u)


def _is_motion(kind: str) -> bool:
    return kind in ("skill", "plan")


def evaluate_open(
    voices: list[str], hearer: Any, layer: Any, show: bool = False, in_grammar: bool = False
) -> dict[str, Any]:
    """Speak every freely phrased correction and stop-like utterance in every voice; hear and understand it.

    Returns:
        The report: WER (grammar, open, combined), stops missed / heard as motion, confidently wrong
        motions, asks, false stops, correct actions, per voice and overall, and the grammar-alone
        baseline on the same audio.
    """
    from robot_agent.language.grammar import is_stop
    from robot_agent.speech.benchset import EVERYDAY_CORRECTIONS, STOP_UTTERANCES

    ctx = bench_context()
    objects = list(ctx.objects)
    if in_grammar:  # the grammar's own sentences (BENCH_UTTERANCES): how often hear() still acts on them
        stops = [t for t, k in BENCH_UTTERANCES if k == "stop"]
        corrections = [t for t, k in BENCH_UTTERANCES if k != "stop"]
    else:
        stops, corrections = list(STOP_UTTERANCES), list(EVERYDAY_CORRECTIONS)
    typed = {t: meaning_of(layer.understand_correction(t, ctx)) for t in corrections}
    items = [(t, True) for t in stops] + [(t, False) for t in corrections]
    counts = {
        k: 0
        for k in (
            "n",
            "stops",
            "corrections",
            "stop_missed",
            "stop_as_motion",
            "wrong_motion",
            "right_motion",
            "other_act",
            "ask",
            "heard_ask",
            "layer_ask",
            "false_stop",
            "nothing",
            "base_stop_missed",
            "base_stop_as_motion",
            "base_wrong_motion",
            "base_right_motion",
            "base_false_stop",
        )
    }
    refs: list[str] = []
    hyps: dict[str, list[str]] = {"grammar": [], "open": [], "combined": []}
    rows: list[dict[str, Any]] = []
    per_voice: dict[str, dict[str, int]] = {}
    decode_s = 0.0
    understood: dict[str, Any] = {}

    def understand(text: str) -> tuple[str, frozenset[str]]:
        if text not in understood:
            understood[text] = meaning_of(layer.understand_correction(text, ctx))
        return understood[text]

    for voice in voices:
        pv = per_voice.setdefault(
            voice,
            {
                "n": 0,
                "stop_missed": 0,
                "stop_as_motion": 0,
                "wrong_motion": 0,
                "right_motion": 0,
                "ask": 0,
                "false_stop": 0,
            },
        )
        for text, stop_meant in items:
            h = hearer.hear(synthesize(text, voice=voice), objects)
            decode_s += h.decode_s
            counts["n"] += 1
            pv["n"] += 1
            refs.append(text)
            hyps["grammar"].append(h.grammar_text)
            hyps["open"].append(h.open_text)
            if h.decision == "open":
                chosen = h.open_text
            elif h.decision == "stop":
                chosen = h.open_text if "grammar" not in h.stop_sources and "open" in h.stop_sources else h.grammar_text
            else:
                chosen = h.grammar_text or h.open_text
            hyps["combined"].append(chosen)
            got = ("stop", frozenset()) if h.stop else understand(h.text) if h.text else ("none", frozenset())
            base = (
                ("stop", frozenset())
                if is_stop(h.grammar_text)
                else understand(h.grammar_text)
                if h.grammar_text
                else ("none", frozenset())
            )
            outcome = ""
            if stop_meant:
                counts["stops"] += 1
                if not h.stop:
                    counts["stop_missed"] += 1
                    pv["stop_missed"] += 1
                    outcome = "STOP MISSED"
                    if _is_motion(got[0]):
                        counts["stop_as_motion"] += 1
                        pv["stop_as_motion"] += 1
                        outcome = "STOP HEARD AS MOTION"
                if base[0] != "stop":
                    counts["base_stop_missed"] += 1
                    counts["base_stop_as_motion"] += _is_motion(base[0])
            else:
                counts["corrections"] += 1
                want = typed[text]
                if h.stop:
                    counts["false_stop"] += 1
                    pv["false_stop"] += 1
                    outcome = "false stop"
                elif h.question:
                    counts["ask"] += 1
                    counts["heard_ask"] += 1
                    pv["ask"] += 1
                    outcome = "asks"
                elif _is_motion(got[0]):
                    if want[0] in ("skill", "plan") and got == want:
                        counts["right_motion"] += 1
                        pv["right_motion"] += 1
                        outcome = "right"
                    else:
                        counts["wrong_motion"] += 1
                        pv["wrong_motion"] += 1
                        outcome = "WRONG MOTION"
                elif got[0] in ("ask", "unclear"):
                    counts["ask"] += 1
                    counts["layer_ask"] += 1
                    pv["ask"] += 1
                    outcome = "layer asks"
                elif got[0] == "none":
                    counts["nothing"] += 1
                    outcome = "nothing heard"
                else:
                    counts["other_act"] += 1
                    outcome = f"other ({got[0]})"
                if base[0] == "stop":
                    counts["base_false_stop"] += 1
                elif _is_motion(base[0]):
                    ok = want[0] in ("skill", "plan") and base == want
                    counts["base_right_motion" if ok else "base_wrong_motion"] += 1
            rows.append(
                {
                    "voice": voice,
                    "said": text,
                    "stop_meant": stop_meant,
                    "decision": h.decision,
                    "text": h.text,
                    "grammar": h.grammar_text,
                    "open": h.open_text,
                    "agreement": round(h.agreement, 2),
                    "open_conf": round(h.open_confidence, 3),
                    "margin": h.margin,
                    "stop_sources": list(h.stop_sources),
                    "question": h.question,
                    "outcome": outcome,
                    "stop_margin": h.stop_margin,
                    "rival_margin": h.rival_margin,
                    "rival": h.rival,
                    "got": [got[0], sorted(got[1])],
                    "want": None if stop_meant else [typed[text][0], sorted(typed[text][1])],
                    "features": h.to_dict()["features"],
                }
            )
            if show:
                print(
                    f"  {voice:12s} {text!r:40} -> {h.decision:7s} {outcome:20s} g={h.grammar_text!r} "
                    f"o={h.open_text!r} agr={h.agreement:.2f} m={h.margin if h.margin is None else round(h.margin, 2)} "
                    f"{list(h.stop_sources)}"
                )
    non_stop = [i for i, row in enumerate(rows) if not row["stop_meant"]]
    ref_ns = [refs[i] for i in non_stop]
    report: dict[str, Any] = dict(counts)
    report.update(
        {
            "voices": voices,
            "per_voice": per_voice,
            "wer_all": {k: round(word_error_rate(refs, v), 3) for k, v in hyps.items()},
            "wer_corrections": {
                k: round(word_error_rate(ref_ns, [v[i] for i in non_stop]), 3) for k, v in hyps.items()
            },
            "wrong_motion_rate": round(counts["wrong_motion"] / max(1, counts["corrections"]), 4),
            "base_wrong_motion_rate": round(counts["base_wrong_motion"] / max(1, counts["corrections"]), 4),
            "decode_s_per_utterance": round(decode_s / max(1, counts["n"]), 3),
            "rows": rows,
        }
    )
    return report


def print_open_report(r: dict[str, Any]) -> None:
    """The human-readable summary of :func:`evaluate_open` (docs/speech.md quotes it)."""
    c = r["corrections"]
    if "mode" in r:
        print(f"understanding layer: {r['mode']}")
    print(f"voices: {', '.join(r['voices'])}; {r['stops']} stop-like and {c} other utterances")
    print("WER (all utterances):        " + "  ".join(f"{k} {v:.3f}" for k, v in r["wer_all"].items()))
    print("WER (corrections only):      " + "  ".join(f"{k} {v:.3f}" for k, v in r["wer_corrections"].items()))
    print(f"stop-like missed:            {r['stop_missed']}/{r['stops']}  (grammar alone: {r['base_stop_missed']})")
    print(
        f"stop heard as a motion:      {r['stop_as_motion']}/{r['stops']}  (grammar alone: {r['base_stop_as_motion']})"
    )
    print(
        f"confidently wrong motions:   {r['wrong_motion']}/{c} = {r['wrong_motion_rate']:.1%}  (grammar alone: "
        f"{r['base_wrong_motion']} = {r['base_wrong_motion_rate']:.1%})"
    )
    print(f"right motions:               {r['right_motion']}/{c}  (grammar alone: {r['base_right_motion']})")
    print(
        f"asks:                        {r['ask']}/{c}  ({r['heard_ask']} 'Did you say ...?', "
        f"{r['layer_ask']} by the understanding layer)"
    )
    print(f"false stops:                 {r['false_stop']}/{c}  (grammar alone: {r['base_false_stop']})")
    print(
        f"other: {r['other_act']} confirmations/other acts, {r['nothing']} nothing heard; "
        f"decode {r['decode_s_per_utterance']} s per utterance (grammar + open + spotter)"
    )
    for v, pv in r["per_voice"].items():
        print(f"  {v:14s} " + "  ".join(f"{k} {n}" for k, n in pv.items()))


def print_report(report: dict[str, Any], show: bool) -> None:
    """The human-readable summary (docs/speech.md quotes it)."""
    for voice, r in report["voices"].items():
        print(f"{voice:12s} WER {r['wer']:.3f}  exact {r['exact']}/{r['n']}  understood {r['understood']}/{r['n']}")
        if show:
            for e in r["errors"]:
                print("   ", e)
    n = report["n"]
    print(
        f"{'all':12s} WER {report['wer']:.3f}  exact {report['exact']}/{n} ({report['exact_rate']:.0%})  "
        f"understood {report['understood']}/{n} ({report['understood_rate']:.0%})"
    )
    lat = report["spot_after_end_s"]
    when = f", spotted {min(lat):+.2f} to {max(lat):+.2f} s from the end of the audio" if lat else ""
    print(
        f"stop spotting: {report['stops_spotted']}/{report['stops']} spoken stops spotted{when}; "
        f"{report['false_stops']}/{n - report['stops']} other utterances taken for a stop"
    )
    print(
        f"decode: {report['decode_s_per_utterance']} s per utterance (streamed, with spotting), "
        f"real-time factor {report['real_time_factor']}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--voices",
        help=f"espeak-ng voices, comma-separated (default {DEFAULT_VOICES}; --open-set: {DEFAULT_OPEN_VOICES})",
    )
    ap.add_argument(
        "--noise-floor",
        type=float,
        default=10.0,
        help="noise floor added before decoding, 16-bit LSB (0 = none; default 10)",
    )
    ap.add_argument("--stop-threshold", type=float, default=1e-12, help="stop spotter threshold (default 1e-12)")
    ap.add_argument("--no-spotter", action="store_true", help="rely on the transcripts alone for stops")
    ap.add_argument("--show", action="store_true", help="list every misrecognized utterance")
    ap.add_argument("--json", action="store_true", help="print the report as JSON at the end")
    ap.add_argument(
        "--open-set", action="store_true", help="measure hear() on freely phrased corrections and stop-like utterances"
    )
    ap.add_argument(
        "--in-grammar",
        action="store_true",
        help="--open-set: speak the grammar's own BENCH_UTTERANCES instead of the free phrasings",
    )
    ap.add_argument(
        "--mode",
        default="grammar",
        choices=("grammar", "full"),
        help="--open-set: the understanding layer's mode (full needs the MiniLM embedder)",
    )
    ap.add_argument(
        "--no-meaning-check",
        action="store_true",
        help="--open-set: hear() without the understanding layer's reading of the two transcripts",
    )
    args = ap.parse_args()
    if args.open_set:
        return main_open(args)
    voices = [v for v in (args.voices or DEFAULT_VOICES).split(",") if v]
    recognizer = PocketSphinxRecognizer(build_grammar(BENCH_OBJECTS), noise_floor=args.noise_floor)
    spotter = None if args.no_spotter else StopSpotter(threshold=args.stop_threshold, noise_floor=args.noise_floor)
    report = evaluate(voices, recognizer, spotter)
    report.update(noise_floor=args.noise_floor, stop_threshold=None if spotter is None else args.stop_threshold)
    print_report(report, args.show)
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


def main_open(args: argparse.Namespace) -> int:
    from robot_agent.language import LanguageLayer
    from robot_agent.speech import Hearer

    voices = [v for v in (args.voices or DEFAULT_OPEN_VOICES).split(",") if v]
    embedder = None
    if args.mode == "full":
        from memory.embedders import make_text_embedder

        embedder = make_text_embedder("minilm")
    layer = LanguageLayer(embedder=embedder, mode=args.mode)
    ctx = bench_context()
    meaning = None
    if not args.no_meaning_check:  # the grammar transcript is not acted on when the open one means another motion

        def meaning(text: str) -> tuple[str, frozenset[str]]:
            return meaning_of(layer.understand_correction(text, ctx))

    hearer = Hearer(ctx.objects, noise_floor=args.noise_floor, spot_stops=not args.no_spotter, meaning=meaning)
    report = evaluate_open(voices, hearer, layer, show=args.show, in_grammar=args.in_grammar)
    report["mode"] = args.mode
    report["meaning_check"] = meaning is not None
    print_open_report(report)
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
