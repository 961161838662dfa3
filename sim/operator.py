"""The simulated operator: watches the robot, and corrects it when it breaks a hidden requirement.

It sees what a person next to the robot sees: which skill starts on which objects and
how (the approach: grasp region, speed, heights: what the motion shows), the outcome
of each skill, and the final scene. It knows the scenario's hidden requirements,
which the agent never sees. When a call would break one, it says a correction
drawn with a seeded random choice from a phrase bank (several phrasings each).

The agent must not import this module: tests check it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

import numpy as np

from sim.scenario import Scenario
from skills.result import SkillResult
from skills.types import ObjectInfo

#: spoken names of categories (what a person calls them)
SPOKEN = {"cabinet": "drawer", "mug": "mug", "glass": "glass", "block": "block", "fruit": "fruit",
          "bowl": "bowl", "plate": "plate", "tray": "tray", "shelf": "shelf"}

PHRASES: dict[str, list[str]] = {
    "order_open": ["open the {first} first", "you need to open the {first} before putting it in",
                   "first open the {first}", "the {first} is closed, open it first"],
    "order": ["{first_skill} the {first} first", "first {first_skill} the {first}",
              "you have to {first_skill} the {first} before that"],
    "grasp_region": ["grasp it by the {region}", "pick it up by the {region}", "hold it by its {region}",
                     "use the {region}"],
    "max_speed": ["slower", "slow down", "go slower please", "more slowly"],
    "max_place_height": ["place it lower", "lower before you let go", "set it down lower", "put it down lower"],
    "min_pull_distance": ["pull it further", "pull harder", "pull it out more", "open it further"],
    "target": ["{category} goes in the {target}", "no, put the {noun} in the {target}",
               "the {category} belongs in the {target}"],
    "target_on": ["{category} goes on the {target}", "no, put the {noun} on the {target}"],
    "target_color": ["{color} {plural} go in the {target}", "{color} {plural} belong in the {target}",
                     "always put {color} {plural} in the {target}"],
    "target_color_on": ["{color} {plural} go on the {target}", "always put {color} {plural} on the {target}"],
    "stack_largest": ["the biggest {noun} goes at the bottom", "bigger {plural} go at the bottom",
                      "put the big one at the bottom", "the small {noun} goes on top"],
    "stack_smallest": ["the smallest {noun} goes at the bottom", "smaller {plural} go at the bottom"],
    "near": ["more to the {dir}", "put it more to the {dir}", "further {dir}", "place it further to the {dir}"],
    "near_small": ["a bit more to the {dir}", "a little further {dir}"],
    "avoid": ["don't go over the {obj}", "keep away from the {obj}", "avoid passing over the {obj}"],
    "retry": ["that didn't work, try again"],
}


class CallLike(Protocol):
    skill: str
    args: Mapping[str, str]
    params: Mapping[str, Any]


@dataclass
class Utterance:
    """What the operator says, and why (the why is for logs and tests, never for the agent)."""

    text: str
    requirement: dict[str, Any]
    when: str  # "before" | "after" | "end"


def _matches(req_obj: Mapping[str, Any], name: str | None, objects: Mapping[str, ObjectInfo]) -> bool:
    if name is None:
        return False
    if "object" in req_obj:
        return req_obj["object"] == name
    if "color" in req_obj and (name not in objects or objects[name].color != req_obj["color"]):
        return False
    if "category" in req_obj:
        return name in objects and objects[name].category == req_obj["category"]
    return True


def _area(o: ObjectInfo) -> float:
    return float(o.size[0] * o.size[1])


def _near_direction(err_target: Sequence[float], target: ObjectInfo) -> str:
    """The operator's word for the main horizontal direction of an error given in the target's frame.

    The operator stands behind the robot (the parser's default frame): +x of the base is
    "forward", +y "left".
    """
    c, s_ = np.cos(target.pose.yaw), np.sin(target.pose.yaw)
    ex, ey = c * err_target[0] - s_ * err_target[1], s_ * err_target[0] + c * err_target[1]
    if abs(ey) >= abs(ex):
        return "left" if ey > 0 else "right"
    return "forward" if ex > 0 else "back"


class SimulatedOperator:
    """Corrects the robot per a scenario's hidden requirements.

    Args:
        scenario: the scenario (its hidden block is read here only).
        seed: seeds the phrase choice.
        cap: the most corrections per task; past it the operator gives up (the task fails).
    """

    def __init__(self, scenario: Scenario, seed: int = 0, cap: int = 8) -> None:
        self.scenario = scenario
        self.rng = random.Random(seed)
        self.cap = cap
        self.said: list[Utterance] = []
        self.done: list[tuple[str, dict[str, str]]] = []  # succeeded calls

    @property
    def exhausted(self) -> bool:
        return len(self.said) >= self.cap

    def _say(self, key: str, req: dict[str, Any], when: str, **kw: str) -> Utterance:
        text = self.rng.choice(PHRASES[key]).format(**kw)
        u = Utterance(text, req, when)
        self.said.append(u)
        return u

    def _described(self, name: str, objects: Mapping[str, ObjectInfo]) -> str:
        """``blue tray`` when the scene has several trays, else ``tray``."""
        o = objects.get(name)
        if o is None:
            return name.replace("_", " ")
        noun = SPOKEN.get(o.category, o.category)
        twins = sum(1 for x in objects.values() if x.category == o.category)
        return f"{o.color} {noun}" if twins > 1 and o.color else noun

    def _noun(self, name: str, objects: Mapping[str, ObjectInfo]) -> str:
        o = objects.get(name)
        return SPOKEN.get(o.category, o.category) if o else name.replace("_", " ")

    # -- watching ------------------------------------------------------------------------
    def before_call(self, call: CallLike, objects: Mapping[str, ObjectInfo]) -> Utterance | None:
        """Called as a skill starts: the operator sees which skill, on what, and how it moves."""
        if self.exhausted:
            return None
        obj = call.args.get("object")
        target = call.args.get("target")
        for req in self.scenario.requirements:
            t = req["type"]
            if t == "order":
                then, first = req["then"], req["first"]
                if call.skill != then.get("skill"):
                    continue
                if not all(call.args.get(k) == v for k, v in then.items() if k in ("object", "target")):
                    continue
                if (first["skill"], {"object": first["object"]}) in [(s, {"object": a.get("object")})
                                                                    for s, a in self.done]:
                    continue
                key = "order_open" if first["skill"] == "open" else "order"
                return self._say(key, req, "before", first=self._noun(first["object"], objects),
                                 first_skill=first["skill"])
            if t == "target" and call.skill == "place" and _matches(req, obj, objects) and target != req["target"]:
                inside = objects[req["target"]].category in ("bowl", "tray", "cabinet")
                cat = req.get("category") or self._noun(obj, objects)
                if "color" in req:
                    # A rule by colour: the destination is named by its colour when it has look-alikes.
                    return self._say("target_color" if inside else "target_color_on", req, "before",
                                     color=req["color"], plural=f"{SPOKEN.get(cat, cat)}s",
                                     target=self._described(req["target"], objects))
                return self._say("target" if inside else "target_on", req, "before", category=cat,
                                 noun=self._noun(obj, objects), target=self._noun(req["target"], objects))
            if (t == "stack" and call.skill == "place" and _matches(req, obj, objects)
                    and _matches(req, target, objects)):
                a, b = objects[obj], objects[target]
                wrong = _area(b) < _area(a) if req["bottom"] == "largest" else _area(b) > _area(a)
                if wrong:
                    noun = self._noun(obj, objects)
                    return self._say(f"stack_{req['bottom']}", req, "before", noun=noun, plural=f"{noun}s")
            if t == "param_near" and call.skill == req.get("skill") and _matches(req, obj, objects):
                value = call.params.get(req["param"])
                if value is None or target not in objects:
                    continue
                err = np.asarray(req["value"], float) - np.asarray(value, float)
                if np.linalg.norm(err[:2]) > req["tolerance"]:
                    ref = objects[target] if req.get("frame") == "target" else None
                    direction = _near_direction(err, ref) if ref is not None else (
                        ("left" if err[1] > 0 else "right") if abs(err[1]) >= abs(err[0]) else
                        ("forward" if err[0] > 0 else "back"))
                    key = "near_small" if np.linalg.norm(err[:2]) < 2 * req["tolerance"] else "near"
                    return self._say(key, req, "before", dir=direction)
            if t == "grasp_region" and call.skill == "pick" and _matches(req, obj, objects):
                if call.params.get("grasp_region") != req["region"]:
                    return self._say("grasp_region", req, "before", region=req["region"])
            if t in ("param_max", "param_min") and call.skill == req.get("skill"):
                who = target if req.get("role") == "target" else obj
                if req.get("role") != "target" and not _matches(req, who, objects):
                    if not (call.skill == "place" and _matches(req, obj, objects)):
                        continue
                value = call.params.get(req["param"])
                if value is None:
                    continue
                bad = value > req["value"] + 1e-9 if t == "param_max" else value < req["value"] - 1e-9
                if bad:
                    key = {("param_max", "speed"): "max_speed", ("param_max", "place_height"): "max_place_height",
                           ("param_min", "pull_distance"): "min_pull_distance"}.get((t, req["param"]))
                    if key:
                        return self._say(key, req, "before")
        return None

    def after_call(self, call: CallLike, result: SkillResult, objects: Mapping[str, ObjectInfo]) -> Utterance | None:
        """Called when a skill ends: the operator sees the outcome and the path it took."""
        if result.ok:
            self.done.append((call.skill, dict(call.args)))
        if self.exhausted:
            return None
        for req in self.scenario.requirements:
            if req["type"] == "avoid" and req["object"] in objects:
                o = objects[req["object"]]
                half = np.array(o.size[:2]) / 2 + req.get("margin", 0.03)
                for p in result.facts.get("path", []):
                    if np.all(np.abs(o.pose.to_local(p)[:2]) <= half):
                        return self._say("avoid", req, "after", obj=self._noun(o.name, objects))
        return None

    def corrections(self) -> int:
        return len(self.said)


def check_success(scenario: Scenario, objects: Mapping[str, ObjectInfo],
                  calls: Sequence[tuple[str, dict[str, str], dict[str, Any]]] = ()) -> tuple[bool, list[str]]:
    """Does the final scene meet the scenario's hidden success conditions and requirements?

    Args:
        scenario: the scenario.
        objects: the final perceived scene.
        calls: (skill, args, params) of every call that succeeded, in order.

    Returns:
        (success, reasons it failed).
    """
    why: list[str] = []
    for cond in scenario.success:
        t = cond["type"]
        if t in ("in", "on", "stacked"):
            o, tg = objects.get(cond["object"]), objects.get(cond.get("target", cond.get("below", "")))
            if o is None or tg is None:
                why.append(f"{cond}: object missing")
                continue
            local = tg.pose.to_local(o.pose.position)
            if tg.category == "cabinet":
                op = float(tg.state.get("opening", 0.0))
                ok = (-tg.size[0] / 2 + op <= local[0] <= tg.size[0] / 2 + op and abs(local[1]) <= tg.size[1] / 2
                      and local[2] < 0.08)
            else:
                half = np.array(tg.size[:2]) / 2 + 0.005
                ok = bool(np.all(np.abs(local[:2]) <= half)) and -0.02 < local[2] < tg.size[2] + 0.08
            if not ok:
                why.append(f"{cond['object']} is not {t} {tg.name}")
        elif t == "state":
            o = objects.get(cond["object"])
            if o is None or o.state.get(cond["key"]) != cond["value"]:
                why.append(f"{cond['object']}.{cond['key']} != {cond['value']}")
    for req in scenario.requirements:
        if req["type"] in ("param_max", "param_min", "grasp_region"):
            for skill, args, params in calls:
                if skill != req.get("skill", "pick" if req["type"] == "grasp_region" else None):
                    continue
                if not _matches(req, args.get("object"), objects):
                    continue
                if req["type"] == "grasp_region" and params.get("grasp_region") != req["region"]:
                    why.append(f"{args.get('object')} was not grasped by the {req['region']}")
                elif req["type"] == "param_max" and params.get(req["param"], 0) > req["value"] + 1e-9:
                    why.append(f"{skill}.{req['param']}={params.get(req['param'])} above {req['value']}")
                elif req["type"] == "param_min" and params.get(req["param"], 1e9) < req["value"] - 1e-9:
                    why.append(f"{skill}.{req['param']}={params.get(req['param'])} below {req['value']}")
        if req["type"] == "param_near":
            for skill, args, params in calls:
                if skill != req.get("skill") or not _matches(req, args.get("object"), objects):
                    continue
                v = params.get(req["param"])
                if v is None or np.linalg.norm(np.asarray(v, float)[:2] - np.asarray(req["value"], float)[:2]) \
                        > req["tolerance"] + 1e-9:
                    why.append(f"{skill}.{req['param']}={v} not within {req['tolerance']} of {req['value']}")
    return not why, why
