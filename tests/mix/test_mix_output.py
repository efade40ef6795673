"""The output set (train.jsonl, val.jsonl, manifest.json) appears all at once or not at all.

A mix killed at any point leaves the previous set untouched; SIGTERM cleans up as Ctrl-C does;
bad ``--out`` and ``--workers`` values are clean errors, raised before any input is read.
Kills happen in a child process at a chosen call inside the mix, so they are deterministic.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from ajtrain import cli
from ajtrain.mix import MixConfig, run_mix
from ajtrain.shutdown import decontam

SET = ("train.jsonl", "val.jsonl", "manifest.json")

# Runs the mix in a child; at the N-th call of ajtrain.mix.<MODULE.FUNC> it sends itself SIGNAL, before or after
# the real call. The benchmark is replaced by no keys so the child starts fast.
CHILD = """
import os, sys
import importlib
from ajtrain.mix import mix
from ajtrain.shutdown import decontam
decontam.benchmark_keys = lambda: frozenset()
recipe, out, seed, where, nth, when, sig = sys.argv[1:]
module, func = where.split(".")
module = importlib.import_module("ajtrain.mix." + module)
real, calls = getattr(module, func), []

def hooked(*args, **kwargs):
    calls.append(1)
    hit = len(calls) == int(nth)
    if hit and when == "before":
        os.kill(os.getpid(), int(sig))
    result = real(*args, **kwargs)
    if hit and when == "after":
        os.kill(os.getpid(), int(sig))
    return result

setattr(module, func, hooked)
mix.run_mix(mix.MixConfig(recipe, out, seed=int(seed), workers=1, chart=False))
"""


@pytest.fixture(autouse=True)
def no_benchmark(monkeypatch):
    monkeypatch.setattr(decontam, "benchmark_keys", lambda: frozenset())


@pytest.fixture
def recipe(write_recipe, small_inputs):
    return write_recipe(
        {
            "total": 50,
            "val_fraction": 0.2,
            "sources": {
                "shutdown": {"path": small_inputs["shutdown"], "count": 10},
                "toucan": {"path": small_inputs["toucan"], "count": 40},
            },
        }
    )


def _snapshot(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _beside(out: Path) -> list[str]:
    """Anything the mix left next to the output directory (temporary directories)."""
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}"))


def _consistent(out: Path) -> None:
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    for name in ("train.jsonl", "val.jsonl"):
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        assert manifest["outputs"][name]["sha256"] == digest, f"{name} is not the manifest's"


def _run_child(recipe: Path, out: Path, seed: int, func: str, nth: int, when: str, sig: int):
    argv = [sys.executable, "-c", CHILD, str(recipe), str(out), str(seed), func, str(nth)]
    return subprocess.run([*argv, when, str(sig)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "func, nth, when",
    [
        ("mix.write_lines", 1, "after"),  # train.jsonl written, val.jsonl not yet
        ("mix.write_lines", 2, "after"),  # both written, no manifest yet
        ("mix.write_json", 1, "after"),  # all three written, not yet in place
    ],
)
def test_kill_9_mid_mix_leaves_the_previous_set_whole(tmp_path, recipe, func, nth, when):
    out = tmp_path / "o"
    run_mix(MixConfig(recipe, out, seed=1, workers=1, chart=False))
    before = _snapshot(out)
    child = _run_child(recipe, out, 2, func, nth, when, signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert _snapshot(out) == before  # the old set, whole: no new train.jsonl beside old val
    _consistent(out)
    # The next run clears what the killed one left beside the output, and completes.
    m = run_mix(MixConfig(recipe, out, seed=2, workers=1, chart=False))
    assert _snapshot(out) != before and m["recipe"]["seed"] == 2
    _consistent(out)
    assert _beside(out) == []
    assert sorted(p.name for p in out.iterdir()) == sorted(SET)


def test_kill_9_right_after_the_swap_leaves_the_new_set_whole(tmp_path, recipe):
    out = tmp_path / "o"
    run_mix(MixConfig(recipe, out, seed=1, workers=1, chart=False))
    before = _snapshot(out)
    child = _run_child(recipe, out, 2, "outdir._swap", 1, "after", signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert _snapshot(out) != before and sorted(_snapshot(out)) == sorted(SET)
    _consistent(out)
    assert orjson.loads((out / "manifest.json").read_bytes())["recipe"]["seed"] == 2
    # And the old set left beside goes.
    run_mix(MixConfig(recipe, out, seed=3, workers=1, chart=False))
    assert _beside(out) == []


def test_first_mix_killed_leaves_no_output_dir(tmp_path, recipe):
    out = tmp_path / "o"
    child = _run_child(recipe, out, 2, "mix.write_lines", 2, "after", signal.SIGKILL)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert not out.exists()


def test_sigterm_removes_temporary_files_and_keeps_the_previous_set(tmp_path, recipe):
    out = tmp_path / "o"
    run_mix(MixConfig(recipe, out, seed=1, workers=1, chart=False))
    before = _snapshot(out)
    child = _run_child(recipe, out, 2, "mix.write_lines", 2, "before", signal.SIGTERM)
    assert child.returncode in (-signal.SIGTERM, 128 + signal.SIGTERM), child.stderr
    assert "Traceback" not in child.stderr
    assert _snapshot(out) == before
    assert _beside(out) == []  # the temporary directory went with the signal, not at a next run


def test_sigterm_during_the_swap_takes_effect_after_it(tmp_path, recipe):
    """Held back while the set is swapped in (with two renames where there is no exchange, an
    interruption between them would leave no output directory at all)."""
    out = tmp_path / "o"
    run_mix(MixConfig(recipe, out, seed=1, workers=1, chart=False))
    child = _run_child(recipe, out, 2, "outdir._swap", 1, "before", signal.SIGTERM)
    assert child.returncode == 128 + signal.SIGTERM, child.stderr
    assert orjson.loads((out / "manifest.json").read_bytes())["recipe"]["seed"] == 2
    _consistent(out)
    assert _beside(out) == []


# SIGTERM sent to the mix while a pass-1 worker is busy with a file (for ten minutes).
CHILD_BUSY_WORKER = """
import os, signal, sys, time
from ajtrain.mix import index, mix
from ajtrain.shutdown import decontam
decontam.benchmark_keys = lambda: frozenset()
real = index.index_file

