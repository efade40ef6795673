"""``load_toucan``: source -> subset/quality filters -> seeded sample -> convert -> JSONL + rejects.

Accounting (stored in ``<output stem>_summary.json`` and printed): a sample from parquet reads
only the row groups it draws from (``row_groups``: "k of K"; ``bytes_read``: what was read from
the shards, see :mod:`ajtrain.toucan.sample`); ``scanned`` rows came out of those;
``skipped_subset`` were other subsets and ``not_sampled`` fell outside the sample, so neither
was converted; every row that was read is either kept (a record in the output) or rejected
(a line in the rejects file with its reason): ``read = kept + rejected``. Rows failing a quality
threshold are rejected before sampling, so ``--sample N`` draws N rows among those that pass;
a reject line for them holds the uuid, reason and scores, while a row the converter rejects is
stored whole, to be inspected. A sampled row the converter rejects still counts toward N (the
sample is drawn before conversion), so ``kept`` can be a little under N; the summary shows it.

Memory is flat in the size of the dataset and of N: rows stream one parquet batch at a time,
the sampler keeps two counters, and the only state that grows is the map of kept uuids used to
make repeated uuids unique (~100 bytes per kept row).
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..config import option
from ..records import atomic_write, write_json
from .convert import SOURCE, Reject, convert_row
from .filters import Thresholds, check, scores
from .sample import SelectionSampler, choose_row_groups, parse_sample
from .source import (
    CONFIGS,
    HUB_REPO,
    SFT_COLUMNS,
    TEACHER_COLUMNS,
    JsonlFiles,
    RowGroup,
    Shards,
    open_source,
)

DATASETS = ("toucan",)  # what `ajtrain load` can load: the positional of `ajtrain load toucan`
DEFAULT_SAMPLE = "1000"
SUBSETS = ("single-turn-original", "single-turn-diversify", "irrelevant", "multi-turn")
ASSESSMENTS = ("question_quality_assessment", "response_quality_assessment")


@dataclass
class LoadConfig:
    """Options of ``ajtrain load toucan`` (each field is also its CLI flag)."""

    dataset: str = option("toucan", help="dataset to load", choices=DATASETS, positional=True)
    config: str | None = option(
        None,
        help="dataset config: Kimi-K2, OSS, Qwen3 (teacher trajectories) or SFT. Default: the "
        "local mirror's folder name, else Kimi-K2",
        choices=CONFIGS,
    )
    source: str | None = option(
        None,
        help="local mirror to read instead of the HF hub: a folder of parquet shards or JSONL "
        "(a config folder like .../Kimi-K2, or a mirror root holding config folders)",
        metavar="DIR",
    )
    hub_repo: str = option(
        HUB_REPO, help="HF dataset to stream when no --source is given", metavar="REPO"
    )
    sample: str = option(
        DEFAULT_SAMPLE,
        help="how many rows to draw, seeded (the guide uses 100, 5000, 50000, 500000), or 'all' "
        "(~20 GB of output); the default is a small development sample. Parquet sources are "
        "sampled by row group, reading O(N) bytes: see docs/OPEN_DATASETS.md",
        metavar="N|all",
    )
    sample_seed: int = option(0, help="seed of the --sample draw", metavar="S")
    subset: list[str] = option(
        [], help="keep only these subset_name values (default: all four)", choices=SUBSETS
    )
    min_question_score: float | None = option(
        None, help="min question judge overall_score (1-5)", metavar="X"
    )
    min_response_score: float | None = option(
        None,
        help="min response judge overall_score (1-5). Response thresholds never drop "
        "'irrelevant' rows, which have no response judge",
        metavar="X",
    )
    min_question_quality: float | None = option(
        None, help="min question_quality score (1-5)", metavar="X"
    )
    min_scenario_realism: float | None = option(
        None, help="min scenario_realism score (1-5)", metavar="X"
    )
    min_completeness: float | None = option(
        None, help="min response completeness (1-5)", metavar="X"
    )
    min_conciseness: float | None = option(None, help="min response conciseness (1-5)", metavar="X")
    min_desired_tools_used: float | None = option(
        None,
        help="min desired_tools_used_percentage (0-1; 1.0 = every target tool used)",
        metavar="X",
    )
    require_order_correct: bool = option(
        False, help="keep only rows whose response judge found the call order correct"
    )
    output: str | None = option(
        None, help="output JSONL (default: data/toucan_<config>_trajectories.jsonl)", metavar="FILE"
    )
    rejects: str | None = option(
        None, help="rejects JSONL (default: beside the output, *_rejects.jsonl)", metavar="FILE"
    )
    progress: bool = option(True, help="show a progress bar on stderr")

    def thresholds(self) -> Thresholds:
        names = Thresholds.__dataclass_fields__
        return Thresholds(**{k: v for k, v in asdict(self).items() if k in names})


@dataclass
class LoadSummary:
    """What a load did; ``read == kept + rejected`` always holds."""

    config: str
    source: str
    output: str
    rejects: str
    summary: str
    sample: int | None
    sample_seed: int
    subsets: list[str]
    row_groups: str = ""
    bytes_read: int = 0
    scanned: int = 0
    skipped_subset: int = 0
    not_sampled: int = 0
    kept: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def read(self) -> int:
        return self.kept + self.rejected

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "read": self.read}


def output_paths(cfg: LoadConfig, config: str) -> tuple[Path, Path, Path]:
    """(records, rejects, summary) paths; the latter two sit beside the output by default."""
    out = Path(cfg.output or f"data/toucan_{config}_trajectories.jsonl")
    stem = out.stem.removesuffix("_trajectories")
    rejects = Path(cfg.rejects) if cfg.rejects else out.with_name(f"{stem}_rejects.jsonl")
    return out, rejects, out.with_name(f"{stem}_summary.json")


def _columns(config: str, wanted: tuple[str, ...]) -> list[str]:
    have = SFT_COLUMNS if config == "SFT" else TEACHER_COLUMNS
    return [c for c in wanted if c in have]


def _eligible(row: dict, subsets: set[str] | None, t: Thresholds) -> bool:
    if subsets and row.get("subset_name") not in subsets:
        return False
    if not t.active:
        return True
    try:
        return check(row, scores(row), t) is None
    except Reject:
        return False


def count_eligible(
    src: JsonlFiles, subsets: set[str] | None, t: Thresholds, show_progress: bool = False
) -> int:
    """The sampling population of a JSONL mirror: rows passing the filters (cheap columns)."""
    cols = _columns(src.config, ("uuid", "subset_name", *(ASSESSMENTS if t.active else ())))
    progress, task = _progress(show_progress, None, f"counting {src.config} rows")
    count = 0
    with progress:
        for i, row in enumerate(src.rows(cols), 1):
            count += _eligible(row, subsets, t)
            if i % 1024 == 0:
                progress.update(task, completed=i)
    return count


def plan_sample(
    src: Shards, n: int, seed: int, subsets: set[str] | None, t: Thresholds
) -> tuple[list[RowGroup], int]:
    """The row groups a sample of ``n`` reads, and their eligible rows (the population).

    Without filters a group's rows all count (footers only); with filters, the cheap columns of
    each group looked at are read to count the rows that pass.
    """
    filtered = bool(subsets) or t.active
    cols = _columns(src.config, ("uuid", "subset_name", *(ASSESSMENTS if t.active else ())))

    def eligible(group: RowGroup) -> int:
        if not filtered:
            return group.rows
        return sum(_eligible(row, subsets, t) for row in src.rows(cols, [group]))

    return choose_row_groups(src.row_groups(), n, seed, eligible)


def _progress(enabled: bool, total: int | None, label: str):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )
    return progress, progress.add_task(label, total=total)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: conversion allocates millions of short-lived, acyclic dicts and lists
    (freed by reference counting), and the collector's passes over them cost ~10% of the time."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Writer:
    """JSONL lines gathered into ~1 MB writes (records are ~25 KB: one syscall each otherwise)."""

    def __init__(self, fh) -> None:
        self.fh, self.buf, self.size = fh, [], 0

    def write(self, line: bytes) -> None:
        self.buf.append(line)
        self.size += len(line)
        if self.size >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        self.fh.write(b"".join(self.buf))
        self.buf, self.size = [], 0


class _Run:
    """One load's state: the counters, the reject writer and the id de-duplication."""

    def __init__(self, cfg: LoadConfig, summary: LoadSummary, t: Thresholds, rejects: _Writer):
        self.summary, self.t, self.rejects = summary, t, rejects
        self.config = summary.config
        self.subsets = set(cfg.subset) or None
        self.teacher = self.config != "SFT"
        self.reasons: Counter[str] = Counter()
        # uuid -> (rows so far, hash of the first one's messages). The release repeats some
        # uuids on different rows (kept apart as uuid#2, ...); a row whose messages are also
        # the same is a duplicate, counted for a warning.
        self.seen: dict[str, tuple[int, int]] = {}
        self.repeated = 0  # rows identical (uuid and messages) to an earlier one
        self.without_tools = 0  # rows with neither an available_tools nor a tools column

    def reject(self, row: dict, reason: str, detail: str = "", keep_row: bool = False, **extra):
        self.reasons[reason] += 1
        entry = {"uuid": row.get("uuid"), "subset": row.get("subset_name"), "reason": reason,
                 "detail": detail, **extra}  # fmt: skip
        if keep_row:  # as released: JSON columns read as bytes are stored as the strings they are
            entry["row"] = {
                k: v.decode(errors="replace") if isinstance(v, bytes) else v for k, v in row.items()
            }
        self.rejects.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))

    def scores(self, row: dict) -> dict | None:
        """The row's judge scores, or ``None`` when it is rejected on them."""
        try:
            s = scores(row) if self.teacher else {}
        except Reject as e:
            self.reject(row, e.reason, e.detail, keep_row=True)
            return None
        reason = check(row, s, self.t) if self.t.active else None
        if reason:
            self.reject(row, reason, scores=s)
            return None
        return s

    def convert(self, row: dict, s: dict) -> bytes | None:
        """The record as a JSONL line, or ``None`` when the converter rejects the row."""
        uuid = row.get("uuid") or f"row{self.summary.scanned}"
        h = hash(row.get("messages"))
        k, first = self.seen.get(uuid, (0, h))
        k += 1  # a repeated uuid gets "#2", "#3", ...
        self.seen[uuid] = (k, first)
        self.repeated += k > 1 and h == first
        self.without_tools += row.get("available_tools") is None and row.get("tools") is None
        rid = f"{SOURCE}/{self.config}/{uuid}" + (f"#{k}" if k > 1 else "")
        try:
            rec = convert_row(row, self.config, rid, s)
        except Reject as e:
            self.reject(row, e.reason, e.detail, keep_row=True)
            return None
        return orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE)


