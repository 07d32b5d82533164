"""fast_compute throughput of the bundled server beside its two reference points, one run.

Starts, one at a time on free loopback ports: the official SDK's MCPServer
(`sdk_server.py PORT stateless-json`), a bare Quart endpoint under the same ASGI server as
ours (uvicorn + httptools + uvloop), and the bundled server; drives each with
`wrk -t1 -c32 -d8s --latency -s modern_call.lua` and prints rps and the ratios.

usage: python benchmarks/server_throughput.py [--duration 8s] [--rounds 1]
The bench dir is $MCPPERF_BENCH_DIR, default ../shared/bench relative to the repo root.
Exit status 1 when a target (ours >= 1.5x SDK, >= 0.7x bare Quart) is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("MCPPERF_BENCH_DIR", ROOT / ".." / "shared" / "bench")).resolve()
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listened on port {port} within {timeout}s")


def commands(port: int) -> dict[str, list[str]]:
    return {
        "sdk": [PY, str(BENCH / "sdk_server.py"), str(port), "stateless-json"],
        "quart": [
            PY,
            "-m",
            "uvicorn",
            "quart_ceiling:app",
            "--app-dir",
            str(BENCH),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        "ours": [PY, "-m", "mcpperf_server", "--bind-address", f"127.0.0.1:{port}"],
    }


def measure(name: str, duration: str) -> tuple[float, str]:
    port = free_port()
    proc = subprocess.Popen(
        commands(port)[name], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}/mcp"
        lua = str(BENCH / "modern_call.lua")
        subprocess.run(
            ["wrk", "-t1", "-c32", "-d1s", "-s", lua, url],
            check=True,
            capture_output=True,
            timeout=30,
        )  # warm-up
        out = subprocess.run(
            ["wrk", "-t1", "-c32", f"-d{duration}", "--latency", "-s", lua, url],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    note = f"p99 {p99.group(1) if p99 else '?'}" + (f", NON-2xx {bad.group(1)}" if bad else "")
    return rps, note


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", default="8s", help="wrk -d per server (default: 8s)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds of the three; ratios are per round, then the median (default: 1)",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    if not (BENCH / "modern_call.lua").exists():
        raise SystemExit(f"no bench dir at {BENCH}: set MCPPERF_BENCH_DIR")
    vs_sdk_rounds, vs_quart_rounds = [], []
    for round_no in range(args.rounds):
        rps: dict[str, float] = {}
        for name in ("sdk", "quart", "ours"):
            rps[name], note = measure(name, args.duration)
            print(f"round {round_no + 1} {name:6s} {rps[name]:9.1f} rps  ({note})", flush=True)
        vs_sdk_rounds.append(rps["ours"] / rps["sdk"])
        vs_quart_rounds.append(rps["ours"] / rps["quart"])
        print(
            f"round {round_no + 1} ours/sdk {vs_sdk_rounds[-1]:.2f}x  "
            f"ours/quart {vs_quart_rounds[-1]:.2f}x",
            flush=True,
        )
    vs_sdk, vs_quart = statistics.median(vs_sdk_rounds), statistics.median(vs_quart_rounds)
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
        f"median over {args.rounds} round(s):"
    )
    print(f"ours / sdk   = {vs_sdk:.2f}x  (target >= 1.5)")
    print(f"ours / quart = {vs_quart:.2f}x  (target >= 0.7, same ASGI server: uvicorn)")
    return 0 if vs_sdk >= 1.5 and vs_quart >= 0.7 else 1


if __name__ == "__main__":
    sys.exit(main())
