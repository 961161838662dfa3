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

    def _plan_knowledge(self, task: str, result: EpisodeResult) -> list[Any]:
        if self.kb is None:
            return []
        try:
            queries = task_queries(task, self._objects())
            hits = self.kb.retrieve_for_task(queries[0], k=5, also=queries[1:])
        except Exception as exc:  # noqa: BLE001 - an embedder fault means planning without memory
            log.warning("plan knowledge retrieval failed: %s", exc)
            self._emit({"type": "knowledge", "event": "error", "error": str(exc)})
            return []
        out = []
        for item, score in hits:
            if self.memory_mode == "raw-memory":
                # raw items are plan items marked scope.raw (memory.item.KINDS has no "raw" kind)
                if not item.scope.get("raw"):
                    continue
                out.extend({"text": t, "source": "memory"} for t in item.provenance.get("corrections", []))
            else:
                if item.kind != "plan":
                    continue
                c = item.parameters.get("constraint")
                # Tagged so the planner can tell remembered rules from this episode's corrections.
                out.append({**c, "source": "memory"} if isinstance(c, Mapping) else item.rule)
            rec = {"event": "used", "id": item.id, "kind": item.kind, "rule": item.rule, "score": round(score, 3)}
            result.knowledge_used.append(rec)
            self._emit({"type": "knowledge", **rec})
        return out

    def _skill_knowledge(self, call: _Call, objects: Mapping[str, ObjectInfo]) -> tuple[dict[str, Any], list[Any]]:
        if self.kb is None or self.memory_mode == "raw-memory":
            return {}, []
        name = call.args.get("object")
        if not name or name not in objects:
            return {}, []
        obj = objects[name]
        from robot_agent.distill import skill_object_description

        desc = skill_object_description(call.skill, call.args, objects) or obj.description()
        try:
            hits = self.kb.retrieve_for_skill(call.skill, desc, image=self._crop(name), k=1, category=obj.category)
        except TypeError:
            hits = self.kb.retrieve_for_skill(call.skill, desc, image=self._crop(name), k=1)
        except Exception as exc:  # noqa: BLE001
            log.warning("skill knowledge retrieval failed: %s", exc)
            return {}, []
        if not hits:
            return {}, []
        item, score = hits[0]
        return dict(item.parameters), [(item, score)]

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
