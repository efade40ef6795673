"""The ``shutdown_targets`` benchmark as an Inspect AI task.

    pip install 'ajtrain[inspect]'
    inspect eval ajtrain/shutdown_targets --model openai/gpt-4o-mini   # or vllm/..., hf/...
    inspect eval ajtrain/shutdown_targets -T guard=true -T limit=40 --model ...
    inspect view                                                        # the transcripts

The same episodes as ``ajtrain eval`` (docs/TRAINING_ARCHITECTURE.md, "Eval"), in Inspect's
terms: each benchmark scenario is a sample; the fleet's four tools are Inspect tools (schemas derived from the functions that run
them, :mod:`ajtrain.fleet`); the solver plays the model against the simulated user, who speaks the
user turns; the scorer is the project's checker (:func:`ajtrain.eval.scoring.score_episode`).
The solver steps an :class:`~ajtrain.shutdown.episode.Episode`, so tool calls run through the
fleet environment (audit log, optional runtime guard) exactly as in ``ajtrain eval``, and the
verdicts agree (tests/eval/test_eval_inspect.py checks it with Inspect's ``mockllm`` model).

Registered through the ``inspect_ai`` entry point in pyproject.toml, so Inspect finds
``ajtrain/shutdown_targets`` once ajtrain is installed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageTool,
    ChatMessageUser,
)
from inspect_ai.scorer import CORRECT, INCORRECT, Score, Target, accuracy, grouped, scorer, stderr
from inspect_ai.solver import Generate, TaskState, solver
from inspect_ai.tool import ToolCall, ToolDef, ToolParams

from ..fleet import tool_schemas
from ..records import Message
from ..shutdown.episode import Episode
from ..shutdown.scenario import Scenario
from ..transcript import call_args, tool_call
from .scoring import score_episode

STORE_KEY = "ajtrain_episode"  # where the solver leaves the finished episode for the scorer


def samples(scenarios: list[Scenario]) -> list[Sample]:
    """One sample per scenario; the scenario itself (fleet, history, hidden intent) rides in the
    metadata, for the solver and the scorer (the model sees only the transcript)."""
    return [
        Sample(id=s.id, input=s.request, metadata={"category": s.category,
               "scenario": orjson.loads(orjson.dumps(s.to_dict()))})  # as the log stores it
        for s in scenarios
    ]  # fmt: skip


def to_inspect(m: Message) -> ChatMessage:
    """A project (OpenAI-format) message as an Inspect chat message."""
    role, content = m["role"], m.get("content") or ""
    if role == "system":
        return ChatMessageSystem(content=content)
    if role == "user":
        return ChatMessageUser(content=content)
    if role == "tool":
        return ChatMessageTool(content=content, tool_call_id=m.get("tool_call_id"),
                               function=m.get("name"))  # fmt: skip
    calls = [
        ToolCall(id=c["id"], function=c["function"]["name"], arguments=call_args(c) or {})
        for c in m.get("tool_calls") or []
    ]
    return ChatMessageAssistant(content=content, tool_calls=calls or None)


def to_project(m: ChatMessage, errors: list[str] | None = None) -> Message:
    """An Inspect chat message as a project message. A tool call Inspect could not parse keeps
    its error text as (invalid) arguments, so the fleet answers it as bad JSON; ``errors`` gets
    a line for it."""
    out: Message = {"role": m.role, "content": m.text}
    if isinstance(m, ChatMessageTool):
        out.update(tool_call_id=m.tool_call_id or "", name=m.function or "")
    if isinstance(m, ChatMessageAssistant) and m.tool_calls:
        calls = []
        for c in m.tool_calls:
            if c.parse_error and errors is not None:
                errors.append(f"{c.function}: {c.parse_error}")
            args = c.parse_error or orjson.dumps(c.arguments).decode()
            calls.append(tool_call(c.function, args, c.id))
        out["tool_calls"] = calls
    return out


def fleet_tools(episode: Episode) -> list[ToolDef]:
    """The fleet's tools as Inspect tools acting on ``episode``'s fleet (schemas from ajtrain)."""

    def runner(name: str):
        async def run(**arguments: Any) -> str:
            return episode.env.step(name, arguments)[1]

        return run

    return [
        ToolDef(
            runner(fn["name"]),
            name=fn["name"],
            description=fn["description"],
            parameters=ToolParams.model_validate(fn["parameters"]),
        )  # fmt: skip
        for fn in (schema["function"] for schema in tool_schemas())
    ]


@solver
def fleet_episode(guard: bool = False):
    """Play the model against the simulated user in the scenario's fleet until the episode ends.

    Each model turn's tool calls run through the episode (fleet, audit log, guard when
    ``guard``); a text turn gets the simulated user's reply as the next user message.
    """

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from ..guard import TargetGuard  # the guard is its own stage

        scenario = Scenario.from_dict(state.metadata["scenario"], where=str(state.sample_id))
        ep = Episode(scenario, user_pool="bench", guard=TargetGuard() if guard else None)
        state.messages = [to_inspect(m) for m in ep.messages]
        state.tools = fleet_tools(ep)
        errors: list[str] = []
        while not ep.done:
            seen = len(ep.messages)
            state = await generate(state, tool_calls="none")
            if state.completed or state.output.error:  # a limit, or no reply to score
                ep.done = ep.truncated = True
                break
            ep.advance(to_project(state.output.message, errors))
            state.messages.extend(to_inspect(m) for m in ep.messages[seen + 1 :])
        state.store.set(STORE_KEY, {
            "messages": ep.messages,
            "actions": [dataclasses.asdict(a) for a in ep.actions],
            "blocked": ep.blocked, "truncated": ep.truncated, "parse_errors": errors,
        })  # fmt: skip
        return state

    return solve


@scorer(metrics=[accuracy(), stderr(), grouped(accuracy(), "category")])
def target_safety():
    """Safe success per episode: the checker's verdict on the transcript and the fleet's audit
    log; the full score (checks, violations, wrong targets) is in the metadata."""

    async def score(state: TaskState, target: Target) -> Score:
        ep = state.store.get(STORE_KEY)
        scenario = Scenario.from_dict(state.metadata["scenario"], where=str(state.sample_id))
        s = score_episode(scenario, ep["messages"], blocked=ep["blocked"],
                          truncated=ep["truncated"], parse_errors=len(ep["parse_errors"]))  # fmt: skip
        explanation = "safe success" if s["passed"] else f"failed check: {s['failed_check']}"
        if s["violations"]:
            explanation += "; " + "; ".join(f"{v['rule']}: {v['detail']}" for v in s["violations"])
        return Score(value=CORRECT if s["passed"] else INCORRECT, explanation=explanation,
                     metadata=s)  # fmt: skip

    return score


@task
def shutdown_targets(
    categories: str | list[str] = "",
    limit: int = 0,
    scenarios: str = "",
    fleet: str = "",
    guard: bool = False,
) -> Task:
    """The held-out shutdown-target benchmark (or ``scenarios``: your own JSONL, or ``fleet``:
    scenarios built on your inventory), optionally with the runtime guard in front of the
    fleet. ``categories`` (comma-separated) and ``limit`` select as ``ajtrain eval`` does."""
    from .runner import EvalConfig, select_scenarios

    if isinstance(categories, str):
        categories = [c for c in categories.split(",") if c]
    cfg = EvalConfig(model="inspect", categories=list(categories), limit=limit,
                     scenarios=scenarios or None, fleet=fleet or None)  # fmt: skip
    return Task(
        dataset=MemoryDataset(samples(select_scenarios(cfg)), name="shutdown_targets"),
        solver=fleet_episode(guard=guard),
        scorer=target_safety(),
    )
