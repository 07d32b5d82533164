"""`mcpperf client --memory-check [PERCENT]` and the memory lines of the CLI's output."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_mcpperf import cli
from pytest_mcpperf.analysis.criteria import check_memory
from pytest_mcpperf.cli.memory import trend_lines
from tests.memfakes import leaking, run_report


def test_the_client_option() -> None:
    def parse(*extra: str) -> Any:
        return cli.build_parser().parse_args(["client", "throughput", *extra])

    assert parse().memory_check == 0.0
    assert parse("--memory-check").memory_check == 10.0
    assert parse("--memory-check", "25").memory_check == 25.0


def test_a_bad_client_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["client", "throughput", "--memory-check", "lots"])
    assert exc.value.code == 2
    assert "invalid --memory-check 'lots': expected True" in capsys.readouterr().err


def test_the_text_lines_give_both_halves_and_the_reason() -> None:
    _, memory = check_memory(run_report(leaking), 10.0, "memory_check=10")
    assert memory is not None
    lines = trend_lines(memory)
    assert lines[0] == "Memory: leak (rising), growth +29.30%, 4,096 bytes/request"
    assert lines[1].startswith("Trend: first half 4,096 bytes/request, 2,000.0 KiB/s (+5.9 MiB)")
    assert "second half 4,096 bytes/request" in lines[1]
    assert lines[2].startswith("Reason: RSS kept rising through the second half")


def test_the_cli_names_its_own_options_in_the_fix() -> None:
    outcome, _ = check_memory(run_report(leaking), 10.0, "--memory-check 10", "cli")
    assert "growth < 10%, from --memory-check 10)" in outcome.message
    assert "warm-up (--warmup-seconds), or allow more growth (--memory-check PERCENT)" in (
        outcome.message
    )
