"""The plugin's wiring, end to end through pytester, with a fake engine and server."""

from __future__ import annotations

import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import FakeProject

LOAD_TESTS = """
    import pytest
    from pytest_mcpperf import assert_throughput

    @pytest.mark.load(rate=100, duration=1, thresholds=["p99<100ms", "error_rate<1%"])
    def test_fast(perf_client):
        result = perf_client.run()
        assert_throughput(result, min_rps=90)

    @pytest.mark.load(rate=50, duration=1)
    def test_slow(perf_client):
        assert perf_client.run().requests.ok == 50

    def test_plain():
        pass
"""


def test_passing_load_test_summary_and_header(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LOAD_TESTS)
    result = fake_project.run("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "mcpperf: target server-cmd *, duration per marker, processes 1, report off",
            "*= mcpperf load results =*",
            "test*rps*p50 ms*p99 ms*errors*server rss MB*outcome*verdict",
            "test_passing_load_test_summary_and_header.py::test_fast*100.0*1.00*2.00*0 (0.00%)*"
            "passed*valid",
            "test_passing_load_test_summary_and_header.py::test_slow*50.0*passed*valid",
        ]
    )


def test_m_load_selects_exactly_the_load_tests(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LOAD_TESTS)
    result = fake_project.run("-m", "load")
    result.assert_outcomes(passed=2, deselected=1)


def test_impossible_threshold_fails_with_a_message_naming_it(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=100, duration=1, thresholds=["p99<1ms", "error_rate<1%"])
        def test_too_strict(perf_client):
            perf_client.run()
    """)
    result = fake_project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*threshold 'p99<1ms' failed: p99 latency was 2 ms, the limit is < 1 ms (from marker "
            "load thresholds 'p99<1ms').",
            "*To change it: less load through the load marker's rate= or concurrency= keywords*",
            "*test_too_strict*2.0*failed*valid",
        ]
    )
    result.stdout.no_fnmatch_line("*error_rate<1%' failed*")


def test_bad_marker_keyword_fails_only_that_test(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=100, duraton=1)
        def test_typo(perf_client):
            perf_client.run()

        @pytest.mark.load(rate="lots")
        def test_bad_value(perf_client):
            perf_client.run()

        @pytest.mark.load(rate=100, duration=1)
        def test_fine(perf_client):
            perf_client.run()
    """)
    result = fake_project.run()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*unknown keyword duraton=1 from marker load: the load marker takes pattern, rate, "
            "duration, *; fix the spelling or remove it",
            "*invalid rate 'lots' from marker load: expected a number greater than 0, e.g. 10",
        ]
    )
    # the message alone: no chained "During handling of the above exception" repeat
    result.stdout.no_fnmatch_line("*During handling of the above exception*")


def test_bad_override_names_run(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=100, duration=1)
        def test_override(perf_client):
            perf_client.run(concurrency=0)
    """)
    result = fake_project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*invalid concurrency 0 from perf_client.run(): expected a whole number >= 1*"]
    )


def test_report_holds_every_result(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LOAD_TESTS)
    result = fake_project.run("--perf-report=json:out/r.json", "--perf-duration=0.5")
    result.assert_outcomes(passed=2, failed=1)  # test_slow expects the marker's duration
    result.stdout.fnmatch_lines(["*mcpperf report: *out/r.json*"])
    report = json.loads((fake_project.pytester.path / "out" / "r.json").read_text())
    assert report["schema"] == "mcpperf/1"
    assert report["plugin_version"]
    assert report["environment"]["python"]
    by_test = {r["nodeid"].split("::")[1]: r for r in report["results"]}
    assert set(by_test) == {"test_fast", "test_slow"}
    fast = by_test["test_fast"]
    assert fast["outcome"] == "passed"
    assert fast["config"]["duration_s"] == 0.5  # --perf-duration beat the marker's 1
    assert fast["requests"]["ok"] == 50
    assert fast["criteria"] == [
        {"name": "p99<100ms", "op": "<", "limit": 100.0, "value": 2.0, "passed": True},
        {"name": "error_rate<1%", "op": "<", "limit": 1.0, "value": 0.0, "passed": True},
    ]
    assert fast["server"]["rss_mb"]["peak"] > 1  # sampled from the fake server's pid
    assert by_test["test_slow"]["outcome"] == "failed"


def test_no_report_unless_asked(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LOAD_TESTS)
    fake_project.run("-m", "load").assert_outcomes(passed=2, deselected=1)
    assert not list(fake_project.pytester.path.glob("*.json"))


def test_xdist_one_report_and_a_server_per_worker(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LOAD_TESTS)
    result = fake_project.run("-n", "2", "-m", "load", "--perf-report=json:r.json")
    result.assert_outcomes(passed=2)
    results = json.loads((fake_project.pytester.path / "r.json").read_text())["results"]
    assert len(results) == 2
    assert len({r["target"]["url"] for r in results}) == 2
    assert len({r["target"]["pid"] for r in results}) == 2
    assert not list(fake_project.pytester.path.glob("r.json.*"))


def test_async_test_uses_arun(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile("""
        import pytest

        @pytest.mark.asyncio
        @pytest.mark.load(rate=20, duration=1)
        async def test_async(perf_client):
            result = await perf_client.arun(rate=40)
            assert result.requests.ok == 40
    """)
    fake_project.run().assert_outcomes(passed=1)


def test_server_that_exits_at_once_fails_fast_with_its_output(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.load(duration=1)
        def test_a(perf_client):
            perf_client.run()

        @pytest.mark.load(duration=1)
        def test_b(perf_client):
            perf_client.run()
    """)
    crash = pytester.path / "crash.py"
    crash.write_text("import sys\nprint('boom: no config file')\nsys.exit(3)\n")
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        f"--mcp-server-cmd={sys.executable} {crash} {{port}}", timeout=60
    )
    assert time.monotonic() - started < 15
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*server command '*python* *crash.py *' exited with status 3 before it accepted "
            "connections.",
            "*--- server output (last lines) ---",
            "*boom: no config file",
        ]
    )


