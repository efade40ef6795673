"""Synthetic Toucan-1.5M shards in the released schema, with every quirk the converter handles.

Used by tests, ``bench/`` and the demo (the hub is unreachable offline). Rows are seeded and
deterministic; strings are serialised like the release (``json.dumps(..., ensure_ascii=False)``,
default separators). Quirks: Kimi ``tool_declare`` system messages (whose tool copy differs from
``available_tools``, sometimes declaring an extra tool that gets called), Nous ``<tools>`` system
messages and rows without one, split assistant emissions, parallel calls, OSS
``reasoning_content``/``call_id``, non-ASCII text, all four subsets (``irrelevant`` with an empty
response assessment), multi-turn rows, repeated uuids, and the SFT config's 6-column form with
``tool_call``/``tool_response`` roles. ``broken_every=k`` corrupts every k-th row in a rotating
way (bad arguments, unknown tool, orphan result, unknown role) to exercise the rejects.
"""

from __future__ import annotations

import json
import math
import random
import uuid as uuidlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from .convert import KIMI_PREFIX, KIMI_SUFFIX
from .filters import QUESTION_KEYS
from .source import SFT_COLUMNS, TEACHER_COLUMNS

SUBSET_CYCLE = (
    ["single-turn-original"] * 4
    + ["single-turn-diversify"] * 3
    + ["irrelevant"]
    + ["multi-turn"] * 2
)
BROKEN_KINDS = ("invalid_arguments", "unknown_tool", "orphan_tool_result", "unknown_role")
WORDS = (
    "the server returns data for each request and the tool checks status of agent host region "
    "forecast weather compound price ticket train route latitude longitude report summary "
    "result error retry window metric latency node cluster deploy backup release query index "
    "café São Paulo 東京 데이터 日期需为0~15天内 naïve “quoted” non‑breaking 🚀 résumé Zürich"
).split()
NS = uuidlib.UUID("6f1c2b4e-3a59-4e57-9b0e-0c9a4a6d1e10")
NOUS_HEAD = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
)
NOUS_TAIL = (
    "\n</tools>\n\nFor each function call, return a json object with function name and arguments "
    'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
    '"arguments": <args-json-object>}\n</tool_call>'
)


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


# A long seeded word stream; texts are slices of it (choosing words one by one is the slow part).
_STREAM = random.Random(0).choices(WORDS, k=1 << 16)


def _text(rng: random.Random, n: int) -> str:
    start = rng.randrange(len(_STREAM) - n)
    return " ".join(_STREAM[start : start + n])


def _servers(seed: int, count: int = 24) -> list[dict]:
    """A pool of MCP-like servers, each with 3-6 tools with JSON-schema parameters."""
    rng = random.Random(f"servers:{seed}")
    servers = []
    for s in range(count):
        name = f"{rng.choice(WORDS).title()} {rng.choice(['Search', 'Data', 'Ops', 'Weather'])} {s}"
        slug = name.lower().replace(" ", "-")
        tools = []
        for t in range(rng.randint(3, 6)):
            props = {
                f"p{j}": {
                    "type": rng.choice(["string", "integer", "number", "boolean"]),
                    "description": _text(rng, 8),
                }
                for j in range(rng.randint(0, 4))
            }
            schema = {"type": "object", "properties": props, "required": sorted(props)[:1]}
            if t % 2:
                schema |= {
                    "title": f"tool{t}Arguments",
                    "additionalProperties": False,
                    "$schema": "http://json-schema.org/draft-07/schema#",
                }
            tools.append(
                {"name": f"tool_{t}", "description": _text(rng, 30), "input_schema": schema}
            )
        servers.append({"name": name, "slug": slug, "tools": tools})
    return servers


def _openai(server: dict, tool: dict, system_copy: bool = False) -> dict:
    params = dict(tool["input_schema"])
    if system_copy:  # the system template's copy drops root keys (as observed in real rows)
        for key in ("title", "additionalProperties", "$schema"):
            params.pop(key, None)
    return {
        "type": "function",
        "function": {
            "name": f"{server['slug']}-{tool['name']}",
            "description": tool["description"],
            "parameters": params,
        },
    }


