"""The tiny model's own choices: compact tool lines, copy-friendly tokens, loss on labels only."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from ajtrain.train.data import IGNORE, conversation, tokenize
from ajtrain.train.template import SpanFinder, render_fn
from ajtrain.train.tiny import TinyShape, new_model, train_tokenizer
from ajtrain.train.trainer import labelled_loss


@pytest.fixture(scope="module")
def records():
    from ajtrain.records import make_record

    return [make_record(f"t/{i}", "shutdown", "single", [], [
        {"role": "user", "content": f"Shut down web-{i:02d}."},
        {"role": "assistant", "content": f"Shut down web-{i:02d}? Please confirm."},
        {"role": "user", "content": "Yes."},
        {"role": "assistant", "content": "Done."},
    ]) for i in range(3)]  # fmt: skip


@pytest.fixture(scope="module")
def base_tokenizer(records):
    render = SpanFinder(train_tokenizer([], 300)).render
    return train_tokenizer([render(*conversation(r, "t"), False) for r in records] * 3, 400)


def test_tool_list_is_one_line_per_tool(base_tokenizer):
    tools = [
        {"type": "function", "function": {
            "name": "list_agents", "description": "List machines.",
            "parameters": {"type": "object", "properties": {
                "filter": {"type": "string"}, "limit": {"type": ["integer", "null"]}}}}},
        {"type": "function", "function": {
            "name": "shutdown_agent", "description": "Shut down one machine. " * 20,
            "parameters": {"type": "object", "properties": {"name": {"type": "string"}},
                           "required": ["name"]}}},
        {"type": "function", "function": {"name": "ping"}},  # no parameters, no description
    ]  # fmt: skip
    text = render_fn(base_tokenizer)([{"role": "user", "content": "hi"}], tools, False)
    block = text.split("<tools>\n")[1].split("\n</tools>")[0].split("\n")
    assert block[0] == "list_agents(filter?: string, limit?: integer|null): List machines."
    assert block[1].startswith("shutdown_agent(name: string): Shut down one machine. Shut")
    assert len(block[1]) == len("shutdown_agent(name: string): ") + 160  # descriptions are cut
    assert block[2] == "ping(): "
    assert len(block) == 3


def test_a_name_has_the_same_tokens_after_a_space_and_after_a_quote():
    """Copying a never-seen name is copying token ids: the context must not change its tokens."""
    texts = ['Shut down web-prod-01 now. {"name": "db-02"} and the logs'] * 50
    tok = train_tokenizer(texts, 400)
    for name in ("ians-r16", "domain02", "web-prod-01", "zorblat-7"):
        alone = tok(name, add_special_tokens=False)["input_ids"]
        spaced = tok(f"Shut down {name} (prod)", add_special_tokens=False)["input_ids"]
        quoted = tok(f'{{"name":"{name}"}}', add_special_tokens=False)["input_ids"]
        for ids in (spaced, quoted):
            assert any(ids[i : i + len(alone)] == alone for i in range(len(ids))), (name, ids)


@pytest.mark.parametrize("loss_on", ["assistant", "all"])
def test_loss_on_labels_the_assistant_turns_or_every_token(base_tokenizer, records, loss_on):
    rows = [(f"t:{i}", r) for i, r in enumerate(records)]
    examples, stats = tokenize(rows, base_tokenizer, 10_000, loss_on=loss_on)
    assistant, _ = tokenize(rows, base_tokenizer, 10_000)
    assert stats.kept == 3
    for ex, only in zip(examples, assistant, strict=True):
        labelled = [x != IGNORE for x in ex["labels"]]
        if loss_on == "all":
            assert labelled == [False] + [True] * (len(labelled) - 1)
            assert ex["labels"][1:] == ex["input_ids"][1:]
        else:
            assert ex["labels"] == only["labels"] and 0 < sum(labelled) < len(labelled) // 2


def test_labelled_loss_equals_the_models_own_loss_and_gradient(base_tokenizer):
    model = new_model(base_tokenizer, TinyShape(len(base_tokenizer), 32, 2, 2, 256), seed=0)
    torch.manual_seed(1)
    ids = torch.randint(3, len(base_tokenizer), (3, 24))
    labels = ids.clone()
    labels[:, :10] = IGNORE
    labels[1, 15:] = IGNORE
    labels[2, :] = IGNORE  # a row with nothing to learn
    mask = torch.ones_like(ids)
    mask[0, 20:] = 0  # right padding
    labels[0, 20:] = IGNORE
    inputs = {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return [p.grad.clone() for p in model.parameters()]

    n = int((labels[:, 1:] != IGNORE).sum())
    for items in (None, torch.tensor(n * 2)):
        kwargs = {} if items is None else {"num_items_in_batch": items}
        ref = model(**inputs, **kwargs).loss
        ours, out = labelled_loss(model, inputs, items)
        assert out.logits.shape == (n, len(base_tokenizer))
        assert torch.allclose(ours, ref, atol=1e-6), (ours, ref)
        for a, b in zip(grads(ours), grads(model(**inputs, **kwargs).loss), strict=True):
            assert torch.allclose(a, b, atol=1e-6)


def test_copy_warmup_is_deterministic_and_stops_at_its_limits(base_tokenizer):
    from ajtrain.train.tiny import copy_warmup

    def run(**kw):
        model = new_model(base_tokenizer, TinyShape(len(base_tokenizer), 32, 2, 2, 256), seed=0)
        result = copy_warmup(model, base_tokenizer, seed=3, **kw)
        return result, torch.cat([p.detach().flatten() for p in model.parameters()])

    (a, wa), (b, wb) = run(max_steps=30), run(max_steps=30)
    assert a.steps == b.steps == 30 and torch.equal(wa, wb)
    assert 0.0 <= a.copy_accuracy < 0.95  # 30 steps are far too few to copy
    assert not torch.equal(wa, run(max_steps=0)[1])  # the drills changed the weights
    timed, _ = run(max_steps=10_000, max_seconds=0.5)
    # stopped by the clock, not the step limit (no upper bound on seconds: a loaded CPU is slow)
    assert 0 < timed.steps < 10_000 and timed.seconds >= 0.5


def test_copy_warmup_then_drills_on_small_alphabets(base_tokenizer):
    from ajtrain.train.tiny import copy_warmup

    def run():
        model = new_model(base_tokenizer, TinyShape(len(base_tokenizer), 32, 2, 2, 256), seed=0)
        result = copy_warmup(model, base_tokenizer, 40, seed=3, target=0.0)  # target met at once
        return result, torch.cat([p.detach().flatten() for p in model.parameters()])

    (a, wa), (b, wb) = run(), run()
    assert (a.steps, a.small_steps) == (b.steps, b.small_steps) == (40, 10)  # a quarter more
    assert torch.equal(wa, wb) and 0.0 <= a.small_copy_accuracy <= 1.0


def test_the_tokenizer_learns_no_identifiers():
    """Training names must split like the benchmark's unseen ones: no name part as a token."""
    from ajtrain.train.tiny import without_identifiers

    text = 'Shut down kavo07 and qa-tirelu-13? {"name":"kavo07","env":"prod"} at 10:30, v2.1'
    assert without_identifiers(text) == 'Shut down   and  ? {"name":" ","env":"prod"} at  : ,  '
    tok = train_tokenizer([without_identifiers(text)] * 50, 400)
    pieces = [tok.decode([i]) for i in tok("kavo07 tirelu", add_special_tokens=False)["input_ids"]]
    assert "kavo" not in pieces and "tirelu" not in pieces and "07" not in pieces
    assert tok.decode(tok("kavo07", add_special_tokens=False)["input_ids"]) == "kavo07"


