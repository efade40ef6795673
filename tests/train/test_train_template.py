"""The assistant-token mask, token by token, for the tiny template and two other template styles."""

from __future__ import annotations

import json

import pytest

from ajtrain.train.data import IGNORE, conversation, tokenize
from ajtrain.train.template import SpanFinder
from ajtrain.train.tiny import train_tokenizer

# A Llama-3-style template (headers, <|eot_id|>, tool calls as JSON, tool results as "ipython").
LLAMA_STYLE = (
    "{{- bos_token }}"
    "{%- if tools %}<|start_header_id|>system<|end_header_id|>\n\nFunctions:\n"
    "{%- for t in tools %}{{ t | tojson }}\n{%- endfor %}<|eot_id|>{%- endif %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'assistant' and m.tool_calls %}"
    "<|start_header_id|>assistant<|end_header_id|>\n\n"
    '{% for c in m.tool_calls %}{"name": "{{ c.function.name }}", "parameters": '
    "{{ c.function.arguments | tojson }}}{%- endfor %}<|eot_id|>"
    "{%- elif m.role == 'tool' %}<|start_header_id|>ipython<|end_header_id|>\n\n{{ m.content }}<|eot_id|>"
    "{%- else %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n{{ m.content | trim }}<|eot_id|>"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
# A Mistral-style template: no generation prompt, eos after each reply, and the tool list moved
# in front of the LAST user turn — history renders differently from a prefix.
MISTRAL_STYLE = (
    "{{- bos_token }}"
    "{%- set ns = namespace(last_user=0) %}"
    "{%- for m in messages %}{%- if m.role == 'user' %}{%- set ns.last_user = loop.index0 %}"
    "{%- endif %}{%- endfor %}"
    "{%- for m in messages %}"
    "{%- if m.role == 'user' %}"
    "{%- if tools and loop.index0 == ns.last_user %}[AVAILABLE_TOOLS]{{ tools | tojson }}"
    "[/AVAILABLE_TOOLS]{%- endif %}[INST]{{ m.content }}[/INST]"
    "{%- elif m.role == 'system' %}[SYSTEM_PROMPT]{{ m.content }}[/SYSTEM_PROMPT]"
    "{%- elif m.role == 'assistant' %}"
    "{%- if m.tool_calls %}[TOOL_CALLS]{{ m.tool_calls | map(attribute='function') | list | tojson }}"
    "{%- else %}{{ m.content }}{%- endif %}{{ eos_token }}"
    "{%- elif m.role == 'tool' %}[TOOL_RESULTS]{{ m.content }}[/TOOL_RESULTS]{%- endif %}"
    "{%- endfor %}"
)

TOOLS = [{"type": "function", "function": {"name": "list_agents", "parameters": {"type": "object"}}},
         {"type": "function", "function": {"name": "shutdown_agent", "parameters": {"type": "object"}}}]  # fmt: skip


def _call(i, name, args):
    return {
        "id": f"c{i}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args)},
    }


RECORD = {
    "id": "t/1", "source": "test", "category": "mask", "tools": json.dumps(TOOLS), "meta": {},
    "messages": [
        {"role": "system", "content": "You are AJ."},
        {"role": "user", "content": "Shut down the web server."},
        {"role": "assistant", "content": "", "reasoning_content": "Look first.",
         "tool_calls": [_call(0, "list_agents", {"filter": "web"})]},
        {"role": "tool", "tool_call_id": "c0", "name": "list_agents", "content": '["web-01","web-02"]'},
        {"role": "assistant", "content": "web-01 or web-02?"},
        {"role": "user", "content": "web-02, yes"},
        {"role": "assistant", "content": "", "tool_calls": [_call(1, "shutdown_agent", {"name": "web-02"})]},
        {"role": "tool", "tool_call_id": "c1", "name": "shutdown_agent", "content": "ok"},
        {"role": "assistant", "content": "Done."},
    ],
}  # fmt: skip

# What each template should train on, per assistant turn, written out by hand.
EXPECTED = {
    "tiny": [
        '<think>\nLook first.\n</think>\n\n<tool_call>\n{"name": "list_agents", "arguments": '
        '{"filter": "web"}}\n</tool_call><|im_end|>',
        "web-01 or web-02?<|im_end|>",
        '<tool_call>\n{"name": "shutdown_agent", "arguments": {"name": "web-02"}}\n</tool_call><|im_end|>',
        "Done.<|im_end|>",
    ],
    "llama": [
        '{"name": "list_agents", "parameters": {"filter": "web"}}<|eot_id|>',
        "web-01 or web-02?<|eot_id|>",
        '{"name": "shutdown_agent", "parameters": {"name": "web-02"}}<|eot_id|>',
        "Done.<|eot_id|>",
    ],
    "mistral": [
        '[TOOL_CALLS][{"name": "list_agents", "arguments": {"filter": "web"}}]</s>',
        "web-01 or web-02?</s>",
        '[TOOL_CALLS][{"name": "shutdown_agent", "arguments": {"name": "web-02"}}]</s>',
        "Done.</s>",
    ],
}
MARKERS = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<s>", "</s>",
           "[INST]", "[/INST]", "[TOOL_CALLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]",
           "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]"]  # fmt: skip


