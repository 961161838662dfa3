"""Distillation: an episode's corrections become generalizable knowledge items.

Two kinds come out (DROC's plan-level / skill-level split):

* **plan** items: a plan-level correction ("open the drawer first") becomes a constraint
  in which object *names* are replaced by *categories* (``cabinet``), so it applies to
  any instance; :func:`ground_constraint` maps it back onto a new scene's objects.
  The rule text says it in words ("open the cabinet before placing something in the
  cabinet").
* **skill** items: a skill-level correction ("grasp it by the handle", "pull harder")
  becomes the *final* parameter values of the call it corrected, taken from the
  successful execution after the correction, restricted to the parameters the
  corrections changed. Object-relative values (grasp offsets, pull axes) are already in
  the object's frame, so they transfer to the same kind of object anywhere. The item is
  scoped to the skill and the object's category, and described by the object's
  appearance for text and visual retrieval.

In ``raw-memory`` mode (a benchmark baseline) the raw correction texts are stored as
plan items with no distillation at all.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping
from typing import Any

from robot_agent.applicability import describe as describe_applicability
from robot_agent.policy.goals import parse_goal
from skills.library import CONTAINERS as CONTAINER_CATEGORIES
from skills.params import default_params, format_value
from skills.types import ObjectInfo

NAME_KEYS = ("object", "target", "destination")


def generalize_constraint(constraint: Mapping[str, Any], objects: Mapping[str, ObjectInfo]) -> dict[str, Any]:
    """Replace scene object names by their categories, recursively (keeps the names as ``instances``).

    When the scene held several objects of that category, the category alone did not say
    which one was meant ("the blue bin" of two bins), so the object's colour is kept as
    ``<key>_color`` and a new scene's object of the same category and colour is chosen.
    """
    per_category: dict[str, int] = {}
    for o in objects.values():
        per_category[o.category] = per_category.get(o.category, 0) + 1

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            out: dict[str, Any] = {}
            for k, v in node.items():
                if v is None:
                    continue  # unset roles say nothing
                if k in NAME_KEYS and isinstance(v, str) and v in objects:
                    out[f"{k}_category"] = objects[v].category
                    if per_category.get(objects[v].category, 0) > 1 and objects[v].color:
                        out[f"{k}_color"] = objects[v].color
                    out.setdefault("instances", {})[k] = v
                elif k == "description":
                    continue  # the operator's words for this instance: kept in provenance
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(constraint)


def ground_constraint(generic: Mapping[str, Any], objects: Mapping[str, ObjectInfo]) -> dict[str, Any] | None:
    """Map a generalized constraint onto a scene: each ``<key>_category`` becomes the name of the
    scene's object of that category (the one named before, if present). None if a category is absent."""
    by_cat: dict[str, list[str]] = {}
    for name, o in objects.items():
        by_cat.setdefault(o.category, []).append(name)

    def walk(node: Any) -> Any:
        if isinstance(node, Mapping):
            out: dict[str, Any] = {}
            inst = node.get("instances", {}) if isinstance(node.get("instances"), Mapping) else {}
            for k, v in node.items():
                if k == "instances":
                    continue
                if k.endswith("_color") and k[: -len("_color")] in NAME_KEYS:
                    continue  # used with its category below
                if k.endswith("_category") and k[: -len("_category")] in NAME_KEYS:
                    base = k[: -len("_category")]
                    names = by_cat.get(v, [])
                    color = node.get(f"{base}_color")
                    if color:
                        names = [n for n in names if objects[n].color == color]
                    if not names:
                        raise LookupError(v)
                    out[base] = inst.get(base) if inst.get(base) in names else sorted(names)[0]
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    try:
        return walk(generic)
    except LookupError:
        return None


def _words(cat: str) -> str:
    return cat.replace("_", " ")


def rule_text(generic: Mapping[str, Any]) -> str:
    """A plain-language rule for a generalized constraint."""
    t = generic.get("type")

    def call(c: Mapping[str, Any] | None) -> str:
        if not c:
            return "the next step"
        what = c.get("skill", "act")
        if c.get("target_category") and what == "place":
            return f"placing something in or on the {_words(c['target_category'])}"
        if c.get("object_category"):
            return f"{what} the {_words(c['object_category'])}"
        return what

    if t == "order":
        return f"{call(generic.get('first'))} before {call(generic.get('then'))}"
    if t == "target":
        dest = generic.get("destination_category") or generic.get("target_category")
        obj = generic.get("object_category")
        if obj and dest:
            return f"put the {_words(obj)} {generic.get('relation') or 'in'} the {_words(dest)}"
        if dest:
            return f"use the {_words(dest)} as the destination"
        if obj:
            return f"use the {_words(obj)}"
    if t == "preference":
        sel = " ".join(str(v) for v in dict(generic.get("selector") or {}).values()) or "objects"
        tgt = generic.get("target_category") or generic.get("target") or generic.get("target_description")
        if generic.get("target_category") and generic.get("target_color"):
            tgt = f"{generic['target_color']} {tgt}"
        return f"{sel} go {generic.get('relation', 'in')} the {_words(str(tgt))}"
    if t == "stack":
        if generic.get("bottom"):
            return f"stack with the {generic['bottom']} at the bottom"
        return f"the {_words(str(generic.get('object_category') or 'object'))} goes at the {generic.get('position')}"
    if t == "avoid":
        obj = generic.get("object")
        if isinstance(obj, Mapping):  # a kind ("the glasses"): the ref that finds them all
            obj = obj.get("text") or obj.get("category")
        return f"keep away from the {_words(str(generic.get('object_category') or obj))}"
    return str(generic.get("text") or generic)


