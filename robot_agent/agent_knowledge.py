"""The agent's knowledge work: retrieval for plans and skills, outcomes, distillation.

:class:`KnowledgeMixin` is the part of :class:`robot_agent.agent.Agent` that talks to the
knowledge base: plan knowledge retrieved for the task text, skill knowledge for each call
(skill + object description + object crop), the outcomes of the knowledge used, and the
episode's corrections distilled into knowledge items at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from robot_agent.distill import task_queries
from robot_agent.episode import EpisodeResult
from skills.types import ObjectInfo

if TYPE_CHECKING:
    from robot_agent.agent import _Call

# the loop's logger: these messages read as the agent's, as they did before the split
log = logging.getLogger("robot_agent.agent")


class KnowledgeMixin:
    """Knowledge retrieval, outcome recording and distillation, mixed into the Agent."""

    # set by Agent.__init__ / defined by Agent
    kb: Any
    camera: Any
    language: Any
    memory_mode: str
    _emit: Callable[[dict[str, Any]], None]
    _objects: Callable[[], dict[str, ObjectInfo]]

    def _crop(self, name: str) -> Any:
        if self.camera is None or self.memory_mode == "text-only":
            return None
        try:
            return self.camera.object_crops().get(name)
        except Exception:  # noqa: BLE001 - a camera fault costs visual retrieval, not the task
            log.warning("camera crop failed; retrieving by text only", exc_info=True)
            return None

    def _note(self, result: EpisodeResult, rec: dict[str, Any]) -> None:
        """Log what became of a retrieved item, once per episode for the same verdict."""
        key = (
            rec.get("id"),
            rec.get("event"),
            rec.get("decision") or rec.get("reason"),
            rec.get("skill"),
            rec.get("object"),
        )
        seen = self.__dict__.setdefault("_noted", {}).setdefault(result.episode_id, set())
        if key in seen:
            return
        seen.add(key)
        (result.knowledge_used if rec.get("event") == "used" else result.knowledge_skipped).append(rec)
        self._emit({"type": "knowledge", **rec})

    def _plan_hits(self, task: str, queries: list[str], objects: Mapping[str, ObjectInfo]) -> list[tuple[Any, float]]:
        """Plan items retrieved by the task's words, plus those about objects on this scene.

        Similar words are weak evidence for rules about a scene's objects ("keep away from the glass"
        for "put the cube on the plate"): items whose categories are all on the scene are candidates
        too (score 0 when the words did not find them); applicability decides what they may do.
        """
        hits = list(self.kb.retrieve_for_task(queries[0], k=5, also=queries[1:]))
        if self.memory_mode == "raw-memory" or not hasattr(self.kb, "list"):
            return hits
        cats = {o.category for o in objects.values()}
        have = {it.id for it, _ in hits}
        for it in self.kb.list(kind="plan"):
            need = set(it.scope.get("object_categories") or [])
            if it.id not in have and need and need <= cats and it.status != "retired" and not it.scope.get("raw"):
                hits.append((it, 0.0))
        return hits

    def _plan_knowledge(self, task: str, result: EpisodeResult) -> list[Any]:
        self._assessed: list[Any] = []  # this episode's verdicts (none carried over from the last one)
        self._noted: dict[str, set[Any]] = {}
        if self.kb is None:
            return []
        objects = self._objects()
        try:
            queries = task_queries(task, objects)
            hits = self._plan_hits(task, queries, objects)
        except Exception as exc:  # noqa: BLE001 - an embedder fault means planning without memory
            log.warning("plan knowledge retrieval failed: %s", exc)
            self._emit({"type": "knowledge", "event": "error", "error": str(exc)})
            return []
        out: list[Any] = []
        if self.memory_mode == "raw-memory":
            for item, score in hits:
                # raw items are plan items marked scope.raw (memory.item.KINDS has no "raw" kind)
                if item.kind != "plan" or not item.scope.get("raw"):
                    continue
                out.extend({"text": t, "source": "memory"} for t in item.provenance.get("corrections", []))
                self._note(
                    result,
                    {
                        "event": "used",
                        "id": item.id,
                        "kind": item.kind,
                        "rule": item.rule,
                        "score": round(score, 3),
                        "decision": "raw text shown to the planner",
                    },
                )
            return out
        from robot_agent.applicability import assess_plan_items

        plan_hits = [(it, s) for it, s in hits if it.kind == "plan" and not it.scope.get("raw")]
        self._assessed = assess_plan_items(plan_hits, task, objects)
        for a in self._assessed:
            if a.status in ("used", "pending", "hint"):
                out.append(a.constraint)
            if a.status != "pending":
                self._note(result, a.record())
        return out

    def _attribute_plan(self, plan: list[Any], result: EpisodeResult) -> None:
        """After a plan: the remembered items handed to the planner, used (the decision) or irrelevant."""
        assessed = getattr(self, "_assessed", None)
        if not assessed or self.kb is None:
            return
        from robot_agent.applicability import attribute_plan

        attribute_plan(assessed, plan, self._objects())
        for a in assessed:
            if a.status not in ("pending",) and a.record()["event"] in ("used", "irrelevant"):
                self._note(result, a.record())

    def _yield_to_episode(self, constraints: list[Any], new: Mapping[str, Any], result: EpisodeResult) -> None:
        """A correction of this episode overrides the remembered constraints it contradicts."""
        from robot_agent.applicability import yield_to_episode

        removed = yield_to_episode(constraints, new, self._objects())
        for c, why in removed:
            for a in getattr(self, "_assessed", None) or []:
                if a.constraint is c:
                    a.status = "overridden"
                    self._note(result, {**a.record(), "event": "overridden", "reason": why})

    def _skill_knowledge(self, call: _Call, objects: Mapping[str, ObjectInfo]) -> tuple[dict[str, Any], list[Any]]:
        if self.kb is None or self.memory_mode == "raw-memory":
            return {}, []
        name = call.args.get("object")
        if not name or name not in objects:
            return {}, []
        obj = objects[name]
        from robot_agent.applicability import cross_category
        from robot_agent.distill import skill_object_description

        desc = skill_object_description(call.skill, call.args, objects) or obj.description()
        crossed = ""
        try:
            hits = self.kb.retrieve_for_skill(call.skill, desc, image=self._crop(name), k=1, category=obj.category)
            if not hits:
                # another category: only said generally, or on strong evidence (logged with its score)
                for item, score in self.kb.retrieve_for_skill(call.skill, desc, image=self._crop(name), k=1):
                    ok, why = cross_category(item, score, obj.category)
                    if ok:
                        hits, crossed = [(item, score)], why
                    else:
                        self._skip_note = {
                            "event": "irrelevant",
                            "id": item.id,
                            "kind": item.kind,
                            "rule": item.rule,
                            "score": round(score, 3),
                            "role": "parameter",
                            "reason": why,
                            "skill": call.skill,
                            "object": name,
                        }
        except TypeError:
            hits = self.kb.retrieve_for_skill(call.skill, desc, image=self._crop(name), k=1)
        except Exception as exc:  # noqa: BLE001
            log.warning("skill knowledge retrieval failed: %s", exc)
            return {}, []
        if not hits:
            return {}, []
        item, score = hits[0]
        self._crossed = crossed
        return dict(item.parameters), [(item, score)]

    def _attribute_skill(
        self,
        call: _Call,
        items: list[Any],
        learned: Mapping[str, Any],
        adjustments: Mapping[str, Any],
        result: EpisodeResult,
    ) -> list[Any]:
        """Which retrieved skill items changed this call's parameters; only those are returned (used)."""
        skip = self.__dict__.pop("_skip_note", None)
        if skip is not None:
            self._note(result, skip)
        from robot_agent.applicability import assess_skill_item

        used = []
        for item, score in items:
            a = assess_skill_item(item, score, call, learned, call.params, adjustments, getattr(self, "_crossed", ""))
            self._note(result, a.record(skill=call.skill, object=call.args.get("object")))
            if a.status == "used":
                used.append((item, score))
        return used

    def _report_learned(self, result: EpisodeResult) -> None:
        """Phrases the understanding layer kept (an answered question): knowledge, reported as such."""
        take = getattr(self.language, "take_learned", None)
        for item in take() if take is not None else []:
            rec = {"event": "distilled", "id": item.id, "kind": item.kind, "rule": item.rule}
            result.knowledge_distilled.append(rec)
            self._emit({"type": "knowledge", **rec})

    def _record(self, items: list[Any], success: bool) -> None:
        for item, _ in items:
            try:
                self.kb.record_outcome(item.id, success)
            except Exception:  # noqa: BLE001
                log.warning("could not record the outcome of %s", item.id, exc_info=True)

    def _after_episode(self, result: EpisodeResult) -> None:
        from robot_agent.distill import distill_episode

        self._hygiene(result)
        try:
            objects = self._objects()
            from memory.item import KnowledgeItem

            items = [KnowledgeItem.from_dict(d) for d in distill_episode(result, objects, mode=self.memory_mode)]
            for item in items:
                crop = self._crop(item.scope.get("object_name", "")) if item.kind == "skill" else None
                stored = self.kb.add(item, image=crop)
                rec = {"event": "distilled", "id": getattr(stored, "id", item.id), "kind": item.kind, "rule": item.rule}
                result.knowledge_distilled.append(rec)
                self._emit({"type": "knowledge", **rec})
        except Exception as exc:  # noqa: BLE001 - never lose the episode over a KB fault
            log.error("distillation failed: %s", exc, exc_info=True)
            self._emit({"type": "knowledge", "event": "error", "error": str(exc)})

    def _hygiene(self, result: EpisodeResult) -> None:
        """Outcomes of the plan items used, and of every item whose decision the operator corrected.

        A corrected decision demotes its item (retired at the second one in a row, see
        ``KnowledgeBase.record_outcome``); a plan item used in a successful episode counts a success.
        """
        from robot_agent.applicability import knowledge_caused

        caused = {item_id for _, item_id in knowledge_caused(result)}
        plan_used = {r["id"] for r in result.knowledge_used if r.get("kind") == "plan"}
        for item_id in sorted(caused | plan_used):
            try:
                if item_id in caused:
                    item = self.kb.record_outcome(item_id, False, corrected=True)
                    self._emit(
                        {
                            "type": "knowledge",
                            "event": "corrected",
                            "id": item_id,
                            "kind": item.kind,
                            "rule": item.rule,
                            "reason": f"the operator corrected the decision it made; now {item.status}",
                        }
                    )
                else:
                    self.kb.record_outcome(item_id, bool(result.success))
            except Exception:  # noqa: BLE001 - outcomes are bookkeeping; never lose the episode over them
                log.warning("could not record the outcome of %s", item_id, exc_info=True)
