"""Each episode keeps its KV cache from turn to turn, so a round prefills only what is new.

An episode's prompt at turn *k* is its prompt at turn *k-1*, the reply the model generated, and
the new tool results or user message. Without a cache every round re-reads the whole transcript;
with one, only the new text goes through the model. Episodes still advance together: a round's
caches (of different lengths) are left-padded into one batch, ``[cache | holes][holes | new]``,
with the attention mask's holes keeping each row's positions its own.

The reuse is exact where the tokens are: the cache is kept for the longest common prefix of the
tokens it holds and the new prompt's tokens (a re-rendered reply that tokenizes differently from
what was generated keeps the cache up to that point). A model with sliding-window layers
(Gemma 3: 512 tokens) gets its attention masks built here, by position rather than by column, so
a row's window never counts the batch's holes: a row sees what it would see alone (see
docs/TRAINING_ARCHITECTURE.md, "Evaluating a model directory").
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any

from .parsing import Parsed


@dataclass
class _Past:
    ids: list[int]  # the tokens the cache holds, in order
    kv: list[tuple[Any, Any]]  # per layer (keys, values), each (kv_heads, len(ids), head_dim)


def _crop(past: _Past, n: int) -> _Past:
    if n == len(past.ids):
        return past
    return _Past(past.ids[:n], [(k[:, :n], v[:, :n]) for k, v in past.kv])


class EpisodeCaches:
    """KV caches by episode key, for :class:`~ajtrain.eval.backends.HFBackend`."""

    MIN_SHARED = 16  # a common first-turn prefix shorter than this is not worth its own pass

    def __init__(self, backend: Any):
        self.b = backend
        self.past: dict[str, _Past] = {}

    def release(self, key: str) -> None:
        self.past.pop(key, None)

    def complete(self, requests: list[Any], prompts: list[list[int]]) -> list[Parsed]:
        out: list[Parsed | None] = [None] * len(requests)
        pasts: dict[int, _Past | None] = {}
        for i, (r, ids) in enumerate(zip(requests, prompts, strict=True)):
            if len(ids) > self.b.max_prompt_tokens:
                out[i] = Parsed({"role": "assistant", "content": ""},
                                [f"prompt of {len(ids)} tokens exceeds the model's context"],
                                stop="overflow")  # fmt: skip
                continue
            old = self.past.get(r.key)
            n = 0
            if old is not None:  # at least one token must go through the model
                n = min(len(os.path.commonprefix([old.ids, ids])), len(ids) - 1)
            pasts[i] = _crop(old, n) if n else None
        self._share_first_turn_prefix(pasts, prompts)
        # Similar cache and prompt lengths together: fewer holes.
        order = sorted(pasts, key=lambda i: (len(pasts[i].ids) if pasts[i] else 0, len(prompts[i])))
        for lo in range(0, len(order), self.b.batch_size):
            chunk = order[lo : lo + self.b.batch_size]
            seed = requests[chunk[0]].seed
            results = self._generate([prompts[i] for i in chunk], [pasts[i] for i in chunk], seed)
            for i, (parsed, past) in zip(chunk, results, strict=True):
                out[i] = parsed
                self.past[requests[i].key] = past
        return out  # type: ignore[return-value]

    def _share_first_turn_prefix(self, pasts: dict, prompts: list[list[int]]) -> None:
        """Episodes with no cache yet (first turns) share one prefill of their common prefix
        (system prompt and tool list)."""
        fresh = [i for i, p in pasts.items() if p is None]
        if len(fresh) < 2 or not self.b.shared_prefix:
            return
        keep = min(len(os.path.commonprefix([prompts[i] for i in fresh])),
                   min(len(prompts[i]) for i in fresh) - 1)  # fmt: skip
        if keep < self.MIN_SHARED:
            return
        import torch

        ids = prompts[fresh[0]][:keep]
        # a full cache: the model's own would crop sliding-window layers to their window
        with torch.no_grad():
            out = self.b.model(torch.tensor([ids], device=self.b._device), use_cache=True,
                               **{self.b._cache_kw: _growing_cache()})  # fmt: skip
        cache = getattr(out, self.b._cache_kw)
        shared = _Past(ids, [(layer.keys[0], layer.values[0]) for layer in cache.layers])
        self.b.prefilled_tokens += keep
        self.b.shared_prefix_tokens += keep * (len(fresh) - 1)
        for i in fresh:
            pasts[i] = shared

    def _generate(
        self, prompts: list[list[int]], pasts: list[_Past | None], seed: int
    ) -> list[tuple[Parsed, _Past]]:
        import torch

        b = self.b
        cached = [len(p.ids) if p else 0 for p in pasts]
        width_c = max(cached)
        width_n = max(len(ids) - n for ids, n in zip(prompts, cached, strict=True))
        rows = len(prompts)
        ids_t = torch.full((rows, width_c + width_n), b.tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((rows, width_c + width_n), dtype=torch.long)
        for r, (ids, n) in enumerate(zip(prompts, cached, strict=True)):
            new = ids[n:]
            ids_t[r, width_c - n : width_c] = torch.tensor(ids[:n], dtype=torch.long)
            mask[r, width_c - n : width_c] = 1
            ids_t[r, width_c + width_n - len(new) :] = torch.tensor(new, dtype=torch.long)
            mask[r, width_c + width_n - len(new) :] = 1
            b.prefilled_tokens += len(new)
            b.reused_tokens += n
        cache = _growing_cache()  # full layers: sliding-window layers are masked, not cropped
        if width_c:
            layers = next(p for p in pasts if p).kv
            for li, (k0, v0) in enumerate(layers):
                keys = k0.new_zeros((rows, k0.shape[0], width_c, k0.shape[2]))
                values = v0.new_zeros((rows, v0.shape[0], width_c, v0.shape[2]))
                for r, (p, n) in enumerate(zip(pasts, cached, strict=True)):
                    if n:
                        keys[r, :, width_c - n :] = p.kv[li][0]
                        values[r, :, width_c - n :] = p.kv[li][1]
                cache.update(keys, values, li)
        b.generate_calls += 1
        replies = _decode(b, ids_t, mask, cache, width_c, seed)
        out = []
        for r, ids in enumerate(prompts):
            toks, past_kv = replies[r]
            # the cache holds the whole prompt and the replies fed back so far
            past = _Past(ids + toks[: past_kv[0][0].shape[1] - len(ids)], past_kv)
            out.append((b.parse_generated(toks), past))
        return out


ROOM = 256  # tokens of room a growing cache layer keeps ahead: a reply's usual length


@functools.cache
def _growing_layer() -> type:
    """A ``DynamicCache`` layer that writes each step's keys and values into room kept ahead
    (``ROOM`` tokens) instead of concatenating: ``torch.cat`` copies the whole cache at every
    decode step, which at a round's batch and transcript length (50 rows of 1,500 tokens on
    Gemma 3 270M) moves gigabytes per generated token."""
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        def update(self, key_states, value_states, *args, **kwargs):  # noqa: ANN001, ANN202
            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self._k = self._v = None
                self._n = 0
            n, new = self._n, key_states.shape[-2]
            if self._k is None or n + new > self._k.shape[-2]:
                room = n + new + ROOM
                shape = (*key_states.shape[:-2], room, key_states.shape[-1])
                k, v = key_states.new_empty(shape), value_states.new_empty(shape)
                if n:
                    k[..., :n, :] = self._k[..., :n, :]
                    v[..., :n, :] = self._v[..., :n, :]
                self._k, self._v = k, v
            self._k[..., n : n + new, :] = key_states
            self._v[..., n : n + new, :] = value_states
            self._n = n + new
            self.keys, self.values = self._k[..., : self._n, :], self._v[..., : self._n, :]
            return self.keys, self.values

        def batch_select_indices(self, indices):  # noqa: ANN001, ANN202
            if self.is_initialized and self._n:
                self._k, self._v = self._k[indices], self._v[indices]
                self.keys, self.values = self._k[..., : self._n, :], self._v[..., : self._n, :]

    return GrowingLayer


def _growing_cache() -> Any:
    from transformers import DynamicCache

    cache = DynamicCache()
    cache.layer_class_to_replicate = _growing_layer()
    return cache


def _decode(b: Any, ids: Any, mask: Any, cache: Any, width_c: int, seed: int) -> list:
    """Greedy (or sampled) decoding that drops each row from the batch once it has ended, so a
    short reply does not pay for the batch's longest. Returns per row (generated token ids,
    per-layer (keys, values) of the row's real tokens that went through the model)."""
    import torch

    rows = ids.shape[0]
    kw = b._cache_kw
    window = sliding_window(b.model)
    gen = torch.Generator().manual_seed(seed) if b.temperature > 0 else None
    eos = torch.tensor(b.eos_ids)
    alive = list(range(rows))  # batch position → row
    real = [mask[r].nonzero().flatten() for r in range(rows)]  # cache columns of each row
    pos = (mask.sum(-1) - 1).tolist()  # each row's last position
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)[:, width_c:]
    out: list = [None] * rows
    toks: list[list[int]] = [[] for _ in range(rows)]
    feed = ids[:, width_c:]
    mask = mask.clone()
    step_pos = position_ids
    kpos = (mask.cumsum(-1) - 1).clamp(min=0)  # each column's position in its own row
    with torch.no_grad():
        for step in range(b.max_new_tokens):
            attention = mask
            if window is not None:
                attention = _exact_masks(b.model, mask, kpos, step_pos, window)
            logits = b.model(
                input_ids=feed.to(b._device), attention_mask=_on(attention, b._device),
                position_ids=step_pos.to(b._device), use_cache=True, logits_to_keep=1,
                **{kw: cache},
            ).logits[:, -1].float().cpu()  # fmt: skip
            if gen is None:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / b.temperature, -1)
                nxt = torch.multinomial(probs, 1, generator=gen).squeeze(-1)
            held = cache.get_seq_length()  # columns in the cache: every token fed so far
            ended = torch.isin(nxt, eos).tolist()
            keep = []
            for j, r in enumerate(alive):
                toks[r].append(int(nxt[j]))
                last = ended[j] or step == b.max_new_tokens - 1
                if last:  # its cache: the real prompt columns and the replies fed so far
                    cols = torch.cat([real[r], torch.arange(mask.shape[1] - step, held)])
                    out[r] = (toks[r], [(lay.keys[j][:, cols], lay.values[j][:, cols])
                                        for lay in cache.layers])  # fmt: skip
                else:
                    keep.append(j)
            if not keep:
                break
            if len(keep) < len(alive):
                idx = torch.tensor(keep)
                cache.batch_select_indices(idx.to(b._device))
                mask, nxt, kpos = mask[idx], nxt[idx], kpos[idx]
                alive = [alive[j] for j in keep]
            for r in alive:
                pos[r] += 1
            mask = torch.cat([mask, torch.ones((len(alive), 1), dtype=mask.dtype)], dim=1)
            feed = nxt[:, None]
            step_pos = torch.tensor([[pos[r]] for r in alive])
            kpos = torch.cat([kpos, step_pos], dim=1)
    return out


