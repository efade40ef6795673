"""The default base ``tiny``: a byte-level BPE tokenizer trained on the data, and a small Qwen2 model.

Qwen2 is the architecture so the result loads with ``AutoModelForCausalLM`` and serves in vLLM
with no custom code; sizes are chosen so it trains on two CPU cores in minutes.
"""

from __future__ import annotations

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
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex("\n"), behavior="isolated"),
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
