"""Retraining the high-level policy on episode logs (``robot-agent train``, :mod:`robot_agent.cli.train`).

The examples are the SFT examples of :mod:`robot_agent.logs.export`. :func:`train_policy`
fine-tunes the local policy model (SmolLM2-135M by default) with a LoRA adapter (peft) on
the CPU: the loss is the negative log-likelihood of the target step
(and its closing newline) after the prompt the planner renders, the very quantity the
planner ranks candidates by (:meth:`LocalChatModel.score_continuations`). Examples that
carry the step the policy had chosen instead (``rejected``: corrections, and the first
hindsight step) add a pairwise term, ``-log sigmoid(beta * (mean log-prob of the target -
mean log-prob of the rejected step))``: the planner ranks candidates by exactly that mean,
so the term trains the decision itself. ``--rename`` adds copies of each example with the
scene's object names replaced consistently (prompt, plan so far, target, rejected step), so
the model learns from the object descriptions and rules rather than memorising names.

The out directory holds the adapter (``adapter_config.json``, ``adapter_model.safetensors``:
set ``policy.adapter_path`` to the directory to plan with it), ``training.json`` (what was
trained on, losses, time), the exported data under ``data/``, and ``checkpoint/`` (adapter,
optimizer state, step). Running ``train`` again with the same out continues from the
checkpoint; with ``--steps`` larger than what is done, it trains the difference.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from robot_agent.deps import require
from robot_agent.logs.export import SFTExample

log = logging.getLogger(__name__)

#: modules LoRA adapts (attention projections of the Llama-style SmolLM2)
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj")
CHECKPOINT = "checkpoint"
STATE_NAME = "state.json"


@dataclass
class TrainSettings:
    """Hyper-parameters of one training run.

    Attributes:
        steps: optimizer steps in all (0: ``epochs`` passes over the data).
        epochs: passes over the training examples when ``steps`` is 0.
        batch_size: examples per step.
        lr: AdamW learning rate.
        rank / alpha: LoRA rank and scale.
        correction_weight: how many times each ``correction`` or ``hindsight`` example is
            repeated per epoch (they are few, and they are what the policy must learn).
        pairwise_weight: weight of the pairwise term for examples with a ``rejected`` step
            (0: plain SFT).
        beta: scale of the mean log-prob difference inside the pairwise term.
        rename: renamed copies of each example per epoch (0: none).
        seed: data order and LoRA initialisation.
        save_every: write the checkpoint every N steps (and at the end).
        threads: torch CPU threads (0: leave torch's setting).
    """

    steps: int = 0
    epochs: int = 3
    batch_size: int = 4
    lr: float = 2e-4
    rank: int = 8
    alpha: int = 16
    correction_weight: int = 3
    pairwise_weight: float = 1.0
    beta: float = 5.0
    rename: int = 0
    seed: int = 0
    save_every: int = 20
    threads: int = 0

    def check(self) -> None:
        """Raises ValueError naming the first bad setting."""
        if self.steps < 0 or self.epochs < 1 or self.batch_size < 1 or self.rank < 1 or self.alpha < 1:
            raise ValueError("steps must be >= 0; epochs, batch_size, rank and alpha >= 1")
        if not (math.isfinite(self.lr) and 0 < self.lr < 1):
            raise ValueError(f"lr must be in (0, 1), got {self.lr!r}")
        if self.correction_weight < 1 or self.save_every < 1 or self.threads < 0:
            raise ValueError("correction_weight and save_every must be >= 1, threads >= 0")
        if not (math.isfinite(self.pairwise_weight) and self.pairwise_weight >= 0):
            raise ValueError(f"pairwise_weight must be >= 0, got {self.pairwise_weight!r}")
        if not (math.isfinite(self.beta) and self.beta > 0):
            raise ValueError(f"beta must be > 0, got {self.beta!r}")
        if not 0 <= self.rename <= 16:
            raise ValueError(f"rename must be in [0, 16], got {self.rename!r}")


def render_prompt(tokenizer: Any, messages: Sequence[tuple[str, str]]) -> str:
    """The chat prompt exactly as :class:`LocalChatModel` renders it (assistant turn opened)."""
    msgs = [{"role": r, "content": c} for r, c in messages]
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    return "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant: "


def encode_example(tokenizer: Any, ex: SFTExample, completion: str | None = None) -> tuple[list[int], list[int]]:
    """(input ids, labels): labels are -100 on the prompt, the target's ids on the step + newline.

    Tokenized the way scoring tokenizes it: the whole text at once, the candidate being the
    tokens after the prompt's.

    Args:
        completion: the step to encode (default ``ex.completion``; the rejected step for the
            pairwise term).
    """
    step = ex.completion if completion is None else completion
    prompt = render_prompt(tokenizer, ex.messages) + ex.prefix
    p_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    full = list(tokenizer(prompt + step + "\n", add_special_tokens=False)["input_ids"])
    if full[: len(p_ids)] != p_ids:  # a merge across the boundary: score it as scoring would
        full = p_ids + list(tokenizer(step + "\n", add_special_tokens=False)["input_ids"])
    labels = [-100] * len(p_ids) + full[len(p_ids) :]
    return full, labels


#: neutral tags renamed objects get in place of their first word(s) ("red_block" -> "block_c")
_RENAME_TAGS = ("a", "b", "c", "d", "1", "2", "3", "4", "left", "right", "front", "back", "x", "y", "one", "two")


def scene_names(ex: SFTExample) -> list[str]:
    """Object names of an example's scene: the ``name: description`` lines of the user turn."""
    user = "\n".join(c for r, c in ex.messages if r == "user")
    names: list[str] = []
    inside = False
    for line in user.splitlines():
        if line == "Objects:":
            inside = True
        elif inside and (line.startswith("Task:") or line == "Rules:"):
            break
        elif inside and ": " in line:
            names.append(line.split(": ", 1)[0].strip())
    return [n for n in names if n]


def rename_example(ex: SFTExample, rng: random.Random) -> SFTExample:
    """``ex`` with every object name replaced by a fresh one, consistently in the messages,
    the plan so far, the target and the rejected step.

    A new name keeps the old one's last word (its kind: ``block``, ``bin``, ``cabinet``) with a
    neutral tag (``block_c``, ``right_bin``), so colour words in names carry no signal and the
    object lines' descriptions (``red cube block``) are what tells the objects apart.
    """
    import re

    names = scene_names(ex)
    if not names:
        return ex
    taken = set(names)
    mapping: dict[str, str] = {}
    for n in names:
        kind = n.rsplit("_", 1)[-1] if "_" in n else n
        for _ in range(64):
            tag = rng.choice(_RENAME_TAGS)
            new = f"{kind}_{tag}" if rng.random() < 0.5 else f"{tag}_{kind}"
            if new not in taken:
                break
        else:
            new = f"{kind}_{len(taken)}"
        taken.add(new)
        mapping[n] = new
    pattern = re.compile(
        r"(?<![\w])(" + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) + r")(?![\w])"
    )

    def sub(text: str) -> str:
        return pattern.sub(lambda m: mapping[m.group(1)], text)

    def sub_user(text: str) -> str:
        # Only from the object lines on: the skill lines are the skills' own words ("a drawer's
        # handle"), and a scene object called "drawer" must not rewrite them.
        head, sep, tail = text.partition("Objects:\n")
        return head + sep + sub(tail) if sep else sub(text)

    messages = [(r, sub_user(c) if r == "user" else c) for r, c in ex.messages]
    return SFTExample(
        messages,
        sub(ex.prefix),
        sub(ex.completion),
        ex.kind,
        ex.episode_id,
        ex.log,
        ex.t_ns,
        ex.task,
        ex.correction,
        ex.split,
        sub(ex.rejected) if ex.rejected is not None else None,
    )