def sliding_window(model: Any) -> int | None:
    """The window of a model with sliding-window layers (``layer_types``), else None: a model
    with full attention only is exact with the plain 2-D mask, its holes masked out."""
    cfg = getattr(model, "config", None)
    types = getattr(cfg, "layer_types", None) or ()
    window = getattr(cfg, "sliding_window", None)
    return int(window) if window and "sliding_attention" in types else None


def _exact_masks(model: Any, mask: Any, kpos: Any, qpos: Any, window: int) -> dict:
    """Per-layer-type 4-D masks, ``(rows, 1, queries, columns)``, for the last ``qpos.shape[1]``
    columns of a left-padded batch: a query sees the real columns at or before its position,
    and a sliding layer only those less than ``window`` positions back, counted in the row's
    own positions, so the holes between a row's cache and its new tokens take no room in the
    window. Every query also sees its own column, so a hole's query (whose output is unused)
    never has an empty row, which would give NaN."""
    import torch

    n_q, width = qpos.shape[1], mask.shape[1]
    q = qpos[:, :, None]
    k = kpos[:, None, :]
    causal = mask.bool()[:, None, :] & (k <= q)
    own = torch.zeros((n_q, width), dtype=torch.bool)
    own[torch.arange(n_q), torch.arange(width - n_q, width)] = True
    full = causal | own
    sliding = (causal & (q - k < window)) | own
    if getattr(model.config, "_attn_implementation", "sdpa") == "sdpa":
        return {"full_attention": full[:, None], "sliding_attention": sliding[:, None]}
    lowest = torch.finfo(model.dtype).min  # eager and others add the mask to the scores
    return {name: torch.zeros(m.shape, dtype=model.dtype).masked_fill(~m, lowest)[:, None]
            for name, m in (("full_attention", full), ("sliding_attention", sliding))}  # fmt: skip


def _on(attention: Any, device: Any) -> Any:
    if isinstance(attention, dict):
        return {name: m.to(device) for name, m in attention.items()}
    return attention.to(device)
