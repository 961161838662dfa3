#!/usr/bin/env python3
"""Choose the stop spotter's keyphrase thresholds on espeak-ng speech.

Usage: python scripts/tune_stop_spotter.py [--voices en-us,en-us+m3,en-us+f2,en-us+f3] [--json]
       python scripts/tune_stop_spotter.py --hear DUMP [--meaning]

``--hear DUMP`` chooses the thresholds of :class:`robot_agent.speech.Hearer` instead, from the rows
of ``scripts/bench_speech.py --open-set --json > DUMP`` on the tuning voices: each row's transcripts
and alignment scores are re-decided with ``Hearer.decide`` over a grid, first the acoustic stop
check (fewest stop-like utterances missed, then fewest false stops), then the acting thresholds
(fewest wrong motions, then most right ones); ``--meaning`` gives the hearer the understanding
layer's reading, as the benchmark does. docs/speech.md quotes the choice.

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
    ap.add_argument("--hear", metavar="DUMP", help="choose hear()'s thresholds from a bench_speech.py --json dump")
    ap.add_argument("--meaning", action="store_true", help="--hear: with the understanding layer's reading")
    args = ap.parse_args()
    if args.hear:
        return tune_hear(args.hear, args.meaning)
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


def tune_hear(dump: str, with_meaning: bool) -> int:
    """Re-decide the dumped rows over a grid of Hearer thresholds; print the best settings."""
    import importlib.util
    import itertools
    from pathlib import Path

    from robot_agent.language import LanguageLayer
    from robot_agent.speech import Hearer, Transcript

    spec = importlib.util.spec_from_file_location("bench_speech", Path(__file__).with_name("bench_speech.py"))
    if spec is None or spec.loader is None:
        raise SystemExit("cannot load scripts/bench_speech.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = Path(dump).read_text()
    rows = json.loads(text[text.index("\n{") + 1 :])["rows"]
    ctx, layer, seen = bench.bench_context(), LanguageLayer(mode="grammar"), {}

    def meaning(t: str) -> Any:
        if t not in seen:
            seen[t] = bench.meaning_of(layer.understand_correction(t, ctx))
        return seen[t]

    hearer = Hearer(ctx.objects, spot_stops=False, meaning=meaning if with_meaning else None)

    def counts(**settings: Any) -> dict[str, int]:
        for k, v in settings.items():
            setattr(hearer, k, v)
        c = dict.fromkeys(("missed", "as_motion", "false_stop", "wrong", "right", "ask"), 0)
        for r in rows:
            g, o = Transcript(r["grammar"], 0.0, False), Transcript(r["open"], 0.0, False, source="open")
            h = hearer.decide(
                g,
                o,
                "stop" if "spotter" in r["stop_sources"] else "",
                margin=r["margin"],
                rival=r["rival"],
                rival_margin=r["rival_margin"],
                stop_margin=r["stop_margin"],
                features=r["features"],
            )
            got = ("stop", frozenset()) if h.stop else meaning(h.text) if h.text else ("none", frozenset())
            motion = got[0] in ("skill", "plan")
            if r["stop_meant"]:
                c["missed"] += not h.stop
                c["as_motion"] += not h.stop and motion
            elif h.stop:
                c["false_stop"] += 1
            elif h.question or got[0] in ("ask", "unclear"):
                c["ask"] += 1
            elif motion:
                want = (r["want"][0], frozenset(r["want"][1]))
                c["right" if got == want else "wrong"] += 1
        return c

    stop_grid = itertools.product(
        (0.5, 0.6, 0.7, 0.8), (-1.0, -0.8, -0.7, -0.6, -0.4, -0.2), (0.0, 0.2), (0.7, 0.9), (0.0, 0.3)
    )
    names = ("stop_cover", "stop_llr", "stop_llr_agreed", "stop_short_s", "stop_short_bonus")
    scored = [(counts(**dict(zip(names, v, strict=True))), v) for v in stop_grid]
    least = min((c["missed"], c["false_stop"]) for c, _ in scored)
    ties = [v for c, v in scored if (c["missed"], c["false_stop"]) == least]
    # of the settings that tie, the one nearest the middle of their range (not the edge of the gap)
    mid = [sorted(col)[len(col) // 2] for col in zip(*ties, strict=True)]
    span = [max(col) - min(col) or 1.0 for col in zip(*ties, strict=True)]
    best_stop = next(
        (c, v)
        for c, v in scored
        if v == min(ties, key=lambda v: sum(abs(a - m) / w for a, m, w in zip(v, mid, span, strict=True)))
    )
    print(f"stop check ({len(ties)} settings tie):", dict(zip(names, best_stop[1], strict=True)), best_stop[0])
    for k, v in zip(names, best_stop[1], strict=True):
        setattr(hearer, k, v)
    act_grid = itertools.product(
        (-0.9, -0.7, -0.55, -0.4, -0.3), (0.1, 0.2, 0.3), (0.3, 0.6), (None, -1.0, -1.5), (None, -3.5, -3.0)
    )
    names = ("accept_margin", "rival_margin", "strong_margin", "open_margin", "meaning_fit")
    scored = [(counts(**dict(zip(names, v, strict=True))), v) for v in act_grid]
    best = min(scored, key=lambda cv: (cv[0]["wrong"], -cv[0]["right"]))
    print("acting:", dict(zip(names, best[1], strict=True)), best[0])
    return 0


def _names(text: str, phrase: str) -> bool:
    w, p = normalize_words(text), normalize_words(phrase)
    return any(w[i : i + len(p)] == p for i in range(len(w) - len(p) + 1))


if __name__ == "__main__":
    raise SystemExit(main())
