"""``robot-agent bench understanding``: the understanding layer measured on the labelled corpus.

``robot-agent bench understanding --split dev --modes grammar,full`` runs each mode's layer over
the corpus items (``sim/corpus/understanding.yaml`` by default) and prints one table per mode:
accuracy per kind of right answer, the confidently-wrong and ask rates, silent failures and
latency; ``--verbose`` lists the items it got wrong. ``--spoken`` first speaks every item with
espeak-ng voices and hears it with :func:`robot_agent.speech.hear`; a heard stop counts as the
decision ``stop``, a question from the recognizer as ``ask``, anything else is understood from the
heard text. The spoken table adds missed stops, stops heard as motion, confidently-wrong motions
and the word error rates. ``--json`` ends with one JSON line; ``--out DIR`` writes
``understanding.json`` (every record) and ``understanding.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from robot_agent.fsutil import json_safe
from robot_agent.language.evaluate import (
    CATEGORIES,
    DEFAULT_CORPUS,
    Corpus,
    Item,
    load_corpus,
    score,
    summarize,
    understand,
)
from robot_agent.language.types import Understanding

DEFAULT_VOICES = ("en-us", "en-us+f3")


def add_arguments(b: argparse.ArgumentParser) -> None:
    """The options of ``bench understanding`` (``--json`` and ``--out`` are the bench command's own)."""
    b.add_argument(
        "--corpus",
        default=str(DEFAULT_CORPUS),
        help="understanding: the labelled corpus (default: sim/corpus/understanding.yaml)",
    )
    b.add_argument(
        "--split",
        default="dev",
        choices=("dev", "test", "all"),
        help="understanding: which items (default dev; report test, never tune on it)",
    )
    b.add_argument(
        "--modes", default="grammar,full", help="understanding: layer modes, comma-separated (default grammar,full)"
    )
    b.add_argument(
        "--spoken",
        action="store_true",
        help="understanding: speak each item with espeak-ng and hear it (robot_agent.speech.hear) first",
    )
    b.add_argument(
        "--voices",
        default=",".join(DEFAULT_VOICES),
        help=f"understanding --spoken: espeak-ng voices (default {','.join(DEFAULT_VOICES)})",
    )
    b.add_argument("--limit", type=int, default=0, help="understanding: only the first N items (default all)")
    b.add_argument("--verbose", action="store_true", help="understanding: list the items understood wrongly")


def make_layer(mode: str, embedder: Any = None) -> Any:
    """The layer of one mode; ``full`` needs the (shared) text embedder."""
    from robot_agent.language import LanguageLayer

    if mode == "full":
        return LanguageLayer(mode="full", embedder=embedder)
    return LanguageLayer(mode=mode)


def _heard_understanding(item: Item, heard: Any) -> Understanding | None:
    """The decision the recognizer takes by itself (a stop, or its own question), else None."""
    if heard.stop:
        return Understanding(
            item.text,
            item.kind,
            "stop",
            reason=f"heard {heard.stop_phrase or 'a stop'}",
            confidence=float(heard.confidence),
            source="speech",
        )
    if heard.question:
        return Understanding(
            item.text,
            item.kind,
            "ask",
            question=heard.question,
            reason="not heard clearly",
            confidence=float(heard.confidence),
            source="speech",
        )
    return None


def spoken_records(
    layer: Any,
    items: Sequence[Item],
    corpus: Corpus,
    voices: Sequence[str],
    *,
    hear: Callable[..., Any] | None = None,
    synthesize: Callable[..., Any] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """One record per item and voice: spoken, heard, then understood (see the module doc)."""
    if hear is None or synthesize is None:
        from robot_agent import speech

        hear = hear or speech.hear
        synthesize = synthesize or speech.synthesize
    out = []
    for voice in voices:
        for item in items:
            objects = corpus.objects(item.scene)
            pcm = synthesize(item.text, voice)
            t0 = time.perf_counter()
            heard = hear(pcm, objects)
            hear_ms = (time.perf_counter() - t0) * 1e3
            u = _heard_understanding(item, heard)
            ctx, ms = None, 0.0
            if u is None:
                u, ctx, ms = understand(layer, item, corpus, text=heard.text)
            rec = score(item, u, ctx, hear_ms + ms, objects)
            moved = u.decision == "act" and (
                u.what == "task" or (u.correction is not None and u.correction.kind.value in ("skill", "plan"))
            )
            rec.update(
                voice=voice,
                heard=heard.text,
                grammar_text=heard.grammar_text,
                open_text=heard.open_text,
                heard_stop=bool(heard.stop),
                stop_sources=list(getattr(heard, "stop_sources", ()) or ()),
                moved=moved,
            )
            out.append(rec)
            if progress is not None:
                progress(rec)
    return out


def _rate(k: int, n: int) -> float:
    return round(k / n, 4) if n else float("nan")


def spoken_metrics(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The spoken extras: missed stops, stops heard as motion, wrong motions, false stops, WER."""
    from robot_agent.speech import word_error_rate

    stops = [r for r in records if r["category"] == "stop"]
    others = [r for r in records if r["category"] != "stop"]
    refs = [r["text"] for r in records]
    out: dict[str, Any] = {
        "n": len(records),
        "stops": len(stops),
        "stops_missed": sum(r["decision"] != "stop" for r in stops),
        # A stop asked about ("did you say ...?", or the layer's question) holds the arm until the
        # operator answers (robot_agent.agent: a correction not understood holds the arm); only a
        # stop read as something to act on, or not heard at all, lets the motion go on.
        "stops_held": sum(r["decision"] == "ask" for r in stops),
        "stops_not_halted": sum(r["decision"] not in ("stop", "ask") for r in stops),
        "stops_as_motion": sum(bool(r["moved"]) for r in stops),
        "confidently_wrong_motion": _rate(sum(bool(r["moved"]) and not r["right"] for r in records), len(records)),
        "false_stops": _rate(sum(r["decision"] == "stop" for r in others), len(others)),
        "false_stops_by_source": dict(
            Counter(s for r in others if r["decision"] == "stop" for s in r.get("stop_sources", []))
        ),
    }
    for key in ("grammar_text", "open_text"):
        try:
            out[f"wer_{key.split('_')[0]}"] = round(word_error_rate(refs, [r[key] or "" for r in records]), 4)
        except ValueError:
            out[f"wer_{key.split('_')[0]}"] = float("nan")
    return out


def run_understanding(
    corpus: Corpus,
    items: Sequence[Item],
    modes: Sequence[str],
    *,
    spoken: bool = False,
    voices: Sequence[str] = DEFAULT_VOICES,
    embedder: Any = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every mode over ``items``: ``{"modes": {mode: {"metrics", "records"[, "spoken"]}}}``."""
    from robot_agent.language.evaluate import evaluate

    result: dict[str, Any] = {"corpus": str(corpus.path), "items": len(items), "modes": {}}
    if "full" in modes and embedder is None:
        from memory.embedders import make_text_embedder

        t0 = time.perf_counter()
        embedder = make_text_embedder("minilm")
        embedder.embed(["warm up"])  # load once, outside the timings
        result["embedder_load_s"] = round(time.perf_counter() - t0, 2)
    for mode in modes:
        layer = make_layer(mode, embedder)
        t0 = time.perf_counter()
        run = evaluate(layer, items, corpus=corpus)
        run["wall_s"] = round(time.perf_counter() - t0, 2)
        if spoken:
            recs = spoken_records(layer, items, corpus, voices)
            run["spoken"] = {
                "metrics": summarize(recs),
                "extra": spoken_metrics(recs),
                "records": recs,
                "voices": list(voices),
                "per_voice": {v: spoken_metrics([r for r in recs if r["voice"] == v]) for v in voices},
            }
        result["modes"][mode] = run
        if progress is not None:
            progress(f"mode {mode}: {len(items)} items in {run['wall_s']} s")
    return result


def _p(v: float) -> str:
    return "   n/a" if v != v else f"{100 * v:5.1f}%"


def _ms(v: float) -> str:
    return "   n/a" if v != v else f"{v:7.2f}"


def metrics_table(metrics: dict[str, Any]) -> str:
    """The per-kind table of one mode's metrics (Markdown)."""
    rows = [
        "| kind | n | accuracy | confidently wrong | asked | silent | p50 ms | p95 ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    kinds = [(k, metrics["kinds"][k]) for k in CATEGORIES if k in metrics["kinds"]]
    for name, g in [*kinds, ("**all**", metrics["overall"])]:
        rows.append(
            f"| {name} | {g['n']} | {_p(g['accuracy'])} | {_p(g['confidently_wrong'])} | {_p(g['ask'])} | "
            f"{g['silent']} | {_ms(g['latency_p50_ms'])} | {_ms(g['latency_p95_ms'])} |"
        )
    amb = metrics.get("ambiguous", {})
    if amb.get("n"):
        rows.append(
            f"| (ambiguous items) | {amb['n']} | {_p(amb['accuracy'])} | {_p(amb['confidently_wrong'])} | "
            f"{_p(amb['ask'])} | {amb['silent']} | | |"
        )
    return "\n".join(rows)


def _wrong_lines(records: Sequence[dict[str, Any]]) -> list[str]:
    out = []
    for r in records:
        if r["right"]:
            continue
        mark = "!" if r["confidently_wrong"] else " "
        want = "; ".join(json.dumps(e, sort_keys=True) for e in r["expect"])
        voice = f" [{r['voice']}: heard {r.get('heard')!r}]" if "voice" in r else ""
        out.append(f"{mark} {r['id']} {r['category']:<7} {r['text']!r}{voice} -> {r['got'][:140]}  | want {want}")
    return out


def report(result: dict[str, Any], split: str, verbose: bool = False) -> str:
    """Every mode's table (and the spoken one), with the wrong items when ``verbose``."""
    parts = []
    for mode, run in result["modes"].items():
        parts.append(
            f"\n== understanding: mode {mode}, split {split}, {result['items']} items "
            f"({result['corpus']}; {run['wall_s']} s)"
        )
        parts.append(metrics_table(run["metrics"]))
        if verbose:
            parts.append("wrong ('!' = confidently wrong):")
            parts.extend(_wrong_lines(run["records"]))
        sp = run.get("spoken")
        if sp:
            e = sp["extra"]
            parts.append(f"\n== spoken ({', '.join(sp['voices'])}), mode {mode}: {e['n']} utterances")
            parts.append(metrics_table(sp["metrics"]))
            parts.append(
                f"stop-like utterances missed: {e['stops_missed']} of {e['stops']} (of those, held on a "
                f"question: {e['stops_held']}; not halted: {e['stops_not_halted']}); heard as motion: "
                f"{e['stops_as_motion']}; false stops: {_p(e['false_stops'])} "
                f"(heard by {e['false_stops_by_source'] or 'none'}); confidently-wrong "
                f"motions: {_p(e['confidently_wrong_motion'])}; WER grammar {e['wer_grammar']}, "
                f"open {e['wer_open']}"
            )
            for v, pv in sp["per_voice"].items():
                parts.append(
                    f"  {v}: stops missed {pv['stops_missed']}/{pv['stops']} (not halted "
                    f"{pv['stops_not_halted']}), wrong motions "
                    f"{_p(pv['confidently_wrong_motion'])}, WER grammar {pv['wer_grammar']}, open "
                    f"{pv['wer_open']}"
                )
            if verbose:
                parts.extend(_wrong_lines(sp["records"]))
    return "\n".join(parts)


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The result without the per-item records (the JSON line)."""
    out = {k: v for k, v in result.items() if k != "modes"}
    out["modes"] = {}
    for mode, run in result["modes"].items():
        m: dict[str, Any] = {"metrics": run["metrics"], "wall_s": run["wall_s"]}
        if "spoken" in run:
            m["spoken"] = {k: v for k, v in run["spoken"].items() if k != "records"}
        out["modes"][mode] = m
    return json_safe(out, "understanding summary", strict=False)


def cmd_understanding(args: argparse.Namespace) -> int:
    """``robot-agent bench understanding``."""
    from robot_agent.errors import SceneError
    from robot_agent.language.layer import MODES

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if not modes or bad:
        print(
            f"robot-agent bench understanding: unknown mode(s) {', '.join(bad) or '(none)'}; valid: {', '.join(MODES)}",
            file=sys.stderr,
        )
        return 2
    voices = [v.strip() for v in args.voices.split(",") if v.strip()]
    if args.spoken and not voices:
        print("robot-agent bench understanding: --spoken needs at least one voice", file=sys.stderr)
        return 2
    try:
        corpus = load_corpus(args.corpus)
    except SceneError as exc:
        print(f"robot-agent bench understanding: {exc}", file=sys.stderr)
        return 2
    items = corpus.select(args.split)
    if args.limit and args.limit > 0:
        items = items[: args.limit]
    result = run_understanding(corpus, items, modes, spoken=args.spoken, voices=voices, progress=print)
    result["split"] = args.split
    text = report(result, args.split, verbose=args.verbose)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "understanding.json").write_text(
            json.dumps(json_safe(result, "understanding result", strict=False), indent=1)
        )
        (out / "understanding.md").write_text(text.lstrip() + "\n")
        print(f"wrote {out / 'understanding.json'}, {out / 'understanding.md'}")
    if args.json:
        print(json.dumps(summary(result)))
    return 0
