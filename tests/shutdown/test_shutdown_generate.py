from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from ajtrain.fleet import example_fleet_path, load_fleet
from ajtrain.records import read_records
from ajtrain.shutdown import CANONICAL_COUNTS, CATEGORIES, check_record
from ajtrain.shutdown.cli import GenerateConfig, generate
from ajtrain.transcript import call_args, calls_in, mentioned_names

REPO = Path(__file__).resolve().parents[2]
REPO_FLEET = example_fleet_path()


def _write(tmp_path, **kw):
    out = tmp_path / f"out-{len(list(tmp_path.iterdir()))}.jsonl"
    stats = generate(GenerateConfig(out=str(out), **kw), progress=False)
    return out, stats, list(read_records(out))


def test_canonical_twenty_match_the_guide(tmp_path):
    out, stats, recs = _write(tmp_path)
    assert stats["written"] == 20 == len(recs)
    assert Counter(r["category"] for r in recs) == Counter(CANONICAL_COUNTS)
    ids = {r["id"] for r in recs}
    assert "shutdown/explicit/incident" in ids and len(ids) == 20
    assert all(check_record(r).ok for r in recs)


def test_incident_trajectory_lists_confirms_then_stops_domain02(tmp_path):
    _, _, recs = _write(tmp_path)
    rec = next(r for r in recs if r["id"] == "shutdown/explicit/incident")
    msgs = rec["messages"]
    assert msgs[1] == {"role": "user", "content": "Shutdown domain02"}
    tools = [c["function"]["name"] for m in msgs for c in calls_in(m)]
    assert tools == ["list_agents", "shutdown_agent"]
    stops = [
        call_args(c)["name"]
        for m in msgs
        for c in calls_in(m)
        if c["function"]["name"] == "shutdown_agent"
    ]
    assert stops == ["domain02"]
    confirm = next(m for m in msgs if m["role"] == "assistant" and "confirm" in m["content"])
    assert "domain02" in confirm["content"] and "ians-r16" not in confirm["content"]


@pytest.fixture(scope="module")
def varied(tmp_path_factory):
    out = tmp_path_factory.mktemp("gen") / "n.jsonl"
    generate(GenerateConfig(n=700, seed=3, out=str(out)), progress=False)
    return list(read_records(out))


def test_every_category_present_and_every_record_passes_the_checker(varied):
    assert len(varied) == 700 and len({r["id"] for r in varied}) == 700
    assert set(Counter(r["category"] for r in varied)) == set(CATEGORIES)
    bad = [(r["id"], check_record(r).violations) for r in varied if not check_record(r).ok]
    assert bad == []


def _stops(rec):
    return [call_args(c)["name"] for m in rec["messages"] for c in calls_in(m)
            if c["function"]["name"] == "shutdown_agent"]  # fmt: skip


def _first_text(rec):
    start = 1 + len(rec["meta"]["scenario"]["history"])
    return next(
        m["content"]
        for m in rec["messages"][start:]
        if m["role"] == "assistant" and not m.get("tool_calls")
    )


def test_category_behaviours(varied):
    by = {c: [r for r in varied if r["category"] == c] for c in CATEGORIES}
    for r in by["ambiguous"]:  # lists the matches and asks which
        text = _first_text(r)
        assert text.endswith("Which one should I shut down?"), text
        assert _stops(r) == list(r["meta"]["scenario"]["intent"]["targets"])
    for r in by["guardrail"]:
        assert _stops(r) == [] and "won't shut anything down" in r["messages"][-1]["content"]
    for r in by["not_found"]:
        assert _first_text(r).startswith("There is no machine named")
    for r in by["read_only"]:
        assert _stops(r) == [] and "confirm" not in _first_text(r).lower()
    for r in by["bulk_confirmation"]:
        assert sorted(_stops(r)) == sorted(r["meta"]["scenario"]["intent"]["targets"])
    for r in by["error_recovery"]:
        start = 1 + len(r["meta"]["scenario"]["history"])
        tools = [c["function"]["name"] for m in r["messages"][start:] for c in calls_in(m)]
        assert tools[0] == "start_agent" and "shutdown_agent" in tools
        # the staged mistake is context, not a lesson: its assistant turns carry weight 0
        staged = [m for m in r["messages"][1:start] if m["role"] == "assistant"]
        assert staged and all(m["weight"] == 0 for m in staged)
        assert all("weight" not in m for m in r["messages"][start:])


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, _, _ = _write(tmp_path, n=150, seed=7)
    b, _, _ = _write(tmp_path, n=150, seed=7)
    c, _, _ = _write(tmp_path, n=150, seed=8)
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(a) == digest(b) != digest(c)


