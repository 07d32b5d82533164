from __future__ import annotations

from typing import Any

import pytest

from pytest_mcpperf import cli
from pytest_mcpperf.cli import client
from pytest_mcpperf.cli.options import reach_fields


def _parse(*argv: str) -> object:
    return cli.build_parser().parse_args(list(argv))


def test_globals_before_or_after_the_subcommand() -> None:
    before = _parse("--concurrency", "7", "--duration-seconds", "3", "client", "throughput")
    after = _parse("client", "throughput", "--concurrency", "7", "--duration-seconds", "3")
    middle = _parse("client", "--concurrency", "7", "throughput", "--duration-seconds", "3")
    for ns in (before, after, middle):
        assert (ns.concurrency, ns.duration_seconds) == (7, 3.0)  # type: ignore[attr-defined]


def test_seed_defaults_and_spec() -> None:
    ns = _parse("client", "throughput")
    assert ns.requests_per_second == 1000.0  # type: ignore[attr-defined]
    assert ns.duration_seconds == 60.0  # type: ignore[attr-defined]
    assert ns.concurrency == 10  # type: ignore[attr-defined]
    spec = client.build_spec(
        _parse("client", "latency", "--io-delay-ms", "25"),  # type: ignore[arg-type]
        "http://127.0.0.1:1/mcp",
        None,
    )
    assert (spec.tool, dict(spec.arguments), spec.pattern) == (
        "async_io",
        {"delay_ms": 25},
        "latency",
    )
    burst = client.build_spec(
        _parse(
            "client",
            "burst",
            "--burst-size",
            "7",  # type: ignore[arg-type]
            "--burst-interval-seconds",
            "2",
        ),
        "http://x/mcp",
        9,
    )
    assert (burst.pattern, burst.burst_size, burst.burst_interval_s, burst.server_pid) == (
        "burst",
        7,
        2.0,
        9,
    )
    mem = client.build_spec(_parse("client", "memory"), "http://x/mcp", None)  # type: ignore[arg-type]
    assert (mem.tool, dict(mem.arguments)) == ("memory_allocate", {"mb_size": 10})
    stress = client.build_spec(_parse("client", "stress"), "http://x/mcp", None)  # type: ignore[arg-type]
    assert (stress.tool, dict(stress.arguments)) == ("cpu_intensive", {"size": 100})
    conc = client.build_spec(
        _parse("client", "concurrent", "--concurrency", "5"),  # type: ignore[arg-type]
        "http://x/mcp",
        None,
    )
    assert (conc.pattern, conc.users) == ("concurrent", 5)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["client", "throughput", "--requests-per-second", "abc"])
    assert exc.value.code == 2
    assert (
        "argument --requests-per-second: invalid --requests-per-second 'abc': expected a "
        "number greater than 0" in capsys.readouterr().err
    )


def test_exit_status() -> None:
    def data(ok: int, failed: int) -> dict[str, object]:
        return {"requests": {"ok": ok, "failed": failed}}

    assert client.exit_status(data(1000, 10)) == 0
    assert client.exit_status(data(1000, 11)) == 1
    assert client.exit_status(data(0, 0)) == 1


def test_memory_summary_is_the_memory_analysis_of_the_server_series() -> None:
    # 30 MiB + 20 KiB per request, 20 requests a second, a reading every second
    data = {
        "timeseries": [{"t": t, "ok": 20, "failed": 0} for t in range(10)],
        "server": {
            "series": [
                {"t": float(t), "rss_bytes": 30 * 2**20 + 20 * t * 20 * 1024, "cpu_percent": None}
                for t in range(11)
            ]
        },
        "requests": {"ok": 200},
        "duration_s": 10.0,
    }
    memory = client.memory_summary(data)
    assert memory["verdict"] == "moderate"  # 13 % growth, but under 4 MiB in all
    assert memory["bytes_per_request"] == pytest.approx(20 * 1024)
    assert memory["samples"] == 11
    assert client.memory_summary({"server": {}}) == {}


def test_exit_statuses_agree_in_code_help_and_readme(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from pytest_mcpperf.cli.exitcodes import MEANING, Exit

    assert [int(c) for c in Exit] == [0, 1, 2, 130]
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for argv in (["--help"], ["client", "throughput", "--help"], ["memory", "baseline", "--help"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        help_text = " ".join(capsys.readouterr().out.split())
        for code in Exit:
            assert f"{int(code)} {MEANING[code]}" in help_text
    for code in Exit:
        assert f"| {int(code)} | {MEANING[code]} |" in readme


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--server-url", "ftp://x/mcp"], "--server-url"),
        (["--server-url", "http://127.0.0.1:99999/mcp"], "--server-url"),
        (["--server-url", "http://[::1/mcp"], "--server-url"),
        (["--duration-seconds", "inf"], "--duration-seconds"),
        (["--requests-per-second", "inf"], "--requests-per-second"),
        (["--requests-per-second", "nan"], "--requests-per-second"),
        (["--timeout-seconds", "inf"], "--timeout-seconds"),
        (["--timeout-seconds", "1e300"], "--timeout-seconds"),
        (["--max-response-bytes", "10"], "--max-response-bytes"),
        (["--mix", "[echo"], "--mix"),
        (["--mix", "[]"], "--mix"),
        (["--mix", '[{"method": "nope/nope"}]'], "--mix"),
    ],
)
def test_bad_inputs_are_usage_errors_that_name_the_option(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = [] if "--server-url" in argv else ["--server-url", "http://127.0.0.1:9/mcp"]
    try:
        code = cli.main([*url, "client", "throughput", *argv])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code  # type: ignore[assignment]
    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err
    assert "Traceback" not in err


def test_cli_journey_and_server_processes() -> None:
    argv = ["client", "journey", "--journey-calls", "2", "--transport", "stdio"]
    argv += ["--server-cmd", "python s.py", "--server-processes", "3", "--concurrency", "4"]
    ns: Any = cli.build_parser().parse_args(argv)
    spec = client.build_spec(ns, "stdio:x", 1, reach_fields(ns))
    assert (spec.pattern, spec.journey_calls, spec.users) == ("journey", 2, 4)
    assert (spec.transport, spec.server_processes) == ("stdio", 3)
    for sub in (["stress", "cpu"], ["memory", "baseline"], ["client", "throughput"]):
        ns = cli.build_parser().parse_args([*sub, "--server-processes", "2"])
        assert ns.server_processes == 2
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["client", "journey", "--server-processes", "0"])
