"""A broadcast channel: one published notification fanned out to every open stream.

Legacy GET streams and 2026-07-28 `subscriptions/listen` streams each register a bounded
queue; a slow subscriber loses messages (counted in `dropped`) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from .protocol import META_SUBSCRIPTION, Json, busy, encode, notification

Render = Callable[[Json], bytes]


class Broadcaster:
    """Subscribers and the publish side; `publish()` is synchronous and O(subscribers)."""

    def __init__(self, max_subscribers: int, queue_size: int) -> None:
        self.max_subscribers = max_subscribers
        self.queue_size = queue_size
        self._subs: dict[int, tuple[asyncio.Queue[bytes | None], Render]] = {}
        self._next = 0
        self.seq = 0
        self.published = 0
        self.delivered = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._subs)

    def subscribe(self, render: Render) -> tuple[int, asyncio.Queue[bytes | None]]:
        """Register a stream; `render` turns the shared params into that stream's SSE bytes."""
        if len(self._subs) >= self.max_subscribers:
            raise busy(
                f"too many open notification streams ({self.max_subscribers}); "
                "close some or raise the cap"
            )
        self._next += 1
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(self.queue_size)
        self._subs[self._next] = (queue, render)
        return self._next, queue

    def unsubscribe(self, token: int) -> None:
        self._subs.pop(token, None)

    def publish(self, data: Any = None) -> int:
        """Send one broadcast to every subscriber; returns how many got it."""
        self.seq += 1
        params: Json = {
            "_meta": {"mcpperf/seq": self.seq, "mcpperf/sentAt": time.time()},
            "_cache": {},
        }  # renders share encoded parts through this
        if data is not None:
            params["data"] = data
        sent = 0
        for queue, render in self._subs.values():
            try:
                queue.put_nowait(render(params))
                sent += 1
            except asyncio.QueueFull:
                self.dropped += 1
        self.published += 1
        self.delivered += sent
        return sent

    def close_all(self) -> None:
        for queue, _ in self._subs.values():
            try:
                queue.put_nowait(None)
            except asyncio.QueueFull:
                queue.get_nowait()
                queue.put_nowait(None)


def legacy_render(params: Json) -> bytes:
    """A broadcast on a legacy GET stream: a session-wide log message (same bytes for all)."""
    cache: dict[str, bytes] = params["_cache"]
    event = cache.get("legacy")
    if event is None:
        meta = params["_meta"]
        message = notification(
            "notifications/message",
            {
                "level": "info",
                "logger": "mcpperf.broadcast",
                "data": {
                    "seq": meta["mcpperf/seq"],
                    "sentAt": meta["mcpperf/sentAt"],
                    "data": params.get("data"),
                },
                "_meta": meta,
            },
        )
        event = cache["legacy"] = b"event: message\ndata: " + encode(message) + b"\n\n"
    return event


def listen_render(subscription_id: Any) -> Render:
    """A broadcast on a 2026-07-28 listen stream: tools/list_changed carrying its
    subscription id; everything but the id is encoded once per publish."""
    tail = b',"' + META_SUBSCRIPTION.encode() + b'":' + encode(subscription_id) + b"}}}\n\n"

    def render(params: Json) -> bytes:
        cache: dict[str, bytes] = params["_cache"]
        head = cache.get("listen")
        if head is None:
            head = cache["listen"] = (
                b'event: message\ndata: {"jsonrpc":"2.0","method":'
                b'"notifications/tools/list_changed","params":{"_meta":'
                + encode(params["_meta"])[:-1]
            )
        return head + tail

    return render
