#!/usr/bin/env python3
"""Spoken-correction benchmark: word error rate and understood-rate on espeak-ng speech.

Usage: python scripts/bench_speech.py [--voices en-us,en-us+m3,...] [--noise-floor LSB]
                                      [--stop-threshold T] [--no-spotter] [--show] [--json]

Each utterance of ``robot_agent.speech.BENCH_UTTERANCES`` is spoken by espeak-ng in
every voice of the panel and streamed (0.1 s chunks, 0.5 s of silence around it)
through a ``SpeechListener``: stop spotter, segmenter, grammar-constrained
pocketsphinx recognizer (grammar built for ``BENCH_OBJECTS``). The transcript is
parsed by ``robot_agent.corrections.CorrectionParser`` in the context "picking up
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

from robot_agent.speech import (BENCH_OBJECTS, BENCH_UTTERANCES, SAMPLE_RATE, PocketSphinxRecognizer,
                                SpeechListener, StopSpotter, UtteranceSegmenter, build_grammar, normalize_words,
                                synthesize, word_error_rate)

DEFAULT_VOICES = "en-us,en-us+m3,en-us+f2,en-us+f3"


def bench_context():  # type: ignore[no-untyped-def]
    """The parser context of the benchmark: six objects, the robot picking up the mug."""
    from robot_agent.corrections import CorrectionContext
    from skills.types import ObjectInfo, Pose

    objects = [
        ObjectInfo("red_block", "block", Pose((0.50, 0.10, 0.0)), (0.05, 0.05, 0.05), color="red"),
        ObjectInfo("blue_cup", "cup", Pose((0.45, -0.15, 0.0)), (0.08, 0.08, 0.10), color="blue"),
        ObjectInfo("drawer", "drawer", Pose((0.60, 0.30, 0.0)), (0.30, 0.40, 0.20),
                   parts={"handle": [0.15, 0.0, 0.10]}),
        ObjectInfo("mug", "mug", Pose((0.40, 0.00, 0.0)), (0.08, 0.10, 0.10), parts={"handle": [0.0, 0.06, 0.05]}),
        ObjectInfo("plate", "plate", Pose((0.55, -0.30, 0.0)), (0.20, 0.20, 0.02)),
        ObjectInfo("green_bowl", "bowl", Pose((0.35, 0.25, 0.0)), (0.15, 0.15, 0.07), color="green"),
    ]
    return CorrectionContext(objects=objects, skill="pick", object="mug")


def speech_end_s(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """Time of the last sample louder than -40 dBFS (where the spoken words end)."""
    loud = np.nonzero(np.abs(samples.astype(np.int32)) > 328)[0]
    return float(loud[-1] + 1) / rate if loud.size else 0.0


def evaluate(voices: list[str], recognizer: PocketSphinxRecognizer, spotter: StopSpotter | None,
             chunk_s: float = 0.1, pad_s: float = 0.5) -> dict[str, Any]:
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
    from robot_agent.corrections import CorrectionParser

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
                heard += listener.feed(clip[i:i + step])
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
                errors.append({"said": text, "heard": said, "understood_as": got, "expected": kind,
                               "spotted_stop": bool(spot)})
        all_refs += refs
        all_hyps += hyps
        n += len(refs)
        exact_all += exact
        understood_all += understood
        report["voices"][voice] = {"wer": round(word_error_rate(refs, hyps), 3), "exact": exact,
                                   "understood": understood, "n": len(refs), "errors": errors}
    report.update({
        "n": n, "wer": round(word_error_rate(all_refs, all_hyps), 3),
        "exact": exact_all, "understood": understood_all,
        "exact_rate": round(exact_all / n, 3), "understood_rate": round(understood_all / n, 3),
        "stops": stops, "stops_spotted": spotted, "false_stops": false_stops,
        "spot_after_end_s": [round(v, 3) for v in spot_after_end],
        "decode_s_per_utterance": round(decode_s / n, 3), "real_time_factor": round(decode_s / audio_s, 3),
    })
    return report


def print_report(report: dict[str, Any], show: bool) -> None:
    """The human-readable summary (docs/speech.md quotes it)."""
    for voice, r in report["voices"].items():
        print(f"{voice:12s} WER {r['wer']:.3f}  exact {r['exact']}/{r['n']}  understood {r['understood']}/{r['n']}")
        if show:
            for e in r["errors"]:
                print("   ", e)
    n = report["n"]
    print(f"{'all':12s} WER {report['wer']:.3f}  exact {report['exact']}/{n} ({report['exact_rate']:.0%})  "
          f"understood {report['understood']}/{n} ({report['understood_rate']:.0%})")
    lat = report["spot_after_end_s"]
    when = f", spotted {min(lat):+.2f} to {max(lat):+.2f} s from the end of the audio" if lat else ""
    print(f"stop spotting: {report['stops_spotted']}/{report['stops']} spoken stops spotted{when}; "
          f"{report['false_stops']}/{n - report['stops']} other utterances taken for a stop")
    print(f"decode: {report['decode_s_per_utterance']} s per utterance (streamed, with spotting), "
          f"real-time factor {report['real_time_factor']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", default=DEFAULT_VOICES, help=f"espeak-ng voices, comma-separated ({DEFAULT_VOICES})")
    ap.add_argument("--noise-floor", type=float, default=10.0,
                    help="noise floor added before decoding, 16-bit LSB (0 = none; default 10)")
    ap.add_argument("--stop-threshold", type=float, default=1e-12, help="stop spotter threshold (default 1e-12)")
    ap.add_argument("--no-spotter", action="store_true", help="rely on the transcripts alone for stops")
    ap.add_argument("--show", action="store_true", help="list every misrecognized utterance")
    ap.add_argument("--json", action="store_true", help="print the report as JSON at the end")
    args = ap.parse_args()
    voices = [v for v in args.voices.split(",") if v]
    recognizer = PocketSphinxRecognizer(build_grammar(BENCH_OBJECTS), noise_floor=args.noise_floor)
    spotter = None if args.no_spotter else StopSpotter(threshold=args.stop_threshold, noise_floor=args.noise_floor)
    report = evaluate(voices, recognizer, spotter)
    report.update(noise_floor=args.noise_floor, stop_threshold=None if spotter is None else args.stop_threshold)
    print_report(report, args.show)
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
