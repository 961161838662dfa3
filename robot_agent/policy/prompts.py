"""The words the LLM sees: a shared prompt prefix, the plan so far, and candidate next calls.

Layout (most stable first, so the local backend's prefix KV cache survives replans)::

    system:    you plan robot skills, one call per line
    user:      Skills: ... / Objects: ... / Task: ... / Rules: ...
    assistant: <one executed or chosen call per line>  <- candidates continue here

The assistant turn is the plan itself, so each chosen step extends the cached prefix
by a few tokens. Remote models get the same context plus numbered candidates and are
asked for a number only (:func:`choice_messages`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from robot_agent.policy.state import PLANNABLE
from skills.library import SKILLS
from skills.types import ObjectInfo

SYSTEM = (
    "You are the planner of a robot arm. You write the plan as skill calls, one per line, "
    "using only the listed skills and objects. Follow the rules."
)


def skill_lines() -> list[str]:
    """One line per plannable skill: the first line of its docstring (the skills' own words)."""
    return [(type(SKILLS[name]).__doc__ or name).strip().splitlines()[0].rstrip(".") for name in PLANNABLE]


DONE = "done()"


@dataclass
class PromptContext:
    """Everything the LLM is told before the plan starts.

    Attributes:
        task: the operator's task text.
        objects: one description line per scene object.
        rules: constraints (described) and knowledge hints, one per line.
    """

    task: str
    objects: list[str]
    rules: list[str] = field(default_factory=list)

    def system(self) -> str:
        return SYSTEM

    def user(self) -> str:
        lines = ["Skills:", *skill_lines(), "Objects:", *self.objects, f"Task: {self.task.strip()}"]
        if self.rules:
            lines += ["Rules:", *[f"- {r}" for r in self.rules]]
        return "\n".join(lines)


def object_lines(objects: Sequence[ObjectInfo]) -> list[str]:
    """``red_block: red cube block`` / ``cabinet: wood drawer cabinet, drawer closed``."""
    out = []
    for o in objects:
        line = f"{o.name}: {o.description()}"
        if o.state.get("drawer"):
            line += f", drawer {o.state['drawer']}"
        out.append(line)
    return out


def assistant_prefix(steps: Sequence[str]) -> str:
    """The plan so far as the assistant's text (each line ends with a newline)."""
    return "".join(f"{s}\n" for s in steps)


def choice_messages(
    ctx: PromptContext, steps: Sequence[str], candidates: Sequence[str], strict: bool = False
) -> list[tuple[str, str]]:
    """(role, content) messages asking a chat model to pick one numbered candidate."""
    done = "\n".join(steps) if steps else "(nothing yet)"
    options = "\n".join(f"{i}. {c}" for i, c in enumerate(candidates, 1))
    ask = (
        f"Plan so far:\n{done}\n\nWhich call should come next? Options:\n{options}\n\n"
        f"Answer with the number of one option only (1 to {len(candidates)})."
    )
    if strict:
        ask += " Reply with digits only, for example: 1"
    return [("system", ctx.system()), ("user", ctx.user() + "\n\n" + ask)]


_NUMBER = re.compile(r"^\s*(?:option\s*)?\(?(\d{1,3})\)?\s*[.)]?\s*$", re.IGNORECASE)


def parse_choice(text: str, n: int) -> int | None:
    """The 0-based index a reply names, or None unless it is exactly one number in 1..n."""
    m = _NUMBER.match(text or "")
    if not m:
        return None
    k = int(m.group(1))
    return k - 1 if 1 <= k <= n else None