def _args(rng: random.Random, fn: dict) -> str:
    values = {
        "string": lambda: _text(rng, 3),
        "integer": lambda: rng.randint(0, 999),
        "number": lambda: round(rng.uniform(-90, 90), 4),
        "boolean": lambda: rng.random() < 0.5,
    }
    props = fn["parameters"].get("properties", {})
    return _dumps({k: values[v["type"]]() for k, v in props.items()})


def _result(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.6:  # pretty-printed JSON, as most MCP servers return
        items = [
            {"id": rng.randint(1, 10**6), "name": _text(rng, 3), "detail": _text(rng, 40)}
            for _ in range(rng.randint(2, 12))
        ]
        # orjson's indent matches json.dumps(indent=2, ensure_ascii=False) and is much faster
        return orjson.dumps(
            {"results": items, "count": len(items)}, option=orjson.OPT_INDENT_2
        ).decode()
    if kind < 0.9:
        return _text(rng, rng.randint(20, 200))
    return rng.choice(
        ["日期需为0~15天内", "Error: rate limit exceeded", "Round created with ID: 3"]
    )


def _round(rng: random.Random, config: str, tools: list[dict], msgs: list[dict]) -> list[str]:
    """One assistant emission split over messages (text, K parallel calls), then K results."""
    preface = {"role": "assistant", "content": _text(rng, rng.randint(10, 60))}
    if config == "OSS":
        preface["reasoning_content"] = _text(rng, rng.randint(20, 120))
    msgs.append(preface)
    called = [rng.choice(tools) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    for fn in called:
        fc = {"name": fn["function"]["name"], "arguments": _args(rng, fn["function"])}
        if config == "OSS":
            fc["call_id"] = f"call_{rng.getrandbits(48):012x}"
        msgs.append({"role": "assistant", "content": "", "function_call": fc})
    for fn in called:
        msgs.append({"role": "function", "content": _result(rng), "name": fn["function"]["name"]})
    return [fn["function"]["name"] for fn in called]


def _assessments(rng: random.Random, subset: str) -> tuple[str, str]:
    keys = QUESTION_KEYS
    q = {k: {"reasoning": _text(rng, 90), "score": rng.randint(1, 5)} for k in keys}
    q["overall_score"] = sum(v["score"] for v in q.values()) / len(keys)
    if subset == "irrelevant":
        return _dumps(q), ""  # no response judge for irrelevant rows
    r = {
        k: {"reasoning": _text(rng, 70), "score": rng.randint(1, 5)}
        for k in ("completeness", "conciseness")
    }
    r["overall_score"] = (r["completeness"]["score"] + r["conciseness"]["score"]) / 2
    r["desired_tools_used_percentage"] = rng.choice([0.0, 0.5, 1 / 3, 2 / 3, 1.0, 1.0])
    r["order_correctness"] = rng.random() < 0.7
    return _dumps(q), _dumps(r)


def _metadata(idx: int, servers: list[dict], rng: random.Random) -> str:
    return _dumps(
        {
            "prompt_id": f"{idx:08d}",
            "row_id": idx,
            "mcp_servers": [
                {
                    "server_id": rng.randint(1, 5000),
                    "server_name": s["name"],
                    "server_info": {
                        "id": rng.randint(1, 5000),
                        "name": s["name"],
                        "author": "@fixture",
                        "overview": _text(rng, 60),
                        "license": "MIT",
                        "tags": [],
                        "categories": [],
                    },
                    "remote_server_response": {
                        "is_success": True,
                        "tools": [dict(t, annotations=None) for t in s["tools"]],
                        "tool_count": len(s["tools"]),
                        "tool_names": [t["name"] for t in s["tools"]],
                    },
                    "labels": {
                        "analysis": _text(rng, 40),
                        "primary_label": "Data",
                        "is_connected": True,
                    },
                }
                for s in servers
            ],
            "server_analysis": _text(rng, 50),
            "cross_server_workflow": _text(rng, 30) if len(servers) > 1 else "",
            "synthetic_data_gen_configs": [
                {
                    "model": "kimik2w4a16",
                    "generation_params": {
                        "engine": "vllm_api",
                        "temperature": 1.0,
                        "max_tokens": 8192,
                        "step": "4.1",
                    },
                    "timestamp": 1750000000 + idx,
                }
            ],
        }
    )


def _break(rng: random.Random, kind: str, msgs: list[dict]) -> None:
    calls = [m for m in msgs if m.get("function_call")]
    if kind == "invalid_arguments" and calls:
        calls[0]["function_call"]["arguments"] = '{"p0": "unterminated'
    elif kind == "unknown_tool" and calls:
        old = calls[0]["function_call"]["name"]
        for m in msgs:  # rename the call and its results, so only the tool is unknown
            if m.get("function_call", {}).get("name") == old:
                m["function_call"]["name"] = "nowhere-declared_tool"
            elif m["role"] == "function" and m["name"] == old:
                m["name"] = "nowhere-declared_tool"
    elif kind == "orphan_tool_result":
        msgs.insert(2, {"role": "function", "content": "stray", "name": "never-called_tool"})
    else:
        msgs.append({"role": "observer", "content": _text(rng, 5)})


def _row(
    rng: random.Random,
    config: str,
    idx: int,
    seed: int,
    servers: list[dict],
    broken: str | None,
    prev_uuid: str | None,
) -> dict:
    subset = SUBSET_CYCLE[idx % len(SUBSET_CYCLE)]
    chosen = rng.sample(servers, 2 if idx % 7 == 3 else 1)
    available = [_openai(s, t) for s in chosen for t in s["tools"]]
    declared = [_openai(s, t, system_copy=True) for s in chosen for t in s["tools"]]
    extra = None
    if config == "Kimi-K2" and idx % 11 == 5:  # declared in the system message only (ac0907b0)
        extra = _openai(
            chosen[0],
            {
                "name": "deep_researcher_start",
                "description": _text(rng, 12),
                "input_schema": {"type": "object", "properties": {}},
            },
        )
        declared.append(extra)
    msgs: list[dict] = []
    if config == "Kimi-K2":
        msgs.append({"role": "system", "content": KIMI_PREFIX + _dumps(declared) + KIMI_SUFFIX})
    elif idx % 2 == 0:
        lines = "\n".join(_dumps(t) for t in declared)
        msgs.append({"role": "system", "content": NOUS_HEAD + lines + NOUS_TAIL})
    question = _text(rng, rng.randint(25, 70)) + "?"
    hint = "\n\nYou need to solve this question using search tool from the list of available tools."
    msgs.append(
        {"role": "user", "content": question + (hint if config == "Qwen3" and idx % 5 == 1 else "")}
    )
    used: list[str] = []
    turns = 2 if subset == "multi-turn" else 1
    for turn in range(turns):
        if turn:
            msgs.append({"role": "user", "content": _text(rng, rng.randint(10, 40)) + "?"})
        for _ in range(0 if subset == "irrelevant" else rng.randint(1, 3)):
            used += _round(rng, config, available + ([extra] if extra else []), msgs)
        msgs.append({"role": "assistant", "content": _text(rng, rng.randint(60, 300))})
    if broken:
        _break(rng, broken, msgs)
    names = list(dict.fromkeys(n.split("-")[-1] for n in used)) or ["tool_0"]
    if len(chosen) > 1:
        names = [f"{chosen[0]['name']}::{n}" for n in names]
    q_assess, r_assess = _assessments(rng, subset)
    uid = (
        prev_uuid
        if (subset == "multi-turn" and idx % 20 == 9 and prev_uuid)
        else str(uuidlib.uuid5(NS, f"{config}/{seed}/{idx}"))
    )
    return {
        "uuid": uid,
        "subset_name": subset,
        "messages": _dumps(msgs),
        "question": question,
        "available_tools": _dumps(available),
        "target_tools": ", ".join(names),
        "question_quality_assessment": q_assess,
        "response_quality_assessment": r_assess,
        "metadata": _metadata(idx, chosen, rng),
    }


def _sft(row: dict) -> dict:
    """The SFT config's form: no system message, tool_call/tool_response roles, ``tools``."""
    msgs, tools = [], json.loads(row["available_tools"])
    names = {t["function"]["name"] for t in tools}
    for m in json.loads(row["messages"]):
        if m["role"] == "system":  # SFT's tools come from metadata: all declared tools
            declared = m["content"][len(KIMI_PREFIX) : -len(KIMI_SUFFIX)]
            tools += [t for t in json.loads(declared) if t["function"]["name"] not in names]
            continue
        if m.get("function_call"):
            fc = {"name": m["function_call"]["name"], "arguments": m["function_call"]["arguments"]}
            if m.get("content"):
                msgs.append({"role": "assistant", "content": m["content"]})
            msgs.append({"role": "tool_call", "content": str(fc)})
        elif m["role"] == "function":
            msgs.append({"role": "tool_response", "content": m["content"]})
        else:
            msgs.append({"role": m["role"], "content": m["content"]})
    return {
        "uuid": row["uuid"],
        "subset_name": row["subset_name"],
        "question": row["question"],
        "target_tools": row["target_tools"],
        "tools": _dumps(tools),
        "messages": _dumps(msgs),
    }


def iter_fixture_rows(
    config: str = "Kimi-K2", rows: int = 100, seed: int = 0, broken_every: int = 0
) -> Iterator[dict]:
    """Yield ``rows`` synthetic rows of ``config`` (column dicts of strings, released schema)."""
    rng = random.Random(f"rows:{config}:{seed}")
    servers = _servers(seed)
    teacher = "Kimi-K2" if config == "SFT" else config  # SFT is derived from Kimi-K2
    prev = None
    for idx in range(rows):
        broken = None
        if broken_every and idx % broken_every == broken_every - 1:
            broken = BROKEN_KINDS[(idx // broken_every) % len(BROKEN_KINDS)]
        row = _row(rng, teacher, idx, seed, servers, broken, prev)
        prev = row["uuid"]
        yield _sft(row) if config == "SFT" else row


def write_fixture_mirror(
    directory: str | Path,
    config: str = "Kimi-K2",
    rows: int = 2000,
    seed: int = 0,
    shards: int | None = None,
    rows_per_group: int = 500,
    broken_every: int = 0,
) -> Path:
    """Write ``<directory>/<config>/train-000NN-of-000MM.parquet``; returns the config folder.

    All columns are ``string`` in the released order (9 for teacher configs, 6 for SFT). Shards
    are written one row group at a time, so any size fits in memory.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = SFT_COLUMNS if config == "SFT" else TEACHER_COLUMNS
    schema = pa.schema([(c, pa.string()) for c in columns])
    folder = Path(directory) / config
    folder.mkdir(parents=True, exist_ok=True)
    shards = shards or max(1, math.ceil(rows / 5000))
    per_shard = math.ceil(rows / shards) if rows else 0
    it = iter_fixture_rows(config, rows, seed, broken_every)
    for k in range(shards):
        path = folder / f"train-{k:05d}-of-{shards:05d}.parquet"
        left = min(per_shard, rows - k * per_shard)
        with pq.ParquetWriter(path, schema) as writer:
            while left > 0:
                group = [next(it) for _ in range(min(rows_per_group, left))]
                left -= len(group)
                writer.write_table(pa.Table.from_pylist(group, schema=schema))
            if per_shard == 0 or rows - k * per_shard <= 0:
                writer.write_table(pa.Table.from_pylist([], schema=schema))
    return folder
