"""Incremental `text/event-stream` decoder (WHATWG rules, the parts MCP uses).

Bytes arrive in arbitrary pieces; `feed()` returns the events completed so far and
keeps the unfinished tail. Lines end in LF, CRLF or CR; `:` lines are comments;
an event is dispatched at a blank line; events whose data is empty are skipped.

Memory is bounded: the unfinished tail plus the data of the event being built may not
pass `max_event_bytes`, or `feed()` raises `ResponseTooLarge` (an endless line, or an
event that never ends, must not grow the generator without limit). The id of the last
event seen is kept even for events that are skipped, for resumption (`Last-Event-ID`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pytest_mcpperf.errors import ResponseTooLarge
from pytest_mcpperf.vocabulary import DEFAULT_MAX_RESPONSE_BYTES


@dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched event."""

    data: str
    event: str = "message"
    id: str | None = None


class SseDecoder:
    """Stateful decoder: feed it bytes, get whole events back."""

    __slots__ = (
        "_buf",
        "_data",
        "_data_bytes",
        "_event",
        "_id",
        "_pending_cr",
        "_tail",
        "_tail_bytes",
        "max_event_bytes",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self._buf = b""
        self._tail: list[bytes] = []
        self._tail_bytes = 0
        self._data: list[str] = []
        self._data_bytes = 0
        self._event = ""
        self._id: str | None = None
        self._pending_cr = False
        self.max_event_bytes = max_event_bytes

    @property
    def last_event_id(self) -> str | None:
        """The `id:` field last seen (it survives events, as the standard says)."""
        return self._id

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Decode `chunk`; return the events it completed."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._pending_cr = False
        if b"\n" not in chunk and b"\r" not in chunk:
            # No line ends here: keep the piece aside, so that a long line costs one join
            # when it ends, not one copy per piece.
            self._tail.append(chunk)
            self._tail_bytes += len(chunk)
            self._check_size(self._tail_bytes + len(self._buf))
            return []
        if self._tail:
            buf = self._buf + b"".join(self._tail) + chunk
            self._tail, self._tail_bytes = [], 0
        else:
            buf = self._buf + chunk
        out: list[SseEvent] = []
        start = 0
        n = len(buf)
        while start < n:
            end = _line_end(buf, start)
            if end < 0:
                break
            line = buf[start:end]
            if buf[end] == 13:  # CR
                if end + 1 < n:
                    start = end + 2 if buf[end + 1] == 10 else end + 1
                else:
                    self._pending_cr = True
                    start = end + 1
            else:
                start = end + 1
            self._line(line, out)
        self._buf = buf[start:]
        self._check_size(len(self._buf))
        return out

    def _check_size(self, unfinished: int) -> None:
        if unfinished + self._data_bytes > self.max_event_bytes:
            raise ResponseTooLarge(
                "sse_event",
                f"an SSE event passed the response size limit of {self.max_event_bytes} bytes",
            )

    def _line(self, line: bytes, out: list[SseEvent]) -> None:
        if not line:
            self._dispatch(out)
            return
        if line[0] == 58:  # ':' comment
            return
        name, sep, value = line.partition(b":")
        if sep and value.startswith(b" "):
            value = value[1:]
        field = name.decode("utf-8", "replace")
        text = value.decode("utf-8", "replace")
        if field == "data":
            self._data.append(text)
            self._data_bytes += len(value)
        elif field == "event":
            self._event = text
        elif field == "id" and "\0" not in text:
            self._id = text

    def _dispatch(self, out: list[SseEvent]) -> None:
        data = "\n".join(self._data)
        if data:
            out.append(SseEvent(data, self._event or "message", self._id))
        self._data = []
        self._data_bytes = 0
        self._event = ""


def _line_end(buf: bytes, start: int) -> int:
    """Index of the first CR or LF at or after `start`, or -1."""
    lf = buf.find(b"\n", start)
    cr = buf.find(b"\r", start)
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)
