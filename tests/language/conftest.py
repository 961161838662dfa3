"""Fixtures shared by the language tests."""

from __future__ import annotations

import pytest

from robot_agent.language import LanguageLayer


@pytest.fixture(scope="module")
def layer(text_embedder) -> LanguageLayer:
    """The full layer (grammar, WordNet, MiniLM), one per test module: a question left pending or a
    phrase learned in one module never reaches another."""
    return LanguageLayer(embedder=text_embedder)
