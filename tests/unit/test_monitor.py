from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pytest_mcpperf.monitor import MB, Sample, ServerMonitor, series, summarize


def test_summarize_known_samples() -> None:
    samples = [
        Sample(0.0, 100 * MB, 1.0, 10, 4, 1),
        Sample(1.0, 150 * MB, 1.5, 12, 5, 3),
        Sample(2.0, 110 * MB, 1.6, 11, 5, 2),
    ]
    out = summarize(samples)
    assert out["processes"] == {"start": 1, "peak": 3}  # the whole tree was sampled
    assert out["rss_mb"] == {"start": 100.0, "peak": 150.0, "end": 110.0}
    assert out["cpu_percent"] == {"mean": 30.0, "max": 50.0}
    assert out["growth_percent"] == 10.0
    assert out["samples"] == 3
    assert out["series"] == [
        {"t": 0.0, "rss_bytes": 100 * MB, "cpu_percent": None},
        {"t": 1.0, "rss_bytes": 150 * MB, "cpu_percent": 50.0},
        {"t": 2.0, "rss_bytes": 110 * MB, "cpu_percent": 10.0},
    ]


def test_series_is_thinned_keeping_both_ends_and_the_cpu_between_kept_points() -> None:
    samples = [Sample(i * 0.5, (100 + i) * MB, i * 0.25, 0, 1, 1) for i in range(5001)]
    points = series(samples, max_points=1200)
    assert len(points) == 1200
    assert (points[0]["t"], points[-1]["t"]) == (0.0, 2500.0)
    assert points[-1]["rss_bytes"] == 5100 * MB
    assert {p["cpu_percent"] for p in points[1:]} == {50.0}
    assert len(series(samples[:10])) == 10


def test_summarize_empty() -> None:
    assert summarize([], alive=False) == {"samples": 0, "alive": False}


def test_monitor_measures_the_child_not_this_process() -> None:
    # The child holds ~64 MiB; this test process does not allocate it.
    code = "import time; b = bytearray(64 << 20); b[::4096] = b'x' * (16 << 10); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        mon = ServerMonitor(child.pid, interval_s=0.05)
        mon.start()
        for _ in range(100):
            s = mon.sample()
            if s is not None and s.rss_bytes > 60 * MB:
                break
            import time

            time.sleep(0.05)
        out = mon.stop()
        assert out["rss_mb"]["peak"] > 60
        assert mon.pid != os.getpid()
    finally:
        child.kill()
        child.wait()


def test_monitor_notices_death() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    mon = ServerMonitor(child.pid)
    assert mon.sample() is None
    assert mon.alive is False


def test_a_dead_child_not_yet_reaped_is_not_alive_and_leaves_no_zero_reading() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        mon = ServerMonitor(child.pid)
        assert mon.sample() is not None
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, still unreaped
        assert mon.sample() is None
        assert mon.alive is False
        summary = summarize(mon.samples, mon.alive)
        assert summary["rss_mb"]["end"] > 0
        assert summary["alive"] is False
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("interval", [0.01])
def test_thread_collects_samples(interval: float) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"])
    try:
        import time

        with ServerMonitor(child.pid, interval_s=interval) as mon:
            time.sleep(0.2)
        assert len(mon.samples) >= 5
    finally:
        child.kill()
        child.wait()
