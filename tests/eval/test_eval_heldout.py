"""The benchmark is held out: its name pools, fleets and phrasings share nothing with the
training generator's, and none of its machine names or opening requests appears in generated
training data. The guide's incident ('Shutdown domain02') is the one deliberate exception: a
fixed regression scenario that is also among the canonical 20."""

from __future__ import annotations

import re

import orjson
import pytest

from ajtrain.cli import main
from ajtrain.eval.runner import EvalConfig, select_scenarios
from ajtrain.fleet import example_fleet_path
from ajtrain.shutdown import phrasings as P
from ajtrain.shutdown.benchmark import build_benchmark
from ajtrain.shutdown.canonical import incident
from ajtrain.shutdown.name_pools import POOLS

TOKEN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def _texts(pool: list) -> set[str]:
    """The sentences of a pool; (form, descriptor keys) and (line, flag) pairs give their text."""
    return {x[0] if isinstance(x, tuple) else x for x in pool}


def test_name_pools_are_disjoint():
    for key in ("words", "groups", "persons"):
        train, bench = set(POOLS["train"][key]), set(POOLS["bench"][key])
        assert train and bench and not train & bench, key
    # a bench name part is never a train name part with a suffix (e.g. 'web' vs 'www' is fine)
    train_parts = set(POOLS["train"]["words"]) | set(POOLS["train"]["groups"])
    assert not any(b.startswith(t + "-") for b in POOLS["bench"]["groups"] for t in train_parts)


def test_phrasing_pools_are_disjoint():
    pairs = [(P.FRAMES["train"], P.FRAMES["bench"]), (P.QUERIES["train"], P.QUERIES["bench"]),
             (P.RECOVERY["train"], P.RECOVERY["bench"])]  # fmt: skip
    pairs += [(forms["train"], forms["bench"]) for forms in P.OBJECTS.values()]
    pairs += [(P.USER_LINES["train"][k], P.USER_LINES["bench"][k]) for k in P.USER_LINES["train"]]
    for train, bench in pairs:
        assert train and bench and not _texts(train) & _texts(bench), (train, bench)
    assert not P.all_templates("train") & P.all_templates("bench")


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "train.jsonl"
    assert main(["generate", "--n", "2000", "--seed", "7", "--out", str(out)]) == 0
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


def test_no_benchmark_name_or_request_in_generated_training_data(generated):
    assert len(generated) == 2000
    fixed = incident()
    bench = [s for s in build_benchmark() if s.id != fixed.id]
    assert len(bench) >= 300
    names = {m.name for s in bench for m in s.fleet}
    requests = {s.request for s in bench}
    tokens, user_texts = set(), set()
    for rec in generated:
        for msg in rec["messages"]:
            text = msg.get("content") or ""
            tokens.update(TOKEN.findall(text))
            for c in msg.get("tool_calls") or []:
                tokens.update(TOKEN.findall(c["function"]["arguments"]))
            if msg["role"] == "user":
                user_texts.add(text)
    assert not names & tokens, sorted(names & tokens)[:10]
    assert not requests & user_texts, sorted(requests & user_texts)[:5]
    # near-duplicates, excluded members and the incident are in the benchmark
    assert {m.name for m in fixed.fleet} == {"domain02", "ians-r16", "prod-api-01"}
    assert any(s.reference.exclude for s in bench)
    assert any(
        len({m.name.lower().replace("-", "") for m in s.fleet}) < len(s.fleet) for s in bench
    )


def test_eval_on_the_users_fleet_is_held_out_on_phrasing(tmp_path):
    # eval --fleet uses the user's own names, as training data generated on that fleet does;
    # its requests come from the benchmark's phrasings, so none is a request trained on.
    fleet = str(example_fleet_path())
    out = tmp_path / "train.jsonl"
    assert main(["generate", "--fleet", fleet, "--n", "500", "--out", str(out)]) == 0
    trained = {
        msg["content"]
        for line in out.read_bytes().splitlines()
        for msg in orjson.loads(line)["messages"]
        if msg["role"] == "user"
    }
    cfg = EvalConfig(model="scripted:oracle", fleet=fleet, fleet_scenarios=300)
    requests = {s.request for s in select_scenarios(cfg)}
    assert len(requests) > 100
    assert not requests & trained, sorted(requests & trained)[:5]
