"""The simulated user says yes, and go ahead, only to messages naming the machines it means."""

from __future__ import annotations

from ajtrain.shutdown.canonical import incident
from ajtrain.shutdown.user import SimUser
from ajtrain.transcript import is_affirmative


def _talk(user: SimUser, *assistant_lines: str) -> list[str]:
    """The user's replies to ``assistant_lines``, one after another (no tool calls between)."""
    sc = user.scenario
    state = sc.initial_state()
    msgs = [{"role": "user", "content": sc.request}]
    replies = []
    for line in assistant_lines:
        msgs.append({"role": "assistant", "content": line})
        reply = user.reply(msgs, state, state)
        replies.append(reply)
        msgs.append({"role": "user", "content": reply})
    return replies


def test_yes_then_go_ahead_for_the_machine_it_means():
    sc = incident()  # "Shutdown domain02"; the fleet also has ians-r16 and prod-api-01
    replies = _talk(SimUser(sc), "Shut down domain02? Please confirm.", "Shutting it down now.")
    assert all(is_affirmative(r) for r in replies)


def test_no_go_ahead_when_the_next_message_names_another_machine():
    sc = incident()
    wrong = next(m.name for m in sc.fleet if m.name not in sc.intent.targets)
    first, second = _talk(
        SimUser(sc), "Shut down domain02? Please confirm.", f"Shut down {wrong}? Please confirm."
    )
    assert is_affirmative(first)
    assert not is_affirmative(second) and "domain02" in second  # it says which one it meant
