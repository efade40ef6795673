"""run_mix end to end on small inputs: exact counts, oversampling, dedup, decontamination,
determinism, manifest and chart."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import orjson
import pytest

from ajtrain.mix import MixConfig, RecipeError, run_mix
from ajtrain.records import RecordError, content_hash, read_records
from ajtrain.shutdown import decontam
from ajtrain.shutdown.decontam import record_key

NO_KEYS: frozenset[str] = frozenset()


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def _sources(out: Path) -> Counter:
    return Counter(r["source"] for f in ("train", "val") for r in read_records(out / f"{f}.jsonl"))


def _recipe(write_recipe, inputs, shutdown=10, toucan=40, **extra):
    return write_recipe(
        {
            "name": "tiny",
            "total": shutdown + toucan,
            "seed": 3,
            "val_fraction": 0.1,
            **extra,
            "sources": {
                "shutdown": {"path": inputs["shutdown"], "count": shutdown, "hint": "make more"},
                "toucan": {"path": inputs["toucan"], "fraction": toucan / (shutdown + toucan)},
            },
        }
    )


def test_exact_counts_split_and_lines_copied_unchanged(tmp_path, small_inputs, write_recipe):
    out = tmp_path / "out"
    m = run_mix(
        MixConfig(_recipe(write_recipe, small_inputs), out, workers=1, chart=False),
        decontam_keys=NO_KEYS,
    )
    assert _sources(out) == {"shutdown": 10, "toucan": 40}
    assert len(_lines(out / "train.jsonl")) == 45 and len(_lines(out / "val.jsonl")) == 5
    assert m["outputs"]["train.jsonl"]["records"] == 45
    by_name = {s["name"]: s for s in m["sources"]}
    assert by_name["toucan"]["read"] == 120 and by_name["toucan"]["available"] == 120
    assert by_name["shutdown"]["train"] + by_name["shutdown"]["val"] == 10
    assert sum(m["categories"].values()) == 50
    # Lines are the input bytes, unchanged: the output is as self-describing as `cat`.
    inputs = set()
    for f in sorted(tmp_path.glob("*_trajectories.jsonl")):
        inputs.update(_lines(f))
    assert set(_lines(out / "train.jsonl")) <= inputs
    assert not set(_lines(out / "train.jsonl")) & set(_lines(out / "val.jsonl"))


def test_manifest_hashes_tokens_and_chart(tmp_path, small_inputs, write_recipe):
    out = tmp_path / "out"
    m = run_mix(
        MixConfig(_recipe(write_recipe, small_inputs), out, workers=1), decontam_keys=NO_KEYS
    )
    on_disk = orjson.loads((out / "manifest.json").read_bytes())
    assert on_disk == m
    files = [f for s in m["sources"] for f in s["files"]]
    assert len(files) == 3
    for f in files:
        assert f["sha256"] == hashlib.sha256(Path(f["path"]).read_bytes()).hexdigest()
    train_sha = hashlib.sha256((out / "train.jsonl").read_bytes()).hexdigest()
    assert m["outputs"]["train.jsonl"]["sha256"] == train_sha
    tokens = m["tokens"]
    assert "no tokenizer" in tokens["proxy"] and tokens["count"] == 50
    assert 0 < tokens["min"] <= tokens["p50"] <= tokens["p99"] <= tokens["max"]
    assert (out / "composition.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert m["chart"] == "composition.png"


def test_short_source_is_refused_unless_oversampling_allowed(tmp_path, small_inputs, write_recipe):
    recipe = _recipe(write_recipe, small_inputs, shutdown=50, toucan=50)
    with pytest.raises(RecipeError) as info:
        run_mix(MixConfig(recipe, tmp_path / "a", workers=1, chart=False), decontam_keys=NO_KEYS)
    msg = str(info.value)
    assert "'shutdown' has 20 usable records" in msg and "quota is 50" in msg
    assert "make more" in msg and "allow_oversample" in msg and info.value.key == "sources.shutdown"
    assert not (tmp_path / "a" / "train.jsonl").exists()

    out = tmp_path / "b"
    m = run_mix(
        MixConfig(recipe, out, allow_oversample=True, workers=1, chart=False), decontam_keys=NO_KEYS
    )
    assert m["upsample_factors"] == {"shutdown": 2.5, "toucan": 1.0}
    assert _sources(out) == {"shutdown": 50, "toucan": 50}
    train_ids = Counter(r["id"] for r in read_records(out / "train.jsonl"))
    val_ids = Counter(r["id"] for r in read_records(out / "val.jsonl"))
    assert not set(train_ids) & set(val_ids), "copies of one record must stay on one side"
    copies = Counter(n for i, n in (train_ids + val_ids).items() if i.startswith("shutdown"))
    assert set(copies) == {2, 3} and sum(k * v for k, v in copies.items()) == 50


def test_dedup_within_and_across_sources(tmp_path, write_jsonl, write_recipe, make_toucan):
    # 30 Toucan rows but only 20 distinct contents; 5 of 8 "s" rows duplicate Toucan ones.
    toucan = [make_toucan(i, text=f"q{i % 20}") for i in range(30)]
    write_jsonl(tmp_path / "t.jsonl", toucan)
    shutdown = [make_toucan(100 + i, text=f"q{i}" if i < 5 else f"s{i}") for i in range(8)]
    write_jsonl(tmp_path / "s.jsonl", shutdown)
    recipe = write_recipe(
        {
            "total": 23,
            "sources": {
                "t": {"path": str(tmp_path / "t.jsonl"), "count": 20},
                "s": {"path": str(tmp_path / "s.jsonl"), "count": 3, "allow_oversample": True},
            },
        }
    )
    # Whitespace-only and blank lines are skipped, not records.
    with open(tmp_path / "t.jsonl", "ab") as fh:
        fh.write(b"\n   \n")
    m = run_mix(MixConfig(recipe, tmp_path / "out", workers=1, chart=False), decontam_keys=NO_KEYS)
    t, s = m["sources"]
    assert t["dropped"]["duplicate"] == 10 and t["available"] == 20
    # The first occurrence wins (recipe order): s keeps only its 3 rows Toucan does not have.
    assert s["dropped"]["duplicate"] == 5 and s["available"] == 3 and s["train"] == 3
    assert m["dropped"] == {"duplicate": 15, "contaminated": 0}


def test_dedup_then_exact_count(tmp_path, write_jsonl, write_recipe, make_toucan):
    write_jsonl(tmp_path / "t.jsonl", [make_toucan(i, text=f"q{i % 20}") for i in range(30)])
    recipe = write_recipe(
        {"total": 20, "sources": {"t": {"path": str(tmp_path / "t.jsonl"), "count": 20}}}
    )
    out = tmp_path / "out"
    m = run_mix(MixConfig(recipe, out, workers=1, chart=False), decontam_keys=NO_KEYS)
    hashes = [content_hash(r) for r in read_records(out / "train.jsonl")]
    assert len(hashes) == len(set(hashes)) == 20
    assert m["dropped"]["duplicate"] == 10


def test_decontamination_drops_benchmark_matches(
    tmp_path, small_inputs, write_recipe, monkeypatch, make_shutdown
):
    records = [make_shutdown(i) for i in range(20)]
    # Same request and fleet up to case, spacing and machine order: still the benchmark's key.
    bench = [
        make_shutdown(i, request=f"  SHUT down   web-{i} ", fleet=[f"db-{i}", f"web-{i}"])
        for i in (0, 1, 2)
    ]
    keys = frozenset(record_key(r) for r in bench)
    recipe = _recipe(write_recipe, small_inputs, shutdown=17, toucan=40)
    monkeypatch.setattr(decontam, "benchmark_keys", lambda: keys)
    out = tmp_path / "out"
    # No decontam_keys given: the (patched) benchmark's.
    m = run_mix(MixConfig(recipe, out, workers=1, chart=False))
    shutdown = m["sources"][0]
    assert shutdown["dropped"]["contaminated"] == 3 and shutdown["available"] == 17
    assert m["dropped"]["contaminated"] == 3
    assert "applied against 3 benchmark scenarios" in m["decontamination"]["status"]
    ids = {r["id"] for f in ("train", "val") for r in read_records(out / f"{f}.jsonl")}
    assert not ids & {r["id"] for r in records[:3]}
    assert ids >= {r["id"] for r in records[3:]}


def test_missing_benchmark_degrades_with_warning(tmp_path, small_inputs, write_recipe, monkeypatch):
    def missing():
        raise ModuleNotFoundError("No module named 'ajtrain.shutdown.benchmark'")

    monkeypatch.setattr(decontam, "benchmark_keys", missing)
    m = run_mix(
        MixConfig(_recipe(write_recipe, small_inputs), tmp_path / "o", workers=1, chart=False)
    )
    assert m["decontamination"]["status"].startswith("skipped")
    assert m["decontamination"]["keys"] == 0


def test_same_seed_same_bytes_other_seed_other_order(tmp_path, small_inputs, write_recipe):
    recipe = _recipe(write_recipe, small_inputs)
    runs = {}
    for name, seed, workers in (("a", None, 1), ("b", None, 2), ("c", 99, 1)):
        run_mix(
            MixConfig(recipe, tmp_path / name, seed=seed, workers=workers, chart=False),
            decontam_keys=NO_KEYS,
        )
        runs[name] = [(tmp_path / name / f).read_bytes() for f in ("train.jsonl", "val.jsonl")]
    manifests = [orjson.loads((tmp_path / n / "manifest.json").read_bytes()) for n in "ab"]
    for m in manifests:
        m.pop("out_dir")
    assert runs["a"] == runs["b"] and manifests[0] == manifests[1]
    assert runs["c"] != runs["a"]


def test_missing_source_and_bad_record_are_clear_errors(tmp_path, small_inputs, write_recipe):
    missing = dict(small_inputs, toucan=str(tmp_path / "nothing_*.jsonl"))
    with pytest.raises(RecipeError, match=r"no file matches .*nothing_\*\.jsonl.*--source toucan="):
        run_mix(MixConfig(_recipe(write_recipe, missing), tmp_path / "o"), decontam_keys=NO_KEYS)
    (tmp_path / "empty_trajectories.jsonl").write_text("")
    empty = dict(small_inputs, shutdown=str(tmp_path / "empty_trajectories.jsonl"))
    with pytest.raises(RecipeError, match="0 usable records"):
        run_mix(
            MixConfig(
                _recipe(write_recipe, empty), tmp_path / "o", allow_oversample=True, workers=1
            ),
            decontam_keys=NO_KEYS,
        )
    bad = tmp_path / "toucan_a_trajectories.jsonl"
    with open(bad, "ab") as fh:
        fh.write(
            b'{"id": "x", "source": "toucan", "category": "", "tools": "[]", "messages": []}\n'
        )
    with pytest.raises(RecordError) as info:
        run_mix(
            MixConfig(_recipe(write_recipe, small_inputs), tmp_path / "o", workers=2),
            decontam_keys=NO_KEYS,
        )
    assert f"{bad}:61" in str(info.value) and info.value.field == "messages"


def test_real_benchmark_decontaminates_canonical_records(
    tmp_path, write_jsonl, write_recipe, make_toucan
):
    generate = pytest.importorskip("ajtrain.shutdown.generate")
    canonical = pytest.importorskip("ajtrain.shutdown.canonical")
    records = [generate.scenario_to_record(s) for s in canonical.canonical_scenarios()]
    keys = decontam.benchmark_keys()
    leaked = {r["id"] for r in records if record_key(r) in keys}
    write_jsonl(tmp_path / "shutdown_trajectories.jsonl", records)
    write_jsonl(tmp_path / "toucan_x_trajectories.jsonl", [make_toucan(i) for i in range(50)])
    recipe = _recipe(
        write_recipe,
        {
            "shutdown": str(tmp_path / "shutdown_trajectories.jsonl"),
            "toucan": str(tmp_path / "toucan_x_trajectories.jsonl"),
        },
        shutdown=len(records) - len(leaked),
        toucan=50,
    )
    out = tmp_path / "out"
    m = run_mix(MixConfig(recipe, out, workers=1, chart=False))
    assert m["dropped"]["contaminated"] == len(leaked)
    assert m["decontamination"]["keys"] == len(keys) > 0
    ids = {r["id"] for f in ("train", "val") for r in read_records(out / f"{f}.jsonl")}
    assert not ids & leaked and len(ids) == len(records) - len(leaked) + 50


def test_input_changed_between_passes_is_refused(tmp_path, small_inputs, write_recipe, monkeypatch):
    from ajtrain.mix import mix as mix_module

    real_split = mix_module.split

    def split_then_touch(*args, **kwargs):
        with open(tmp_path / "toucan_a_trajectories.jsonl", "ab") as fh:
            fh.write(b"\n")
        return real_split(*args, **kwargs)

    monkeypatch.setattr(mix_module, "split", split_then_touch)
    with pytest.raises(ValueError, match="changed while the mix was reading it"):
        run_mix(
            MixConfig(_recipe(write_recipe, small_inputs), tmp_path / "o", workers=1, chart=False),
            decontam_keys=NO_KEYS,
        )
    assert not (tmp_path / "o" / "train.jsonl").exists()


@pytest.mark.parametrize("weight", [2, True, "0"])
def test_an_assistant_weight_is_0_or_1(weight):
    from ajtrain.records import validate_record

    record = {
        "id": "r",
        "source": "s",
        "category": "c",
        "tools": "[]",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "x", "weight": weight},
        ],
    }
    with pytest.raises(
        RecordError, match=r"f.jsonl:3: field 'messages\[1\].weight': expected 0 or 1"
    ):
        validate_record(record, "f.jsonl:3")


def test_buffer_sizes_do_not_change_the_output(tmp_path, small_inputs, write_recipe, monkeypatch):
    """Pass 1 reads blocks and pass 2 copies chunks: lines longer than either (a block that must
    grow, a chunk of its own) give the same bytes as the default sizes."""
    from ajtrain.mix import index as index_module
    from ajtrain.mix import mix as mix_module

    recipe = _recipe(write_recipe, small_inputs, shutdown=20, toucan=60, allow_oversample=True)
    outputs = {}
    sizes = (("default", None, None), ("tiny", 100, 300), ("small", 1000, 1500))
    for name, block, chunk in sizes:
        if block:
            monkeypatch.setattr(index_module, "BLOCK", block)
            monkeypatch.setattr(mix_module, "CHUNK", chunk)
        run_mix(MixConfig(recipe, tmp_path / name, workers=1, chart=False), decontam_keys=NO_KEYS)
        outputs[name] = [(tmp_path / name / f).read_bytes() for f in ("train.jsonl", "val.jsonl")]
    line = max(len(x) for x in _lines(tmp_path / "default" / "train.jsonl"))
    assert 300 < line < 1500  # tiny: a chunk per line, a growing block; small: lines share one
    assert outputs["tiny"] == outputs["small"] == outputs["default"] and outputs["tiny"][0]
