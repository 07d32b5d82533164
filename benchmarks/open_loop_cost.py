"""Open loop against closed loop: the generator's CPU per request, measured in one run.

Against nginx-mcp (a server far faster than any Python client), one generator process,
32 connections, DURATION seconds per step:
  1. closed loop (`mcpperf client concurrent --concurrency 32`): capacity (rps) and
     generator CPU per request,
  2. open loop (`mcpperf client throughput --requests-per-second R --concurrency 32`) at
     2,500 and 10,000 rps: CPU per request, verdict, dispatch lateness p99, and latency
     p50 minus service-time p50 (the part of latency the dispatcher adds),
  3. a ladder of open-loop rates (fractions of the closed-loop capacity), for the highest
     rate held with verdict `valid`.
CPU per request is the generator's own CPU (user + system, the report's
`client_cpu_percent`) over the achieved rate. Prints every step and the ratios of
issue 11: open CPU/request <= 2x closed at 2,500 and 10,000 rps; verdict valid at
10,000; highest valid rate >= 0.6x the closed-loop capacity. Exits 1 when one is missed.

    python benchmarks/open_loop_cost.py [--duration 4] [--ladder 0.2,0.3,0.4,0.5,0.6,0.8]
    # on a shared machine: flock /tmp/mcpperf-heavy.lock python benchmarks/open_loop_cost.py
Why open loop costs more per request at moderate rates: a closed loop at its limit
never sleeps, and each of its loop iterations serves many responses; an open loop at
2,500 requests/s sleeps and wakes about once per request (the timer's ticks, answers
arriving between them). On the 2-core VM this was written on, a sleep and wake-up cost
the process 50-150 us of CPU on its own (a 6 us piece of work followed by a 1 ms sleep
cost 63 us; a closed loop of 1 user cost 84 us/request against 21 us for 32 users).

The floor: beside the engine, a minimal client with no engine at all (one blocking
socket, one pre-encoded request, `time.sleep` to each due time) is measured unpaced and
paced at 2,500 and 10,000 rps. What it pays per request at a paced rate beyond its
unpaced cost is what this host charges for sleeping, waking and waking an idle server:
a cost any open-loop client pays, and a closed loop at its limit never does. The
batched floor is the cheapest open-loop design on Linux: 32 connections, one periodic
timerfd tick per dispatch window (generator.dispatch_window_s), every due request sent
and every answer read only on a tick, the answer's arrival taken from the kernel's
receive timestamp (SO_TIMESTAMPNS) so the latency stays true; no HTTP parsing, no
JSON, no bookkeeping: below its cost no open-loop engine can go on this host.
The ticks alone: a process that does nothing but wait on the periodic timerfd of the
dispatch window of 2,500 and of 10,000 rps (one wake per 2 requests; a window that
acceptance 2's 0.2 ms bound on latency minus service time at 10,000 rps allows) shows
what the host charges per wake, and so what any open-loop client keeping that window
pays per request before doing any work.
Measured on the 2-core VM (one run each, quiet): engine closed loop 18-21 us/request;
the per-request floor 2.5-3.6x that at 2,500 rps; the batched floor 1.5-2.3x at 2,500
and 1.4-1.6x at 10,000. So at 2,500 rps even the batched floor can pass 2x here. The
engine was tried with its answers read on the ticks like the batched floor (a private
epoll set, reading paused on the loop, kernel receive times): side by side it saved
about 13 % of the CPU per request at 10,000 rps and nothing measurable at 2,500, for
twice the dispatch lateness at p50; it was not kept. On a later, faster VM (2026-12-02,
quiet): closed loop 14.3 us/request; a wake 27.5-35.5 us, so the ticks alone cost about
14 us/request (1x the closed loop) at both rates; the batched floor 1.34-1.38x (its own
work per request is about a third of the engine's); the engine 3.3x at 2,500 and 4.2x
at 10,000.

Needs nginx with the njs module; the bench directory is
${MCPPERF_BENCH_DIR:-../shared/bench} relative to the repository root. Note the load
average beside the figures: on a busy host every ratio moves.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from pytest_mcpperf.engine.generator import dispatch_window_s
from pytest_mcpperf.target import SpawnedServer

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(os.environ.get("MCPPERF_BENCH_DIR", REPO.parent / "shared" / "bench"))
MCPPERF = [sys.executable, "-m", "pytest_mcpperf.cli", "--json"]
CONNECTIONS = 32


@dataclass
class Step:
    label: str
    rps: float
    cpu_percent: float
    verdict: str
    reason: str
    late_p99_us: int
    queue_wait_p99_us: int
    added_p50_ms: float  # latency p50 - service time p50

    @property
    def cpu_us(self) -> float:
        return self.cpu_percent / 100.0 / self.rps * 1e6 if self.rps else float("inf")

    def line(self, closed_us: float | None = None) -> str:
        ratio = f" ({self.cpu_us / closed_us:.2f}x closed)" if closed_us else ""
        return (
            f"{self.label:>14}: {self.rps:8.0f} rps, CPU {self.cpu_percent:5.1f}%, "
            f"{self.cpu_us:6.1f} us/request{ratio}, {self.verdict}, lateness p99 "
            f"{self.late_p99_us} us, queue wait p99 {self.queue_wait_p99_us} us, "
            f"latency-service p50 {self.added_p50_ms:.3f} ms"
        )


def run(url: str, duration: int, rate: float | None) -> Step:
    if rate is None:
        args = ["client", "concurrent", "--concurrency", str(CONNECTIONS)]
        label = "closed loop"
    else:
        args = ["client", "throughput", "--requests-per-second", f"{rate:g}"]
        args += ["--concurrency", str(CONNECTIONS)]
        label = f"open {rate:g}"
    out = subprocess.run(
        [*MCPPERF, *args, "--server-url", url, "--duration-seconds", str(duration)],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        cwd=REPO,
    ).stdout
    rep = json.loads(out)
    acc = rep["accuracy"]
    lat, svc = rep.get("latency_ms") or {}, rep.get("service_time_ms") or {}
    return Step(
        label,
        float(rep["throughput_rps"]),
        float(acc["client_cpu_percent"]),
        acc["verdict"],
        acc["reason"],
        int(acc["dispatch_lateness_us"]["p99"]),
        int(acc["queue_wait_us"]["p99"]),
        float(lat.get("p50", 0.0)) - float(svc.get("p50", 0.0)),
    )


_CALL = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "name": "fast_compute",
            "arguments": {},
            "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"},
        },
    }
).encode()


def _exchange(sock: socket.socket, data: bytes) -> None:
    sock.sendall(data)
    buf = b""
    while True:
        piece = sock.recv(65536)
        if not piece:
            raise ConnectionError("nginx closed the connection")
        buf += piece
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and len(rest) >= int(value):
                    return


def _port_and_call(url: str) -> tuple[int, bytes]:
    port = int(url.split(":")[2].split("/")[0])
    data = (
        f"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n"
        f"Content-Length: {len(_CALL)}\r\n\r\n"
    ).encode() + _CALL
    return port, data


def floor(url: str, rate: float | None, seconds: float) -> float:
    """CPU per request (us) of a minimal blocking client, unpaced or paced at `rate`."""
    port, data = _port_and_call(url)
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _exchange(sock, data)
        n = 0
        c0, t0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            if rate:
                wait = t0 + n / rate - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
            _exchange(sock, data)
            n += 1
        return (time.process_time() - c0) / max(n, 1) * 1e6


SO_TIMESTAMPNS = 35  # Linux: the receive time of what recvmsg returns, as a cmsg


class _Spec(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class _Period(ctypes.Structure):
    _fields_ = [("interval", _Spec), ("value", _Spec)]


def _ticker(rate: float) -> tuple[int, _Period]:
    """A non-blocking timerfd (not yet armed) and the period of `rate`'s dispatch window."""
    window = dispatch_window_s(rate) or 1.0 / rate
    tfd = ctypes.CDLL(None, use_errno=True).timerfd_create(1, os.O_NONBLOCK | os.O_CLOEXEC)
    ns = int(window * 1e9)  # CLOCK_MONOTONIC above
    return tfd, _Period(_Spec(0, ns), _Spec(0, ns))


