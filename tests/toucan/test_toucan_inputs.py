"""``ajtrain load toucan`` on inputs a user should hear about: an error, or a counted warning
that is printed and kept in the summary — never a silent accept."""

from __future__ import annotations

import orjson
import pytest

from ajtrain.cli import main
from ajtrain.toucan.fixtures import iter_fixture_rows


def mirror(tmp_path, rows: list[dict]):
    folder = tmp_path / "mirror" / "Kimi-K2"
    folder.mkdir(parents=True)
    (folder / "rows.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return folder


def load(tmp_path, source, *flags: str) -> tuple[int, dict | None]:
    out = tmp_path / "out" / "toucan_trajectories.jsonl"
    argv = ["load", "toucan", "--source", str(source), "--output", str(out), "--no-progress"]
    code = main([*argv, *flags])
    summary = out.with_name("toucan_summary.json")
    return code, orjson.loads(summary.read_bytes()) if summary.exists() else None


ROWS = list(iter_fixture_rows("Kimi-K2", 7, seed=1))


def test_sample_zero_is_an_error(tmp_path, capsys):
    assert load(tmp_path, mirror(tmp_path, ROWS), "--sample", "0") == (2, None)
    assert "--sample 0" in capsys.readouterr().err


def test_an_empty_source_is_an_error_and_writes_nothing(tmp_path, capsys):
    assert load(tmp_path, mirror(tmp_path, []), "--sample", "all") == (2, None)
    assert "the source holds no rows" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize(
    "rows, flags, warning",
    [
        (ROWS, ["--sample", "100"], "a sample of 100 rows (--sample) is more than the 7 eligible"),
        (ROWS + ROWS[:3], ["--sample", "all"], "3 rows repeat an earlier row"),
        ([{k: v for k, v in r.items() if k != "available_tools"} for r in ROWS], ["--sample", "all"],
         "7 rows have no available_tools column"),
    ],
)  # fmt: skip
def test_surprising_input_is_a_counted_printed_warning(tmp_path, capsys, rows, flags, warning):
    code, summary = load(tmp_path, mirror(tmp_path, rows), *flags)
    assert code == 0 and any(w.startswith(warning) for w in summary["warnings"])
    assert warning.split(" (")[0] in " ".join(capsys.readouterr().out.split())


def test_without_available_tools_a_call_needs_a_declaration(tmp_path):
    # the column is gone: tools come from the system message's declaration ...
    bare = [{k: v for k, v in r.items() if k != "available_tools"} for r in ROWS]
    code, summary = load(tmp_path, mirror(tmp_path, bare), "--sample", "all")
    out = tmp_path / "out" / "toucan_trajectories.jsonl"
    for line in out.read_bytes().splitlines():
        rec = orjson.loads(line)
        called = {c["function"]["name"] for m in rec["messages"] for c in m.get("tool_calls", ())}
        assert called and called <= {t["function"]["name"] for t in orjson.loads(rec["tools"])}
    # ... and without one either, a row that calls tools is rejected, not kept with "[]"
    for r in bare:
        r["messages"] = orjson.dumps(
            [m for m in orjson.loads(r["messages"]) if m["role"] != "system"]
        ).decode()
    code, summary = load(tmp_path, mirror(tmp_path / "2", bare), "--sample", "all")
    assert code == 0 and summary["kept"] == 0 and summary["reasons"] == {"unknown_tool": 7}
