"""Tests that time a preflight failure: generated test files whose tests time
`perf_client.run()` alone (the server is up before the body) and print how long it took,
and the reading of those times back from pytest's output."""

from __future__ import annotations

import re
import textwrap


def timed_tests(markers: dict[str, str]) -> str:
    """A test file with one test per `name: load marker keywords`, 60 s of load asked for;
    each prints `preflight took T s`, T being the time `perf_client.run()` took."""
    body = "".join(
        f"""
        @pytest.mark.load(rate=100, duration=60, {kw})
        def test_{name}(perf_client, mcp_server):
            t0 = time.perf_counter()
            try:
                perf_client.run()
            finally:
                print(f"preflight took {{time.perf_counter() - t0:.3f}} s")
        """
        for name, kw in markers.items()
    )
    return "import time\n\nimport pytest\n" + textwrap.dedent(body)


def preflight_times(output: str) -> list[float]:
    """The times, in seconds, that the tests of `timed_tests` printed."""
    return [float(s) for s in re.findall(r"preflight took ([0-9.]+) s", output)]
