"""The tiny model's chat template, and the assistant-token mask for any chat template.

Most chat templates have no ``{% generation %}`` markers, so the assistant spans are found by
rendering prefixes of the conversation: the text of ``messages[:i]`` with the generation prompt
ends where assistant turn ``i`` begins, and the text of ``messages[:i+1]`` ends where it ends.
For templates whose output is prefix-stable (Qwen2.5, Llama 3, Mistral, the tiny template) these
offsets are exact. When a template renders history differently from a prefix (Mistral moves
the tool list), the turn's own text is searched for after the previous turn; what still fails
(earlier reasoning dropped, as in Qwen3) falls back to common prefixes and is counted.
"""

from __future__ import annotations

import os
from typing import Any

# Hermes/Qwen2.5 style turns; the eval stage parses this exact tool-call shape. Tool-call
# arguments may be dicts (rendered as JSON) or, from OpenAI-style clients, JSON strings (rendered
# verbatim). The tool list is compact — one line per tool, `name(param: type, opt?: type): what it
# does` — because a model trained from scratch on a CPU pays for every prompt token: full JSON
# schemas were over half of each shutdown conversation. Every piece of text is a Jinja string
# expression so whitespace control cannot eat a newline.
TINY_CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages and messages[0].role == 'system' %}"
    "{{- (messages[0].content or '') + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n<tools>' }}"
    "{%- for tool in tools %}"
    "{%- set fn = tool.function if tool.function is defined else tool %}"
    "{%- set params = fn.parameters if fn.parameters is mapping else {} %}"
    "{%- set props = params.properties if params.properties is mapping else {} %}"
    "{%- set required = params.required if params.required is iterable else [] %}"
    "{{- '\\n' + fn.name + '(' }}"
    "{%- for pname, spec in props.items() %}"
    "{{- (', ' if not loop.first else '') + pname + ('' if pname in required else '?') }}"
    "{%- if spec is mapping and spec.type is defined %}"
    "{{- ': ' + (spec.type if spec.type is string else spec.type | join('|')) }}{%- endif %}"
    "{%- endfor %}"
    "{{- '): ' + ((fn.description or '') | string)[:160] }}"
    "{%- endfor %}"
    "{{- '\\n</tools>\\nCall a tool with <tool_call>\\n"
    '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call>'
    "<|im_end|>\\n' }}"
    "{%- elif messages and messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + (messages[0].content or '') + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if message.reasoning_content %}"
    "{{- '<think>\\n' + message.reasoning_content + '\\n</think>\\n\\n' }}{%- endif %}"
    "{{- message.content or '' }}"
    "{%- for call in message.tool_calls or [] %}"
    "{%- set fn = call.function if call.function is defined else call %}"
    '{{- \'\\n<tool_call>\\n{"name": "\' + fn.name + \'", "arguments": \' }}'
    "{%- if fn.arguments is string %}{{- fn.arguments }}{%- else %}{{- fn.arguments | tojson }}"
    "{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}"
    "{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + (message.content or '') + '\\n</tool_response>' }}"
    "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}"
    "{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def render_fn(tokenizer: Any):
    """A fast ``render(messages, tools, add_generation_prompt) -> str`` for the tokenizer's template.

    Compiling once and calling the Jinja template directly is several times faster than
    ``apply_chat_template`` per call, which matters: the mask needs ~2 renders per assistant turn.
    """
    template = tokenizer.chat_template
    if not template:
        raise ValueError(f"tokenizer {tokenizer.name_or_path!r} has no chat template")
    if isinstance(template, dict):  # several named templates: use the default one
        template = template.get("tool_use") or template["default"]
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template

        compiled = _compile_jinja_template(template)
    except ImportError:  # private helper moved: go through the public API (slower)
        compiled = None
    extra = {k: v for k, v in tokenizer.special_tokens_map.items() if isinstance(v, str)}

    def render(messages: list[dict], tools: list[dict] | None, add_generation_prompt: bool) -> str:
        if compiled is None:
            return tokenizer.apply_chat_template(
                messages, tools=tools or None, tokenize=False,
                add_generation_prompt=add_generation_prompt,
            )  # fmt: skip
        return compiled.render(
            messages=messages, tools=tools or None,
            add_generation_prompt=add_generation_prompt, **extra,
        )  # fmt: skip

    return render


