"""The scorer keeps what it embedded: renderings, and the utterances and phrases grounded from
them, across utterances and across scorers on one embedder, so a scene's noun phrases ("the
plate") cost one forward pass each, not one per utterance. Real MiniLM; the forward passes are
counted by a wrapper that passes every call through."""

from __future__ import annotations

import numpy as np

from robot_agent.language.scorer import Scorer


class _Counting:
    """The real text embedder, with its forward passes counted."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        return self.inner.embed(texts)

    def embed_tokens(self, texts):
        self.calls += 1
        return self.inner.embed_tokens(texts)


def test_phrases_are_embedded_once_across_utterances_and_scorers(text_embedder) -> None:
    counted = _Counting(text_embedder)
    first = Scorer(counted)
    q = first.query("the white plate")
    assert counted.calls == 1
    again = Scorer(counted).query("the white plate")  # another layer on the same embedder
    assert counted.calls == 1
    assert np.array_equal(q[0], again[0])
    doubled = first.query("the the white plate")  # an article said twice by the phrase builder
    assert counted.calls == 1 and np.array_equal(doubled[0], q[0])
    first.forget_queries()
    fresh = first.query("the white plate")
    assert counted.calls == 2
    np.testing.assert_allclose(fresh[0], q[0], atol=1e-6)


def test_a_kept_phrase_scores_as_a_fresh_one(text_embedder) -> None:
    scorer = Scorer(_Counting(text_embedder))
    sentences = ["put it on the plate", "put it in the bowl", "keep away from the plate"]
    cold = scorer.scores(scorer.query("onto the plate"), sentences)
    warm = scorer.scores(scorer.query("onto the plate"), sentences)
    np.testing.assert_array_equal(cold, warm)
    assert int(np.argmax(warm)) == 0
