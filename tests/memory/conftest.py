"""One real MiniLM embedder for the whole session (loading it takes seconds)."""

from __future__ import annotations

import pytest

from memory.embedders import TextEmbedder, make_text_embedder


@pytest.fixture(scope="session")
def text_embedder() -> TextEmbedder:
    return make_text_embedder("minilm")  # the same cached instance the CLI and the agent get
