"""The plugin end to end with the real load engine and the bundled server.

Each inner run spawns the bundled server and drives it for about a second per test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

SCENARIOS = """
    import pytest
    from pytest_mcpperf import assert_error_rate, assert_p99, assert_throughput

    FAST = dict(rate=150, duration=1, tool="fast_compute", arguments={"input": 5})


    @pytest.mark.load(**FAST, thresholds=["p99<500ms", "error_rate<1%", "rps>=100"])
    def test_passes(perf_client, mcp_server):
        result = perf_client.run()
        assert_throughput(result, min_rps=100)
        assert_p99(result, max_ms=500)
        assert_error_rate(result, max_percent=1)
        assert result.target.pid == mcp_server.pid


    @pytest.mark.load(**FAST, thresholds=["p50<0.001ms"])
    def test_impossible(perf_client):
        perf_client.run()


    @pytest.mark.load(rat=150)
    def test_bad_keyword(perf_client):
        perf_client.run()


    def test_not_a_load_test():
        pass
"""


def _results(path: Any) -> dict[str, dict[str, Any]]:
    report = json.loads(path.read_text())
    assert report["schema"] == "mcpperf/1"
    return {r["nodeid"].split("::")[-1]: r for r in report["results"]}


def test_bundled_server_end_to_end(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SCENARIOS)
    result = pytester.runpytest_subprocess(
        "-m", "load", "--perf-report=json:r.json", "-p", "no:cacheprovider", timeout=120
    )
    result.assert_outcomes(passed=1, failed=1, errors=1, deselected=1)
    result.stdout.fnmatch_lines_random(
        [
            "*threshold 'p50<0.001ms' failed: p50 latency was * ms, the limit is < 0.001 ms "
            "(from marker load thresholds 'p50<0.001ms').",
            "*unknown keyword rat=150 from marker load*",
            "*::test_passes * passed*",
            "*::test_impossible * failed*",
        ]
    )
    results = _results(pytester.path / "r.json")
    # Each summary row ends with that run's verdict (valid on a quiet host; a busy CI host
    # may make it contended or client_bound, which the row must then say).
    for name, entry in results.items():
        verdict = entry["accuracy"]["verdict"]
        assert verdict in ("valid", "client_bound", "contended")
        result.stdout.fnmatch_lines([f"*::{name} * {entry['outcome']}*{verdict}"])
    assert set(results) == {"test_passes", "test_impossible"}
    passed = results["test_passes"]
    assert passed["outcome"] == "passed"
    assert passed["requests"]["ok"] >= 140
    assert passed["requests"]["failed"] == 0
    lat = passed["latency_ms"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"] < 500
    assert passed["throughput_rps"] > 100
    assert passed["server"]["rss_mb"]["peak"] > 10
    assert passed["server"]["samples"] >= 2
    assert [c["passed"] for c in passed["criteria"]] == [True, True, True]
    assert results["test_impossible"]["outcome"] == "failed"


def test_xdist_two_workers_two_servers_one_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=100, duration=1, arguments={"input": 2},
                          thresholds=["error_rate<1%"])
        def test_one(perf_client):
            perf_client.run()

        @pytest.mark.load(rate=100, duration=1, arguments={"input": 3},
                          thresholds=["error_rate<1%"])
        def test_two(perf_client):
            perf_client.run()
    """)
    result = pytester.runpytest_subprocess(
        "-n", "2", "-m", "load", "--perf-report=json:r.json", "-p", "no:cacheprovider", timeout=120
    )
    result.assert_outcomes(passed=2)
    results = _results(pytester.path / "r.json")
    assert set(results) == {"test_one", "test_two"}
    urls = {r["target"]["url"] for r in results.values()}
    pids = {r["target"]["pid"] for r in results.values()}
    assert len(urls) == 2, urls  # one server per worker, each on its own port
    assert len(pids) == 2, pids
    assert all(r["requests"]["ok"] >= 90 for r in results.values())


FIRST_REQUEST = textwrap.dedent('''
    """The bundled server, noting the wall time of the first HTTP request it receives."""
    import importlib, sys, time

    cli = importlib.import_module("mcpperf_server.__main__")
    serve = importlib.import_module("mcpperf_server.serve")

    seen = []
    stamp_path = sys.argv[2]
    create_app = serve.create_app


    class FirstRequest:
        def __init__(self, app):
            self.app = app

        def __getattr__(self, name):
            return getattr(self.app, name)

        async def __call__(self, scope, receive, send):
            if scope["type"] == "http" and not seen:
                seen.append(time.time())
                with open(stamp_path, "w") as f:
                    f.write(repr(seen[0]))
            await self.app(scope, receive, send)


    serve.create_app = lambda config: FirstRequest(create_app(config))
    sys.argv = [sys.argv[0], "--bind-address", f"127.0.0.1:{sys.argv[1]}", "--log-level",
                "warning"]
    sys.exit(cli.main())
''')


def _startup_seconds(pytester: pytest.Pytester, attempt: int) -> float:
    stamp = pytester.path / f"first-{attempt}.txt"
    cmd = f"{sys.executable} first_request.py {{port}} {stamp}"
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--mcp-server-cmd={cmd}"],
        cwd=pytester.path,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return float(stamp.read_text()) - started


def test_startup_to_first_request_under_two_seconds(pytester: pytest.Pytester) -> None:
    """From `python -m pytest` starting to the bundled server seeing its first request."""
    (pytester.path / "first_request.py").write_text(FIRST_REQUEST)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=50, duration=1, arguments={"input": 1})
        def test_first(perf_client):
            perf_client.run()
    """)
    figures = []
    for attempt in range(3):  # a shared machine: the best of three is the figure
        figures.append(_startup_seconds(pytester, attempt))
        if figures[-1] < 2.0:
            break
    print(f"pytest start -> first request: {', '.join(f'{f:.3f} s' for f in figures)}")
    assert min(figures) < 2.0, figures
