"""``ajtrain generate`` on bad or unusual input: a clean error, never a traceback, a silent
accept or a half-written file; and valid input that used to crash or crawl."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from ajtrain.cli import main
from ajtrain.fleet import FleetEnv, load_fleet
from ajtrain.shutdown.generate import procedural_scenarios, scenario_to_record
from ajtrain.shutdown.on_fleet import UserFleet, build_on_fleet


def test_a_pattern_matching_an_already_stopped_machine_is_playable():
    # seed 2, --n 20000: a filler machine prod-cache-11 (stopped) fell inside prod-cache-*; the
    # checker demanded that the episode stop it, which no policy can do to a stopped machine.
    wanted = "shutdown/bulk_confirmation/2-00314"
    scenario = next(s for s in procedural_scenarios(20000, 2) if s.id == wanted)
    stopped = [m.name for m in scenario.fleet if m.status == "stopped"]
    assert set(stopped) & set(scenario.intent.targets)  # the case itself
    assert scenario_to_record(scenario)["meta"]["checker"] == "pass"


def test_users_fleet_with_a_stopped_member_of_a_group(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("machines:\n  - {name: web-01}\n  - {name: web-02}\n"
                     "  - {name: web-03, status: stopped}\n  - {name: db1}\n")  # fmt: skip
    out = tmp_path / "out.jsonl"
    assert main(["generate", "--fleet", str(fleet), "--n", "40", "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 40


@pytest.mark.parametrize("n", ["0", "-1"])
def test_n_below_one_is_an_error_and_writes_nothing(tmp_path, capsys, n):
    out = tmp_path / "out.jsonl"
    assert main(["generate", "--n", n, "--out", str(out)]) == 2
    assert f"--n {n}" in capsys.readouterr().err and not out.exists()


def test_output_paths_that_cannot_be_written_are_clean_errors(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    for out, why in [(tmp_path / "adir", "a folder is there"),
                     (tmp_path / "afile" / "x.jsonl", "afile is a file, not a folder")]:  # fmt: skip
        assert main(["generate", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"{out}: cannot write it" in err and why in err
    # a read-only folder (tests may run as root, who can write anywhere: simulate the refusal)

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    out = tmp_path / "ro" / "x.jsonl"
    assert main(["generate", "--out", str(out)]) == 2
    assert f"{out}: cannot write it (Permission denied)" in capsys.readouterr().err


def test_error_text_is_printed_literally(tmp_path, capsys):
    missing = tmp_path / "[red]fleet[/]:100:.yaml"
    assert main(["generate", "--fleet", str(missing)]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "💯" not in err
    assert main(["generate", "--out", str(tmp_path / "[red]out:100:.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "[red]out:100:.jsonl" in out and "💯" not in out


def test_sigterm_removes_the_temporary_file(tmp_path):
    out = tmp_path / "x.jsonl"
    cmd = [sys.executable, "-m", "ajtrain", "generate", "--n", "50000", "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".x.jsonl.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.05)  # until the run is writing
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and b"terminated" in err
    assert list(tmp_path.iterdir()) == []


def test_a_5000_machine_fleet_is_linear(tmp_path, monkeypatch):
    # One pattern group of 5,000: every step used to copy the fleet's whole state twice.
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("machines:\n" + "".join(f"  - {{name: node-{i:04d}}}\n" for i in range(5000)))
    machines = load_fleet(fleet)
    calls = 0
    state = FleetEnv.state

    def counting(self):
        nonlocal calls
        calls += 1
        return state(self)

    monkeypatch.setattr(FleetEnv, "state", counting)
    scenario = build_on_fleet(
        "bulk_confirmation", random.Random(0), "train", "big", UserFleet.of(machines)
    )
    assert len(scenario.intent.targets) == 5000
    t0 = time.perf_counter()
    scenario_to_record(scenario)
    assert calls < 50  # per turn, not per machine
    assert time.perf_counter() - t0 < 60
