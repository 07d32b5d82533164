"""`mcpperf client` end to end against a raw test server on loopback."""

from __future__ import annotations

import json
import re

import pytest
from test_engine_raw_server import RawMcpServer

from pytest_mcpperf import cli

pytestmark = pytest.mark.e2e


def test_text_block(capsys: pytest.CaptureFixture[str]) -> None:
    with RawMcpServer() as srv:
        rc = cli.main(["client", "--server-url", srv.url, "throughput",
                       "--requests-per-second", "200", "--duration-seconds", "1.5"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert out.startswith("=== Performance Test Results ===\n")
    assert "Requests sent: 300\n" in out
    assert "Requests completed: 300 (100.0%)" in out
    assert "Send rate: 300.0/s" not in out
    assert "of 200/s targeted" in out
    assert "Generator: valid" in out
    # one progress line a second; the tick may land a request or two off the plan
    first = re.search(r"\[\s*1\.\ds\] sent (\d+) ", err)
    assert first is not None, err
    assert 180 <= int(first.group(1)) <= 220


def test_json_is_the_report_only(capsys: pytest.CaptureFixture[str]) -> None:
    with RawMcpServer(legacy=True) as srv:
        rc = cli.main(["--json", "client", "concurrent", "--server-url", srv.url,
                       "--concurrency", "3", "--duration-seconds", "1"])
    out, _ = capsys.readouterr()
    report = json.loads(out)
    assert rc == 0
    assert report["schema"] == "mcpperf/1"
    assert report["pattern"] == "concurrent"
    assert report["requests"]["failed"] == 0
    assert report["config"]["users"] == 3


def test_errors_over_one_percent_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with RawMcpServer() as srv:
        rc = cli.main(["client", "throughput", "--server-url", srv.url, "--tool", "fail",
                       "--requests-per-second", "100", "--duration-seconds", "0.5"])
    out, _ = capsys.readouterr()
    assert rc == 1
    assert "errors: tool_error 50" in out


def test_unreachable_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    with RawMcpServer() as srv:
        url = srv.url
    rc = cli.main(["client", "throughput", "--server-url", url, "--duration-seconds", "1"])
    assert rc == 1
    assert "cannot start an MCP session" in capsys.readouterr().err
