"""Starting and stopping: readiness line, flags, env log level, hypercorn, graceful signals."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from .conftest import READY, call, modern_body, modern_headers, start_server, stop_server

pytestmark = pytest.mark.e2e


def fast_compute_ok(url: str) -> bool:
    body, headers = call("fast_compute", {"input": 2})
    reply = httpx.post(url, content=json.dumps(body), headers=headers, timeout=5)
    return reply.status_code == 200 and "Computed result" in reply.text


@pytest.mark.parametrize(
    ("sig", "asgi"),
    [(signal.SIGTERM, "uvicorn"), (signal.SIGINT, "uvicorn"), (signal.SIGTERM, "hypercorn")],
)
def test_graceful_shutdown_with_open_stream(tmp_path: Path, sig: signal.Signals, asgi: str) -> None:
    server = start_server(tmp_path, "--asgi-server", asgi)
    assert fast_compute_ok(server.url)
    lines: list[str] = []
    body = modern_body("subscriptions/listen", {"notifications": {"toolsListChanged": True}})

    def listen() -> None:
        with httpx.stream(
            "POST",
            server.url,
            json=body,
            timeout=10,
            headers=modern_headers("subscriptions/listen"),
        ) as stream:
            lines.extend(line for line in stream.iter_lines() if line.startswith("data: "))

    reader = threading.Thread(target=listen)
    reader.start()
    deadline = time.monotonic() + 5
    while not lines and time.monotonic() < deadline:
        time.sleep(0.05)
    start = time.monotonic()
    server.proc.send_signal(sig)
    assert server.proc.wait(10) == 0
    assert time.monotonic() - start < 5
    reader.join(5)
    closing = json.loads(lines[-1][6:])
    assert closing["id"] == 1
    assert closing["result"]["resultType"] == "complete"


def test_hypercorn_serves_too(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--asgi-server", "hypercorn")
    try:
        assert "hypercorn" in server.log.read_text()
        assert fast_compute_ok(server.url)
    finally:
        assert stop_server(server.proc) == 0


def test_log_level_from_env(tmp_path: Path) -> None:
    server = start_server(tmp_path, env={"MCPPERF_LOG": "info"})
    stop_server(server.proc)
    assert "Started server process" in server.log.read_text()
    quiet = start_server(tmp_path)
    stop_server(quiet.proc)
    assert "Started server process" not in quiet.log.read_text()


def test_non_loopback_bind_warns(tmp_path: Path) -> None:
    log = tmp_path / "wide.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcpperf_server", "--bind-address", "0.0.0.0:0"],
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 15
        while not READY.search(log.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop_server(proc)
    assert "reachable from other machines" in log.read_text()


def test_mcpperf_server_command_and_bad_flags(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "pytest_mcpperf.cli", "server", "--bind-address", "nowhere"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "HOST:PORT" in bad.stderr
    log = tmp_path / "cmd.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest_mcpperf.cli", "server", "--bind-address", "127.0.0.1:0"],
            stdout=sink,
            stderr=sink,
        )
    try:
        deadline = time.monotonic() + 15
        while not (found := READY.search(log.read_text())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert found is not None
        assert fast_compute_ok(found.group(1))
    finally:
        assert stop_server(proc) == 0


def test_slow_headers_are_cut_off_at_the_deadline(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--header-timeout", "0.5")
    try:
        slow = socket.create_connection(("127.0.0.1", server.port))
        slow.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        slow.settimeout(5)
        start = time.monotonic()
        assert slow.recv(100) == b""  # closed by the server, not answered
        assert 0.4 < time.monotonic() - start < 3
        slow.close()
        assert fast_compute_ok(server.url)
    finally:
        stop_server(server.proc)
