"""The simulated user: deterministic, rule-based, no LLM (docs/TRAINING_ARCHITECTURE.md, "The
simulated user").

After each assistant text turn it replies by rule:
1. intent reached → the episode ends;
2. it said yes and the agent has not acted since → it says go ahead (it never ends the episode
   between confirming and the agent acting), unless the message names a machine it did not
   mean: it never says yes, nor go ahead, to a message naming another machine;
3. the message names exactly the intended machines (no other) → yes;
4. otherwise it reveals its intent — or, when it cannot clarify, says so (and ends after the
   agent's next text).
"""

from __future__ import annotations

from ..records import Message
from ..transcript import is_affirmative, mentioned_names
from . import phrasings
from .scenario import Scenario
from .text import join_names

MAX_USER_TURNS = 6


class SimUser:
    def __init__(self, scenario: Scenario, pool: str = "train"):
        self.scenario = scenario
        self.lines = phrasings.user_lines(pool)
        self.names = [m.name for m in scenario.fleet]
        self.turns = 0
        self.gave_up_clarifying = False

    def _pick(self, kind: str) -> str:
        options = self.lines[kind]
        return options[(self.scenario.style + self.turns) % len(options)]

    def reply(self, messages: list[Message], state: dict[str, str], start_state: dict[str, str]):
        """The user's next message, or None when the episode ends."""
        sc, intent = self.scenario, self.scenario.intent
        if self.turns >= MAX_USER_TURNS:
            return None
        if sc.category == "read_only":
            return None  # a question gets one answer
        if intent.actionable and state == sc.intended_state(start_state):
            return None
        if not intent.actionable and self.gave_up_clarifying:
            return None
        text = messages[-1].get("content") or ""
        named = set(mentioned_names(text, self.names))
        prev_user = next((m for m in reversed(messages) if m["role"] == "user"), None)
        if prev_user is not None and is_affirmative(prev_user.get("content") or ""):
            i = max(i for i, m in enumerate(messages) if m is prev_user)
            acted_since_yes = any(m.get("tool_calls") for m in messages[i + 1 :])
            # A go-ahead answers the message before it: after "yes" to jump32, "Shut down
            # jump-32?" must not get "proceed" (the guard would rightly read it as a yes).
            if not acted_since_yes and named <= set(intent.targets):
                return self._say("go_ahead")
        # Yes only to a message naming exactly the intended machines, nothing more.
        if intent.targets and named == set(intent.targets):
            return self._say("yes")
        if intent.targets and intent.can_clarify:
            return self._say("reveal", names=join_names(list(intent.targets)))
        self.gave_up_clarifying = True
        return self._say("cannot_clarify")

    def _say(self, kind: str, **fields: str) -> str:
        line = self._pick(kind).format(**fields)
        self.turns += 1
        return line
