from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from pytest_mcpperf.errors import ConfigError, TargetError
from pytest_mcpperf.target import SpawnedServer, check_url, split_command, wait_reachable

LISTENER = textwrap.dedent("""
    import socket, sys, time, subprocess
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
    print("listening", flush=True)
    if len(sys.argv) > 2:  # a grandchild in the same group, as a worker would be
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    time.sleep(60)
""")


@pytest.fixture
def listener(tmp_path: Path) -> Path:
    p = tmp_path / "listener.py"
    p.write_text(LISTENER)
    return p


def test_spawn_ready_and_stop(listener: Path) -> None:
    server = SpawnedServer([sys.executable, str(listener), "{port}"]).start()
    try:
        assert server.alive()
        assert server.url == f"http://127.0.0.1:{server.port}/mcp"
        with socket.create_connection(("127.0.0.1", server.port), timeout=1):
            pass
    finally:
        server.stop()
    assert not server.alive()


def test_stop_kills_the_whole_group(listener: Path) -> None:
    server = SpawnedServer([sys.executable, str(listener), "{port}", "fork"]).start()
    proc = psutil.Process(server.pid)
    for _ in range(100):
        kids = proc.children(recursive=True)
        if kids:
            break
        import time

        time.sleep(0.02)
    assert kids, "grandchild not started"
    server.stop()
    _, alive = psutil.wait_procs(kids, timeout=3)
    assert alive == []


def test_command_that_exits_fails_fast_with_its_output() -> None:
    cmd = [sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"]
    with pytest.raises(TargetError, match=r"(?s)exited with status 3.*boom: bad config"):
        SpawnedServer(cmd, startup_timeout_s=10).start()


def test_missing_program_is_a_clear_error() -> None:
    with pytest.raises(TargetError, match="cannot start server command"):
        SpawnedServer(["/nonexistent/server-binary", "{port}"]).start()


def test_never_listening_times_out() -> None:
    cmd = [sys.executable, "-c", "import time; time.sleep(30)"]
    with pytest.raises(TargetError, match=r"did not accept connections .* within 0.5 s"):
        SpawnedServer(cmd, startup_timeout_s=0.5).start()


def test_split_command_and_url_validation() -> None:
    assert split_command("python its_server.py {port}") == ["python", "its_server.py", "{port}"]
    with pytest.raises(ConfigError, match="empty server command"):
        split_command("")
    with pytest.raises(ConfigError, match="invalid MCP URL 'localhost:80'"):
        check_url("localhost:80")


def test_unreachable_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TargetError, match="cannot reach the MCP server"):
        wait_reachable(f"http://127.0.0.1:{port}/mcp", timeout_s=0.3)


def test_group_signal_helper_ignores_missing() -> None:
    from pytest_mcpperf.target import _signal_group

    _signal_group(2**22 + os.getpid(), signal.SIGTERM)  # no such group: no error


def test_preexec_fn_imports_nothing_in_the_child() -> None:
    """Between fork and exec the child must not import: another thread of the parent may
    have held a module's import lock at the fork, and the child would wait forever."""
    script = textwrap.dedent("""
        import sys
        from pytest_mcpperf.target import _die_with_parent
        set_pdeathsig = _die_with_parent()
        for name in [m for m in sys.modules if m == "ctypes" or m.startswith("ctypes.")]:
            del sys.modules[name]
        class NoImports:
            def find_spec(self, name, path=None, target=None):
                raise RuntimeError(f"imported {name} in the child")
        sys.meta_path.insert(0, NoImports())
        if set_pdeathsig is not None:
            set_pdeathsig()
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=30, check=False)
    assert out.stdout.strip() == "ok", out.stderr
