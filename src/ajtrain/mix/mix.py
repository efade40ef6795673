"""The mix stage: exact quotas from each source, dedup, decontamination, split, manifest.

Streaming in two passes so that 500K-record mixes run in bounded memory:

1. index every input file (:mod:`.index`): offsets, hashes, categories, token proxies;
2. drop duplicates (first occurrence wins: recipe order, then file order, then line order),
   draw each source's exact quota with a seeded RNG, split train/val, shuffle, and copy the chosen
   lines byte for byte with ``os.pread``. Records are never all in memory at once.

Lines are copied unchanged, so the output is valid input to ``train`` exactly as the plain
``cat a.jsonl b.jsonl > training_set.jsonl`` of the original guide is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import glob
import hashlib
import os
import random
import threading
from array import array
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain, compress, repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from ..config import option
from ..records import write_json
from .index import DEDUP_HASH, TOKEN_PROXY, FileIndex, index_files
from .outdir import staged, sync_soon
from .recipe import Recipe, RecipeError, Source, load_recipe

err = Console(stderr=True)


@dataclasses.dataclass
class Pool:
    """One source's usable, deduplicated lines, as parallel arrays (pass 1 result)."""

    source: Source
    files: list[FileIndex]
    file_ids: array = dataclasses.field(default_factory=lambda: array("l"))
    offsets: array = dataclasses.field(default_factory=lambda: array("q"))
    lengths: array = dataclasses.field(default_factory=lambda: array("l"))
    cats: array = dataclasses.field(default_factory=lambda: array("l"))  # global category codes
    tokens: array = dataclasses.field(default_factory=lambda: array("l"))
    duplicates: int = 0

    def __len__(self) -> int:
        return len(self.offsets)


def expand_source(source: Source, origin: str) -> list[str]:
    """The files a source's path or glob names, sorted; none is an error that says what to do."""
    paths = sorted(glob.glob(source.path)) if glob.has_magic(source.path) else [source.path]
    paths = [p for p in paths if os.path.isfile(p)]
    if not paths:
        fix = f"{source.hint}, or point" if source.hint else "point"
        raise RecipeError(
            origin,
            f"sources.{source.name}.path",
            f"no file matches {source.path!r} (relative to {os.getcwd()}); "
            f"{fix} elsewhere with --source {source.name}=PATH",
        )
    return paths


def build_pools(
    recipe: Recipe, decontam_keys: frozenset[str], workers: int
) -> tuple[list[Pool], list[str]]:
    """Pass 1 over every source; returns the pools and the global category names."""
    files_of = {s.name: expand_source(s, recipe.origin) for s in recipe.sources}
    owner: dict[str, str] = {}
    for name, paths in files_of.items():
        for p in paths:
            if os.path.realpath(p) in owner:
                raise RecipeError(
                    recipe.origin,
                    f"sources.{name}.path",
                    f"{p} is also matched by source '{owner[os.path.realpath(p)]}'",
                )
            owner[os.path.realpath(p)] = name
    all_paths = [p for s in recipe.sources for p in files_of[s.name]]
    seen: set[int] = set()
    categories: dict[str, int] = {}
    pools: list[Pool] = []
    file_id = 0
    with _progress() as progress:
        task = progress.add_task("mix: index", total=sum(os.path.getsize(p) for p in all_paths))
        # Source by source, in recipe order: duplicates are resolved against earlier sources
        # only, so a short source (often the small shutdown file, listed first) fails at once.
        for source in recipe.sources:
            files = index_files(
                files_of[source.name],
                decontam_keys,
                workers,
                on_done=lambda ix: progress.advance(task, ix.size),
            )
            pool = Pool(source, files)
            for ix in files:
                _add_unique(pool, ix, file_id, seen, categories)
                file_id += 1
            shortfall(pool, recipe)
            pools.append(pool)
    return pools, list(categories)


def _add_unique(pool: Pool, ix: FileIndex, file_id: int, seen: set[int], categories: dict) -> None:
    """Append the file's lines whose hash is new to the pool; count the others as duplicates."""
    codes = [categories.setdefault(c, len(categories)) for c in ix.categories]
    # True for a hash not seen before, which it then adds: the first occurrence wins, also
    # within the file. The arrays are then filtered by this mask in C (itertools.compress).
    keep = [h not in seen and not seen.add(h) for h in ix.hashes]  # type: ignore[func-returns-value]
    kept = keep.count(True)
    pool.duplicates += len(keep) - kept
    pool.file_ids.extend(repeat(file_id, kept))
    pool.offsets.extend(compress(ix.offsets, keep))
    pool.lengths.extend(compress(ix.lengths, keep))
    pool.cats.extend(map(codes.__getitem__, compress(ix.cats, keep)))
    pool.tokens.extend(compress(ix.tokens, keep))


