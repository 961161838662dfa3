"""The task half of the understanding layer: a task's words to a goal, or a question.

:class:`TaskReading` is mixed into :class:`~robot_agent.language.layer.LanguageLayer`, which
gives it the grammar, the scorer, the thresholds, the ranking and the questions
(``self._rank``, ``self._ask``, ``self._judge``, ``self._clear``, ``self._home``,
``self._answer``, ``self._pending``); this module holds only what reads a task:

1. a question waiting for an answer takes the words first;
2. the goal parser (:func:`robot_agent.policy.goals.parse_goal`) reads the grammar's goal, which
   the state words ("push the drawer closed"), impossible goals, verbs the arm cannot do and
   things made an exception of overrule;
3. steps and clauses said one after another are read one by one and combined;
4. referring words (size, position, landmark, count, exception) decide which objects;
5. otherwise the ranked meanings decide, or the operator is asked with the best two or three.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from robot_agent.errors import PolicyError
from robot_agent.language import guards, naming, reference, steps, structure, verbs
from robot_agent.language import scene_words as sw
from robot_agent.language.candidates import Candidate, task_candidates
from robot_agent.language.checks import HEDGED, clauses, clean, goal_form, impossible_goal, plain_task, situation
from robot_agent.language.meaning import goal_act, goal_atoms, goal_keys
from robot_agent.language.types import Understanding
from skills.types import ObjectInfo

#: a quantifier over everything ("all the blocks", "everything", "the lot")
_ALL = re.compile(r"\b(?:all|every|everything|each|the lot|whatever)\b")


class TaskReading:
    """What a task asks for (mixed into :class:`~robot_agent.language.layer.LanguageLayer`)."""

    def _task(self, text: str, objects: list[ObjectInfo], split: bool = False) -> Understanding:
        from robot_agent.policy.goals import parse_goal

        if not text.strip():
            return Understanding(text, "task", "ask", question="What should I do?", reason="the task is empty")
        pending = self._pending_now()
        if pending is not None and pending.what == "task" and self.mode == "full":
            ans = self._answer(text, pending)
            if ans is not None:
                return ans
        if self.mode == "full" and (fixed := plain_task(text, objects)) != text:  # "no wait", "a little"
            return replace(self._task(fixed, objects, split), text=text)
        why = ""
        goal = None
        try:
            goal = parse_goal(clean(text), objects)  # disfluencies out ("shove the, the cylinder")
        except PolicyError as exc:
            why = str(exc)
        atoms = goal_atoms(goal) if goal is not None else []
        if self.mode == "full":
            state = structure.resultative(clean(text), objects, self.scorer)
            if state is not None:
                # "push the drawer closed": the state the words leave the drawer in, whatever the verb.
                u = self._acting_on(text, f"{'open' if state[1] else 'close'} {state[0]}", objects, 1.0, "model")
                if u is not None:
                    return u
        bad = impossible_goal(text, atoms, objects)
        if bad:
            # "the mug that's nearest the plate onto the plate" read as the plate onto itself: the
            # referring words may decide what the grammar misread
            fixed = {o.name for o in objects if o.category not in sw.GRASPABLE_CATEGORIES}
            misread = self.mode == "full" and any(set(a.get("objects") or []) & fixed for a in atoms)
            placed = reference.placement(clean(text), objects, self.scorer) if misread else None
            u = self._placed(text, placed, objects) if placed is not None else None
            return u or Understanding(text, "task", "ask", reason=bad, question=f"{bad}. What should I do instead?")
        if self.mode == "grammar":
            if atoms:
                return Understanding(
                    text, "task", "act", task=text, goal=goal.describe(), atoms=atoms, confidence=1.0, source="grammar"
                )
            why = why or "I could not tell what the task asks for"
            return Understanding(text, "task", "ask", question=f"{why}. Could you say it in other words?", reason=why)
        reading = verbs.read(clean(text))
        # a "verb" that names something here is the thing's word ("fruit in the bowl", "brown one too")
        foreign = [v for v in reading.foreign if v not in sw.all_words(objects)]
        if foreign and len(foreign) == len(reading.verbs):
            # Every main verb is something the arm cannot do ("bake", "eat"): whatever its
            # objects and places, no skill does it.
            said = foreign[0].replace("_", " ")
            why = f"I can't {said} things: I can pick up, put, push, open and close them"
            return Understanding(text, "task", "ask", reason=why, question=f"{why}. What should I do?")
        cands = task_candidates(objects)
        ruled_out = structure.negated(clean(text), objects, self.scorer)  # once: ranking and referring words
        excepted = guards.excepted(clean(text), objects)
        if atoms and any(set(a.get("objects") or []) & excepted for a in atoms):
            # "put everything except the apples in the drawer": all of them less the exceptions
            # when the grammar read "all" (never when it read the apples themselves)
            u = self._all_but(text, atoms, excepted, objects)
            if u is not None:
                return u
            atoms = []
        ranked = self._rank(text, cands, None, objects, ruled_out)
        cats = {o.name: o.category for o in objects}
        if atoms and HEDGED.search(text.lower()) and len(goal_keys(atoms, cats)) == 0:
            # Negation or contrast the goal parser turned into a compound goal ("the cylinder, not
            # the cube" read as both): the models decide, or the operator is asked.
            atoms = []
        in_order = steps.sequence(clean(text)) if not split else None
        parts = clauses(text)  # a step may hold clauses of its own ("X on Y, Z on X, then home")
        if in_order and len(atoms) + len(goal.en_route if goal is not None else ()) < len(in_order):
            # "X on the plate, then Y on top of it": every step, when each is understood
            return self._by_part(text, in_order, objects, "step")
        if len(parts) > max(1, len(atoms)) and all(
            structure.placement_phrases(p) and not HEDGED.match(p) for p in parts
        ):
            # "cylinder in the tray, the long block on the plate": each clause a placement of its
            # own, so no reading of fewer goals (the grammar's or one meaning's) stands for them
            return self._by_part(text, parts, objects, "part")
        absent = structure.absent_phrase(clean(text), objects) if not atoms else None  # "the red ball"
        # "back to your rest position" names the robot's own place, not a missing object
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        home = bool(ranked) and ranked[0][0].family == "home" and self._home(ranked[0][1], runner_up)
        if absent is not None and not home:  # before any referring words pick a look-alike
            return self._not_here(text, "task", absent, objects)
        placed = reference.placement(clean(text), objects, self.scorer, ruled_out)
        if placed is not None:
            # Its objects were decided by words the grammar reads as plain names or not at all
            # (size, position, a landmark, a count, an exception, a conjunction): it wins.
            u = self._placed(text, placed, objects)
            if u is not None:
                return u
        picked = reference.object_reference(clean(text), objects, self.scorer, ruled_out)
        if picked is not None:
            name = picked.names[0]
            said = set(atoms[0].get("objects", [])) if len(atoms) == 1 else set()
            landmark_as_place = bool(picked.landmark) and bool(
                set(atoms[0].get("targets") or []) & set(picked.landmark.split()) if atoms else False
            )
            if said and not landmark_as_place and (name in said or said <= set(picked.excluded) | ruled_out):
                # The grammar read the verb, and "any of them" or a name the words rule out; the
                # referring words say which one.
                u = self._narrowed(text, atoms[0], name, objects)
                if u is not None:
                    return u
            if any(a.get("objects") and a["objects"] != [name] for a in atoms):
                atoms = []  # the grammar read another object: the referring words decide
            ranked = reference.prefer_object(ranked, name, set(picked.landmark.split()))
        if len(atoms) == 1 and len(atoms[0].get("objects") or []) > 1:
            kind = structure.by_compound_kind(clean(text), atoms[0]["objects"], objects)
            u = self._narrowed(text, atoms[0], kind, objects) if kind else None
            if u is not None:  # "the champagne glass": the flute of the two glasses
                return u
        close = guards.one_of_several(clean(text), atoms, ranked)  # "grab the teeny one" as any block
        if close:
            return self._ask(text, "task", close, None, None, objects=objects, reason="more than one fits")
        if atoms:
            gk = goal_keys(atoms, cats)
            form = goal_form(atoms)
            same = [(c, s) for c, s in ranked if c.key in gk or (c.atoms and goal_form(c.atoms) == form)]
            best_g = max((s for _, s in same), default=None)
            if not gk or best_g is None or not ranked or best_g >= ranked[0][1] - self.th.task_margin:
                self._pending = None
                return Understanding(
                    text,
                    "task",
                    "act",
                    task=text,
                    goal=goal.describe(),
                    atoms=atoms,
                    confidence=1.0 if best_g is None else float(best_g),
                    source="grammar",
                )
            # The grammar's goal and the models disagree: ask, offering both.
            top = ranked[0]
            return self._ask(text, "task", [top, same[0]], None, None, objects=objects)
        absent = structure.missing(clean(text), objects, self.scorer)
        if absent is not None and not atoms and not home:
            return self._not_here(text, "task", absent, objects)
        if not atoms and len(parts) > 1 and (u := self._by_part(text, parts, objects)).decision == "act":
            return u
        judged = self._judge(text, "task", situation(None, objects), ranked) if ranked else None
        if judged is not None and judged[0] is not None:
            u = self._task_from(text, judged[0], objects, judged[1], "llm")
            if u is not None:
                return u
        if ranked:
            top, s1 = ranked[0]
            s2 = next(
                (s for c, s in ranked[1:] if c.key != top.key and goal_form(c.atoms) != goal_form(top.atoms)), 0.0
            )
            akin = guards.akin_choices(clean(text), ranked, objects)
            if akin is not None:
                return self._ask(text, "task", akin[1], None, None, objects=objects, reason=akin[0])
            # the verb's kind and the object's kind leave one meaning, among the best three: no place
            # is said, so a placement ranked above it is the sentence model's guess ("hold the
            # orange block up for the camera" is nearer "put the orange cuboid on the shelf")
            vo = naming.verb_and_object(clean(text), objects, self.scorer)
            meant = next(((c, s) for c, s in ranked[:3] if c.key == vo and s >= self.th.ask / 2), None)
            if self._clear(s1, s2) or meant is not None or (top.family == "home" and self._home(s1, s2)):
                top, s1 = meant if meant is not None and not self._clear(s1, s2) else (top, s1)
                u = self._task_from(text, top, objects, float(s1), "model")
                if u is not None:
                    return u
            close = [(c, s) for c, s in ranked[:3] if s >= self.th.ask and s >= s1 - 3 * self.th.margin]
            if close:
                return self._ask(text, "task", close, None, None, objects=objects, reason=why)
        why = why or "I could not match the task to anything I can do with the objects here"
        names = ", ".join(o.name for o in objects)
        return Understanding(text, "task", "ask", reason=why, question=f"{why}. I can see: {names}. What should I do?")

    def _all_but(
        self, text: str, atoms: list[dict[str, Any]], excepted: set[str], objects: list[ObjectInfo]
    ) -> Understanding | None:
        """Everything the grammar's "all" placed, less the things made an exception of, when
        they all go to one place; else None."""
        if not _ALL.search(text.lower()):
            return None
        kept = [a for a in atoms if not set(a.get("objects") or []) & excepted]
        if any(set(a.get("targets") or []) & excepted for a in atoms):
            # "all the blocks in the tray with the exception of the cylinder": the grammar took
            # the last thing named for the place; read without the exception, then leave it out
            from robot_agent.policy.goals import parse_goal

            try:
                atoms = goal_atoms(parse_goal(clean(guards.without_exceptions(text)), objects))
            except PolicyError:
                return None
            kept = [a for a in atoms if not set(a.get("objects") or []) & excepted]
        if not kept or len(kept) == len(atoms):
            return None
        if any(a.get("kind") != "at" or a.get("targets") != kept[0].get("targets") for a in atoms):
            return None
        if len(kept[0].get("targets") or []) != 1 or any(len(a.get("objects") or []) != 1 for a in atoms):
            return None
        target = next((o for o in objects if o.name == kept[0]["targets"][0]), None)
        if target is None or target.name in excepted:
            return None
        movers = " and ".join(a["objects"][0] for a in kept)
        return self._acting_on(text, f"put {movers} {sw.preposition(target)} {target.name}", objects, 1.0, "grammar")

    def _by_part(self, text: str, parts: list[str], objects: list[ObjectInfo], said: str = "") -> Understanding:
        """A task said in parts (steps or clauses), each understood on its own and combined, else
        a question about the first part not followed (``said``: what a part is called in it)."""
        subs = []
        for p in parts:
            self._pending = None  # an earlier part's question is not one this part answers
            subs.append(self._task(p, objects, split=True))
        parts, subs = steps.asking(parts, subs, objects, text)  # "..., then we can reset": asks nothing
        lost = next((p for p, u in zip(parts, subs, strict=True) if not (u.decision == "act" and u.task)), "")
        u = None if lost else steps.combined(text, subs, objects)
        if u is not None:
            return u
        self._pending = None  # a part's own question is not the one asked
        why = f"I did not follow the {said or 'part'} '{lost or text}'"  # acting on the others would drop it
        return Understanding(text, "task", "ask", reason=why, question=f"{why}. Could you say it in other words?")

    def _narrowed(self, text: str, atom: dict[str, Any], name: str, objects: list[ObjectInfo]) -> Understanding | None:
        """The grammar's one-atom goal on the object the referring words picked."""
        targets = atom.get("targets") or []
        if atom.get("kind") == "holding":
            canonical = f"pick up {name}"
        elif atom.get("kind") == "pushed":
            canonical = f"push {name}"
        elif atom.get("kind") == "at" and len(targets) == 1:
            target = next(o for o in objects if o.name == targets[0])
            canonical = f"put {name} {reference.sw.preposition(target)} {target.name}"
        else:
            return None
        return self._acting_on(text, canonical, objects, 1.0, "grammar+model")

    def _placed(self, text: str, placed: reference.Placement, objects: list[ObjectInfo]) -> Understanding | None:
        """A placement whose objects the referring words decided ("both mugs", "the biggest cube")."""
        target = next(o for o in objects if o.name == placed.target)
        canonical = f"put {' and '.join(placed.movers)} {reference.sw.preposition(target)} {placed.target}"
        return self._acting_on(text, canonical, objects, float(placed.score), "model")

    def _task_from(
        self, text: str, cand: Candidate, objects: list[ObjectInfo], score: float, source: str
    ) -> Understanding | None:
        if cand.family == "stack" and structure.stack_order(clean(text)):
            return None  # "a tower, largest at the bottom": an order said that a stack in any order drops
        return self._acting_on(text, cand.canonical, objects, score, source)

    def _acting_on(
        self, text: str, canonical: str, objects: list[ObjectInfo], score: float, source: str
    ) -> Understanding | None:
        """Act on the goal ``canonical`` (the grammar's words on scene names) reads as, or None."""
        u = goal_act(text, canonical, objects, score, source)
        if u is not None:
            self._pending = None
        return u
