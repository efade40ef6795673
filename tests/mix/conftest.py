"""Record factories and a recipe writer for the mix tests (fixtures built in code)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ajtrain.records import make_record, write_records

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
SUBSETS = ("single-turn-original", "single-turn-diversify", "irrelevant", "multi-turn")


def toucan_record(i: int, text: str | None = None, category: str | None = None) -> dict:
    """A Toucan-like record: one tool call and its answer; ``text`` decides its content hash."""
    text = text if text is not None else f"What is the weather in city {i}?"
    return make_record(
        id=f"toucan/{i}",
        source="toucan",
        category=category or SUBSETS[i % len(SUBSETS)],
        tools=TOOLS,
        messages=[
            {"role": "user", "content": text},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c0",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c0", "name": "get_weather", "content": "sunny"},
            {"role": "assistant", "content": f"It is sunny, for: {text}"},
        ],
    )


def shutdown_record(i: int, request: str | None = None, fleet: list[str] | None = None) -> dict:
    """A shutdown-like record with its scenario in meta (so it has a decontamination key)."""
    fleet = fleet or [f"web-{i}", f"db-{i}"]
    request = request or f"Shut down web-{i}"
    return make_record(
        id=f"shutdown/clear/{i:04d}",
        source="shutdown",
        category="clear" if i % 2 else "ambiguous",
        tools=TOOLS,
        messages=[
            {"role": "system", "content": "You operate a fleet."},
            {"role": "user", "content": request},
            {"role": "assistant", "content": f"Shutting down web-{i}."},
        ],
        meta={"scenario": {"request": request, "fleet": [{"name": n} for n in fleet]}},
    )


@pytest.fixture
def make_toucan():
    return toucan_record


@pytest.fixture
def make_shutdown():
    return shutdown_record


@pytest.fixture
def write_jsonl():
    def write(path: Path, records) -> Path:
        write_records(path, records)
        return path

    return write


@pytest.fixture
def write_recipe(tmp_path):
    """Write a recipe dict as YAML under tmp_path and return its path."""

    def write(data: dict, name: str = "recipe.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture
def small_inputs(tmp_path, write_jsonl):
    """20 shutdown records and 120 Toucan records over two files; returns the globs."""
    write_jsonl(tmp_path / "shutdown_trajectories.jsonl", [shutdown_record(i) for i in range(20)])
    write_jsonl(tmp_path / "toucan_a_trajectories.jsonl", [toucan_record(i) for i in range(60)])
    write_jsonl(
        tmp_path / "toucan_b_trajectories.jsonl", [toucan_record(i) for i in range(60, 120)]
    )
    return {
        "shutdown": str(tmp_path / "shutdown_trajectories*.jsonl"),
        "toucan": str(tmp_path / "toucan_*_trajectories.jsonl"),
    }
