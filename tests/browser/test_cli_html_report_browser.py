"""The HTML report in a real browser: Debian's Chromium driven by Playwright.

Reports of a real CLI run, of a real pytest run with three load tests, of a comparison
of the two, and of a synthetic one-hour run are opened from disk. Each page must log no
console error, request nothing but itself, draw every chart with data, and show on hover
the p99 that the JSON holds. Chromium is Debian's `chromium` package (`.ci/run` installs
it); Playwright is pointed at it, since it cannot download its own browsers here.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_mcpperf import cli, htmlreport
from tests.reportdata import one_hour_run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM_NAMES = ("chromium", "chromium-browser")
RENDER_LIMIT_MS = 2000.0


def chromium_path() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium on PATH: install Debian's `chromium` package (.ci/run does)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'"
    )
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """One report opened in a fresh page, with its console errors and requests."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_selector("body[data-ready='1']", timeout=10_000)

    def check_clean(self) -> None:
        assert self.errors == []
        assert self.requests == [self.url], "the report fetched something"

    def charts(self) -> list[dict[str, Any]]:
        """Every chart: its kind, run, points, non-null values and painted pixels."""
        result: list[dict[str, Any]] = self.page.evaluate("""() =>
            window.mcpperfCharts.map(c => {
              const cv = c.chart.ctx.canvas;
              const px = c.chart.ctx.getImageData(0, 0, cv.width, cv.height).data;
              let painted = 0;
              for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) painted++; }
              const values = c.data.slice(1).map(s => s.filter(v => v !== null).length);
              return {kind: c.kind, run: c.run, points: c.data[0].length,
                      values: values.reduce((a, b) => a + b, 0), painted: painted};
            })""")
        return result

    def check_charts_drawn(self, expected_kinds: set[str]) -> list[dict[str, Any]]:
        charts = self.charts()
        assert expected_kinds <= {c["kind"] for c in charts}
        for chart in charts:
            assert chart["points"] > 0, chart
            assert chart["values"] > 0, chart
            assert chart["painted"] > 1000, chart  # lines, not an empty canvas
        return charts

    def hover_p99(self, run: int, index: int) -> str:
        """Hover the p99 point `index` of run `run`'s latency chart; the legend's text."""
        box = self.page.evaluate(
            """([run, index]) => {
              const c = window.mcpperfCharts.find(c => c.kind === "latency" && c.run === run);
              const u = c.chart;
              u.root.scrollIntoView();
              const r = u.over.getBoundingClientRect();
              // one pixel inside the plot: the first and last points lie on its edges
              const x = Math.min(Math.max(u.valToPos(c.data[0][index], "x"), 1), r.width - 1);
              return {x: r.left + x, y: r.top + u.valToPos(c.data[3][index], "y"),
                      series: c.labels.indexOf("p99") + 1};
            }""",
            [run, index],
        )
        self.page.mouse.move(box["x"], box["y"])
        text: str = self.page.evaluate(
            """([run, series]) => {
              const c = window.mcpperfCharts.find(c => c.kind === "latency" && c.run === run);
              const cells = c.chart.root.querySelectorAll(".u-legend .u-series");
              return cells[series].querySelector(".u-value").textContent;
            }""",
            [run, box["series"]],
        )
        return text


def p99_text(value: float) -> str:
    return f"{value:.3f} ms"


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real 3-second CLI run against the bundled server: its JSON and its HTML."""
    out = tmp_path_factory.mktemp("cli")
    html = out / "run.html"
    args = [
        "--json",
        "client",
        "--duration-seconds",
        "3",
        "throughput",
        "--requests-per-second",
        "100",
        "--html",
        str(html),
    ]
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli.main(args) == 0
    path = out / "run.json"
    path.write_text(buf.getvalue())
    return path, html


THREE_TESTS = """
    import pytest

    @pytest.mark.load(rate=100, duration=2, thresholds=["p99<1000ms"])
    def test_one(perf_client):
        perf_client.run()

    @pytest.mark.load(rate=50, duration=2)
    def test_two(perf_client):
        perf_client.run()

    @pytest.mark.load(pattern="concurrent", concurrency=2, duration=2)
    def test_three(perf_client):
        perf_client.run()