def _data_digest(examples: Sequence[SFTExample]) -> str:
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps(ex.to_dict(), sort_keys=True).encode("utf8"))
    return h.hexdigest()[:16]


#: an item of a batch: (example index, variant); variant 0 is the example as exported, k > 0 its
#: k-th renamed copy
Item = tuple[int, int]


def _order(n_examples: int, weights: Sequence[int], seed: int, epoch: int, rename: int = 0) -> list[Item]:
    idx = [(i, v) for i in range(n_examples) for _ in range(weights[i]) for v in range(rename + 1)]
    random.Random(seed * 1_000_003 + epoch).shuffle(idx)  # noqa: S311 - seeded example order, not security
    return idx


def _weight(ex: SFTExample, settings: TrainSettings) -> int:
    return settings.correction_weight if ex.kind in ("correction", "hindsight") else 1


def _batches(examples: Sequence[SFTExample], settings: TrainSettings) -> tuple[list[list[Item]], int]:
    """Every step's items (deterministic: a resumed run sees the same batches)."""
    weights = [_weight(ex, settings) for ex in examples]
    per_epoch = math.ceil(sum(weights) * (settings.rename + 1) / settings.batch_size)
    total = settings.steps or per_epoch * settings.epochs
    out: list[list[Item]] = []
    epoch = 0
    while len(out) < total:
        order = _order(len(examples), weights, settings.seed, epoch, settings.rename)
        out += [order[i : i + settings.batch_size] for i in range(0, len(order), settings.batch_size)]
        epoch += 1
    return out[:total], total


