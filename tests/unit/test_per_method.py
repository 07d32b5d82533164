"""Figures per method (and per tool, prompt or resource): the report, the pytest table
and the CLI's text block. Synthetic shards, no load."""

from __future__ import annotations

import random
from typing import Any

from pytest_mcpperf.engine import accuracy, stats
from pytest_mcpperf.engine.report import ShardResult, build, text_block
from pytest_mcpperf.result import Report, request_rows
from pytest_mcpperf.spec import LoadSpec, ToolCall
from pytest_mcpperf.summary import render

MIX = (
    ToolCall("echo", {"message": "hi"}, 2.0),
    ToolCall("get-sum", {"a": 1, "b": 2}, 1.0),
    ToolCall("resources/read demo://a", {}, 1.0, "resources/read", {"uri": "demo://a"}),
    ToolCall("prompts/get simple", {}, 1.0, "prompts/get", {"name": "simple"}),
)
LABELS = [c.tool for c in MIX]


def _shard(seed: int, n: int, failed: int = 0) -> ShardResult:
    rng = random.Random(seed)
    run = stats.RunStats()
    for i, label in enumerate(LABELS):
        t = run.tool(label)
        for _ in range(n * (i + 1)):
            us = int(rng.lognormvariate(7 + i, 0.5)) + 1
            t.latency.record_value(us)
            t.service.record_value(max(1, us // 2))
        t.ok = n * (i + 1)
        t.failed = failed
    run.sent = sum(t.ok + t.failed for t in run.tools.values())
    check = accuracy.SelfCheck(window_s=2.0)
    return ShardResult(run, check, {"url": "stdio:x", "transport": "stdio"}, 2.0)


def _report(*shards: ShardResult) -> Report:
    spec = LoadSpec(url="stdio:x", transport="stdio", mix=MIX)
    return build(spec, shards, started_at="2024-01-01T00:00:00Z", server={})


def test_per_method_sums_the_requests_of_each_method() -> None:
    report = _report(_shard(1, 100, failed=1))
    per_method, per_tool = report["per_method"], report["per_tool"]
    assert list(per_method) == ["tools/call", "resources/read", "prompts/get"]
    assert per_method["tools/call"]["ok"] == per_tool["echo"]["ok"] + per_tool["get-sum"]["ok"]
    assert per_method["tools/call"]["failed"] == 2
    assert per_method["resources/read"]["ok"] == 300
    assert per_method["prompts/get"]["throughput_rps"] == 200.0  # 400 ok over 2 s
    assert sum(m["ok"] for m in per_method.values()) == report["requests"]["ok"]
    assert per_tool["resources/read demo://a"]["method"] == "resources/read"
    assert per_tool["echo"]["method"] == "tools/call"
    lo = min(per_tool["echo"]["latency_ms"]["min"], per_tool["get-sum"]["latency_ms"]["min"])
    hi = max(per_tool["echo"]["latency_ms"]["max"], per_tool["get-sum"]["latency_ms"]["max"])
    assert per_method["tools/call"]["latency_ms"]["min"] == lo
    assert per_method["tools/call"]["latency_ms"]["max"] == hi


def test_shards_merge_exactly_into_the_same_per_method_figures() -> None:
    """Two generator processes' shards give the figures one shard holding both gives."""
    a, b = _shard(1, 50), _shard(2, 70)
    both = stats.RunStats()
    both.merge(a.stats)
    both.merge(b.stats)
    whole = ShardResult(both, accuracy.SelfCheck(window_s=2.0), a.target, 2.0)
    split = _report(_shard(1, 50), _shard(2, 70))
    assert split["per_method"] == _report(whole)["per_method"]
    assert split["per_tool"] == _report(whole)["per_tool"]


def test_one_method_one_request_shows_no_rows() -> None:
    run = stats.RunStats()
    run.tool("echo").ok = 10
    run.tool("echo").latency.record_value(1000)
    spec = LoadSpec(url="http://x/mcp", tool="echo")
    report = build(
        spec,
        [ShardResult(run, accuracy.SelfCheck(window_s=1.0), {"url": "x"}, 1.0)],
        started_at="",
        server={},
    )
    assert list(report["per_method"]) == ["tools/call"]
    assert request_rows(report) == []
    assert "Per method" not in text_block(report)


def test_rows_per_method_then_per_request() -> None:
    rows = request_rows(_report(_shard(1, 10)))
    assert [(d, name) for d, name, _ in rows] == [
        (1, "tools/call"),
        (2, "echo"),
        (2, "get-sum"),
        (1, "resources/read demo://a"),
        (1, "prompts/get simple"),
    ]


def test_rows_of_a_report_without_per_method() -> None:
    """Reports written before `per_method` keep their per-tool rows."""
    old: dict[str, Any] = {"per_tool": {"a": {"ok": 1, "failed": 0}, "b": {"ok": 2, "failed": 0}}}
    assert [name for _, name, _ in request_rows(old)] == ["a", "b"]


def test_the_cli_text_block_and_the_pytest_table_show_the_rows() -> None:
    report = _report(_shard(1, 10))
    text = text_block(report)
    assert "Per method and request:" in text
    assert "  tools/call: ok 30, failed 0, 15.00/s, p50 " in text
    assert "    get-sum: ok 20, failed 0, 10.00/s" in text
    assert "  prompts/get simple: ok 40, failed 0, 20.00/s" in text
    lines = render([{"nodeid": "t::mix", "outcome": "passed", **report}])
    assert any(line.startswith("  tools/call ") for line in lines), lines
    assert any(line.startswith("    echo ") for line in lines)
    assert any(line.startswith("  resources/read demo://a ") and " 15.0 " in line for line in lines)
