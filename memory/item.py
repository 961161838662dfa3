"""Knowledge items: what the robot learned from corrections, typed, validated, serializable.

An item is either

* ``plan`` knowledge: a rule ("open the cabinet before placing something in it") with
  an optional structured constraint in ``parameters["constraint"]`` that the planner
  compiles into a check, scoped by task family and object categories; or
* ``skill`` knowledge: parameter values of one skill, relative to the object's frame
  (``{"grasp_region": "handle"}``, ``{"pull_distance": 0.2}``), scoped by skill, object
  category and the object's description (its appearance in words).

Provenance keeps the episode ids, the operator's correction texts and timestamps, so
an operator can see why the robot does what it does, and merging keeps history.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from robot_agent.errors import KnowledgeBaseError, ParameterError, UnknownSkillError
from skills.params import SKILL_PARAMS, spec

KINDS = ("plan", "skill", "phrase")
SCOPE_KEYS = (
    "task_family",
    "skill",
    "object_category",
    "object_description",
    "object_name",
    "object_categories",
    "raw",
    # applicability (robot_agent.applicability): the role the item constrains, when it applies,
    # and whether the operator said it generally ("anything fragile", "all fruit")
    "role",
    "applies_when",
    "generality",
)
#: an item's health: ``active``; ``demoted`` after a use the operator corrected (a conflict with an
#: active item goes against it); ``retired`` after a second such use with no success in between
#: (never retrieved; ``robot-agent kb restore ID`` makes it active again)
STATUSES = ("active", "demoted", "retired")
MAX_RULE_CHARS = 2000


@dataclass
class KnowledgeItem:
    """One piece of distilled knowledge.

    Attributes:
        kind: ``"plan"`` or ``"skill"``.
        rule: the knowledge in plain language.
        scope: where it applies: ``task_family``, ``skill``, ``object_category``,
            ``object_description``, ``object_name``, ``object_categories``.
        parameters: for skill items, skill parameter values (object frame); for plan
            items, optionally ``{"constraint": {...}}``.
        provenance: ``episode_ids``, ``corrections`` (texts), ``timestamps``.
        id: stable identifier.
        use_count / success_count: how often it was applied, and how often that went well.
        created / updated: unix times.
        superseded_by: id of the newer item that replaced this one (kept for history).
        corrected_count: uses the operator then corrected (the decision the item made).
        status: ``active``, ``demoted`` or ``retired`` (see :data:`STATUSES`).
    """

    kind: str
    rule: str
    scope: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    use_count: int = 0
    success_count: int = 0
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    superseded_by: str | None = None
    corrected_count: int = 0
    status: str = "active"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`KnowledgeBaseError` naming the bad field."""
        where = f"knowledge item {self.id!r}"
        if not isinstance(self.id, str) or not self.id or len(self.id) > 64:
            raise KnowledgeBaseError(f"{where}: id must be a short non-empty string")
        if self.kind not in KINDS:
            raise KnowledgeBaseError(f"{where}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not isinstance(self.rule, str) or not self.rule.strip() or len(self.rule) > MAX_RULE_CHARS:
            raise KnowledgeBaseError(f"{where}: rule must be non-empty text of at most {MAX_RULE_CHARS} characters")
        for name in ("scope", "parameters", "provenance"):
            if not isinstance(getattr(self, name), dict):
                raise KnowledgeBaseError(f"{where}: {name} must be a mapping")
        unknown = sorted(set(self.scope) - set(SCOPE_KEYS))
        if unknown:
            raise KnowledgeBaseError(
                f"{where}: unknown scope key(s) {', '.join(unknown)}; valid: {', '.join(SCOPE_KEYS)}"
            )
        if self.kind == "phrase":
            utt, meaning = self.parameters.get("utterance"), self.parameters.get("meaning")
            if (
                not isinstance(utt, str)
                or not utt.strip()
                or not isinstance(meaning, Mapping)
                or not isinstance(meaning.get("family"), str)
            ):
                raise KnowledgeBaseError(
                    f"{where}: a phrase item needs parameters.utterance (text) and parameters.meaning (with a family)"
                )
        if self.kind == "skill":
            skill = self.scope.get("skill")
            if skill not in SKILL_PARAMS:
                raise KnowledgeBaseError(
                    f"{where}: scope.skill must name a skill ({', '.join(SKILL_PARAMS)}), got {skill!r}"
                )
            if not self.parameters:
                raise KnowledgeBaseError(f"{where}: a skill item needs parameters")
            for k, v in self.parameters.items():
                try:
                    spec(skill, k).validate(v, skill)
                except (ParameterError, UnknownSkillError) as exc:
                    raise KnowledgeBaseError(f"{where}: parameters: {exc}") from None
        if self.status not in STATUSES:
            raise KnowledgeBaseError(f"{where}: status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        for name in ("use_count", "success_count", "corrected_count"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise KnowledgeBaseError(f"{where}: {name} must be a non-negative integer")
        if self.success_count > self.use_count:
            raise KnowledgeBaseError(f"{where}: success_count exceeds use_count")
        for name in ("created", "updated"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise KnowledgeBaseError(f"{where}: {name} must be a unix time")
        try:
            json.dumps([self.scope, self.parameters, self.provenance], allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise KnowledgeBaseError(f"{where}: not JSON-serializable: {exc}") from None

    # -- text used for retrieval ---------------------------------------------------------
    def embedding_text(self) -> str:
        """What the text embedder sees: for skill items the skill and the object, else the rule."""
        if self.kind == "skill":
            obj = self.scope.get("object_description") or self.scope.get("object_category", "")
            return f"{self.scope.get('skill', '')} the {obj}"
        if self.kind == "phrase":
            return str(self.parameters.get("utterance", self.rule))
        fam = self.scope.get("task_family", "")
        return f"{self.rule}. {fam}".strip(". ")

    def merge_key(self) -> str:
        """What the item is about; a newer item with the same key supersedes the older.

        Skill items: the same skill on the same object category and description (a new
        grasp region for the white mug replaces the old one; parameters the newer item
        does not set are carried over). Plan items with a structured constraint: the
        same *rule target* (see :func:`rule_target`): "fruit goes in the bowl" and "fruit
        goes on the plate" share one, so the newer wins. Other plan items: the same rule
        text, up to case and spacing (near-duplicates by meaning are found by the store).

        Returns:
            A JSON string, stored and indexed in SQLite.
        """
        if self.kind == "skill":
            key: list[Any] = [
                "skill",
                self.scope.get("skill"),
                self.scope.get("object_category"),
                self.scope.get("object_description"),
            ]
        elif self.kind == "phrase":
            # The same words in the same situation: the operator's latest meaning for them wins.
            key = [
                "phrase",
                " ".join(str(self.parameters.get("utterance", "")).lower().split()),
                self.scope.get("skill"),
                self.scope.get("object_category"),
            ]
        else:
            c = self.parameters.get("constraint")
            if isinstance(c, Mapping) and not self.scope.get("raw"):
                key = ["plan", rule_target(c, str(self.scope.get("task_family", "")))]
            else:
                key = ["plan", "text", " ".join(self.rule.lower().split())]
        return json.dumps(key, sort_keys=True, default=str)

    def agrees_with(self, older: KnowledgeItem) -> bool:
        """True when ``older`` says nothing this item contradicts (a duplicate, or a subset).

        Skill items agree when every parameter both set has the same value; plan items
        when their constraints (instances ignored) or rule texts are equal.
        """
        if self.kind != older.kind:
            return False
        if self.kind == "skill":
            return all(self.parameters[k] == v for k, v in older.parameters.items() if k in self.parameters)
        mine, theirs = self.parameters.get("constraint"), older.parameters.get("constraint")
        if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
            return _strip_instances(mine) == _strip_instances(theirs)
        return " ".join(self.rule.lower().split()) == " ".join(older.rule.lower().split())

    def copy(self) -> KnowledgeItem:
        """A deep copy (the store never changes the caller's item)."""
        return KnowledgeItem.from_dict(json.loads(json.dumps(self.to_dict())))

    # -- serialization -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "rule": self.rule,
            "scope": dict(self.scope),
            "parameters": dict(self.parameters),
            "provenance": dict(self.provenance),
            "use_count": self.use_count,
            "success_count": self.success_count,
            "created": self.created,
            "updated": self.updated,
            "superseded_by": self.superseded_by,
            "corrected_count": self.corrected_count,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Any) -> KnowledgeItem:
        """Build and validate from :meth:`to_dict` output.

        Raises:
            KnowledgeBaseError: a missing field, an unknown field or a bad value.
        """
        if not isinstance(data, Mapping):
            raise KnowledgeBaseError(f"a knowledge item must be a mapping, got {type(data).__name__}")
        allowed = {
            "id",
            "kind",
            "rule",
            "scope",
            "parameters",
            "provenance",
            "use_count",
            "success_count",
            "created",
            "updated",
            "superseded_by",
            "corrected_count",
            "status",
        }
        extra = sorted(set(map(str, data)) - allowed)
        if extra:
            raise KnowledgeBaseError(f"knowledge item: unknown field(s) {', '.join(extra)}")
        for key in ("kind", "rule"):
            if key not in data:
                raise KnowledgeBaseError(f"knowledge item: missing field {key!r}")
        kw = {k: data[k] for k in allowed if k in data}
        for k in ("scope", "parameters", "provenance"):
            if k in kw:
                if not isinstance(kw[k], Mapping):
                    raise KnowledgeBaseError(f"knowledge item: {k} must be a mapping")
                kw[k] = dict(kw[k])
        sb = kw.get("superseded_by")
        if sb is not None and not isinstance(sb, str):
            raise KnowledgeBaseError("knowledge item: superseded_by must be an id or null")
        try:
            return cls(**kw)
        except TypeError as exc:
            raise KnowledgeBaseError(f"knowledge item: {exc}") from None


def rule_target(constraint: Mapping[str, Any], task_family: str = "") -> Any:
    """What a plan constraint constrains, without the value it sets.

    Two constraints with the same target and different values contradict each other:

    * ``preference``: the selected objects ("fruit"), whatever destination they go to;
    * ``order``: the pair of calls, in either order ("open before place" vs "place before open");
    * ``sort`` and ``stack`` by a key: the task family (one sorting or stacking rule per task);
    * ``target``: the role and the object category within the task family;
    * anything else: the whole constraint (only an exact duplicate shares it).
    """
    g = _strip_instances(constraint)
    kind = g.get("type")
    if kind == "preference":
        return ["preference", g.get("selector")]
    if kind == "order":
        return ["order", sorted(json.dumps(g.get(k), sort_keys=True) for k in ("first", "then"))]
    if kind == "sort" or (kind == "stack" and g.get("key")):
        return [kind, task_family]
    if kind == "target":
        return ["target", g.get("role"), g.get("object_category"), task_family]
    return ["same", g]


def _strip_instances(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _strip_instances(v) for k, v in node.items() if k not in ("instances", "description")}
    if isinstance(node, list):
        return [_strip_instances(v) for v in node]
    return node
