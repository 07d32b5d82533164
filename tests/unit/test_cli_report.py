"""`mcpperf report`: the HTML page and `.hgrm` export from saved reports (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_mcpperf import cli
from pytest_mcpperf.engine import stats
from pytest_mcpperf.htmlreport import hgrm
from tests.reportdata import one_hour_run


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(one_hour_run(rate=20, seconds=30)))
    return path


def test_report_writes_one_html_file(saved: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert cli.main(["report", str(saved), "-o", str(out)]) == 0
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "src=" not in page.split("<script", 1)[0]  # nothing loaded from elsewhere


def test_hgrm_of_a_pytest_report_needs_the_run(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = json.loads(saved.read_text())
    doc = tmp_path / "pytest.json"
    results = [{"nodeid": "t.py::a", **run}, {"nodeid": "t.py::b", **run}]
    doc.write_text(json.dumps({"schema": "mcpperf/1", "results": results}))
    assert cli.main(["report", str(doc), "--hgrm", "latency_us"]) == 2
    assert "holds 2 runs (1 t.py::a, 2 t.py::b); pick one with --run N" in capsys.readouterr().err
    out = tmp_path / "l.hgrm"
    assert cli.main(["report", str(doc), "--hgrm", "latency_us", "--run", "2", "-o", str(out)]) == 0
    h = stats.decode(run["histograms"]["latency_us"])
    steps = hgrm.read(out.read_text())
    assert hgrm.value_at(steps, 99.0) == pytest.approx(
        h.get_value_at_percentile(99) / 1000, abs=5e-4
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "could not be read as JSON"),
        ('{"schema": "other"}', "is not an mcpperf report"),
        ("[1]", "holds no JSON object"),
    ],
)
def test_bad_files_are_refused_with_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert cli.main(["report", str(bad), "-o", str(tmp_path / "x.html")]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "x.html").exists()