def skill_object_description(skill: str, args: Mapping[str, str], objects: Mapping[str, ObjectInfo]) -> str:
    """How a skill item's object is described for retrieval: the object, and for ``place`` its target.

    Placing knowledge depends on where the object goes as much as on the object (release
    low on a plate, at the left side of a shelf), so "place the mug onto the shelf" and
    "place the mug onto the plate" must not find each other's items at the same score.
    """
    obj = objects.get(args.get("object", ""))
    if obj is None:
        return ""
    text = obj.description()
    tgt = objects.get(args.get("target", "")) if skill == "place" else None
    if tgt is not None:
        text = f"{text} onto the {tgt.description()}"
    return text


def _task_family(task: str) -> str:
    words = re.findall(r"[a-z]+", task.lower())
    return " ".join(w for w in words if w not in {"the", "a", "an", "please", "it", "to", "of"})[:80]


def task_queries(task: str, objects: Mapping[str, ObjectInfo]) -> list[str]:
    """Texts plan knowledge is retrieved by: the task as said, and the task in categories.

    Operators phrase the same task many ways ("could you put the purple block into the
    drawer", "store the orange cube in the cabinet"), and a rule learned on one phrasing scored
    under ``memory.plan_threshold`` on another. The grounded goal, written with the objects'
    categories ("put the block in the cabinet"), is the same for all of them; retrieval takes
    the better of the two scores per item. Tasks the goal parser does not understand (or
    that name something absent) are retrieved by their words alone.

    Args:
        task: the operator's task sentence.
        objects: the perceived scene.

    Returns:
        The task, then the category form when it differs.
    """
    out = [task]
    try:
        goal = parse_goal(task, list(objects.values()))
    except Exception:  # noqa: BLE001 - an ungroundable task is the planner's error to report, not retrieval's
        return out
    phrases = []
    for atom in goal.atoms if goal is not None else []:
        cats = [objects[n].category for n in atom.objects if n in objects]
        if not cats:
            continue
        if atom.kind == "at":
            tgts = [objects[n] for n in atom.targets if n in objects]
            if tgts:
                prep = "in" if tgts[0].category in CONTAINER_CATEGORIES else "on"
                phrases.append(f"put the {cats[0]} {prep} the {tgts[0].category}")
        elif atom.kind == "drawer":
            phrases.append(f"{'open' if atom.open else 'close'} the {cats[0]}")
        elif atom.kind == "holding":
            phrases.append(f"pick up the {cats[0]}")
        elif atom.kind == "pushed":
            phrases.append(f"push the {cats[0]}")
    canon = " and ".join(dict.fromkeys(phrases))
    if canon and canon != task.strip().lower():
        out.append(canon)
    return out


