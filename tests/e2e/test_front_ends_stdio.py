"""The pytest options and the `mcpperf` command over stdio, against `stdio_server.py`."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from clirun import json_report, mcpperf

pytestmark = pytest.mark.e2e

SERVER = Path(__file__).with_name("stdio_server.py")


def test_pytest_over_stdio_with_a_mix_of_request_kinds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest

            @pytest.mark.load(rate=100, duration=1, tool="echo")
            def test_tool(perf_client, mcp_server):
                result = perf_client.run()
                assert result.requests.ok == 100
                assert result.target.url.startswith("stdio:")

            @pytest.mark.load(rate=100, duration=1, mix=[
                ("echo", {}, 1),
                {"method": "resources/read", "params": {"uri": "mem://a"}, "weight": 1},
                ("prompts/get", {"name": "hello"}, 1),
            ])
            def test_mix(perf_client):
                result = perf_client.run()
                assert result.requests.failed == 0
                assert set(result.report["per_tool"]) == {
                    "echo", "resources/read mem://a", "prompts/get hello"}
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "--mcp-transport",
        "stdio",
        "--mcp-server-cmd",
        f"{sys.executable} {SERVER}",
        "-p",
        "no:cacheprovider",
        timeout=120,
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*transport stdio*", "*resources/read mem://a*"])


def test_cli_client_over_stdio_and_preflight() -> None:
    base = ["client", "throughput"]
    stdio = ["--transport", "stdio", "--server-cmd", f"{sys.executable} {SERVER}"]
    ok = mcpperf(
        *base,
        *stdio,
        *("--tool", "echo", "--requests-per-second", "100", "--duration-seconds", "1", "--json"),
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    report = json_report(ok)
    assert report["requests"]["ok"] == 100
    assert report["target"]["transport"] == "stdio"
    assert report["server"]["rss_mb"]["peak"] > 0
    bad = mcpperf(*base, *stdio, "--tool", "nope", "--duration-seconds", "60", timeout=30)
    assert bad.returncode == 2
    assert "no tool 'nope'" in bad.stderr
    assert "echo" in bad.stderr


def test_stress_check_probes_a_stdio_server_the_way_the_test_reaches_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            import pytest
            from pytest_mcpperf.analysis.stress import ProbePolicy

            QUICK = ProbePolicy(baseline_intervals=1, hold_intervals=1, timeout_s=10.0,
                                interval_s=0.5)

            @pytest.mark.load(pattern="concurrent", users=2, concurrency=2, duration=1,
                              tool="echo")
            def test_stress(perf_client, stress_check):
                result = stress_check(lambda: perf_client.run(), policy=QUICK)
                assert result.stress.server_alive
                assert result.stress.reliability_percent >= 99
                assert result.stress.recovery_s is not None
                assert result.target.url.startswith("stdio:")
            """
        )
    )
    result = pytester.runpytest_subprocess(
        "--mcp-transport",
        "stdio",
        "--mcp-server-cmd",
        f"{sys.executable} {SERVER} --seed-tools",
        "-p",
        "no:cacheprovider",
        timeout=120,
    )
    result.assert_outcomes(passed=1)


def test_cli_mix_of_request_kinds_over_stdio() -> None:
    mix = '[["echo", {}, 1], {"method": "resources/read", "params": {"uri": "mem://a"}}]'
    proc = mcpperf(
        *("client", "throughput"),
        *("--transport", "stdio", "--server-cmd", f"{sys.executable} {SERVER}"),
        *("--mix", mix, "--requests-per-second", "100", "--duration-seconds", "1", "--json"),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    report = json_report(proc)
    assert report["requests"]["ok"] == 100
    assert set(report["per_method"]) == {"tools/call", "resources/read"}
    assert all(m["ok"] > 20 for m in report["per_method"].values())
