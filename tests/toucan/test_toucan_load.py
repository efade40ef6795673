"""``load_toucan`` end to end on fixture mirrors: sources, sampling, filters, rejects, CLI."""

from __future__ import annotations

import json
from collections import Counter

import orjson
import pytest

from ajtrain.cli import build_parser
from ajtrain.records import read_records
from ajtrain.toucan.fixtures import iter_fixture_rows, write_fixture_mirror
from ajtrain.toucan.load import LoadConfig, load_toucan
from ajtrain.toucan.sample import SelectionSampler, parse_sample


def load(tmp_path, **kw):
    kw.setdefault("sample", "all")
    kw.setdefault("output", str(tmp_path / "out" / "toucan_Kimi-K2_trajectories.jsonl"))
    return load_toucan(LoadConfig(progress=False, **kw))


def rejects_of(summary):
    return [json.loads(line) for line in open(summary.rejects)]


def test_all_rows_accounted_for_and_valid(kimi_mirror, tmp_path, check_record):
    s = load(tmp_path, source=str(kimi_mirror))
    assert s.config == "Kimi-K2"  # inferred from the folder name
    assert s.scanned == s.read == s.kept + s.rejected == 400
    recs = list(read_records(s.output))
    assert len(recs) == s.kept > 350
    for rec in recs:
        check_record(rec)
    assert len({r["id"] for r in recs}) == len(recs)  # repeated uuids got a suffix
    assert any(r["id"].endswith("#2") for r in recs)
    rejects = rejects_of(s)
    assert len(rejects) == s.rejected
    assert Counter(r["reason"] for r in rejects) == Counter(s.reasons)
    assert {"invalid_arguments", "orphan_tool_result", "unknown_role", "unknown_tool"} <= set(
        s.reasons
    )
    assert all("row" in r and r["detail"] for r in rejects)  # converter rejects keep the row
    stored = json.loads(open(s.summary).read())
    assert stored["read"] == stored["kept"] + stored["rejected"] == 400
    assert s.summary.endswith("toucan_Kimi-K2_summary.json")
    assert s.rejects.endswith("toucan_Kimi-K2_rejects.jsonl")


def test_parquet_and_jsonl_mirrors_give_the_same_records(kimi_mirror, tmp_path):
    jsonl = tmp_path / "Kimi-K2"
    jsonl.mkdir()
    with open(jsonl / "rows.jsonl", "wb") as fh:
        for row in iter_fixture_rows("Kimi-K2", 400, seed=7, broken_every=13):
            fh.write(orjson.dumps(row) + b"\n")
    a = load(tmp_path, source=str(kimi_mirror), output=str(tmp_path / "a.jsonl"))
    b = load(tmp_path, source=str(jsonl), output=str(tmp_path / "b.jsonl"))
    assert open(a.output, "rb").read() == open(b.output, "rb").read()
    assert (a.kept, a.reasons) == (b.kept, b.reasons)


def test_sample_is_exact_seeded_and_in_stream_order(kimi_mirror, tmp_path):
    def ids(seed, out):
        s = load(
            tmp_path,
            source=str(kimi_mirror),
            sample="60",
            sample_seed=seed,
            subset=["single-turn-original", "single-turn-diversify"],
            output=str(tmp_path / out),
        )
        assert s.read == 60 and s.kept + s.rejected == 60
        return [r["id"] for r in read_records(s.output)]

    a, b, c = ids(1, "a.jsonl"), ids(1, "b.jsonl"), ids(2, "c.jsonl")
    assert a == b and a != c
    order = [r["uuid"] for r in iter_fixture_rows("Kimi-K2", 400, seed=7)]
    positions = [order.index(i.split("/")[-1].split("#")[0]) for i in a]
    assert positions == sorted(positions)


