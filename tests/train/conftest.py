"""Hand-built shutdown-style records for the training tests (the real generator is another stage)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ajtrain.records import make_record, write_records

TOOLS = [
    {"type": "function", "function": {
        "name": "list_agents", "description": "List machines in the fleet.",
        "parameters": {"type": "object", "properties": {"filter": {"type": "string"}}}}},
    {"type": "function", "function": {
        "name": "shutdown_agent", "description": "Shut down one machine by exact name.",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}},
                       "required": ["name"]}}},
]  # fmt: skip

WORDS = ["web", "db", "cache", "build", "gpu", "mail", "auth", "queue", "batch", "edge"]
ENVS = ["prod", "staging", "dev"]


def call(i: int, name: str, args: dict) -> dict:
    return {"id": f"call_{i}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}  # fmt: skip


def shutdown_record(i: int, rng: random.Random) -> dict:
    """Ask → list_agents → confirm the exact names → 'yes' → shutdown_agent."""
    word = rng.choice(WORDS)
    names = [
        f"{word}-{rng.choice(ENVS)}-{rng.randint(1, 99):02d}" for _ in range(rng.randint(1, 3))
    ]
    target = names[0]
    listing = json.dumps([{"name": n, "status": "running"} for n in names])
    messages = [
        {"role": "system", "content": "You are AJ, an operations agent. Confirm before shutdowns."},
        {"role": "user", "content": f"Please shut down the {word} server."},
        {"role": "assistant", "content": "", "tool_calls": [call(0, "list_agents", {"filter": word})]},
        {"role": "tool", "tool_call_id": "call_0", "name": "list_agents", "content": listing},
        {"role": "assistant", "content": f"I found {', '.join(names)}. Shut down {target}?"},
        {"role": "user", "content": "yes"},
        {"role": "assistant", "content": "",
         "tool_calls": [call(1, "shutdown_agent", {"name": target})]},
        {"role": "tool", "tool_call_id": "call_1", "name": "shutdown_agent",
         "content": json.dumps({"ok": True, "name": target})},
        {"role": "assistant", "content": f"{target} is shut down."},
    ]  # fmt: skip
    return make_record(f"test/shutdown/{i:04d}", "shutdown", "single", TOOLS, messages)


def make_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    return [shutdown_record(i, rng) for i in range(n)]


@pytest.fixture
def records_file(tmp_path: Path) -> Path:
    path = tmp_path / "train.jsonl"
    write_records(path, make_records(120))
    return path


@pytest.fixture
def make_shutdown_records():
    """``make(n, seed=0)`` → hand-built shutdown-style records."""
    return make_records


@pytest.fixture
def tiny_flags() -> dict:
    """TrainConfig overrides for a seconds-long tiny run."""
    return dict(TINY_FLAGS)


TINY_FLAGS = dict(
    tiny_vocab=400, tiny_copy_warmup=0, tiny_hidden=32, tiny_layers=2, tiny_heads=2, tiny_tokenizer_rows=200,
    max_length=512, batch_tokens=2048, logging_steps=1, eval_steps=5, save_steps=5,
    learning_rate=3e-3, threads=2,
)  # fmt: skip
