"""The Inspect AI task gives the same verdicts as ``ajtrain eval`` on the same scenarios.

Inspect's ``mockllm`` model plays a scripted policy: each turn it hands the policy the transcript
Inspect sends it (converted back to records) and returns the policy's reply. ``ajtrain eval
--model scripted:<policy>`` runs the same policy on the same scenarios; the two must agree on
every episode's verdict.
"""

from __future__ import annotations

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import Task  # noqa: E402
from inspect_ai import eval as inspect_eval  # noqa: E402
from inspect_ai.dataset import MemoryDataset  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402

from ajtrain.eval.backends import ScriptedBackend  # noqa: E402
from ajtrain.eval.inspect_task import (  # noqa: E402
    fleet_episode,
    samples,
    shutdown_targets,
    target_safety,
    to_inspect,
    to_project,
)
from ajtrain.eval.runner import EvalConfig, evaluate_shutdown, select_scenarios  # noqa: E402
from ajtrain.shutdown.policies import scripted_policy  # noqa: E402

VERDICT = ("passed", "failed_check", "rules_broken", "wrong_targets", "guard_blocked", "truncated")


def mock_policy(policy: str, scenario):
    """A ``mockllm`` model whose replies are ``policy``'s, computed from Inspect's input."""
    actor = scripted_policy(policy).start(scenario)
    ids = iter(range(10_000))

    def reply(input, tools, tool_choice, config) -> ModelOutput:
        assert [t.name for t in tools] == ["list_agents", "get_agent", "shutdown_agent",
                                           "start_agent"]  # fmt: skip
        msg = actor([to_project(m) for m in input])
        calls = [{**c, "id": f"call_{next(ids)}"} for c in msg.get("tool_calls") or []]
        message = to_inspect({"role": "assistant", "content": msg.get("content") or "",
                              "tool_calls": calls})  # fmt: skip
        output = ModelOutput.from_message(message)
        output.usage = ModelUsage()  # else mockllm counts tokens with tiktoken (a download)
        return output

    return get_model("mockllm/model", custom_outputs=reply, memoize=False)


def inspect_verdicts(scenarios, policy: str, guard: bool, log_dir) -> dict[str, dict]:
    # One task per scenario, each with its own mock model bound to that scenario's policy actor.
    tasks = [
        Task(dataset=MemoryDataset(samples([s]), name=s.id), solver=fleet_episode(guard=guard),
             scorer=target_safety(), model=mock_policy(policy, s), name=f"ep{i}")
        for i, s in enumerate(scenarios)
    ]  # fmt: skip
    logs = inspect_eval(tasks, log_dir=str(log_dir), display="none", max_tasks=4)
    out = {}
    for log in logs:
        assert log.status == "success", log.error
        (sample,) = log.samples
        score = next(iter(sample.scores.values()))
        assert score.value == ("C" if score.metadata["passed"] else "I")
        out[sample.id] = {k: score.metadata[k] for k in VERDICT}
    return out


@pytest.mark.slow
@pytest.mark.parametrize(("policy", "guard"), [("oracle", False), ("naive", False),
                                               ("naive", True)])  # fmt: skip
def test_inspect_task_agrees_with_ajtrain_eval(policy, guard, tmp_path):
    cfg = EvalConfig(model=f"scripted:{policy}", limit=12, guard=guard, charts=False)
    scenarios = select_scenarios(cfg)
    assert len({s.category for s in scenarios}) >= 5  # every kind of episode is compared
    _, rows = evaluate_shutdown(cfg, ScriptedBackend(policy), progress=False)
    ours = {r["id"]: {k: r[k] for k in VERDICT} for r in rows}
    theirs = inspect_verdicts(scenarios, policy, guard, tmp_path / "logs")
    assert theirs == ours
    passed = sum(v["passed"] for v in ours.values())
    if policy == "oracle":
        assert passed == len(ours)
    else:  # the naive agent fails episodes in both; with the guard, calls are refused instead
        assert passed < len(ours)
        assert any(v["guard_blocked"] for v in ours.values()) == guard
        assert any(v["wrong_targets"] for v in ours.values()) != guard


def test_registered_task_builds_the_benchmark():
    task = shutdown_targets(categories="ambiguous,explicit", limit=6)
    ids = [s.id for s in task.dataset]
    assert len(ids) == 6 and all(s.metadata["category"] in ("ambiguous", "explicit")
                                 for s in task.dataset)  # fmt: skip
    with pytest.raises(ValueError, match="unknown"):
        shutdown_targets(categories="nonsense")


def test_entry_point_names_the_task_module():
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="inspect_ai") if e.name == "ajtrain"]
    assert ep.value == "ajtrain.eval.inspect_task"