@pytest.fixture(scope="module")
def base_tokenizer():
    finder = SpanFinder(train_tokenizer([], 300))
    text = finder.render(*conversation(RECORD, "t"), False)
    return train_tokenizer([text] * 3, 500)


def _tokenizer(base, style):
    import copy

    tok = copy.deepcopy(base)
    if style == "llama":
        tok.add_special_tokens(
            {"bos_token": "<|begin_of_text|>", "additional_special_tokens": MARKERS}
        )
        tok.chat_template = LLAMA_STYLE
        tok.eos_token = "<|eot_id|>"
    elif style == "mistral":
        tok.add_special_tokens({"bos_token": "<s>", "additional_special_tokens": MARKERS})
        tok.chat_template = MISTRAL_STYLE
        tok.eos_token = "</s>"
    return tok


@pytest.mark.parametrize("style", ["tiny", "llama", "mistral"])
def test_mask_is_exactly_the_assistant_turns(base_tokenizer, style):
    tok = _tokenizer(base_tokenizer, style)
    examples, stats = tokenize([("t:1", RECORD)], tok, max_length=10_000)
    assert stats.kept == 1 and stats.inexact_template_turns == 0
    ids, labels = examples[0]["input_ids"], examples[0]["labels"]
    # Expected mask built independently: find each hand-written turn in the text, in order.
    text = tok.decode(ids)
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    assert enc["input_ids"] == ids
    spans, cursor = [], 0
    for piece in EXPECTED[style]:
        at = text.index(piece, cursor)
        spans.append((at, at + len(piece)))
        cursor = at + len(piece)
    expected = [any(a <= s < b for a, b in spans) for s, _ in enc["offset_mapping"]]
    got = [label != IGNORE for label in labels]
    for k, (e, g) in enumerate(zip(expected, got, strict=True)):
        assert e == g, f"token {k} {tok.decode([ids[k]])!r}: expected trained={e}, got {g}"
    assert tok.decode([t for t in labels if t != IGNORE]) == "".join(EXPECTED[style])


def test_generation_prompt_round_trip(base_tokenizer, tmp_path):
    """What the eval stage does: load the dir, render a prompt with tools, parse a tool call."""
    from transformers import AutoTokenizer

    base_tokenizer.save_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    messages = [{"role": "user", "content": "Shut down the web server."}]
    prompt = tok.apply_chat_template(
        messages, tools=TOOLS, add_generation_prompt=True, tokenize=False
    )
    assert prompt.startswith(
        "<|im_start|>system\n# Tools\n<tools>\nlist_agents(): \nshutdown_agent(): \n</tools>"
    )
    assert prompt.endswith(
        "<|im_start|>user\nShut down the web server.<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tok.eos_token == "<|im_end|>" and tok.pad_token != tok.eos_token
    # A "generated" continuation, tokenised and decoded as the eval stage would.
    reply = '<tool_call>\n{"name": "list_agents", "arguments": {"filter": "web"}}\n</tool_call><|im_end|>'
    ids = tok(prompt + reply, add_special_tokens=False)["input_ids"]
    stop = ids.index(tok.eos_token_id, len(tok(prompt, add_special_tokens=False)["input_ids"]))
    generated = tok.decode(ids[:stop], skip_special_tokens=True)
    body = generated.split("<tool_call>")[-1].split("</tool_call>")[0]
    assert json.loads(body) == {"name": "list_agents", "arguments": {"filter": "web"}}


def test_string_arguments_render_verbatim(base_tokenizer):
    """OpenAI-style clients send arguments as JSON strings; the template must not double-encode."""
    messages = [{"role": "user", "content": "x"},
                {"role": "assistant", "content": "", "tool_calls": [_call(0, "list_agents", {"a": 1})]}]  # fmt: skip
    text = base_tokenizer.apply_chat_template(messages, tools=TOOLS, tokenize=False)
    assert '{"name": "list_agents", "arguments": {"a": 1}}' in text


def test_tiny_fast_path_matches_prefix_rendering(base_tokenizer, make_shutdown_records):
    """The tiny template's marker scan gives exactly the spans prefix rendering gives."""
    fast, exact = SpanFinder(base_tokenizer), SpanFinder(base_tokenizer, fast=False)
    assert fast.fast and not exact.fast
    for i, rec in enumerate([RECORD, *make_shutdown_records(20)]):
        conv = conversation(rec, f"r{i}")
        assert fast(*conv) == exact(*conv)
    assert fast.fast and fast.checked == SpanFinder.SELF_CHECKS  # still on after its self-checks
