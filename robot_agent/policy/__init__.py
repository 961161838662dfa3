"""High-level policy: plans calls of parameterized skills for a task on a perceived scene.

Entry points: :func:`make_planner` (from config) and :class:`Planner` (``plan``/``replan``/
``check_plan``); backends are LangChain chat models (:func:`make_backend`); plans are lists
of :class:`SkillCall`; corrections and knowledge arrive as :class:`PlanConstraint` kinds,
dicts or text. See docs/policy.md.
"""

from robot_agent.policy.backends import (
    ContinuationScore,
    LocalBackend,
    LocalChatModel,
    OpenAIBackend,
    PolicyBackend,
    RankRequest,
    RankResult,
    SymbolicBackend,
    make_backend,
    resolve_model_dir,
    smollm2_gguf,
)
from robot_agent.policy.constraint_compile import compile_knowledge
from robot_agent.policy.constraints import (
    KINDS,
    AvoidConstraint,
    CallPattern,
    OrderConstraint,
    ParamConstraint,
    PlanConstraint,
    PreferenceConstraint,
    RequireStepConstraint,
    TargetConstraint,
    constraint_from_dict,
    parse_rule,
)
from robot_agent.policy.goals import Atom, Goal, parse_goal
from robot_agent.policy.grounding import ObjectRef, ground, parse_mention
from robot_agent.policy.planner import Planner, make_planner, parse_calls, repair_call
from robot_agent.policy.state import SymbolicState, initial_state, precondition_failure
from robot_agent.policy.types import Plan, ScoredCandidate, SkillCall, StepTrace

__all__ = [
    "Atom",
    "AvoidConstraint",
    "CallPattern",
    "ContinuationScore",
    "Goal",
    "KINDS",
    "LocalBackend",
    "LocalChatModel",
    "ObjectRef",
    "OpenAIBackend",
    "OrderConstraint",
    "ParamConstraint",
    "Plan",
    "PlanConstraint",
    "Planner",
    "PolicyBackend",
    "PreferenceConstraint",
    "RankRequest",
    "RankResult",
    "RequireStepConstraint",
    "ScoredCandidate",
    "SkillCall",
    "StepTrace",
    "SymbolicBackend",
    "SymbolicState",
    "TargetConstraint",
    "compile_knowledge",
    "constraint_from_dict",
    "ground",
    "initial_state",
    "make_backend",
    "make_planner",
    "parse_calls",
    "parse_goal",
    "parse_mention",
    "parse_rule",
    "precondition_failure",
    "repair_call",
    "resolve_model_dir",
    "smollm2_gguf",
]
