"""Operator corrections: classify one utterance and ground it in the scene.

An utterance becomes a :class:`Correction` of one of five kinds:

* ``stop``: halt the arm now (checked first, and cheaply, by :func:`is_stop`);
* ``plan``: a task-level change that needs a replan (order, target, missing step,
  preference, keep-away, sorting or stacking rule), as a structured ``plan`` dict;
* ``skill``: an execution change of the current skill, grounded into a base-frame
  displacement ``delta_m`` and/or named parameter changes of ``skills.params``;
* ``confirm``: the operator approves ("good", "yes");
* ``unclear``: nothing safe to do; ``question`` holds the clarifying question.

The parser is rule-based, pure Python and deterministic: no model is needed to
understand a correction, so a correction is understood in well under a millisecond
and never invents a motion. An optional ``fallback`` (e.g. an LLM) may be given for
utterances the rules do not understand at all; what it returns passes the same
safety checks. ``docs/corrections.md`` describes the grammar with examples.

The modules, by job: :mod:`.types` (what comes out), :mod:`.stop` (the stop check),
:mod:`.params` (applying parameter changes), :mod:`.describe` (readable lines), the word
tables and patterns (:mod:`.lexicon`, :mod:`.patterns`), and the parse itself:
:mod:`.state` (tokens and findings), :mod:`.quantities`, :mod:`.mentions`,
:mod:`.adjustments`, :mod:`.translation` and :mod:`.plans` (one concern each, mixed into
one parse), and :mod:`.parse` (:class:`CorrectionParser`).

Direction convention: the operator's frame has forward, left and up; by default the
operator stands behind the robot, so forward = +x, left = +y, up = +z of the base
frame. ``CorrectionContext.operator_yaw`` turns the operator's frame about z (pi for
an operator facing the robot across the table). "your left" / "the robot's left"
always means the robot's own frame.

Parameter changes are a dict ``{parameter: {op: value}}`` for the skill named in
``Correction.skill``, ``op`` being ``"set"`` (absolute value), ``"add"`` (number or
3-vector added to the current value) or ``"scale"`` (factor on a number); apply
them with :func:`apply_parameter_changes`, which validates against the skill's
:class:`skills.params.ParamSpec` bounds.
"""

from robot_agent.language.grammar.describe import describe_delta, describe_plan
from robot_agent.language.grammar.lexicon import DEFAULT_OBJECT_SIZE, MAGNITUDE_FACTORS
from robot_agent.language.grammar.params import apply_parameter_changes
from robot_agent.language.grammar.parse import CorrectionParser, parse_correction
from robot_agent.language.grammar.stop import is_stop
from robot_agent.language.grammar.types import Correction, CorrectionContext, CorrectionKind, FallbackFn

__all__ = [
    "DEFAULT_OBJECT_SIZE",
    "MAGNITUDE_FACTORS",
    "Correction",
    "CorrectionContext",
    "CorrectionKind",
    "CorrectionParser",
    "FallbackFn",
    "apply_parameter_changes",
    "describe_delta",
    "describe_plan",
    "is_stop",
    "parse_correction",
]