def test_assistant_turns_of_weight_zero_are_context(base_tokenizer):
    from ajtrain.records import make_record

    def record(weight):
        mistake = {"role": "assistant", "content": "Done: web-01 is now stopped."}
        if weight is not None:
            mistake["weight"] = weight
        return make_record("t/w", "shutdown", "error_recovery", [], [
            {"role": "user", "content": "Shut down web-02."}, mistake,
            {"role": "user", "content": "Wrong one!"},
            {"role": "assistant", "content": "Sorry: web-01 runs again."},
        ])  # fmt: skip

    for loss_on in ("assistant", "all"):
        (ctx, full), _ = tokenize([("a", record(0)), ("b", record(None))], base_tokenizer,
                                  10_000, loss_on=loss_on)  # fmt: skip
        assert ctx["input_ids"] == full["input_ids"]
        trained = [i for i, x in enumerate(full["labels"]) if x != IGNORE]
        kept = [i for i, x in enumerate(ctx["labels"]) if x != IGNORE]
        assert set(kept) < set(trained)
        text = base_tokenizer.decode(
            [full["input_ids"][i] for i in sorted(set(trained) - set(kept))]
        )
        assert "Done: web-01 is now stopped." in text and "Sorry" not in text
    only_context = make_record(
        "t/c",
        "shutdown",
        "x",
        [],
        [{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hi.", "weight": 0}],
    )
    _, stats = tokenize([("c", only_context)], base_tokenizer, 10_000)
    assert stats.kept == 0 and stats.skipped["no assistant turn"] == 1


def test_truncation_is_counted_by_source_and_category_with_the_assistant_tokens_cut(
    base_tokenizer, records
):
    rows = [(f"t:{i}", r) for i, r in enumerate(records)]
    full, _ = tokenize(rows, base_tokenizer, 10_000)
    longest = max(len(ex["input_ids"]) for ex in full)
    cut_at = longest - 5
    cut, stats = tokenize(rows, base_tokenizer, cut_at)
    lost = sum(
        sum(x != IGNORE for x in ex["labels"][cut_at:])
        for ex in full
        if len(ex["input_ids"]) > cut_at
    )
    long_rows = [r for r, ex in zip(records, full, strict=True) if len(ex["input_ids"]) > cut_at]
    assert stats.truncated == len(long_rows) >= 1
    assert stats.truncated_by == Counter(f"{r['source']}/{r['category']}" for r in long_rows)
    assert stats.cut_trained_tokens == lost > 0  # the cut took the end of an assistant turn
    assert stats.as_dict()["truncated_by"] == dict(stats.truncated_by)
    assert tokenize(rows, base_tokenizer, 10_000)[1].truncated_by == Counter()
