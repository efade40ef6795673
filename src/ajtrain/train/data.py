"""Records → token ids and labels (loss on assistant tokens only), with counted skips.

``tools`` and tool-call ``arguments`` are parsed per row here, just before rendering: never as
one Arrow table, whose struct unification over thousands of tool schemas is what breaks
(docs/TRAINING_ARCHITECTURE.md, "One record format between every stage"). A bad row is
skipped and counted with its reason and file:line; a bad file is an error.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..records import Record, RecordError, iter_jsonl, parse_tools, validate_record
from ..transcript import load_args
from .template import SpanFinder, boundary_mismatches, token_mask

IGNORE = -100
BOUNDARY_CHECKS = 8  # rows whose every prompt/completion boundary is checked (see tokenize)


class SkipRow(ValueError):
    """A record that cannot be trained on; ``reason`` is its short category for the counts."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        super().__init__(f"{reason}: {detail}")


@dataclass
class Dataset:
    """The records of a run: training rows, validation rows, and where they came from."""

    train: list[tuple[str, Record]]  # (file:line, record)
    val: list[tuple[str, Record]]
    manifest_hash: (
        str  # sha256 of manifest.json when the data is a mix directory, else of the files
    )
    files: list[str]


@dataclass
class TokenStats:
    """What tokenisation did: rows kept, skips by reason, truncations, token counts."""

    rows: int = 0
    kept: int = 0
    truncated: int = 0
    # rows cut at max_length by "source/category", and the assistant tokens the cuts left out:
    # a cut trajectory loses its last turns (a bulk record its confirmation and stops)
    truncated_by: Counter = field(default_factory=Counter)
    cut_trained_tokens: int = 0
    tokens: int = 0
    trained_tokens: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # the first few skip messages
    inexact_template_turns: int = 0
    # assistant turns (of the first BOUNDARY_CHECKS rows) whose generation prompt does not
    # tokenize as a prefix of the trained text: see template.boundary_mismatches
    boundary_mismatch_turns: int = 0

    def skip(self, where: str, err: SkipRow) -> None:
        self.skipped[err.reason] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{where}: {err}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows, "kept": self.kept, "truncated": self.truncated,
            "truncated_by": dict(self.truncated_by.most_common()),
            "cut_trained_tokens": self.cut_trained_tokens,
            "tokens": self.tokens, "trained_tokens": self.trained_tokens,
            "skipped": dict(self.skipped), "skip_examples": self.examples,
            "inexact_template_turns": self.inexact_template_turns,
            "boundary_mismatch_turns": self.boundary_mismatch_turns,
        }  # fmt: skip


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read(path: Path) -> list[tuple[str, Any]]:
    # Structure is checked per row later (a bad row is a counted skip); bad JSON stops here.
    return [(f"{path}:{lineno}", obj) for lineno, obj in iter_jsonl(path)]


def load_dataset(data: str | Path, val_fraction: float, seed: int) -> Dataset:
    """Read ``data``: a JSONL file of records, or a mix directory (train/val.jsonl + manifest).

    Without a ``val.jsonl``, a seeded ``val_fraction`` of the rows is held out for validation.
    """
    data = Path(data)
    if data.is_dir():
        train_path = data / "train.jsonl"
        if not train_path.exists():
            raise FileNotFoundError(
                f"{data}: a data directory must hold train.jsonl (a mix output)"
            )
        val_path, manifest = data / "val.jsonl", data / "manifest.json"
        train = _read(train_path)
        val = _read(val_path) if val_path.exists() else []
        files = [str(p) for p in (train_path, val_path) if p.exists()]
        digest = file_sha256(manifest) if manifest.exists() else file_sha256(train_path)
    else:
        if not data.exists():
            raise FileNotFoundError(f"{data}: no such data file")
        train, val, files, digest = _read(data), [], [str(data)], file_sha256(data)
    if not val and val_fraction > 0 and len(train) > 1:
        order = list(range(len(train)))
        random.Random(seed).shuffle(order)
        n_val = max(1, int(len(train) * val_fraction))
        held = set(order[:n_val])
        val = [train[i] for i in sorted(held)]
        train = [row for i, row in enumerate(train) if i not in held]
    if not train:
        raise ValueError(f"{data}: no training records")
    return Dataset(train=train, val=val, manifest_hash=digest, files=files)


