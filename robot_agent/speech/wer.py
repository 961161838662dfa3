"""Word error rate of transcripts against references."""

from __future__ import annotations

from collections.abc import Sequence

from robot_agent.speech.text import normalize_words


def edit_distance(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Levenshtein distance between two word sequences (substitutions, insertions, deletions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def word_error_rate(references: str | Sequence[str], hypotheses: str | Sequence[str]) -> float:
    """Corpus word error rate: total word edits over total reference words.

    Args:
        references: one reference sentence, or a list of them.
        hypotheses: the recognized sentence(s), same length as ``references``.

    Returns:
        The WER (0 = perfect; can exceed 1 when the recognizer inserts many words).

    Raises:
        ValueError: the lists differ in length, or the references hold no words.
    """
    refs = [references] if isinstance(references, str) else list(references)
    hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    edits = words = 0
    for r, h in zip(refs, hyps, strict=True):
        rw, hw = normalize_words(r), normalize_words(h)
        edits += edit_distance(rw, hw)
        words += len(rw)
    if words == 0:
        raise ValueError("the references hold no words")
    return edits / words
