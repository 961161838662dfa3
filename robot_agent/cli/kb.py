"""``robot-agent kb``: list, show, search, edit, delete, export, import, rebuild and inspect the knowledge base.

The store itself is :mod:`memory`; ``kb rebuild`` distils episode logs again
(:mod:`robot_agent.distill`, :mod:`robot_agent.logs`), which is why the command lives here, above
both. Every subcommand takes ``--kb DIR`` (default: ``memory.kb_dir`` of the parameter file) and
``--json`` (machine-readable output). Reading commands open the store read-only, so they
work while the agent is running; writing commands need the writer lock and say so
clearly when the agent holds it.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Sequence
from typing import Any

WRITES = frozenset({"edit", "delete", "restore", "import", "migrate", "rebuild"})
EDITABLE = ("rule", "scope", "parameters", "provenance")


def _open(args: argparse.Namespace, read_only: bool) -> Any:
    from memory import open_knowledge_base
    from robot_agent.config import AgentConfig

    cfg = AgentConfig.load(args.params) if args.params else AgentConfig.load()
    if args.kb:
        cfg.memory.kb_dir = args.kb
    return open_knowledge_base(cfg.memory, read_only=read_only)


def _scope(item: Any) -> str:
    if item.kind == "skill":
        return str(item.scope.get("skill", ""))
    return str(item.scope.get("task_family", ""))


def _category(item: Any) -> str:
    return str(item.scope.get("object_category") or ",".join(item.scope.get("object_categories") or []))


def _table(items: Sequence[Any], scores: Sequence[float] | None = None) -> str:
    """A fixed-width table fitted to the terminal; the rule takes the remaining width."""
    head = (["score"] if scores is not None else []) + [
        "id",
        "kind",
        "scope",
        "category",
        "used",
        "ok",
        "corrected",
        "status",
        "rule",
    ]
    rows = []
    for n, it in enumerate(items):
        rule = it.rule + (f"  [superseded by {it.superseded_by}]" if it.superseded_by else "")
        row = [
            it.id,
            it.kind,
            _scope(it)[:24],
            _category(it)[:16],
            str(it.use_count),
            str(it.success_count),
            str(getattr(it, "corrected_count", 0)),
            getattr(it, "status", "active"),
            rule,
        ]
        rows.append(([f"{scores[n]:.3f}"] if scores is not None else []) + row)
    widths = [max([len(h)] + [len(r[c]) for r in rows]) for c, h in enumerate(head[:-1])]
    right = {head.index("used"), head.index("ok"), head.index("corrected")} | ({0} if scores is not None else set())
    room = max(20, shutil.get_terminal_size((120, 24)).columns - sum(widths) - 2 * len(widths))

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells[:-1], widths, strict=True))
        ]
        last = cells[-1] if len(cells[-1]) <= room else cells[-1][: room - 1] + "…"
        return "  ".join(parts + [last]).rstrip()

    return "\n".join([line(head)] + [line(r) for r in rows])


def _show(item: Any) -> str:
    d = item.to_dict()
    lines = [f"id:            {d['id']}", f"kind:          {d['kind']}", f"rule:          {d['rule']}"]
    for name in ("scope", "parameters"):
        lines.append(f"{name}:" if d[name] else f"{name}:         -")
        lines += [f"  {k}: {json.dumps(v)}" for k, v in d[name].items()]
    lines.append("provenance:" if d["provenance"] else "provenance:    -")
    for k, v in d["provenance"].items():
        vals = v if isinstance(v, list) else [v]
        lines.append(f"  {k}:")
        lines += [f"    - {x}" for x in vals]
    lines += [
        f"used:          {d['use_count']} (succeeded {d['success_count']}, corrected {d.get('corrected_count', 0)})",
        f"status:        {d.get('status', 'active')}",
        f"created:       {_when(d['created'])}",
        f"updated:       {_when(d['updated'])}",
    ]
    if d["superseded_by"]:
        lines.append(f"superseded by: {d['superseded_by']}")
    return "\n".join(lines)


def _when(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _value(text: str) -> Any:
    """A JSON value (numbers, lists, true/false/null, quoted strings); anything else is a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def edit_fields(item: Any, sets: Sequence[str], unsets: Sequence[str], rule: str | None) -> dict[str, Any]:
    """The ``update()`` fields for ``--set FIELD=VALUE`` / ``--unset FIELD`` / ``--rule TEXT``.

    FIELD is ``rule``, ``scope.KEY``, ``parameters.KEY``, ``provenance.KEY``, or a bare
    parameter name (``speed=0.3`` means ``parameters.speed=0.3``).

    Raises:
        ValueError: a malformed option, naming it.
    """
    data = item.to_dict()
    fields: dict[str, Any] = {}
    if rule is not None:
        fields["rule"] = rule

    def target(path: str) -> tuple[str, str | None]:
        section, _, key = path.partition(".")
        if not key:
            return ("rule", None) if section == "rule" else ("parameters", section)
        if section not in EDITABLE[1:]:
            raise ValueError(f"cannot edit {path!r}: use rule, scope.KEY, parameters.KEY or provenance.KEY")
        return section, key

    for kv in sets:
        path, eq, raw = kv.partition("=")
        if not eq or not path:
            raise ValueError(f"--set expects FIELD=VALUE (VALUE as JSON or plain text), got {kv!r}")
        section, key = target(path.strip())
        if key is None:
            fields["rule"] = raw
        else:
            fields.setdefault(section, dict(data[section]))[key] = _value(raw)
    for path in unsets:
        section, key = target(path.strip())
        if key is None:
            raise ValueError("the rule cannot be unset; give a new one with --rule")
        current = fields.setdefault(section, dict(data[section]))
        if key not in current:
            raise ValueError(f"{section}.{key} is not set on {item.id}")
        del current[key]
    if not fields:
        raise ValueError("nothing to change: give --rule TEXT, --set FIELD=VALUE or --unset FIELD")
    return fields


