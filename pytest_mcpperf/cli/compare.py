"""`mcpperf compare` and `mcpperf calibrate`: did a change make the server slower?

    mcpperf compare --baseline-cmd "python old.py {port}" --candidate-cmd "python new.py {port}"
                    --runs 5 [globals] throughput --requests-per-second 50

Both servers run side by side on this machine, and the same scenario runs against each
in alternation (AB BA AB BA ...), so that whatever else the machine does falls on both
alike. Each run is reduced to its summary figures (rps, p50, p90, p99, server CPU and
RSS), and each figure is compared across runs (log scale, Hodges-Lehmann shift with its
exact distribution-free interval): `slower` / `faster` by X % with an interval,
`unchanged` (within +-delta), or `inconclusive` with the runs a side that would settle
it. A run the generator's self-check did not call valid makes it `inconclusive`.
Exit status 1 only for a confident regression of a gated metric (--fail-on) beyond its
limit: the end of the interval nearest zero is past the limit.

    mcpperf calibrate --runs 5 [globals] throughput ...

runs one server A/A (2 x --runs runs, labelled alternately) and reports each figure's
run-to-run noise and the smallest change --runs runs a side would detect.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from pytest_mcpperf import baseline, settings
from pytest_mcpperf.analysis import compare as cmp
from pytest_mcpperf.cli import client
from pytest_mcpperf.cli.exitcodes import EPILOG, FORMATTER, Exit
from pytest_mcpperf.cli.options import CLI, add_typed, default_runner
from pytest_mcpperf.errors import ConfigError
from pytest_mcpperf.target import DEFAULT_STARTUP_TIMEOUT_S, Target

GITHUB_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"


def _percent(value: object, name: str, where: str) -> float:
    text = str(value).strip().removesuffix("%")
    return settings.parse_positive_float(text, name, where)


def _confidence(value: object, name: str, where: str) -> float:
    number = settings.parse_positive_float(value, name, where)
    if not 0.5 <= number < 1.0:
        raise ConfigError(f"invalid {name} {value!r}: expected a fraction from 0.5 to 0.999")
    return number


def _gates(value: object, name: str, where: str) -> tuple[cmp.Gate, ...]:
    return cmp.parse_gates(str(value), name)


def _verdict_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("comparison options")
    add_typed(
        g,
        "--runs",
        settings.parse_positive_int,
        metavar="N",
        default=5,
        help="measured runs a side (default: 5; 4-10 is the useful range)",
    )
    add_typed(
        g,
        "--warmup-runs",
        settings.parse_non_negative_int,
        metavar="N",
        default=1,
        help="unrecorded runs a side first (default: 1)",
    )
    add_typed(
        g,
        "--rerun-invalid",
        settings.parse_non_negative_int,
        metavar="N",
        default=2,
        help="a run the generator's self-check did not call valid is run again, at most N "
        "times in all, and listed under discarded_runs; when they run out the invalid run "
        "stays and the verdict is inconclusive (default: 2)",
    )
    add_typed(
        g,
        "--fail-on",
        _gates,
        metavar="GATES",
        default=cmp.parse_gates(cmp.DEFAULT_GATES),
        help="gated metrics and the regression each may show before the exit status is 1 "
        f"(default: {cmp.DEFAULT_GATES.replace('%', '%%')})",
    )
    add_typed(
        g,
        "--delta",
        _percent,
        metavar="PERCENT",
        default=cmp.DEFAULT_DELTA_PERCENT,
        help=f"'unchanged' means within +-PERCENT (default: {cmp.DEFAULT_DELTA_PERCENT:g})",
    )
    add_typed(
        g,
        "--confidence",
        _confidence,
        metavar="C",
        default=cmp.DEFAULT_CONFIDENCE,
        help="confidence over the gated metrics together (default: 0.95)",
    )
    g.add_argument(
        "--markdown",
        metavar="PATH",
        default=None,
        help=f"append a markdown table to PATH (default: ${GITHUB_SUMMARY_ENV} when set)",
    )


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    for name in ("compare", "calibrate"):
        p = sub.add_parser(
            name,
            parents=[common],
            help="A/B two servers: slower, faster, unchanged?"
            if name == "compare"
            else "A/A one server: the smallest change this machine can detect",
            description=__doc__,
            epilog=EPILOG,
            formatter_class=FORMATTER,
        )
        if name == "compare":
            g = p.add_argument_group("the two servers (a command or a URL each)")
            for side in ("baseline", "candidate"):
                g.add_argument(
                    f"--{side}-cmd",
                    metavar="CMD",
                    default=None,
                    help=f"spawn the {side} server, '{{port}}' replaced by a free port",
                )
                g.add_argument(
                    f"--{side}-url", metavar="URL", default=None, help=f"the {side} server's URL"
                )
        _verdict_options(p)
        modes = p.add_subparsers(dest="mode", metavar="PATTERN", required=True)
        run_opts = client._run_options()
        for mode_name, mode in client.MODES.items():
            m = modes.add_parser(
                mode_name,
                parents=[common, run_opts],
                help=mode.help,
                description=f"mcpperf {name} {mode_name}: {mode.help}.",
                epilog=EPILOG,
                formatter_class=FORMATTER,
            )
            client._add_mode_options(m, mode_name, mode)
            m.set_defaults(func=_compare if name == "compare" else _calibrate)


# ---------------------------------------------------------------- running


def _check_sides(args: argparse.Namespace) -> None:
    """Both servers given, each once, before either is started."""
    for side in ("baseline", "candidate"):
        if bool(getattr(args, f"{side}_cmd")) == bool(getattr(args, f"{side}_url")):
            raise ConfigError(
                f"give the {side} server as exactly one of --{side}-cmd or --{side}-url, "
                f'e.g. --{side}-cmd "python server.py --port {{port}}"'
            )


def _open(args: argparse.Namespace, side: str) -> Target:
    command, url = getattr(args, f"{side}_cmd"), getattr(args, f"{side}_url")
    if url:
        return Target.at_url(url, front_end=CLI)
    timeout_s = float(getattr(args, "startup_timeout_seconds", DEFAULT_STARTUP_TIMEOUT_S))
    return Target.spawn(command, startup_timeout_s=timeout_s, front_end=CLI)


RunOne = Callable[[Target, str], dict[str, Any]]


def _runner(args: argparse.Namespace) -> RunOne:
    run = default_runner()

    def one(target: Target, label: str) -> dict[str, Any]:
        spec = client.build_spec(args, target.url, target.pid)
        report = run(spec).to_dict()
        s = cmp.run_summary(report)
        print(
            f"mcpperf: {label}: p50 {s['p50'] or 0:.3f} ms, p99 {s['p99'] or 0:.3f} ms, "
            f"{s['rps'] or 0:.1f} ok/s, self-check {s['accuracy']}",
            file=sys.stderr,
        )
        return s

    return one


def rerunning_invalid(one: RunOne, budget: int, discarded: list[dict[str, Any]]) -> RunOne:
    """`one`, but a run whose self-check is not valid is run again while `budget` lasts,
    and the discarded run is listed (never silently dropped)."""

    def run(target: Target, label: str) -> dict[str, Any]:
        summary = one(target, label)
        if label.endswith("warm-up"):  # not measured: its self-check does not matter
            return summary
        while summary.get("accuracy", "valid") != "valid" and len(discarded) < budget:
            discarded.append(
                {
                    "run": label,
                    "self_check": summary.get("accuracy"),
                    "reason": summary.get("accuracy_reason", ""),
                }
            )
            summary = one(target, f"{label} again")
        return summary

    return run


def alternate(
    targets: Sequence[Target], runs: int, warmup: int, one: RunOne, labels: Sequence[str]
) -> list[list[dict[str, Any]]]:
    """Warm-up runs, then `runs` on each target in the order AB BA AB ...: a slow drift of
    the machine weighs on both sides alike."""
    for _ in range(warmup):
        for target, label in zip(targets, labels, strict=True):
            one(target, f"{label} warm-up")
    out: list[list[dict[str, Any]]] = [[] for _ in targets]
    for i in range(runs):
        order = range(len(targets)) if i % 2 == 0 else reversed(range(len(targets)))
        for j in order:
            out[j].append(one(targets[j], f"{labels[j]} run {i + 1}"))
    return out


def _emit(args: argparse.Namespace, result: cmp.Comparison, extra: dict[str, Any]) -> None:
    data = {**result.to_dict(), **extra}
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(cmp.text_lines(result)))
        for d in data.get("discarded_runs", []):
            print(f"  run again: {d['run']} (self-check {d['self_check']}: {d['reason']})")
    path = args.markdown or os.environ.get(GITHUB_SUMMARY_ENV)
    if path:
        baseline.append_markdown(cmp.markdown(result, f"mcpperf {args.command} {args.mode}"), path)


def _compare(args: argparse.Namespace) -> int:
    _check_sides(args)
    discarded: list[dict[str, Any]] = []
    one = rerunning_invalid(_runner(args), args.rerun_invalid, discarded)
    with _open(args, "baseline") as base, _open(args, "candidate") as cand:
        sides = alternate([base, cand], args.runs, args.warmup_runs, one, ("baseline", "candidate"))
    result = cmp.compare(
        sides[0],
        sides[1],
        args.fail_on,
        delta_percent=args.delta,
        confidence=args.confidence,
    )
    _emit(args, result, {"discarded_runs": discarded})
    return Exit.FAILED if result.failed else Exit.OK


def _calibrate(args: argparse.Namespace) -> int:
    from pytest_mcpperf.cli.options import open_target

    discarded: list[dict[str, Any]] = []
    one = rerunning_invalid(_runner(args), args.rerun_invalid, discarded)
    with open_target(args) as target:
        sides = alternate([target, target], args.runs, args.warmup_runs, one, "AB")
    result = cmp.compare(
        sides[0], sides[1], args.fail_on, delta_percent=args.delta, confidence=args.confidence
    )
    detectable = cmp.detectable_change(
        sides[0] + sides[1], args.runs, confidence=args.confidence, gates=len(args.fail_on)
    )
    if not args.json:
        print(f"A/A with {args.runs} runs a side on this machine:")
        for name, d in detectable.items():
            mde = d["detectable_percent"]
            words = f"{mde:.1f} %" if mde is not None else f"none: use {_floor(args)} or more runs"
            print(
                f"  {name}: run-to-run noise {d['noise_cv_percent']:.1f} %, smallest "
                f"detectable change {words}"
            )
    calibration = {"runs_a_side": args.runs, "metrics": detectable}
    _emit(args, result, {"calibration": calibration, "discarded_runs": discarded})
    return Exit.OK


def _floor(args: argparse.Namespace) -> int:
    return cmp.min_runs((1.0 - args.confidence) / len(args.fail_on))