def test_server_dying_mid_session_is_reported(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile("""
        import os, signal, time
        import pytest

        @pytest.mark.load(rate=10, duration=1)
        def test_kill(perf_client, mcp_server):
            os.kill(mcp_server.pid, signal.SIGKILL)
            time.sleep(0.2)
            perf_client.run()
    """)
    result = fake_project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the MCP server (pid *) exited with status -9 during the session.",
            "*fake server listening*",
        ]
    )


def test_server_monitor_samples_the_server(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile("""
        import time

        def test_monitor(server_monitor, mcp_server):
            assert server_monitor.pid == mcp_server.pid
            time.sleep(0.3)
            summary = server_monitor.stop()
            assert summary["samples"] >= 2
            assert summary["rss_mb"]["peak"] > 1
    """)
    fake_project.run().assert_outcomes(passed=1)


def test_unreachable_url_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_a(mcp_server):
            pass
    """)
    result = pytester.runpytest_subprocess(
        "--mcp-url=http://127.0.0.1:9/mcp", "--mcp-startup-timeout=0.5", timeout=60
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot reach the MCP server at http://127.0.0.1:9/mcp*"])


def test_bad_option_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--perf-duration=soon", timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*argument --perf-duration: invalid --perf-duration 'soon': "
            "expected a number greater than 0*"
        ]
    )


def test_env_and_ini_twins(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nperf_processes = 3\nperf_report = json:from-ini.json\n")
    monkeypatch.setenv("MCPPERF_DURATION", "2.5")
    result = pytester.runpytest_subprocess("--co", timeout=60)
    result.stdout.fnmatch_lines(
        [
            "mcpperf: target bundled server, duration 2.5s "
            "(--perf-duration), processes 3, report json:from-ini.json"
        ]
    )


def test_report_path_is_relative_to_the_invocation_dir(
    fake_project: FakeProject, tmp_path: Path
) -> None:
    fake_project.pytester.makepyfile(LOAD_TESTS)
    fake_project.run("-m", "load", "--perf-report=json")
    assert (fake_project.pytester.path / "mcpperf-report.json").exists()


LONG_TEST = """
    import pytest

    @pytest.mark.load(rate=10, duration=25)
    def test_long(perf_client):
        perf_client.run()
"""


def test_progress_in_a_log_is_a_line_every_ten_seconds(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LONG_TEST)
    result = fake_project.run()  # stdout is a pipe: not a terminal
    result.assert_outcomes(passed=1)
    lines = [line for line in result.outlines if line.startswith("mcpperf test_long:")]
    assert lines == [
        "mcpperf test_long: 10/25 s, sent 100, ok 100, failed 0, 10 rps, p99 2.0 ms",
        "mcpperf test_long: 20/25 s, sent 200, ok 200, failed 0, 10 rps, p99 2.0 ms",
    ]
    assert "\r" not in result.stdout.str()
    quiet = fake_project.run("--perf-progress=none")
    assert "mcpperf test_long:" not in quiet.stdout.str()


def test_progress_on_a_terminal_is_one_line_rewritten(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LONG_TEST)
    out = run_in_pty(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--mcp-server-cmd={fake_project.server_cmd}",
        ],
        cwd=fake_project.pytester.path,
    )
    assert "1 passed" in out, out
    drawn = [part for part in out.split("\r") if part.startswith("mcpperf test_long:")]
    # every update redraws the line in place: 25 of them, the first and the last shown
    assert len(drawn) == 25, out
    assert drawn[0].startswith("mcpperf test_long: 1/25 s, sent 10, ok 10, failed 0, 10 rps")
    assert drawn[-1].startswith("mcpperf test_long: 25/25 s, sent 250")
    assert "\nmcpperf test_long: 10/25 s" not in out  # no periodic lines on a terminal


def run_in_pty(argv: list[str], cwd: Path, timeout_s: float = 60.0) -> str:
    """Run `argv` with stdout and stderr on a pseudo-terminal; its output, as text."""
    import os
    import pty
    import select
    import subprocess

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["COLUMNS"] = "200"
    proc = subprocess.Popen(
        argv, cwd=cwd, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
    return b"".join(chunks).decode(errors="replace")


def test_junitxml_gets_the_result_as_json_property(fake_project: FakeProject) -> None:
    fake_project.pytester.makepyfile(LOAD_TESTS)
    fake_project.run("-m", "load", "--junitxml=j.xml").assert_outcomes(passed=2, deselected=1)
    props = ET.parse(fake_project.pytester.path / "j.xml").getroot().iter("property")
    values = [json.loads(p.attrib["value"]) for p in props if p.attrib["name"] == "mcpperf/result"]
    assert sorted(v["requests"]["ok"] for v in values) == [50, 100]


def test_url_target_has_no_pid_and_no_monitor(fake_project: FakeProject) -> None:
    from pytest_mcpperf.target import SpawnedServer

    fake_project.pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=10, duration=1)
        def test_url(perf_client, mcp_server):
            assert mcp_server.pid is None
            result = perf_client.run()
            assert result.target.url == mcp_server.url
            assert result.server.samples == 0

        def test_monitor(server_monitor):
            pass
    """)
    cmd = fake_project.server_cmd.split()
    with SpawnedServer(cmd) as server:
        result = fake_project.pytester.runpytest_subprocess(
            "-p", "no:cacheprovider", f"--mcp-url={server.url}", timeout=60
        )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*server_monitor needs the server's process, but http://127.0.0.1:"
            "*/mcp was given as a URL; let the plugin spawn it with "
            "--mcp-server-cmd*"
        ]
    )


