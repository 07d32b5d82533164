"""Synthetic report documents for the HTML report's tests (no load is generated)."""

from __future__ import annotations

import math
import random
from typing import Any

from pytest_mcpperf.engine import stats


def histogram(count: int, seed: int = 1) -> Any:
    """An HDR histogram of `count` log-normal latencies around 2 ms (µs values)."""
    rng = random.Random(seed)
    h = stats.new_histogram()
    distinct = 5000
    per_value = max(1, count // distinct)
    for _ in range(distinct):
        h.record_value(max(1, int(rng.lognormvariate(math.log(2000), 0.6))), per_value)
    return h


def one_hour_run(rate: int = 1000, seconds: int = 3600) -> dict[str, Any]:
    """A run report as `mcpperf client --json` writes it, one hour at `rate` per second,
    with a per-second series, errors of two codes, server readings and histograms."""
    rng = random.Random(7)
    rows = []
    for t in range(seconds):
        failed = 1 if t % 97 == 0 else 0
        row: dict[str, Any] = {
            "t": t,
            "sent": rate,
            "ok": rate - failed,
            "failed": failed,
            "p99_ms": round(8 + rng.random() * 4, 3),
            "p50_ms": round(1.9 + rng.random() * 0.2, 3),
            "p90_ms": round(4 + rng.random(), 3),
            "max_ms": round(20 + rng.random() * 10, 3),
            "service_p50_ms": round(1.2 + rng.random() * 0.1, 3),
            "service_p99_ms": round(7 + rng.random() * 3, 3),
        }
        if failed:
            row["errors"] = {"timeout": {"timeout": 1}} if t % 2 else {"http_error": {"503": 1}}
        rows.append(row)
    lat = histogram(rate * seconds)
    svc = histogram(rate * seconds, seed=2)
    readings = [
        {
            "t": round(i * seconds / 999, 3),
            "rss_bytes": 50_000_000 + 1000 * i,
            "cpu_percent": None if i == 0 else round(30 + rng.random() * 10, 1),
        }
        for i in range(1000)
    ]
    ok = sum(r["ok"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    return {
        "schema": "mcpperf/1",
        "scenario": "client throughput",
        "pattern": "throughput",
        "started_at": "2026-01-01T00:00:00+00:00",
        "duration_s": float(seconds),
        "target": {
            "url": "http://127.0.0.1:9/mcp",
            "pid": 1,
            "protocol_version": "2025-11-25",
            "era": "legacy",
        },
        "config": {"rate": float(rate), "duration_s": float(seconds)},
        "requests": {
            "scheduled": rate * seconds,
            "sent": rate * seconds,
            "completed": ok + failed,
            "ok": ok,
            "failed": failed,
            "errors": {
                "tool_error": 0,
                "rpc_error": 0,
                "http_error": failed // 2,
                "transport": 0,
                "timeout": failed - failed // 2,
            },
        },
        "throughput_rps": round(ok / seconds, 2),
        "latency_ms": stats.summary_ms(lat),
        "service_time_ms": stats.summary_ms(svc),
        "accuracy": {"verdict": "valid", "reason": "generator kept up"},
        "server": {
            "rss_mb": {"start": 47.7, "peak": 48.6, "end": 48.6},
            "cpu_percent": {"mean": 35.0, "max": 40.0},
            "growth_percent": 1.9,
            "samples": 14400,
            "alive": True,
            "series": readings,
        },
        "timeseries": rows,
        "criteria": [{"name": "p99", "op": "<", "limit": 100.0, "value": 10.0, "passed": True}],
        "per_tool": {
            "fast_compute": {
                "ok": ok,
                "failed": failed,
                "latency_ms": stats.summary_ms(lat),
                "service_time_ms": stats.summary_ms(svc),
            }
        },
        "errors_by_code": {
            "timeout": {"timeout": failed - failed // 2},
            "http_error": {"503": failed // 2},
        },
        "histograms": {"latency_us": stats.encode(lat), "service_time_us": stats.encode(svc)},
    }