def conversation(obj: Any, where: str) -> tuple[list[dict], list[dict]]:
    """A record's messages (arguments parsed to dicts) and tools (parsed), ready for a template.

    Raises :class:`SkipRow` for rows that can't be trained on: broken structure, no assistant
    turn, invalid JSON in ``tools`` or ``arguments``, or a call to a tool the row doesn't define.
    """
    try:
        record = validate_record(obj, where)
        tools = parse_tools(record)
    except RecordError as e:
        raise SkipRow("invalid record", str(e)) from None
    except ValueError as e:
        raise SkipRow("invalid tools JSON", str(e)) from None
    names = {t.get("function", {}).get("name") for t in tools if isinstance(t, dict)}
    messages, n_assistant = [], 0
    for i, msg in enumerate(record["messages"]):
        msg = dict(msg)
        if msg["role"] == "assistant":
            n_assistant += msg.get("weight", 1) != 0
            calls = []
            for j, call in enumerate(msg.get("tool_calls") or []):
                fn = call["function"]
                if fn["name"] not in names:
                    raise SkipRow(
                        "call to undefined tool", f"messages[{i}].tool_calls[{j}] {fn['name']!r}"
                    )
                try:
                    args = load_args(fn["arguments"])
                except ValueError as e:
                    raise SkipRow(
                        "invalid arguments JSON", f"messages[{i}].tool_calls[{j}]: {e}"
                    ) from None
                calls.append({**call, "function": {"name": fn["name"], "arguments": args}})
            if calls:
                msg["tool_calls"] = calls
            else:
                msg.pop("tool_calls", None)
        messages.append(msg)
    if not n_assistant:
        raise SkipRow("no assistant turn", "nothing to learn from (none, or all of weight 0)")
    return messages, tools


def tokenize(
    rows: list[tuple[str, Any]],
    tokenizer: Any,
    max_length: int,
    batch_size: int = 256,
    loss_on: str = "assistant",
) -> tuple[list[dict[str, list[int]]], TokenStats]:
    """Each trainable row → ``{"input_ids", "labels"}``; labels are ``-100`` off assistant spans
    and on assistant turns of ``weight`` 0 (context, such as the staged mistake a recovery fixes).

    ``loss_on="all"`` labels every token instead (a model trained from scratch also learns from
    the user's and the tools' text); rows still need an assistant turn.

    Rows longer than ``max_length`` are cut at the end and counted; a row with no assistant token
    left after the cut is skipped. Texts are tokenised in batches (the Rust tokenizer's speed).
    """
    from rich.progress import Progress

    stats, out, checked = TokenStats(rows=len(rows)), [], 0
    finder = SpanFinder(tokenizer)
    with Progress(transient=True) as progress:
        task = progress.add_task("tokenising", total=len(rows))
        for lo in range(0, len(rows), batch_size):
            chunk = []
            for where, obj in rows[lo : lo + batch_size]:
                try:
                    messages, tools = conversation(obj, where)
                    text, spans = finder(messages, tools)
                    if checked < BOUNDARY_CHECKS:
                        checked += 1
                        stats.boundary_mismatch_turns += len(
                            boundary_mismatches(finder.render, tokenizer, messages, tools)
                        )
                except SkipRow as e:
                    stats.skip(where, e)
                    continue
                weights = [m.get("weight", 1) for m in messages if m["role"] == "assistant"]
                trained = [s for s, w in zip(spans, weights, strict=True) if w and s[1] > s[0]]
                context = [s for s, w in zip(spans, weights, strict=True) if not w]
                group = f"{source_of(obj)}/{obj.get('category') or '?'}"
                chunk.append((where, text, trained, context, group))
            if chunk:
                enc = tokenizer(
                    [text for _, text, _, _, _ in chunk],
                    add_special_tokens=False,
                    return_offsets_mapping=True,
                )
                for (where, _, spans, context, group), ids, offsets in zip(
                    chunk, enc["input_ids"], enc["offset_mapping"], strict=True
                ):
                    mask = token_mask(offsets, spans)
                    if loss_on == "all" and any(mask):  # all but assistant turns of weight 0
                        mask = [not c for c in token_mask(offsets, context)]
                    example = _example(ids, mask, max_length, stats, group)
                    if example is None:
                        stats.skip(where, SkipRow("no assistant token within max-length", ""))
                    else:
                        out.append(example)
            progress.advance(task, min(batch_size, len(rows) - lo))
    stats.inexact_template_turns = finder.inexact
    return out, stats


def source_of(obj: Any) -> str:
    """A record's ``source`` (shutdown, toucan, ...), ``?`` where it has none."""
    return str(obj.get("source") or "?") if isinstance(obj, dict) else "?"


def by_source(rows: list[tuple[str, Any]]) -> dict[str, list[int]]:
    """The indices of ``(where, record)`` rows by the record's source, in file order."""
    groups: dict[str, list[int]] = {}
    for i, (_, obj) in enumerate(rows):
        groups.setdefault(source_of(obj), []).append(i)
    return groups


def _example(ids: list[int], mask: list[bool], max_length: int, stats: TokenStats, group: str):
    if len(ids) > max_length:
        stats.truncated += 1
        stats.truncated_by[group] += 1
        stats.cut_trained_tokens += sum(mask[max_length:])
        ids, mask = ids[:max_length], mask[:max_length]
    labels = [t if m else IGNORE for t, m in zip(ids, mask, strict=True)]
    labels[0] = IGNORE  # never learn across a packing boundary
    n_trained = sum(1 for x in labels if x != IGNORE)
    if not n_trained:
        return None
    stats.kept += 1
    stats.tokens += len(ids)
    stats.trained_tokens += n_trained
    return {"input_ids": ids, "labels": labels}