def _input_warnings(run: _Run, n: int | None, population: int | None) -> list[str]:
    """What the user should know about their input, each with its count (printed, and kept in
    the summary): a sample larger than the data, repeated rows, rows without tool schemas."""
    out = []
    if n is not None and population is not None and population < n:
        out.append(f"a sample of {n:,} rows (--sample) is more than the {population:,} "
                   f"eligible ones: all {population:,} were taken")  # fmt: skip
    if run.repeated:
        out.append(f"{run.repeated:,} rows repeat an earlier row (same uuid and messages; kept "
                   "as uuid#2, #3, ...; `ajtrain mix` drops identical content)")  # fmt: skip
    if run.without_tools:
        out.append(f"{run.without_tools:,} rows have no available_tools column: their tools come "
                   "from the system message's declaration, and a row calling a tool declared "
                   "nowhere is rejected (unknown_tool)")  # fmt: skip
    return out


def load_toucan(cfg: LoadConfig) -> LoadSummary:
    """Stream, filter, sample and convert Toucan rows; write records, rejects and a summary."""
    src = open_source(cfg.source, cfg.config, cfg.hub_repo)
    config, n, t = src.config, parse_sample(cfg.sample), cfg.thresholds()
    if n == 0:
        raise ValueError("--sample 0: nothing would be loaded; give a count of 1 or more, or 'all'")
    if config == "SFT" and t.active:
        raise ValueError(
            "the SFT config has no quality assessments: drop the --min-*/--require-* filters"
        )
    subsets = set(cfg.subset) or None
    out, rejects, summary_path = output_paths(cfg, config)
    where = str(cfg.source) if cfg.source else f"hf://{cfg.hub_repo} ({config})"
    summary = LoadSummary(config, where, str(out), str(rejects), str(summary_path), n,
                          cfg.sample_seed, sorted(subsets or ()))  # fmt: skip
    start = time.perf_counter()
    sampler, groups, population = None, None, None
    if n is not None and isinstance(src, Shards):
        groups, population = plan_sample(src, n, cfg.sample_seed, subsets, t)
        summary.row_groups = f"{len(groups):,} of {len(src.row_groups()):,}"
        sampler = SelectionSampler(population, n, cfg.sample_seed)
    elif n is not None:
        population = count_eligible(src, subsets, t, cfg.progress)
        sampler = SelectionSampler(population, n, cfg.sample_seed)
    total = sampler.remaining if sampler else (src.num_rows() if not subsets else None)
    columns = _columns(config, (*TEACHER_COLUMNS[:-1], "tools"))  # metadata is never needed
    rows = src.rows(columns, groups) if groups is not None else src.rows(columns)
    progress, task = _progress(cfg.progress, total, f"toucan {config}")
    with atomic_write(out) as fo, atomic_write(rejects) as fr, progress, _gc_paused():
        records, rejected = _Writer(fo), _Writer(fr)
        run = _Run(cfg, summary, t, rejected)
        for row in rows:
            summary.scanned += 1
            if summary.scanned % 256 == 0:
                progress.update(task, completed=summary.scanned - summary.skipped_subset)
            if subsets and row.get("subset_name") not in subsets:
                summary.skipped_subset += 1
                continue
            # Judge scores decide eligibility only under thresholds; otherwise they are parsed
            # for the sampled rows alone (they go into the record's meta).
            s = run.scores(row) if t.active else None
            if t.active and s is None:
                continue
            if sampler is not None and not sampler.take():
                summary.not_sampled += 1
                continue
            if s is None:
                s = run.scores(row)
                if s is None:
                    continue
            line = run.convert(row, s)
            if line is not None:
                records.write(line)
                summary.kept += 1
            if sampler is not None and sampler.done:
                break  # the whole sample is drawn: the rest of the stream is not read
        if summary.scanned == 0:  # before the outputs are put in place: nothing is written
            raise ValueError(f"{where}: the source holds no rows")
        records.flush()
        rejected.flush()
    summary.warnings.extend(_input_warnings(run, n, population))
    if sampler is not None and not sampler.done and sampler.remaining > 0:
        # e.g. the hub's published row count does not match the revision that was streamed
        summary.warnings.append(
            f"the source ended {sampler.remaining:,} rows short of the population the sample "
            f"was drawn for: {sampler.needed:,} rows of the sample are missing"
        )
    summary.bytes_read = src.bytes_read
    summary.rejected = sum(run.reasons.values())
    summary.reasons = dict(sorted(run.reasons.items()))
    summary.seconds = round(time.perf_counter() - start, 3)
    write_json(summary_path, summary.to_dict())
    return summary
