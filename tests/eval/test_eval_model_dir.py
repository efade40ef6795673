"""A tiny trained model directory, end to end: chat template → batched generate → parsing →
episodes → scores; and the toucan_calls benchmark on the same model."""

from __future__ import annotations

import json

import pytest

from ajtrain.eval import EvalConfig, evaluate
from ajtrain.eval.backends import HFBackend, Request
from ajtrain.fleet import tool_schemas
from ajtrain.records import make_record, write_records

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def short_episodes(monkeypatch):
    """An untrained-ish model rarely ends an episode itself: cap it at 4 turns to keep tests fast."""
    monkeypatch.setattr("ajtrain.shutdown.episode.MAX_ASSISTANT_TURNS", 4)


def test_model_directory_runs_the_benchmark_end_to_end(tiny_model_dir, tmp_path):
    m = evaluate(EvalConfig(model=str(tiny_model_dir), out=str(tmp_path), limit=6,
                            max_new_tokens=8, batch_size=8, trials=2), progress=False)  # fmt: skip
    assert m["model"] == str(tiny_model_dir) and m["episodes"] == 12 and m["scenarios"] == 6
    assert m["trials_replicated"]  # greedy: identical trials are scored, not re-run
    assert set(m["pass_k"]) == {"pass^1", "pass^2"}
    rows = [json.loads(x) for x in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert all(r["turns"] >= 1 and r["messages"][-1]["role"] in ("user", "assistant", "tool")
               for r in rows)  # fmt: skip
    assert (tmp_path / "report.html").exists()


def test_batched_generation_matches_the_requests(tiny_model_dir):
    backend = HFBackend(str(tiny_model_dir), max_new_tokens=6, batch_size=3)
    sys_msg = {"role": "system", "content": "You are AJ."}
    reqs = [Request(str(i), [sys_msg, {"role": "user", "content": f"Is dc-0{i} up? " * (i + 1)}],
                    tool_schemas()) for i in range(5)]  # fmt: skip
    out = backend.complete(reqs)
    assert len(out) == 5 and backend.generate_calls == 2  # 5 prompts in batches of 3
    assert all(p.stop in ("eos", "length") for p in out)
    prompt = backend.render(reqs[0])
    assert "<tools>" in prompt and prompt.endswith("<|im_start|>assistant\n")
    # the same prompt alone gives the same greedy text as inside the batch
    alone = HFBackend(str(tiny_model_dir), max_new_tokens=6, batch_size=1).complete(reqs[:1])
    assert alone[0].raw == out[0].raw
    # the shared-prefix KV cache is an optimisation only: same greedy text without it
    assert backend.shared_prefix_tokens > 0
    plain = HFBackend(str(tiny_model_dir), max_new_tokens=6, batch_size=3, shared_prefix=False)
    assert [p.raw for p in plain.complete(reqs)] == [p.raw for p in out]
    assert plain.shared_prefix_tokens == 0


def test_kv_reuse_across_turns_gives_the_same_episodes(tiny_model_dir):
    """Keeping each episode's cache between turns is an optimisation only: the same greedy
    transcripts as re-reading every prompt, with far fewer tokens through the model."""
    from ajtrain.eval.runner import run_episodes
    from ajtrain.shutdown.benchmark import build_benchmark

    scenarios = build_benchmark()[:6]
    transcripts, backends = [], []
    for reuse in (True, False):
        backend = HFBackend(str(tiny_model_dir), max_new_tokens=8, batch_size=8, kv_reuse=reuse)
        runs = run_episodes(scenarios, backend, progress=False)
        transcripts.append([r.episode.messages for r in runs])
        backends.append(backend)
    assert transcripts[0] == transcripts[1]
    assert max(len(t) for t in transcripts[0]) > 4  # several turns: caches were carried over
    reusing, plain = backends
    assert reusing.reused_tokens > 0 and plain.reused_tokens == 0
    assert reusing.prefilled_tokens < plain.prefilled_tokens
    assert not reusing._reuse.past  # every finished episode's cache was dropped


def test_sampling_with_seeds_runs_every_trial(tiny_model_dir, tmp_path):
    m = evaluate(EvalConfig(model=str(tiny_model_dir), out=str(tmp_path), limit=1, trials=2,
                            temperature=1.0, max_new_tokens=4, charts=False), progress=False)  # fmt: skip
    assert not m["trials_replicated"] and m["timing"]["episodes_run"] == 2


def _toucan_record(i: int) -> dict:
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]  # fmt: skip
    call = {"id": "c0", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": f"Oslo{i}"})}}  # fmt: skip
    messages = [
        {"role": "user", "content": f"Weather in Oslo{i}?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c0", "name": "get_weather", "content": "rain"},
        {"role": "assistant", "content": "Rain."},
    ]
    return make_record(f"toucan/test/{i}", "toucan", "single-turn-original", tools, messages)


def test_toucan_calls_on_a_model_directory(tiny_model_dir, tmp_path):
    data = tmp_path / "heldout.jsonl"
    write_records(data, [_toucan_record(i) for i in range(3)])
    m = evaluate(EvalConfig(model=str(tiny_model_dir), benchmark="toucan_calls", data=str(data),
                            out=str(tmp_path / "out"), max_new_tokens=10), progress=False)  # fmt: skip
    assert m["rows"] == 3 and m["calls"] == 3
    assert 0.0 <= m["call_accuracy"] <= m["name_accuracy"] <= 1.0
    assert set(m["per_subset"]) == {"single-turn-original"}


def test_bfloat16_weights_on_request(tiny_model_dir):
    import torch

    backend = HFBackend(str(tiny_model_dir), max_new_tokens=4, batch_size=2, dtype="bfloat16")
    assert backend.model.dtype == torch.bfloat16
    sys_msg = {"role": "system", "content": "You are AJ."}
    out = backend.complete([Request("0", [sys_msg, {"role": "user", "content": "hi"}], None)])
    assert out[0].stop in ("eos", "length")
