"""A writer process for the crash and lock tests: ``python kb_writer.py KB_DIR MODE``.

MODE ``loop``: add plan items forever, saving the indexes every 7 adds, and print each
item's id on stdout once ``add()`` has returned (so the parent knows it was committed).
MODE ``hold``: open the store for writing, say ``open``, and sleep.

It embeds with a deterministic hash embedder so the child starts in well under a second
(loading MiniLM in every child would cost seconds); the store under test is the real one.
"""

from __future__ import annotations

import sys
import time
import zlib
from collections.abc import Sequence

import numpy as np

from memory.embedders import TextEmbedder


class HashTextEmbedder(TextEmbedder):
    """One-hot vectors from a CRC of the text: deterministic, instant, 384-d."""

    name = "crc32-onehot"
    dim = 384

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, zlib.crc32(t.encode()) % self.dim] = 1.0
        return out


def main(argv: Sequence[str]) -> int:
    from memory import KnowledgeBase, KnowledgeItem

    path, mode = argv[0], argv[1]
    kb = KnowledgeBase(path, HashTextEmbedder())
    print("open", flush=True)
    if mode == "hold":
        time.sleep(120)
        return 0
    n = 0
    while True:
        item = kb.add(KnowledgeItem("plan", f"rule number {n}", scope={"task_family": "crash test"}))
        print(item.id, flush=True)
        n += 1
        if n % 7 == 0:
            kb.save()


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
