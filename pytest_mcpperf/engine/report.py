"""The report object (schema "mcpperf/1") and the seed's text result block."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pytest_mcpperf.engine import accuracy, journey, stats
from pytest_mcpperf.result import (
    SCHEMA,
    Report,
    RequestFigures,
    ServerSection,
    request_rows,
)
from pytest_mcpperf.spec import TOOLS_CALL, LoadSpec
from pytest_mcpperf.vocabulary import JOURNEY, option


@dataclass
class ShardResult:
    """What one generator (a process, or the caller's own loop) measured."""

    stats: stats.RunStats
    check: accuracy.SelfCheck
    target: dict[str, Any]
    window_s: float

    def to_wire(self) -> dict[str, Any]:
        """Plain values only, for the channel of a generator process."""
        return {
            "stats": self.stats.to_wire(),
            "check": self.check.to_wire(),
            "target": self.target,
            "window_s": self.window_s,
        }

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> ShardResult:
        return cls(
            stats.RunStats.from_wire(d["stats"]),
            accuracy.SelfCheck.from_wire(d["check"]),
            d["target"],
            d["window_s"],
        )


def build(
    spec: LoadSpec, shards: Sequence[ShardResult], *, started_at: str, server: Mapping[str, Any]
) -> Report:
    """Merge the generators' results (exactly) and lay out the report."""
    run = stats.merged(s.stats for s in shards)
    check = accuracy.SelfCheck()
    for s in shards:
        check.merge(s.check)
    window = check.window_s
    ok, failed = run.ok, run.failed
    errors = run.error_counts()
    target = dict(shards[0].target) if shards else {"url": spec.url}
    journeys = [s.target["journey"] for s in shards if "journey" in s.target]
    target.pop("journey", None)
    latency, service = run.total("latency"), run.total("service")
    methods = {c.tool: c.method for c in spec.workload()}
    report: Report = {
        "schema": SCHEMA,
        "scenario": spec.scenario,
        "pattern": spec.pattern,
        "started_at": started_at,
        "duration_s": round(window, 3),
        "target": target,
        "config": spec.config_dict(),
        "requests": {
            "scheduled": run.scheduled,
            "sent": run.sent,
            "not_sent": check.not_sent,
            "completed": ok + failed,
            "ok": ok,
            "failed": failed,
            "errors": errors,
            "reinits": run.reinits,
            "connections_opened": run.connections_opened,
        },
        "throughput_rps": round(ok / window, 2) if window else 0.0,
        "latency_ms": stats.summary_ms(latency),
        "service_time_ms": stats.summary_ms(service),
        "accuracy": accuracy.report_dict(
            check,
            accuracy.Limits(),
            sent=run.sent,
            processes=len(shards),
            processes_option=option(spec.front_end, "processes"),
            server=server,
        ),
        "server": cast(ServerSection, dict(server)),
        "timeseries": [r.to_dict() for r in run.series],
        "criteria": [],
        "per_tool": {
            name: _figures(t, window) | {"method": methods.get(name, TOOLS_CALL)}
            for name, t in run.tools.items()
        },
        "per_method": {
            m: cast(RequestFigures, _figures(t, window))
            for m, t in _by_method(run, methods).items()
        },
        "errors_by_code": {c: dict(codes) for c, codes in run.errors.items() if codes},
        "histograms": {
            "latency_us": stats.encode(latency),
            "service_time_us": stats.encode(service),
            "dispatch_lateness_us": stats.encode(check.dispatch_lateness),
        },
    }
    if spec.pattern == JOURNEY:
        report["journey"] = journey.section(journeys, spec, window)
    return report


def _figures(t: stats.ToolStats, window: float) -> dict[str, Any]:
    """Counts, rate and percentiles of one tool, request kind or method."""
    return {
        "ok": t.ok,
        "failed": t.failed,
        "throughput_rps": round(t.ok / window, 2) if window else 0.0,
        "latency_ms": stats.summary_ms(t.latency),
        "service_time_ms": stats.summary_ms(t.service),
    }


def _by_method(run: stats.RunStats, methods: Mapping[str, str]) -> dict[str, stats.ToolStats]:
    """The per-tool figures summed by JSON-RPC method (histograms merged, so exact)."""
    out: dict[str, stats.ToolStats] = {}
    for name, t in run.tools.items():
        mine = out.setdefault(methods.get(name, TOOLS_CALL), stats.ToolStats())
        stats.merge_into(mine.latency, t.latency)
        stats.merge_into(mine.service, t.service)
        mine.ok += t.ok
        mine.failed += t.failed
    return out


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=False)


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else "0.0%"


