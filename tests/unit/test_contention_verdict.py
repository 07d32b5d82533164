"""The `contended` verdict: other work on the host, judged beside the generator's and the
server's own CPU (engine.accuracy), and shown in every front end's output."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_mcpperf.analysis.criteria import assert_p99, check_thresholds, failure_message
from pytest_mcpperf.engine import accuracy
from pytest_mcpperf.engine.accuracy import Limits, SelfCheck
from pytest_mcpperf.engine.report import text_block
from pytest_mcpperf.summary import client_bound_note, contended_note, render


def _check(**kw: Any) -> SelfCheck:
    c = SelfCheck(target_rps=200.0, window_s=4.0, cpu_percent=[10.0], host_cpus=2)
    for _ in range(800):
        c.dispatch(0.0005, Limits())
    for k, v in kw.items():
        setattr(c, k, v)
    return c


# Figures of benchmarks/contention.py, open loop at 200 rps on 2 cores.
QUIET = {"host_busy_percent": 14.8, "cpu_percent": [7.1]}  # server 14.2%
TWO_LOOPS = {"host_busy_percent": 99.9, "cpu_percent": [8.1]}  # server 15.9%
ONE_LOOP_OPEN = {"host_busy_percent": 62.5, "cpu_percent": [8.7]}  # server 16.2%


def test_two_busy_loops_are_contended_and_the_reason_names_the_host() -> None:
    c = _check(**TWO_LOOPS)
    assert accuracy.other_work_percent(c, 15.9) == pytest.approx(88.0, abs=0.1)
    verdict, reason = accuracy.verdict(c, Limits(), server_cpu_percent=15.9)
    assert verdict == "contended"
    assert reason.startswith(
        "host CPUs 100% busy and other work used 88% of the 2 cores "
        "(generator 8%, server 16% of one core)"
    )
    assert "stop the other work" in reason


def test_a_quiet_host_is_valid() -> None:
    c = _check(**QUIET)
    assert accuracy.other_work_percent(c, 14.2) == pytest.approx(4.15, abs=0.01)
    assert accuracy.verdict(c, Limits(), server_cpu_percent=14.2)[0] == "valid"


def test_other_work_on_a_host_with_idle_cpus_disturbs_nothing() -> None:
    # one busy loop beside a modest open loop: 50% other work, but the host had room
    c = _check(**ONE_LOOP_OPEN)
    assert accuracy.verdict(c, Limits(), server_cpu_percent=16.2)[0] == "valid"


def test_a_busy_host_of_our_own_work_is_not_contended() -> None:
    # closed loop against nginx-mcp: generator 98%, nginx 79%, host 91% busy: 1.5% other
    c = _check(host_busy_percent=91.0, cpu_percent=[98.0])
    verdict, reason = accuracy.verdict(c, Limits(), server_cpu_percent=79.0)
    assert verdict == "client_bound"
    assert "host CPUs" not in reason


def test_without_the_servers_cpu_other_work_is_not_judged() -> None:
    c = _check(**TWO_LOOPS)
    assert accuracy.other_work_percent(c, None) is None
    assert accuracy.verdict(c, Limits())[0] == "valid"


def test_steal_alone_is_contended() -> None:
    verdict, reason = accuracy.verdict(
        _check(host_steal_percent=13.2, **QUIET), Limits(), server_cpu_percent=14.2
    )
    assert verdict == "contended"
    assert reason.startswith("the hypervisor stole 13% of the CPUs' time")


def test_contended_wins_over_client_bound_and_names_both() -> None:
    c = _check(host_busy_percent=100.0, cpu_percent=[95.0])
    verdict, reason = accuracy.verdict(c, Limits(), server_cpu_percent=20.0)
    assert verdict == "contended"
    assert "the generator also showed: generator CPU 95% of one core" in reason


def test_limits_at_their_edges() -> None:
    lim = Limits()
    # exactly at both limits: contended; just under either: valid
    at = _check(host_busy_percent=lim.contended_busy_percent, cpu_percent=[10.0])
    server = 100.0 * 2 * (lim.contended_busy_percent - lim.other_share_percent) / 100.0 - 10.0
    assert accuracy.verdict(at, lim, server_cpu_percent=server)[0] == "contended"
    assert accuracy.verdict(at, lim, server_cpu_percent=server + 1.0)[0] == "valid"
    under = _check(host_busy_percent=lim.contended_busy_percent - 0.1, cpu_percent=[10.0])
    assert accuracy.verdict(under, lim, server_cpu_percent=0.0)[0] == "valid"


def contended_report() -> dict[str, Any]:
    c = _check(**TWO_LOOPS)
    acc = accuracy.report_dict(c, Limits(), sent=800, server={"cpu_percent": {"mean": 15.9}})
    ms = {"min": 0.5, "mean": 1.0, "p50": 1.0, "p90": 1.5, "p99": 7.5, "p999": 9.0, "max": 9.5}
    return {
        "nodeid": "t.py::test_x",
        "outcome": "passed",
        "duration_s": 4.0,
        "target": {"url": "http://127.0.0.1:1/mcp", "pid": 4242},
        "requests": {
            "scheduled": 800,
            "sent": 800,
            "completed": 800,
            "ok": 800,
            "failed": 0,
            "errors": {},
        },
        "throughput_rps": 200.0,
        "latency_ms": ms,
        "service_time_ms": ms,
        "accuracy": acc,
        "server": {"rss_mb": {"start": 40.0, "peak": 41.0, "end": 41.0}, "growth_percent": 2.5},
    }


def test_the_report_carries_the_verdict_reason_and_other_work() -> None:
    acc = contended_report()["accuracy"]
    assert acc["verdict"] == "contended"
    assert acc["host_other_work_percent"] == pytest.approx(88.0, abs=0.1)
    assert acc["host_cpu_busy_percent"] == 99.9
    assert "other work used 88%" in acc["reason"]


def test_the_text_block_shows_the_verdict_and_the_host() -> None:
    out = text_block(contended_report())  # type: ignore[arg-type]
    assert "Generator: contended (host CPUs 100% busy and other work used 88%" in out
    assert "Host: 100% of 2 CPUs busy, other work 88%, steal 0%" in out


def test_the_pytest_summary_says_contended_and_why() -> None:
    entries = [contended_report()]
    assert render(entries)[1].split()[-1] == "contended"
    assert client_bound_note(entries) is None
    note = contended_note(entries)
    assert note is not None
    assert note.startswith("1 run(s) were contended: other work on the host disturbed them")
    assert "t.py::test_x: host CPUs 100% busy and other work used 88%" in note
    assert contended_note([{**entries[0], "accuracy": {"verdict": "valid"}}]) is None


def test_assertion_failures_say_the_run_was_contended() -> None:
    report = contended_report()
    with pytest.raises(AssertionError) as err:
        assert_p99(report, max_ms=1.0)
    text = str(err.value)
    assert "p99 latency was 7.5 ms" in text
    assert "this run was CONTENDED (accuracy.verdict=contended)" in text
    assert "host CPUs 100% busy and other work used 88%" in text
    failed = [o for o in check_thresholds(report, ["p99<1ms"]) if not o.passed]
    assert "CONTENDED" in failure_message(failed)


def test_a_window_too_short_for_the_hosts_counters_is_not_judged_contended() -> None:
    # A burst of 200 answered in 4 ms (scenarios' test_burst over stdio): /proc/stat's
    # 10 ms ticks read the host 100% busy and the server's tree 0%.
    c = _check(window_s=0.004, **TWO_LOOPS)
    assert accuracy.contention(c, Limits(), 0.0) == []
    assert accuracy.verdict(c, Limits(), server_cpu_percent=0.0)[0] == "valid"
    # the same figures over a window the counters can resolve are contended
    c.window_s = Limits().host_window_min_s
    assert accuracy.verdict(c, Limits(), server_cpu_percent=0.0)[0] == "contended"


def test_a_short_window_does_not_blame_a_busy_host_for_the_generator() -> None:
    c = _check(window_s=0.004, host_busy_percent=100.0, cpu_percent=[60.0])
    assert accuracy.verdict(c, Limits(), server_cpu_percent=0.0)[0] == "valid"
