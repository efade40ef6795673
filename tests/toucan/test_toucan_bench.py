"""Tiny runs of the Toucan benches' code paths (the real benches are not run by tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_toucan_load.py"


@pytest.mark.slow
def test_bench_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_toucan_load", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--gb", "0.002", "--work", str(tmp_path), "--repeat", "1"])
    for case in ("all", "sample1000", "baseline"):
        assert results[case]["peak_rss_mb"] > 0 and results[case]["mb_per_s_cpu"] > 0
    # Both loaders convert the same rows the same way.
    assert results["all"]["kept"] == results["baseline"]["kept"] > 0
    assert results["sample1000"]["kept"] + results["sample1000"]["rejected"] <= 1000
    assert "speedup over baseline" in capsys.readouterr().out


SAMPLE_BENCH = BENCH.with_name("bench_toucan_sample.py")


@pytest.mark.slow
def test_sample_bench_smoke(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_toucan_sample", SAMPLE_BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--gb", "0.005", "--mirror", str(tmp_path / "m"), "--rows-per-group",
                          "100"])  # fmt: skip
    assert results["small"]["read"] == 100 and results["all"]["read"] > 100
    assert 0 < results["small"]["bytes_read"] < results["all"]["bytes_read"]
    assert "of the bytes of --sample all" in capsys.readouterr().out