def text_block(report: Report) -> str:
    """The seed's "=== Performance Test Results ===" block, with true numbers."""
    req, lat, svc = report["requests"], report["latency_ms"], report["service_time_ms"]
    acc, server = report["accuracy"], report.get("server") or {}
    sent, done, failed = req["sent"], req["completed"], req["failed"]
    attempted = max(sent, done)  # refused connects finish without having been sent
    lines = [
        "=== Performance Test Results ===",
        f"Requests sent: {sent}",
        f"Requests completed: {done} ({_pct(done, attempted)})",
        f"Requests ok: {req['ok']} ({_pct(req['ok'], done)})",
        f"Requests failed: {failed} ({_pct(failed, done)})",
    ]
    if req.get("not_sent"):
        lines.insert(
            2,
            f"Requests not sent: {req['not_sent']} (due, never sent: failed below as "
            "timeout not_sent, or as the connection error that stopped them)",
        )
    by_code = report.get("errors_by_code") or {}
    for kind, count in req["errors"].items():
        if count:
            codes = sorted(by_code.get(kind, {}).items(), key=lambda kv: -kv[1])
            shown = ", ".join(f"{code} {n}" for code, n in codes[:5])
            more = ", ..." if len(codes) > 5 else ""
            lines.append(f"  {kind}: {count}" + (f" ({shown}{more})" if shown else ""))
    lines += [
        f"Average response time: {lat['mean']:.2f} ms",
        f"Min response time: {lat['min']:.2f} ms",
        f"Max response time: {lat['max']:.2f} ms",
        f"Latency percentiles (from intended send time): p50 {lat['p50']:.2f} ms, "
        f"p90 {lat['p90']:.2f} ms, p99 {lat['p99']:.2f} ms, p99.9 {lat['p999']:.2f} ms",
        f"Service time percentiles (from actual send): p50 {svc['p50']:.2f} ms, "
        f"p99 {svc['p99']:.2f} ms",
        f"Requests per second: {report['throughput_rps']:.2f} "
        f"(ok responses over {report['duration_s']:.1f} s)",
    ]
    rows = request_rows(report)
    if rows:
        lines.append("Per method and request:")
    for depth, label, t in rows:
        figures = f"ok {t['ok']}, failed {t['failed']}"
        if "throughput_rps" in t:
            figures += f", {t['throughput_rps']:.2f}/s"
        if t["ok"]:
            tl = t["latency_ms"]
            figures += f", p50 {tl['p50']:.2f} ms, p99 {tl['p99']:.2f} ms"
        lines.append(f"{'  ' * depth}{label}: {figures}")
    if acc.get("target_rps"):
        lines.append(
            f"Send rate: {acc['achieved_send_rps']:.1f}/s achieved of "
            f"{acc['target_rps']:g}/s targeted"
        )
    late = acc.get("dispatch_lateness_us")
    if late and late["count"]:
        lines.append(
            f"Dispatch lateness (charged to latency): p50 {late['p50']} us, p99 "
            f"{late['p99']} us, max {late['max']} us over {late['count']} timed sends"
        )
    lines.append(f"Generator: {acc['verdict']} ({acc['reason']})")
    journeys = report.get("journey")
    if isinstance(journeys, Mapping):
        lines.append(
            f"Journeys: {journeys['journeys']} completed ({journeys['journeys_per_s']:.2f}/s), "
            f"{journeys['failed_journeys']} failed to open"
        )
        for name, st in journeys["steps"].items():
            if st["count"]:
                lat = st["latency_ms"]
                lines.append(
                    f"  {name}: {st['count']} ({st['failed']} failed), p50 {lat['p50']:.2f} "
                    f"ms, p90 {lat['p90']:.2f} ms, p99 {lat['p99']:.2f} ms"
                )
    stdio = report["target"].get("stdio")
    if isinstance(stdio, Mapping) and stdio.get("note"):
        lines.append(f"Server: {stdio['note']}")
    if acc.get("host_cpus"):
        other = acc.get("host_other_work_percent")
        lines.append(
            f"Host: {acc['host_cpu_busy_percent']:.0f}% of {acc['host_cpus']} CPUs busy"
            + (f", other work {other:.0f}%" if other is not None else "")
            + f", steal {acc.get('host_steal_percent', 0.0):.0f}%"
        )
    if isinstance(server, Mapping) and server.get("alive") is False:
        status = server.get("exit_status")
        lines.append(
            "Server alive: NO - it died during the run"
            + (f" (exit status {status})" if status is not None else "")
        )
        tail = str(server.get("output_tail") or "").strip()
        if tail:
            lines.append("--- server output (last lines) ---")
            lines += tail.splitlines()[-20:]
    rss = server.get("rss_mb") if isinstance(server, Mapping) else None
    if rss:
        lines.append(
            f"Server RSS: start {rss.get('start', 0):.1f} MB, peak "
            f"{rss.get('peak', 0):.1f} MB, end {rss.get('end', 0):.1f} MB"
        )
    return "\n".join(lines)
