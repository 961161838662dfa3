"""Plan-level corrections: what the remaining plan must do differently."""

from __future__ import annotations

import re
from typing import Any

from robot_agent.language.grammar.lexicon import _VERBS
from robot_agent.language.grammar.mentions import _Mentions
from robot_agent.language.grammar.object_words import (
    _COLOR_CANON,
    _COLORS,
    _NOUN_CATEGORY,
    _POS_ADJ,
    _RECEPTACLES,
    _SHAPE_NOUNS,
    _SIZE_ADJ,
    kind_ref,
)
from robot_agent.language.grammar.patterns import (
    _AVOID_RE,
    _FORBID_RE,
    _GO_HOME_RE,
    _LAST_RE,
    _LATER_STEP_RE,
    _LEAVE_RE,
    _NEG_BEFORE_RE,
    _NEG_CUE_RE,
    _ORDER_PATTERNS,
    _PREF_ALWAYS_RE,
    _PREF_CUE_RE,
    _PREF_WANT_RE,
    _PULL_RE,
    _RESTORE_RE,
    _RETRY_RE,
    _SORT_RE,
    _STACK_KEY_RE,
    _STEP_CUE_RE,
)
from robot_agent.language.grammar.state import _Mention


class _Plans(_Mentions):
    """Plan-level corrections: order, missing steps, targets, preferences, keep-aways, sorting, stacking."""

    def call_in(self, a: int, b: int, prev: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The skill call a clause (chars [a, b) of the text) names, if any."""
        text = self.s[a:b].strip(" ,.;!?")
        if _GO_HOME_RE.search(text):
            return {"skill": "go_home", "object": None, "target": None, "description": "go home"}
        i0, i1 = self.span(a, b)
        skill: str | None = None
        for k in range(i0, i1):
            w = self.tokens[k]
            if w in _VERBS and not (
                w in ("take", "get")
                and k + 1 < i1
                and self.tokens[k + 1] in ("it", "things")
                and k + 2 < i1
                and self.tokens[k + 2] in ("easy", "slow")
            ):
                skill = _VERBS[w]
                break
        obj_m = tgt_m = None
        rel = None
        for m in self.mentions:
            if not (i0 <= m.start < i1):
                continue
            before = self.tokens[m.start - 1] if m.start > 0 else ""
            how = self.dest_relation(m) or ("at" if before in ("to", "towards", "toward") else None)
            if how is not None:
                if tgt_m is None:
                    tgt_m, rel = m, how
            elif obj_m is None and not m.negated:
                obj_m = m
        dangling = re.search(r"\b(?:in|into|inside|on|onto)\s*$", text) is not None
        obj_name = tgt_name = None
        if obj_m is not None:
            obj_name, q = self.resolve(obj_m)
            if q:
                self.questions.append(q)
                return None
        if tgt_m is not None:
            if tgt_m.pronoun and prev is not None and prev.get("skill") in ("open", "close"):
                tgt_name = prev.get("object")
            else:
                tgt_name, q = self.resolve(tgt_m)
                if q:
                    self.questions.append(q)
                    return None
        elif dangling and prev is not None and prev.get("skill") == "open":
            tgt_name = prev.get("object")
        if obj_m is not None and obj_m.pronoun and skill in ("open", "close"):
            obj_name = self.articulated_object()
        obj_info = self.ctx.find(obj_name)
        is_cabinet = (obj_info is not None and obj_info.category == "cabinet") or (
            obj_m is not None and obj_m.head in ("drawer", "cabinet", "cupboard")
        )
        if skill == "":
            if tgt_m is not None or dangling:
                skill = "place"
            else:
                skill = "open" if is_cabinet and self.has(_PULL_RE) else None
        if skill == "pick" and (tgt_m is not None or (dangling and tgt_name)):
            skill = "place"
        if skill == "push" and is_cabinet and re.search(r"\b(?:in|closed|shut)\b", text):
            skill = "close"
        if skill is None and obj_m is None and tgt_m is None:
            return None
        call: dict[str, Any] = {"skill": skill, "object": obj_name, "target": tgt_name, "description": text}
        if obj_name is None and obj_m is not None and not obj_m.pronoun:
            call["object_description"] = obj_m.text
        if tgt_name is None and tgt_m is not None and not tgt_m.pronoun:
            call["target_description"] = tgt_m.text
        if rel:
            call["relation"] = rel
        return call

    def plan(self) -> dict[str, Any] | None:
        steps = (
            self.plan_go_home,
            self.plan_retry,
            self.plan_avoid,
            self.plan_sort,
            self.plan_stack,
            self.plan_preference,
            self.plan_order,
            self.plan_forbid,
            self.plan_target_or_step,
            self.plan_restore,
        )
        for step in steps:
            p = step()
            if self.questions:
                return None
            if p is not None:
                return p
        return None

    def plan_go_home(self) -> dict[str, Any] | None:
        found = self.find(_GO_HOME_RE)
        if not found:
            return None
        call = {"skill": "go_home", "object": None, "target": None, "description": "go home"}
        # "don't go home", "no need to go back home": a negated step is a prohibition, not a step.
        if _NEG_BEFORE_RE.search(self.s[: found[0].start()]):
            return {"type": "forbid", "call": call}
        return {"type": "step", "call": call, "position": "next"}

    def plan_retry(self) -> dict[str, Any] | None:
        # "try again", or "again"/"once more" said with no correction before it to repeat
        if not self.find(_RETRY_RE) and not getattr(self, "repeated", False):
            return None
        if self.ctx.skill is None:
            self.questions.append("What should I try again?")
            return None
        return {
            "type": "retry",
            "call": {
                "skill": self.ctx.skill,
                "object": self.ctx.object,
                "target": self.ctx.target,
                "description": "the current step",
            },
        }

    def plan_avoid(self) -> dict[str, Any] | None:
        for m in self.find(_AVOID_RE, mark=False):
            mt = self.mention_after(self.tok_of(m.end() + 1), within=3)
            if mt is None:
                continue
            self.use(m.start(), m.end())
            self.use_toks(mt.start, mt.end)
            if mt.plural and len(mt.refs) > 1 and not mt.negated:
                # "keep away from the glasses": every one of them, as a ref that finds them again
                kind = [o for o in self.objects if o.name in mt.refs]
                return {"type": "avoid", "object": kind_ref(kind, mt.text), "description": mt.text}
            name, q = self.resolve(mt)
            if q:
                self.questions.append(q)
                return None
            return {"type": "avoid", "object": name, "description": mt.text}
        return None

    def plan_sort(self) -> dict[str, Any] | None:
        for m in self.find(_SORT_RE):
            key = (m.group("k") or m.group("k2") or "").rstrip("s")
            key = {
                "colour": "color",
                "type": "category",
                "kind": "category",
                "size": "size",
                "categorie": "category",
                "categories": "category",
            }.get(key, key)
            if key == "categor":
                key = "category"
            return {"type": "sort", "key": key}
        return None

    def plan_stack(self) -> dict[str, Any] | None:
        for m in self.find(_STACK_KEY_RE):
            big = m.group("adj") in ("biggest", "largest", "big", "large", "bigger", "larger", "heaviest", "widest")
            bottom = "largest" if big == (m.group("pos") == "bottom") else "smallest"
            return {"type": "stack", "key": "size", "bottom": bottom}
        for mt in self.mentions:
            if mt.start >= len(self.starts) or mt.unknown:
                continue
            end_char = self.starts[mt.end - 1] + len(self.tokens[mt.end - 1])
            at = re.match(
                r" (?:goes |go |should go |must go |needs to go |belongs |is |has to go |)?"
                r"(?:(?:at|on|to|in) )?(?:the )?(?P<pos>bottom|top)\b(?! of)(?! shelf)",
                self.s[end_char:],
            )
            if at is None or self.is_used(end_char + at.start(), end_char + at.end()):
                continue
            if not re.search(r"\b(?:stack|stacking|tower|pile|goes|go|belongs|should|must|put|place)\b", self.s):
                continue
            name, q = self.resolve(mt)
            if q:
                self.questions.append(q)
                return None
            self.use(end_char + at.start(), end_char + at.end())
            self.use_toks(mt.start, mt.end)
            return {"type": "stack", "object": name, "description": mt.text, "position": at.group("pos")}
        return None

    def selector(self, m: _Mention) -> dict[str, str]:
        sel: dict[str, str] = {}
        for w in m.words:
            if w in _COLORS:
                sel["color"] = _COLOR_CANON.get(w, w)
            elif w in _NOUN_CATEGORY:
                sel["category"] = _NOUN_CATEGORY[w]
                if w in _SHAPE_NOUNS:
                    sel["shape"] = w
            elif m.refs and len(m.refs) == 1 and (o := self.ctx.find(m.refs[0])) is not None:
                sel["category"] = o.category
            elif w in self.nouns:
                sel["category"] = w
        return sel

    def plan_preference(self) -> dict[str, Any] | None:
        always = _PREF_ALWAYS_RE.search(self.s)
        want = _PREF_WANT_RE.search(self.s)
        cue = next((m for m in _PREF_CUE_RE.finditer(self.s) if not self.is_used(m.start(), m.end())), None)
        if not (always or want or cue):
            return None
        tgt_m = None
        rel = None
        for mt in self.mentions:
            prev = self.tokens[mt.start - 1] if mt.start > 0 else ""
            rel = self.dest_relation(mt)
            if rel is not None or prev == "to":
                tgt_m = mt
                break
        if tgt_m is None:
            return None
        sel_m = next((mt for mt in self.mentions if mt.end <= tgt_m.start and not mt.pronoun and not mt.negated), None)
        if sel_m is None:
            return None
        between = " ".join(self.tokens[sel_m.end : tgt_m.start])
        if re.search(r"\b(?:not|never|no longer|nor)\b|n't\b", between):
            return None  # "mugs shouldn't go in the bowl": where they don't go is no preference for it
        kind_word = (
            not sel_m.exact
            and sel_m.head in _NOUN_CATEGORY
            and not any(w in _COLORS for w in sel_m.words)
            and not any(a in _SIZE_ADJ or a in _POS_ADJ for a in sel_m.adjs)
        )
        generic = sel_m.generic or always is not None or (cue is not None and (sel_m.plural or kind_word))
        if not generic:
            return None
        selector = self.selector(sel_m)
        if not selector:
            self.questions.append(f"Which objects should go {rel or 'to'} {tgt_m.text}?")
            return None
        target, q = (None, None)
        if self.objects:
            if len(tgt_m.refs) == 1:
                target = tgt_m.refs[0]
            elif not tgt_m.refs and tgt_m.head not in _NOUN_CATEGORY:
                _n, q = self.resolve(tgt_m)
        if q:
            self.questions.append(q)
            return None
        tinfo = self.ctx.find(target)
        tcat = tinfo.category if tinfo is not None else _NOUN_CATEGORY.get(tgt_m.head, tgt_m.head)
        if rel is None:
            rel = "in" if tcat in ("bowl", "tray", "cabinet", "box", "basket", "bin") else "on"
        for mt in (sel_m, tgt_m):
            self.use_toks(mt.start, mt.end)
        for m in (always, want, cue):
            if m is not None:
                self.use(m.start(), m.end())
        self.use_toks(tgt_m.start - 1, tgt_m.start)
        return {
            "type": "preference",
            "selector": selector,
            "target": target,
            "target_category": tcat,
            "target_description": tgt_m.text,
            "relation": rel,
        }

    def plan_order(self) -> dict[str, Any] | None:
        for rx in _ORDER_PATTERNS:
            m = rx.search(self.s)
            if m is None:
                continue
            a = m.span("a")
            b = m.span("b") if "b" in rx.groupindex and m.group("b") else None
            qn = len(self.questions)
            first = self.call_in(*a)
            if len(self.questions) > qn:
                return None
            if first is None or (
                first["object"] is None
                and first.get("object_description") is None
                and first["skill"] not in ("go_home",)
                and not (first["skill"] in ("open", "close") and self.cabinet_mentioned())
            ):
                continue
            vague = (
                b is not None
                and re.fullmatch(
                    r"(?:(?:you |we )?(?:do|doing|try|trying) )?(?:that|this|it|anything(?: else)?|"
                    r"everything(?: else)?|"
                    r"the rest|continuing|going on)",
                    self.s[b[0] : b[1]].strip(" ,.!?"),
                )
                is not None
            )
            then = self.call_in(*b, prev=first) if b and not vague else None
            if len(self.questions) > qn:
                return None
            if b and then is None and not vague:
                continue
            self.use(m.start(), m.end())
            return {"type": "order", "first": first, "then": then}
        return None

    def plan_forbid(self) -> dict[str, Any] | None:
        for m in self.find(_FORBID_RE, mark=False):
            end = re.search(r"[,.;!?]|$", self.s[m.end() :])
            stop = m.end() + (end.start() if end else 0)
            call = self.call_in(m.end(), stop)
            if call is None or call["skill"] is None:
                continue
            no_object = call["object"] is None and call.get("object_description") is None and call["target"] is None
            if no_object and call["skill"] not in ("open", "close", "go_home"):
                continue
            self.use(m.start(), stop)
            return {"type": "forbid", "call": call}
        leave = _LEAVE_RE.search(self.s)
        if leave is not None:
            i0, i1 = self.span(leave.start("rest"), leave.end("rest"))
            mt = next((x for x in self.mentions if i0 <= x.start < max(i1, i0 + 1)), None)
            if mt is not None:
                name, q = self.resolve(mt)
                if q:
                    self.questions.append(q)
                    return None
                self.use(leave.start(), leave.end())
                return {
                    "type": "forbid",
                    "call": {"skill": None, "object": name, "target": None, "description": mt.text},
                }
        return None

    def is_receptacle(self, m: _Mention) -> bool:
        if m.refs:
            return all((o := self.ctx.find(n)) is not None and o.category in _RECEPTACLES for n in m.refs)
        return _NOUN_CATEGORY.get(m.head, m.head) in _RECEPTACLES

    def plan_target_or_step(self) -> dict[str, Any] | None:
        s = self.s
        step_cue = _STEP_CUE_RE.search(s)
        neg_cue = _NEG_CUE_RE.search(s)
        # "then the black mug on the shelf", "after that the flute on the tray too": one more placement
        later = _LATER_STEP_RE.search(s) if not re.search(r"\binstead\b", s) else None
        verb = next((_VERBS[w] for k, w in enumerate(self.tokens) if w in _VERBS and not self.used[k]), None)
        pos = [m for m in self.mentions if not m.negated and not m.pronoun and not all(self.used[m.start : m.end])]
        neg = [m for m in self.mentions if m.negated]
        pron = [m for m in self.mentions if m.pronoun and not m.negated]
        if verb in ("open", "close", "push") or (verb == "" and self.has(_PULL_RE)) or (step_cue and verb is not None):
            if verb in ("open", "close", "push", "") and not pos and not pron and not self.cabinet_mentioned():
                return None
            call = self.call_in(0, len(s))
            if call is None or call["skill"] is None:
                return None
            if step_cue or call["skill"] in ("open", "close", "push"):
                self.use_toks(0, len(self.tokens))
                return {"type": "step", "call": call, "position": "last" if _LAST_RE.search(s) else "next"}
        if not pos:
            if (neg and not any(m.pronoun for m in neg)) or (neg and neg_cue and self.objects):
                base = next(
                    (self.ctx.find(n) for m in neg for n in ([self.ctx.object] if m.pronoun else m.refs[:1])), None
                )
                others = [
                    o.name
                    for o in self.objects
                    if base is not None and o.name != base.name and o.category == base.category
                ]
                if len(others) == 1 and any(m.pronoun for m in neg):
                    return {
                        "type": "target",
                        "role": "object",
                        "object": others[0],
                        "destination": None,
                        "relation": None,
                        "replaces": base.name if base else None,
                        "description": "the other one",
                    }
                where = any(self.is_receptacle(m) and not m.pronoun for m in neg)
                seen = f" I can see: {', '.join(o.name for o in self.objects)}." if self.objects else ""
                self.questions.append(
                    ("Where should I put it instead?" if where else "Which one should I use instead?") + seen
                )
            return None
        if not (neg_cue or verb is not None or step_cue or later or len(self.tokens) <= 6):
            return None
        obj_m = dest_m = None
        rel = None
        for m in pos:
            how = self.dest_relation(m)
            if how is not None:
                if dest_m is None:
                    dest_m, rel = m, how
            elif self.is_receptacle(m) and verb not in ("pick",) and dest_m is None:
                dest_m = m
            elif obj_m is None:
                obj_m = m
        obj = dest = None
        for said in (obj_m, dest_m):
            if said is None:
                continue
            name, q = self.resolve(said)
            if q:
                self.questions.append(q)
                return None
            if said is obj_m:
                obj = name
            else:
                dest = name
        if (
            obj == self.ctx.object
            and dest in (None, self.ctx.target)
            and not neg_cue
            and not step_cue
            and (self.dirs or self.changes)
        ):
            return None  # "move the block to the left" while handling that block: a skill correction
        replaces = None
        neg_obj = next((m for m in neg if not self.is_receptacle(m) or m.pronoun), None)
        neg_dest = next((m for m in neg if self.is_receptacle(m) and not m.pronoun), None)
        if obj_m is not None:
            replaces = (self.resolve(neg_obj)[0] if neg_obj else None) or (self.ctx.object if neg_cue else None)
        elif dest_m is not None:
            replaces = (self.resolve(neg_dest)[0] if neg_dest else None) or (self.ctx.target if neg_cue else None)
        if dest_m is not None and rel is None:
            info = self.ctx.find(dest)
            cat = info.category if info is not None else _NOUN_CATEGORY.get(dest_m.head, dest_m.head)
            rel = "in" if cat in ("bowl", "tray", "cabinet", "box", "basket", "bin") else "on"
        if obj_m is not None and dest_m is not None:
            role = "both"
        else:
            role = "object" if obj_m is not None else "destination"
        if (
            later
            and not neg_cue
            and obj not in (None, self.ctx.object)
            and dest is not None
            and verb in (None, "place")
        ):
            step_cue = later  # another object put somewhere after this one: a step, not a swap
        if step_cue:
            call = {
                "skill": verb or ("place" if dest_m is not None else None),
                "object": obj,
                "target": dest,
                "description": s,
            }
            return {"type": "step", "call": call, "position": "last" if _LAST_RE.search(s) else "next"}
        for m in pos:
            self.use_toks(m.start, m.end)
        for m in neg:
            self.use_toks(m.start, m.end)
        if neg_cue:
            self.use(neg_cue.start(), neg_cue.end())
        return {
            "type": "target",
            "role": role,
            "object": obj,
            "destination": dest,
            "relation": rel,
            "replaces": replaces,
            "description": " ".join(m.text for m in (obj_m, dest_m) if m is not None),
        }

    def plan_restore(self) -> dict[str, Any] | None:
        if self.find(_RESTORE_RE):
            return {"type": "constraint", "text": "put it back where it was", "object": self.ctx.object}
        return None
