"""Synthetic knowledge-base vectors shaped like MiniLM sentence embeddings (benchmarks and tests).

Real embeddings are neither uniform nor isotropic: sentences about the same situation sit
together, and most of the variance lies in a few dozen directions. Measured on 4,000 distinct
robot-correction sentences from a template grammar (skills x colours x sizes x objects x places,
embedded with all-MiniLM-L6-v2): mean vector norm 0.55, average pairwise cosine 0.30, covariance
spectrum decaying about as k^-2.2 with a participation ratio of 39 (95% of the variance in 63 of
the 384 dimensions), nearest-neighbour cosine 0.81 / 0.88 / 0.97 (10th / 50th / 90th percentile).

:class:`MiniLMLike` draws vectors with the same mean norm and average cosine but a *flatter*
spectrum (k^-1.5, participation ratio 59) and *looser* neighbourhoods (nearest-neighbour cosine
0.61 / 0.67 / 0.76 on a 4,000-vector sample), so it is harder for an approximate index than the
sentences it imitates. (Isotropic Gaussian clusters, which no text model produces, are no fair
stand-in either way: at 1M HNSW found 0.81 of their exact top 10, IVF all of it.) Three levels:
topics (one per 1,000 items), situations within a topic (one per 10 items: an operator correcting
the same thing on similar objects), and the item itself. Shares of the non-mean variance:
topic 0.35, situation 0.30, item 0.35.

Queries are new draws from the same process (a new sentence about a known situation), never
stored vectors or copies of them.
"""

from __future__ import annotations

import numpy as np

ALPHA, K0 = 1.5, 10.0  #: covariance spectrum (k + K0)^-ALPHA
SHARES = (0.35, 0.30, 0.35)  #: variance shares of topic, situation, item
MEAN_NORM, SPREAD = 0.55, 0.83  #: the mean direction's weight, and the deviation's
PER_TOPIC, PER_SITUATION = 1000, 10


class MiniLMLike:
    """A fixed draw of the generator for ``n`` items of dimension ``dim`` (seeded)."""

    def __init__(self, n: int, dim: int = 384, seed: int = 0) -> None:
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        basis, _ = np.linalg.qr(self.rng.standard_normal((dim, dim)))
        lam = (np.arange(1, dim + 1) + K0) ** -ALPHA
        self.basis = basis.astype(np.float32)
        self.scale = np.sqrt(lam / lam.sum()).astype(np.float32)
        mean = self.rng.standard_normal(dim)
        self.mean = (MEAN_NORM * mean / np.linalg.norm(mean)).astype(np.float32)
        n_topics = max(20, n // PER_TOPIC)
        n_situations = max(n_topics, n // PER_SITUATION)
        topics = self._gauss(n_topics)
        self.situations = (
            np.sqrt(SHARES[0]) * topics[self.rng.integers(0, n_topics, n_situations)]
            + np.sqrt(SHARES[1]) * self._gauss(n_situations)
        ).astype(np.float32)

    def _gauss(self, m: int) -> np.ndarray:
        return (self.rng.standard_normal((m, self.dim), dtype=np.float32) * self.scale) @ self.basis.T

    def draw(self, m: int) -> np.ndarray:
        """``m`` unit vectors (float32), generated in chunks of 100,000 (bounded memory at 1M)."""
        out = np.empty((m, self.dim), dtype=np.float32)
        for s in range(0, m, 100_000):
            c = min(100_000, m - s)
            x = self.situations[self.rng.integers(0, len(self.situations), c)]
            x = self.mean + SPREAD * (x + np.sqrt(SHARES[2]) * self._gauss(c))
            out[s : s + c] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out
