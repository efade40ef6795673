"""Where the agent's turns come from: a scripted policy, a local model directory (batched greedy
or sampled generation with transformers), or an OpenAI-compatible endpoint (vLLM, ollama, any).

Every backend answers a list of :class:`Request` (one per episode awaiting its turn) with one
:class:`~ajtrain.eval.parsing.Parsed` each, so the runner can step all running episodes per round:
the model directory turns a round into one ``generate`` call per ``batch_size`` prompts, the
endpoint into concurrent HTTP requests.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from ..records import Message
from ..transcript import load_args, tool_call
from .kv_reuse import sliding_window
from .parsing import Parsed, parse_hermes, parse_openai


@dataclass
class Request:
    """One turn to produce: the transcript so far and the tools the agent may call."""

    key: str  # stable per episode (scripted policies keep per-episode state under it)
    messages: list[Message]
    tools: list[dict]
    seed: int = 0
    scenario: Any = None  # the Scenario, for scripted policies only (never shown to models)


class Backend(Protocol):
    name: str
    deterministic: bool  # same input → same output: trials > 1 need not be re-run

    def complete(self, requests: list[Request]) -> list[Parsed]: ...


class EndpointError(ValueError):
    """The endpoint cannot be used (unreachable, wrong URL, no key): a setup problem, printed
    by the CLI as a clean error — unlike a malformed reply, which is scored as the model's."""


# --- scripted ------------------------------------------------------------------------------


class ScriptedBackend:
    """``scripted:oracle`` / ``scripted:naive`` / ``scripted:cautious`` (ajtrain.shutdown.policies)."""

    deterministic = True

    def __init__(self, name: str):
        from ..shutdown.policies import scripted_policy

        self.policy = scripted_policy(name)
        self.name = f"scripted:{self.policy.name}"
        self._actors: dict[str, Any] = {}

    def complete(self, requests: list[Request]) -> list[Parsed]:
        out = []
        for r in requests:
            if r.scenario is None:
                raise ValueError(f"{self.name} plays shutdown scenarios only (no scenario given)")
            if r.key not in self._actors:
                self._actors[r.key] = self.policy.start(r.scenario)
            out.append(Parsed(self._actors[r.key](r.messages)))
        return out


# --- local model directory -----------------------------------------------------------------


def template_messages(messages: list[Message]) -> list[dict]:
    """Record messages for a chat template: tool-call arguments parsed to dicts (as the train
    stage does), since most templates (Qwen2.5's among them) ``tojson`` them."""
    out = []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            calls = []
            for c in m["tool_calls"]:
                fn = dict(c["function"])
                try:
                    fn["arguments"] = load_args(fn.get("arguments"))
                except ValueError:
                    pass  # a malformed call stays a string: the template renders it verbatim
                calls.append({**c, "function": fn})
            m["tool_calls"] = calls
        out.append(m)
    return out


