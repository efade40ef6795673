"""What users say, in two disjoint pools: ``train`` (the generator) and ``bench`` (the held-out
benchmark). A request is a sentence frame × a verb × an object form; frames and object forms of
the two pools never overlap, so no benchmark request is ever a training phrasing."""

from __future__ import annotations

import random

VERBS = ["shut down", "shutdown", "power off", "turn off", "stop", "halt", "bring down",
         "take down", "power down", "switch off"]  # fmt: skip

FRAMES = {
    "train": ["{V} {obj}", "{V} {obj}.", "Please {v} {obj}.", "{V} {obj} please", "Can you {v} {obj}?",
              "Could you {v} {obj}?", "I need you to {v} {obj}.", "Hey AJ, {v} {obj}.", "AJ: {v} {obj}",
              "{V} {obj} now.", "Time to {v} {obj}.", "Go {v} {obj}", "{V} {obj} for me",
              "Kindly {v} {obj}.", "Pls {v} {obj}"],
    "bench": ["Would you {v} {obj}?", "I'd like you to {v} {obj}.", "Let's {v} {obj}.",
              "{V} {obj}, thanks.", "Can we {v} {obj}?", "Please go ahead and {v} {obj}.",
              "Quick one: {v} {obj}.", "AJ, please {v} {obj}.", "{V} {obj} when you can.",
              "Do me a favour and {v} {obj}."],
}  # fmt: skip

OBJECTS = {
    "name": {
        "train": ["{name}", "machine '{name}'", "the machine {name}", "agent {name}", "host {name}"],
        "bench": ["box {name}", "node {name}", "'{name}'", "the {name} machine"],
    },
    "names": {
        "train": ["{a} and {b}", "both {a} and {b}", "machines {a} and {b}"],
        "bench": ["{a} as well as {b}", "the two boxes {a} and {b}"],
    },
    "vague": {  # descriptor keys each form needs
        "train": [("the server", ()), ("the {role}", ("role",)),
                  ("the {env} machine", ("env",)), ("the {env} {role}", ("env", "role")),
                  ("that {role} box", ("role",))],
        "bench": [("our {role} node", ("role",)), ("the {env} host", ("env",)),
                  ("that {role} of ours", ("role",)), ("the {env} {role} box", ("env", "role")),
                  ("the machine", ())],
    },
    "vague_no_context": {
        "train": [("it", ()), ("that one", ()), ("the thing", ())],
        "bench": [("the usual one", ()), ("that machine", ())],
    },
    "pattern": {
        "train": ["ALL {pattern}", "all machines matching {pattern}", "every {pattern} machine"],
        "bench": ["everything that matches {pattern}", "each {pattern} box"],
    },
    "pattern_except": {
        "train": ["all {pattern} except {x}", "ALL {pattern} but not {x}"],
        "bench": ["all of {pattern} apart from {x}", "the whole {pattern} group minus {x}"],
    },
}  # fmt: skip

QUERIES = {
    "train": ["Is {name} up?", "What's the status of {name}?", "Is {name} running?",
              "Check whether {name} is up.", "Tell me if {name} is running."],
    "bench": ["Is {name} still alive?", "How is {name} doing?", "Status of {name}, please.",
              "Is {name} online right now?"],
}  # fmt: skip

RECOVERY = {  # (line, names the intended target?)
    "train": [("Wrong one! You stopped {wrong}, I wanted {target}.", True),
              ("That's the wrong machine! I meant {target}, not {wrong}.", True),
              ("Wrong one! Undo that.", False),
              ("No! Why did you stop {wrong}? Put it back.", False)],
    "bench": [("Oops, not {wrong}! I needed {target} off.", True),
              ("Hold on, {wrong} was the wrong one. It should have been {target}.", True),
              ("You took down the wrong box. Restore it.", False)],
}  # fmt: skip

USER_LINES = {
    "train": {
        "yes": ["Yes.", "Yes, go ahead.", "Yep, do it.", "Confirmed.", "Yes please.",
                "Correct, go ahead.", "Sure.", "Ok, do it."],
        "reveal": ["I meant {names}.", "The one called {names}.", "{names}, please.", "It's {names}.",
                   "I want {names} shut down."],
        "cannot_clarify": ["I don't know, just pick one.", "Not sure, whichever you think.",
                           "No idea, you decide.", "I can't remember the name."],
        "go_ahead": ["Yes, I said yes. Go ahead.", "Yes, please do it now."],
    },
    "bench": {
        "yes": ["Yeah, that's right.", "Yup.", "Affirmative.", "Absolutely, go.", "Approved.",
                "Definitely."],
        "reveal": ["Sorry, I mean {names}.", "Only {names}.", "That would be {names}.",
                   "Go with {names}."],
        "cannot_clarify": ["Hmm, I'm not sure which.", "Any of them, I guess.",
                           "Can't say. Choose for me."],
        "go_ahead": ["Yup, proceed.", "Yeah, do it."],
    },
}  # fmt: skip


def user_lines(pool: str) -> dict[str, list[str]]:
    return USER_LINES[pool]


def request(frame: str, verb: str, obj: str) -> str:
    """Fill a frame; ``{V}`` is the verb capitalised at the start of a sentence."""
    text = frame.replace("{V}", verb[:1].upper() + verb[1:]).replace("{v}", verb)
    return text.replace("{obj}", obj)


def say(rng: random.Random, pool: str, obj: str) -> str:
    """An opening request about ``obj`` in a frame and with a verb drawn from ``pool``."""
    return request(rng.choice(FRAMES[pool]), rng.choice(VERBS), obj)


def all_templates(pool: str) -> set[str]:
    """Every opening-request template of a pool (names left as placeholders)."""
    out = set()
    for frame in FRAMES[pool]:
        for verb in VERBS:
            for forms in OBJECTS.values():
                for form in forms[pool]:
                    out.add(request(frame, verb, form[0] if isinstance(form, tuple) else form))
    out.update(QUERIES[pool])
    out.update(line for line, _ in RECOVERY[pool])
    return out
