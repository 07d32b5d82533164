from __future__ import annotations

from typing import Any

import pytest

from pytest_mcpperf.engine import accuracy
from pytest_mcpperf.engine.accuracy import Limits, SelfCheck
from pytest_mcpperf.vocabulary import option


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _check(**kw: Any) -> SelfCheck:
    c = SelfCheck(target_rps=100.0, window_s=10.0, cpu_percent=[20.0])
    for _ in range(1000):
        c.dispatch(0.001, Limits())
    for k, v in kw.items():
        setattr(c, k, v)
    return c


def test_valid_when_the_generator_kept_up() -> None:
    verdict, reason = accuracy.verdict(_check(), Limits())
    assert verdict == "valid"
    assert "late sends 0" in reason


def test_late_sends_make_it_client_bound() -> None:
    c = _check()
    clock = FakeClock()
    for _ in range(20):  # 20 of 1020 = 2% late by 50 ms
        due = clock.now
        clock.now += 0.050
        c.dispatch(clock() - due, Limits())
    verdict, reason = accuracy.verdict(c, Limits())
    assert verdict == "client_bound"
    assert "20 of 1020 sends (2.0%)" in reason
    assert "worst 50 ms" in reason


def test_one_late_send_in_a_short_run_is_a_hiccup_two_are_not() -> None:
    # 20 sends at 20 requests/s; one left 22 ms late (a host stall): counted, charged to
    # its own latency, but one request does not make the generator the limit
    c = SelfCheck(target_rps=20.0, window_s=1.0, send_window_s=1.0, cpu_percent=[5.0])
    for late in [0.0005] * 19 + [0.022]:
        c.dispatch(late, Limits())
    assert c.late_sends == 1
    assert accuracy.verdict(c, Limits())[0] == "valid"
    c.dispatch(0.015, Limits())
    verdict, reason = accuracy.verdict(c, Limits())
    assert verdict == "client_bound"
    assert "2 of 21 sends" in reason


def test_low_send_rate_makes_it_client_bound() -> None:
    verdict, reason = accuracy.verdict(_check(target_rps=200.0), Limits())
    assert verdict == "client_bound"
    assert "dispatched 100 requests/s of the 200 targeted" in reason


def test_a_rate_beyond_reach_names_what_was_sent_not_what_was_skipped() -> None:
    # 1,000 dispatched over 10 s, 900 of them never sent: 10 sent per second
    check = _check(target_rps=1e9, not_sent=900)
    verdict, reason = accuracy.verdict(check, Limits())
    assert verdict == "client_bound"
    assert "sent 10 requests/s of the 1e+09 targeted (900 more never sent)" in reason


def test_cpu_saturation_makes_it_client_bound() -> None:
    verdict, reason = accuracy.verdict(_check(cpu_percent=[40.0, 97.0]), Limits())
    assert verdict == "client_bound"
    assert "generator CPU 97% of one core" in reason
    assert "LoadSpec.processes N" in reason


@pytest.mark.parametrize(
    ("front_end", "flag"), [("cli", "--processes"), ("pytest", "--perf-processes")]
)
def test_the_hint_names_the_callers_own_option(front_end: str, flag: str) -> None:
    _, reason = accuracy.verdict(
        _check(cpu_percent=[97.0]), Limits(), processes_option=option(front_end, "processes")
    )
    assert f"try {flag} N" in reason


def test_loop_lag_on_a_fake_clock() -> None:
    clock = FakeClock()
    tracker = accuracy.LagTracker()
    for i in range(100):
        expected = clock.now + 0.010
        clock.now = expected + (0.030 if i >= 95 else 0.0005)
        tracker.observe(expected, clock())
    c = _check(lag=tracker.hist)
    verdict, reason = accuracy.verdict(c, Limits())
    assert verdict == "client_bound"
    assert "event-loop lag p99 30.1 ms" in reason  # 2-digit HDR bucket of 30 ms
    d = accuracy.report_dict(c, Limits(), sent=1000)
    assert d["loop_lag_ms"]["max"] == pytest.approx(30.0, rel=0.01)


