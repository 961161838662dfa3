#!/usr/bin/env python3
"""Choose the stop spotter's keyphrase thresholds on espeak-ng speech.

Usage: python scripts/tune_stop_spotter.py [--voices en-us,en-us+m3,en-us+f2,en-us+f3] [--json]

Every utterance of ``STOP_UTTERANCES`` (positives) and of ``EVERYDAY_CORRECTIONS`` plus the
non-stop ``BENCH_UTTERANCES`` (negatives) is spoken in each voice and streamed through a
keyword search for each phrase of ``STOP_KEYPHRASES`` alone, at each threshold of a grid
(phrases searched together compete: after one fires the search restarts, so they are tuned
one by one and then checked together by the benchmark). For each phrase the script prints, per
threshold, the stop utterances it caught (that contain it, and in all) and the non-stop utterances it fired on, and
proposes the least sensitive threshold that catches the most of the utterances naming it
while firing on at most one non-stop utterance. docs/speech.md quotes the result; the
voices are the tuning panel, not the benchmark's held-out voices.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from robot_agent.speech import BENCH_UTTERANCES, SAMPLE_RATE, StopSpotter, normalize_words, synthesize
from robot_agent.speech.benchset import EVERYDAY_CORRECTIONS, STOP_UTTERANCES
from robot_agent.speech.stops import STOP_KEYPHRASES

GRID = (1e-30, 1e-20, 1e-12, 1e-6)
TUNING_VOICES = "en-us,en-us+f3"


def detections(spotter: StopSpotter, clip: np.ndarray, step: int) -> set[str]:
    """Every phrase the spotter flags in a clip (fed in ``step``-sample chunks)."""
    spotter.reset()
    found: set[str] = set()
    for i in range(0, clip.size, step):
        spotter.last_phrase = ""
        if spotter.feed(clip[i : i + step]) is not None:
            found.add(spotter.last_phrase)
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voices", default=TUNING_VOICES)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    voices = [v for v in args.voices.split(",") if v]
    positives = list(STOP_UTTERANCES)
    negatives = list(EVERYDAY_CORRECTIONS) + [t for t, k in BENCH_UTTERANCES if k != "stop"]
    pad = np.zeros(SAMPLE_RATE // 2, np.int16)
    clips: list[tuple[str, bool, np.ndarray]] = []
    for voice in voices:
        for text in positives + negatives:
            clips.append((text, text in positives, np.concatenate([pad, synthesize(text, voice=voice), pad])))
    phrases = list(STOP_KEYPHRASES)
    # hits[threshold][clip index] = phrases flagged
    hits: dict[float, list[set[str]]] = {thr: [set() for _ in clips] for thr in GRID}
    report: dict[str, Any] = {
        "voices": voices,
        "positives": len(positives) * len(voices),
        "negatives": len(negatives) * len(voices),
        "phrases": {},
    }
    for p in phrases:
        for thr in GRID:
            spotter = StopSpotter(p, threshold=thr)
            for i, (_, _, clip) in enumerate(clips):
                hits[thr][i] |= detections(spotter, clip, SAMPLE_RATE // 10)
            spotter.close()
        naming = [i for i, (t, pos, _) in enumerate(clips) if pos and _names(t, p)]
        rows = []
        for thr in GRID:
            caught = sum(p in hits[thr][i] for i in naming)
            any_pos = sum(p in hits[thr][i] for i, (_, pos, _) in enumerate(clips) if pos)
            false = [clips[i][0] for i, (_, pos, _) in enumerate(clips) if not pos and p in hits[thr][i]]
            rows.append(
                {
                    "threshold": thr,
                    "caught_naming": caught,
                    "naming": len(naming),
                    "caught_any_stop": any_pos,
                    "false": len(false),
                    "false_on": sorted(set(false)),
                }
            )
        ok = [r for r in rows if r["false"] <= 1]
        best = max(ok, key=lambda r: (r["caught_naming"], r["threshold"])) if ok else rows[-1]
        report["phrases"][p] = {"rows": rows, "proposed": best["threshold"]}
        print(f"{p!r}: {len(naming)} stop utterances name it")
        for r in rows:
            print(
                f"   {r['threshold']:.0e}: caught {r['caught_naming']}/{r['naming']} naming it, "
                f"{r['caught_any_stop']} stop utterances in all, false on {r['false']} {r['false_on'][:4]}"
            )
        print(f"   proposed {best['threshold']:.0e}", flush=True)
    if args.json:
        print(json.dumps(report, indent=1))
    return 0


def _names(text: str, phrase: str) -> bool:
    w, p = normalize_words(text), normalize_words(phrase)
    return any(w[i : i + len(p)] == p for i in range(len(w) - len(p) + 1))


if __name__ == "__main__":
    raise SystemExit(main())
