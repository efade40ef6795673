"""The OpenAI-compatible backend against a small chat-completions server started in the test:
it replays the oracle's turns as native ``tool_calls``, concurrently, with a bearer key."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ajtrain.eval import EvalConfig, evaluate
from ajtrain.eval.backends import EndpointError
from ajtrain.shutdown.benchmark import build_benchmark
from ajtrain.shutdown.policies import Expert

KEY = "sk-test-123"


class OracleServer(ThreadingHTTPServer):
    """POST /v1/chat/completions: finds the scenario by its opening turns and answers as the oracle."""

    daemon_threads = True

    def __init__(self, break_every: int = 0):
        super().__init__(("127.0.0.1", 0), Handler)
        self.by_opening = {}
        for s in build_benchmark():
            opening = [*s.history, {"role": "user", "content": s.request}]
            self.by_opening[json.dumps([m.get("content") for m in opening])] = s
        self.lock = threading.Lock()
        self.requests = 0
        self.break_every = break_every  # every Nth call gets malformed arguments
        self.max_in_flight = self.in_flight = 0
        self.refuse = ""  # answer every request with HTTP 400 and this message
        self.failures: list[str] = []  # the next requests: "503" or "drop" (no reply at all)

    def answer(self, body: dict) -> dict:
        msgs = body["messages"]
        for end in range(2, len(msgs) + 1):
            key = json.dumps([m.get("content") for m in msgs[1:end]])
            if key in self.by_opening:
                scenario = self.by_opening[key]
                break
        else:
            raise KeyError("no scenario starts like this conversation")
        for m in msgs:  # the wire form carries arguments as JSON strings, as OpenAI does
            for c in m.get("tool_calls") or []:
                assert isinstance(c["function"]["arguments"], str)
        try:
            reply = Expert().start(scenario)(msgs)
        except (KeyError, IndexError):  # the oracle cannot read its own broken call back
            reply = {"content": "Something went wrong."}
        with self.lock:
            self.requests += 1
            n = self.requests
        calls = [
            {"id": f"srv_{n}_{i}", "type": "function",
             "function": {**c["function"], "arguments": "{bad" if self.break_every and n % self.break_every == 0
                          else c["function"]["arguments"]}}
            for i, c in enumerate(reply.get("tool_calls") or [])
        ]  # fmt: skip
        message = {"role": "assistant", "content": reply.get("content") or None}
        if calls:
            message["tool_calls"] = calls
        finish = "tool_calls" if calls else "stop"
        return {"object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}]}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        srv: OracleServer = self.server  # type: ignore[assignment]
        if self.path != "/v1/chat/completions":
            return self._send(404, {"error": "not found"})
        if self.headers.get("Authorization") != f"Bearer {KEY}":
            return self._send(401, {"error": "bad key"})
        if srv.refuse:
            return self._send(400, {"error": srv.refuse})
        with srv.lock:
            failure = srv.failures.pop(0) if srv.failures else ""
        if failure == "503":
            return self._send(503, {"error": "overloaded"})
        if failure == "drop":  # the connection closes mid-request: no status line, no body
            self.close_connection = True
            return None
        if failure == "slow":  # answers after the client's timeout
            time.sleep(1.0)
        with srv.lock:
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            assert body["tools"] and body["tools"][0]["type"] == "function"
            self._send(200, srv.answer(body))
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _send(self, code: int, obj: dict) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    def start(**kw):
        srv = OracleServer(**kw)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"

    servers: list[OracleServer] = []
    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def cfg(url: str, out, **kw) -> EvalConfig:
    return EvalConfig(model="openai:oracle-replay", base_url=url, api_key_env="AJ_TEST_KEY",
                      out=str(out), concurrency=6, charts=False, **kw)  # fmt: skip


def test_endpoint_run_scores_like_the_oracle(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AJ_TEST_KEY", KEY)
    srv, url = server()
    m = evaluate(cfg(url, tmp_path), progress=False)
    assert m["model"] == "openai:oracle-replay" and m["episodes"] >= 300
    assert m["safe_success"] == 1.0 and m["wrong_target_rate"] == 0.0 and m["parse_errors"] == 0
    assert srv.requests > m["episodes"] and srv.max_in_flight > 1  # concurrent requests


def test_malformed_native_arguments_are_counted(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AJ_TEST_KEY", KEY)
    _, url = server(break_every=3)
    m = evaluate(cfg(url, tmp_path, limit=15), progress=False)
    assert m["parse_errors"] > 0 and m["episodes"] == 15


def test_wrong_key_or_url_is_a_clean_error(server, tmp_path, monkeypatch):
    monkeypatch.setenv("AJ_TEST_KEY", "wrong")
    _, url = server()
    with pytest.raises(EndpointError, match="HTTP 401"):
        evaluate(cfg(url, tmp_path, limit=2), progress=False)
    monkeypatch.setenv("AJ_TEST_KEY", KEY)
    with pytest.raises(EndpointError, match="HTTP 404"):
        evaluate(cfg(url.removesuffix("/v1"), tmp_path, limit=2), progress=False)
    srv, url = server()
    srv.refuse = '"auto" tool choice requires --enable-auto-tool-choice'
    with pytest.raises(EndpointError, match="HTTP 400.*tool-call-parser"):
        evaluate(cfg(url, tmp_path, limit=2), progress=False)
    srv.refuse = "This model's maximum context length is 4096 tokens"  # the episode's problem
    m = evaluate(cfg(url, tmp_path, limit=3), progress=False)
    assert m["truncated"] == 3 and m["parse_errors"] == 3
    with pytest.raises(EndpointError, match="--base-url"):
        evaluate(cfg("", tmp_path, limit=2), progress=False)


def test_overload_and_dropped_connections_are_retried(server, tmp_path, monkeypatch):
    from ajtrain.eval.backends import OpenAIBackend

    monkeypatch.setenv("AJ_TEST_KEY", KEY)
    monkeypatch.setattr(OpenAIBackend, "BACKOFF_S", 0.0)
    srv, url = server()
    srv.failures = ["503", "drop"]  # fewer than the tries of any one request
    m = evaluate(cfg(url, tmp_path, limit=4), progress=False)
    assert not srv.failures and m["safe_success"] == 1.0 and m["truncated"] == 0
    srv.failures = ["slow"]  # a reply later than --timeout-s is tried again
    m = evaluate(cfg(url, tmp_path, limit=1, timeout_s=0.3), progress=False)
    assert not srv.failures and m["safe_success"] == 1.0
    srv.failures = ["503"] * 3  # every try of one request fails: a setup problem, said plainly
    with pytest.raises(EndpointError, match="no answer after 3 tries.*HTTP 503"):
        evaluate(cfg(url, tmp_path, limit=1), progress=False)
