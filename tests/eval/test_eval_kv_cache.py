"""The growing KV cache of eval/kv_reuse.py holds exactly what transformers' concatenating
cache holds, through prefill, decode steps past its room, and rows leaving the batch."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import DynamicCache  # noqa: E402

from ajtrain.eval import kv_reuse  # noqa: E402
from ajtrain.eval.backends import HFBackend  # noqa: E402


def test_growing_cache_matches_the_concatenating_cache():
    gen = torch.Generator().manual_seed(0)
    grow, plain = kv_reuse._growing_cache(), DynamicCache()
    rows, steps = 4, kv_reuse.ROOM + 40  # past the first allocation: the cache must regrow

    def both(n_new: int) -> None:
        for layer in range(2):
            k = torch.randn(rows, 1, n_new, 8, generator=gen)
            v = torch.randn(rows, 1, n_new, 8, generator=gen)
            got, want = grow.update(k, v, layer), plain.update(k, v, layer)
            assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])

    both(5)  # prefill
    for step in range(steps):
        both(1)
        if step == 100:  # a row ends: it leaves the batch
            keep = torch.tensor([0, 2, 3])
            grow.batch_select_indices(keep)
            plain.batch_select_indices(keep)
            rows = 3
    assert grow.get_seq_length() == plain.get_seq_length() == 5 + steps
    for g, p in zip(grow.layers, plain.layers, strict=True):
        assert torch.equal(g.keys, p.keys) and torch.equal(g.values, p.values)


def test_an_unknown_dtype_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="--dtype fp8: use auto, float32 or bfloat16"):
        HFBackend(str(tmp_path), dtype="fp8")
