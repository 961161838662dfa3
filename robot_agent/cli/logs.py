"""``robot-agent logs``: list, show and recover episode logs (rosbag2 / MCAP directories), and
``robot-agent replay``: re-run a logged episode in PyBullet (:mod:`robot_agent.logs.replay`)."""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any, TextIO


def register(subparsers: Any) -> None:
    """Add the ``logs`` command family and ``replay`` to the ``robot-agent`` parser."""
    logs = subparsers.add_parser(
        "logs",
        help="list, show and recover episode logs",
        description="Inspect episode logs: rosbag2 directories with MCAP storage, one per episode.",
    )
    sub = logs.add_subparsers(dest="logs_command", metavar="ACTION")
    sub.required = True

    p_list = sub.add_parser(
        "list",
        help="summarise every episode log under a directory",
        description="One line per episode log found under DIR (searched recursively): episode id, task, "
        "corrections, outcome, duration. Unreadable logs are listed with the reason. "
        "A log left by a crashed recording is rebuilt in place and marked recovered.",
    )
    p_list.add_argument("dir", metavar="DIR", help="directory holding episode logs")
    p_list.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p_list.set_defaults(func=_cmd_list)

    p_show = sub.add_parser(
        "show",
        help="show one episode log: summary and event timeline",
        description="Summary (task, scene, outcome, duration, corrections, message counts) and the "
        "timeline of the /episode/* events of one log. Sensor topics are counted, not printed.",
    )
    p_show.add_argument("log", metavar="LOG", help="the episode log directory")
    p_show.add_argument("--json", action="store_true", help="print JSON: meta, summary and the /episode/* events")
    p_show.set_defaults(func=_cmd_show)

    p_rec = sub.add_parser(
        "recover",
        help="rebuild a log left unfinished by a crash",
        description="Salvage every intact message of an unfinished (or truncated) episode log and "
        "rewrite it as a finished rosbag2 directory marked as recovered.",
    )
    p_rec.add_argument("log", metavar="LOG", help="the episode log directory")
    p_rec.add_argument("--keep-partial", action="store_true", help="keep the damaged file as <name>.mcap.partial")
    p_rec.set_defaults(func=_cmd_recover)
    _register_replay(subparsers)