@dataclass
class HFBackend:
    """A transformers model directory. Prompts are left-padded and generated together, up to
    ``batch_size`` per ``generate`` call; greedy unless ``temperature`` > 0."""

    path: str
    max_new_tokens: int = 256
    temperature: float = 0.0
    batch_size: int = 64
    device: str = "auto"
    shared_prefix: bool = True
    kv_reuse: bool = True
    dtype: str = "auto"
    name: str = field(init=False)
    deterministic: bool = field(init=False)
    generate_calls: int = field(init=False, default=0)
    shared_prefix_tokens: int = field(init=False, default=0)  # prefill tokens saved
    reused_tokens: int = field(init=False, default=0)  # prefill tokens an episode's cache saved
    prefilled_tokens: int = field(init=False, default=0)  # prompt tokens run through the model

    def __post_init__(self) -> None:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        # transformers 5 renamed past_key_values to cache (outputs and the forward's argument)
        major = int(transformers.__version__.split(".")[0])
        self._cache_kw = "cache" if major >= 5 else "past_key_values"
        if not os.path.isdir(self.path):
            raise FileNotFoundError(f"--model {self.path}: no such model directory")
        self.name = self.path
        self.deterministic = self.temperature <= 0
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
        if self.dtype not in ("auto", *dtypes):
            raise ValueError(f"--dtype {self.dtype}: use auto, float32 or bfloat16")
        dtype = dtypes.get(self.dtype, torch.float32)
        if self.dtype == "auto" and device.startswith("cuda") and torch.cuda.is_bf16_supported():
            dtype = torch.bfloat16
        self.tok = AutoTokenizer.from_pretrained(self.path)
        self.tok.padding_side = "left"  # new tokens must follow every prompt directly
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=dtype).to(device)
        self.model.eval()
        self._device = device
        self._render = None
        from .kv_reuse import EpisodeCaches

        self._reuse = EpisodeCaches(self)
        limit = getattr(self.model.config, "max_position_embeddings", None) or 1_000_000
        self.max_prompt_tokens = max(1, limit - self.max_new_tokens)
        eos = self.model.generation_config.eos_token_id
        eos = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        eos.add(self.tok.eos_token_id)
        self.eos_ids = sorted(i for i in eos if i is not None)

    def render(self, r: Request) -> str:
        """The prompt text: the tokenizer's chat template with the generation prompt."""
        if self._render is None:
            # compiled once (the train stage's helper): apply_chat_template recompiles per call
            from ..train.template import render_fn

            self._render = render_fn(self.tok)
        return self._render(template_messages(r.messages), r.tools or None, True)

    def complete(self, requests: list[Request]) -> list[Parsed]:
        prompts = [
            self.tok(self.render(r), add_special_tokens=False)["input_ids"] for r in requests
        ]
        if self.kv_reuse:
            return self._reuse.complete(requests, prompts)
        out: list[Parsed | None] = [None] * len(requests)
        fits = []
        for i, ids in enumerate(prompts):
            if len(ids) > self.max_prompt_tokens:
                out[i] = Parsed({"role": "assistant", "content": ""},
                                [f"prompt of {len(ids)} tokens exceeds the model's context"],
                                stop="overflow")  # fmt: skip
            else:
                fits.append(i)
        fits.sort(key=lambda i: len(prompts[i]))  # similar lengths together: less padding
        for lo in range(0, len(fits), self.batch_size):
            chunk = fits[lo : lo + self.batch_size]
            seed = requests[chunk[0]].seed
            for i, parsed in zip(
                chunk, self._generate([prompts[i] for i in chunk], seed), strict=True
            ):
                out[i] = parsed
        return out  # type: ignore[return-value]

    def _inputs(self, prompts: list[list[int]]) -> dict[str, Any]:
        """Left-padded inputs; with ``shared_prefix``, the prompts' common prefix (system prompt,
        tool schemas, often the fleet listing) is prefilled once and its KV cache shared by the
        batch: rows are ``[prefix][padding][own suffix]``, the mask's holes keep positions right."""
        import torch

        keep = min(len(os.path.commonprefix(prompts)), min(map(len, prompts)) - 1)
        # a sliding-window layer would count the middle holes as part of its window (kv_reuse
        # builds exact masks; generate does not): plain left padding, whose holes come first
        sliding = sliding_window(self.model) is not None
        if not self.shared_prefix or len(prompts) < 2 or keep < 16 or sliding:
            batch = self.tok.pad({"input_ids": prompts}, padding=True, return_tensors="pt")
            return {k: v.to(self._device) for k, v in batch.items()}
        width = keep + max(len(p) - keep for p in prompts)
        ids = torch.full((len(prompts), width), self.tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        ids[:, :keep] = torch.tensor(prompts[0][:keep])
        mask[:, :keep] = 1
        for i, p in enumerate(prompts):
            ids[i, width - len(p) + keep :] = torch.tensor(p[keep:])
            mask[i, width - len(p) + keep :] = 1
        key = self._cache_kw
        with torch.no_grad():
            cache = getattr(self.model(ids[:1, :keep].to(self._device), use_cache=True), key)
        cache.batch_repeat_interleave(len(prompts))
        self.shared_prefix_tokens += keep * (len(prompts) - 1)
        return {
            "input_ids": ids.to(self._device),
            "attention_mask": mask.to(self._device),
            key: cache,
        }

    def release(self, key: str) -> None:
        """The episode ``key`` is over: drop its KV cache."""
        self._reuse.release(key)

    def parse_generated(self, ids: list[int]) -> Parsed:
        """Generated token ids → the parsed turn, with why generation stopped."""
        ended = any(t in self.eos_ids for t in ids)
        parsed = parse_hermes(self.tok.decode(ids, skip_special_tokens=True))
        parsed.stop = "eos" if ended else "length"
        return parsed

    def _generate(self, prompts: list[list[int]], seed: int) -> list[Parsed]:
        import torch

        shared_before = self.shared_prefix_tokens
        batch = self._inputs(prompts)
        kwargs: dict[str, Any] = {"do_sample": False}
        if self.temperature > 0:
            torch.manual_seed(seed)
            kwargs = {"do_sample": True, "temperature": self.temperature, "top_p": 1.0}
        with torch.no_grad():
            gen = self.model.generate(
                **batch, max_new_tokens=self.max_new_tokens, eos_token_id=self.eos_ids,
                pad_token_id=self.tok.pad_token_id, use_cache=True, **kwargs,
            )  # fmt: skip
        self.generate_calls += 1
        # a shared prefix went through the model once, not once per row
        saved = self.shared_prefix_tokens - shared_before
        self.prefilled_tokens += int(batch["attention_mask"].sum()) - saved
        new = gen[:, batch["input_ids"].shape[1] :].tolist()
        return [self.parse_generated(ids) for ids in new]


# --- OpenAI-compatible endpoint ------------------------------------------------------------


def wire_messages(messages: list[Message]) -> list[dict]:
    """Record messages in the chat-completions wire form (no record-only fields)."""
    out = []
    for m in messages:
        w: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
        if m.get("tool_calls"):
            w["tool_calls"] = [
                tool_call(c["function"]["name"], c["function"].get("arguments") or "{}",
                          c.get("id", ""))
                for c in m["tool_calls"]
            ]  # fmt: skip
        if m["role"] == "tool":
            w["tool_call_id"] = m.get("tool_call_id", "")
            if m.get("name"):
                w["name"] = m["name"]
        out.append(w)
    return out


class OpenAIBackend:
    """``openai:MODEL`` at ``base_url`` (…/v1); the key is read from ``api_key_env`` if set.

    One pooled ``httpx`` client for all requests (``concurrency`` in flight). A request is tried
    :attr:`RETRIES` times, backing off (or as ``Retry-After`` says), when the server cannot be
    reached, times out, drops the connection mid-reply, or answers 429/5xx; a setup problem
    (bad URL, key, or a server without tool calling) is an :class:`EndpointError` at once, and a
    prompt too long for the model is that episode's error, scored as such.
    """

    RETRIES = 3
    BACKOFF_S = 0.5  # doubled after each failed try

    def __init__(self, model: str, base_url: str, api_key_env: str = "OPENAI_API_KEY",
                 temperature: float = 0.0, max_new_tokens: int = 256, concurrency: int = 8,
                 timeout_s: float = 120.0):  # fmt: skip
        import httpx

        if not base_url:
            raise EndpointError(
                f"--model openai:{model} needs --base-url (e.g. http://localhost:8000/v1)"
            )
        self.model = model
        self.name = f"openai:{model}"
        self.url = base_url.rstrip("/") + "/chat/completions"
        key = os.environ.get(api_key_env, "") if api_key_env else ""
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.deterministic = False  # servers batch requests: even greedy output may vary
        workers = max(1, concurrency)
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.client = httpx.Client(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            limits=httpx.Limits(max_connections=workers, max_keepalive_connections=workers),
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        self.requests_sent = 0

    def complete(self, requests: list[Request]) -> list[Parsed]:
        return list(self.pool.map(self._one, requests))

    def _one(self, r: Request) -> Parsed:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": wire_messages(r.messages),
            "temperature": self.temperature,
            "max_tokens": self.max_new_tokens,
        }
        if r.tools:
            body["tools"] = r.tools
        if self.temperature > 0:
            body["seed"] = r.seed
        reply = self._post(body)
        choices = reply.get("choices") if isinstance(reply, dict) else None
        if not choices or not isinstance(choices[0].get("message"), dict):
            return Parsed({"role": "assistant", "content": ""},
                          [f"reply without choices[0].message: {str(reply)[:120]}"], stop="error")  # fmt: skip
        parsed = parse_openai(choices[0]["message"])
        parsed.stop = {"stop": "eos", "tool_calls": "eos", "length": "length"}.get(
            choices[0].get("finish_reason") or "stop", "eos"
        )
        return parsed

    def _post(self, body: dict) -> Any:
        import httpx

        data = orjson.dumps(body)
        problem, wait = "", self.BACKOFF_S
        for _ in range(self.RETRIES):
            try:
                resp = self.client.post(
                    self.url, content=data, headers={"Content-Type": "application/json"}
                )
            except httpx.TimeoutException:
                problem = f"no reply within the timeout ({self.client.timeout.read:g} s)"
            except httpx.TransportError as e:  # refused, reset, dropped mid-reply
                problem = f"{type(e).__name__}: {e}"
            else:
                self.requests_sent += 1
                if resp.status_code == 200:
                    try:
                        return orjson.loads(resp.content)
                    except orjson.JSONDecodeError:
                        return {"error": "reply is not JSON"}
                code, detail = resp.status_code, resp.text[:300]
                if code in (400, 413, 422) and re.search(r"context|token|length", detail, re.I):
                    return {"error": f"HTTP {code}: {detail}"}  # too long: this episode's problem
                if code == 400 and "tool" in detail.lower():
                    detail += (
                        " (vLLM: serve with --enable-auto-tool-choice --tool-call-parser hermes)"
                    )
                if code < 500 and code != 429:
                    raise EndpointError(f"{self.url}: HTTP {code}: {detail}")
                problem = f"HTTP {code}: {detail}"
                wait = max(wait, _retry_after(resp))
            time.sleep(wait)
            wait *= 2
        raise EndpointError(f"{self.url}: no answer after {self.RETRIES} tries ({problem})")


def _retry_after(resp) -> float:
    """Seconds a 429/503 reply asks to wait (capped at a minute), else 0."""
    try:
        return min(float(resp.headers.get("Retry-After", 0)), 60.0)
    except ValueError:
        return 0.0


def make_backend(cfg: Any) -> Backend:
    """The backend ``--model`` names: ``scripted:NAME``, ``openai:MODEL``, or a directory."""
    model = cfg.model
    if model.startswith("scripted:"):
        return ScriptedBackend(model)
    if model.startswith("openai:"):
        return OpenAIBackend(model.removeprefix("openai:"), cfg.base_url, cfg.api_key_env,
                             cfg.temperature, cfg.max_new_tokens, cfg.concurrency, cfg.timeout_s)  # fmt: skip
    from ..train.bases import PACKAGED, resolve_base

    if model in PACKAGED or model.endswith(".gguf"):  # an untrained base, converted once
        model = resolve_base(model)
    return HFBackend(model, cfg.max_new_tokens, cfg.temperature, cfg.batch_size, cfg.device,
                     cfg.shared_prefix, getattr(cfg, "kv_reuse", True),
                     getattr(cfg, "dtype", "auto"))  # fmt: skip
