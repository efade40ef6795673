"""One episode: a policy, the fleet and the simulated user, stepped turn by turn.

Step-wise on purpose: the eval stage advances many episodes at once, batching their policy turns
into one model call; :func:`run_episode` is the plain loop for scripted policies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from ..fleet import FleetEnv
from ..records import Message
from ..transcript import call_args, calls_in
from .scenario import Scenario
from .text import SYSTEM_PROMPT
from .user import SimUser

MAX_ASSISTANT_TURNS = 16

# A guard sees the transcript so far and a pending call (tool, JSON arguments); it returns None to
# let the call run, or the error text the agent gets instead (see ajtrain.guard).
Guard = Callable[[list[Message], str, str], "str | None"]


class Episode:
    def __init__(
        self,
        scenario: Scenario,
        user_pool: str = "train",
        env: FleetEnv | None = None,
        guard: Guard | None = None,
    ):
        self.scenario = scenario
        self.guard = guard
        self.blocked: list[dict] = []  # tool calls the guard refused
        self.env = env or FleetEnv()
        self.env.reset(list(scenario.fleet))
        self.messages: list[Message] = [{"role": "system", "content": SYSTEM_PROMPT}]
        for msg in scenario.history:  # replay the earlier turns' actions on the fleet
            self.messages.append(copy.deepcopy(msg))
            for c in calls_in(msg):
                self.env.step(c["function"]["name"], call_args(c) or {})
        self.start = scenario.request_index
        self.audit_start = len(self.env.audit)  # actions before this belong to the history
        self.start_state = self.env.state()
        self.messages.append({"role": "user", "content": scenario.request})
        self.user = SimUser(scenario, user_pool)
        self.done = False
        self.truncated = False
        self.assistant_turns = 0
        self._ids = 0

    def advance(self, message: Message) -> None:
        """Apply the policy's next assistant message: run its tool calls, or let the user reply."""
        if self.done:
            raise RuntimeError("episode is over")
        msg: Message = {"role": "assistant", "content": message.get("content") or ""}
        if message.get("weight") == 0:  # a staged turn (context, not trained on)
            msg["weight"] = 0
        if message.get("reasoning_content"):
            msg["reasoning_content"] = message["reasoning_content"]
        calls = []
        for c in message.get("tool_calls") or []:
            c = {"id": c.get("id") or f"call_{self._ids}", "type": "function",
                 "function": dict(c["function"])}  # fmt: skip
            self._ids += 1
            calls.append(c)
        if calls:
            msg["tool_calls"] = calls
        self.messages.append(msg)
        self.assistant_turns += 1
        for c in calls:
            fn = c["function"]
            refusal = (
                self.guard(self.messages, fn.get("name", ""), fn.get("arguments") or "{}")
                if self.guard
                else None
            )
            if refusal is not None:  # not executed: the agent reads why, as the tool's result
                self.blocked.append({"call": c, "reason": refusal})
                result = refusal
            else:
                _, result = self.env.step(fn.get("name", ""), fn.get("arguments") or "{}")
            self.messages.append(
                {
                    "role": "tool",
                    "tool_call_id": c["id"],
                    "name": fn.get("name", ""),
                    "content": result,
                }
            )
        if not calls:
            reply = self.user.reply(self.messages, self.env.state(), self.start_state)
            if reply is None:
                self.done = True
            else:
                self.messages.append({"role": "user", "content": reply})
        if not self.done and self.assistant_turns >= MAX_ASSISTANT_TURNS:
            self.done = self.truncated = True

    @property
    def actions(self):
        """The audit entries of this episode's own tool calls (not the replayed history)."""
        return self.env.audit[self.audit_start :]


def run_episode(
    scenario: Scenario, policy, user_pool: str = "train", guard: Guard | None = None
) -> Episode:
    """Play ``policy`` (an object with ``start(scenario) -> actor``) to the end of the episode."""
    ep = Episode(scenario, user_pool, guard=guard)
    actor = policy.start(scenario)
    while not ep.done:
        ep.advance(actor(ep.messages))
    return ep
