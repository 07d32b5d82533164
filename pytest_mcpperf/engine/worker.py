"""The child side of a generator process, and the messages both sides exchange.

A generator process is an execnet gateway (a local popen one, or a remote one such as
ssh); its channel carries plain values only, so every message is a typed dataclass with
`to_channel()` / `from_channel()`. The exchange, in order:

    parent -> Job(spec, shard_index, shard_count)
    worker -> Ready()                    once its sessions are open
    parent -> Start(start_at)            one wall-clock start time for every process
    worker -> Progress(...)*             about once a second
    worker -> Done(result) | Failed(message, target_error)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pytest_mcpperf.engine.generator import ProgressUpdate, generate
from pytest_mcpperf.engine.loop import run_coroutine
from pytest_mcpperf.engine.report import ShardResult
from pytest_mcpperf.errors import TargetError
from pytest_mcpperf.spec import LoadSpec

#: What execnet runs in the child; `channel` is execnet's name for its end.
SOURCE = "from pytest_mcpperf.engine.worker import main; main(channel)"


class Channel(Protocol):
    def send(self, item: Any) -> None: ...

    def receive(self) -> Any: ...


@dataclass(frozen=True)
class Job:
    spec: LoadSpec
    shard_index: int
    shard_count: int

    def to_channel(self) -> dict[str, Any]:
        return {
            "type": "job",
            "spec": self.spec.to_wire(),
            "shard": [self.shard_index, self.shard_count],
        }


@dataclass(frozen=True)
class Ready:
    def to_channel(self) -> dict[str, Any]:
        return {"type": "ready"}


@dataclass(frozen=True)
class Start:
    start_at: float  # time.time() at which every process starts sending

    def to_channel(self) -> dict[str, Any]:
        return {"type": "start", "start_at": self.start_at}


@dataclass(frozen=True)
class Progress:
    update: ProgressUpdate

    def to_channel(self) -> dict[str, Any]:
        return {"type": "progress", **dataclasses.asdict(self.update)}


@dataclass(frozen=True)
class Done:
    result: ShardResult

    def to_channel(self) -> dict[str, Any]:
        return {"type": "done", "result": self.result.to_wire()}


@dataclass(frozen=True)
class Failed:
    message: str
    target_error: bool = False

    def to_channel(self) -> dict[str, Any]:
        return {"type": "failed", "message": self.message, "target_error": self.target_error}


Message = Job | Ready | Start | Progress | Done | Failed


def from_channel(item: Mapping[str, Any]) -> Message:
    """The typed message of a plain value received from a channel."""
    kind = item.get("type")
    if kind == "job":
        k, n = item["shard"]
        return Job(LoadSpec.from_wire(item["spec"]), int(k), int(n))
    if kind == "ready":
        return Ready()
    if kind == "start":
        return Start(float(item["start_at"]))
    if kind == "progress":
        fields = {f.name: item[f.name] for f in dataclasses.fields(ProgressUpdate)}
        return Progress(ProgressUpdate(**fields))
    if kind == "done":
        return Done(ShardResult.from_wire(item["result"]))
    if kind == "failed":
        return Failed(str(item.get("message")), bool(item.get("target_error")))
    raise ValueError(f"unknown generator message {item!r}")


def main(channel: Channel) -> None:
    """Body of one generator process: receive a Job, run its shard, send the result."""
    job = from_channel(channel.receive())
    if not isinstance(job, Job):
        channel.send(Failed(f"expected a job, got {job!r}").to_channel())
        return

    def progress(update: ProgressUpdate) -> None:
        channel.send(Progress(update).to_channel())

    async def ready() -> float | None:
        channel.send(Ready().to_channel())
        start = from_channel(channel.receive())
        return start.start_at if isinstance(start, Start) else None

    try:
        result = run_coroutine(
            generate(
                job.spec, shard=(job.shard_index, job.shard_count), progress=progress, ready=ready
            )
        )
    except Exception as exc:
        channel.send(Failed(str(exc), isinstance(exc, TargetError)).to_channel())
        return
    channel.send(Done(result).to_channel())
