"""Where Toucan rows come from: the HF hub or a local mirror, as raw row dicts.

Both yield the same thing, ``{column: string}`` dicts with the released column names, so
filtering, sampling and conversion are one code path. Parquet shards (``<Config>/train-000NN-of-
000MM.parquet``, on the hub or in a local mirror) are one class, :class:`Shards`, over a
filesystem: the local disk, or the hub through ``huggingface_hub.HfFileSystem`` (HTTP range
reads), so a sample reads only the row groups it draws from (:mod:`ajtrain.toucan.sample`). A
local mirror may also be JSONL files (one row object per line), which are read whole. Either way
rows are read one record batch at a time, never as a whole table, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class RowGroup:
    """One parquet row group: the unit a sample reads (its row count is in the file's footer)."""

    file: str
    index: int
    rows: int


class _Counted:
    """A file that adds every byte handed to its reader (pyarrow) to ``shards.bytes_read``."""

    def __init__(self, fh, shards: Shards) -> None:
        self._fh, self._shards = fh, shards

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        self._shards.bytes_read += len(data)
        return data

    def __getattr__(self, name: str):  # seek, tell, closed, close, ... of the real file
        return getattr(self._fh, name)


@dataclass
class Shards:
    """One config's parquet shards on a filesystem: the local disk (``fs=None``) or any fsspec
    filesystem, e.g. the HF hub's. ``bytes_read`` counts the bytes read from them, footers
    included."""

    config: str
    files: list[str]
    fs: Any = None
    bytes_read: int = 0
    _footers: dict[str, Any] = field(default_factory=dict, repr=False)
    _groups: list[RowGroup] | None = field(default=None, repr=False)

    @contextlib.contextmanager
    def _open(self, path: str) -> Iterator[Any]:
        """The shard as a ``pyarrow.parquet.ParquetFile`` (its footer read once per load)."""
        import pyarrow.parquet as pq

        try:
            with open(path, "rb") if self.fs is None else self.fs.open(path, "rb") as fh:
                pf = pq.ParquetFile(_Counted(fh, self), metadata=self._footers.get(path))
                self._footers[path] = pf.metadata
                yield pf
        except _network_errors() as e:
            if self.fs is None:
                raise
            raise ValueError(  # offline, proxy, hub outage mid-stream
                f"cannot read {path} from the HF hub: {e}. "
                "For a local copy of its parquet shards, pass --source DIR"
            ) from e

    def row_groups(self) -> list[RowGroup]:
        """Every row group of every shard, in stream order (reads only the footers, once)."""
        if self._groups is None:
            self._groups = []
            for f in self.files:
                with self._open(f) as pf:
                    meta = pf.metadata
                n = meta.num_row_groups
                self._groups += [RowGroup(f, i, meta.row_group(i).num_rows) for i in range(n)]
        return self._groups

    def num_rows(self) -> int:
        return sum(g.rows for g in self.row_groups())

    def rows(
        self, columns: Sequence[str] | None = None, groups: Sequence[RowGroup] | None = None
    ) -> Iterator[dict]:
        """Yield row dicts of ``groups`` (default: all, in order), only ``columns`` when given.

        The JSON columns (:data:`JSON_COLUMNS`) come out as UTF-8 ``bytes``, the others as ``str``.
        """
        if groups is None:
            groups = self.row_groups()
        by_file: dict[str, list[int]] = {}
        for g in groups:
            by_file.setdefault(g.file, []).append(g.index)
        for f, indices in by_file.items():
            with self._open(f) as pf:
                yield from _parquet_rows(pf, columns, indices)


def _parquet_rows(pf, columns: Sequence[str] | None, row_groups: list[int]) -> Iterator[dict]:
    import pyarrow as pa

    names = pf.schema_arrow.names
    cols = [c for c in columns if c in names] if columns is not None else names
    binary = pa.binary()
    as_bytes = [c in JSON_COLUMNS and pf.schema_arrow.field(c).type == pa.string() for c in cols]
    batches = pf.iter_batches(
        batch_size=BATCH_ROWS, columns=cols, row_groups=row_groups, use_threads=False
    )
    for batch in batches:
        # JSON columns come out as bytes (a zero-copy view): orjson parses UTF-8 directly, and a
        # str would cost a decode here plus a re-encode inside orjson for non-ASCII text.
        values = [
            (col.view(binary) if raw else col).to_pylist()
            for col, raw in zip(batch.columns, as_bytes, strict=True)
        ]
        for row in zip(*values, strict=True):
            yield dict(zip(cols, row, strict=True))


@dataclass
class JsonlFiles:
    """A local mirror of JSONL files: no row groups, so a sample scans it whole."""

    config: str
    files: list[Path]
    bytes_read: int = 0

    def row_groups(self) -> None:
        return None

    def num_rows(self) -> None:
        return None

    def rows(self, columns: Sequence[str] | None = None) -> Iterator[dict]:
        for f in self.files:
            self.bytes_read += f.stat().st_size
            yield from _jsonl_rows(f, columns)


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


def open_mirror(path: str | Path, config: str | None = None) -> Shards | JsonlFiles:
    """Find a config's shards under ``path``: a config folder, a mirror root, or one file.

    The config is ``config`` if given, else the folder's name, else the only config folder
    under a mirror root.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such Toucan mirror")
    if path.is_file():
        config, files = config or config_from_name(path.parent.name) or DEFAULT_CONFIG, [path]
    else:
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
    if files[0].suffix == ".parquet":
        return Shards(config, [str(f) for f in files])
    return JsonlFiles(config, files)


def _network_errors() -> tuple[type[BaseException], ...]:
    """What an unreachable hub raises: OSError, or the HTTP client's own errors (not OSError)."""
    errors: list[type[BaseException]] = [OSError]
    for module in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(module).HTTPError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


def open_hub(config: str, repo: str = HUB_REPO, fs: Any = None) -> Shards:
    """The config's parquet shards on the HF hub (``repo`` may carry ``@revision``), read with
    ``HfFileSystem`` range requests. ``fs`` replaces the hub's filesystem (tests use local disk)."""
    if fs is None:
        try:
            from huggingface_hub import HfFileSystem
        except ImportError as e:
            raise ValueError(
                "reading the HF hub needs huggingface_hub (pip install 'ajtrain[train]'), "
                "or pass --source DIR for a local mirror"
            ) from e
        fs = HfFileSystem()
    pattern = f"datasets/{repo}/{config}/*.parquet"
    try:
        files = sorted(fs.glob(pattern))
    except _network_errors() as e:  # offline, proxy, hub outage
        raise ValueError(
            f"cannot reach {repo} ({config}) on the HF hub: {e}. "
            "For a local copy of its parquet shards, pass --source DIR"
        ) from e
    if not files:
        raise ValueError(f"hf://{pattern}: no parquet shards (is {config} a config of {repo}?)")
    return Shards(config, files, fs)


def open_source(
    source: str | None, config: str | None, hub_repo: str = HUB_REPO, fs: Any = None
) -> Shards | JsonlFiles:
    """A local mirror when ``source`` is a path, else the hub."""
    if source:
        return open_mirror(source, config)
    return open_hub(config or DEFAULT_CONFIG, hub_repo, fs)