def shortfall(pool: Pool, recipe: Recipe) -> None:
    """Raise if the source cannot fill its quota: empty, or short and not allowed to repeat."""
    source, n, quota = pool.source, len(pool), pool.source.quota
    if quota <= n:
        return
    dropped = sum(ix.contaminated for ix in pool.files)
    have = (
        f"source '{source.name}' has {n} usable records "
        f"({sum(ix.records for ix in pool.files)} read, {pool.duplicates} duplicate, "
        f"{dropped} contaminated) but its quota is {quota}"
    )
    if n == 0:
        raise RecipeError(recipe.origin, f"sources.{source.name}", f"{have}: nothing to sample")
    if not source.allow_oversample:
        fix = f"{source.hint}, or allow" if source.hint else "allow"
        raise RecipeError(
            recipe.origin,
            f"sources.{source.name}",
            f"{have}; {fix} oversampling (`allow_oversample: true` in the recipe, or "
            "--allow-oversample)",
        )


def choose(pool: Pool, recipe: Recipe) -> tuple[list[int], list[int], float]:
    """Draw the source's exact quota: (unique pool indices, their multiplicities, factor)."""
    source, n, quota = pool.source, len(pool), pool.source.quota
    rng = random.Random(f"{recipe.seed}:choose:{source.name}")
    if quota <= n:
        return sorted(rng.sample(range(n), quota)), [1] * quota, 1.0
    shortfall(pool, recipe)
    # Every record `reps` times, plus a random `extra` of them once more.
    reps, extra = divmod(quota, n)
    mult = [reps] * n
    for i in rng.sample(range(n), extra):
        mult[i] += 1
    return list(range(n)), mult, quota / n


