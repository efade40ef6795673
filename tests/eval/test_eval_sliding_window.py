"""A model with sliding-window layers (Gemma 3's shape, at toy size): an episode's greedy turns
are the same inside a batch with holes as alone. Before the exact masks, the holes between a
row's cache and its new tokens took room in the window, and a row's text depended on what else
was in its batch."""

from __future__ import annotations

import shutil

import pytest

from ajtrain.eval.backends import HFBackend, Request
from ajtrain.eval.kv_reuse import sliding_window
from ajtrain.fleet import tool_schemas

pytestmark = pytest.mark.slow

WINDOW = 8


@pytest.fixture(scope="module")
def sliding_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model's tokenizer and template on a random toy Gemma 3 (one sliding layer of
    window 8, one full layer), in float32."""
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    out = tmp_path_factory.mktemp("sliding") / "model"
    shutil.copytree(tiny_model_dir, out)
    for f in out.glob("*.safetensors"):
        f.unlink()
    tok = AutoTokenizer.from_pretrained(out)
    torch.manual_seed(0)
    cfg = Gemma3TextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=WINDOW,
        layer_types=["sliding_attention", "full_attention"], max_position_embeddings=4096,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    Gemma3ForCausalLM(cfg).save_pretrained(out)
    return out


def _turns(backend: HFBackend, n: int) -> list[list[str]]:
    """Two rounds of ``n`` episodes of different lengths: the second round's rows each carry
    their first round's cache, then a user turn of their own length (holes between)."""
    sys_msg = {"role": "system", "content": "You are AJ."}
    msgs = [[sys_msg, {"role": "user", "content": f"Is dc-0{i} up? " * (1 + 3 * i)}]
            for i in range(n)]  # fmt: skip
    raws: list[list[str]] = [[] for _ in range(n)]
    for _ in range(2):
        reqs = [Request(f"e{i}", m, tool_schemas()) for i, m in enumerate(msgs)]
        for i, parsed in enumerate(backend.complete(reqs)):
            raws[i].append(parsed.raw)
            msgs[i] = [*msgs[i], {"role": "assistant", "content": parsed.raw},
                       {"role": "user", "content": "and dc-9? " * (1 + 4 * (n - i))}]  # fmt: skip
    return raws


def _backend(path, attention: str, **kw) -> HFBackend:
    backend = HFBackend(str(path), max_new_tokens=12, **kw)
    backend.model.set_attn_implementation(attention)  # sdpa takes bool masks, eager additive
    return backend


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_a_sliding_window_row_reads_the_same_in_a_batch_as_alone(sliding_model_dir, attention):
    batched = _backend(sliding_model_dir, attention, batch_size=4)
    assert sliding_window(batched.model) == WINDOW
    together = _turns(batched, 4)
    # each episode in a batch of its own: no holes at all
    alone = _turns(_backend(sliding_model_dir, attention, batch_size=1), 4)
    assert together == alone
    assert len({r[1] for r in together}) > 1  # the toy model's turns differ by prompt
    assert batched.reused_tokens > 0  # the second round carried caches: holes in the middle


def test_plain_generate_does_not_share_a_prefix_on_a_sliding_window_model(sliding_model_dir):
    plain = HFBackend(str(sliding_model_dir), max_new_tokens=6, batch_size=4, kv_reuse=False)
    sys_msg = {"role": "system", "content": "You are AJ."}
    reqs = [Request(str(i), [sys_msg, {"role": "user", "content": f"Is dc-0{i} up? " * (i + 1)}],
                    tool_schemas()) for i in range(4)]  # fmt: skip
    out = plain.complete(reqs)
    assert plain.shared_prefix_tokens == 0
    alone = [HFBackend(str(sliding_model_dir), max_new_tokens=6, batch_size=1,
                       kv_reuse=False).complete([r])[0].raw for r in reqs]  # fmt: skip
    assert [p.raw for p in out] == alone
