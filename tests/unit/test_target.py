from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from pytest_mcpperf.errors import ConfigError, TargetError
from pytest_mcpperf.target import (
    SpawnedServer,
    Target,
    check_url,
    split_command,
    wait_reachable,
)

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


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("notaurl", "expected http://HOST:PORT/PATH"),
        ("http://127.0.0.1:70000/mcp", "port '70000' is not a number from 1 to 65535"),
        ("http://127.0.0.1:0/mcp", "port '0' is not a number from 1 to 65535"),
        ("http://::1:8080/mcp", "malformed IPv6 address; write it in brackets"),
        ("http://[::1/mcp", "malformed IPv6 address; write it in brackets"),
    ],
)
@pytest.mark.parametrize(
    ("front_end", "flag", "other"),
    [
        ("cli", "--server-url", "--mcp-url"),
        ("pytest", "--mcp-url", "--server-url"),
    ],
)
def test_bad_urls_name_the_callers_option(
    url: str, message: str, front_end: str, flag: str, other: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        Target.at_url(url, front_end=front_end)
    assert f"invalid MCP URL {url!r} from {flag}: {message}" in str(exc.value)
    assert other not in str(exc.value)


def test_good_urls_pass() -> None:
    for url in ("http://[::1]:8080/mcp", "https://example.com/mcp", "http://h:1/"):
        assert check_url(url) == url


@pytest.mark.parametrize(
    ("front_end", "fix"),
    [
        ("cli", "fix --server-url, or spawn one with --server-cmd"),
        ("pytest", "fix --mcp-url, or spawn one with --mcp-server-cmd"),
        ("api", "fix LoadSpec.url, or spawn one with Target.spawn(command)"),
    ],
)
def test_at_url_unreachable_names_the_fix(front_end: str, fix: str) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/mcp"
    expected = rf"cannot reach the MCP server at {url} .*{re.escape(fix)}"
    with pytest.raises(TargetError, match=expected):
        Target.at_url(url, front_end=front_end, reach_timeout_s=0.2)


def test_at_url_reachable_then_gone(listener: Path) -> None:
    with Target.spawn([sys.executable, str(listener), "{port}"]) as spawned:
        reached = Target.at_url(spawned.url, front_end="cli")
        assert (reached.url, reached.pid, reached.spawned) == (spawned.url, None, False)
        assert reached.alive()
        assert reached.stop() is None  # nothing of ours to stop
    assert not reached.alive()  # nothing accepts connections any more


def test_spawned_target_that_dies(listener: Path) -> None:
    target = Target.spawn([sys.executable, str(listener), "{port}"], startup_timeout_s=10)
    try:
        assert (target.spawned, target.alive(), target.exit_status) == (True, True, None)
        assert target.rss() > 0
        os.kill(target.pid or 0, signal.SIGKILL)
        for _ in range(250):  # alive() polls, and so reaps, the process: no psutil.wait here
            if not target.alive():
                break
            time.sleep(0.02)
        assert not target.alive()
        assert target.exit_status == -signal.SIGKILL
        assert "listening" in target.output_tail()
        with pytest.raises(TargetError, match=r"(?s)exited with status -9.*listening"):
            target.check_alive()
    finally:
        target.stop()


def test_spawned_target_that_crashes_at_startup() -> None:
    cmd = [sys.executable, "-c", "import sys; print('bad config'); sys.exit(3)"]
    with pytest.raises(TargetError, match=r"(?s)exited with status 3.*bad config"):
        Target.spawn(cmd, startup_timeout_s=10)


@pytest.mark.parametrize(
    ("front_end", "fix"),
    [
        ("cli", "let it be spawned (--server-cmd) or give its pid (--server-pid)"),
        ("pytest", "let it be spawned (--mcp-server-cmd) instead of giving --mcp-url"),
    ],
)
def test_rss_without_a_pid_names_the_fix(front_end: str, fix: str) -> None:
    with pytest.raises(TargetError, match=re.escape(fix)):
        Target("http://127.0.0.1:1/mcp", front_end=front_end).rss()


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
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert out.stdout.strip() == "ok", out.stderr
