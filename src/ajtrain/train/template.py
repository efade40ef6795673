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
from pathlib import Path
from typing import Any


# Hermes/Qwen2.5-style tool calls inside a base's own turn markers; the eval stage parses this
# exact tool-call shape. Tool-call arguments may be dicts (rendered as JSON) or, from
# OpenAI-style clients, JSON strings (rendered verbatim). The tool list is compact — one line per
# tool, `name(param: type, opt?: type): what it does` — because a small model on a CPU pays for
# every prompt token: full JSON schemas were over half of each shutdown conversation. Every piece
# of text is a Jinja string expression so whitespace control cannot eat a newline.
#
# Token boundaries: the text a model is trained on must tokenize, at every prompt/completion
# boundary, as the prompt it is given at generation. A turn header ends in "\n"; a tool call
# directly after it must not begin with "\n", or BPE tokenizers (Gemma, Qwen, Llama) merge the
# two newlines into one token that never follows a generation prompt (docs/TRAINING_ARCHITECTURE.md,
# "Chat templates").
def tool_chat_template(start: str, end: str, assistant: str, bos: str = "") -> str:
    """A tool-calling chat template in the given turn markers (``start`` role ``\\n`` … ``end``)."""
    q = lambda text: "'" + text + "'"  # noqa: E731 — a Jinja string literal
    open_, close = q(start), q(end + "\\n")
    return (
        (f"{{{{- {q(bos)} }}}}" if bos else "") + "{%- if tools %}"
        f"{{{{- {open_} + 'system\\n' }}}}"
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
        '{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call>\' }}'
        f"{{{{- {close} }}}}"
        "{%- elif messages and messages[0].role == 'system' %}"
        f"{{{{- {open_} + 'system\\n' + (messages[0].content or '') + {close} }}}}"
        "{%- endif %}"
        "{%- for message in messages %}"
        "{%- if message.role == 'user' or (message.role == 'system' and not loop.first) %}"
        f"{{{{- {open_} + message.role + '\\n' + (message.content or '') + {close} }}}}"
        "{%- elif message.role == 'assistant' %}"
        f"{{{{- {open_} + {q(assistant)} + '\\n' }}}}"
        "{%- if message.reasoning_content %}"
        "{{- '<think>\\n' + message.reasoning_content + '\\n</think>\\n\\n' }}{%- endif %}"
        "{{- message.content or '' }}"
        "{%- for call in message.tool_calls or [] %}"
        "{%- set fn = call.function if call.function is defined else call %}"
        "{%- if message.content or not loop.first %}{{- '\\n' }}{%- endif %}"
        '{{- \'<tool_call>\\n{"name": "\' + fn.name + \'", "arguments": \' }}'
        "{%- if fn.arguments is string %}{{- fn.arguments }}{%- else %}{{- fn.arguments | tojson }}"
        "{%- endif %}"
        "{{- '}\\n</tool_call>' }}"
        "{%- endfor %}"
        f"{{{{- {close} }}}}"
        "{%- elif message.role == 'tool' %}"
        "{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}"
        f"{{{{- {open_} + 'user' }}}}{{%- endif %}}"
        "{{- '\\n<tool_response>\\n' + (message.content or '') + '\\n</tool_response>' }}"
        "{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}"
        f"{{{{- {close} }}}}{{%- endif %}}"
        "{%- endif %}"
        "{%- endfor %}"
        f"{{%- if add_generation_prompt %}}{{{{- {open_} + {q(assistant)} + '\\n' }}}}{{%- endif %}}"
    )


# name: (turn start, turn end, assistant role, bos text). "hermes" is ChatML (the tiny model's
# and Qwen's markers); "gemma" is Gemma's, whose role for the model is "model".
TEMPLATE_MARKERS = {
    "hermes": ("<|im_start|>", "<|im_end|>", "assistant", ""),
    "gemma": ("<start_of_turn>", "<end_of_turn>", "model", "<bos>"),
}
TINY_CHAT_TEMPLATE = tool_chat_template(*TEMPLATE_MARKERS["hermes"][:3])
CHAT_TEMPLATES = {name: tool_chat_template(*m) for name, m in TEMPLATE_MARKERS.items()}


def chat_template_for(tokenizer: Any, choice: str | None = None) -> tuple[str, str, str | None]:
    """(name, template text, end-of-turn marker) for ``--chat-template``: a shipped name, a
    Jinja file, or (``None``) the shipped template whose markers are the tokenizer's tokens."""
    if choice and choice not in CHAT_TEMPLATES:
        path = Path(choice)
        if not path.is_file():
            raise ValueError(
                f"--chat-template {choice}: neither a shipped template "
                f"({', '.join(CHAT_TEMPLATES)}) nor a file"
            )
        return path.name, path.read_text(encoding="utf-8"), None
    if not choice:
        vocab = tokenizer.get_vocab()
        choice = "gemma" if "<start_of_turn>" in vocab else "hermes"
    return choice, CHAT_TEMPLATES[choice], TEMPLATE_MARKERS[choice][1]


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
        # A shipped template's turns are delimited by its own markers: one render, then a scan.
        self.markers = next(
            ((start + assistant + "\n", end)
             for name, (start, end, assistant, _) in TEMPLATE_MARKERS.items()
             if tokenizer.chat_template == CHAT_TEMPLATES[name]),
            None,
        )  # fmt: skip
        self.fast = fast and self.markers is not None
        self.checked = 0

    def __call__(
        self, messages: list[dict], tools: list[dict]
    ) -> tuple[str, list[tuple[int, int]]]:
        if self.fast:
            full = self.render(messages, tools, False)
            spans = _marker_spans(full, *self.markers)
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


def _marker_spans(full: str, header: str, end_marker: str) -> list[tuple[int, int]]:
    """Assistant spans of a shipped template's text: after each assistant header, through the
    end-of-turn marker."""
    spans, at = [], full.find(header)
    while at >= 0:
        start = at + len(header)
        end = full.find(end_marker, start)
        if end < 0:
            break
        spans.append((start, end + len(end_marker)))
        at = full.find(header, end)
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


def boundary_mismatches(
    render: Any, tokenizer: Any, messages: list[dict], tools: list[dict]
) -> list[int]:
    """Indices of assistant turns whose generation prompt does not tokenize as a prefix of the
    conversation's tokens: trained on such text, a model never sees the token that ends the
    prompt followed by its reply (e.g. two newlines merged into one token)."""
    ids = tokenizer(render(messages, tools, False), add_special_tokens=False)["input_ids"]
    bad = []
    for i, msg in enumerate(messages):
        if msg["role"] == "assistant" and i:
            prompt = tokenizer(render(messages[:i], tools, True), add_special_tokens=False)
            if ids[: len(prompt["input_ids"])] != prompt["input_ids"]:
                bad.append(i)
    return bad
