"""Headers and auth: a server that demands a bearer token, loaded with the token taken
from an environment variable, through the engine, the pytest options and the command.

The token's value must appear nowhere: not in the JSON report, the terminal output or a
failure message. Without the header, setup fails at once and names the header option.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.errors import ConfigError, TargetError
from pytest_mcpperf.spec import LoadSpec

pytestmark = pytest.mark.e2e

TOKEN = "s3cret-Tok3n-4c1d"  # the secret the tests hunt for in the output
REPO = Path(__file__).resolve().parents[2]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, b'{"error":"unauthorized"}', {"WWW-Authenticate": "Bearer"})
            return
        msg = json.loads(body)
        if "id" not in msg:
            self._send(202, b"")
            return
        method = msg["method"]
        result: dict[str, Any]
        if method == "initialize":
            result = {
                "protocolVersion": "2025-11-25",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bearer", "version": "1"},
            }
        elif method == "tools/list":  # echo, and the seed's tools for `mcpperf stress`
            names = ("echo", "fast_compute", "cpu_intensive")
            result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names]}
        elif method == "tools/call":
            result = {"content": [{"type": "text", "text": "ok"}]}
        else:
            err = {"code": -32601, "message": "no"}
            self._send(200, json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": err}).encode())
            return
        self._send(200, json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}).encode())

    def do_DELETE(self) -> None:
        self._send(405, b"")

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def bearer_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    finally:
        server.shutdown()
        server.server_close()


def _spec(url: str, **kw: Any) -> LoadSpec:
    base: dict[str, Any] = {"tool": "echo", "rate": 100.0, "duration_s": 1.0, "concurrency": 4}
    return LoadSpec(url=url, **{**base, **kw})


def test_engine_with_the_token_from_the_environment(
    bearer_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCP_TOKEN", TOKEN)
    result = run(_spec(bearer_url, headers={"Authorization": "Bearer ${MCP_TOKEN}"}))
    assert result.requests.ok == 100
    assert result.requests.failed == 0
    assert TOKEN not in json.dumps(result.to_dict())
    assert result.report["config"]["headers"] == {"Authorization": "<redacted>"}


def test_engine_without_the_header_fails_at_once_naming_the_option(bearer_url: str) -> None:
    t0 = time.monotonic()
    expected = r"HTTP 401: the server requires authentication.*LoadSpec.headers"
    with pytest.raises(TargetError, match=expected):
        run(_spec(bearer_url, duration_s=30.0))
    assert time.monotonic() - t0 < 3.0


def test_an_unset_variable_is_named_not_guessed(bearer_url: str) -> None:
    os.environ.pop("MCPPERF_TEST_UNSET", None)
    with pytest.raises(ConfigError, match=r"\$\{MCPPERF_TEST_UNSET\}.*not set"):
        run(_spec(bearer_url, headers={"Authorization": "Bearer ${MCPPERF_TEST_UNSET}"}))


def test_pytest_and_cli_never_show_the_token(bearer_url: str, pytester: pytest.Pytester) -> None:
    env = {**os.environ, "MCP_TOKEN": TOKEN}
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.load(rate=100, duration=1, tool="echo", thresholds=["p50<0.0001ms"])
            def test_auth(perf_client):
                perf_client.run()
            """
        )
    )
    args = ["--mcp-url", bearer_url, "--perf-report=json:r.json", "-p", "no:cacheprovider"]
    header = ["--mcp-header", "Authorization: Bearer ${MCP_TOKEN}"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MCP_TOKEN", TOKEN)
        ok = pytester.runpytest_subprocess(*args, *header, timeout=120)
        ok.assert_outcomes(failed=1)  # the impossible threshold: a failure message is shown
        written = (pytester.path / "r.json").read_text()
        missing = pytester.runpytest_subprocess(*args, timeout=120)
    text = ok.stdout.str() + ok.stderr.str() + written
    assert TOKEN not in text
    assert "headers Authorization" in text
    assert json.loads(written)["results"][0]["requests"]["ok"] == 100
    assert "--mcp-header" in missing.stdout.str()
    assert "401" in missing.stdout.str()

    cli = [sys.executable, "-m", "pytest_mcpperf.cli", "client", "throughput"]
    cli += ["--server-url", bearer_url, "--tool", "echo", "--requests-per-second", "100"]
    cli += ["--duration-seconds", "1"]
    for extra in (["--json"], []):
        out = subprocess.run(
            [*cli, "--header", "Authorization: Bearer ${MCP_TOKEN}", *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=REPO,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert TOKEN not in out.stdout + out.stderr
    refused = subprocess.run(
        cli, capture_output=True, text=True, timeout=60, env=env, cwd=REPO, check=False
    )
    assert refused.returncode != 0
    assert "--header" in refused.stderr


def test_cli_stress_with_the_token_from_the_environment(bearer_url: str) -> None:
    """`mcpperf stress cpu --header ...` sends the header on the stress and the probes;
    the token never shows, in the text block or the JSON."""
    env = {**os.environ, "MCP_TOKEN": TOKEN}
    cli = [sys.executable, "-m", "pytest_mcpperf.cli", "stress", "cpu", "--server-url", bearer_url]
    cli += ["--header", "Authorization: Bearer ${MCP_TOKEN}", "--max-concurrent", "4"]
    cli += ["--computation-size", "10", "--duration-seconds", "1", "--baseline-intervals", "1"]
    cli += ["--hold-intervals", "1", "--probe-interval-seconds", "0.5"]
    cli += ["--recovery-timeout-seconds", "5"]
    for extra in (["--json"], []):
        out = subprocess.run(
            [*cli, *extra],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            cwd=REPO,
            check=False,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        assert TOKEN not in out.stdout + out.stderr
        if extra:
            stress = json.loads(out.stdout)["stress"]
            assert stress["expected"]["ok"] > 0
            assert stress["expected"]["failed"] == 0
            assert stress["server_alive"] is True
        else:
            assert "Overall Reliability Score: 100.00%" in out.stdout
