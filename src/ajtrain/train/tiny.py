"""The default base ``tiny``: a byte-level BPE tokenizer trained on the data, and a small Qwen2 model.

Qwen2 is the architecture so the result loads with ``AutoModelForCausalLM`` and serves in vLLM
with no custom code; sizes are chosen so it trains on two CPU cores in minutes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .template import TINY_CHAT_TEMPLATE

PAD, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
# Markup the model emits or reads often: one token each makes the tiny model's job easier.
# Not "special", so decoding with skip_special_tokens keeps them for the eval's parser.
MARKUP_TOKENS = (
    "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>",
    "<tools>", "</tools>", "<think>", "</think>",
)  # fmt: skip


# Identifiers: words with a digit in them (machine names, ids, versions, numbers).
IDENTIFIER = re.compile(r"[A-Za-z0-9_.-]*[0-9][A-Za-z0-9_.-]*")


def without_identifiers(text: str) -> str:
    """``text`` with its identifiers blanked out, for training the tokenizer.

    Names are data to copy, not vocabulary. Trained on names, the BPE learns the training
    fleet's name parts as tokens ("kavo07" → "ka", "vo", "07"), while the held-out benchmark's
    names, from other pools, fall apart into single characters ("smtp" → "s", "m", "t", "p"):
    the model would copy token runs in training and character runs in the benchmark. Without
    identifiers in the tokenizer's text, names of either kind split the same way, and numbers
    into single digits.
    """
    return IDENTIFIER.sub(" ", text)


@dataclass
class TinyShape:
    """The tiny model's size (see ``TrainConfig.tiny_*`` for the flags)."""

    vocab_size: int = 4096
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 3
    max_positions: int = 4096


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> Any:
    """A byte-level BPE tokenizer trained on ``texts``, with the tiny chat template inside."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Each newline is its own token: the generation prompt ends in "assistant\n" and a reply may
    # start with "\n", so "\n\n" as one token would differ between training and generation.
    # Each space is its own token too, so a word has the same tokens after a space as after a
    # quote: "domain02" in a tool result and in "Shut down domain02" are then one token sequence,
    # and copying a name the model has never seen is copying token ids (the held-out benchmark's
    # names are all new). It costs about a quarter more tokens.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\n"), behavior="isolated"),
        pre_tokenizers.Split(Regex(" "), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])  # fmt: skip
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, IM_START, IM_END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in MARKUP_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=IM_END,
        pad_token=PAD,
        model_max_length=1_000_000,
        clean_up_tokenization_spaces=False,
    )
    fast.chat_template = TINY_CHAT_TEMPLATE
    return fast


def new_model(tokenizer: Any, shape: TinyShape, seed: int) -> Any:
    """A Qwen2 causal LM with random weights, sized by ``shape``, matching ``tokenizer``."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    head_dim = shape.hidden_size // shape.num_heads
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=shape.hidden_size,
        intermediate_size=shape.hidden_size * 3,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=max(1, shape.num_heads // 2),
        head_dim=head_dim,
        max_position_embeddings=shape.max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


@dataclass
class WarmupResult:
    steps: int
    seconds: float
    copy_accuracy: float  # on held-out drills from the whole vocabulary, at the last check
    small_steps: int = 0  # steps of the second phase (runs from small alphabets)
    small_copy_accuracy: float = 0.0  # on held-out drills of the second phase


def copy_warmup(
    model: Any,
    tokenizer: Any,
    max_steps: int,
    seed: int,
    target: float = 0.95,
    max_seconds: float = 0.0,
    show_progress: bool = True,
    log: Any = None,
) -> WarmupResult:
    """Teach a from-scratch model to copy from its context before it sees the data.

    A pretrained base already copies: names, ids and paths from a tool result into a call. The
    tiny model starts with random weights, and copying needs an *induction head* (two attention
    layers working together) that forms abruptly, late and at random in training; on the shutdown
    data alone it did not form within the CPU demo's minutes. These drills are pure copying: a
    random run of 8–30 token ids, 0–20 random ids, the same run again, with the loss on the
    repeat. Batches of 8 drills make the head form in one to two minutes on 2 CPU cores. The
    drills are random ids: nothing of the data or the benchmark.

    Two phases. First, runs from the whole vocabulary, until the copy accuracy on held-out
    drills (checked every 100 steps) reaches ``target`` or ``max_steps`` pass. A token then
    rarely repeats, so "the token after the last occurrence of the current one" is enough.
    Names are not like that: "staging-wiki-23" next to "staging-wiki-32" repeats its pieces, and
    only the tokens before the current one tell which copy goes on. So, second, for a quarter of
    ``max_steps`` more, half the drills draw run and filler from an alphabet of 3–12 ids. (Mixed
    in from the start, these kept the head from forming at all.) ``max_seconds`` (if > 0) bounds
    both. Deterministic for a seed unless the time limit ends it.
    """
    import time

    import torch

    gen = torch.Generator().manual_seed(seed)
    special = set(tokenizer.all_special_ids)
    pool = torch.tensor([i for i in range(len(tokenizer)) if i not in special])

    def draw(n: int, ids: Any) -> list[int]:
        return ids[torch.randint(len(ids), (n,), generator=gen)].tolist()

    def drills(n: int, small: float = 0.0) -> tuple[Any, Any, Any]:
        rows = []
        for _ in range(n):
            k = 8 + int(torch.randint(0, 23, (), generator=gen))  # 8..30 ids
            gap = int(torch.randint(0, 21, (), generator=gen))  # 0..20 ids between
            ids = pool
            if float(torch.rand((), generator=gen)) < small:
                size = 3 + int(torch.randint(0, 10, (), generator=gen))  # 3..12 ids
                ids = pool[torch.randperm(len(pool), generator=gen)[:size]]
            run, noise = draw(k, ids), draw(gap, ids)
            rows.append((run + noise + run, len(run) + len(noise)))
        # Padded here with an explicit attention mask, not with the training collator (no mask,
        # the fused kernel): one demo run with the collator reached 96% on the drills but then
        # did not copy on the data (val loss 0.81); four runs with the mask all did (0.13-0.2).
        # Numerically the two differ only in rounding, so this may be chance: not yet understood.
        width = max(len(r) for r, _ in rows)
        ids = torch.full((n, width), tokenizer.pad_token_id)
        labels = torch.full((n, width), -100)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, (row, start) in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
            labels[i, start + 1 : len(row)] = ids[i, start + 1 : len(row)]  # the repeat
        return ids, mask, labels

    from rich.progress import Progress

    probe, small_probe = drills(64), drills(64, small=1.0)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    model.train()
    t0 = time.monotonic()

    def out_of_time() -> bool:
        return max_seconds > 0 and time.monotonic() - t0 > max_seconds

    def phase(progress: Progress, label: str, limit: int, small: float, check: tuple,
              stop_at: float | None = None) -> tuple[int, float]:  # fmt: skip
        """Up to ``limit`` steps; the copy accuracy on ``check`` every 100 steps and at the end."""
        task, done, acc = progress.add_task(label, total=limit), 0, 0.0
        while done < limit and not out_of_time():
            ids, mask, labels = drills(8, small)
            model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            done += 1
            if done % 100 == 0 or done == limit:
                acc = _copy_accuracy(model, *check)
                progress.update(task, completed=done, description=f"{label} (copies {acc:.0%})")
                if log is not None and done % 500 == 0:  # a plain line for logs off a terminal
                    log(f"{label}: step {done}/{limit}, copies {acc:.0%}, "
                        f"{time.monotonic() - t0:.0f} s")  # fmt: skip
                if stop_at is not None and acc >= stop_at:
                    break
        return done, acc

    with Progress(transient=True, disable=not show_progress) as progress:
        step, acc = phase(progress, "copy drills", max_steps, 0.0, probe, stop_at=target)
        small_steps, small_acc = 0, 0.0
        if acc >= target:
            small_steps, small_acc = phase(
                progress, "copy drills, small alphabets", max_steps // 4, 0.5, small_probe
            )
            acc = _copy_accuracy(model, *probe)
    model.zero_grad(set_to_none=True)
    return WarmupResult(step, time.monotonic() - t0, acc, small_steps, small_acc)


def _copy_accuracy(model: Any, ids: Any, mask: Any, labels: Any) -> float:
    import torch

    with torch.no_grad():
        pred = model(input_ids=ids, attention_mask=mask).logits[:, :-1].argmax(-1)
    target = labels[:, 1:]
    keep = target != -100
    return float((pred[keep] == target[keep]).float().mean())
