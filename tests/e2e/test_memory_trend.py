"""The memory verdict by trend, end to end (issue 11, acceptance 4): real servers on
loopback, the real engine, the server's RSS read from its pid.

- a server that keeps 4 KiB per call gets `leak` (by `mcpperf memory leak-detection`, and
  by `mcpperf client ... --memory-check` on an ordinary run, which then fails);
- one that fills a fixed 50 MiB cache in its first second and then stays flat does not:
  its trend is a plateau (it still fails the seed's 10 % growth, and says why);
- the bundled server stays stable, and passes the memory check;
- in pytest, the load marker's `memory_check=True` fails a test against the leaking server
  with a message naming the leak, and the summary row shows the growth.
The test servers are `leaky_server.py` (stdlib asyncio) with `--leak-kib` / `--cache-mib`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from clirun import mcpperf

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LEAKY = Path(__file__).with_name("leaky_server.py")


def server_cmd(*args: str) -> str:
    return f"{sys.executable} {LEAKY} --port {{port}} " + " ".join(args)


def client_run(*extra: str) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """A 5 s open loop of 400 calls/s with the memory check, as JSON."""
    proc = mcpperf(
        "--json",
        "client",
        "throughput",
        "--requests-per-second",
        "400",
        "--duration-seconds",
        "5",
        "--memory-check",
        *extra,
    )
    assert proc.stdout.lstrip().startswith("{"), proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report, proc


def test_leak_detection_calls_4_kib_per_call_a_leak() -> None:
    proc = mcpperf(
        "memory",
        "leak-detection",
        "--iterations",
        "3000",
        "--json",
        "--server-cmd",
        server_cmd("--leak-kib", "4"),
    )
    memory = json.loads(proc.stdout)["memory"]
    assert memory["verdict"] == "leak", memory
    assert memory["trend"] == "rising", memory
    assert 3.5 * 1024 < memory["second_half"]["bytes_per_request"] < 5 * 1024, memory
    assert memory["reason"].startswith("RSS kept rising through the second half"), memory
    assert proc.returncode == 1


def test_a_run_against_4_kib_per_call_fails_the_memory_check_as_a_leak() -> None:
    report, proc = client_run("--server-cmd", server_cmd("--leak-kib", "4"))
    memory = report["memory"]
    assert memory["verdict"] == "leak", memory
    assert memory["first_half"]["bytes_per_request"] > 3 * 1024, memory
    assert memory["second_half"]["bytes_per_request"] > 3 * 1024, memory
    [check] = [c for c in report["criteria"] if c["name"] == "memory"]
    assert check["passed"] is False
    assert proc.returncode == 1
    assert "memory check failed: the server LEAKS memory: RSS kept rising" in proc.stderr


def test_a_cache_filled_in_the_first_second_is_a_plateau_not_a_leak() -> None:
    report, proc = client_run("--server-cmd", server_cmd("--leak-kib", "0", "--cache-mib", "50"))
    memory = report["memory"]
    assert memory["verdict"] != "leak", memory
    assert memory["trend"] == "plateau", memory
    assert memory["first_half"]["rise_bytes"] > 30 * 2**20, memory
    assert abs(memory["second_half"]["rise_bytes"]) < 2 * 2**20, memory
    assert "growth with a plateau, not a leak" in memory["reason"]
    # 50 MiB on a ~22 MiB server is far more than 10 %: the check fails, on growth alone
    assert proc.returncode == 1
    assert "memory check failed: server memory grew" in proc.stderr
    assert "LEAKS" not in proc.stderr


def test_the_bundled_server_is_stable_and_passes_the_memory_check() -> None:
    pytest.importorskip("mcpperf_server")
    report, proc = client_run("--requests-per-second", "200", "--warmup-seconds", "1")
    memory = report["memory"]
    assert memory["verdict"] == "stable", memory
    assert memory["growth_percent"] < 10.0, memory
    [check] = [c for c in report["criteria"] if c["name"] == "memory"]
    assert check["passed"] is True, memory
    assert proc.returncode == 0, proc.stderr


LEAKY_TESTS = textwrap.dedent("""
    import pytest


    @pytest.mark.load(rate=400, duration=5, tool="fast_compute", arguments={"input": 3},
                      memory_check=True)
    def test_no_leak(perf_client):
        perf_client.run()
""")


def test_the_marker_keyword_fails_a_leaking_server_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky_perf=LEAKY_TESTS)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess(
        f"--mcp-server-cmd={server_cmd('--leak-kib', '4')}",
        "--perf-report=json:r.json",
        "-p",
        "no:cacheprovider",
        timeout=120,
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "memory check failed: the server LEAKS memory: RSS kept rising" in out
    assert "criterion: no leak, growth < 10%, from marker load memory_check=10" in out
    row = next(
        line for line in result.stdout.lines if line.startswith("test_leaky_perf.py::test_no_leak ")
    )
    assert "valid, memory leak" in row or "contended, memory leak" in row, row
    [entry] = json.loads((pytester.path / "r.json").read_text())["results"]
    assert entry["memory"]["verdict"] == "leak"
    assert f"({entry['memory']['growth_percent']:+.1f}%)" in row
