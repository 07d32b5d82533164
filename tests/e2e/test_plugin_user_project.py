"""Another MCP project uses the plugin against its own server (the official SDK's).

The project has its own top-level package named `server`: the bundled server's import
name (`mcpperf_server`) must never shadow it. Its server is spawned through
`--mcp-server-cmd "python its_server.py {port}"`, measured from its own pid, and never
left behind: not after the session, not after Ctrl-C.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest

pytestmark = pytest.mark.e2e

ITS_SERVER = textwrap.dedent('''
    """The project's MCP server (official SDK), started as: python its_server.py PORT."""
    import sys

    from mcp.server.mcpserver import MCPServer

    from server.logic import triple

    app = MCPServer("its-server", log_level="WARNING")


    @app.tool()
    def fast_compute(input: int = 1) -> dict:
        """Triple the input with the project's own logic."""
        return {"output": triple(input)}


    if __name__ == "__main__":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]),
                stateless_http=True, json_response=True)
''')

ITS_TESTS = textwrap.dedent("""
    import os
    from pathlib import Path

    import pytest

    import server
    from pytest_mcpperf import assert_error_rate
    from server.logic import triple


    def test_own_server_package_is_imported():
        assert Path(server.__file__).parent == Path(__file__).parent / "server"
        assert triple(2) == 6


    @pytest.mark.load(rate=40, duration=float(os.environ.get("ITS_DURATION", "1")),
                      tool="fast_compute", arguments={"input": 3},
                      thresholds=["error_rate<1%"])
    def test_its_server_under_load(perf_client, mcp_server):
        Path("server.pid").write_text(str(mcp_server.pid))
        result = perf_client.run()
        assert_error_rate(result, max_percent=1)
        assert result.requests.ok > 0
        assert result.server.samples >= 2
        assert result.server.rss_mb.peak > 10
""")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with its own `server` package, its own MCP server and its perf tests."""
    pytester.mkpydir("server")
    (pytester.path / "server" / "logic.py").write_text("def triple(n):\n    return 3 * n\n")
    (pytester.path / "its_server.py").write_text(ITS_SERVER)
    (pytester.path / "test_its_perf.py").write_text(ITS_TESTS)
    pytester.makeini("[pytest]\npythonpath = .\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def _server_cmd() -> str:
    return f"{sys.executable} its_server.py {{port}}"


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_project_with_its_own_server_package(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(
        f"--mcp-server-cmd={_server_cmd()}",
        "--perf-report=json:r.json",
        "-p",
        "no:cacheprovider",
        timeout=120,
    )
    result.assert_outcomes(passed=2)
    pid = int((project.path / "server.pid").read_text())
    assert _gone(pid), f"server pid {pid} outlived the session"
    [entry] = json.loads((project.path / "r.json").read_text())["results"]
    assert entry["target"]["pid"] == pid
    assert entry["server"]["rss_mb"]["peak"] > 10
    assert entry["requests"]["ok"] > 0


def _its_servers(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [
            p for p in root.children(recursive=True) if "its_server.py" in " ".join(p.cmdline())
        ]
    except psutil.Error:
        return []


def _default_sigint() -> None:
    """In the child before exec: a shell runs background jobs with SIGINT ignored, and an
    ignored signal stays ignored across exec, so Python would never see the Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_leaves_no_server_behind(project: pytest.Pytester) -> None:
    env = {**os.environ, "ITS_DURATION": "60"}
    # faulthandler_timeout: should the run outlive the Ctrl-C, it dumps where it was.
    inner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-o",
            "faulthandler_timeout=15",
            f"--mcp-server-cmd={_server_cmd()}",
            "-k",
            "under_load",
        ],
        cwd=project.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_default_sigint,
    )
    servers: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 30
        while not (project.path / "server.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert inner.poll() is None, inner.communicate()[0].decode()
        servers = _its_servers(psutil.Process(inner.pid))
        assert servers, "the server was not spawned"
        time.sleep(1.0)  # mid-run: the load engine is sending
        inner.send_signal(signal.SIGINT)
        out = inner.communicate(timeout=30)[0].decode()
        left = [p for p in servers if not _gone(p.pid)]
    finally:
        if inner.poll() is None:
            inner.kill()
            inner.communicate()
        for p in servers:  # never leave one behind for the tests that follow
            with contextlib.suppress(psutil.Error):
                p.kill()
    assert inner.returncode == pytest.ExitCode.INTERRUPTED, out
    assert "KeyboardInterrupt" in out
    assert left == [], f"left behind: {left}"
