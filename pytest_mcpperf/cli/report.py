"""`mcpperf report`: the HTML report of saved runs, or one histogram as `.hgrm`.

    mcpperf report RUN.json [OTHER.json ...] -o report.html
    mcpperf report RUN.json --hgrm latency_us [--run N] [-o latency.hgrm]

A file is a run saved with `mcpperf client --json > RUN.json` or a pytest report
(`--perf-report=json:PATH`). Several files make a comparison: overlaid spectra and a
table of changes against the first. `--hgrm` writes one of the run's HDR histograms
(`latency_us`, `service_time_us`) in HdrHistogram's percentile format, in milliseconds,
to stdout or to -o; `--run N` picks the Nth run of a pytest report (from 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pytest_mcpperf.cli.exitcodes import EPILOG, FORMATTER, Exit
from pytest_mcpperf.engine import stats
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.htmlreport import ReportFormatError, hgrm, runs_of, write


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report",
        help="write the HTML report of saved runs (or a histogram as .hgrm)",
        description=__doc__,
        epilog=EPILOG,
        formatter_class=FORMATTER,
    )
    p.add_argument("files", nargs="+", metavar="RUN.json", type=Path, help="saved reports")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        metavar="PATH",
        help="where to write (default: report.html; with --hgrm, stdout)",
    )
    p.add_argument(
        "--hgrm",
        metavar="HISTOGRAM",
        default=None,
        help="write this histogram of the run as .hgrm instead (latency_us, service_time_us)",
    )
    p.add_argument(
        "--run",
        type=int,
        default=None,
        metavar="N",
        help="with --hgrm: the Nth run of a pytest report, from 1 (default: the only one)",
    )
    p.set_defaults(func=_run)


def load(path: Path) -> dict[str, Any]:
    """A report file's JSON, or a ConfigError that says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; pass a saved report") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"{path} could not be read as JSON ({exc}); pass a file written by "
            "`mcpperf client --json` or pytest --perf-report=json"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds no JSON object; pass an mcpperf report")
    return data


def _run(args: argparse.Namespace) -> int:
    documents = [(str(path), load(path)) for path in args.files]
    try:
        if args.hgrm:
            return _write_hgrm(args, documents)
        out = write(args.output or Path("report.html"), documents)
    except ReportFormatError as exc:
        raise ConfigError(str(exc)) from None
    print(f"mcpperf: report written to {out} ({out.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return Exit.OK


def _write_hgrm(args: argparse.Namespace, documents: list[tuple[str, dict[str, Any]]]) -> int:
    if len(documents) != 1:
        raise ConfigError("--hgrm takes one report file; run it once per file")
    name, doc = documents[0]
    runs = runs_of(doc, name)
    if args.run is None and len(runs) != 1:
        labels = ", ".join(
            f"{i} {r.get('nodeid', r.get('scenario', '?'))}" for i, r in enumerate(runs, 1)
        )
        raise ConfigError(f"{name} holds {len(runs)} runs ({labels}); pick one with --run N")
    index = (args.run or 1) - 1
    if not 0 <= index < len(runs):
        raise ConfigError(f"--run {args.run}: {name} holds runs 1 to {len(runs)}")
    histograms = runs[index].get("histograms") or {}
    if args.hgrm not in histograms:
        have = ", ".join(sorted(histograms)) or "none"
        raise ConfigError(f"--hgrm {args.hgrm}: the run has no such histogram (it has: {have})")
    text = hgrm.write(stats.decode(histograms[args.hgrm]))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return Exit.OK
