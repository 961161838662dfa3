"""A readable transcript of an episode: plans, steps, corrections and how they were understood,
the robot's questions, knowledge used and distilled (``robot-agent run`` and ``demo`` print it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _fmt_call(c: dict[str, Any]) -> str:
    args = ", ".join(c.get("args", {}).values())
    return f"{c['skill']}({args})"


def transcript_printer(out: Callable[[str], None] = print) -> Callable[[dict[str, Any]], None]:
    """An event callback that prints a readable transcript."""

    def on_event(e: dict[str, Any]) -> None:
        t = e.get("type")
        if t == "plan":
            head = "replan" if e.get("replanned") else "plan"
            out(f"  {head}: " + " -> ".join(_fmt_call(c) for c in e["plan"]))
        elif t == "status" and e.get("state") == "executing":
            out(f"  step {e.get('step', 0) + 1}: {_fmt_call(e['skill'])}")
        elif t == "skill_result" and e["status"] != "succeeded":
            out(f"    -> {e['status']}: {e['reason']}")
        elif t == "understood":
            out(f'  operator ({e["source"]}): "{e["text"]}"\n    understood as {e["summary"]} [{e["outcome"]}]')
            if e.get("question"):
                out(f"    robot asks: {e['question']}")
        elif t == "task_understood":
            if e.get("decision") == "act":
                out(f"  task understood as: {e.get('goal')} ({e.get('source')}, confidence {e.get('confidence')})")
            elif e.get("answer_to"):
                out(f'  answer: "{e.get("text")}" -> {e.get("decision")}')
        elif t == "question" and e.get("about") == "task":
            out(f"  robot asks: {e.get('question')}")
        elif t == "knowledge":
            if e.get("event") == "used":
                what = e.get("decision") or (f"{e.get('skill')}({e.get('object')})" if e.get("skill") else "plan")
                note = f"; {e['reason']}" if e.get("reason") else ""
                out(f"  knowledge used for {what}: {e.get('rule')} (score {e.get('score')}{note})")
            elif e.get("event") in ("overridden", "irrelevant", "hint"):
                out(f"  knowledge {e['event']}: {e.get('rule')} (score {e.get('score')}): {e.get('reason')}")
            elif e.get("event") == "corrected":
                out(f"  knowledge corrected: {e.get('rule')}: {e.get('reason')}")
            elif e.get("event") == "distilled":
                out(f"  knowledge distilled: [{e.get('kind')}] {e.get('rule')}")
            elif e.get("event") == "error":
                out(f"  knowledge base error: {e.get('error')}")
        elif t == "dropped":
            out(f"  dropped: {e.get('text')} ({e.get('reason')})")

    return on_event