def _variant(examples: Sequence[SFTExample], item: Item, seed: int) -> SFTExample:
    """The example an item names (a renamed copy is a function of the seed, index and variant)."""
    i, v = item
    if v == 0:
        return examples[i]
    return rename_example(examples[i], random.Random(f"{seed}/{i}/{v}"))  # noqa: S311 - seeded, not security


def _shifted_logits(
    torch: Any, model: Any, encoded: Sequence[tuple[list[int], list[int]]], pad_id: int
) -> tuple[Any, Any]:
    """One right-padded forward pass: (logits predicting each next token, their labels; -100 = ignore)."""
    width = max(len(ids) for ids, _ in encoded)
    ids = torch.full((len(encoded), width), pad_id, dtype=torch.long)
    labels = torch.full((len(encoded), width), -100, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, (x, y) in enumerate(encoded):
        ids[i, : len(x)] = torch.tensor(x)
        labels[i, : len(y)] = torch.tensor(y)
        mask[i, : len(x)] = 1
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1].float()
    return logits, labels[:, 1:]


def _mean_logprobs(torch: Any, model: Any, encoded: Sequence[tuple[list[int], list[int]]], pad_id: int) -> Any:
    """Each row's mean target-token log-prob (what the planner ranks by), one right-padded pass."""
    logits, target = _shifted_logits(torch, model, encoded, pad_id)
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    valid = (target != -100).float()
    return (picked * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)


def batch_loss(
    torch: Any, model: Any, tok: Any, batch: Sequence[SFTExample], pad_id: int, settings: TrainSettings
) -> tuple[Any, dict[str, float]]:
    """The training loss of one batch: SFT (mean over examples of the target's mean token NLL)
    plus ``pairwise_weight`` times the pairwise term over the examples with a rejected step.

    Returns:
        (loss tensor, parts: ``sft`` and ``pairwise`` (None-free floats; 0 when absent)).
    """
    chosen = [encode_example(tok, ex) for ex in batch]
    paired = [ex for ex in batch if ex.rejected and ex.rejected != ex.completion] if settings.pairwise_weight else []
    rows = chosen + [encode_example(tok, ex) for ex in paired] + [encode_example(tok, ex, ex.rejected) for ex in paired]
    lp = _mean_logprobs(torch, model, rows, pad_id)
    n, k = len(chosen), len(paired)
    sft = -lp[:n].mean()
    loss = sft
    parts = {"sft": float(sft.detach()), "pairwise": 0.0}
    if k:
        diff = lp[n : n + k] - lp[n + k :]
        pair = -torch.nn.functional.logsigmoid(settings.beta * diff).mean()
        loss = loss + settings.pairwise_weight * pair
        parts["pairwise"] = float(pair.detach())
    return loss, parts


