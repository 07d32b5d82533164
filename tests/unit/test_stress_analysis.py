"""Exact tests of the stress procedure and analysis (pytest_mcpperf.analysis.stress)."""

from __future__ import annotations

import pytest

from pytest_mcpperf.analysis.stress import (
    BaselineRange,
    ProbePolicy,
    ProbeSample,
    StressLoad,
    Tally,
    analyze,
    analyze_phases,
    build_report,
    combine,
    grade,
    grade_message,
    recovered,
    recovery_time,
    reliability_percent,
    run_stress,
    stress_specs,
    tally_from_requests,
)
from tests.stressfakes import URL, FakeServer, ScriptedEngine, killing_stress


def requests(scheduled: int, ok: int, **errors: int) -> dict[str, object]:
    failed = sum(errors.values())
    return {
        "scheduled": scheduled,
        "sent": scheduled,
        "completed": ok + failed,
        "ok": ok,
        "failed": failed,
        "errors": errors,
    }


def test_seed_example_reliability_and_grade() -> None:
    # the seed's block: 50000 sent, 47125 successful -> 94.25 %, which is MODERATE
    t = tally_from_requests(requests(50000, 47125, tool_error=1625, timeout=1250))
    assert reliability_percent(t) == pytest.approx(94.25)
    assert grade(94.25) == "MODERATE"


def test_http_4xx_are_never_successes() -> None:
    t = tally_from_requests(requests(1000, 900, http_error=100))
    assert t.http_error == 100
    assert reliability_percent(t) == 90.0
    # a report that counted 400s as ok as well (the original's bug) is corrected
    bad = {
        "scheduled": 1000,
        "sent": 1000,
        "completed": 1000,
        "ok": 1000,
        "failed": 100,
        "errors": {"http_error": 100},
    }
    assert tally_from_requests(bad).ok == 900
    assert reliability_percent(tally_from_requests(bad)) == 90.0


def test_unsent_and_timed_out_requests_count_against_reliability() -> None:
    # 1000 scheduled, only 800 sent, 700 ok, 100 timed out
    t = tally_from_requests(
        {
            "scheduled": 1000,
            "sent": 800,
            "completed": 700,
            "ok": 700,
            "failed": 100,
            "errors": {"timeout": 100},
        }
    )
    assert t.attempted == 1000
    assert reliability_percent(t) == 70.0


def test_deliberate_errors_do_not_lower_reliability() -> None:
    normal = tally_from_requests(requests(500, 500))
    chaos = tally_from_requests(requests(500, 0, tool_error=200, rpc_error=200, http_error=100))
    a = analyze(normal, deliberate=chaos, recovery_s=0.0)
    assert a.reliability_percent == 100.0
    assert a.grade == "EXCELLENT"
    assert a.passed
    assert a.to_report()["deliberate"]["failed"] == 500


def test_reliability_needs_an_expected_success() -> None:
    with pytest.raises(ValueError, match="lower --error-rate-percent"):
        reliability_percent(Tally())


@pytest.mark.parametrize(
    ("pct", "name"),
    [
        (100, "EXCELLENT"),
        (99, "EXCELLENT"),
        (98.999, "GOOD"),
        (95, "GOOD"),
        (94.999, "MODERATE"),
        (90, "MODERATE"),
        (89.999, "POOR"),
        (0, "POOR"),
    ],
)
def test_grades(pct: float, name: str) -> None:
    assert grade(pct) == name


def test_grade_messages() -> None:
    assert grade_message("GOOD") == "Server handled stress adequately"


def test_combine_adds_field_by_field() -> None:
    t = combine([Tally(scheduled=3, ok=2, failed=1, timeout=1), Tally(scheduled=4, ok=4)])
    assert t == Tally(scheduled=7, ok=6, failed=1, timeout=1)


def base() -> BaselineRange:
    samples = [
        ProbeSample(-3, 2.0, 20, 0),
        ProbeSample(-2, 4.0, 20, 0),
        ProbeSample(-1, 3.0, 19, 1),
    ]
    return BaselineRange.from_samples(samples)


def test_baseline_range() -> None:
    healthy = base()
    assert healthy.p99_limit_ms == pytest.approx(4.0 * 1.5 + 5.0)  # 11 ms
    assert healthy.error_rate_limit == pytest.approx(0.05 + 0.01)
    assert healthy.contains(ProbeSample(0, 11.0, 94, 6))
    assert not healthy.contains(ProbeSample(0, 11.01, 100, 0))
    assert not healthy.contains(ProbeSample(0, 1.0, 93, 7))
    assert not healthy.contains(ProbeSample(0, 0.0, 0, 0))  # silence is not health


def test_baseline_without_completions_is_an_error() -> None:
    with pytest.raises(ValueError, match="check that the server answers"):
        BaselineRange.from_samples([ProbeSample(0, 0.0, 0, 0)])


def test_recovery_time_is_the_start_of_the_first_healthy_run() -> None:
    probes = [
        ProbeSample(0.0, 900.0, 5, 15),  # overloaded
        ProbeSample(1.0, 50.0, 20, 0),  # slow
        ProbeSample(2.0, 8.0, 20, 0),  # healthy ...
        ProbeSample(3.0, 30.0, 20, 0),  # ... but a relapse
        ProbeSample(4.0, 6.0, 20, 0),  # healthy from here on
        ProbeSample(5.0, 5.0, 20, 0),
        ProbeSample(6.0, 4.0, 20, 0),
    ]
    assert recovery_time(probes, base(), hold=3) == 4.0
    assert recovery_time(probes, base(), hold=1) == 2.0
    assert recovered(probes, base(), hold=3)
    assert not recovered(probes[:6], base(), hold=3)