def distill_episode(result: Any, objects: Mapping[str, ObjectInfo], mode: str = "full") -> list[dict[str, Any]]:
    """Knowledge items (as plain dicts ready for :class:`memory.KnowledgeItem`) from one episode.

    Args:
        result: the :class:`robot_agent.episode.EpisodeResult`.
        objects: the scene objects (for categories and descriptions).
        mode: the agent's memory mode; ``raw-memory`` stores raw correction texts.

    Returns:
        A list of dicts with ``kind``, ``rule``, ``scope``, ``parameters``, ``provenance``.
    """
    now = time.time()
    acted = [c for c in result.corrections if c.outcome in ("replanned", "applied")]
    corrections = [c for c in acted if trusted(c, result)]
    if not corrections:
        return []
    if mode == "raw-memory":
        return [
            {
                "kind": "plan",
                "rule": c.text,
                "scope": {"task_family": _task_family(result.task), "raw": True},
                "parameters": {"raw_text": c.text},
                "provenance": {"episode_ids": [result.episode_id], "corrections": [c.text], "timestamps": [now]},
            }
            for c in corrections
        ]
    items: list[dict[str, Any]] = []
    seen_rules: set[str] = set()
    for c in corrections:
        if c.outcome != "replanned":
            continue
        plan = c.understood.get("plan")
        if not isinstance(plan, Mapping):
            continue
        generic = generalize_constraint(plan, objects)
        rule = rule_text(generic)
        conf = _confidence(c)
        if rule in seen_rules:
            continue
        seen_rules.add(rule)
        cats = sorted({v for k, v in _flatten(generic) if k.endswith("_category")})
        items.append(
            {
                "kind": "plan",
                "rule": rule,
                "scope": {
                    "task_family": _task_family(result.task),
                    "object_categories": cats,
                    **describe_applicability("plan", generic, [c.text]),
                },
                "parameters": {"constraint": generic},
                "provenance": {
                    "episode_ids": [result.episode_id],
                    "corrections": [c.text],
                    "timestamps": [now],
                    "task": result.task,
                    "confidences": [conf],
                    "understood_by": [c.understood.get("understood_by", "grammar")],
                },
            }
        )
    # Skill knowledge: per (skill, object) the parameters corrections changed, at their final successful values.
    changed: dict[tuple[str, str], dict[str, Any]] = {}
    for c in corrections:
        if c.outcome != "applied" or not c.call:
            continue
        skill = c.understood.get("skill") or c.call["skill"]
        obj = c.call["args"].get("object", "")
        entry = changed.setdefault(
            (skill, obj), {"names": set(), "texts": [], "args": dict(c.call["args"]), "confidences": []}
        )
        entry["names"].update(dict(c.understood.get("parameters") or {}).keys())
        entry["texts"].append(c.text)
        entry["confidences"].append(_confidence(c))
    for (skill, obj), entry in changed.items():
        final = None
        for step in reversed(result.steps):
            if (
                step.call["skill"] == skill
                and step.call["args"].get("object", "") == obj
                and step.status == "succeeded"
            ):
                final = step.facts.get("params", step.call.get("params"))
                break
        if final is None or obj not in objects or not entry["names"]:
            continue
        defaults = default_params(skill)
        params = {
            n: copy.deepcopy(final[n]) for n in sorted(entry["names"]) if n in final and final[n] != defaults.get(n)
        }
        if not params:
            continue
        o = objects[obj]
        rule = f"{skill} the {o.category}: " + ", ".join(f"{k}={format_value(v)}" for k, v in params.items())
        items.append(
            {
                "kind": "skill",
                "rule": rule,
                "scope": {
                    "skill": skill,
                    "object_category": o.category,
                    "object_description": skill_object_description(skill, entry["args"], objects) or o.description(),
                    "object_name": obj,
                    "task_family": _task_family(result.task),
                    **describe_applicability("skill", None, entry["texts"]),
                },
                "parameters": params,
                "provenance": {
                    "episode_ids": [result.episode_id],
                    "corrections": entry["texts"],
                    "timestamps": [now],
                    "task": result.task,
                    "confidences": entry["confidences"],
                },
            }
        )
    return items


#: a correction understood at least this surely is distilled without further evidence
DISTILL_CONFIDENCE = 0.8


def _confidence(c: Any) -> float:
    try:
        return round(float(c.understood.get("confidence", 1.0)), 3)
    except (TypeError, ValueError):
        return 0.0


def _about(c: Any) -> tuple[Any, ...]:
    """What a correction is about: its kind (and plan type) and the call it was said during."""
    call = c.call or {}
    plan = c.understood.get("plan") if isinstance(c.understood.get("plan"), Mapping) else {}
    return (c.understood.get("kind"), plan.get("type"), call.get("skill"), call.get("args", {}).get("object"))


def _same_thing(a: Any, b: Any) -> bool:
    """Two corrections of one call about the same thing: the same plan-level change, or a
    skill-level change of a parameter both touch ("slower" then "place it lower" are two things)."""
    if _about(a)[:2] != _about(b)[:2]:
        return False
    if _about(a)[0] != "skill":
        return True
    pa, pb = set(a.understood.get("parameters") or {}), set(b.understood.get("parameters") or {})
    if pa or pb:
        return bool(pa & pb)
    return a.understood.get("delta_m") is not None and b.understood.get("delta_m") is not None


def trusted(c: Any, result: Any) -> bool:
    """May this acted-on correction become knowledge?

    Yes when it was an answer to the robot's own question, or confirmed afterwards, or
    understood surely (:data:`DISTILL_CONFIDENCE`), or followed by progress: no further
    correction of the same thing before a step succeeded. A correction the operator had to
    follow at once with another about the same thing was not what they meant (a misreading,
    or not enough): the later one is what is learned. An unsure reading followed by any other
    correction during the same call is not learned either.
    """
    later = [x for x in result.corrections if x.received_at > c.received_at]
    if c.understood.get("understood_by") == "answer":
        return True
    if any(x.understood.get("kind") == "confirm" for x in later):
        return True
    unsure = _confidence(c) < DISTILL_CONFIDENCE
    for x in later:
        if x.outcome not in ("replanned", "applied") or _about(x)[2:] != _about(c)[2:]:
            continue
        progressed = any(s.status == "succeeded" and c.received_at < s.ended_at <= x.received_at for s in result.steps)
        if not progressed and (unsure or _same_thing(c, x)):
            return False
    if _confidence(c) >= DISTILL_CONFIDENCE:
        return True
    return bool(getattr(result, "success", False))


def _flatten(node: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    if isinstance(node, Mapping):
        for k, v in node.items():
            if isinstance(v, (Mapping, list)):
                out.extend(_flatten(v, k))
            else:
                out.append((k, v))
    elif isinstance(node, list):
        for v in node:
            out.extend(_flatten(v, prefix))
    return out