def pairwise_margin(torch: Any, model: Any, tok: Any, examples: Sequence[SFTExample], pad_id: int) -> float | None:
    """Mean over examples with a rejected step of (mean log-prob of the target - of the rejected step)."""
    paired = [ex for ex in examples if ex.rejected and ex.rejected != ex.completion]
    if not paired:
        return None
    was_training = model.training
    model.eval()
    diffs: list[float] = []
    with torch.no_grad():
        for b0 in range(0, len(paired), 8):
            group = paired[b0 : b0 + 8]
            lp = _mean_logprobs(
                torch,
                model,
                [encode_example(tok, ex) for ex in group] + [encode_example(tok, ex, ex.rejected) for ex in group],
                pad_id,
            )
            diffs += (lp[: len(group)] - lp[len(group) :]).tolist()
    if was_training:
        model.train()
    return sum(diffs) / len(diffs)


def _eval_loss(
    torch: Any, model: Any, encoded: Sequence[tuple[list[int], list[int]]], pad_id: int, batch: int = 8
) -> float | None:
    """Mean over examples of each example's mean target-token NLL (batched, no gradients)."""
    if not encoded:
        return None
    model.eval()
    per_example: list[float] = []
    with torch.no_grad():
        for b0 in range(0, len(encoded), batch):
            logits, target = _shifted_logits(torch, model, encoded[b0 : b0 + batch], pad_id)
            nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, ignore_index=-100, reduction="none")
            counts = (target != -100).sum(dim=1).clamp(min=1)
            per_example += (nll.sum(dim=1) / counts).tolist()
    model.train()
    return sum(per_example) / len(per_example)


