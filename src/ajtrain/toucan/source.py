"""Where Toucan rows come from: the HF hub (streamed) or a local mirror, as raw row dicts.

Both yield the same thing, ``{column: string}`` dicts with the released column names, so
filtering, sampling and conversion are one code path. A local mirror is a folder of parquet
shards (``<Config>/train-000NN-of-000MM.parquet``, as on the hub) or JSONL files (one row object
per line); it is read one record batch at a time, never as a whole table, so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

HUB_REPO = "Agent-Ark/Toucan-1.5M"
CONFIGS = ("Kimi-K2", "OSS", "Qwen3", "SFT")
DEFAULT_CONFIG = "Kimi-K2"  # the original guide's file is toucan_Kimi-K2_trajectories.jsonl
TEACHER_COLUMNS = (
    "uuid",
    "subset_name",
    "messages",
    "question",
    "available_tools",
    "target_tools",
    "question_quality_assessment",
    "response_quality_assessment",
    "metadata",
)
SFT_COLUMNS = ("uuid", "subset_name", "question", "target_tools", "tools", "messages")
# Rows per config in the released dataset (HF card), for progress totals when streaming.
HUB_ROWS = {"Kimi-K2": 518_516, "OSS": 457_130, "Qwen3": 551_613, "SFT": 119_287}
BATCH_ROWS = 256
# Columns only ever parsed as JSON (or passed through): read from parquet as UTF-8 bytes.
JSON_COLUMNS = frozenset(
    (
        "messages",
        "available_tools",
        "tools",
        "question_quality_assessment",
        "response_quality_assessment",
        "metadata",
    )
)


def config_from_name(name: str) -> str | None:
    """The config a folder is named after (``.../Kimi-K2``, ``toucan_oss``), else ``None``."""
    low = name.lower()
    for config in CONFIGS:
        if low == config.lower() or low.endswith(("_" + config.lower(), "-" + config.lower())):
            return config
    return None


def _data_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.parquet")) or sorted(folder.glob("*.jsonl"))
    return [f for f in files if f.is_file()]


@dataclass
class Mirror:
    """A local copy of one config: its shard files, in order."""

    config: str
    files: list[Path]

    @classmethod
    def open(cls, path: str | Path, config: str | None = None) -> Mirror:
        """Find a config's shards under ``path``: a config folder, a mirror root, or one file.

        The config is ``config`` if given, else the folder's name, else the only config folder
        under a mirror root.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such Toucan mirror")
        if path.is_file():
            return cls(config or config_from_name(path.parent.name) or DEFAULT_CONFIG, [path])
        subdirs = {c: path / c for c in CONFIGS if (path / c).is_dir()}
        if config is None and not _data_files(path) and len(subdirs) == 1:
            config = next(iter(subdirs))
        config = config or config_from_name(path.name)
        if config is None:
            found = ", ".join(subdirs) or "none"
            raise ValueError(
                f"{path}: cannot tell the config (folders found: {found}); pass --config"
            )
        folder = subdirs.get(config, path)
        files = _data_files(folder)
        if not files:
            raise FileNotFoundError(f"{folder}: no *.parquet or *.jsonl shards for config {config}")
        return cls(config, files)

    def num_rows(self) -> int | None:
        """Rows in the mirror from parquet footers (free); ``None`` for JSONL."""
        if self.files[0].suffix != ".parquet":
            return None
        import pyarrow.parquet as pq

        return sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)

    def rows(self, columns: Sequence[str] | None = None) -> Iterator[dict]:
        """Yield row dicts (only ``columns`` that the shards have, when given).

        From parquet, the JSON columns (:data:`JSON_COLUMNS`) are UTF-8 ``bytes``; the others,
        and everything from JSONL, are ``str``.
        """
        for f in self.files:
            if f.suffix == ".parquet":
                yield from _parquet_rows(f, columns)
            else:
                yield from _jsonl_rows(f, columns)


def _parquet_rows(path: Path, columns: Sequence[str] | None) -> Iterator[dict]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    cols = [c for c in columns if c in names] if columns is not None else names
    binary = pa.binary()
    as_bytes = [c in JSON_COLUMNS and pf.schema_arrow.field(c).type == pa.string() for c in cols]
    for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols, use_threads=False):
        # JSON columns come out as bytes (a zero-copy view): orjson parses UTF-8 directly, and a
        # str would cost a decode here plus a re-encode inside orjson for non-ASCII text.
        values = [
            (col.view(binary) if raw else col).to_pylist()
            for col, raw in zip(batch.columns, as_bytes, strict=True)
        ]
        for row in zip(*values, strict=True):
            yield dict(zip(cols, row, strict=True))


def _jsonl_rows(path: Path, columns: Sequence[str] | None) -> Iterator[dict]:
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({e})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object per line")
            yield row if columns is None else {c: row[c] for c in columns if c in row}


@dataclass
class Hub:
    """One config of the dataset on the Hugging Face hub, streamed through ``datasets``."""

    config: str
    repo: str = HUB_REPO

    def num_rows(self) -> int | None:
        return HUB_ROWS.get(self.config) if self.repo == HUB_REPO else None

    def rows(self, columns: Sequence[str] | None = None) -> Iterator[dict]:
        """Stream rows (only ``columns``, fetched as parquet column chunks, when given)."""
        import datasets  # heavy: imported only when the hub is actually used

        kwargs = {"columns": list(columns)} if columns is not None else {}
        try:
            ds = datasets.load_dataset(
                self.repo, self.config, split="train", streaming=True, **kwargs
            )
            yield from ds
        except (ConnectionError, OSError) as e:  # offline, proxy, hub outage mid-stream
            raise ValueError(
                f"cannot stream {self.repo} ({self.config}) from the HF hub: {e}. "
                "For a local copy of its parquet shards, pass --source DIR"
            ) from e


def open_source(source: str | None, config: str | None, hub_repo: str = HUB_REPO) -> Mirror | Hub:
    """A local mirror when ``source`` is a path, else the hub."""
    if source:
        return Mirror.open(source, config)
    return Hub(config or DEFAULT_CONFIG, hub_repo)