def test_selection_sampler_is_uniform_and_exact():
    total, n, trials = 40, 10, 4000
    hits = Counter()
    for seed in range(trials):
        s = SelectionSampler(total, n, seed)
        picked = [i for i in range(total) if s.take()]
        assert len(picked) == n and s.done
        hits.update(picked)
    expected = trials * n / total  # 1000 per row; sd ~27
    assert all(abs(hits[i] - expected) < 150 for i in range(total))
    assert parse_sample("5,000") == 5000 and parse_sample("all") is None
    with pytest.raises(ValueError):
        parse_sample("lots")


def test_subset_and_quality_filters(kimi_mirror, tmp_path):
    s = load(
        tmp_path,
        source=str(kimi_mirror),
        subset=["irrelevant"],
        min_completeness=4,
        min_question_score=1,
    )
    assert s.skipped_subset == 400 - s.read
    # Irrelevant rows have no response judge: a response threshold must not drop them.
    assert "no_response_assessment" not in s.reasons and "low_completeness" not in s.reasons
    assert s.kept > 0 and all(r["category"] == "irrelevant" for r in read_records(s.output))
    s = load(tmp_path, source=str(kimi_mirror), min_question_score=3.5, min_desired_tools_used=1.0)
    assert (
        s.reasons.get("low_question_score", 0) > 0
        and s.reasons.get("low_desired_tools_used", 0) > 0
    )
    for rec in read_records(s.output):
        assert rec["meta"]["question_score"] >= 3.5
        if rec["category"] != "irrelevant":
            assert rec["meta"]["response_scores"]["desired_tools_used_percentage"] == 1.0
    low = [r for r in rejects_of(s) if r["reason"] == "low_question_score"]
    assert low and all(r["scores"]["question_score"] < 3.5 and "row" not in r for r in low)


def test_sample_draws_among_rows_passing_the_filters(kimi_mirror, tmp_path):
    s = load(
        tmp_path,
        source=str(kimi_mirror),
        sample="25",
        min_question_score=3.0,
        subset=["single-turn-original"],
    )
    assert s.kept + sum(v for k, v in s.reasons.items() if not k.startswith("low_")) == 25


def test_sft_config_and_mirror_root_detection(tmp_path):
    from ajtrain.toucan.fixtures import write_fixture_mirror

    write_fixture_mirror(tmp_path / "mirror", "SFT", rows=40, seed=2)
    s = load_toucan(
        LoadConfig(
            source=str(tmp_path / "mirror"), progress=False, output=str(tmp_path / "sft.jsonl")
        )
    )
    assert s.config == "SFT" and s.kept == 40
    with pytest.raises(ValueError, match="no quality assessments"):
        load_toucan(
            LoadConfig(source=str(tmp_path / "mirror"), min_question_score=4, progress=False)
        )


@pytest.fixture
def local_hub(monkeypatch, tmp_path):
    """``huggingface_hub.HfFileSystem`` replaced by local disk laid out like the hub's repo, so
    the hub code path (glob, footers, range reads) runs offline; yields the paths it opened."""
    import huggingface_hub
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    root = tmp_path / "hub"
    repo = root / "datasets" / "Agent-Ark" / "Toucan-1.5M"
    write_fixture_mirror(repo, "OSS", rows=600, seed=5, shards=3, rows_per_group=100)
    opened = []

    class LocalHub(DirFileSystem):
        def __init__(self):
            super().__init__(path=str(root), fs=LocalFileSystem())

        def open(self, path, *args, **kwargs):
            opened.append(path)
            return super().open(path, *args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "HfFileSystem", LocalHub)
    return opened


def test_hub_source_reads_only_the_sampled_row_groups(local_hub, tmp_path):
    cfg = LoadConfig(config="OSS", sample="40", progress=False, output=str(tmp_path / "hub.jsonl"))
    s = load_toucan(cfg)
    assert s.source == "hf://Agent-Ark/Toucan-1.5M (OSS)"
    assert local_hub[0].startswith("datasets/Agent-Ark/Toucan-1.5M/OSS/train-")
    assert s.row_groups == "1 of 6" and s.scanned <= 100
    assert s.read == 40 and s.kept + s.rejected == 40 and not s.warnings
    full = load_toucan(LoadConfig(**{**vars(cfg), "sample": "all"}))
    assert full.read == 600 and s.bytes_read < full.bytes_read / 4
    # A filter counts the population on the chosen groups' cheap columns only.
    s = load_toucan(LoadConfig(**{**vars(cfg), "subset": ["multi-turn"]}))
    assert s.read == 40 and s.bytes_read < full.bytes_read / 2


