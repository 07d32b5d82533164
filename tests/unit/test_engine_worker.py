"""The generator-process messages are typed code: each survives the channel's plain values."""

from __future__ import annotations

import json

import pytest

from pytest_mcpperf.engine import worker
from pytest_mcpperf.engine.accuracy import SelfCheck
from pytest_mcpperf.engine.generator import ProgressUpdate
from pytest_mcpperf.engine.report import ShardResult
from pytest_mcpperf.engine.stats import RunStats
from pytest_mcpperf.spec import LoadSpec, ToolCall

SPEC = LoadSpec(
    url="http://127.0.0.1:9/mcp",
    mix=(ToolCall("a", {"x": 1}, 2.0),),
    extra={"stages": [{"rate": 5, "duration_s": 1}]},
)


@pytest.mark.parametrize(
    "message",
    [
        worker.Job(SPEC, 1, 3),
        worker.Ready(),
        worker.Start(1234.5),
        worker.Progress(ProgressUpdate(1.0, 10, 9, 1, 9.0)),
        worker.Failed("boom", target_error=True),
    ],
)
def test_each_message_round_trips_through_plain_values(message: worker.Message) -> None:
    plain = json.loads(json.dumps(message.to_channel()))
    assert worker.from_channel(plain) == message


def test_a_shard_result_round_trips() -> None:
    stats = RunStats()
    stats.sent = stats.scheduled = 3
    done = worker.Done(ShardResult(stats, SelfCheck(), {"url": SPEC.url}, 1.5))
    back = worker.from_channel(json.loads(json.dumps(done.to_channel())))
    assert isinstance(back, worker.Done)
    assert (back.result.stats.sent, back.result.window_s) == (3, 1.5)


def test_an_unknown_message_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown generator message"):
        worker.from_channel({"type": "nonsense"})


def test_the_spec_wire_form_is_lossless() -> None:
    assert LoadSpec.from_wire(json.loads(json.dumps(SPEC.to_wire()))) == SPEC
