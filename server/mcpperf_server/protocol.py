"""Wire-level constants and JSON-RPC helpers shared by both protocol eras.

Encoding is done with the stdlib `json` module and a few pre-encoded byte strings, so the
hot path builds a response with one `json.dumps` of the result and two concatenations.
"""

from __future__ import annotations

import json
from typing import Any, Final

MODERN_VERSION: Final = "2026-07-28"
MODERN_VERSIONS: Final = (MODERN_VERSION,)
LEGACY_VERSIONS: Final = ("2025-11-25", "2025-06-18", "2025-03-26")
NEWEST_LEGACY: Final = LEGACY_VERSIONS[0]
SUPPORTED_VERSIONS: Final = (*MODERN_VERSIONS, *LEGACY_VERSIONS)

META_VERSION: Final = "io.modelcontextprotocol/protocolVersion"
META_CAPS: Final = "io.modelcontextprotocol/clientCapabilities"
META_SERVER_INFO: Final = "io.modelcontextprotocol/serverInfo"
META_SUBSCRIPTION: Final = "io.modelcontextprotocol/subscriptionId"

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
SERVER_BUSY: Final = -32000
SIMULATED_ERROR: Final = -32001
SESSION_ERROR: Final = -32002
REQUEST_CANCELLED: Final = -32800
HEADER_MISMATCH: Final = -32020
UNSUPPORTED_VERSION: Final = -32022

SERVER_NAME: Final = "mcpperf-server"

JsonId = str | int | None
Json = dict[str, Any]

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode


class RpcError(Exception):
    """A JSON-RPC error to send back, with the HTTP status it travels under.

    `headers` carries extra HTTP headers (e.g. Retry-After on a 503).
    """

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: int = 200,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = data
        self.headers = headers or {}

    def to_body(self, msg_id: JsonId) -> bytes:
        error: Json = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return encode({"jsonrpc": "2.0", "id": msg_id, "error": error})


def busy(message: str, retry_after_s: int = 1) -> RpcError:
    """A prompt refusal at a budget or cap: HTTP 503 + Retry-After + JSON-RPC -32000."""
    return RpcError(SERVER_BUSY, message, status=503, headers={"Retry-After": str(retry_after_s)})


def encode(obj: Any) -> bytes:
    return _dumps(obj).encode()


def encode_id(msg_id: JsonId) -> bytes:
    """A request id as JSON; integers (the common case) skip the encoder."""
    return str(msg_id).encode() if type(msg_id) is int else encode(msg_id)


def result_body(msg_id: JsonId, result: Json) -> bytes:
    """`{"jsonrpc":"2.0","id":ID,"result":RESULT}` built by concatenation."""
    return b'{"jsonrpc":"2.0","id":' + encode_id(msg_id) + b',"result":' + encode(result) + b"}"


def notification(method: str, params: Json) -> Json:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def sse_event(message: Json) -> bytes:
    return b"event: message\ndata: " + encode(message) + b"\n\n"


def sse_raw(body: bytes) -> bytes:
    return b"event: message\ndata: " + body + b"\n\n"
