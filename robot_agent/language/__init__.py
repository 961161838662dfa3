"""Understanding tasks and corrections: the grammar as a fast path, the embedded models beyond it.

See ``docs/understanding.md``.
"""

from robot_agent.language.factory import make_language_layer
from robot_agent.language.layer import MODES, LanguageLayer, Thresholds
from robot_agent.language.types import Choice, Understanding

__all__ = ["MODES", "Choice", "LanguageLayer", "Thresholds", "Understanding", "make_language_layer"]
