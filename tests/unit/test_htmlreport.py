"""The HTML report's data and the .hgrm format, without a browser."""

from __future__ import annotations

import io
import json

import pytest

from pytest_mcpperf import htmlreport
from pytest_mcpperf.engine import stats
from pytest_mcpperf.htmlreport import hgrm, model
from pytest_mcpperf.progress import INPLACE, LiveProgress, StreamSink, style_for
from tests.reportdata import histogram, one_hour_run

TWO_MB = 2_000_000


def test_hgrm_of_a_known_histogram_parses_back_to_the_same_percentiles() -> None:
    h = stats.new_histogram()
    for value_us in range(1, 10_001):  # 1 µs .. 10 ms, once each
        h.record_value(value_us)
    h.record_value(250_000, 3)  # a tail
    steps = hgrm.read(hgrm.write(h))
    # every line: its value is the histogram's value at its percentile (ms, 3 decimals)
    for step in steps:
        expected = h.get_value_at_percentile(100.0 * step.percentile) / 1000.0
        assert step.value == pytest.approx(expected, abs=0.0005), step
    # the report's own percentiles are lines of the file
    summary = stats.summary_ms(h)
    for key, pct in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9)):
        assert hgrm.value_at(steps, pct) == pytest.approx(summary[key], abs=0.0005), key  # type: ignore[literal-required]
    assert hgrm.value_at(steps, 100.0) == summary["max"]
    assert steps[-1].total_count == h.get_total_count() == 10_003


def test_hgrm_of_an_empty_histogram_has_no_lines_and_says_so() -> None:
    steps = hgrm.read(hgrm.write(stats.new_histogram()))
    assert steps == []
    with pytest.raises(ValueError, match="empty"):
        hgrm.value_at(steps, 50.0)


def test_a_one_hour_run_report_stays_under_two_mb() -> None:
    page = htmlreport.render([("hour.json", one_hour_run())])
    size = len(page.encode())
    assert size < TWO_MB, f"{size / 1e6:.2f} MB"
    data = json.loads(page.split('id="mcpperf-data">', 1)[1].split("</script>", 1)[0])
    series = data["runs"][0]["series"]
    assert series["step_s"] == 4
    assert len(series["t"]) == 900
    # a bucket's latency is its worst second, counts a per-second mean
    rows = one_hour_run()["timeseries"]
    assert series["p99_ms"][1] == max(r["p99_ms"] for r in rows[4:8])
    assert series["sent"][1] == 1000.0


def test_short_runs_keep_every_second() -> None:
    rows = [{"t": t, "sent": 5, "ok": 5, "failed": 0, "p99_ms": 1.5 + t} for t in range(10)]
    series = model.time_series(rows)
    assert series["step_s"] == 1
    assert series["p99_ms"] == [r["p99_ms"] for r in rows]


def test_spectrum_follows_the_histogram() -> None:
    h = histogram(100_000)
    sp = model.spectrum({"latency_us": stats.encode(h)})
    x = sp["x"]
    assert x[0] == 1.0
    assert x[-1] == pytest.approx(100_000.0)
    at_p99 = x.index(100.0)
    assert sp["latency"][at_p99] == h.get_value_at_percentile(99.0) / 1000.0
    assert "service" not in sp


def test_data_cannot_close_the_script_element() -> None:
    run = one_hour_run(rate=10, seconds=3)
    run["scenario"] = "</script><script>alert(1)</script>"
    page = htmlreport.render([("x.json", run)])
    assert "</script><script>alert(1)" not in page
    assert page.count("</script>") == 3  # the data, uPlot, the report's own script


def test_a_file_that_is_not_a_report_is_refused_with_the_fix() -> None:
    with pytest.raises(model.ReportFormatError, match=r"not an mcpperf report.*mcpperf client"):
        htmlreport.render([("x.json", {"hello": 1})])


def test_progress_on_a_terminal_rewrites_one_line() -> None:
    out = io.StringIO()
    assert style_for("auto", True, env={}) == INPLACE
    assert style_for("auto", True, env={"CI": "true"}) == "periodic"
    assert style_for("none", True, env={}) is None
    live = LiveProgress(StreamSink(out), INPLACE, "t", 3.0)
    for s in (1, 2):
        live(
            type(
                "U",
                (),
                {"elapsed_s": s, "sent": s, "ok": s, "failed": 0, "rps": 1.0, "p99_ms": 1.25},
            )()
        )
    live.close()
    assert out.getvalue() == (
        "\rmcpperf t: 1/3 s, sent 1, ok 1, failed 0, 1 rps, p99 1.2 ms\x1b[K"
        "\rmcpperf t: 2/3 s, sent 2, ok 2, failed 0, 1 rps, p99 1.2 ms\x1b[K\n"
    )
