"""``robot-agent kb``: list, show, search, edit, delete, export, import and inspect the knowledge base."""

from __future__ import annotations

import argparse
import json
from typing import Any


def _open(args: argparse.Namespace, read_only: bool = True) -> Any:
    from memory import open_knowledge_base
    from robot_agent.config import AgentConfig

    cfg = AgentConfig.load(args.params) if getattr(args, "params", None) else AgentConfig.load()
    if args.kb:
        cfg.memory.kb_dir = args.kb
    return open_knowledge_base(cfg.memory, read_only=read_only)


def _row(item: Any, score: float | None = None) -> str:
    sc = f"{score:5.2f} " if score is not None else ""
    scope = item.scope.get("skill") or item.scope.get("task_family", "")
    cat = item.scope.get("object_category") or ",".join(item.scope.get("object_categories") or [])
    sup = f" (superseded by {item.superseded_by})" if item.superseded_by else ""
    return f"{sc}{item.id:<12} {item.kind:<5} {scope[:18]:<18} {cat[:10]:<10} {item.use_count:>4} " \
           f"{item.success_count:>4}  {item.rule}{sup}"


HEADER = f"{'id':<12} {'kind':<5} {'scope':<18} {'category':<10} {'used':>4} {'ok':>4}  rule"


def _cmd(args: argparse.Namespace) -> int:
    action = args.kb_command
    if action in ("list", "show", "search", "export", "stats"):
        kb = _open(args, read_only=True)
    else:
        kb = _open(args, read_only=False)
    try:
        if action == "list":
            items = kb.list(kind=args.kind, skill=args.skill, include_superseded=args.all)
            if args.json:
                print(json.dumps([i.to_dict() for i in items]))
            else:
                print(HEADER)
                for i in items:
                    print(_row(i))
                print(f"{len(items)} item(s)")
        elif action == "show":
            item = kb.get(args.id)
            print(json.dumps(item.to_dict(), indent=None if args.json else 2))
        elif action == "search":
            hits = kb.search(args.text, k=args.k)
            if args.json:
                print(json.dumps([{"score": round(s, 4), **i.to_dict()} for i, s in hits]))
            else:
                print("score " + HEADER)
                for i, s in hits:
                    print(_row(i, s))
        elif action == "edit":
            fields: dict[str, Any] = {}
            if args.rule is not None:
                fields["rule"] = args.rule
            for kv in args.set or []:
                if "=" not in kv:
                    raise ValueError(f"--set expects NAME=VALUE (VALUE in JSON), got {kv!r}")
                k, v = kv.split("=", 1)
                try:
                    value = json.loads(v)
                except json.JSONDecodeError:
                    value = v
                item = kb.get(args.id)
                fields.setdefault("parameters", dict(item.parameters))[k] = value
            if not fields:
                raise ValueError("nothing to change: give --rule TEXT and/or --set NAME=VALUE")
            item = kb.update(args.id, **fields)
            print(json.dumps(item.to_dict()) if args.json else f"updated {item.id}: {item.rule}")
        elif action == "delete":
            kb.delete(args.id)
            print(json.dumps({"deleted": args.id}) if args.json else f"deleted {args.id}")
        elif action == "export":
            n = kb.export(args.file)
            print(json.dumps({"exported": n, "file": args.file}) if args.json else f"exported {n} item(s) to {args.file}")
        elif action == "import":
            n = kb.import_file(args.file)
            print(json.dumps({"imported": n}) if args.json else f"imported {n} item(s) from {args.file}")
        elif action == "stats":
            st = kb.stats()
            print(json.dumps(st) if args.json else "\n".join(f"{k}: {v}" for k, v in st.items()))
    finally:
        kb.close()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    kb = sub.add_parser("kb", help="inspect and edit the knowledge base",
                        description="List, search, edit, delete, export and import distilled knowledge.")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND")
    kb_sub.required = True

    def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--kb", help="knowledge base directory (default: memory.kb_dir from config)")
        p.add_argument("--params", help="parameter YAML (default: config/agent.yaml)")
        p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=_cmd)
        return p

    p = common(kb_sub.add_parser("list", help="list items", description="List knowledge items, newest first."))
    p.add_argument("--kind", choices=("plan", "skill"))
    p.add_argument("--skill", help="only items of this skill")
    p.add_argument("--all", action="store_true", help="include superseded items")
    p = common(kb_sub.add_parser("show", help="show one item", description="Show one item in full."))
    p.add_argument("id")
    p = common(kb_sub.add_parser("search", help="search by text", description="Semantic search over items."))
    p.add_argument("text")
    p.add_argument("-k", type=int, default=10, help="how many results")
    p = common(kb_sub.add_parser("edit", help="edit an item", description="Change an item's rule or parameters."))
    p.add_argument("id")
    p.add_argument("--rule", help="new rule text")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="set a parameter (VALUE as JSON)")
    p = common(kb_sub.add_parser("delete", help="delete an item", description="Delete one item."))
    p.add_argument("id")
    p = common(kb_sub.add_parser("export", help="export to a file", description="Export every item with its "
                                                                                   "embeddings (JSON lines)."))
    p.add_argument("file")
    p = common(kb_sub.add_parser("import", help="import a file", description="Import an export file, all or "
                                                                                "nothing."))
    p.add_argument("file")
    common(kb_sub.add_parser("stats", help="counts and models", description="Counts, models and index sizes."))
