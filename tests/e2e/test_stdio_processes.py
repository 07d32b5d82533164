"""Several copies of a stdio server, and the report's word on a server that answered one
request at a time; `mcpperf stress` and `mcpperf memory` over stdio.

`stdio_server.py --serial --delay-ms D` serves tools/call one at a time, each D ms: one
copy answers about 1000/D per second however many users wait, and four copies about
four times that. Every test is bounded (a few seconds of load).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from clirun import mcpperf

from pytest_mcpperf.engine.report import text_block
from pytest_mcpperf.engine.runner import run
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.spec import LoadSpec
from pytest_mcpperf.target import Target

pytestmark = pytest.mark.e2e

SERVER = str(Path(__file__).with_name("stdio_server.py"))
REPO = Path(__file__).resolve().parents[2]
D_MS = 20.0


def _closed_loop(target: Target, processes: int, **kw: Any) -> LoadSpec:
    base: dict[str, Any] = {
        "pattern": "concurrent",
        "users": 8,
        "duration_s": 2.0,
        "tool": "echo",
        "timeout_s": 5.0,
    }
    base.update(kw)
    return LoadSpec(
        url=target.url,
        transport="stdio",
        server_pid=target.pid,
        server_processes=processes,
        **base,
    )


def test_one_serial_process_is_reported_and_four_copies_quadruple_throughput() -> None:
    cmd = [sys.executable, SERVER, "--serial", "--delay-ms", str(D_MS)]
    with Target.spawn(cmd, transport="stdio") as one:
        single = run(_closed_loop(one, 1))
    with Target.spawn(cmd, transport="stdio", processes=4) as four:
        assert len(four.pids) == 4
        assert four.rss() > 4 * psutil.Process(four.pids[0]).memory_info().rss // 2
        pooled = run(_closed_loop(four, 4))
    capacity = 1000.0 / D_MS
    assert single.requests.failed == 0
    assert pooled.requests.failed == 0
    assert single.throughput_rps == pytest.approx(capacity, rel=0.15)
    assert pooled.throughput_rps == pytest.approx(4 * single.throughput_rps, rel=0.2)
    stdio = single.report["target"]["stdio"]
    assert stdio["one_at_a_time"] is True, stdio
    assert stdio["parallelism"][0] < 1.3
    assert "LoadSpec.server_processes" in stdio["note"]
    assert "Server: the stdio server answered one request at a time" in text_block(single.report)
    assert pooled.report["target"]["stdio"]["processes"] == 4
    assert len(pooled.report["target"]["stdio"]["parallelism"]) == 4
    # memory and CPU are sampled over every copy's process tree
    assert (
        pooled.report["server"]["rss_mb"]["start"] > 2 * single.report["server"]["rss_mb"]["start"]
    )


def test_a_concurrent_server_is_not_called_serial() -> None:
    with Target.spawn([sys.executable, SERVER, "--delay-ms", str(D_MS)], transport="stdio") as t:
        result = run(_closed_loop(t, 1))
    stdio = result.report["target"]["stdio"]
    assert stdio["one_at_a_time"] is False, stdio
    assert "note" not in stdio
    assert result.throughput_rps > 5 * 1000.0 / D_MS


def test_a_spec_asking_for_more_copies_grows_the_pool() -> None:
    """The marker's server_processes= (or LoadSpec's) starts the missing copies."""
    cmd = [sys.executable, SERVER, "--serial", "--delay-ms", str(D_MS)]
    with Target.spawn(cmd, transport="stdio") as target:
        result = run(_closed_loop(target, 2, duration_s=1.0))
        assert len(target.pids) == 2
        pids = list(target.pids)
    assert result.requests.failed == 0
    assert result.throughput_rps == pytest.approx(2 * 1000.0 / D_MS, rel=0.2)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)


def test_several_processes_are_refused_over_http() -> None:
    with pytest.raises(ConfigError, match=r"server_processes.*stdio"):
        Target.spawn(["true"], processes=2)


STDIO = ["--transport", "stdio", "--server-cmd", f"{sys.executable} {SERVER} --seed-tools"]


def test_cli_stress_over_stdio_with_two_processes() -> None:
    proc = mcpperf(
        "stress",
        "cpu",
        *STDIO,
        "--server-processes",
        "2",
        "--max-concurrent",
        "4",
        "--duration-seconds",
        "1",
        "--baseline-intervals",
        "1",
        "--hold-intervals",
        "1",
        "--probe-interval-seconds",
        "0.5",
        "--recovery-timeout-seconds",
        "5",
        "--json",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["stress"]["expected"]["ok"] > 0
    assert report["stress"]["expected"]["failed"] == 0
    assert report["target"]["transport"] == "stdio"
    assert report["target"]["stdio"]["processes"] == 2


def test_cli_memory_over_stdio() -> None:
    proc = mcpperf(
        "memory",
        "baseline",
        *STDIO,
        "--tool",
        "echo",
        "--arguments",
        "{}",
        "--request-count",
        "200",
        "--warmup-requests",
        "20",
        "--json",
    )
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["memory"]["samples"], report["memory"]
    assert proc.stderr == "" or "Traceback" not in proc.stderr


def test_the_pytest_summary_says_when_a_stdio_server_answered_one_at_a_time(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.load(pattern="concurrent", users=8, concurrency=8, duration=2,
                          tool="echo")
        def test_serial(perf_client):
            perf_client.run()
        """
    )
    result = pytester.runpytest_subprocess(
        "--mcp-transport",
        "stdio",
        "--mcp-server-cmd",
        f"{sys.executable} {SERVER} --serial --delay-ms {D_MS}",
        "-p",
        "no:cacheprovider",
        timeout=120,
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*answering one request at a time*--mcp-server-processes N*"])
