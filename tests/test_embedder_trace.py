"""The text model traced for speed gives the eager model's numbers: the same sentence and word
vectors for one phrase, a padded batch of different lengths and a batch larger than the trace's
example. Real all-MiniLM-L6-v2 (the embedded model)."""

from __future__ import annotations

import numpy as np

from memory.embedders import MiniLMTextEmbedder


def test_traced_and_eager_text_model_agree(text_embedder) -> None:
    assert isinstance(text_embedder, MiniLMTextEmbedder)
    eager = MiniLMTextEmbedder()
    eager._module = eager.model[0].auto_model  # never traced: the module as transformers runs it
    texts = [
        "the plate",
        "could you put the small blue cube on top of the big red one, the one by the tray?",
        "a",
        "half a centimetre to the left, please",
    ]
    for batch in ([texts[0]], texts, texts * 5):
        s1, w1 = text_embedder.embed_tokens(batch)
        s2, w2 = eager.embed_tokens(batch)
        assert np.allclose(s1, s2, atol=1e-5)
        assert all(a.shape == b.shape and np.allclose(a, b, atol=1e-5) for a, b in zip(w1, w2, strict=True))
    assert text_embedder._module is not text_embedder.model[0].auto_model  # the trace was kept: it agreed