def test_recovery_is_zero_when_healthy_at_once_and_none_when_never() -> None:
    healthy = [ProbeSample(float(i), 3.0, 20, 0) for i in range(3)]
    assert recovery_time(healthy, base()) == 0.0
    sick = [ProbeSample(float(i), 300.0, 20, 0) for i in range(30)]
    assert recovery_time(sick, base()) is None
    assert recovery_time([], base()) is None


def test_recovery_probes_are_taken_in_time_order() -> None:
    probes = [
        ProbeSample(2.0, 3.0, 20, 0),
        ProbeSample(0.0, 300.0, 20, 0),
        ProbeSample(1.0, 3.0, 20, 0),
    ]
    assert recovery_time(probes, base(), hold=2) == 1.0


def test_recovery_hold_must_be_positive() -> None:
    with pytest.raises(ValueError, match="1 or more"):
        recovery_time([], base(), hold=0)


def test_pass_requires_alive_not_poor_and_recovery_under_30_s() -> None:
    ok = Tally(scheduled=100, ok=100)
    assert analyze(ok, recovery_s=29.9).passed
    assert not analyze(ok, recovery_s=30.0).passed
    assert not analyze(ok, recovery_s=None).passed
    assert analyze(ok, recovery_s=None, recovery_measured=False).passed
    assert not analyze(ok, server_alive=False, recovery_measured=False).passed
    poor = analyze(Tally(scheduled=100, ok=89), recovery_s=1.0)
    assert poor.grade == "POOR"
    assert not poor.passed


def test_stress_report_object() -> None:
    rep = analyze(Tally(scheduled=200, ok=199), recovery_s=2.34567).to_report()
    assert rep["reliability_percent"] == 99.5
    assert rep["grade"] == "EXCELLENT"
    assert rep["recovery_s"] == 2.346
    assert rep["server_alive"] is True


# --- the stress procedure, with a fake engine ----------------------------------------


def test_chaos_sends_the_error_rate_as_deliberate_faults_alongside() -> None:
    load = StressLoad("chaos", max_concurrent=10, error_rate_percent=30, requests_per_second=200.0)
    ordinary, faults = stress_specs(load, URL, None)
    assert faults is not None
    assert (ordinary.pattern, faults.pattern) == ("throughput", "throughput")
    assert (ordinary.rate, faults.rate) == (140.0, 60.0)
    assert (ordinary.concurrency, faults.concurrency) == (7, 3)
    assert {c.tool for c in faults.mix} == {"error_simulation"}
    assert "error_simulation" not in {c.tool for c in ordinary.mix}
    assert len({c.tool for c in ordinary.mix}) == 5
    assert stress_specs(StressLoad("chaos", error_rate_percent=0), URL, None)[1] is None


def test_memory_stress_spec() -> None:
    load = StressLoad("memory", duration_s=5.0, max_concurrent=40, mb_per_request=100)
    spec, faults = stress_specs(load, URL, 7)
    assert faults is None
    assert (spec.pattern, spec.users, spec.tool) == ("concurrent", 40, "memory_allocate")
    assert spec.arguments == {"mb_size": 100}
    assert (spec.duration_s, spec.server_pid) == (5.0, 7)


def test_unknown_mode_and_inverted_probe_policy_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown stress mode 'melt'"):
        StressLoad("melt")
    with pytest.raises(ValueError, match="shorten the interval"):
        ProbePolicy(timeout_s=1.0, interval_s=2.0)


def test_stress_phases_measure_recovery_from_the_probe_series() -> None:
    # baseline 2, 3, 4 ms -> healthy p99 <= 11 ms; then 400, 90, 12, 5, 4, 3 ms
    engine = ScriptedEngine([2.0, 3.0, 4.0, 400.0, 90.0, 12.0, 5.0, 4.0, 3.0, 2.0])
    ph = run_stress(
        FakeServer(),
        StressLoad("memory", duration_s=5.0),
        ProbePolicy(),
        engine.run_many,
        engine.clock,
    )
    assert [p.t for p in ph.probes] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # stopped once held
    a = analyze_phases(ph, hold=3)
    assert a.recovery_s == 3.0
    assert a.reliability_percent == 96.0
    assert a.grade == "GOOD"
    assert a.passed
    report = build_report(ph, a)["stress"]
    assert report["healthy_range"]["p99_ms"] == pytest.approx(11.0)
    assert [p["p99_ms"] for p in report["baseline"]] == [2.0, 3.0, 4.0]


def test_stress_probing_is_bounded_when_the_server_never_recovers() -> None:
    engine = ScriptedEngine([2.0, 2.0, 2.0] + [500.0] * 100)
    ph = run_stress(
        FakeServer(),
        StressLoad("cpu", duration_s=2.0),
        ProbePolicy(timeout_s=10.0),
        engine.run_many,
        engine.clock,
    )
    assert len(ph.probes) == 10
    a = analyze_phases(ph, hold=3)
    assert a.recovery_s is None
    assert not a.passed


def test_a_server_that_dies_under_stress_is_a_result_not_an_error() -> None:
    engine = ScriptedEngine([2.0, 2.0, 2.0])
    server = FakeServer()
    ph = run_stress(
        server,
        StressLoad("memory", duration_s=1.0),
        ProbePolicy(),
        killing_stress(engine, server),
        engine.clock,
    )
    a = analyze_phases(ph, hold=3)
    assert (a.server_alive, a.grade, a.recovery_s, a.passed) == (False, "POOR", None, False)
    assert ph.died_with.startswith("cannot start an MCP session")