def _common_prefix_len(a: str, b: str) -> int:
    if b.startswith(a):
        return len(a)
    return len(os.path.commonprefix([a, b]))


class SpanFinder:
    """Render a conversation and find the character spans of its assistant turns.

    ``spans``, one per assistant turn (empty if it renders to nothing), cover its generated
    text — reasoning, content, tool calls — and the template's end-of-turn marker (so the model
    learns to stop), but not the role header the template adds before it, and not whitespace
    after the end-of-turn marker.
    ``inexact`` counts turns whose prefix render did not match the full text (templates that
    rewrite earlier turns); those spans use the longest common prefix instead.
    """

    SELF_CHECKS = 16  # conversations on which the fast path is compared with prefix rendering

    def __init__(self, tokenizer: Any, fast: bool = True):
        self.render = render_fn(tokenizer)
        self.inexact = 0
        # The tiny template's turns are delimited by its own markers: one render, then a scan.
        self.fast = fast and tokenizer.chat_template == TINY_CHAT_TEMPLATE
        self.checked = 0

    def __call__(
        self, messages: list[dict], tools: list[dict]
    ) -> tuple[str, list[tuple[int, int]]]:
        if self.fast:
            full = self.render(messages, tools, False)
            spans = _marker_spans(full)
            if len(spans) == sum(1 for m in messages if m["role"] == "assistant"):
                if self.checked >= self.SELF_CHECKS:
                    return full, spans
                self.checked += 1
                if self._by_prefixes(messages, tools) == (full, spans):
                    return full, spans
                self.fast = False  # should not happen; stay exact
        return self._by_prefixes(messages, tools)

    def _by_prefixes(
        self, messages: list[dict], tools: list[dict]
    ) -> tuple[str, list[tuple[int, int]]]:
        full = self.render(messages, tools, False)
        spans: list[tuple[int, int]] = []
        for i, msg in enumerate(messages):
            if msg["role"] != "assistant":
                continue
            before = self.render(messages[:i], tools, True) if i else ""
            through = self.render(messages[: i + 1], tools, False)
            start, end = len(before), len(through)
            if not (full.startswith(through) and through.startswith(before)):
                start, end = self._relocate(full, before, through, spans[-1][1] if spans else 0)
            while end > start and full[end - 1].isspace():
                end -= 1
            spans.append((start, max(start, end)))  # one per assistant turn, maybe empty
        return full, spans

    def _relocate(self, full: str, before: str, through: str, cursor: int) -> tuple[int, int]:
        # The template renders history differently from the prefix (e.g. Mistral moves the tool
        # list before the last user turn): find this turn's own text after the previous turn.
        piece = through[len(os.path.commonprefix([before, through])) :]
        at = full.find(piece, cursor) if piece else -1
        if at >= 0:
            return at, at + len(piece)
        self.inexact += 1  # e.g. earlier reasoning dropped: best effort
        return _common_prefix_len(before, full), _common_prefix_len(through, full)


_HEADER, _END = "<|im_start|>assistant\n", "<|im_end|>"


def _marker_spans(full: str) -> list[tuple[int, int]]:
    """Assistant spans of a tiny-template text: after each assistant header, through <|im_end|>."""
    spans, at = [], full.find(_HEADER)
    while at >= 0:
        start = at + len(_HEADER)
        end = full.find(_END, start)
        if end < 0:
            break
        spans.append((start, end + len(_END)))
        at = full.find(_HEADER, end)
    return spans


def token_mask(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> list[bool]:
    """True for each token whose first character lies inside one of ``spans`` (sorted)."""
    mask = []
    k = 0
    for tok_start, tok_end in offsets:
        while k < len(spans) and tok_start >= spans[k][1]:
            k += 1
        inside = k < len(spans) and spans[k][0] <= tok_start < spans[k][1]
        mask.append(inside and tok_end > tok_start)
    return mask
