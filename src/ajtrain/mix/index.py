"""Pass 1 of the mix: index each input file without keeping its records.

For every usable line we keep only small numbers: byte offset and length (to read the line again
in pass 2), a 64-bit content hash (dedup), a category code and an approximate token count. That is
about 30 bytes a line, so 1.5M Toucan rows index in ~50 MB whatever their size on disk.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os
import signal
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from ..records import RecordError, content_hash, validate_record
from ..shutdown.decontam import record_key

TOKEN_PROXY = (
    "approx_tokens = characters of tools JSON + message contents + reasoning + tool-call "
    "arguments, divided by 4 (no tokenizer at mix time)"
)
DEDUP_HASH = (
    "records.content_hash (blake2b of the tools text and the messages with sorted keys; "
    "id, source and meta are ignored), first 64 bits"
)


@dataclasses.dataclass
class FileIndex:
    """What pass 1 keeps about one file: per usable line, offset/length/hash/category/tokens."""

    path: str
    sha256: str
    size: int
    records: int  # valid records read (blank lines skipped)
    contaminated: int  # records dropped because they match a benchmark scenario
    categories: list[str]  # code -> name for `cats`
    mtime_ns: int = 0  # with size: pass 2 refuses a file that changed since pass 1
    offsets: array = dataclasses.field(default_factory=lambda: array("q"))
    lengths: array = dataclasses.field(default_factory=lambda: array("l"))
    hashes: array = dataclasses.field(default_factory=lambda: array("Q"))
    cats: array = dataclasses.field(default_factory=lambda: array("H"))
    tokens: array = dataclasses.field(default_factory=lambda: array("l"))


def approx_tokens(record: dict) -> int:
    """Cheap token-count proxy (see :data:`TOKEN_PROXY`)."""
    chars = len(record["tools"])
    for m in record["messages"]:
        chars += len(m.get("content") or "")
        if "reasoning_content" in m:  # most messages have neither of these two
            chars += len(m["reasoning_content"] or "")
        if "tool_calls" in m:
            for call in m["tool_calls"] or ():
                chars += len(call["function"]["arguments"])
    return chars // 4


BLOCK = 8 << 20  # pass 1 reads files in blocks of this size, not line by line
_BLANK = b" \t\r\x0b\x0c"  # what a line may start with and still be blank


def index_file(path: str, decontam_keys: frozenset[str] = frozenset()) -> FileIndex:
    """Read ``path`` once: validate every record, hash the file, index the usable lines.

    A malformed line raises :class:`RecordError` naming ``path:line`` and the field. The file is
    read in large blocks into one buffer and each line parsed from a view of it: no per-line
    read, copy or strip (JSON text is parsed straight from the buffer).
    """
    sha = hashlib.sha256()
    idx = FileIndex(path=path, sha256="", size=0, records=0, contaminated=0, categories=[])
    codes: dict[str, int] = {}
    buf = bytearray(BLOCK)
    filled, base, lineno = 0, 0, 0  # bytes in buf; file offset of buf[0]; lines so far
    with open(path, "rb", buffering=0) as fh:
        while True:
            with memoryview(buf) as view:
                got = fh.readinto(view[filled:])
                sha.update(view[filled : filled + got])
                filled += got
                pos = 0
                while (nl := buf.find(b"\n", pos, filled)) >= 0 or (not got and pos < filled):
                    end = nl if nl >= 0 else filled  # the last line may lack its newline
                    lineno += 1
                    _index_line(idx, codes, view, pos, end, base, path, lineno, decontam_keys)
                    pos = end + 1
            if not got:
                break
            # Keep the unfinished line at the front; a line longer than the buffer grows it.
            buf[: filled - pos] = buf[pos:filled]
            base, filled = base + pos, filled - pos
            if filled == len(buf):
                buf.extend(bytes(len(buf)))
        idx.mtime_ns = os.fstat(fh.fileno()).st_mtime_ns
    idx.sha256, idx.size = sha.hexdigest(), base + filled
    idx.categories = list(codes)
    return idx


def _index_line(
    idx: FileIndex,
    codes: dict[str, int],
    view: memoryview,
    start: int,
    end: int,
    base: int,
    path: str,
    lineno: int,
    decontam_keys: frozenset[str],
) -> None:
    """Parse, check and index the line ``view[start:end]`` (its newline excluded)."""
    while end > start and view[end - 1] == 0x0D:  # CRLF files: lengths exclude the \r
        end -= 1
    if end == start or (view[start] in _BLANK and not bytes(view[start:end]).strip()):
        return  # blank lines are not records
    try:
        obj = orjson.loads(view[start:end])
    except orjson.JSONDecodeError as e:
        raise RecordError(f"{path}:{lineno}", "<line>", f"invalid JSON ({e})") from None
    try:  # "path:line" is written out only for a record that breaks the format
        rec = validate_record(obj, "")
    except RecordError as e:
        raise RecordError(f"{path}:{lineno}", e.field, e.problem) from None
    idx.records += 1
    if decontam_keys and (key := record_key(rec)) is not None and key in decontam_keys:
        idx.contaminated += 1
        return
    idx.offsets.append(base + start)
    idx.lengths.append(end - start)
    idx.hashes.append(int(content_hash(rec)[:16], 16))
    idx.cats.append(codes.setdefault(rec["category"], len(codes)))
    idx.tokens.append(approx_tokens(rec))


def _index_in_worker(path: str, keys: frozenset[str]) -> FileIndex | tuple[str, str, str]:
    # RecordError's three-argument constructor does not survive pickling: send its parts back.
    try:
        return index_file(path, keys)
    except RecordError as e:
        return (e.where, e.field, e.problem)


_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_CAN_MASK = hasattr(signal, "pthread_sigmask")


def _worker_signals() -> None:
    # A worker only reads. It must not run the parent's SIGTERM clean-up (that would end it
    # through Python's exit, which can wait on a lock held in the parent when it forked): the
    # pool's terminate ends it at once, and Ctrl-C is for the parent to act on. It starts with
    # both signals blocked (see index_files), so one sent before this ran waits until now and
    # meets these dispositions, never the parent's handler.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _CAN_MASK:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _start_pool(workers: int) -> tuple[Any, set[signal.Signals] | None]:
    """A pool whose workers are forked with SIGINT and SIGTERM blocked; returns (pool, the
    caller's signal mask, to restore once inside ``with pool``). Under load a worker can be
    forked and then signalled (the pool's terminate, after a SIGTERM to the mix) before its
    initializer has run: with the parent's handler it would hang in Python's exit, and the
    parent would wait for it forever."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS) if _CAN_MASK else None
    try:
        pool = multiprocessing.Pool(workers, initializer=_worker_signals)
    except BaseException:
        if previous is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    return pool, previous


def index_files(
    paths: Sequence[str],
    decontam_keys: frozenset[str],
    workers: int = 1,
    on_done: Callable[[FileIndex], None] | None = None,
) -> list[FileIndex]:
    """Index ``paths`` (in parallel over files when ``workers`` > 1); results in input order."""
    workers = max(1, min(workers, len(paths)))
    if workers == 1:
        out = []
        for p in paths:
            out.append(index_file(p, decontam_keys))
            if on_done:
                on_done(out[-1])
        return out
    # Largest files first keeps the workers busy; results are put back in input order.
    order = sorted(range(len(paths)), key=lambda i: -os.path.getsize(paths[i]))
    results: list[FileIndex | None] = [None] * len(paths)
    # Leaving the pool terminates its workers: a bad record, Ctrl-C or SIGTERM stops the mix at
    # once instead of after every other file has been indexed.
    pool, mask = _start_pool(workers)
    with pool:
        if mask is not None:  # a signal held while the pool started arrives here, inside `with`
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        pending = {i: pool.apply_async(_index_in_worker, (paths[i], decontam_keys)) for i in order}
        for i in order:
            while not pending[i].ready():
                # Short waits: a signal that lands on one of the pool's threads only sets a flag,
                # which the main thread acts on (SIGTERM, Ctrl-C) when its wait returns.
                pending[i].wait(0.2)
            res = pending[i].get()
            if isinstance(res, tuple):
                raise RecordError(*res)
            results[i] = res
            if on_done:
                on_done(res)
    return results  # type: ignore[return-value]
