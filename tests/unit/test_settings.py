"""settings.py: precedence marker > CLI > env > ini > default, and errors that say where."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.settings import (
    RunSettings,
    Scenario,
    build_spec,
    effective_thresholds,
    header_line,
    parse_report,
    parse_scenario,
    resolve_run_settings,
)
from pytest_mcpperf.spec import ToolCall
from tests.fakeconfig import FakeConfig


def test_defaults() -> None:
    run = resolve_run_settings(FakeConfig(), env={})
    assert (run.url, run.server_cmd, run.report, run.duration, run.processes) == (
        None,
        None,
        None,
        None,
        1,
    )
    assert run.source("processes") == "default"


def test_cli_beats_env_beats_ini() -> None:
    ini = {"perf_duration": "30", "perf_processes": "2"}
    env = {"MCPPERF_DURATION": "20", "MCPPERF_PROCESSES": "3"}
    run = resolve_run_settings(FakeConfig({"perf_duration": "10"}, ini), env=env)
    assert run.duration == 10.0
    assert run.source("duration") == "--perf-duration"
    assert run.processes == 3
    assert run.source("processes") == "env MCPPERF_PROCESSES"
    run = resolve_run_settings(FakeConfig({}, ini), env={})
    assert (run.duration, run.processes) == (30.0, 2)
    assert run.source("duration") == "ini perf_duration"


def test_bad_env_value_names_value_and_where() -> None:
    with pytest.raises(
        ConfigError,
        match=r"invalid --perf-duration 'abc' from env "
        r"MCPPERF_DURATION: expected a number greater than 0",
    ):
        resolve_run_settings(FakeConfig(), env={"MCPPERF_DURATION": "abc"})


def test_bad_ini_value_names_the_ini_key() -> None:
    with pytest.raises(ConfigError, match=r"invalid --perf-processes '0' from ini perf_processes"):
        resolve_run_settings(FakeConfig(ini={"perf_processes": "0"}), env={})


def test_url_and_command_together_are_refused() -> None:
    config = FakeConfig({"mcp_url": "http://127.0.0.1:1/mcp"})
    with pytest.raises(ConfigError, match="give only one of them"):
        resolve_run_settings(config, env={"MCPPERF_SERVER_CMD": "python s.py {port}"})


def test_bad_url_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"invalid MCP URL 'localhost:80' from env MCPPERF_URL"):
        resolve_run_settings(FakeConfig(), env={"MCPPERF_URL": "localhost:80"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("json", (("json", Path("mcpperf-report.json")),)),
        ("json:out/r.json", (("json", Path("out/r.json")),)),
        ("html", (("html", Path("mcpperf-report.html")),)),
        ("json:a.json,html:b.html", (("json", Path("a.json")), ("html", Path("b.html")))),
    ],
)
def test_report_option(text: str, expected: tuple[tuple[str, Path], ...]) -> None:
    assert parse_report(text, "--perf-report", "--perf-report") == expected


def test_report_option_rejects_unknown_format() -> None:
    with pytest.raises(ConfigError, match=r"invalid --perf-report 'xml:r.xml': expected json"):
        parse_report("xml:r.xml", "--perf-report", "--perf-report")
    with pytest.raises(ConfigError, match=r"or both joined by a comma"):
        parse_report("json,json:x.json", "--perf-report", "--perf-report")


def test_scenario_parses_every_keyword() -> None:
    scenario = parse_scenario(
        {
            "pattern": "burst",
            "rate": 50,
            "duration": "2",
            "concurrency": 4,
            "users": 3,
            "tool": "async_io",
            "arguments": {"delay_ms": 5},
            "thresholds": ["p99<100ms"],
            "warmup": 0,
            "timeout": 5,
            "arrival": "poisson",
            "burst_size": 10,
            "burst_interval": 0.5,
            "ramp_to": 200,
            "protocol": "modern",
            "processes": 2,
            "mix": [("fast_compute", {"input": 1}, 3), {"tool": "async_io"}],
        },
        "marker load",
    )
    assert scenario.thresholds == ("p99<100ms",)
    assert scenario.fields["duration_s"] == 2.0
    assert scenario.fields["burst_interval_s"] == 0.5
    assert scenario.fields["mix"] == (
        ToolCall("fast_compute", {"input": 1}, 3.0),
        ToolCall("async_io", {}, 1.0),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rat": 10}, r"unknown keyword rat=10 from marker load: the load marker takes pattern, "),
        (
            {"rate": "fast"},
            r"invalid rate 'fast' from marker load: expected a number greater than 0",
        ),
        ({"rate": -1}, r"invalid rate -1 from marker load"),
        (
            {"concurrency": 2.5},
            r"invalid concurrency 2.5 from marker load: expected a whole number",
        ),
        ({"pattern": "soakk"}, r"invalid pattern 'soakk' from marker load: expected one of "),
        ({"arguments": [1]}, r"invalid arguments \[1\] from marker load: expected a dict"),
        (
            {"thresholds": ["p99 < fast"]},
            r"invalid threshold 'p99 < fast' from marker load "
            r"thresholds",
        ),
        ({"mix": [("t", {}, 0)]}, r"invalid mix 0 from marker load"),
    ],
)
def test_scenario_errors_name_keyword_value_and_where(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_scenario(kwargs, "marker load")


def test_spec_precedence_overrides_marker_cli() -> None:
    run = RunSettings(processes=4)
    marker = parse_scenario({"rate": 10, "duration": 5, "processes": 2}, "marker load")
    spec = build_spec(url="http://h/mcp", run=run, marker=marker, server_pid=7, scenario="t")
    assert (spec.rate, spec.duration_s, spec.processes, spec.server_pid) == (10.0, 5.0, 2, 7)
    spec = build_spec(
        url="http://h/mcp",
        run=run,
        marker=Scenario({}),
        overrides=parse_scenario({"rate": 99}, "perf_client.run()"),
    )
    assert (spec.rate, spec.processes) == (99.0, 4)


def test_perf_duration_caps_every_scenario() -> None:
    marker = parse_scenario({"duration": 60}, "marker load")
    overrides = parse_scenario({"duration": 30}, "perf_client.run()")
    spec = build_spec(
        url="http://h/mcp", run=RunSettings(duration=1.5), marker=marker, overrides=overrides
    )
    assert spec.duration_s == 1.5


def test_mix_sets_tool_to_its_first_entry() -> None:
    marker = parse_scenario({"mix": [("async_io", {}, 1)]}, "marker load")
    assert build_spec(url="http://h/mcp", run=RunSettings(), marker=marker).tool == "async_io"


def test_run_thresholds_replace_the_markers() -> None:
    marker = parse_scenario({"thresholds": ["p99<100ms"]}, "marker load")
    assert effective_thresholds(marker, None) == ("p99<100ms",)
    assert effective_thresholds(marker, parse_scenario({"rate": 1}, "run()")) == ("p99<100ms",)
    assert effective_thresholds(marker, parse_scenario({"thresholds": []}, "run()")) == ()


def test_header_line() -> None:
    run = RunSettings(
        server_cmd="python s.py {port}", duration=2.0, report=(("json", Path("r.json")),)
    )
    assert header_line(run) == (
        "mcpperf: target server-cmd 'python s.py {port}', duration 2s "
        "(--perf-duration), processes 1, report json:r.json"
    )
    assert header_line(RunSettings()).startswith(
        "mcpperf: target bundled server, duration per marker"
    )


def test_default_tool_gets_its_required_argument() -> None:
    spec = build_spec(url="http://h/mcp", run=RunSettings(), marker=Scenario({}))
    assert (spec.tool, dict(spec.arguments)) == ("fast_compute", {"input": 10})
    named = build_spec(
        url="http://h/mcp", run=RunSettings(), marker=Scenario({"tool": "perf_stats"})
    )
    assert (named.tool, dict(named.arguments)) == ("perf_stats", {})
    given = build_spec(
        url="http://h/mcp", run=RunSettings(), marker=Scenario({"arguments": {"input": 3}})
    )
    assert dict(given.arguments) == {"input": 3}
