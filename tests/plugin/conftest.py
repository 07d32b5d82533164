"""Helpers for the plugin's pytester tests.

`fake_project` gives an inner project whose conftest replaces the load engine with a
fake one (deterministic figures from the spec, real RSS samples from the server pid),
and a tiny TCP listener standing in for a server. The wiring (options, marker,
thresholds, summary, report, xdist) is tested against it in a second or two per run;
`test_plugin_e2e.py` runs the real engine against real servers.
"""

from __future__ import annotations

import sys
import textwrap
from dataclasses import dataclass

import pytest

FAKE_ENGINE = textwrap.dedent('''
    """Stands in for pytest_mcpperf.engine.runner: figures derived from the spec, no requests."""
    import sys, time, types

    from pytest_mcpperf.monitor import ServerMonitor
    from pytest_mcpperf.result import LoadResult

    def run(spec, *, progress=None, monitor=None):
        mon = ServerMonitor(spec.server_pid, interval_s=0.05).start() if spec.server_pid else None
        time.sleep(min(spec.duration_s, 0.2))
        for second in range(1, int(spec.duration_s) + 1):  # simulated: no waiting
            if progress is not None:
                progress(types.SimpleNamespace(elapsed_s=float(second), sent=10 * second,
                                               ok=10 * second, failed=0, rps=10.0,
                                               p99_ms=2.0))
        total = int(spec.rate * spec.duration_s)
        failed = int(spec.arguments.get("fail", 0))
        return LoadResult({
            "schema": "mcpperf/1", "scenario": spec.scenario, "pattern": spec.pattern,
            "duration_s": spec.duration_s,
            "target": {"url": spec.url, "pid": spec.server_pid},
            "config": spec.config_dict(),
            "requests": {"scheduled": total, "sent": total, "completed": total,
                         "ok": total - failed, "failed": failed},
            "throughput_rps": (total - failed) / spec.duration_s,
            "latency_ms": {"min": 0.5, "mean": 1.2, "p50": 1.0, "p90": 1.5, "p99": 2.0,
                           "p999": 2.5, "max": 3.0},
            "accuracy": {"verdict": spec.extra.get("verdict", "valid")},
            "server": mon.stop() if mon else {"samples": 0},
        })

    async def arun(spec, *, progress=None, monitor=None):
        return run(spec)

    fake = types.ModuleType("pytest_mcpperf.engine.runner")
    fake.run, fake.arun = run, arun
    sys.modules["pytest_mcpperf.engine.runner"] = fake
''')

FAKE_SERVER = textwrap.dedent('''
    """Accepts TCP connections on the port given, and nothing else."""
    import socket, sys, time
    s = socket.socket()
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
    print("fake server listening", flush=True)
    time.sleep(120)
''')


@dataclass(frozen=True)
class FakeProject:
    """An inner project with a fake engine and a fake server command."""

    pytester: pytest.Pytester
    server_cmd: str

    def run(self, *args: str) -> pytest.RunResult:
        return self.pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--mcp-server-cmd={self.server_cmd}", *args, timeout=60
        )


@pytest.fixture
def fake_project(pytester: pytest.Pytester) -> FakeProject:
    pytester.makeconftest(FAKE_ENGINE)
    server = pytester.path / "fake_server.py"
    server.write_text(FAKE_SERVER)
    return FakeProject(pytester, f"{sys.executable} {server} {{port}}")