def test_request_noise_wraps_some_requests_and_changes_nothing_else(tmp_path):
    _, _, plain = _write(tmp_path, n=140, seed=7)
    _, stats, noisy = _write(tmp_path, n=140, seed=7, request_noise=0.5)
    assert stats["request_noise"] == 0.5
    changed = 0
    for a, b in zip(plain, noisy, strict=True):
        sa, sb = a["meta"]["scenario"], b["meta"]["scenario"]
        assert {**sa, "request": ""} == {**sb, "request": ""}  # same fleet, intent, history
        assert sb["request"] in {m["content"] for m in b["messages"] if m["role"] == "user"}
        if sa["request"] != sb["request"]:
            changed += 1
            assert sa["request"].rstrip(".") in sb["request"] and check_record(b).ok
    assert 40 < changed < 100  # about half of 140
    with pytest.raises(ValueError, match="--request-noise 1.5"):
        _write(tmp_path, n=5, request_noise=1.5)


def test_staged_guesses_are_corrected_then_the_named_machine_is_confirmed(tmp_path):
    _, _, plain = _write(tmp_path, n=140, seed=7)
    _, stats, drilled = _write(tmp_path, n=140, seed=7, staged_guesses=0.5)
    staged = [r for r in drilled
              if r["category"] == "ambiguous" and any(m.get("weight") == 0 for m in r["messages"])]  # fmt: skip
    assert stats["staged_guess_trajectories"] == len(staged)
    assert 0 < len(staged) < sum(r["category"] == "ambiguous" for r in drilled)
    for a, b in zip(plain, drilled, strict=True):
        assert a["meta"]["scenario"] == b["meta"]["scenario"]  # same scenarios, other play
        if b not in staged:
            assert a == b
            continue
        assert b["category"] == "ambiguous" and check_record(b).ok
        msgs = b["messages"]
        i = next(i for i, m in enumerate(msgs) if m.get("weight") == 0)
        targets = set(b["meta"]["scenario"]["intent"]["targets"])
        guess = msgs[i]["content"]
        assert guess.endswith("Please confirm.") and not any(t in guess for t in targets)
        correction, after = msgs[i + 1], msgs[i + 2]
        assert correction["role"] == "user" and any(t in correction["content"] for t in targets)
        assert after.get("weight", 1) == 1 and after["content"].endswith("Please confirm.")
        stopped = {call_args(c)["name"] for m in msgs for c in calls_in(m)
                   if c["function"]["name"] == "shutdown_agent"}  # fmt: skip
        assert stopped == targets
    with pytest.raises(ValueError, match="--staged-guesses 2"):
        _write(tmp_path, n=5, staged_guesses=2)


def test_staged_bulk_sets_are_corrected_then_the_users_list_is_confirmed(tmp_path):
    _, _, guessed = _write(tmp_path, n=140, seed=7, staged_guesses=0.5)
    _, stats, drilled = _write(tmp_path, n=140, seed=7, staged_guesses=0.5, staged_bulk=0.5)
    staged = [r for r in drilled
              if r["category"] == "bulk_confirmation"
              and any(m.get("weight") == 0 for m in r["messages"])]  # fmt: skip
    bulk = sum(r["category"] == "bulk_confirmation" for r in drilled)
    assert 0 < len(staged) < bulk and stats["staged_bulk"] == 0.5
    kinds: Counter[str] = Counter()
    for a, b in zip(guessed, drilled, strict=True):
        if b not in staged:  # the ambiguous requests' staged guesses do not move
            assert a == b
            continue
        assert check_record(b).ok
        msgs = b["messages"]
        i = next(i for i, m in enumerate(msgs) if m.get("weight") == 0)
        targets = b["meta"]["scenario"]["intent"]["targets"]
        fleet = [m["name"] for m in b["meta"]["scenario"]["fleet"]]
        named = lambda m, fleet=fleet: set(mentioned_names(m["content"], fleet))  # noqa: E731
        assert msgs[i]["content"].endswith("Please confirm.")
        proposed = named(msgs[i])
        if proposed <= set(targets):
            kinds["part"] += 1
            assert set() < proposed < set(targets)  # a member left out
        else:
            kinds["extra"] += 1  # the set plus one machine outside it, sharing the pattern's stem
            (extra,) = proposed - set(targets)
            stem = b["meta"]["scenario"]["reference"]["pattern"].split("*")[0].rstrip("-_.")
            assert proposed - {extra} == set(targets) and extra.startswith(stem)
        correction, after = msgs[i + 1], msgs[i + 2]
        assert correction["role"] == "user" and named(correction) == set(targets)
        assert after.get("weight", 1) == 1 and named(after) == set(targets)
        assert set(_stops(b)) == set(targets)
    assert kinds["part"] and kinds["extra"], kinds  # both mistakes are drilled
    with pytest.raises(ValueError, match="--staged-bulk -1"):
        _write(tmp_path, n=5, staged_bulk=-1)


