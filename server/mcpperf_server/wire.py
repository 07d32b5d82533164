"""The wire layer shared by every handler: header access, one JSON-RPC message, the era
rules for 2026-07-28 headers, and the response shapes (JSON, 202, errors)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from quart import Response, request

from .protocol import (
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    META_CAPS,
    META_VERSION,
    MODERN_VERSIONS,
    PARSE_ERROR,
    SUPPORTED_VERSIONS,
    UNSUPPORTED_VERSION,
    Json,
    JsonId,
    RpcError,
)

JSON = "application/json"
SSE_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}
SESSION_HEADER = "Mcp-Session-Id"


def accepted() -> Response:
    """202 with no body: the answer to an accepted notification (a fresh object each time:
    Quart responses are mutable)."""
    return Response(b"", status=202)


class Headers:
    """The request's headers as one dict built from the ASGI scope: O(1) lookups by the
    lower-case names servers deliver (werkzeug's Headers scans a list per lookup)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._raw = dict(raw)

    def get(self, name: bytes) -> str | None:
        value = self._raw.get(name)
        return None if value is None else value.decode("latin-1")


H_HOST, H_ORIGIN, H_VERSION = b"host", b"origin", b"mcp-protocol-version"
H_METHOD, H_NAME, H_SESSION = b"mcp-method", b"mcp-name", b"mcp-session-id"


def request_headers() -> Headers:
    return Headers(request.scope["headers"])


class Message:
    """One parsed JSON-RPC message: method, id (None for a notification), params."""

    __slots__ = ("has_id", "id", "method", "params")

    def __init__(self, raw: Any) -> None:
        if isinstance(raw, list):
            raise RpcError(
                INVALID_REQUEST,
                "JSON-RPC batches are not supported: send one message per POST",
                status=400,
            )
        if not isinstance(raw, dict) or raw.get("jsonrpc") != "2.0":
            raise RpcError(
                INVALID_REQUEST,
                'not a JSON-RPC 2.0 message: send an object with "jsonrpc": "2.0" and a "method"',
                status=400,
            )
        method = raw.get("method")
        if not isinstance(method, str):
            raise RpcError(INVALID_REQUEST, "a client message needs a string 'method'", status=400)
        self.method = method
        self.has_id = "id" in raw
        msg_id = raw.get("id")
        if self.has_id and (type(msg_id) not in (str, int)):
            raise RpcError(
                INVALID_REQUEST,
                "request id must be a string or an integer (null is not allowed)",
                status=400,
            )
        self.id: JsonId = msg_id
        params = raw.get("params")
        if params is None:
            params = {}
        elif not isinstance(params, dict):
            raise RpcError(INVALID_PARAMS, "'params' must be an object", status=400)
        self.params: Json = params


def parse(body: bytes) -> Message:
    try:
        raw = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise RpcError(
            PARSE_ERROR, f"Parse error: {type(exc).__name__}: {exc}"[:200], status=400
        ) from None
    return Message(raw)


def error_response(err: RpcError, msg_id: JsonId = None) -> Response:
    return Response(err.to_body(msg_id), status=err.status, headers=err.headers, content_type=JSON)


def json_response(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, content_type=JSON, headers=headers)


def _decode_name(value: str) -> str:
    if value.startswith("=?base64?") and value.endswith("?="):
        try:
            return base64.b64decode(value[9:-2], validate=True).decode()
        except ValueError:
            return "\0invalid"
    return value


def check_modern_headers(msg: Message, headers: Headers) -> str:
    """2026-07-28 rules: `_meta` present (-32602), headers match the body (-32020)."""
    meta = msg.params.get("_meta")
    if not isinstance(meta, dict) or META_VERSION not in meta or META_CAPS not in meta:
        raise RpcError(
            INVALID_PARAMS,
            f"2026-07-28 requests need params._meta with '{META_VERSION}' and '{META_CAPS}'",
            status=400,
        )
    version = meta[META_VERSION]
    header = headers.get(H_VERSION)
    if header != version:
        raise _mismatch("MCP-Protocol-Version", header, version)
    if version not in MODERN_VERSIONS:
        raise unsupported(version)
    method = headers.get(H_METHOD)
    if method != msg.method:
        raise _mismatch("Mcp-Method", method, msg.method)
    if msg.method in ("tools/call", "prompts/get", "resources/read"):
        name = msg.params.get("uri" if msg.method == "resources/read" else "name")
        got = headers.get(H_NAME)
        if got is None or _decode_name(got) != name:
            raise _mismatch("Mcp-Name", got, name)
    return str(version)


def _mismatch(header: str, got: Any, body: Any) -> RpcError:
    if got is None:
        return RpcError(
            HEADER_MISMATCH,
            f"Header mismatch: required header {header} is missing; send {header}: {body}",
            status=400,
        )
    return RpcError(
        HEADER_MISMATCH,
        f"Header mismatch: {header} header value {got!r} does not match body value {body!r}",
        status=400,
    )


def unsupported(version: Any) -> RpcError:
    return RpcError(
        UNSUPPORTED_VERSION,
        f"Unsupported protocol version {version!r}; use one of {', '.join(SUPPORTED_VERSIONS)}",
        status=400,
        data={"supported": list(SUPPORTED_VERSIONS), "requested": version},
    )
