"""Quality filters on Toucan's LLM-judge columns, and the scores a record keeps in its meta.

``question_quality_assessment``: six ``{reasoning, score 1-5}`` keys plus ``overall_score``.
``response_quality_assessment``: ``completeness``/``conciseness`` ``{reasoning, score}``,
``overall_score``, ``desired_tools_used_percentage`` (0-1), ``order_correctness`` (bool); it is an
empty string for the ``irrelevant`` subset, which has no response judge: response thresholds do
not apply to those rows (they are kept, not dropped for a missing judge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from .convert import Reject

QUESTION_KEYS = (
    "tool_selection_difficulty",
    "tool_selection_uniqueness",
    "question_quality",
    "scenario_realism",
    "verifiable",
    "stability",
)
NO_RESPONSE_JUDGE = ("irrelevant",)


@dataclass(frozen=True)
class Thresholds:
    """Minimum judge scores a row needs; ``None`` = no threshold."""

    min_question_score: float | None = None
    min_response_score: float | None = None
    min_question_quality: float | None = None
    min_scenario_realism: float | None = None
    min_completeness: float | None = None
    min_conciseness: float | None = None
    min_desired_tools_used: float | None = None
    require_order_correct: bool = False

    @property
    def on_question(self) -> bool:
        return any(
            v is not None
            for v in (self.min_question_score, self.min_question_quality, self.min_scenario_realism)
        )

    @property
    def on_response(self) -> bool:
        return self.require_order_correct or any(
            v is not None
            for v in (
                self.min_response_score,
                self.min_completeness,
                self.min_conciseness,
                self.min_desired_tools_used,
            )
        )

    @property
    def active(self) -> bool:
        return self.on_question or self.on_response


def _assessment(row: dict, column: str) -> dict | None:
    text = row.get(column)
    if not text:
        return None
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise Reject("bad_assessment", f"{column}: invalid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise Reject("bad_assessment", f"{column}: expected a JSON object")
    return obj


def _score(obj: dict, key: str) -> Any:
    value = obj.get(key)
    return value.get("score") if isinstance(value, dict) else value


def scores(row: dict) -> dict[str, Any]:
    """The judge scores of a row (no reasoning texts), for filtering and for record meta."""
    out: dict[str, Any] = {}
    q = _assessment(row, "question_quality_assessment")
    if q is not None:
        out["question_scores"] = {k: _score(q, k) for k in QUESTION_KEYS if k in q}
        out["question_score"] = q.get("overall_score")
    r = _assessment(row, "response_quality_assessment")
    if r is not None:
        out["response_scores"] = {
            "completeness": _score(r, "completeness"),
            "conciseness": _score(r, "conciseness"),
            "desired_tools_used_percentage": r.get("desired_tools_used_percentage"),
            "order_correctness": r.get("order_correctness"),
        }
        out["response_score"] = r.get("overall_score")
    return out


def _below(value: Any, minimum: float | None, name: str) -> str | None:
    if minimum is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return f"no_{name}"
    return f"low_{name}" if value < minimum else None


def check(row: dict, s: dict[str, Any], t: Thresholds) -> str | None:
    """The reject reason for a row whose scores ``s`` miss a threshold, else ``None``."""
    if t.on_question:
        qs = s.get("question_scores", {})
        for value, minimum, name in (
            (s.get("question_score"), t.min_question_score, "question_score"),
            (qs.get("question_quality"), t.min_question_quality, "question_quality"),
            (qs.get("scenario_realism"), t.min_scenario_realism, "scenario_realism"),
        ):
            reason = _below(value, minimum, name)
            if reason:
                return reason
    if t.on_response:
        if "response_scores" not in s:
            # The irrelevant subset has no response judge by design; elsewhere it is missing data.
            return None if row.get("subset_name") in NO_RESPONSE_JUDGE else "no_response_assessment"
        rs = s["response_scores"]
        for value, minimum, name in (
            (s.get("response_score"), t.min_response_score, "response_score"),
            (rs["completeness"], t.min_completeness, "completeness"),
            (rs["conciseness"], t.min_conciseness, "conciseness"),
            (rs["desired_tools_used_percentage"], t.min_desired_tools_used, "desired_tools_used"),
        ):
            reason = _below(value, minimum, name)
            if reason:
                return reason
        if t.require_order_correct and rs["order_correctness"] is not True:
            return "order_incorrect"
    return None
