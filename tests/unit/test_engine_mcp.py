from __future__ import annotations

import json

import httptools
import pytest

from pytest_mcpperf.engine.http import Endpoint, HttpTransport, Response, connect_error_code
from pytest_mcpperf.engine.mcp import McpSession, classify, transport_outcome
from pytest_mcpperf.engine.sse import SseEvent
from pytest_mcpperf.errors import RequestTimeout, ResponseTooLarge, TransportError
from pytest_mcpperf.vocabulary import (
    CLASS_NAMES,
    HTTP_ERROR,
    OK,
    PROTOCOL,
    RPC_ERROR,
    TIMEOUT,
    TOOL_ERROR,
    TRANSPORT,
)


class _Req:
    """Parse what the session encoded, with a real HTTP parser."""

    def __init__(self, data: bytes) -> None:
        self.headers: dict[str, str] = {}
        self.body = b""
        self.done = False
        p = httptools.HttpRequestParser(self)
        p.feed_data(data)
        self.method = p.get_method().decode()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


def _session(era: str) -> McpSession:
    s = McpSession(HttpTransport("http://127.0.0.1:9/mcp"))
    s.era = era
    s.protocol_version = "2026-07-28" if era == "modern" else "2025-11-25"
    s.session_id = "abc" if era == "legacy" else None
    return s


@pytest.mark.parametrize("rid", [1, 9, 10, 12345, 10**12])
def test_encoded_modern_call_is_exact(rid: int) -> None:
    s = _session("modern")
    i = s.add_call("fast_compute", {"input": 5, "note": "100%"})
    req = _Req(s.encode_call(i, rid))
    assert req.done
    assert req.method == "POST"
    assert int(req.headers["content-length"]) == len(req.body)
    assert req.headers["mcp-method"] == "tools/call"
    assert req.headers["mcp-name"] == "fast_compute"
    assert req.headers["mcp-protocol-version"] == "2026-07-28"
    assert "mcp-session-id" not in req.headers
    msg = json.loads(req.body)
    assert msg["id"] == rid
    assert msg["params"]["arguments"] == {"input": 5, "note": "100%"}
    assert msg["params"]["_meta"] == {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }


def test_encoded_legacy_call_carries_session() -> None:
    s = _session("legacy")
    req = _Req(s.encode_call(s.add_call("t", {}), 3))
    assert req.headers["mcp-session-id"] == "abc"
    assert req.headers["mcp-protocol-version"] == "2025-11-25"
    assert "_meta" not in json.loads(req.body)["params"]


def _json(obj: dict[str, object], status: int = 200) -> Response:
    return Response(status, {}, json.dumps({"jsonrpc": "2.0", **obj}).encode(), None)


def test_classify() -> None:
    assert classify(_json({"id": 4, "result": {"content": []}}), 4).kind == OK
    assert classify(_json({"id": 4, "result": {"isError": True}}), 4).kind == TOOL_ERROR
    rpc = classify(_json({"id": 4, "error": {"code": -32602}}), 4)
    assert (rpc.kind, rpc.code) == (RPC_ERROR, "-32602")
    http = classify(Response(503, {}, b"", None), 4)
    assert (http.kind, http.code) == (HTTP_ERROR, "503")
    wrong = classify(_json({"id": 5, "result": {}}), 4)
    assert (wrong.kind, wrong.code) == (PROTOCOL, "wrong_id")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"not json", "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"id": 4, "result": {}}', "no_jsonrpc"),
        (b'{"jsonrpc": "2.0", "id": 4}', "no_result"),
        (b'{"jsonrpc": "2.0", "id": "4", "result": {}}', "wrong_id"),
    ],
)
def test_a_json_rpc_breach_is_a_protocol_error_with_its_rule(body: bytes, code: str) -> None:
    outcome = classify(Response(200, {}, body, None), 4)
    assert (CLASS_NAMES[outcome.kind], outcome.code) == ("protocol", code)


def test_an_event_stream_without_the_answer_is_a_protocol_error() -> None:
    note = SseEvent('{"jsonrpc":"2.0","method":"notifications/progress"}')
    outcome = classify(Response(200, {}, b"", [note]), 4)
    assert (outcome.kind, outcome.code) == (PROTOCOL, "no_response_for_id")


def test_classify_sse_matches_the_id_past_notifications() -> None:
    events = [
        SseEvent('{"method":"notifications/progress","params":{}}'),
        SseEvent('{"jsonrpc":"2.0","id":3,"result":{"isError":true}}'),
        SseEvent("not json"),
        SseEvent('{"jsonrpc":"2.0","id":4,"result":{}}'),
    ]
    assert classify(Response(200, {}, b"", events), 4).kind == OK
    assert classify(Response(200, {}, b"", events), 3).kind == TOOL_ERROR


def test_transport_outcomes_come_from_the_error_type_not_its_text() -> None:
    assert transport_outcome(RequestTimeout()).kind == TIMEOUT
    o = transport_outcome(TransportError("refused", "a message that says reset"))
    assert (o.kind, o.code) == (TRANSPORT, "refused")
    assert transport_outcome(TransportError("bad_http")).code == "bad_http"
    big = transport_outcome(ResponseTooLarge("body"))
    assert (CLASS_NAMES[big.kind], big.code) == ("too_large", "body")


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (ConnectionRefusedError(), "refused"),
        (TimeoutError(), "connect_timeout"),
        (ConnectionResetError(), "reset"),
        (OSError("no route"), "os_error"),
    ],
)
def test_connect_errors_get_a_stable_code(exc: BaseException, code: str) -> None:
    assert connect_error_code(exc) == code


def test_endpoint_parse() -> None:
    e = Endpoint.parse("https://example.test/a/mcp?x=1")
    assert (e.host, e.port, e.path, e.tls, e.host_header) == (
        "example.test",
        443,
        "/a/mcp?x=1",
        True,
        "example.test",
    )
    with pytest.raises(ValueError, match="not an http"):
        Endpoint.parse("ftp://x")
