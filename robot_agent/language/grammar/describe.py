"""One readable line for a move, a parameter change or a plan constraint."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from skills.params import format_value

_AXES = (("forward", "back"), ("left", "right"), ("up", "down"))


def _fmt_len(m: float) -> str:
    a = abs(m)
    if a >= 1.0:
        return f"{a:.2f} m"
    if a < 0.01:
        return f"{a * 1000:.1f} mm"
    return f"{a * 100:.1f} cm"


def describe_delta(delta: Sequence[float]) -> str:
    """``[0, 0.02, 0]`` -> ``"2.0 cm left"`` (base-frame words: +x forward, +y left, +z up)."""
    words = [f"{_fmt_len(v)} {_AXES[i][0] if v > 0 else _AXES[i][1]}" for i, v in enumerate(delta) if abs(v) >= 5e-5]
    vec = ", ".join(f"{v:+.3f}" for v in delta)
    return f"{' + '.join(words) or 'nothing'} [base frame: {vec}] m"


def _fmt_value(v: Any) -> str:
    return format_value(v, digits=4)


def _describe_change(name: str, change: Mapping[str, Any]) -> str:
    ((op, value),) = change.items() if len(change) == 1 else (("?", change),)
    sym = {"set": "=", "add": "+=", "scale": "x="}.get(op, op)
    return f"{name} {sym} {_fmt_value(value)}"


def _describe_call(call: Mapping[str, Any] | None) -> str:
    if not call:
        return "the remaining steps"
    args = [
        a
        for a in (
            call.get("object") or call.get("object_description"),
            call.get("target") or call.get("target_description"),
        )
        if a
    ]
    return f"{call.get('skill') or 'handle'}({', '.join(args)})"


def describe_plan(plan: Mapping[str, Any]) -> str:
    """One line for a plan constraint."""
    t = plan.get("type")
    if t == "order":
        return f"order: {_describe_call(plan.get('first'))} before {_describe_call(plan.get('then'))}"
    if t == "step":
        return f"missing step: {_describe_call(plan.get('call'))} ({plan.get('position', 'next')})"
    if t == "target":
        obj = plan.get("object") or plan.get("description") or "it"
        dest = plan.get("destination") or plan.get("description")
        old = f" instead of {plan['replaces']}" if plan.get("replaces") else ""
        if plan.get("role") == "both":
            return f"target: put {plan.get('object') or 'it'} {plan.get('relation') or 'on'} {dest}"
        if plan.get("role") == "destination":
            return f"target: put it {plan.get('relation') or 'on'} {dest}{old}"
        return f"target: use {obj}{old}"
    if t == "preference":
        sel = " ".join(f"{k}={v}" for k, v in dict(plan.get("selector") or {}).items())
        tgt = plan.get("target") or plan.get("target_category") or plan.get("target_description")
        return f"preference: {sel or 'objects'} go {plan.get('relation', 'in')} {tgt}"
    if t == "avoid":
        obj = plan.get("object")
        if isinstance(obj, dict):  # a kind ("the glasses"): every object it finds
            return f"keep away from all the {obj.get('text') or obj.get('category')}"
        return f"keep away from {obj or plan.get('description')}"
    if t == "forbid":
        return f"do not {_describe_call(plan.get('call'))}"
    if t == "retry":
        return f"retry {_describe_call(plan.get('call'))}"
    if t == "sort":
        return f"sort by {plan.get('key')}"
    if t == "stack":
        if plan.get("key"):
            return f"stack with the {plan.get('bottom')} at the bottom"
        return f"stack {plan.get('object') or plan.get('description')} at the {plan.get('position')}"
    return f"constraint: {plan.get('text', '')}"
