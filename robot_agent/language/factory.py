"""The understanding layer as the configuration describes it (``config.language``)."""

from __future__ import annotations

from typing import Any

from robot_agent.language.grammar import CorrectionParser
from robot_agent.language.layer import LanguageLayer
from robot_agent.language.types import Thresholds


def make_language_layer(config: Any, embedder: Any = None, safety: Any = None, kb: Any = None) -> LanguageLayer:
    """The layer ``config.language`` describes (``config``: an :class:`AgentConfig`).

    Args:
        embedder: the text embedder to share (the knowledge base's, so MiniLM loads once);
            made from ``config.memory.text_model`` when None and the mode needs one.
        kb: the knowledge base answered questions are kept in as phrase items
            (``language.learn_phrases``); None = nothing learned.
    """
    lc = config.language
    if lc.mode == "full" and embedder is None:
        from memory.embedders import make_text_embedder

        embedder = make_text_embedder(config.memory.text_model)
    th = Thresholds(act=lc.act_threshold, margin=lc.margin, ask=lc.ask_threshold)
    phrases = None
    if kb is not None and lc.learn_phrases and lc.mode == "full" and not getattr(kb, "read_only", False):
        from robot_agent.language.phrases import PhraseMemory

        phrases = PhraseMemory(kb)
    llm = None
    if lc.mode == "full" and getattr(config.policy, "backend", "") == "openai":
        from robot_agent.language.llm import make_chooser

        llm = make_chooser(config.policy)
    return LanguageLayer(
        CorrectionParser(safety=safety or config.safety),
        embedder if lc.mode == "full" else None,
        mode=lc.mode,
        thresholds=th,
        phrases=phrases,
        llm=llm,
    )