def split(
    units: list[tuple[int, int, int]], n_val: int, seed: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Shuffle (pool, index, copies) units into train/val lists of (pool, index), both shuffled.

    The copies of an oversampled record stay on one side, so val never repeats a train record.
    """
    rng = random.Random(f"{seed}:split")
    rng.shuffle(units)
    if all(map((1).__eq__, map(itemgetter(2), units))):  # the first n_val units are val
        pairs = list(map(itemgetter(0, 1), units))
        return pairs[n_val:], pairs[:n_val]
    train: list[tuple[int, int]] = []
    val: list[tuple[int, int]] = []
    for p, i, copies in units:
        side = val if len(val) + copies <= n_val else train
        side.extend([(p, i)] * copies)
    rng = random.Random(f"{seed}:order")  # copies went in as blocks: shuffle each side again
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val


CHUNK = 4 << 20  # pass 2 copies lines through two buffers of this size


def write_lines(
    path: Path, items: list[tuple[int, int]], pools: list[Pool], inputs: list[tuple[int, str]]
) -> dict[str, Any]:
    """Pass 2: copy the chosen lines, in order, by offset; returns (count, sha256, bytes).

    Lines are read straight into one of two chunk buffers while two threads hash and write the
    other: ``preadv``, ``sha256.update`` and ``write`` all release the GIL, so the three overlap,
    and no per-line ``bytes`` is made. The file is not synced here: the output set is synced as a
    whole before it is swapped in (:mod:`.outdir`).
    """
    sha = hashlib.sha256()
    views = [memoryview(bytearray(CHUNK)), memoryview(bytearray(CHUNK))]
    read = os.preadv if hasattr(os, "preadv") else _pread_into  # preadv: Linux, the BSDs
    cur, pos, size = 0, 0, 0
    with open(path, "wb", buffering=0) as fh, ThreadPoolExecutor(2) as threads:
        pending: list[Future] = []

        def emit(view: memoryview) -> None:
            # One chunk in flight, hashed and written at once: once both are done, the buffer
            # it used is free to fill again.
            while pending:
                pending.pop().result()
            pending.extend((threads.submit(sha.update, view), threads.submit(_write, fh, view)))

        for p, i in items:
            pool = pools[p]
            n = pool.lengths[i]
            size += n + 1
            if pos + n >= CHUNK:
                if pos:
                    emit(views[cur][:pos])
                    cur, pos = cur ^ 1, 0
                if n >= CHUNK:  # a line longer than a buffer gets one of its own
                    big = memoryview(bytearray(n + 1))
                    fd, source = inputs[pool.file_ids[i]]
                    if read(fd, [big[:n]], pool.offsets[i]) != n:
                        raise _changed(source)
                    big[n] = 0x0A
                    emit(big)
                    continue
            view = views[cur]
            fd, source = inputs[pool.file_ids[i]]
            if read(fd, [view[pos : pos + n]], pool.offsets[i]) != n:
                raise _changed(source)
            view[pos + n] = 0x0A
            pos += n + 1
        if pos:
            emit(views[cur][:pos])
        while pending:
            pending.pop().result()
    return {"records": len(items), "sha256": sha.hexdigest(), "bytes": size}


def _changed(path: str) -> ValueError:
    return ValueError(f"{path}: changed while the mix was reading it; run it again")


def _pread_into(fd: int, buffers: list[memoryview], offset: int) -> int:
    """``os.preadv`` for one buffer, where the system lacks it."""
    data = os.pread(fd, len(buffers[0]), offset)
    buffers[0][: len(data)] = data
    return len(data)


def _write(fh: Any, view: memoryview) -> None:
    while view:
        view = view[fh.write(view) :]


def _token_stats(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    values = sorted(values)
    n = len(values)

    def pct(q: float) -> int:
        return values[min(n - 1, int(q * n))]

    return {
        "count": n,
        "total": sum(values),
        "mean": round(sum(values) / n, 1),
        "min": values[0],
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p99": pct(0.99),
        "max": values[-1],
    }


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def load_decontam_keys() -> tuple[frozenset[str], str]:
    """The benchmark's keys and a status line; an empty set, with a warning, if unavailable."""
    from ..shutdown import decontam

    try:
        keys = decontam.benchmark_keys()
    except ImportError as e:
        msg = f"skipped: the benchmark could not be loaded ({e})"
        err.print(f"[yellow]warning:[/] decontamination {msg}", highlight=False)
        return frozenset(), msg
    return keys, f"applied against {len(keys)} benchmark scenarios"


@dataclasses.dataclass
class MixConfig:
    """``ajtrain mix``'s options, one field each (flag and config in one); Python callers may
    give the recipe and output as ``Path``s."""

    recipe: str | os.PathLike = option(
        "safety",
        help="built-in recipe (safety: 10,000 = 500 shutdown + 9,500 Toucan; general: 500,000, "
        "~1%% shutdown) or a recipe YAML file",
    )
    out: str | os.PathLike | None = option(
        None,
        help="output directory for train.jsonl, val.jsonl, manifest.json, composition.png "
        "(default: data/mix_<recipe name>)",
    )
    source: list[str] = option(
        [],
        help="replace a source's path or glob, as NAME=PATH; repeat for several sources "
        "(e.g. --source shutdown=gen/shutdown.jsonl)",
        action="append",
        nargs=None,
        metavar="NAME=PATH",
    )
    seed: int | None = option(None, help="override the recipe's seed (sampling, split, order)")
    allow_oversample: bool | None = option(
        None, help="repeat records of a source smaller than its quota (the factor is recorded)"
    )
    workers: int | None = option(
        None, help="processes indexing input files in parallel (default: all CPU cores)"
    )
    chart: bool = option(True, help="write composition.png (needs matplotlib)")

    def source_overrides(self) -> dict[str, str]:
        """The ``--source NAME=PATH`` pairs as ``{name: path}``."""
        out = {}
        for pair in self.source:
            name, sep, path = pair.partition("=")
            if not sep or not name or not path:
                raise ValueError(f"--source {pair!r}: expected NAME=PATH")
            out[name] = path
        return out


def run_mix(cfg: MixConfig, *, decontam_keys: frozenset[str] | None = None) -> dict[str, Any]:
    """Mix ``cfg.recipe`` (built-in name or YAML path) into ``cfg.out``; returns the manifest.

    Writes ``train.jsonl``, ``val.jsonl``, ``manifest.json`` and ``composition.png``.
    ``decontam_keys`` (not a flag: tests pass their own) defaults to the benchmark's (an empty
    set, with a warning, when the benchmark cannot be loaded); ``cfg.workers`` processes index
    files in parallel (default: all cores). The manifest also names the output directory.
    """
    rec = load_recipe(cfg.recipe, cfg.source_overrides(), cfg.seed, cfg.allow_oversample)
    workers = cfg.workers
    if workers is not None and workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more (or leave it out: all CPU cores)")
    out = Path(cfg.out) if cfg.out is not None else Path("data") / f"mix_{rec.name}"
    with staged(out) as tmp, _without_cyclic_gc():  # staged: refuses a bad path before reading
        manifest = _mix(rec, out, tmp, decontam_keys, workers or os.cpu_count() or 1, cfg.chart)
        write_json(tmp / "manifest.json", manifest)
    return manifest


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the mix builds lists of a million small tuples, none in
    a cycle, and each collection would only walk them all again (a fifth of the serial time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _mix(
    rec: Recipe,
    out: Path,
    tmp: Path,
    decontam_keys: frozenset[str] | None,
    workers: int,
    chart: bool,
) -> dict[str, Any]:
    """Both passes into ``tmp``, which will become ``out``; returns the manifest (not written)."""
    if chart:  # matplotlib takes a second or two to import: do it while pass 1 runs
        threading.Thread(target=_import_chart, name="import matplotlib").start()
    if decontam_keys is None:
        decontam_keys, decontam_status = load_decontam_keys()
    else:
        decontam_status = f"applied against {len(decontam_keys)} given keys"
    pools, categories = build_pools(rec, frozenset(decontam_keys), workers)
    units: list[tuple[int, int, int]] = []
    factors: dict[str, float] = {}
    for p, pool in enumerate(pools):
        chosen, mult, factor = choose(pool, rec)
        factors[pool.source.name] = factor
        if factor > 1:
            err.print(
                f"[yellow]oversampling[/] {pool.source.name}: {len(pool)} records x{factor:.3f}"
                f" to fill {pool.source.quota}",
                highlight=False,
            )
        units.extend((p, i, m) for i, m in zip(chosen, mult, strict=True))
    train, val = split(units, round(rec.total * rec.val_fraction), rec.seed)
    del units
    files = [ix for pool in pools for ix in pool.files]
    for ix in files:
        st = os.stat(ix.path)
        if (st.st_size, st.st_mtime_ns) != (ix.size, ix.mtime_ns):
            raise _changed(ix.path)
    inputs: list[tuple[int, str]] = []
    try:
        for ix in files:
            inputs.append((os.open(ix.path, os.O_RDONLY), ix.path))
        outputs = {"train.jsonl": write_lines(tmp / "train.jsonl", train, pools, inputs)}
        sync_soon(tmp / "train.jsonl")  # its write-back overlaps val, the manifest and the chart
        outputs["val.jsonl"] = write_lines(tmp / "val.jsonl", val, pools, inputs)
    finally:
        for fd, _ in inputs:
            os.close(fd)
    manifest = build_manifest(rec, pools, categories, train, val, factors, outputs)
    manifest["decontamination"] = {"status": decontam_status, "keys": len(decontam_keys)}
    manifest["out_dir"] = str(out)
    if chart:
        manifest["chart"] = _chart(manifest, tmp / "composition.png")
    return manifest


def _import_chart() -> None:
    with contextlib.suppress(ImportError):  # reported by _chart, which imports it again
        from . import chart  # noqa: F401


def _chart(manifest: dict, path: Path) -> str | None:
    try:
        from .chart import plot_composition
    except ImportError as e:  # matplotlib is in the [train] extra
        err.print(f"[yellow]warning:[/] no chart ({e}); install ajtrain[train]", highlight=False)
        return None
    plot_composition(manifest, path)
    return path.name


def build_manifest(
    rec: Recipe,
    pools: list[Pool],
    categories: list[str],
    train: list[tuple[int, int]],
    val: list[tuple[int, int]],
    factors: dict[str, float],
    outputs: dict[str, dict],
) -> dict[str, Any]:
    """Counts per source and category, upsample factors, drops, input hashes, token stats."""
    # Each pool's records in the output, gathered with C-level maps (500,000 of them in general).
    owner = list(map(itemgetter(0), chain(train, val)))
    index = list(map(itemgetter(1), chain(train, val)))
    in_train = Counter(owner[: len(train)])
    per_source = []
    all_tokens: list[int] = []
    for p, pool in enumerate(pools):
        members = list(compress(index, map((p).__eq__, owner)))
        codes = Counter(map(pool.cats.__getitem__, members))
        cats = Counter({categories[c]: n for c, n in codes.items()})
        tokens = sorted(map(pool.tokens.__getitem__, members))
        all_tokens += tokens  # sorted runs: sorting them all again only merges them
        per_source.append(
            {
                "name": pool.source.name,
                "path": pool.source.path,
                "quota": pool.source.quota,
                "train": in_train[p],
                "val": len(members) - in_train[p],
                "upsample_factor": round(factors[pool.source.name], 6),
                "read": sum(ix.records for ix in pool.files),
                "available": len(pool),
                "dropped": {
                    "duplicate": pool.duplicates,
                    "contaminated": sum(ix.contaminated for ix in pool.files),
                },
                "categories": dict(sorted(cats.items())),
                "tokens": _token_stats(tokens),
                "files": [
                    {"path": ix.path, "sha256": ix.sha256, "bytes": ix.size, "records": ix.records}
                    for ix in pool.files
                ],
            }
        )
    total_cats: Counter[str] = Counter()
    for s in per_source:
        total_cats.update(s["categories"])
    return {
        "recipe": {
            "name": rec.name,
            "origin": rec.origin,
            "total": rec.total,
            "seed": rec.seed,
            "val_fraction": rec.val_fraction,
        },
        "outputs": outputs,
        "sources": per_source,
        "categories": dict(sorted(total_cats.items())),
        "upsample_factors": {k: round(v, 6) for k, v in factors.items()},
        "dropped": {
            reason: sum(s["dropped"][reason] for s in per_source)
            for reason in ("duplicate", "contaminated")
        },
        "dedup": DEDUP_HASH,
        "tokens": {"proxy": TOKEN_PROXY, **_token_stats(all_tokens)},
    }