def busy(path, keys=frozenset()):
    if "toucan_b" in path:
        os.kill(os.getppid(), signal.SIGTERM)
        time.sleep(600)
    return real(path, keys)

index.index_file = busy
mix.run_mix(mix.MixConfig(sys.argv[1], sys.argv[2], workers=2, chart=False))
"""


def test_sigterm_during_pass_1_stops_the_workers_too(tmp_path, recipe):
    out = tmp_path / "o"
    argv = [sys.executable, "-c", CHILD_BUSY_WORKER, str(recipe), str(out)]
    # Waiting for the busy worker to finish its file would run into this timeout.
    child = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert child.returncode == 128 + signal.SIGTERM, child.stderr
    assert not out.exists() and _beside(out) == []


# SIGTERM sent to the mix just after its pool forked, while the workers are still starting (their
# initializer is slow here, as under load when the scheduler has not run them yet).
CHILD_EARLY_TERM = """
import os, signal, sys, time
from ajtrain.mix import index, mix
from ajtrain.shutdown import decontam
decontam.benchmark_keys = lambda: frozenset()
real_init, real_pool = index._worker_signals, index.multiprocessing.Pool

def slow_init():
    try:
        time.sleep(1.0)
    except SystemExit:  # the parent's SIGTERM handler, run in a worker
        open(sys.argv[3], "w").write("parent's handler ran in a worker")
        raise
    real_init()

def pool_then_term(*args, **kwargs):
    pool = real_pool(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGTERM)
    return pool

index._worker_signals = slow_init
index.multiprocessing.Pool = pool_then_term
mix.run_mix(mix.MixConfig(sys.argv[1], sys.argv[2], workers=2, chart=False))
"""


def test_sigterm_while_the_workers_start_never_runs_the_parents_clean_up_in_them(tmp_path, recipe):
    """Such a worker would exit through Python, which can hang on a lock held at fork time (the
    mix then waited for it forever: seen under load). Workers start with the signal blocked."""
    out, marker = tmp_path / "o", tmp_path / "marker"
    argv = [sys.executable, "-c", CHILD_EARLY_TERM, str(recipe), str(out), str(marker)]
    child = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert child.returncode == 128 + signal.SIGTERM, child.stderr
    assert not marker.exists()
    assert not out.exists() and _beside(out) == []


def _cli(argv: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr, unwrapped (the console folds long lines at spaces and in paths)."""
    rc = cli.main(["mix", *argv])
    return rc, capsys.readouterr().err.replace("\n", "")


@pytest.mark.parametrize("workers", ["0", "-2"])
def test_workers_below_one_is_an_error(tmp_path, recipe, workers, capsys):
    rc, err = _cli(
        ["--recipe", str(recipe), "--out", str(tmp_path / "o"), "--workers", workers], capsys
    )
    assert rc == 2 and "--workers" in err and workers in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_out_is_an_existing_file(tmp_path, recipe, capsys):
    target = tmp_path / "mix.jsonl"
    target.write_text("keep me\n")
    rc, err = _cli(["--recipe", str(recipe), "--out", str(target), "--no-chart"], capsys)
    assert rc == 2 and str(target) in err and "is not a directory" in err
    assert target.read_text() == "keep me\n"


def test_out_under_a_file(tmp_path, recipe, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "o"
    rc, err = _cli(["--recipe", str(recipe), "--out", str(out), "--no-chart"], capsys)
    assert rc == 2 and str(blocker) in err and "Traceback" not in err
    assert blocker.read_text() == "x"


def test_out_in_a_folder_that_refuses_writes(tmp_path, recipe, capsys, monkeypatch):
    """Read-only as an unprivileged user sees it; root ignores modes, so the refusal is simulated."""
    import tempfile

    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", kwargs.get("dir"))

        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    else:
        ro.chmod(0o555)
    try:
        rc, err = _cli(["--recipe", str(recipe), "--out", str(ro / "o"), "--no-chart"], capsys)
    finally:
        ro.chmod(0o755)
    assert rc == 2 and str(ro) in err and "(Permission" in err
    assert list(ro.iterdir()) == []


def test_out_holding_other_files_is_refused_not_replaced(tmp_path, recipe, capsys):
    out = tmp_path / "data"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    rc, err = _cli(["--recipe", str(recipe), "--out", str(out), "--no-chart"], capsys)
    assert rc == 2 and "notes.txt" in err and str(out) in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_chart_is_part_of_the_set_and_a_rerun_without_it_drops_the_old_one(tmp_path, recipe):
    pytest.importorskip("matplotlib")
    out = tmp_path / "o"
    run_mix(MixConfig(recipe, out, seed=1, workers=1))
    assert (out / "composition.png").exists()
    run_mix(MixConfig(recipe, out, seed=2, workers=1, chart=False))
    assert sorted(p.name for p in out.iterdir()) == sorted(SET)