def _cmd(args: argparse.Namespace) -> int:
    action = args.kb_command
    if action == "rebuild":
        from robot_agent.logs.export import collect_logs

        collect_logs(args.logs)  # a bad --logs fails before the models load
    kb = _open(args, read_only=action not in WRITES)
    try:
        out = _run(kb, args)
    finally:
        kb.close()
    print(out)
    return 0


def _run(kb: Any, args: argparse.Namespace) -> str:
    action = args.kb_command
    if action == "list":
        items = kb.list(kind=args.kind, skill=args.skill, include_superseded=args.all, category=args.category)
        if args.json:
            return json.dumps([i.to_dict() for i in items])
        return _table(items) + f"\n{len(items)} item(s)"
    if action == "show":
        item = kb.get(args.id)
        return json.dumps(item.to_dict()) if args.json else _show(item)
    if action == "search":
        hits = kb.search(args.text, k=args.k, kind=args.kind)
        if args.json:
            return json.dumps([{"score": round(s, 4), **i.to_dict()} for i, s in hits])
        return _table([i for i, _ in hits], [s for _, s in hits]) if hits else "no items"
    if action == "edit":
        fields = edit_fields(kb.get(args.id), args.set or [], args.unset or [], args.rule)
        item = kb.update(args.id, **fields)
        return json.dumps(item.to_dict()) if args.json else f"updated {item.id}\n{_show(item)}"
    if action == "restore":
        item = kb.restore(args.id)
        return json.dumps(item.to_dict()) if args.json else f"restored {args.id}: active again ({item.rule})"
    if action == "delete":
        kb.delete(args.id)
        return json.dumps({"deleted": args.id}) if args.json else f"deleted {args.id}"
    if action == "export":
        n = kb.export(args.file)
        return json.dumps({"exported": n, "file": args.file}) if args.json else f"exported {n} item(s) to {args.file}"
    if action == "import":
        n = kb.import_file(args.file)
        return json.dumps({"imported": n}) if args.json else f"imported {n} item(s) from {args.file}"
    if action == "rebuild":
        report = rebuild_from_logs(kb, args.logs)
        if args.json:
            return json.dumps(report)
        lines = [f"skipped {s}" for s in report["skipped"]]
        lines.append(
            f"re-distilled {report['episodes']} episode(s) from {report['logs']} log(s): "
            f"{report['added']} item(s) added, {report['active']} active"
        )
        return "\n".join(lines)
    if action == "migrate":
        done = list(kb.open_report)
        if args.json:
            return json.dumps({"schema_version": kb.stats()["schema_version"], "report": done})
        return "\n".join(done) if done else f"{kb.path}: up to date (schema {kb.stats()['schema_version']})"
    st = kb.stats()  # stats
    if args.json:
        return json.dumps(st)
    lines = [
        f"path:          {st['path']}",
        f"schema:        {st['schema_version']}",
        f"text model:    {st['text_model']}",
        f"image model:   {st['image_model'] or '- (text-only retrieval)'}",
        f"active items:  {st['items']}",
    ]
    for kind, c in sorted(st["by_kind"].items()):
        lines.append(f"  {kind:<6} {c['active']} active, {c['superseded']} superseded")
    lines.append("indexes:")
    for name, ix in st["indexes"].items():
        lines.append(f"  {name:<12} {ix['vectors']} vectors ({ix['type']}{_recall_note(ix)})")
    return "\n".join(lines)


def _recall_note(ix: dict[str, Any]) -> str:
    """How well an index finds the exact top 10: exact, or the recall measured when it was built."""
    if ix["type"] == "flat":
        return ", exact: recall@10 1.0"
    if ix["type"] != "ivf":
        return ""
    lists = f", nprobe {ix['nprobe']} of {ix['nlist']} lists"
    if ix.get("recall_at_10") is None:
        return lists + ", recall not measured (index built by an older version)"
    return (
        f"{lists}, recall@10 {ix['recall_at_10']} measured at build on {ix['measured_on']} vectors "
        f"with {ix['recall_queries']} paraphrase-far queries"
    )


