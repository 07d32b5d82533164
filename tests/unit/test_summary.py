"""summary.py: the terminal table."""

from __future__ import annotations

from pytest_mcpperf.summary import client_bound_note, render


def entry(nodeid: str, ok: int, failed: int, verdict: str = "valid") -> dict[str, object]:
    return {
        "nodeid": nodeid,
        "outcome": "passed",
        "throughput_rps": ok / 2,
        "requests": {"ok": ok, "failed": failed},
        "latency_ms": {"p50": 1.234, "p99": 9.876},
        "server": {"rss_mb": {"peak": 43.21}},
        "accuracy": {"verdict": verdict},
    }


def test_table_rows_and_repeated_runs() -> None:
    lines = render([entry("t.py::a", 200, 2), entry("t.py::a", 0, 10, "client_bound")])
    assert lines[0].split() == [
        "test",
        "rps",
        "p50",
        "ms",
        "p99",
        "ms",
        "errors",
        "server",
        "rss",
        "MB",
        "(growth)",
        "outcome",
        "verdict",
    ]
    assert lines[1].split() == [
        "t.py::a",
        "100.0",
        "1.23",
        "9.88",
        "2",
        "(0.99%)",
        "43.2",
        "passed",
        "valid",
    ]
    # nothing succeeded: no latency to show; a second run of the same test is numbered
    assert lines[2].split() == [
        "t.py::a",
        "#2",
        "0.0",
        "-",
        "-",
        "10",
        "(100.00%)",
        "43.2",
        "passed",
        "client_bound",
    ]


def test_client_bound_note() -> None:
    assert client_bound_note([entry("t.py::a", 1, 0)]) is None
    note = client_bound_note([entry("t.py::a", 1, 0, "client_bound")])
    assert note is not None
    assert note.startswith("1 run(s) were client-bound: the load generator, not the server")