def test_perf_memory_check_applies_to_every_load_test_unless_its_marker_says(
    fake_project: FakeProject,
) -> None:
    fake_project.pytester.makepyfile("""
        import pytest

        @pytest.mark.load(rate=100, duration=1)
        def test_checked(perf_client):
            perf_client.run()

        @pytest.mark.load(rate=100, duration=1, memory_check=False)
        def test_opted_out(perf_client):
            perf_client.run()
    """)
    result = fake_project.run("--perf-memory-check", "true", "--perf-report=json:r.json")
    result.assert_outcomes(passed=2)  # the fake server's RSS is flat
    result.stdout.fnmatch_lines(["*::test_checked * (+0.0%)*passed*valid, memory stable"])
    rows = {r["nodeid"].rsplit("::", 1)[-1]: r for r in _report(fake_project)["results"]}
    assert [c["name"] for c in rows["test_checked"]["criteria"]] == ["memory"]
    assert rows["test_checked"]["memory"]["verdict"] == "stable"
    assert rows["test_opted_out"]["criteria"] == []


def _report(project: FakeProject) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((project.pytester.path / "r.json").read_text())
    return data


def test_pytest_help_lists_every_option(pytester: pytest.Pytester) -> None:
    from pytest_mcpperf import settings

    result = pytester.runpytest_subprocess("--help", "-p", "no:cacheprovider")
    assert result.ret == 0, result.stderr.str()
    text = result.stdout.str()
    for flag in [s.flag for s in settings.SETTINGS] + list(settings.COMPARE_OPTIONS):
        assert flag in text, flag
    assert "p99:10%,rps:5%" in text  # a literal % in help text survives argparse