def rebuild_from_logs(kb: Any, logs: Sequence[str]) -> dict[str, Any]:
    """Re-distil every episode log under ``logs`` into ``kb`` (which must be empty), oldest first.

    Each episode is distilled as the agent distilled it after the task (same corrections,
    same final scene, same memory mode) and added with the same merging, so the active items
    come out as in the live run. Episodes run without memory added nothing live and add
    nothing here. Not rebuilt: use/success counts, and image embeddings of skill items.

    Raises:
        ValueError: ``kb`` is not empty, or a log is unreadable (the message names it).
    """
    from memory.item import KnowledgeItem
    from robot_agent.distill import distill_episode
    from robot_agent.logs import EpisodeLogReader
    from robot_agent.logs.export import collect_logs, episode_from_log

    present = kb.list(include_superseded=True)
    if present:
        raise ValueError(
            f"{kb.path}: kb rebuild fills an empty knowledge base, and this one holds "
            f"{len(present)} item(s); give a new --kb DIR"
        )
    paths = collect_logs(logs)
    dated = sorted((int(EpisodeLogReader(p).meta.get("start_time_ns") or 0), str(p)) for p in paths)
    report: dict[str, Any] = {"logs": len(paths), "episodes": 0, "added": 0, "skipped": [], "items": []}
    for _t, p in dated:
        result, objects, mode = episode_from_log(p)
        if mode == "no-memory":
            report["skipped"].append(f"{p}: run without memory")
            continue
        report["episodes"] += 1
        for d in distill_episode(result, objects, mode=mode):
            stored = kb.add(KnowledgeItem.from_dict(d))
            report["added"] += 1
            report["items"].append({"id": stored.id, "kind": stored.kind, "rule": stored.rule, "log": p})
    report["active"] = len(kb.list())
    return report


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``kb`` command family to the ``robot-agent`` parser."""
    kb = sub.add_parser(
        "kb",
        help="inspect and edit the knowledge base",
        description="List, search, edit, delete, export and import distilled knowledge.",
    )
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND")
    kb_sub.required = True

    def common(name: str, help_: str, description: str) -> argparse.ArgumentParser:
        p = kb_sub.add_parser(name, help=help_, description=description)
        p.add_argument("--kb", metavar="DIR", help="knowledge base directory (default: memory.kb_dir from config)")
        p.add_argument("--params", metavar="YAML", help="parameter file (default: config/agent.yaml)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=_cmd)
        return p

    p = common("list", "list items", "List knowledge items, most recently updated first.")
    p.add_argument("--kind", choices=("plan", "skill", "phrase"), help="only this kind")
    p.add_argument("--skill", help="only items of this skill")
    p.add_argument("--category", help="only items about this object category")
    p.add_argument("--all", action="store_true", help="include superseded items (history)")
    p = common("show", "show one item", "Show one item in full, with its provenance.")
    p.add_argument("id")
    p = common("search", "search by meaning", "Semantic search over active items (no threshold).")
    p.add_argument("text")
    p.add_argument("-k", type=int, default=10, help="how many results (default 10)")
    p.add_argument("--kind", choices=("plan", "skill", "phrase"), help="only this kind")
    p = common(
        "edit",
        "edit an item",
        "Change an item's rule, scope, parameters or provenance, without prompts. "
        'Values are JSON (0.3, [0, 0.01, 0], "text") or plain text.',
    )
    p.add_argument("id")
    p.add_argument("--rule", help="new rule text")
    p.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="set rule, scope.KEY, parameters.KEY or provenance.KEY (a bare KEY is a parameter); repeatable",
    )
    p.add_argument("--unset", action="append", metavar="FIELD", help="remove scope.KEY, parameters.KEY ...; repeatable")
    p = common("delete", "delete an item", "Delete one item for good (what it superseded stays superseded).")
    p.add_argument("id")
    p = common(
        "restore",
        "make a retired or demoted item active",
        "Undo a retirement: an item retired (or demoted) after the operator corrected its decisions is "
        "retrieved and applied again; its counts stay.",
    )
    p.add_argument("id")
    p = common("export", "export to a file", "Export every item, history included, with its embeddings (JSON lines).")
    p.add_argument("file")
    p = common("import", "import a file", "Import an export file as it is, all or nothing.")
    p.add_argument("file")
    common("stats", "counts, models and indexes", "Counts, models, index sizes and kinds.")
    p = common(
        "rebuild",
        "re-distil knowledge from episode logs",
        "Recreate a knowledge base from episode logs alone: every logged episode (oldest first) is "
        "distilled again and merged as the agent did after the task. The --kb directory must be new or empty.",
    )
    p.add_argument("--logs", nargs="+", required=True, metavar="DIR", help="episode logs, or directories holding them")
    common(
        "migrate",
        "upgrade an old store",
        "Migrate a knowledge base made by an older robot_agent (needs the writer lock).",
    )
