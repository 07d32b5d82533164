"""`mcpperf` end to end: errors and exit codes, every client subcommand against the bundled
server, and a spawned `--server-cmd` (the official SDK's server)."""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from test_engine_peers import BENCH, _need
from test_engine_raw_server import RawMcpServer

from pytest_mcpperf import cli, settings
from pytest_mcpperf.target import SpawnedServer

pytestmark = pytest.mark.e2e


def test_text_block(capsys: pytest.CaptureFixture[str]) -> None:
    with RawMcpServer() as srv:
        rc = cli.main(
            [
                "client",
                "--server-url",
                srv.url,
                "throughput",
                "--requests-per-second",
                "200",
                "--duration-seconds",
                "1.5",
            ]
        )
    out, err = capsys.readouterr()
    assert rc == 0
    assert out.startswith("=== Performance Test Results ===\n")
    assert "Requests sent: 300\n" in out
    assert "Requests completed: 300 (100.0%)" in out
    assert "Send rate: 300.0/s" not in out
    assert "of 200/s targeted" in out
    assert "Generator: valid" in out
    # stderr is not a terminal: a progress line every 10 s, so none in 1.5 s
    assert "mcpperf client throughput:" not in err


def test_json_is_the_report_only(capsys: pytest.CaptureFixture[str]) -> None:
    with RawMcpServer(legacy=True) as srv:
        rc = cli.main(
            [
                "--json",
                "client",
                "concurrent",
                "--server-url",
                srv.url,
                "--concurrency",
                "3",
                "--duration-seconds",
                "1",
            ]
        )
    out, _ = capsys.readouterr()
    report = json.loads(out)
    assert rc == 0
    assert report["schema"] == "mcpperf/1"
    assert report["pattern"] == "concurrent"
    assert report["requests"]["failed"] == 0
    assert report["config"]["users"] == 3


def test_errors_over_one_percent_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with RawMcpServer() as srv:
        rc = cli.main(
            [
                "client",
                "throughput",
                "--server-url",
                srv.url,
                "--tool",
                "fail",
                "--requests-per-second",
                "100",
                "--duration-seconds",
                "0.5",
            ]
        )
    out, _ = capsys.readouterr()
    assert rc == 1
    assert "tool_error: 50 (isError 50)" in out  # each class with its codes


SUBCOMMANDS = [["client", "throughput"], ["stress", "memory"], ["memory", "baseline"]]


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/mcp"


def _mcpperf(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_mcpperf.cli", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", "invalid MCP URL 'notaurl' from --server-url: expected http://HOST:PORT/PATH"),
        (None, "cannot reach the MCP server at "),
    ],
    ids=["bad-url", "unreachable"],
)
def test_setup_errors_exit_2_with_one_clean_line(
    command: list[str], url: str | None, message: str
) -> None:
    proc = _mcpperf(*command, "--server-url", url or _closed_port_url(), "--duration-seconds", "1")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith(f"mcpperf: error: {message}")
    assert "--mcp-url" not in proc.stderr
    assert "--server-url" in proc.stderr


def test_a_server_that_crashes_at_startup_exits_2() -> None:
    crash = f"{sys.executable} -c \"import sys; print('bad config'); sys.exit(3)\""
    proc = _mcpperf("client", "throughput", "--server-cmd", crash, "--duration-seconds", "1")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    first, *output = proc.stderr.splitlines()
    assert first.startswith("mcpperf: error: server command ")
    assert first.endswith("exited with status 3 before it accepted connections.")
    assert "bad config" in output  # the server's own output follows the error line


@pytest.mark.parametrize("command", SUBCOMMANDS, ids=" ".join)
@pytest.mark.parametrize("value", ["inf", "nan", "-1", "abc"])
def test_bad_durations_are_refused_as_the_pytest_option_refuses_them(
    command: list[str], value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setting = next(s for s in settings.SETTINGS if s.name == "duration")
    with pytest.raises(argparse.ArgumentTypeError) as pytest_error:
        settings.cli_type(setting)(value)
    with pytest.raises(SystemExit) as exc:
        cli.main([*command, "--duration-seconds", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    said = err.splitlines()[-1].split("argument --duration-seconds: ", 1)[1]
    assert said == str(pytest_error.value).replace("--perf-duration", "--duration-seconds")


# -- every client subcommand against the bundled server -------------------------------
@pytest.fixture(scope="module")
def bundled() -> Iterator[SpawnedServer]:
    pytest.importorskip("mcpperf_server")
    with SpawnedServer(startup_timeout_s=30.0) as server:
        yield server


@pytest.mark.parametrize(
    "argv",
    [
        ["throughput", "--requests-per-second", "200"],
        ["latency", "--io-delay-ms", "20", "--requests-per-second", "50"],
        ["stress", "--computation-size", "10", "--requests-per-second", "50"],
        ["memory", "--mb-per-request", "1", "--requests-per-second", "10"],
        ["burst", "--burst-size", "20", "--burst-interval-seconds", "0.5"],
        ["concurrent", "--concurrency", "4"],
    ],
)
def test_every_client_subcommand(
    bundled: SpawnedServer, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    rc = cli.main(
        ["client", *argv, "--server-url", bundled.url, "--duration-seconds", "1", "--json"]
    )
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert rc == 0, report["errors_by_code"]
    assert report["requests"]["failed"] == 0
    assert report["requests"]["ok"] > 0


def test_spawns_the_bundled_server_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("mcpperf_server")
    rc = cli.main(
        [
            "client",
            "memory",
            "--mb-per-request",
            "1",
            "--requests-per-second",
            "20",
            "--duration-seconds",
            "1",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["target"]["pid"] > 0
    assert report["server"]["rss_mb"]["peak"] > 10
    assert report["memory"]["verdict"] in ("stable", "moderate", "leak")


def test_client_spawns_server_cmd(capsys: pytest.CaptureFixture[str]) -> None:
    import json
    import shlex

    from pytest_mcpperf import cli

    script = BENCH / "sdk_server.py"
    _need(script)
    pytest.importorskip("mcp")
    cmd = shlex.join([sys.executable, str(script), "{port}", "stateless-json"])
    rc = cli.main(
        [
            "client",
            "throughput",
            "--server-cmd",
            cmd,
            "--requests-per-second",
            "50",
            "--duration-seconds",
            "1",
            "--json",
        ]
    )
    report = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert report["requests"]["ok"] == 50
    assert report["target"]["pid"] > 0
    assert report["server"]["rss_mb"]["peak"] > 10