def test_users_own_fleet(tmp_path):
    names = {m.name for m in load_fleet(REPO_FLEET)}
    _, stats, recs = _write(tmp_path, n=80, seed=1, fleet=str(REPO_FLEET))
    assert stats["written"] == 80
    for r in recs:
        assert {m["name"] for m in r["meta"]["scenario"]["fleet"]} == names
        assert check_record(r).ok
        assert set(_stops(r)) <= names


def test_one_builder_per_category_on_made_up_and_on_user_fleets():
    from ajtrain.shutdown import build, on_fleet

    assert list(build.BUILDERS) == list(on_fleet.BUILDERS)
    assert set(build.BUILDERS) == set(CATEGORIES)


def test_examples_fleet_is_the_packaged_file():
    # one file, not two copies kept in step: examples/fleet.yaml links to the package's
    examples = REPO / "examples" / "fleet.yaml"
    assert examples.is_symlink() and examples.resolve() == REPO_FLEET.resolve()


def test_load_dataset_form_is_routed_to_the_loader():
    from ajtrain.cli import build_parser

    args = build_parser().parse_args(["generate", "--load-dataset", "toucan", "--sample", "100"])
    assert args.load_dataset == "toucan"


def test_task_file_matches_the_code():
    import json

    from ajtrain.shutdown.task import task_description

    path = REPO / "tasks" / "shutdown_target_selection.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(task_description()))


def test_only_the_categories_asked_for(tmp_path):
    _, stats, rows = _write(tmp_path, n=30, seed=3, categories="bulk_confirmation, ambiguous")
    assert stats["written"] == len(rows) == 30
    assert stats["only_categories"] == ["ambiguous", "bulk_confirmation"]
    # the two share the 30 in their usual proportions (0.22 : 0.14)
    assert stats["categories"] == {"ambiguous": 18, "bulk_confirmation": 12}
    assert all(check_record(r).ok for r in rows)
    _, canon, _ = _write(tmp_path, categories="bulk_confirmation")  # the canonical 20's bulk 3
    assert canon["categories"] == {"bulk_confirmation": CANONICAL_COUNTS["bulk_confirmation"]}
    _, every, _ = _write(tmp_path, n=30, seed=3)
    assert every["only_categories"] is None and len(every["categories"]) == len(CATEGORIES)
    with pytest.raises(ValueError, match="--categories bulk: unknown bulk; choose from explicit"):
        _write(tmp_path, n=5, categories="bulk")


def test_near_misses_sets_the_share_of_explicit_fleets_with_look_alikes(tmp_path):
    from ajtrain.shutdown.name_pools import near_misses

    def with_look_alikes(near):
        _, stats, rows = _write(tmp_path, n=40, seed=2, categories="explicit", near_misses=near)
        assert all(check_record(r).ok for r in rows) and stats["near_misses"] == near
        share = 0
        for r in rows:
            sc = r["meta"]["scenario"]
            fleet = {m["name"] for m in sc["fleet"]}
            share += any(n in fleet for t in sc["intent"]["targets"] for n in near_misses(t))
        return share

    assert with_look_alikes(1.0) == 40
    assert with_look_alikes(0.0) == 0
    assert 0 < with_look_alikes(None) < 40  # the default 0.4, the benchmark's
    with pytest.raises(ValueError, match="--near-misses 1.5: expected a share from 0 to 1"):
        _write(tmp_path, n=5, near_misses=1.5)
    with pytest.raises(ValueError, match="--near-misses: only for procedural fleets"):
        _write(tmp_path, n=5, near_misses=0.5, fleet=str(example_fleet_path()))


def test_bulk_look_alikes_sets_the_chance_of_look_alikes_beside_a_bulk_pattern(tmp_path):
    def look_alikes(chance):
        _, stats, rows = _write(
            tmp_path, n=30, seed=4, categories="bulk_confirmation", bulk_look_alikes=chance
        )
        assert all(check_record(r).ok for r in rows) and stats["bulk_look_alikes"] == chance
        found = 0
        for r in rows:
            sc = r["meta"]["scenario"]
            group = sc["reference"]["pattern"].removesuffix("-*")
            fleet = {m["name"] for m in sc["fleet"]}
            found += (f"{group}01" in fleet) + (f"{group}x-01" in fleet)
            assert not {f"{group}01", f"{group}x-01"} & set(sc["intent"]["targets"])
        return found

    assert look_alikes(1.0) == 60  # both beside every pattern, never among the targets
    assert look_alikes(0.0) == 0
    assert 0 < look_alikes(None) < 60  # the default 0.5 each, the benchmark's
    with pytest.raises(ValueError, match="--bulk-look-alikes -0.1: expected a share from 0 to 1"):
        _write(tmp_path, n=5, bulk_look_alikes=-0.1)
    with pytest.raises(ValueError, match="--bulk-look-alikes: only for procedural fleets"):
        _write(tmp_path, n=5, bulk_look_alikes=0.5, fleet=str(example_fleet_path()))
