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


def _aligned_one_by_one(scorer: Scorer, query, sentences) -> np.ndarray:
    """The score as defined, one sentence at a time: half the sentence cosine, half the F1 of each
    word's best match in the other sentence (BERTScore's recall and precision)."""
    from robot_agent.language.scorer import ALIGN_WEIGHT

    qv, qt = query
    out = []
    for s in sentences:
        sv, st = scorer._cache[s]
        sim = qt @ st.T
        recall = max(float(sim.max(axis=1).mean()), 0.0)
        precision = max(float(sim.max(axis=0).mean()), 0.0)
        f1 = 2 * recall * precision / max(recall + precision, 1e-9)
        out.append((1 - ALIGN_WEIGHT) * float(sv @ qv) + ALIGN_WEIGHT * f1)
    return np.array(out)


def test_all_sentences_scored_at_once_score_as_one_at_a_time(text_embedder) -> None:
    scorer = Scorer(text_embedder)
    sentences = [
        "put the red cube in the tray",
        "move a bit to the left",
        "grasp the mug by the handle",
        "open the drawer first",
        "go",  # one word piece
        "slow down a lot, please, the glass is full to the brim",  # many
    ]
    for said in ("pop the red block into the tray", "a touch leftward", "stop"):
        q = scorer.query(said)
        got = scorer.scores(q, sentences)
        assert got.shape == (len(sentences),) and got.dtype == np.float32
        assert np.allclose(got, _aligned_one_by_one(scorer, q, sentences), atol=1e-5)
    assert scorer.scores(scorer.query("stop"), []).shape == (0,)
    # the ranking is the meaning's: the placement for a placement, the nudge for a nudge
    assert int(np.argmax(scorer.scores(scorer.query("pop the red block into the tray"), sentences))) == 0
    assert int(np.argmax(scorer.scores(scorer.query("a touch leftward"), sentences))) == 1
