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


_SCORE_SPLIT = b'", "score": '
_KEY_OPEN = b'": {"reasoning": "'


def _fast_judged(text: bytes) -> dict[str, Any] | None:
    """``{key: score, ...plain keys}`` of one assessment, without decoding its reasoning texts.

    The release writes each judged key as ``"key": {"reasoning": "...", "score": N}`` (json.dumps
    layout). ``", "score": `` can only be structure (a quote inside a JSON string is escaped), so
    splitting on it cuts the object right before each score: piece k starts with score k and
    then names key k+1. Anything else (another layout, a non-integer score) returns ``None`` and
    the caller parses the whole object; the reasoning texts (~25% of a row) are never decoded.
    """
    pieces = text.split(_SCORE_SPLIT)
    if len(pieces) < 2 or not pieces[0].startswith(b'{"'):
        return None
    out: dict[str, Any] = {}
    key_end = pieces[0].find(_KEY_OPEN)
    key = pieces[0][2:key_end]
    for piece in pieces[1:]:
        close = piece.find(b"}, ")
        if key_end < 0 or close < 0 or not piece[:close].isdigit():
            return None
        out[key.decode()] = int(piece[:close])
        rest = piece[close + 3 :]
        key_end = rest.find(_KEY_OPEN)
        if key_end < 0:  # the last piece: the plain keys that follow the judged ones
            try:
                plain = orjson.loads(b"{" + rest)
            except orjson.JSONDecodeError:
                return None
            return out | plain if isinstance(plain, dict) else None
        if not rest.startswith(b'"'):
            return None
        key = rest[1:key_end]
    return None


def _judged(row: dict, column: str) -> dict[str, Any] | None:
    """Scores and plain fields of an assessment column (``None`` when the column is empty)."""
    text = row.get(column)
    if not text:
        return None
    if isinstance(text, bytes):
        fast = _fast_judged(text)
        if fast is not None:
            return fast
    obj = _assessment(row, column)
    assert obj is not None
    return {k: _score(obj, k) for k in obj}


def scores(row: dict) -> dict[str, Any]:
    """The judge scores of a row (no reasoning texts), for filtering and for record meta."""
    out: dict[str, Any] = {}
    q = _judged(row, "question_quality_assessment")
    if q is not None:
        out["question_scores"] = {k: q[k] for k in QUESTION_KEYS if k in q}
        out["question_score"] = q.get("overall_score")
    r = _judged(row, "response_quality_assessment")
    if r is not None:
        out["response_scores"] = {
            "completeness": r.get("completeness"),
            "conciseness": r.get("conciseness"),
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