def _fmt_time(t_ns: int) -> str:
    return _dt.datetime.fromtimestamp(t_ns / 1e9, tz=_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _outcome_word(summary: Any) -> str:
    if summary.in_progress:
        return "recording"
    if summary.success is None:
        return "unfinished"
    return "success" if summary.success else "failure"


def _status(summary: Any) -> str:
    return "recovered" if summary.recovered else ("live" if summary.in_progress else "ok")


def _clip(text: Any, width: int) -> str:
    s = "" if text is None else str(text).replace("\n", " ")
    return s if len(s) <= width else s[: width - 1] + "…"


def _cmd_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from robot_agent.logs import EpisodeLogError, EpisodeLogReader, find_episode_logs

    rows: list[dict[str, Any]] = []
    for path in find_episode_logs(args.dir):
        try:
            summary = EpisodeLogReader(path).summary()
        except EpisodeLogError as exc:
            rows.append({"path": str(path), "error": str(exc)})
            continue
        rows.append({**summary.to_dict(), "status": _status(summary), "outcome_word": _outcome_word(summary)})
    if args.json:
        json.dump([_json_row(r) for r in rows], out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    if not rows:
        print(f"no episode logs under {args.dir}", file=out)
        return 0
    header = f"{'LOG':<28} {'EPISODE':<16} {'TASK':<36} {'CORR':>4} {'OUTCOME':<10} {'DURATION':>9}  STATUS"
    print(header, file=out)
    for row in rows:
        name = _clip(row["path"].rstrip("/").rsplit("/", 1)[-1], 28)
        if "error" in row:
            print(f"{name:<28} {'-':<16} {'-':<36} {'-':>4} {'-':<10} {'-':>9}  error: {row['error']}", file=out)
            continue
        print(
            f"{name:<28} {_clip(row['episode_id'], 16):<16} {_clip(row['task'], 36):<36} "
            f"{row['n_corrections']:>4} {row['outcome_word']:<10} {row['duration_s']:>8.1f}s  {row['status']}",
            file=out,
        )
    return 0


def _json_row(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    row.pop("outcome_word", None)
    return row


def _describe(event: Any) -> str:
    """One line for an /episode/* event."""
    d = event.data
    kind = event.kind
    if kind == "meta":
        return f"episode {d.get('episode_id')} starts"
    if kind == "task":
        return str(d.get("text"))
    if kind == "plan":
        steps = d.get("steps") or []
        text = " -> ".join(s if isinstance(s, str) else json.dumps(s, ensure_ascii=False) for s in steps)
        reason = f"  ({d['reason']})" if d.get("reason") else ""
        return f"{text}{reason}"
    if kind == "skill_call":
        args = ", ".join(f"{v}" for v in (d.get("args") or {}).values())
        params = json.dumps(d.get("params") or {}, ensure_ascii=False)
        return f"{d.get('skill')}({args}) {params}"
    if kind == "skill_result":
        reason = f": {d['reason']}" if d.get("reason") else ""
        return f"{d.get('skill')} {d.get('status', 'succeeded' if d.get('success') else 'failed')}{reason}"
    if kind == "correction":
        return f'[{d.get("source")}] "{d.get("text")}"'
    if kind == "understood":
        # The full parse and the call are for export and kb rebuild; the summary says it in brief.
        details = {
            k: v
            for k, v in d.items()
            if k not in ("schema", "text", "kind", "correction", "call", "step") and v is not None
        }
        extra = f" {json.dumps(details, ensure_ascii=False)}" if details else ""
        return f'{d.get("kind")}-level: "{d.get("text")}"{extra}'
    if kind == "knowledge":
        return f"{len(d.get('used') or [])} used, {len(d.get('distilled') or [])} distilled"
    if kind == "outcome":
        word = "success" if d.get("success") else "failure"
        reason = f" ({d['reason']})" if d.get("reason") else ""
        return f"{word}{reason}, {d.get('corrections')} corrections, {d.get('duration_s', 0):.1f} s"
    return _clip(json.dumps(d, ensure_ascii=False), 100)


def _cmd_show(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from robot_agent.logs import EVENT_TOPICS, META_TOPIC, EpisodeLogReader

    reader = EpisodeLogReader(args.log)
    summary = reader.summary()
    events = [e for e in reader.events(EVENT_TOPICS) if e.topic != META_TOPIC]
    if args.json:
        doc = {
            "path": str(reader.path),
            "meta": reader.meta,
            "summary": summary.to_dict(),
            "recovery": reader.recovery,
            "events": [{"topic": e.topic, "t_ns": e.t_ns, "data": e.data} for e in events],
        }
        json.dump(doc, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return 0
    start = summary.start_time_ns
    print(f"log          {reader.path}", file=out)
    print(f"episode      {summary.episode_id}  (schema v{summary.schema_version})", file=out)
    if summary.recovered:
        rec = reader.recovery or {}
        why = f"; scan stopped: {rec['stop_reason']}" if rec.get("stop_reason") else ""
        print(f"recovered    yes: rebuilt from a crashed recording{why}", file=out)
    if summary.in_progress:
        print("recording    yes: a live process is still writing this log", file=out)
    print(f"task         {summary.task or '-'}", file=out)
    print(f"scene        {summary.scene or '-'}", file=out)
    print(f"started      {_fmt_time(start)}", file=out)
    print(f"duration     {summary.duration_s:.1f} s", file=out)
    print(f"outcome      {_outcome_word(summary)}", file=out)
    print(f"corrections  {summary.n_corrections}", file=out)
    for c in summary.corrections:
        print(f'  +{(c["t_ns"] - start) / 1e9:7.2f}s [{c["source"]}] "{c["text"]}"', file=out)
    counts = ", ".join(f"{t} {n}" for t, n in summary.counts.items() if n)
    print(f"messages     {counts}", file=out)
    print("timeline", file=out)
    for e in events:
        print(f"  +{(e.t_ns - start) / 1e9:7.2f}s {e.kind:<13} {_describe(e)}", file=out)
    return 0


def _cmd_recover(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    from robot_agent.logs import EpisodeLogReader, recover

    report = recover(args.log, keep_partial=args.keep_partial)
    if report is None:
        EpisodeLogReader(args.log)  # validates
        print(f"{args.log}: finished and intact; nothing to recover", file=out)
        return 0
    stop = f"; scan stopped: {report.stop_reason}" if report.stop_reason else ""
    print(
        f"{args.log}: recovered {report.messages} messages "
        f"({report.bytes_salvaged} of {report.bytes_total} bytes){stop}",
        file=out,
    )
    return 0


def _cmd_replay(args: argparse.Namespace, out: TextIO | None = None) -> int:
    from robot_agent.config import AgentConfig
    from robot_agent.logs.replay import replay

    out = out or sys.stdout
    cfg = AgentConfig.load(args.params) if args.params else AgentConfig.load()
    if not args.json:
        print(f"replaying {args.log}", file=out)
    report = replay(args.log, cfg, gui=args.gui, speed=args.speed, out=None if args.json else out)
    if args.json:
        json.dump(report.to_dict(), out, ensure_ascii=False)
        out.write("\n")
        return 0 if report.matches else 1
    for err in report.object_errors:
        print(f"  final scene: {err}", file=out)
    if not report.final_checked:
        print("  final scene: not in the log (recorded before final_objects were logged); not compared", file=out)
    n_ok = sum(s.matches for s in report.steps)
    verdict = "MATCHES the recording" if report.matches else "DOES NOT match the recording"
    rec = {None: "unknown", True: "success", False: "failure"}[report.recorded_success]
    print(
        f"{verdict}: {n_ok}/{len(report.steps)} skills ended as recorded, recorded outcome {rec}, "
        f"{report.sim_s:.1f} s simulated in {report.wall_s:.1f} s",
        file=out,
    )
    return 0 if report.matches else 1


def _register_replay(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "replay",
        help="re-run a logged episode in PyBullet and compare it with the recording",
        description="Rebuild the logged scene in PyBullet, run the recorded skill calls with the recorded "
        "parameters and keep-outs (and the nudges and put-backs before retries), "
        "and report whether every skill ends as "
        "recorded and the final scene matches. Exit status 0 when it matches, 1 when not.",
    )
    p.add_argument("log", metavar="LOG", help="the episode log directory")
    p.add_argument("--gui", action="store_true", help="show the PyBullet GUI")
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="sim seconds per wall second (1 = real time; default 0 = as fast as possible)",
    )
    p.add_argument("--params", help="parameter YAML (default: config/agent.yaml)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=_cmd_replay)
