"""Live progress of a load run, for a terminal and for a CI log.

The engine sends an update about once a second. On a terminal one line is rewritten in
place (elapsed / total, sent, ok, failed, current rps, the last second's p99); in a log
(not a terminal, or `CI` set) a plain line is written every `LOG_EVERY_S` seconds, so an
eight-hour run adds a few thousand short lines, not megabytes. Both front ends use this:
the plugin writes through pytest's terminal writer, the CLI to stderr. No pytest or
argparse here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

PROGRESS_CHOICES = ("auto", "line", "none")
LOG_EVERY_S = 10.0
INPLACE = "inplace"
PERIODIC = "periodic"


def style_for(setting: str, is_terminal: bool, env: Mapping[str, str] | None = None) -> str | None:
    """How progress shows: INPLACE, PERIODIC, or None (off).

    `auto` rewrites one line on a terminal and writes periodic lines elsewhere or when the
    `CI` variable is set; `line` always writes periodic lines; `none` shows nothing.
    """
    env = os.environ if env is None else env
    if setting == "none":
        return None
    if setting == "line" or not is_terminal or env.get("CI"):
        return PERIODIC
    return INPLACE


def format_line(name: str, update: Any, total_s: float) -> str:
    """One progress line from an engine update."""
    p99 = getattr(update, "p99_ms", 0.0)
    p99_text = f"p99 {p99:.1f} ms" if update.ok else "p99 -"
    return (
        f"mcpperf {name}: {update.elapsed_s:.0f}/{total_s:.0f} s, sent {update.sent}, "
        f"ok {update.ok}, failed {update.failed}, {update.rps:.0f} rps, {p99_text}"
    )


class Sink(Protocol):
    """Where progress text goes."""

    def rewrite(self, text: str) -> None: ...

    def line(self, text: str) -> None: ...

    def end(self) -> None: ...


@dataclass
class LiveProgress:
    """The progress callable of one run; `close()` ends an in-place line."""

    sink: Sink
    style: str
    name: str
    total_s: float
    every_s: float = LOG_EVERY_S
    _next_s: float = LOG_EVERY_S
    _drawn: bool = False

    def __post_init__(self) -> None:
        self._next_s = self.every_s

    def __call__(self, update: Any) -> None:
        text = format_line(self.name, update, self.total_s)
        if self.style == INPLACE:
            self.sink.rewrite(text)
            self._drawn = True
        elif update.elapsed_s >= self._next_s:
            self._next_s = update.elapsed_s + self.every_s
            self.sink.line(text)

    def close(self) -> None:
        if self._drawn:
            self.sink.end()
            self._drawn = False


class StreamSink:
    """A text stream (the CLI's stderr): `\\r` and erase-to-end for the in-place line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def rewrite(self, text: str) -> None:
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


@dataclass(frozen=True)
class CallbackSink:
    """Three callables (the plugin's terminal writer, wrapped to step around capture)."""

    on_rewrite: Callable[[str], None]
    on_line: Callable[[str], None]
    on_end: Callable[[], None]

    def rewrite(self, text: str) -> None:
        self.on_rewrite(text)

    def line(self, text: str) -> None:
        self.on_line(text)

    def end(self) -> None:
        self.on_end()


def is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


__all__ = [
    "INPLACE",
    "LOG_EVERY_S",
    "PERIODIC",
    "PROGRESS_CHOICES",
    "CallbackSink",
    "LiveProgress",
    "StreamSink",
    "format_line",
    "is_terminal",
    "style_for",
]