def _save_checkpoint(torch: Any, out: Path, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
    """Write the checkpoint next to the old one and swap it in: an interruption while
    saving leaves the previous checkpoint whole."""
    tmp = out / (CHECKPOINT + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(str(tmp))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    (tmp / STATE_NAME).write_text(json.dumps(state, indent=2), encoding="utf8")
    final = out / CHECKPOINT
    old = out / (CHECKPOINT + ".old")
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)


def train_policy(
    train: Sequence[SFTExample],
    out_dir: str | Path,
    *,
    config: Any = None,
    val: Sequence[SFTExample] = (),
    settings: TrainSettings | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Fine-tune the local policy model on SFT examples with LoRA, resuming a checkpoint in ``out_dir``.

    Args:
        train / val: examples (``val`` only measured, before and after).
        out_dir: where the adapter, checkpoint and ``training.json`` go.
        config: the agent (or policy) config naming the base model; default ``config/agent.yaml``.
        settings: hyper-parameters.
        progress: show a tqdm progress bar (on ``stream``, default stderr).

    Returns:
        The report also written to ``training.json``.

    Raises:
        ValueError: no training examples, bad settings, or a checkpoint from other data or settings.
        PolicyError: the base model cannot be loaded.
    """
    from robot_agent.config import AgentConfig
    from robot_agent.errors import PolicyError
    from robot_agent.policy.backends import policy_config, resolve_model_dir

    settings = settings or TrainSettings()
    settings.check()
    if not train:
        raise ValueError("no training examples: the logs hold no executed plan step")
    torch = require("torch", "training the policy")
    transformers = require("transformers", "training the policy")
    peft = require("peft", "training the policy (LoRA)")
    tqdm = require("tqdm", "the training progress bar").tqdm
    pcfg = policy_config(config or AgentConfig.load())
    if settings.threads:
        torch.set_num_threads(settings.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    base_dir = resolve_model_dir(pcfg.model_path, pcfg.cache_path)
    try:
        tok = transformers.AutoTokenizer.from_pretrained(str(base_dir))
        base = transformers.AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise PolicyError(f"{base_dir}: cannot load the model: {exc}") from exc
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    digest = _data_digest(train)
    batches, total = _batches(train, settings)
    ckpt = out / CHECKPOINT
    start = 0
    fingerprint = {
        "data": digest,
        "rank": settings.rank,
        "alpha": settings.alpha,
        "batch_size": settings.batch_size,
        "seed": settings.seed,
        "correction_weight": settings.correction_weight,
        "base": str(base_dir),
        "pairwise_weight": settings.pairwise_weight,
        "beta": settings.beta,
        "rename": settings.rename,
    }
    torch.manual_seed(settings.seed)
    if (ckpt / STATE_NAME).is_file():
        state = json.loads((ckpt / STATE_NAME).read_text(encoding="utf8"))
        if state.get("fingerprint") != fingerprint:
            diff = sorted(k for k in fingerprint if state.get("fingerprint", {}).get(k) != fingerprint[k])
            raise ValueError(
                f"{ckpt}: the checkpoint was trained with other {', '.join(diff)}; "
                f"use a new --out directory (or delete {ckpt}) to start over"
            )
        model = peft.PeftModel.from_pretrained(base, str(ckpt), is_trainable=True)
        start = int(state["step"])
    else:
        lora = peft.LoraConfig(
            r=settings.rank,
            lora_alpha=settings.alpha,
            lora_dropout=0.0,
            target_modules=list(LORA_TARGETS),
            task_type="CAUSAL_LM",
        )
        model = peft.get_peft_model(base, lora)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.lr)
    if start and (ckpt / "optimizer.pt").is_file():
        # weights_only: a state dict of tensors and numbers, nothing executable.
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    encoded = [encode_example(tok, ex) for ex in train]
    val_enc = [encode_example(tok, ex) for ex in val]
    prev = json.loads((out / "training.json").read_text(encoding="utf8")) if (out / "training.json").is_file() else {}
    val_before = prev.get("val_loss_before") if start else _eval_loss(torch, model, val_enc, pad_id)
    train_before = prev.get("train_loss_before") if start else _eval_loss(torch, model, encoded, pad_id)
    margin_before = prev.get("pairwise_margin_before") if start else pairwise_margin(torch, model, tok, train, pad_id)
    losses: list[float] = []
    bar = tqdm(
        total=total,
        initial=start,
        desc="training policy (LoRA)",
        unit="step",
        disable=not progress,
        file=stream or sys.stderr,
    )
    try:
        for step in range(start, total):
            loss, _parts = batch_loss(
                torch, model, tok, [_variant(train, it, settings.seed) for it in batches[step]], pad_id, settings
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if (step + 1) % settings.save_every == 0 or step + 1 == total:
                _save_checkpoint(
                    torch, out, model, optimizer, {"step": step + 1, "total": total, "fingerprint": fingerprint}
                )
    finally:
        bar.close()
    model.save_pretrained(str(out))
    train_s = time.monotonic() - t_start
    report = {
        "base_model": str(base_dir),
        "examples": len(train),
        "val_examples": len(val),
        "corrections": sum(ex.kind == "correction" for ex in train),
        "hindsight": sum(ex.kind == "hindsight" for ex in train),
        "steps": total,
        "resumed_from": start,
        "settings": settings.__dict__,
        "train_loss_before": train_before,
        "train_loss_after": _eval_loss(torch, model, encoded, pad_id),
        "val_loss_before": val_before,
        "val_loss_after": _eval_loss(torch, model, val_enc, pad_id),
        "pairwise_examples": sum(bool(ex.rejected and ex.rejected != ex.completion) for ex in train),
        "pairwise_margin_before": margin_before,
        "pairwise_margin_after": pairwise_margin(torch, model, tok, train, pad_id),
        "last_losses": [round(v, 4) for v in losses[-5:]],
        "seconds": round(train_s + float(prev.get("seconds", 0.0) if start else 0.0), 1),
        "seconds_this_run": round(train_s, 1),
        "cpu_threads": torch.get_num_threads(),
    }
    (out / "training.json").write_text(json.dumps(report, indent=2), encoding="utf8")
    return report
