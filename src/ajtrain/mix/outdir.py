"""The mix's output set appears all at once: built in a directory beside ``out``, then swapped in.

``train.jsonl``, ``val.jsonl`` and ``manifest.json`` (and ``composition.png``) only make sense
together, so they are written into a temporary directory next to the output directory and take
its place in one rename. What a reader of ``out`` sees:

- before the swap, the previous set, whole (or no directory on a first run);
- after it, the new set, whole. On Linux an existing directory is exchanged with the new one in
  one step (``renameat2(RENAME_EXCHANGE)``); elsewhere the old one is moved aside first, so for an
  instant there is no ``out`` at all, but never a mix of old and new files.

A reader who opens ``train.jsonl`` before the swap and ``val.jsonl`` after it still gets two sets;
the manifest's ``sha256`` of each output tells. A run killed with ``kill -9`` leaves its temporary
directory behind (nothing can run then); the next mix to the same place removes it. SIGTERM is
turned into the same clean-up as Ctrl-C while the mix runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ..records import usual_mode

# What a mix writes; an existing output directory holding anything else is not replaced.
OUTPUTS = ("train.jsonl", "val.jsonl", "manifest.json", "composition.png")
_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def check_out(out: Path) -> None:
    """Refuse, before any input is read, an output path the mix could not (or must not) replace."""
    for p in (out, *out.parents):
        if p.exists():
            if not p.is_dir():
                what = "exists and" if p == out else f"is under {p}, which"
                raise ValueError(f"output directory {out}: {what} is not a directory")
            break
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if not _ours(p.name))
        if others:
            shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
            raise ValueError(
                f"output directory {out}: holds files the mix did not write ({shown}); the mix "
                "replaces the whole directory, so give a new or empty one with --out"
            )


def _ours(name: str) -> bool:
    # The outputs, and the temporary files an earlier version left when it was killed.
    return name in OUTPUTS or (name.startswith(".") and name.endswith(".tmp"))


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A new directory beside ``out`` to write the set into; on success it becomes ``out``.

    On any exception (Ctrl-C, SIGTERM, an error) the directory is removed and ``out`` is left
    as it was. An ``OSError`` creating it becomes a ``ValueError`` naming the path.
    """
    if out.is_symlink():  # swap the directory it points to, not the link
        out = out.resolve()
    check_out(out)
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.mix-{os.getpid()}-", dir=parent))
        usual_mode(tmp)
    except OSError as e:
        where = e.filename if e.filename else parent
        raise ValueError(
            f"output directory {out}: cannot write in {where} ({e.strerror})"
        ) from None
    try:
        with _terminate_as_exit():
            yield tmp
            for path in (*tmp.iterdir(), tmp):
                _fsync_path(path)
            with _signals_held():  # a signal mid-swap takes effect once it is done
                _swap(tmp, out)
        _fsync_path(parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the new set on failure, the old one on success


def _swap(tmp: Path, out: Path) -> None:
    """Put ``tmp`` at ``out``; an existing ``out`` ends up at ``tmp`` (removed by the caller)."""
    try:
        os.rename(tmp, out)  # no output yet, or an empty directory: one atomic step
        return
    except OSError as e:
        if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise
    if not _exchange(tmp, out):
        aside = tmp.with_name(tmp.name + "-old")
        os.rename(out, aside)  # from here until the next rename, there is no `out`
        os.rename(tmp, out)
        os.rename(aside, tmp)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2); False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False  # kernel or file system without RENAME_EXCHANGE
    raise OSError(code, os.strerror(code), str(b))


def _remove_stale(out: Path) -> None:
    """Remove temporary directories that killed mixes to ``out`` left (their process is gone)."""
    for p in out.parent.glob(f".{glob.escape(out.name)}.mix-*"):
        pid = p.name[len(out.name) + 6 :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sync_soon(path: Path) -> None:
    """Start writing ``path`` back to disk on a thread, so that the sync before the swap finds
    little left to wait for; what the mix does meanwhile overlaps the disk writes."""

    def sync() -> None:
        with contextlib.suppress(OSError):  # gone if the mix failed; the final sync reports
            _fsync_path(path)

    threading.Thread(target=sync, name=f"sync {path.name}", daemon=True).start()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back (they arrive when this ends), where the system can."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = {signal.SIGINT, signal.SIGTERM}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """While the mix runs, SIGTERM exits through Python (clean-up runs) instead of at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_on_term(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, exit_on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