"""


@pytest.fixture(scope="module")
def pytest_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real pytest run of three load tests (bundled server): JSON and HTML reports."""
    import subprocess

    out = tmp_path_factory.mktemp("pytest")
    (out / "test_three.py").write_text(textwrap.dedent(THREE_TESTS))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "--perf-report=json:r.json,html:r.html",
            "test_three.py",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out / "r.json", out / "r.html"


TIME_CHARTS = {"latency", "service", "spectrum", "requests"}


def test_cli_run_report(browser: Any, cli_run: tuple[Path, Path]) -> None:
    json_path, html_path = cli_run
    report = json.loads(json_path.read_text())
    page = Page(browser, html_path)
    page.check_clean()
    page.check_charts_drawn(TIME_CHARTS | {"server"})
    rows = report["timeseries"]
    index = len(rows) // 2
    assert page.hover_p99(0, index) == p99_text(rows[index]["p99_ms"])


def test_pytest_run_with_three_tests(browser: Any, pytest_run: tuple[Path, Path]) -> None:
    json_path, html_path = pytest_run
    results = json.loads(json_path.read_text())["results"]
    assert len(results) == 3
    page = Page(browser, html_path)
    page.check_clean()
    charts = page.check_charts_drawn(TIME_CHARTS)
    assert {c["run"] for c in charts} == {0, 1, 2}
    summary = page.page.locator("table").first.inner_text()
    for result in results:
        assert result["nodeid"] in summary
    for run, result in enumerate(results):
        rows = result["timeseries"]
        assert page.hover_p99(run, 1) == p99_text(rows[1]["p99_ms"])


def test_a_run_of_several_methods_shows_a_table_per_method(
    browser: Any, cli_run: tuple[Path, Path], tmp_path: Path
) -> None:
    report = json.loads(cli_run[0].read_text())
    tool = dict(next(iter(report["per_tool"].values())))
    read = dict(tool, ok=7, failed=1, method="resources/read")
    report["per_method"] = {"tools/call": tool, "resources/read": read}
    report["per_tool"]["resources/read file:///a.txt"] = read
    saved = tmp_path / "mix.json"
    saved.write_text(json.dumps(report))
    out = tmp_path / "mix.html"
    assert cli.main(["report", str(saved), "-o", str(out)]) == 0
    page = Page(browser, out)
    page.check_clean()
    text = page.page.inner_text("main")
    assert "Per method" in text
    assert "Per tool / request" in text
    assert "resources/read file:///a.txt" in text
    methods = page.page.locator("h3:text('Per method') + table").inner_text()
    assert "tools/call" in methods
    assert "resources/read" in methods
    page.page.close()


def test_comparison_report(
    browser: Any, cli_run: tuple[Path, Path], pytest_run: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "compare.html"
    assert cli.main(["report", str(cli_run[0]), str(pytest_run[0]), "-o", str(out)]) == 0
    page = Page(browser, out)
    page.check_clean()
    charts = page.check_charts_drawn(TIME_CHARTS | {"overlay"})
    overlay = next(c for c in charts if c["kind"] == "overlay")
    assert overlay["values"] == 4 * overlay["points"]  # four runs' spectra overlaid
    assert "Comparison" in page.page.inner_text("main")
    page.page.close()


def test_one_hour_report_is_small_and_renders_in_under_two_seconds(
    browser: Any, tmp_path: Path
) -> None:
    path = htmlreport.write(tmp_path / "hour.html", [("hour.json", one_hour_run())])
    size = path.stat().st_size
    assert size < 2_000_000, f"{size / 1e6:.2f} MB"
    started = time.monotonic()
    page = Page(browser, path)
    wall_ms = 1000 * (time.monotonic() - started)
    render_ms = page.page.evaluate("window.mcpperfRenderMs")
    print(
        f"one-hour report: {size / 1e6:.2f} MB, rendered in {render_ms:.0f} ms "
        f"(page ready after {wall_ms:.0f} ms)"
    )
    assert render_ms < RENDER_LIMIT_MS
    page.check_clean()
    page.check_charts_drawn(TIME_CHARTS | {"server", "errors"})