def wake_cost(rate: float, seconds: float) -> tuple[float, float]:
    """(CPU per wake in us, wakes per second) of the dispatch ticks alone at `rate`: a
    process that only waits on the periodic timerfd of `rate`'s window and reads it.
    What any open-loop client that keeps that window pays before any request work."""
    tfd, period = _ticker(rate)
    ticks = select.epoll()
    try:
        ctypes.CDLL(None, use_errno=True).timerfd_settime(tfd, 0, ctypes.byref(period), None)
        ticks.register(tfd, select.EPOLLIN)
        n = 0
        c0, t0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            ticks.poll(-1)
            os.read(tfd, 8)
            n += 1
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    finally:
        ticks.close()
        os.close(tfd)
    return cpu / max(n, 1) * 1e6, n / wall


def floor_batched(url: str, rate: float, seconds: float) -> tuple[float, float]:
    """(CPU per request in us, latency p50 in ms) of the batched floor client at `rate`."""
    port, data = _port_and_call(url)
    libc = ctypes.CDLL(None, use_errno=True)
    tfd, period = _ticker(rate)
    socks: dict[int, socket.socket] = {}
    ready, ticks = select.epoll(), select.epoll()
    try:
        for _ in range(CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5.0)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            sock.setblocking(False)
            socks[sock.fileno()] = sock
            ready.register(sock.fileno(), select.EPOLLIN)
        free, due_of = list(socks.values()), dict[int, float]()
        latencies: list[float] = []
        wall_offset = time.time() - time.perf_counter()
        libc.timerfd_settime(tfd, 0, ctypes.byref(period), None)
        ticks.register(tfd, select.EPOLLIN)
        n = 0
        c0, t0 = time.process_time(), time.perf_counter()
        while True:
            ticks.poll(-1)
            os.read(tfd, 8)
            now = time.perf_counter()
            if now - t0 > seconds:
                break
            for fd, _ in ready.poll(0):
                _, anc, _, _ = socks[fd].recvmsg(65536, 64)  # one small answer: one read
                arrived = now
                for _level, kind, raw in anc:
                    if kind == SO_TIMESTAMPNS:
                        sec, nsec = struct.unpack("qq", raw[:16])
                        arrived = sec + nsec * 1e-9 - wall_offset
                latencies.append(arrived - due_of.pop(fd))
                free.append(socks[fd])
            while free and t0 + n / rate <= now:
                sock = free.pop()
                sock.send(data)
                due_of[sock.fileno()] = t0 + n / rate
                n += 1
        cpu = time.process_time() - c0
    finally:
        os.close(tfd)
        for sock in socks.values():
            sock.close()
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1e3 if latencies else 0.0
    return cpu / max(len(latencies), 1) * 1e6, p50


