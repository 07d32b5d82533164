"""Preflight: a tool, prompt or resource the server does not list fails the run within
seconds of the server being up (the run asks for 60 s of load), naming what was asked
for and what the server offers; through pytest and through the `mcpperf` command, over
HTTP (the bundled server) and over stdio (`stdio_server.py`, which lists the tool `echo`,
the resource `mem://a` and the prompt `hello`)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import mcpperf
from timedpreflight import preflight_times, timed_tests

from pytest_mcpperf.target import SpawnedServer

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
STDIO_SERVER = Path(__file__).with_name("stdio_server.py")
LIMIT_S = 3.0
BUNDLED_TOOLS = ("async_io", "cpu_intensive", "fast_compute", "session_counter")

#: marker keywords (pytest) and options (CLI) asking for something stdio_server.py lacks,
#: with the message expected
UNKNOWN = {
    "tool": (
        'tool="nope"',
        ["--tool", "nope"],
        "no tool 'nope'; it offers: echo",
    ),
    "prompt": (
        'method="prompts/get", params={"name": "nope"}',
        ["--method", "prompts/get", "--params", '{"name": "nope"}'],
        "no prompt 'nope'; it offers: hello",
    ),
    "resource": (
        'method="resources/read", params={"uri": "mem://nope"}',
        ["--method", "resources/read", "--params", '{"uri": "mem://nope"}'],
        "no resource 'mem://nope'; it offers: mem://a",
    ),
}


@pytest.fixture(scope="module")
def bundled() -> Iterator[SpawnedServer]:
    pytest.importorskip("mcpperf_server")
    with SpawnedServer(startup_timeout_s=30.0) as server:
        yield server


def _cli(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.perf_counter()
    done = mcpperf("client", "throughput", *args, timeout=60)
    return done, time.perf_counter() - t0


def test_pytest_unknown_tool_over_http_fails_in_seconds(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(timed_tests({"tool": 'tool="nope"'}))
    t0 = time.perf_counter()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    assert time.perf_counter() - t0 < 45  # the 60 s of load never ran
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*the server has no tool 'nope'; it offers: *fast_compute*; fix the tool name (tool=)*"]
    )
    took = preflight_times(result.stdout.str())
    assert len(took) == 1, result.stdout.str()
    assert took[0] < LIMIT_S, took


def test_pytest_unknown_tool_prompt_and_resource_over_stdio(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(timed_tests({name: kw for name, (kw, _, _) in UNKNOWN.items()}))
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--mcp-transport",
        "stdio",
        "--mcp-server-cmd",
        f"{sys.executable} {STDIO_SERVER}",
        timeout=120,
    )
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random([f"*{message}*" for _, _, message in UNKNOWN.values()])
    took = preflight_times(result.stdout.str())
    assert len(took) == 3, result.stdout.str()
    assert max(took) < LIMIT_S, took


def test_cli_unknown_tool_over_http_fails_in_seconds(bundled: SpawnedServer) -> None:
    """Against a server that is up: the whole command, start to exit, under 3 s."""
    done, took = _cli("--server-url", bundled.url, "--tool", "nope", "--duration-seconds", "60")
    assert done.returncode == 2, done.stderr
    assert "the server has no tool 'nope'; it offers: " in done.stderr
    assert all(tool in done.stderr for tool in BUNDLED_TOOLS), done.stderr
    assert "fix the tool name (--tool)" in done.stderr
    assert took < LIMIT_S, took


@pytest.mark.parametrize("kind", list(UNKNOWN))
def test_cli_unknown_names_over_stdio_fail_in_seconds(kind: str) -> None:
    """The command spawns the server itself: start to exit, spawn included, under 3 s."""
    _, options, message = UNKNOWN[kind]
    stdio = ["--transport", "stdio", "--server-cmd", f"{sys.executable} {STDIO_SERVER}"]
    done, took = _cli(*stdio, *options, "--duration-seconds", "60")
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert took < LIMIT_S, took