def test_unreachable_hub_is_a_clear_error(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ValueError, match="--source DIR"):
        load_toucan(LoadConfig(progress=False, output=str(tmp_path / "x.jsonl")))
    assert not (tmp_path / "x.jsonl").exists()  # nothing partial is left behind


def test_sample_reads_a_small_share_of_a_mirror_and_is_reproducible(tmp_path):
    mirror = write_fixture_mirror(tmp_path / "m", "Kimi-K2", rows=2000, seed=3, shards=4,
                                  rows_per_group=100)  # fmt: skip
    on_disk = sum(f.stat().st_size for f in mirror.glob("*.parquet"))
    full = load(tmp_path, source=str(mirror), output=str(tmp_path / "all.jsonl"))
    assert full.read == 2000 and full.bytes_read >= 0.6 * on_disk  # all columns but metadata
    runs = [load(tmp_path, source=str(mirror), sample="50", sample_seed=seed,
                 output=str(tmp_path / f"s{k}.jsonl"))
            for k, seed in enumerate((1, 1, 2))]  # fmt: skip
    a, b, c = ([r["id"] for r in read_records(s.output)] for s in runs)
    assert a == b and a != c  # seeded, reproducible
    for s in runs:
        assert s.read == 50 and s.row_groups == "1 of 20"
        assert s.bytes_read < full.bytes_read / 10  # 1 group of 20, plus footers
    # A sample larger than a group spans several; 'all' of them when N reaches the population.
    big = load(tmp_path, source=str(mirror), sample="250", output=str(tmp_path / "big.jsonl"))
    assert big.read == 250 and big.row_groups == "3 of 20"
    every = load(tmp_path, source=str(mirror), sample="5000", output=str(tmp_path / "e.jsonl"))
    assert every.read == 2000 and every.row_groups == "20 of 20"


def test_cli_load_and_generate_style_flags(kimi_mirror, tmp_path, capsys):
    out = tmp_path / "cli" / "t.jsonl"
    args = build_parser().parse_args(
        [
            "load",
            "toucan",
            "--source",
            str(kimi_mirror),
            "--sample",
            "20",
            "--output",
            str(out),
            "--no-progress",
        ]
    )
    assert args.func(args) == 0
    assert "read" in capsys.readouterr().out
    assert (
        len(list(read_records(out))) + len(open(tmp_path / "cli" / "t_rejects.jsonl").readlines())
        == 20
    )
    # The generate command adds these flags next to its own; none may clash.
    ns = build_parser().parse_args(
        ["generate", "--load-dataset", "toucan", "--sample", "100", "--seed", "3"]
    )
    assert ns.sample == "100" and ns.sample_seed == 0 and ns.seed == 3


def test_fast_score_extraction_matches_a_full_parse():
    from ajtrain.toucan.filters import _fast_judged, scores

    rows = list(iter_fixture_rows("OSS", 60, seed=4))
    for row in rows:
        as_bytes = {k: v.encode() if k.endswith("assessment") else v for k, v in row.items()}
        assert scores(as_bytes) == scores(row)  # bytes take the fast path, str the full parse
        assert _fast_judged(as_bytes["question_quality_assessment"]) is not None
    # A reasoning text quoting the layout cannot fool it: its quotes are escaped.
    tricky = {"a": {"reasoning": 'x", "score": 9}, "b": {"reasoning": "', "score": 3},
              "overall_score": 3.0}  # fmt: skip
    assert _fast_judged(json.dumps(tricky).encode()) == {"a": 3, "overall_score": 3.0}
    # Another layout falls back (None) to the full parse.
    assert _fast_judged(b'{"a": {"score": 3, "reasoning": "r"}, "overall_score": 3.0}') is None
