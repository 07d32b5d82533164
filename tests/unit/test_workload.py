from __future__ import annotations

from collections import Counter

import pytest

from pytest_mcpperf.engine.workload import Workload
from pytest_mcpperf.spec import ToolCall


def test_single_tool_is_always_index_zero() -> None:
    w = Workload([ToolCall("fast_compute", {"input": 1})])
    assert {w.choose(i) for i in range(1000)} == {0}


def test_mix_follows_weights_and_is_a_function_of_seed_and_index() -> None:
    calls = [ToolCall("a", {}, 3.0), ToolCall("b", {}, 1.0), ToolCall("zero", {}, 0.0)]
    w1, w2 = Workload(calls, seed=1), Workload(calls, seed=1)
    picks = [w1.choose(i) for i in range(40_000)]
    assert picks == [w2.choose(i) for i in range(40_000)]
    counts = Counter(picks)
    assert counts[2] == 0
    assert counts[0] / len(picks) == pytest.approx(0.75, abs=0.03)
    # a shard sees exactly the choices of its own indices
    assert [w1.choose(i) for i in range(1, 40_000, 3)] == picks[1::3]


def test_bad_mixes() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Workload([])
    with pytest.raises(ValueError, match="weights"):
        Workload([ToolCall("a", {}, 0.0)])
