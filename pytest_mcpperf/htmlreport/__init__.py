"""The self-contained HTML report: one offline file with interactive charts.

`render(documents)` turns report JSON documents (one CLI run, a pytest report, or
several of them for a comparison) into one HTML page. Everything the page needs is
inline: the vendored chart library (uPlot, MIT, see `assets/README.md`), this package's
own script and styles, and the data (`model.build`), so the file opens from disk with no
network access. Neither pytest nor argparse is imported here: both front ends and the
`mcpperf report` command call this.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pytest_mcpperf.htmlreport.model import ReportFormatError, build, runs_of
from pytest_mcpperf.version import __version__

ASSETS = ("uPlot.min.css", "report.css", "uPlot.iife.min.js", "report.js", "template.html")


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    """Text that cannot end its <script> element early (nor open a comment)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def render(documents: Sequence[tuple[str, Mapping[str, Any]]], title: str = "") -> str:
    """The HTML page for `(source name, report document)` pairs."""
    model = build(documents)
    model["generator"] = f"pytest-mcpperf {__version__}"
    heading = title or _title(model)
    model["title"] = heading
    data = json.dumps(model, separators=(",", ":"), allow_nan=False, default=str)
    page = _asset("template.html")
    for key, value in (
        ("TITLE", html.escape(heading)),
        ("UPLOT_CSS", _asset("uPlot.min.css")),
        ("REPORT_CSS", _asset("report.css")),
        ("UPLOT_JS", _script_safe(_asset("uPlot.iife.min.js"))),
        ("REPORT_JS", _script_safe(_asset("report.js"))),
        ("DATA", _script_safe(data)),
    ):
        page = page.replace("{{" + key + "}}", value)
    return page


def _title(model: Mapping[str, Any]) -> str:
    runs = model["runs"]
    if model["comparison"]:
        return f"mcpperf comparison of {len(model['sources'])} reports"
    if len(runs) == 1:
        return f"mcpperf: {runs[0]['label']}"
    return f"mcpperf: {len(runs)} load tests"


def write(path: Path, documents: Sequence[tuple[str, Mapping[str, Any]]]) -> Path:
    """Render and write atomically (a reader never sees half a page)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render(documents), encoding="utf-8")
    tmp.replace(path)
    return path


__all__ = ["ReportFormatError", "build", "render", "runs_of", "write"]