def measure(url: str, duration: int, ladder: list[float]) -> int:
    closed = run(url, duration, None)
    print(closed.line(), flush=True)
    bare = {r: floor(url, r, min(duration, 3)) for r in (None, 2500.0, 10000.0)}
    print(
        f"{'floor':>14}: a minimal blocking client (no engine) costs {bare[None]:.1f} "
        f"us/request unpaced, {bare[2500.0]:.1f} paced at 2,500 rps "
        f"({bare[2500.0] / closed.cpu_us:.2f}x the engine's closed loop), "
        f"{bare[10000.0]:.1f} at 10,000 ({bare[10000.0] / closed.cpu_us:.2f}x)",
        flush=True,
    )
    for rate in (2500.0, 10000.0):
        per_wake, wakes = wake_cost(rate, min(duration, 3))
        alone = per_wake * wakes / rate
        print(
            f"{'ticks alone':>14}: at {rate:.0f} rps the {dispatch_window_s(rate) * 1e3:g} ms "
            f"dispatch window wakes {wakes:.0f} times/s at {per_wake:.1f} us each: "
            f"{alone:.1f} us/request ({alone / closed.cpu_us:.2f}x the engine's closed "
            "loop) before any request work; an engine adding only these wakes to its "
            f"closed loop: {(closed.cpu_us + alone) / closed.cpu_us:.2f}x",
            flush=True,
        )
    for rate in (2500.0, 10000.0):
        cpu_us, p50 = floor_batched(url, rate, min(duration, 3))
        print(
            f"{'floor, batched':>14}: {rate:.0f} rps, {cpu_us:.1f} us/request "
            f"({cpu_us / closed.cpu_us:.2f}x the engine's closed loop), latency p50 "
            f"{p50:.3f} ms (sends and reads on ticks only, arrival by kernel timestamp)",
            flush=True,
        )
    fixed = {r: run(url, duration, r) for r in (2500.0, 10000.0)}
    for step in fixed.values():
        print(step.line(closed.cpu_us), flush=True)
    best = 0.0
    for fraction in ladder:
        rate = round(closed.rps * fraction, -2)
        step = run(url, duration, rate)
        print(f"{step.line(closed.cpu_us)} [{fraction:g}x capacity]", flush=True)
        if step.verdict == "valid":
            best = max(best, rate)
        elif step.verdict == "client_bound":
            print(f"{'':>16}{step.reason}")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    r2500 = fixed[2500.0].cpu_us / closed.cpu_us
    r10k = fixed[10000.0].cpu_us / closed.cpu_us
    share = best / closed.rps if closed.rps else 0.0
    print(
        f"summary: closed {closed.rps:.0f} rps at {closed.cpu_us:.1f} us/request; open/closed "
        f"CPU per request {r2500:.2f}x at 2,500 and {r10k:.2f}x at 10,000 rps; verdict at "
        f"10,000 {fixed[10000.0].verdict}; highest valid open-loop rate {best:.0f} "
        f"({share:.2f}x capacity); load average {' '.join(load)}"
    )
    ok = r2500 <= 2.0 and r10k <= 2.0 and fixed[10000.0].verdict == "valid" and share >= 0.6
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--ladder", default="0.2,0.3,0.4,0.5,0.6,0.8")
    opts = ap.parse_args()
    if shutil.which("nginx") is None:
        print("nginx is not installed: apt-get install -y nginx-light libnginx-mod-http-js")
        return 2
    ladder = [float(x) for x in opts.ladder.split(",") if x]
    with SpawnedServer(
        [str(BENCH / "nginx-mcp" / "run.sh"), "{port}"], startup_timeout_s=10.0
    ) as nginx:
        return measure(nginx.url, opts.duration, ladder)


if __name__ == "__main__":
    sys.exit(main())
