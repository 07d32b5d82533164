"""The terminal table of every load test: RPS, p50, p99, errors, server RSS (and its
growth over the run), verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_mcpperf.result import request_rows

COLUMNS = (
    "test",
    "rps",
    "p50 ms",
    "p99 ms",
    "errors",
    "server rss MB (growth)",
    "outcome",
    "verdict",
)


def _get(entry: Mapping[str, Any], *path: str) -> Any:
    node: Any = entry
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _num(value: Any, spec: str = ".1f") -> str:
    return format(value, spec) if isinstance(value, int | float) else "-"


def _errors(entry: Mapping[str, Any]) -> str:
    failed = _get(entry, "requests", "failed")
    ok = _get(entry, "requests", "ok")
    if not isinstance(failed, int) or not isinstance(ok, int):
        return "-"
    done = ok + failed
    return f"{failed} ({100.0 * failed / done:.2f}%)" if done else "0"


def _rss(entry: Mapping[str, Any]) -> str:
    """Peak RSS and the growth over the run: the memory verdict's fitted growth where
    the run has one (`memory`), else the monitor's start-to-end growth."""
    peak = _num(_get(entry, "server", "rss_mb", "peak"))
    growth = _get(entry, "memory", "growth_percent")
    if not isinstance(growth, int | float):
        growth = _get(entry, "server", "growth_percent")
    return f"{peak} ({growth:+.1f}%)" if isinstance(growth, int | float) else peak


def _verdict(entry: Mapping[str, Any]) -> str:
    """The run's verdict, and the memory verdict beside it when both exist."""
    acc = _get(entry, "accuracy", "verdict")
    mem = _get(entry, "memory", "verdict")
    if acc and mem:
        return f"{acc}, memory {mem}"
    return str(acc or mem or "-")


def row(entry: Mapping[str, Any], name: str | None = None) -> tuple[str, ...]:
    """One table row for one recorded result; latency is "-" when nothing succeeded."""
    measured = _get(entry, "requests", "ok") != 0
    return (
        name or str(entry.get("nodeid", "?")),
        _num(entry.get("throughput_rps")),
        _num(_get(entry, "latency_ms", "p50") if measured else None, ".2f"),
        _num(_get(entry, "latency_ms", "p99") if measured else None, ".2f"),
        _errors(entry),
        _rss(entry),
        str(entry.get("outcome", "?")),
        _verdict(entry),
    )


def per_request_rows(entry: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Indented rows per method, and per tool or request kind, when a run sent several."""
    out: list[tuple[str, ...]] = []
    for depth, label, t in request_rows(entry):
        measured = t.get("ok") != 0
        lat = t.get("latency_ms") or {}
        out.append(
            (
                "  " * depth + label,
                _num(t.get("throughput_rps")),
                _num(lat.get("p50") if measured else None, ".2f"),
                _num(lat.get("p99") if measured else None, ".2f"),
                _errors({"requests": {"ok": t.get("ok"), "failed": t.get("failed")}}),
                "",
                "",
                "",
            )
        )
    return out


def run_names(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Node ids, with " #2", " #3"... for the further runs of a test that ran several."""
    seen: dict[str, int] = {}
    names = []
    for entry in entries:
        nodeid = str(entry.get("nodeid", "?"))
        seen[nodeid] = seen.get(nodeid, 0) + 1
        names.append(nodeid if seen[nodeid] == 1 else f"{nodeid} #{seen[nodeid]}")
    return names


def render(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The table as lines, columns padded; numbers right-aligned."""
    rows: list[tuple[str, ...]] = [COLUMNS]
    for entry, name in zip(entries, run_names(entries), strict=True):
        rows.append(row(entry, name))
        rows += per_request_rows(entry)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]

    def fmt(r: Sequence[str]) -> str:
        cells = [r[0].ljust(widths[0])]
        cells += [c.rjust(w) for c, w in zip(r[1:6], widths[1:6], strict=True)]
        cells += [c.ljust(w) for c, w in zip(r[6:], widths[6:], strict=True)]
        return "  ".join(cells).rstrip()

    return [fmt(r) for r in rows]


def client_bound_note(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """A plain warning when some runs measured the client rather than the server."""
    bound = [
        str(e.get("nodeid")) for e in entries if _get(e, "accuracy", "verdict") == "client_bound"
    ]
    if not bound:
        return None
    return (
        f"{len(bound)} run(s) were client-bound: the load generator, not the server, was "
        "the limit; their figures describe the client. Use --perf-processes N or less load."
    )


def contended_note(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """A warning naming each run that other work on the host disturbed, and why."""
    names = run_names(entries)
    hit = [
        f"  {name}: {_get(e, 'accuracy', 'reason')}"
        for e, name in zip(entries, names, strict=True)
        if _get(e, "accuracy", "verdict") == "contended"
    ]
    if not hit:
        return None
    return "\n".join(
        [
            f"{len(hit)} run(s) were contended: other work on the host disturbed them, so "
            "their figures describe a starved host, not the server. Stop the other work "
            "(or use a quieter host) and run again.",
            *hit,
        ]
    )


def serial_note(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """A hint when a stdio server answered one request at a time (`target.stdio`)."""
    serial = [e for e in entries if _get(e, "target", "stdio", "one_at_a_time")]
    if not serial:
        return None
    return (
        f"{len(serial)} run(s) found the stdio server answering one request at a time: "
        "requests queued behind each other. Use --mcp-server-processes N (or the load "
        "marker's server_processes=N) to spread the load over N copies."
    )


def comparison_lines(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each compared run's verdict against its baseline, and why, for the terminal."""
    lines = []
    for entry, name in zip(entries, run_names(entries), strict=True):
        c = entry.get("comparison")
        if not isinstance(c, Mapping):
            continue
        failed = " (FAILED: beyond the allowed limit)" if c.get("failed") else ""
        lines.append(f"{name}: {c.get('verdict')}{failed}: {c.get('reason')}")
        if c.get("warning"):
            lines.append(f"  warning: {c['warning']}")
    return lines