def test_gc_tracker_on_a_fake_clock() -> None:
    clock = FakeClock()
    gc_tracker = accuracy.GcTracker(clock)
    for pause in (0.002, 0.010, 0.003):
        gc_tracker("start", {})
        clock.now += pause
        gc_tracker("stop", {})
        clock.now += 1.0
    assert gc_tracker.collections == 3
    assert round(gc_tracker.total_s, 9) == 0.015
    assert gc_tracker.max_s == pytest.approx(0.010)
    c = _check(gc_total_s=0.5)  # 5% of a 10 s window
    assert accuracy.verdict(c, Limits())[0] == "client_bound"


def test_cpu_meter_on_fake_clocks() -> None:
    wall, cpu = FakeClock(), FakeClock()
    meter = accuracy.CpuMeter(wall, cpu)
    wall.now, cpu.now = 4.0, 3.0
    assert meter.percent() == 75.0


def test_merge_and_wire() -> None:
    a, b = _check(), _check(cpu_percent=[50.0])
    b.late_sends = 3
    a.merge(accuracy.SelfCheck.from_wire(b.to_wire()))
    assert a.dispatched == 2000
    assert a.target_rps == 200.0
    assert a.late_sends == 3
    assert a.cpu_percent == [20.0, 50.0]
    d = accuracy.report_dict(a, Limits(), sent=2000)
    assert d["achieved_send_rps"] == 200.0
    assert d["verdict"] == "valid"
    assert d["client_cpu_percent"] == 50.0


def test_saturated_host_with_a_busy_generator_is_client_bound() -> None:
    busy, total = FakeClock(), FakeClock()
    meter = accuracy.HostCpuMeter(lambda: (busy(), total()))
    busy.now, total.now = 19.4, 20.0  # two cores for 10 s, 97% busy
    c = _check(cpu_percent=[62.0], host_busy_percent=meter.percent())
    verdict, reason = accuracy.verdict(c, Limits())
    assert verdict == "client_bound"
    assert "host CPUs 97% busy while the generator used 62% of a core" in reason
    # a saturated host where the generator is a small consumer: the server is the limit
    assert (
        accuracy.verdict(_check(cpu_percent=[20.0], host_busy_percent=99.0), Limits())[0] == "valid"
    )


def test_slow_answers_do_not_lower_the_send_rate() -> None:
    # 50 requests sent on time over 1 s; the last answer came 0.1 s after the plan's end.
    c = SelfCheck(target_rps=50.0, window_s=1.1, send_window_s=1.0, cpu_percent=[5.0])
    for _ in range(50):
        c.dispatch(0.0, Limits())
    verdict, _ = accuracy.verdict(c, Limits())
    assert verdict == "valid"
    assert accuracy.report_dict(c, Limits(), sent=50)["achieved_send_rps"] == 50.0


def test_a_send_window_past_the_plan_is_client_bound() -> None:
    # The same 50 sends took 1.25 s to leave: 40/s of the 50/s targeted.
    c = SelfCheck(target_rps=50.0, window_s=1.3, send_window_s=1.25, cpu_percent=[5.0])
    for _ in range(50):
        c.dispatch(0.0, Limits())
    verdict, reason = accuracy.verdict(c, Limits())
    assert verdict == "client_bound"
    assert "dispatched 40 requests/s of the 50 targeted" in reason


def test_host_at_88_percent_with_two_half_busy_generators_is_client_bound() -> None:
    # Measured beside nginx-mcp on 2 cores: two generators at 53% each, host 88% busy.
    c = _check(cpu_percent=[52.9, 53.9], host_busy_percent=88.0)
    verdict, reason = accuracy.verdict(c, Limits(), processes=2)
    assert verdict == "client_bound"
    assert "host CPUs 88% busy" in reason
    assert (
        accuracy.verdict(_check(cpu_percent=[53.0], host_busy_percent=80.0), Limits())[0] == "valid"
    )
